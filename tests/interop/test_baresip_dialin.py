"""baresip dials in: its tone reaches a browser-side participant and the other way round."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from server.app import GATEWAY

from ..conftest import InProcess
from ..support.audio import sine, tone_level, write_wav
from ..support.client import Participant, heard_since, past_greeting, wait_until
from .baresip import Baresip
from .conftest import GEOGRAPHIC, sip_port


async def test_baresip_and_webrtc_hear_each_other(
    service: InProcess, tmp_path: Path, tone_wav: Callable[[float], Path]
) -> None:
    conf = await service.create_conference()
    organizer = Participant(service.http, service.url, 440)
    phone = Baresip(tmp_path, write_wav(tmp_path / "phone.wav", sine(1000, 30, 0.3, 8000), 8000))
    gateway = service.app[GATEWAY]
    output = ""
    try:
        await organizer.join(conf["moderator_pin"], "Olga")
        mark = await past_greeting(organizer)
        await phone.start()
        answer = await phone.command("dial", f"sip:{GEOGRAPHIC}@127.0.0.1:{sip_port(service)}")
        assert answer.get("ok"), answer
        await wait_until(lambda: any(c.acked for c in gateway.calls.values()), within=10)
        assert (await phone.command("sndcode", conf["pin"] + "#")).get("ok")
        # The phone's 1 kHz reaches the WebRTC organiser...
        await wait_until(
            lambda: tone_level(heard_since(organizer, mark)[-24000:], 1000) > -30, within=20
        )

        async def phone_state() -> str | None:
            state = await service.get_conference(conf)
            return next((p["state"] for p in state["participants"] if p["mode"] == "dial-in"),
                        None)

        assert await phone_state() in ("connected", "talking")
        # ...and the organiser's 440 Hz reaches the phone (checked in its recording, once
        # the phone has been in the mix for 2.5 s of the organiser's audio clock).
        joined = len(organizer.heard)
        await wait_until(lambda: heard_since(organizer, joined).size > 48000 * 2.5, within=10)
        assert tone_level(heard_since(organizer, joined), 1000) > -30
        assert (await phone.command("hangup")).get("ok")

        async def phone_left() -> bool:
            return await phone_state() == "left"

        await wait_until(phone_left, within=10)
    finally:
        output = await phone.stop()
        await organizer.close()
    heard = phone.heard()
    assert heard.size > phone.rate * 2, output[-2000:]
    last = heard[-phone.rate * 3 // 2 :]
    assert tone_level(last, 440, rate=phone.rate) > -30, output[-2000:]
    assert tone_level(last, 1000, rate=phone.rate) < -45  # not its own voice back
