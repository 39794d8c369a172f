"""Live state over Socket.IO: one room per conference on the ``/live`` namespace.

Clients authenticate with their token in the connection's ``auth`` payload and
get a ``snapshot`` at once, then ``participant`` and ``conference`` events as
they happen. Notices leave in the order the service published them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import socketio

from .service import ConferenceService, Notice, ServiceError

logger = logging.getLogger(__name__)

NAMESPACE = "/live"


def room(conference_id: str, organizer: bool) -> str:
    """Organisers and participants have rooms of their own: they see different details."""
    return f"conference:{conference_id}:{'organizers' if organizer else 'participants'}"


def for_participants(event: str, payload: dict[str, Any]) -> dict[str, Any]:
    """What participants may see of a notice (the service publishes the organiser's view)."""
    if event == "participant" and payload.get("phone") is not None:
        return {**payload, "phone": None}
    return payload


class LiveNamespace(socketio.AsyncNamespace):
    def __init__(self, service: ConferenceService) -> None:
        super().__init__(NAMESPACE)
        self.service = service

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        token = auth.get("token") if isinstance(auth, dict) else None
        if not isinstance(token, str):
            raise socketio.exceptions.ConnectionRefusedError("a token is required")
        try:
            principal = await self.service.authenticate(token)
            snapshot = await self.service.view(principal, principal.conference_id)
        except ServiceError as exc:
            raise socketio.exceptions.ConnectionRefusedError(exc.message) from None
        await self.save_session(sid, {"principal": principal})
        await self.enter_room(sid, room(principal.conference_id, principal.is_organizer))
        await self.emit("snapshot", snapshot, to=sid)


class LiveBroadcaster:
    """Carries the service's notices to the rooms, in order, off the caller's path."""

    def __init__(self, sio: socketio.AsyncServer) -> None:
        self.sio = sio
        self._queue: asyncio.Queue[Notice] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def __call__(self, notice: Notice) -> None:
        self._queue.put_nowait(notice)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="live-broadcast")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            event, conference_id, payload = await self._queue.get()
            try:
                await self.sio.emit(
                    event, payload, room=room(conference_id, True), namespace=NAMESPACE
                )
                await self.sio.emit(
                    event,
                    for_participants(event, payload),
                    room=room(conference_id, False),
                    namespace=NAMESPACE,
                )
            except Exception:
                logger.exception("could not send %s to conference %s", event, conference_id)


def create_sio() -> socketio.AsyncServer:
    # Same-origin only (cors_allowed_origins=None); pages are served by us.
    return socketio.AsyncServer(async_mode="aiohttp", logger=False, engineio_logger=False)
