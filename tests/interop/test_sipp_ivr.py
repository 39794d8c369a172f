"""The PIN prompt against SIPp: three wrong PINs end the call; the organiser's hang-up
ends the conference for a phone in it."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from server.app import GATEWAY

from ..conftest import InProcess, free_port
from ..support.audio import tone_level
from ..support.client import Participant, heard_since, past_greeting, wait_until
from .conftest import GEOGRAPHIC, SCENARIOS, require, run, sip_port
from .rtp_pcap import PcapBuilder


def sipp_call(service: InProcess, workdir: Path, scenario: str, pause_ms: int = 0) -> list[str]:
    shutil.copy(SCENARIOS / scenario, workdir)
    argv = [
        require("sipp"), f"127.0.0.1:{sip_port(service)}", "-sf", scenario, "-s", GEOGRAPHIC,
        "-i", "127.0.0.1", "-p", str(free_port()), "-mi", "127.0.0.1", "-mp", str(free_port()),
        "-m", "1", "-nostdin", "-timeout", "40s",
    ]
    if pause_ms:
        argv += ["-d", str(pause_ms)]
    return argv


async def test_three_wrong_pins_end_the_call(service: InProcess, tmp_path: Path) -> None:
    conf = await service.create_conference()
    wrong = "1" * len(conf["pin"])
    assert wrong != conf["pin"]
    pcap = PcapBuilder().silence(0.5)
    for _ in range(3):
        pcap.digits(wrong + "#").silence(1.5)
    pcap.silence(8).write(tmp_path / "call.pcap")
    code, output = await run(*sipp_call(service, tmp_path, "uac_hung_up.xml"),
                             cwd=tmp_path, limit=45)
    # SIPp succeeds only if the bridge sent it a BYE after the third wrong PIN.
    assert code == 0, output[-3000:]
    state = await service.get_conference(conf)
    assert state["participants"] == []  # nobody got in
    assert service.app[GATEWAY].calls == {}


async def test_the_organizer_hanging_up_ends_it_for_the_phone(
    service: InProcess, tmp_path: Path
) -> None:
    conf = await service.create_conference()
    organizer = Participant(service.http, service.url, 440)
    try:
        await organizer.join(conf["moderator_pin"], "Olga")
        pcap = PcapBuilder().silence(0.5).digits(conf["pin"] + "#").silence(25)
        pcap.write(tmp_path / "call.pcap")
        phone = asyncio.ensure_future(
            run(*sipp_call(service, tmp_path, "uac_hung_up.xml"), cwd=tmp_path, limit=45)
        )

        async def phone_in() -> bool:
            state = await service.get_conference(conf)
            return any(p["mode"] == "dial-in" and p["state"] != "left"
                       for p in state["participants"])

        await wait_until(phone_in, within=15)
        assert await organizer.leave() == 200
        # The closing announcement plays, then the bridge sends BYE: SIPp answers and exits 0.
        code, output = await phone
        assert code == 0, output[-3000:]
        state = await service.get_conference(conf)
        assert state["state"] == "ended"
        assert {p["state"] for p in state["participants"]} == {"left"}
    finally:
        await organizer.close()


async def test_hold_over_tcp_takes_the_phone_out_of_the_mix(
    service: InProcess, tmp_path: Path
) -> None:
    conf = await service.create_conference()
    organizer = Participant(service.http, service.url, 440)
    try:
        await organizer.join(conf["moderator_pin"], "Olga")
        mark = await past_greeting(organizer)
        # PIN, then 1 kHz for 13 s: the phone keeps sending it while it holds the call.
        pcap = PcapBuilder().silence(0.5).digits(conf["pin"] + "#").silence(1.0)
        pcap.tone(1000, 13.0).write(tmp_path / "call.pcap")
        argv = [*sipp_call(service, tmp_path, "uac_hold.xml"), "-t", "t1"]
        phone = asyncio.ensure_future(run(*argv, cwd=tmp_path, limit=45))

        def hears_phone() -> bool:
            return tone_level(heard_since(organizer, mark)[-24000:], 1000) > -30

        await wait_until(hears_phone, within=15)
        # The re-INVITE (a=sendonly) at 9 s: the tone still flows, but not into the room.
        held = len(organizer.heard)
        await wait_until(
            lambda: heard_since(organizer, held).size > 48000
            and tone_level(heard_since(organizer, held)[-24000:], 1000) < -50,
            within=12,
        )
        code, output = await phone
        assert code == 0, output[-3000:]  # incl. our answer carrying a=recvonly
    finally:
        await organizer.close()
