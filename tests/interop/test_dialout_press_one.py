"""Press 1 to join: a called phone joins only once a person presses 1 (not voicemail)."""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path

import pytest

from server.config import Settings

from ..conftest import InProcess, free_port
from ..support.client import Participant, wait_until
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
    states: list[str] = []
    seen_at: dict[str, float] = {}
    try:
        await organizer.join(conf["moderator_pin"], "Olga")
        async with service.http.post(
            f"{service.url}/api/v1/conferences/{conf['id']}/participants",
            json={"name": "Pat", "phone": "+442079460177"},
            headers=service.auth(conf["organizer_token"]),
        ) as response:
            pid = (await response.json())["id"]

        async def state() -> str:
            view = await service.get_conference(conf)
            current = next(p["state"] for p in view["participants"] if p["id"] == pid)
            if not states or states[-1] != current:
                states.append(current)
                seen_at.setdefault(current, time.monotonic())
            return current

        async def joined() -> bool:
            return await state() in ("connected", "talking")

        await wait_until(joined, within=15)
        # Answered is not joined: it rang, then waited for the 1, then joined.
        assert states[0] == "invited" and "ringing" in states
        # SIPp answers 0.5 s after ringing and presses 1 two seconds into the call.
        assert seen_at[states[-1]] - seen_at["ringing"] > 2.0, seen_at
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
