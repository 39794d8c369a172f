"""Dial-out through Kamailio acting as the carrier's trunk, to a SIPp callee."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from server.config import Settings

from ..conftest import InProcess, free_port
from ..support.audio import tone_level
from ..support.client import Participant, heard_since, past_greeting, wait_until
from .conftest import SCENARIOS, require, run
from .kamailio import Kamailio
from .rtp_pcap import PcapBuilder

TRUNK_PORT = free_port()
CALLEE_PORT = free_port()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data", ice_addresses=("127.0.0.1",), sip_port=0,
        sip_trunk=f"sip:127.0.0.1:{TRUNK_PORT}", caller_id="+442079460001",
    )


async def test_dial_out_through_the_trunk(service: InProcess, tmp_path: Path) -> None:
    trunk = Kamailio(tmp_path, CALLEE_PORT, port=TRUNK_PORT)
    await trunk.start()
    workdir = tmp_path / "callee"
    workdir.mkdir()
    shutil.copy(SCENARIOS / "uas_answer.xml", workdir)
    PcapBuilder().tone(1200, 12).write(workdir / "answer.pcap")
    callee = asyncio.ensure_future(run(
        require("sipp"), "-sf", "uas_answer.xml", "-i", "127.0.0.1", "-p", str(CALLEE_PORT),
        "-mi", "127.0.0.1", "-mp", str(free_port()), "-m", "1", "-nostdin",
        "-timeout", "40s", cwd=workdir, limit=45,
    ))
    conf = await service.create_conference()
    organizer = Participant(service.http, service.url, 440)
    try:
        await organizer.join(conf["moderator_pin"], "Olga")
        mark = await past_greeting(organizer)
        async with service.http.post(
            f"{service.url}/api/v1/conferences/{conf['id']}/participants",
            json={"name": "Callee", "phone": "+44 20 7946 0123"},
            headers=service.auth(conf["organizer_token"]),
        ) as response:
            assert response.status == 201, await response.text()
            invited = await response.json()
        assert invited["state"] == "invited" and invited["phone"] == "+442079460123"

        async def callee_state() -> str:
            state = await service.get_conference(conf)
            return next(p["state"] for p in state["participants"] if p["id"] == invited["id"])

        async def connected() -> bool:
            return await callee_state() in ("connected", "talking")

        await wait_until(connected, within=15)
        # The callee's 1.2 kHz reaches the organiser through the trunk.
        await wait_until(
            lambda: tone_level(heard_since(organizer, mark)[-24000:], 1200) > -30, within=10
        )
        async with service.http.post(
            f"{service.url}/api/v1/conferences/{conf['id']}/end",
            headers=service.auth(conf["organizer_token"]),
        ) as response:
            assert response.status == 200
        # The bridge says goodbye and sends BYE through the trunk: SIPp answers and exits 0.
        code, output = await callee
        assert code == 0, output[-3000:] + "\n".join(trunk.log[-30:])
        state = await service.get_conference(conf)
        callee_view = next(p for p in state["participants"] if p["id"] == invited["id"])
        assert callee_view["mode"] == "dial-out" and callee_view["state"] == "left"
    finally:
        callee.cancel()
        await organizer.close()
        await trunk.stop()


async def test_refused_numbers_are_never_called(service: InProcess) -> None:
    conf = await service.create_conference()
    for phone, code in (("+44 909 879 0123", "dial_out_refused"),
                        ("+1 212 555 0123", "dial_out_refused"), ("12", "invalid")):
        async with service.http.post(
            f"{service.url}/api/v1/conferences/{conf['id']}/participants",
            json={"name": "X", "phone": phone}, headers=service.auth(conf["organizer_token"]),
        ) as response:
            body = await response.json()
            assert response.status in (400, 403) and body["error"] == code, body
    state = await service.get_conference(conf)
    assert state["participants"] == []
