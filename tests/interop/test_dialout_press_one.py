"""Press 1 to join: a called phone joins only once a person presses 1 (not voicemail)."""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path

import pytest

from server.api.routes import SERVICE
from server.config import Settings

from ..conftest import InProcess, free_port
from ..support.client import Participant
from .conftest import SCENARIOS, require, run
from .rtp_pcap import PcapBuilder

CALLEE_PORT = free_port()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data", ice_addresses=("127.0.0.1",), sip_port=0,
        sip_trunk=f"sip:127.0.0.1:{CALLEE_PORT}", dial_out_press_one=True,
    )


async def test_the_callee_joins_after_pressing_one(service: InProcess, tmp_path: Path) -> None:
    shutil.copy(SCENARIOS / "uas_answer.xml", tmp_path)
    # The person listens to "press one to join" for 2 s, presses 1, then talks.
    PcapBuilder().silence(2.0).digits("1").tone(1200, 8).write(tmp_path / "answer.pcap")
    callee = asyncio.ensure_future(run(
        require("sipp"), "-sf", "uas_answer.xml", "-i", "127.0.0.1", "-p", str(CALLEE_PORT),
        "-mi", "127.0.0.1", "-mp", str(free_port()), "-m", "1", "-nostdin",
        "-timeout", "40s", cwd=tmp_path, limit=45,
    ))
    conf = await service.create_conference()
    organizer = Participant(service.http, service.url, 440)
    # Every state change as published live, in order: polling could miss a short one.
    changes: list[tuple[str, str, float]] = []
    called_in = asyncio.Event()

    def record(notice: tuple[str, str, dict]) -> None:
        event, _, payload = notice
        if event == "participant":
            changes.append((payload["id"], payload["state"], time.monotonic()))
            if payload["mode"] == "dial-out" and payload["state"] == "connected":
                called_in.set()

    service.app[SERVICE].subscribe(record)
    try:
        await organizer.join(conf["moderator_pin"], "Olga")
        async with service.http.post(
            f"{service.url}/api/v1/conferences/{conf['id']}/participants",
            json={"name": "Pat", "phone": "+442079460177"},
            headers=service.auth(conf["organizer_token"]),
        ) as response:
            pid = (await response.json())["id"]

        def states() -> list[str]:
            ordered: list[str] = []
            for leg, state, _ in changes:
                if leg == pid and (not ordered or ordered[-1] != state):
                    ordered.append(state)
            return ordered

        await asyncio.wait_for(called_in.wait(), 15)
        seen_at: dict[str, float] = {}
        for leg, state, at in changes:
            if leg == pid:
                seen_at.setdefault(state, at)
        # Answered is not joined: it rang, then waited for the 1, then joined.
        assert states()[:2] == ["invited", "ringing"], states()
        # SIPp answers 0.5 s after ringing and presses 1 two seconds into the call.
        assert seen_at["connected"] - seen_at["ringing"] > 2.0, seen_at
        view = await service.get_conference(conf)
        joined_at = next(p["joined_at"] for p in view["participants"] if p["id"] == pid)
        assert joined_at is not None
        async with service.http.post(
            f"{service.url}/api/v1/conferences/{conf['id']}/end",
            headers=service.auth(conf["organizer_token"]),
        ) as response:
            assert response.status == 200
        code, output = await callee
        assert code == 0, output[-2000:]
    finally:
        callee.cancel()
        await organizer.close()
