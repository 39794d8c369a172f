"""The live channel: snapshot on connect, changes pushed within 300 ms."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
import socketio

from ..conftest import InProcess
from ..support.client import Participant


class LiveClient:
    def __init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: asyncio.Queue[tuple[str, dict[str, Any], float]] = asyncio.Queue()
        for name in ("snapshot", "participant", "conference"):
            self.sio.on(name, self._handler(name), namespace="/live")

    def _handler(self, name: str) -> Any:
        async def handle(data: dict[str, Any]) -> None:
            await self.events.put((name, data, time.monotonic()))

        return handle

    async def connect(self, url: str, token: str) -> None:
        await self.sio.connect(
            url, namespaces=["/live"], auth={"token": token}, transports=["websocket"]
        )

    async def next(self, name: str, match: Any = lambda d: True) -> tuple[dict[str, Any], float]:
        async with asyncio.timeout(10):
            while True:
                event, data, at = await self.events.get()
                if event == name and match(data):
                    return data, at


async def test_organizer_sees_changes_live(service: InProcess) -> None:
    conf = await service.create_conference()
    live = LiveClient()
    guest = Participant(service.http, service.url, 880)
    try:
        await live.connect(service.url, conf["organizer_token"])
        snapshot, _ = await live.next("snapshot")
        assert snapshot["id"] == conf["id"]
        assert snapshot["moderator_pin"] == conf["moderator_pin"]
        assert snapshot["participants"] == []

        await guest.join(conf["pin"], "Gus")
        joined, _ = await live.next("participant", lambda d: d["name"] == "Gus")
        assert joined["state"] == "waiting" and joined["mode"] == "web"
        state, _ = await live.next("conference")
        assert state == {"id": conf["id"], "state": "waiting", "locked": False}

        for muted, expected in ((True, "muted"), (False, "waiting")):
            sent = time.monotonic()
            async with service.http.patch(
                f"{service.url}/api/v1/conferences/{conf['id']}/participants/{guest.id}",
                json={"muted": muted},
                headers=service.auth(conf["organizer_token"]),
            ) as response:
                assert response.status == 200
            update, at = await live.next(
                "participant", lambda d, m=muted: d["id"] == guest.id and d["muted"] is m
            )
            assert update["state"] == expected
            assert at - sent < 0.3, f"update took {at - sent:.3f} s"

        # A participant's own view of the room has no moderator PIN.
        other = LiveClient()
        await other.connect(service.url, guest.token)
        view, _ = await other.next("snapshot")
        assert "moderator_pin" not in view
        assert [p["name"] for p in view["participants"]] == ["Gus"]
        await other.sio.disconnect()
    finally:
        await live.sio.disconnect()
        await guest.close()


async def test_live_channel_refuses_bad_tokens(service: InProcess) -> None:
    for auth in ({"token": "forged"}, {}, None):
        client = socketio.AsyncClient(reconnection=False)
        with pytest.raises(socketio.exceptions.ConnectionError):
            await client.connect(
                service.url, namespaces=["/live"], auth=auth, transports=["websocket"]
            )
        await client.disconnect()
