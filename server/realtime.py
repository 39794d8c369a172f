"""Live state over Socket.IO: one room per conference on the ``/live`` namespace.

Clients authenticate with their token in the connection's ``auth`` payload and
get a ``snapshot`` at once, then ``participant`` and ``conference`` events as
they happen. Notices leave in the order the service published them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from http.cookies import SimpleCookie
from typing import Any

import socketio

from .accounts.service import AccountService
from .service import ConferenceService, Notice, Principal, ServiceError

#: the name of the session cookie (server/api/auth.py sets it)
SESSION_COOKIE = "telekonf_session"

logger = logging.getLogger(__name__)

NAMESPACE = "/live"


def room(conference_id: str, organizer: bool) -> str:
    """Organisers and participants have rooms of their own: they see different details."""
    return f"conference:{conference_id}:{'organizers' if organizer else 'participants'}"


#: notices for the organisers' room only (addresses and delivery of their messages)
ORGANIZER_ONLY_EVENTS = frozenset({"notification"})


def for_participants(
    event: str, payload: dict[str, Any], *, hide_phones: bool = True
) -> dict[str, Any]:
    """What participants may see of a notice (the service publishes the organiser's view)."""
    if event == "participant" and (payload.get("phone") or payload.get("email")):
        return {**payload, "phone": None if hide_phones else payload.get("phone"),
                "email": None}
    return payload


class LiveNamespace(socketio.AsyncNamespace):
    def __init__(self, service: ConferenceService, accounts: AccountService | None = None) -> None:
        super().__init__(NAMESPACE)
        self.service = service
        self.accounts = accounts

    async def _principal(self, environ: dict[str, Any], auth: Any) -> Principal:
        """A conference token, or a logged-in organiser's session for a conference they own."""
        auth = auth if isinstance(auth, dict) else {}
        token = auth.get("token")
        if isinstance(token, str) and token:
            return await self.service.authenticate(token)
        conference_id = auth.get("conference_id")
        cookies = SimpleCookie(environ.get("HTTP_COOKIE", ""))
        morsel = cookies.get(SESSION_COOKIE)
        if self.accounts is not None and isinstance(conference_id, str) and morsel:
            found = await self.accounts.session(morsel.value)
            if found is not None:
                return await self.service.principal_for_user(found[0].id, conference_id)
        raise ServiceError(401, "unauthorized", "a token or a log-in is required")

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        try:
            principal = await self._principal(environ, auth)
            snapshot = await self.service.view(principal, principal.conference_id)
        except ServiceError as exc:
            raise socketio.exceptions.ConnectionRefusedError(exc.message) from None
        await self.save_session(sid, {"principal": principal})
        await self.enter_room(sid, room(principal.conference_id, principal.is_organizer))
        await self.emit("snapshot", snapshot, to=sid)


class LiveBroadcaster:
    """Carries the service's notices to the rooms, in order, off the caller's path."""

    def __init__(
        self, sio: socketio.AsyncServer, phones_hidden: Callable[[str], bool] = lambda _: True
    ) -> None:
        self.sio = sio
        #: whether a conference hides phone numbers from its participants
        self.phones_hidden = phones_hidden
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
                if event not in ORGANIZER_ONLY_EVENTS:
                    await self.sio.emit(
                        event,
                        for_participants(
                            event, payload, hide_phones=self.phones_hidden(conference_id)
                        ),
                        room=room(conference_id, False),
                        namespace=NAMESPACE,
                    )
            except Exception:
                logger.exception("could not send %s to conference %s", event, conference_id)


def create_sio() -> socketio.AsyncServer:
    # Same-origin only (cors_allowed_origins=None); pages are served by us.
    return socketio.AsyncServer(async_mode="aiohttp", logger=False, engineio_logger=False)
