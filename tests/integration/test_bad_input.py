"""Bad input gets a clear 4xx and never disturbs a running conference."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp

from ..conftest import InProcess
from ..support.audio import tone_level
from ..support.client import Participant, wait_until


async def expect_error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status == status, await response.text()
    assert response.content_type == "application/json"
    body = await response.json()
    assert isinstance(body["error"], str) and isinstance(body["message"], str)
    if code is not None:
        assert body["error"] == code, body
    return dict(body)


def both_hear(a: Participant, b: Participant) -> bool:
    return tone_level(a.last(1.0), 880) > -30 and tone_level(b.last(1.0), 440) > -30


async def test_bad_input_is_refused_while_others_keep_talking(service: InProcess) -> None:
    conf = await service.create_conference()
    url, http = service.url, service.http
    organizer = Participant(http, url, 440)
    guest = Participant(http, url, 880)
    try:
        await organizer.join(conf["moderator_pin"], "Olga")
        await guest.join(conf["pin"], "Gus")
        await wait_until(lambda: both_hear(organizer, guest), within=20)

        # Bad JSON, wrong types, missing fields.
        async with http.post(f"{url}/api/v1/conferences", data=b"{not json") as r:
            await expect_error(r, 400, "bad_json")
        async with http.post(f"{url}/api/v1/conferences", json=[1, 2]) as r:
            await expect_error(r, 400, "bad_json")
        async with http.post(
            f"{url}/api/v1/conferences", json={"title": "x", "organizer": {"name": "A"}}
        ) as r:
            body = await expect_error(r, 400, "invalid")
            assert body["field"] == "organizer.email"
        async with http.post(
            f"{url}/api/v1/conferences",
            json={"title": "x", "organizer": {"name": "A", "email": "a@b.org", "phone": "12ab"}},
        ) as r:
            assert (await expect_error(r, 400))["field"] == "organizer.phone"
        async with http.post(f"{url}/api/v1/join", json={"pin": 7, "name": ""}) as r:
            await expect_error(r, 400, "invalid")

        # Unknown conference, missing and invalid tokens, participant tokens can't moderate.
        org = service.auth(conf["organizer_token"])
        async with http.get(f"{url}/api/v1/conferences/nosuchthing", headers=org) as r:
            await expect_error(r, 404)
        async with http.get(f"{url}/api/v1/conferences/{conf['id']}") as r:
            await expect_error(r, 401)
        async with http.get(
            f"{url}/api/v1/conferences/{conf['id']}", headers=service.auth("forged")
        ) as r:
            await expect_error(r, 401, "invalid_token")
        async with http.post(
            f"{url}/api/v1/conferences/{conf['id']}/mute",
            json={"muted": True}, headers=service.auth(guest.token),
        ) as r:
            await expect_error(r, 403, "forbidden")
        async with http.post(
            f"{url}/api/v1/conferences/{conf['id']}/end", headers=service.auth(guest.token)
        ) as r:
            await expect_error(r, 403, "forbidden")
        async with http.patch(
            f"{url}/api/v1/conferences/{conf['id']}/participants/{organizer.id}",
            json={"muted": "yes"}, headers=org,
        ) as r:
            await expect_error(r, 400, "invalid")

        # Malformed SDP, wrong content type, an offer without audio.
        async with http.post(f"{url}/api/v1/join", json={"pin": conf["pin"], "name": "Eve"}) as r:
            eve = await r.json()
        eve_auth = service.auth(eve["participant_token"])
        whip = f"{url}/api/v1/webrtc"
        sdp = {"Content-Type": "application/sdp"}
        async with http.post(whip, data="v=0\r\nthis is not sdp\r\n", headers=eve_auth | sdp) as r:
            await expect_error(r, 400, "bad_sdp")
        async with http.post(whip, data="hello", headers=eve_auth | sdp) as r:
            await expect_error(r, 400, "bad_sdp")
        async with http.post(whip, data=b"v=0\xff\xfe", headers=eve_auth | sdp) as r:
            await expect_error(r, 400, "bad_sdp")
        no_audio = (
            "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
            "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\n"
            "a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n"
            "a=fingerprint:sha-256 " + ":".join(["AB"] * 32) + "\r\n"
            "a=setup:actpass\r\na=mid:0\r\na=sctp-port:5000\r\n"
        )
        async with http.post(whip, data=no_audio, headers=eve_auth | sdp) as r:
            await expect_error(r, 400, "bad_sdp")
        async with http.post(whip, json={"sdp": "v=0"}, headers=eve_auth) as r:
            await expect_error(r, 415)
        async with http.post(whip, data="v=0", headers=sdp) as r:
            await expect_error(r, 401)
        async with http.patch(f"{whip}/{guest.id}", data="a=candidate", headers=eve_auth) as r:
            await expect_error(r, 405)

        # Wrong PINs: refused, slowed, then limited.
        statuses = []
        for _ in range(6):
            async with http.post(f"{url}/api/v1/join", json={"pin": "00000000", "name": "M"}) as r:
                statuses.append(r.status)
                if r.status == 429:
                    assert int(r.headers["Retry-After"]) > 0
                await expect_error(r, r.status)
        assert statuses == [403] * 5 + [429]
        # ... even the right PIN is refused from that client while it is limited.
        async with http.post(f"{url}/api/v1/join", json={"pin": conf["pin"], "name": "M"}) as r:
            await expect_error(r, 429, "too_many_attempts")

        # Through all of this, the two speakers kept hearing each other.
        assert both_hear(organizer, guest)

        # A session that has left cannot come back with its old token.
        assert await guest.leave() == 200
        again = Participant(http, url, 880)
        again.joined = guest.joined
        await again.pc.setLocalDescription(await again.pc.createOffer())
        async with http.post(
            whip, data=again.pc.localDescription.sdp, headers=service.auth(guest.token) | sdp
        ) as r:
            await expect_error(r, 401, "token_expired")
        await again.close()

        # After the end, participant tokens have expired; the organiser may still read.
        async with http.post(f"{url}/api/v1/conferences/{conf['id']}/end", headers=org) as r:
            assert r.status == 200
        async with http.get(
            f"{url}/api/v1/conferences/{conf['id']}", headers=service.auth(eve["participant_token"])
        ) as r:
            await expect_error(r, 401, "token_expired")
        async with http.get(f"{url}/api/v1/conferences/{conf['id']}/report", headers=org) as r:
            assert r.status == 200
        async with http.post(f"{url}/api/v1/join", json={"pin": conf["pin"], "name": "Late"}) as r:
            assert r.status in (403, 429)
    finally:
        await organizer.close()
        await guest.close()


async def test_the_development_sms_sink_is_not_shown_by_a_deployment(
    aiohttp_server: Any, tmp_path: Path
) -> None:
    """Behind a reverse proxy every request looks local; a public URL hides the sink."""
    from server.app import create_app
    from server.config import Settings

    for public_url, sms_url, status in [
        ("https://conf.example.org", "", 404),
        ("https://conf.example.org", "dev", 200),
        ("", "", 200),
    ]:
        settings = Settings(data_dir=tmp_path / f"d{status}{sms_url}", sip_port=0,
                            public_url=public_url, sms_url=sms_url)
        server = await aiohttp_server(create_app(settings))
        async with aiohttp.ClientSession() as http, http.get(
            server.make_url("/api/v1/dev/sms")
        ) as response:
            assert response.status == status, (public_url, sms_url)
        await server.close()
