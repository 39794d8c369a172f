"""The media engine: every leg of every conference, mixed on one 20 ms clock.

It is driven by messages (see ``messages.py``) and reports events; the front
never holds a reference to a leg. Per tick it pulls one frame from every leg's
playout buffer, measures levels and talking for all legs at once, mixes each
conference with the numeric core, lays prompts over what a leg hears, and
encodes once per distinct stream: one encoder per speaker (mix-minus) and one
shared stream per conference and codec for everybody else.

A conference can have its own greeting (played wherever the prompt "welcome"
would be) and can be recorded: the whole mix of each tick goes, uncopied, to a
:class:`~server.media.recorder.Recorder` whose thread encodes and writes it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from . import messages as m
from .clock import MediaClock
from .codecs import EncodedFrame, Encoder
from .mixer import (
    FRAME_SAMPLES,
    Int16Array,
    choose_contributors,
    frame_levels,
    mix,
    saturate,
)
from .prompts import PromptLibrary, beep, entry_tone, leave_tone
from .recorder import Recorder
from .talk import TalkDetector

logger = logging.getLogger(__name__)

#: the prompt a conference's own greeting (``SetGreeting``) stands in for
WELCOME_PROMPT = "welcome"


class MediaPort(Protocol):
    """A transport's side of a leg (WebRTC today, RTP from the SIP gateway next)."""

    codec: str
    connected: bool

    def read_frame(self) -> Int16Array | None: ...

    def new_encoder(self) -> Encoder: ...

    def write(self, frame: EncodedFrame) -> None: ...

    async def close(self) -> None: ...


PortFactory = Callable[[Callable[[str], None]], MediaPort]


class RtpPortFactory(Protocol):
    """Makes phone legs' ports (the SIP gateway's RTP side)."""

    async def create(
        self, command: m.AddRtpLeg, on_state: Callable[[str], None],
        on_digit: Callable[[str], None],
    ) -> tuple[MediaPort, str, int]: ...

    def update(self, port: MediaPort, command: m.UpdateRtpLeg) -> None: ...


@dataclass(slots=True)
class _Playback:
    samples: Int16Array
    exclusive: bool
    position: int = 0
    #: a conference-wide overlay spares this leg (the one who joined or left)
    spared_leg: str | None = None

    def take(self) -> Int16Array:
        """The next 20 ms (zero-padded at the end)."""
        start = self.position
        chunk = self.samples[start : start + FRAME_SAMPLES]
        self.position += FRAME_SAMPLES
        if chunk.shape[0] < FRAME_SAMPLES:
            chunk = np.concatenate(
                [chunk, np.zeros(FRAME_SAMPLES - chunk.shape[0], dtype=np.int16)]
            )
        return chunk

    @property
    def done(self) -> bool:
        return self.position >= self.samples.shape[0]


@dataclass(eq=False, slots=True)
class _Leg:
    leg_id: str
    conference: _Conference
    port: MediaPort
    slot: int
    muted: bool = False
    talking: bool = False
    prompts: deque[_Playback] = field(default_factory=deque)
    encoder: Encoder | None = None
    closing: bool = False
    reported_connected: bool = False

    def next_prompt_chunk(self) -> tuple[Int16Array, bool] | None:
        """The next 20 ms of prompt audio for this leg, and whether it is exclusive."""
        while self.prompts:
            playback = self.prompts[0]
            if playback.done:
                self.prompts.popleft()
                continue
            chunk = playback.take()
            if playback.done:
                self.prompts.popleft()
            return chunk, playback.exclusive
        return None

    @property
    def in_exclusive_prompt(self) -> bool:
        return bool(self.prompts) and self.prompts[0].exclusive


@dataclass(eq=False, slots=True)
class _Conference:
    conference_id: str
    language: str
    mixing: bool = False
    #: ended: forgotten once its last leg has heard the farewell
    closed: bool = False
    legs: dict[str, _Leg] = field(default_factory=dict)
    shared_encoders: dict[str, Encoder] = field(default_factory=dict)
    #: tones for the whole room, laid over the mix once rather than once per listener
    overlays: deque[_Playback] = field(default_factory=deque)
    #: the conference's own welcome (read-only, shared by every playback of it)
    greeting: Int16Array | None = None
    recording: Recorder | None = None

    def next_overlay_chunk(self) -> tuple[Int16Array, str | None] | None:
        while self.overlays:
            playback = self.overlays[0]
            if playback.done:
                self.overlays.popleft()
                continue
            chunk = playback.take()
            if playback.done:
                self.overlays.popleft()
            return chunk, playback.spared_leg
        return None


class MediaEngine:
    def __init__(
        self,
        prompts: PromptLibrary,
        *,
        max_speakers: int = 8,
        on_event: Callable[[m.MediaEvent], None] | None = None,
        webrtc_port_factory: PortFactory | None = None,
        rtp_port_factory: RtpPortFactory | None = None,
    ) -> None:
        self._prompts = prompts
        self.max_speakers = max_speakers
        self.on_event = on_event
        self._webrtc_port_factory = webrtc_port_factory
        self.rtp_port_factory = rtp_port_factory
        #: called at the start of every tick, before any leg is read (batched I/O)
        self.tick_hooks: list[Callable[[int], None]] = []
        self._tones: dict[str, Int16Array] = {
            "beep": beep(),
            "entry_tone": entry_tone(),
            "leave_tone": leave_tone(),
        }
        self._conferences: dict[str, _Conference] = {}
        self._legs: dict[str, _Leg] = {}
        self._slots: list[_Leg | None] = []
        self._free_slots: list[int] = []
        self._frames = np.zeros((0, FRAME_SAMPLES), dtype=np.int16)
        self._talk = TalkDetector()
        self._background: set[asyncio.Task[None]] = set()
        self.clock = MediaClock(self.tick)

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> None:
        self.clock.start()

    async def stop(self) -> None:
        await self.clock.stop()
        for conf in list(self._conferences.values()):
            recorder, conf.recording = conf.recording, None
            if recorder is not None:
                await self._finish_recording(conf.conference_id, recorder)
        for leg in list(self._legs.values()):
            self._drop_leg(leg, reason=None)
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    # -- commands --------------------------------------------------------------

    async def request(self, command: m.MediaCommand) -> m.MediaReply:
        """Carry out one command; the reply says how it went."""
        match command:
            case m.OpenConference(conference_id, language):
                conf = self._conferences.get(conference_id)
                if conf is None:
                    self._conferences[conference_id] = _Conference(conference_id, language)
                else:
                    conf.language = language
                return m.Done()
            case m.SetMixing(conference_id, mixing):
                conf = self._conferences.get(conference_id)
                if conf is None:
                    return m.Refused("unknown_conference", "no such conference in media")
                conf.mixing = mixing
                return m.Done()
            case m.AddWebRtcLeg(conference_id, leg_id, offer_sdp):
                return await self._add_webrtc_leg(conference_id, leg_id, offer_sdp)
            case m.AddRtpLeg():
                return await self._add_rtp_leg(command)
            case m.UpdateRtpLeg(leg_id):
                leg = self._legs.get(leg_id)
                if leg is None or self.rtp_port_factory is None:
                    return m.Refused("unknown_leg", "no such leg")
                self.rtp_port_factory.update(leg.port, command)
                if command.codec is not None:
                    leg.encoder = None  # the next encode makes one for the settled codec
                return m.Done()
            case m.MoveLeg(leg_id, conference_id):
                leg = self._legs.get(leg_id)
                target = self._conferences.get(conference_id)
                if leg is None or target is None:
                    return m.Refused("unknown_leg", "no such leg or conference")
                self._move(leg, target)
                return m.Done()
            case m.StopPrompts(leg_id):
                leg = self._legs.get(leg_id)
                if leg is None:
                    return m.Refused("unknown_leg", "no such leg")
                if not leg.closing:
                    leg.prompts.clear()
                return m.Done()
            case m.SetMuted(leg_id, muted):
                leg = self._legs.get(leg_id)
                if leg is None:
                    return m.Refused("unknown_leg", "no such leg")
                leg.muted = muted
                return m.Done()
            case m.PlayPrompts():
                return self._play(command)
            case m.CloseLeg(leg_id, farewell):
                leg = self._legs.get(leg_id)
                if leg is None:
                    return m.Refused("unknown_leg", "no such leg")
                self._close_after(leg, farewell)
                return m.Done()
            case m.CloseConference(conference_id, farewell):
                conf = self._conferences.get(conference_id)
                if conf is None:
                    return m.Done()
                conf.mixing = False
                conf.closed = True
                recorder, conf.recording = conf.recording, None
                for leg in list(conf.legs.values()):
                    self._close_after(leg, farewell)
                if not conf.legs:
                    del self._conferences[conference_id]
                if recorder is not None:
                    # Replying only once the file is complete: the front may hand it on.
                    await self._finish_recording(conference_id, recorder)
                return m.Done()
            case m.SetGreeting(conference_id, samples):
                return self._set_greeting(conference_id, samples)
            case m.StartRecording(conference_id, path):
                return await self._start_recording(conference_id, path)
            case m.StopRecording(conference_id):
                conf = self._conferences.get(conference_id)
                if conf is None:
                    return m.Refused("unknown_conference", "no such conference in media")
                recorder, conf.recording = conf.recording, None
                if recorder is None:
                    return m.Refused("not_recording", "the conference is not being recorded")
                return await self._finish_recording(conference_id, recorder)
        return m.Refused("unknown_command", f"unknown command {type(command).__name__}")

    async def _add_webrtc_leg(
        self, conference_id: str, leg_id: str, offer_sdp: str
    ) -> m.MediaReply:
        from .webrtc import SdpError, WebRtcPort  # aiortc is only needed for WebRTC legs

        conf = self._conferences.get(conference_id)
        if conf is None:
            return m.Refused("unknown_conference", "no such conference in media")
        if leg_id in self._legs:
            return m.Refused("leg_exists", "this participant already has a media session")

        def on_state(state: str) -> None:
            self._port_state(leg_id, state)

        port = (
            self._webrtc_port_factory(on_state)
            if self._webrtc_port_factory is not None
            else WebRtcPort(on_state=on_state)
        )
        try:
            answer = await port.answer(offer_sdp)  # type: ignore[attr-defined]
        except SdpError as exc:
            self._spawn(port.close())
            return m.Refused("bad_sdp", str(exc))
        self.add_leg(conference_id, leg_id, port)
        return m.SdpAnswer(answer)

    async def _add_rtp_leg(self, command: m.AddRtpLeg) -> m.MediaReply:
        if self.rtp_port_factory is None:
            return m.Refused("no_rtp", "this media worker has no RTP ports")
        if command.conference_id not in self._conferences:
            return m.Refused("unknown_conference", "no such conference in media")
        if command.leg_id in self._legs:
            return m.Refused("leg_exists", "this leg exists already")
        leg_id = command.leg_id

        def on_state(state: str) -> None:
            self._port_state(leg_id, state)

        def on_digit(digit: str) -> None:
            self._emit(m.LegDigit(leg_id, digit))

        try:
            port, host, port_number = await self.rtp_port_factory.create(
                command, on_state, on_digit
            )
        except OSError as exc:
            return m.Refused("no_port", f"no RTP port could be opened: {exc}")
        self.add_leg(command.conference_id, leg_id, port)
        return m.RtpLegReady(host, port_number)

    def _move(self, leg: _Leg, target: _Conference) -> None:
        source = leg.conference
        source.legs.pop(leg.leg_id, None)
        leg.conference = target
        target.legs[leg.leg_id] = leg
        if not source.legs and source.closed:
            self._conferences.pop(source.conference_id, None)

    def add_leg(self, conference_id: str, leg_id: str, port: MediaPort) -> None:
        """Attach a ready transport to a conference (also used by benchmarks and SIP)."""
        conf = self._conferences[conference_id]
        leg = _Leg(leg_id, conf, port, self._take_slot())
        self._slots[leg.slot] = leg
        self._legs[leg_id] = leg
        conf.legs[leg_id] = leg

    def _set_greeting(self, conference_id: str, samples: np.ndarray | None) -> m.MediaReply:
        conf = self._conferences.get(conference_id)
        if conf is None or conf.closed:
            return m.Refused("unknown_conference", "no such conference in media")
        if samples is None:
            conf.greeting = None
            return m.Done()
        if (
            not isinstance(samples, np.ndarray)
            or samples.dtype != np.int16
            or samples.ndim != 1
            or samples.size == 0
        ):
            return m.Refused("bad_greeting", "a greeting is int16 mono 48 kHz samples")
        # One copy now, so the sender cannot change it under the playbacks that share it.
        greeting = samples.copy()
        greeting.flags.writeable = False
        conf.greeting = greeting
        return m.Done()

    async def _start_recording(self, conference_id: str, path: str) -> m.MediaReply:
        conf = self._conferences.get(conference_id)
        if conf is None or conf.closed:
            return m.Refused("unknown_conference", "no such conference in media")
        if conf.recording is not None:
            return m.Refused("already_recording", "the conference is being recorded already")
        recorder = Recorder(path)
        # Taken before the file is open, so that a second start meanwhile is refused;
        # frames of the ticks in between wait in the recorder's queue.
        conf.recording = recorder
        try:
            await recorder.start()
        except Exception as exc:
            if conf.recording is recorder:
                conf.recording = None
            logger.warning("cannot record conference %s to %s: %s", conference_id, path, exc)
            return m.Refused("recording_failed", f"cannot record to {path}: {exc}")
        return m.Done()

    async def _finish_recording(self, conference_id: str, recorder: Recorder) -> m.MediaReply:
        """Flush and close the file off the loop; the recorder is already detached."""
        try:
            seconds = await recorder.stop()
        except Exception as exc:
            logger.error("recording of %s to %s failed: %s", conference_id, recorder.path, exc)
            return m.Refused("recording_failed", f"the recording failed: {exc}")
        logger.info("recorded %.2f s of %s to %s", seconds, conference_id, recorder.path)
        return m.RecordingStopped(conference_id, seconds, recorder.path)

    def _play(self, command: m.PlayPrompts) -> m.MediaReply:
        conf = self._conferences.get(command.conference_id)
        if conf is None:
            return m.Refused("unknown_conference", "no such conference in media")
        try:
            audio = [self._prompt_audio(conf, name) for name in command.prompts]
        except KeyError as exc:
            return m.Refused("unknown_prompt", f"no prompt {exc}")
        if not command.leg_ids and not command.exclusive:
            # Room-wide tones ride on the mix: one encode per stream, not per listener.
            conf.overlays.extend(
                _Playback(a, False, spared_leg=command.except_leg_id) for a in audio
            )
            return m.Done()
        if command.leg_ids:
            targets = [conf.legs[i] for i in command.leg_ids if i in conf.legs]
        else:
            targets = [leg for i, leg in conf.legs.items() if i != command.except_leg_id]
        for leg in targets:
            if leg.closing or (not command.exclusive and leg.in_exclusive_prompt):
                continue  # a tone must not delay a welcome or a farewell
            leg.prompts.extend(_Playback(a, command.exclusive) for a in audio)
        return m.Done()

    def _prompt_audio(self, conf: _Conference, name: str) -> Int16Array:
        if name == WELCOME_PROMPT and conf.greeting is not None:
            return conf.greeting
        language = conf.language
        if name in self._tones:
            return self._tones[name]
        if name.startswith("number:") and name[7:].isdigit():
            return self._prompts.number(language, int(name[7:]))
        return self._prompts.get(language, name)

    def _close_after(self, leg: _Leg, farewell: Sequence[str]) -> None:
        if leg.closing:
            return
        leg.closing = True
        leg.prompts.clear()
        if farewell and leg.port.connected:
            for name in farewell:
                leg.prompts.append(_Playback(self._prompt_audio(leg.conference, name), True))
        else:
            self._drop_leg(leg, reason="closed")

    # -- transport events --------------------------------------------------------

    def _port_state(self, leg_id: str, state: str) -> None:
        leg = self._legs.get(leg_id)
        if leg is None:
            return
        if state == "connected" and not leg.reported_connected:
            leg.reported_connected = True
            self._emit(m.LegConnected(leg_id))
        elif state in ("failed", "closed"):
            self._drop_leg(leg, reason="hangup" if state == "closed" else "failed")

    def _drop_leg(self, leg: _Leg, reason: str | None) -> None:
        if self._legs.pop(leg.leg_id, None) is None:
            return
        conf = leg.conference
        conf.legs.pop(leg.leg_id, None)
        self._slots[leg.slot] = None
        self._frames[leg.slot].fill(0)
        self._talk.reset(leg.slot)
        self._free_slots.append(leg.slot)
        self._spawn(leg.port.close())
        if reason is not None:
            self._emit(m.LegClosed(leg.leg_id, reason))
        if not conf.legs and conf.closed:
            self._conferences.pop(conf.conference_id, None)

    # -- the tick ----------------------------------------------------------------

    def tick(self, n: int) -> None:
        """One 20 ms step of every conference; ``n`` numbers the tick."""
        for hook in self.tick_hooks:
            hook(n)
        frames = self._frames
        for leg in self._legs.values():
            row = frames[leg.slot]
            pcm = leg.port.read_frame() if leg.port.connected else None
            if pcm is None:
                row.fill(0)
            else:
                row[:] = pcm
        levels = frame_levels(frames)
        changed = self._talk.update(levels)
        talking = self._talk.talking
        for slot in np.flatnonzero(changed):
            leg = self._slots[slot]
            if leg is not None:
                leg.talking = bool(talking[slot])
                self._emit(m.LegTalking(leg.leg_id, leg.talking))
        pts = n * FRAME_SAMPLES
        finished: list[_Leg] = []
        for conf in self._conferences.values():
            # A recording runs on the clock: an empty room is recorded as silence.
            if conf.legs or conf.recording is not None:
                self._tick_conference(conf, frames, levels, talking, pts, finished)
        for leg in finished:
            self._drop_leg(leg, reason="farewell")

    def _tick_conference(
        self,
        conf: _Conference,
        frames: Int16Array,
        levels: np.ndarray,
        talking: np.ndarray,
        pts: int,
        finished: list[_Leg],
    ) -> None:
        legs = list(conf.legs.values())
        slots = np.fromiter((leg.slot for leg in legs), dtype=np.intp, count=len(legs))
        if conf.mixing:
            mixable = np.fromiter(
                (
                    leg.port.connected
                    and not leg.muted
                    and not leg.closing
                    and not leg.in_exclusive_prompt
                    for leg in legs
                ),
                dtype=np.bool_,
                count=len(legs),
            )
            eligible = mixable & talking[slots]
        else:
            eligible = np.zeros(len(legs), dtype=np.bool_)
        contributing = choose_contributors(eligible, levels[slots], self.max_speakers)
        result = mix(frames[slots], contributing)
        position = np.full(len(legs), -1, dtype=np.intp)
        position[result.contributors] = np.arange(result.contributors.size)
        shared_pcm = result.shared
        mix_minus = result.mix_minus
        spared: str | None = None
        overlay = conf.next_overlay_chunk() if conf.overlays else None
        if overlay is not None:
            chunk, spared = overlay
            wide = chunk.astype(np.int32)
            shared_pcm = saturate(shared_pcm.astype(np.int32) + wide)
            if mix_minus.shape[0]:
                mix_minus = saturate(mix_minus.astype(np.int32) + wide)
        if conf.recording is not None:
            # What a silent listener hears; a fresh array each tick, never written to again.
            conf.recording.offer(shared_pcm)
        shared: dict[str, EncodedFrame] = {}
        for i, leg in enumerate(legs):
            port = leg.port
            if not port.connected:
                continue
            k = position[i]
            own: Int16Array | None = None
            if k >= 0:
                own = result.mix_minus[k] if leg.leg_id == spared else mix_minus[k]
            elif leg.leg_id == spared and overlay is not None:
                own = result.shared
            if leg.prompts:
                prompt = leg.next_prompt_chunk()
                if prompt is not None:
                    chunk, exclusive = prompt
                    if exclusive:
                        own = chunk
                    else:
                        base = shared_pcm if own is None else own
                        own = saturate(base.astype(np.int32) + chunk)
                if not leg.prompts and leg.closing:
                    finished.append(leg)
            if own is not None:
                if leg.encoder is None:
                    leg.encoder = port.new_encoder()
                frame = EncodedFrame(leg.encoder.encode(own), pts)
            else:
                frame = shared.get(port.codec)  # type: ignore[assignment]
                if frame is None:
                    encoder = conf.shared_encoders.get(port.codec)
                    if encoder is None:
                        encoder = conf.shared_encoders[port.codec] = port.new_encoder()
                    frame = shared[port.codec] = EncodedFrame(encoder.encode(shared_pcm), pts)
            port.write(frame)

    # -- helpers -------------------------------------------------------------------

    def _take_slot(self) -> int:
        if self._free_slots:
            return self._free_slots.pop()
        slot = len(self._slots)
        self._slots.append(None)
        if slot >= self._frames.shape[0]:
            capacity = max(8, 2 * self._frames.shape[0])
            grown = np.zeros((capacity, FRAME_SAMPLES), dtype=np.int16)
            grown[: self._frames.shape[0]] = self._frames
            self._frames = grown
            self._talk.resize(capacity)
        return slot

    def _emit(self, event: m.MediaEvent) -> None:
        if self.on_event is not None:
            try:
                self.on_event(event)
            except Exception:
                logger.exception("media event handler failed on %r", event)

    def _spawn(self, coro: object) -> None:
        task = asyncio.ensure_future(coro)  # type: ignore[arg-type]
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def stats(self) -> dict[str, object]:
        """Operational figures: the clock's health and how much it carries."""
        c = self.clock.stats
        return {
            "clock": {
                "ticks": c.ticks,
                "overruns": c.overruns,
                "skipped": c.skipped,
                "busy_seconds": round(c.busy_seconds, 6),
                "max_lateness": round(c.max_lateness, 6),
            },
            "legs": len(self._legs),
            "conferences": len(self._conferences),
        }

    def leg_ids(self, conference_id: str) -> list[str]:
        conf = self._conferences.get(conference_id)
        return list(conf.legs) if conf else []
