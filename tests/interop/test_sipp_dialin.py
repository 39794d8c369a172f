"""SIPp dials in over a real SIP stack: PCMU, the PIN in RFC 4733, its tone in the room."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from ..conftest import InProcess, free_port
from ..support.audio import tone_level
from ..support.client import Participant, heard_since, past_greeting, wait_until
from .conftest import GEOGRAPHIC, SCENARIOS, require, run, sip_port
from .rtp_pcap import PcapBuilder


async def test_sipp_dials_in_with_a_pin_and_is_heard(service: InProcess, tmp_path: Path) -> None:
    sipp = require("sipp")
    conf = await service.create_conference()
    organizer = Participant(service.http, service.url, 440)
    try:
        await organizer.join(conf["moderator_pin"], "Olga")
        mark = await past_greeting(organizer)
        # The caller: 0.5 s of silence, the PIN, a pause for the welcome and the beep,
        # then 4 s of 1 kHz the organiser must hear.
        pcap = PcapBuilder().silence(0.5).digits(conf["pin"] + "#").silence(3.5)
        pcap.tone(1000, 4.0).silence(0.5).write(tmp_path / "call.pcap")
        shutil.copy(SCENARIOS / "uac_pcmu_dtmf.xml", tmp_path)
        heard_tone = False

        async def organizer_hears_the_phone() -> bool:
            nonlocal heard_tone
            recent = heard_since(organizer, mark)[-24000:]
            heard_tone = heard_tone or tone_level(recent, 1000) > -30
            return heard_tone

        call = run(
            sipp, f"127.0.0.1:{sip_port(service)}", "-sf", "uac_pcmu_dtmf.xml",
            "-s", GEOGRAPHIC, "-i", "127.0.0.1", "-p", str(free_port()),
            "-mi", "127.0.0.1", "-mp", str(free_port()), "-m", "1", "-nostdin",
            "-d", str(int(pcap.seconds * 1000) + 500), "-timeout", "40s",
            cwd=tmp_path, limit=45,
        )
        sipp_task = asyncio.ensure_future(call)
        await wait_until(organizer_hears_the_phone, within=25)
        code, output = await sipp_task
        assert code == 0, output[-3000:]

        state = await service.get_conference(conf)
        phone = next(p for p in state["participants"] if p["mode"] == "dial-in")
        assert phone["access_number"] == GEOGRAPHIC
        assert phone["access_mode"] == "geographic"
        assert phone["role"] == "participant"
        assert phone["state"] == "left"  # SIPp hung up with BYE
        assert phone["joined_at"] and phone["left_at"]
    finally:
        await organizer.close()
