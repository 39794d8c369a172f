"""The organiser's add-ons: an own welcome announcement, and recording the conference.

- **Greeting**: the upload is decoded and checked with PyAV in a worker thread
  (``server/media/upload.py``: length, silence, bombs, loudness), then written to
  ``<data>/greetings/<id>.ogg`` through a temporary file and a rename, and only then
  recorded on the conference: a broken upload leaves nothing behind. The media side
  plays it wherever the standard welcome would be.
- **Recording**: everyone hears a spoken notice when it starts; the media side writes
  the whole mix as Ogg/Opus to ``<data>/recordings/<id>.ogg``. It stops on request or
  when the conference ends; the seconds recorded are charged per minute.

Both are charged as add-ons (``server/billing``).
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
from pathlib import Path
from typing import Any

from . import conference as d
from .errors import ServiceError
from .media import messages as m
from .media.prompts import decode_file
from .media.upload import UploadError, process_greeting
from .service import ConferenceService, Principal
from .views import conference_notice

logger = logging.getLogger(__name__)

MAX_GREETING_BYTES = 10 * 1024 * 1024


class AddOns:
    def __init__(self, service: ConferenceService, data_dir: Path) -> None:
        self.service = service
        self.greetings = data_dir / "greetings"
        self.recordings = data_dir / "recordings"
        #: conferences being recorded now
        self._recording: set[str] = set()
        service.closing_hooks.append(self._conference_closing)

    # -- the greeting ------------------------------------------------------------------

    async def set_greeting(
        self, principal: Principal, conference_id: str, data: bytes
    ) -> dict[str, Any]:
        self.service.require_organizer(principal, conference_id)
        live = await self.service.loaded(conference_id)
        if live.conference.state is d.ConferenceState.ENDED:
            raise ServiceError(409, "conference_ended", "the conference has ended")
        try:
            greeting = await asyncio.to_thread(
                process_greeting, data, max_bytes=MAX_GREETING_BYTES
            )
        except UploadError as exc:
            status = 413 if exc.code == "too_large" else 400
            raise ServiceError(status, exc.code, str(exc)) from None
        name = f"{conference_id}.ogg"
        await asyncio.to_thread(self._write, self.greetings / name, greeting.ogg)
        async with live.lock:
            live.conference.greeting_file = name
            await self.service.store.save_conference(live.conference)
        await self.service.ask_media(m.SetGreeting(conference_id, greeting.samples))
        logger.info("conference %s has its own greeting (%.1f s, from %s)", conference_id,
                    greeting.seconds, greeting.source_format)
        return {"greeting": {"seconds": round(greeting.seconds, 2)}}

    @staticmethod
    def _write(path: Path, content: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        part = path.with_name(path.name + ".part")
        part.write_bytes(content)
        os.replace(part, path)  # atomic: the old greeting or the new one, never half

    async def remove_greeting(self, principal: Principal, conference_id: str) -> None:
        self.service.require_organizer(principal, conference_id)
        live = await self.service.loaded(conference_id)
        async with live.lock:
            name = live.conference.greeting_file
            if name is None:
                raise ServiceError(404, "not_found", "the conference has no greeting of its own")
            live.conference.greeting_file = None
            await self.service.store.save_conference(live.conference)
        await self.service.ask_media(m.SetGreeting(conference_id, None))
        (self.greetings / name).unlink(missing_ok=True)

    async def restore_greetings(self) -> None:
        for conference_id in await self.service.store.unended_conference_ids():
            await self.restore_greeting((await self.service.loaded(conference_id)).conference)

    async def restore_greeting(self, conference: d.Conference) -> None:
        """After a restart: the media side learns the greeting again."""
        if conference.greeting_file is None:
            return
        path = self.greetings / conference.greeting_file
        try:
            samples = await asyncio.to_thread(decode_file, path)
        except Exception:
            logger.exception("the greeting of %s cannot be read; the standard one plays",
                             conference.id)
            return
        await self.service.ask_media(m.SetGreeting(conference.id, samples))

    # -- recording ---------------------------------------------------------------------

    def recording_path(self, conference_id: str) -> Path:
        return self.recordings / f"{conference_id}.ogg"

    async def set_recording(
        self, principal: Principal, conference_id: str, on: bool
    ) -> dict[str, Any]:
        self.service.require_organizer(principal, conference_id)
        live = await self.service.loaded(conference_id)
        conf = live.conference
        if on:
            if conf.state is not d.ConferenceState.ACTIVE:
                raise ServiceError(409, "not_active", "recording needs a running conference")
            if conference_id in self._recording:
                raise ServiceError(409, "already_recording", "the conference is being recorded")
            if conf.recording_file is not None:
                raise ServiceError(409, "already_recorded", "this conference has its recording")
            path = self.recording_path(conference_id)
            await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
            # Everyone is told first; the recording starts as the notice starts.
            await self.service.ask_media(m.PlayPrompts(conference_id, ("recording_started",)))
            reply = await self.service.ask_media(m.StartRecording(conference_id, str(path)))
            if isinstance(reply, m.Refused):
                raise ServiceError(409, reply.reason, reply.message)
            self._recording.add(conference_id)
            conf.recording = True
        else:
            if conference_id not in self._recording:
                raise ServiceError(409, "not_recording", "the conference is not being recorded")
            await self._stop(conference_id)
        self._announce(conf)
        return {"recording": conference_id in self._recording,
                "recorded_seconds": round(conf.recorded_seconds, 1)}

    async def _stop(self, conference_id: str) -> None:
        self._recording.discard(conference_id)
        live = await self.service.loaded(conference_id)
        live.conference.recording = False
        reply = await self.service.ask_media(m.StopRecording(conference_id))
        if not isinstance(reply, m.RecordingStopped):
            logger.warning("recording of %s did not stop cleanly: %r", conference_id, reply)
            return
        live.conference.recording_file = Path(reply.path).name
        live.conference.recorded_seconds += reply.seconds
        await self.service.store.save_conference(live.conference)

    def _announce(self, conf: d.Conference) -> None:
        self.service.publish("conference", conf.id, conference_notice(
            conf, recording=conf.recording
        ))

    async def _conference_closing(self, conference_id: str) -> None:
        """The conference ends: the recording stops before the farewell."""
        if conference_id in self._recording:
            await self._stop(conference_id)

    def recording_file(self, principal: Principal, conference: d.Conference) -> Path:
        self.service.require_organizer(principal, conference.id)
        if conference.recording_file is None:
            raise ServiceError(404, "not_found", "this conference has no recording")
        return self.recordings / conference.recording_file

    def is_recording(self, conference_id: str) -> bool:
        return conference_id in self._recording


def addons_used(conference: d.Conference) -> dict[str, int]:
    """What the conference used, for the bill: a greeting, and minutes recorded."""
    used: dict[str, int] = {}
    if conference.greeting_file is not None:
        used["custom_welcome"] = 1
    if conference.recorded_seconds > 0:
        used["recording"] = math.ceil(conference.recorded_seconds / 60)
    return used
