"""Add-ons over the real API and media: an own greeting is heard; a recording holds the room.

Uploads are checked before anything is stored: a broken one leaves no trace.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import av
import numpy as np
import pytest

from server.api.routes import SERVICE

from ..conftest import InProcess
from ..support.audio import sine, tone_level, write_wav
from ..support.client import Participant, heard_since, past_greeting, wait_until


def wav_bytes(tmp_path: Path, freq: float, seconds: float) -> bytes:
    path = write_wav(tmp_path / f"g-{freq}-{seconds}.wav", sine(freq, seconds, 0.4))
    return path.read_bytes()


def decode_ogg(data: bytes) -> np.ndarray:
    with av.open(io.BytesIO(data)) as container:
        chunks = [
            frame.to_ndarray().reshape(-1) for frame in container.decode(audio=0)
        ]
    audio = np.concatenate(chunks)
    if audio.dtype.kind == "f":
        audio = (audio * 32767).astype(np.int16)
    return audio


@pytest.mark.parametrize(("body", "status", "code"), [
    (b"", 400, "empty"),
    (bytes(10 * 1024 * 1024 + 1), 413, "too_large"),
    (b"this is not audio at all " * 40, 400, "not_audio"),
    (b"\x89PNG\r\n\x1a\n" + bytes(200), 400, "not_audio"),
])
async def test_broken_greetings_are_refused_and_leave_nothing(
    service: InProcess, body: bytes, status: int, code: str
) -> None:
    conf = await service.create_conference()
    async with service.http.put(
        f"{service.url}/api/v1/conferences/{conf['id']}/greeting", data=body,
        headers=service.auth(conf["organizer_token"]),
    ) as response:
        assert response.status == status
        assert (await response.json())["error"] == code
    view = await service.get_conference(conf)
    assert view["greeting"] is False
    data_dir = service.app[SERVICE].settings.data_dir
    assert not (data_dir / "greetings").exists() or not any((data_dir / "greetings").iterdir())


async def test_an_own_greeting_is_heard_instead_of_the_standard_one(
    service: InProcess, tmp_path: Path
) -> None:
    conf = await service.create_conference()
    async with service.http.put(
        f"{service.url}/api/v1/conferences/{conf['id']}/greeting",
        data=wav_bytes(tmp_path, 660, 2.0), headers=service.auth(conf["organizer_token"]),
    ) as response:
        assert response.status == 200, await response.text()
        assert (await response.json())["greeting"]["seconds"] == pytest.approx(2.0, abs=0.3)
    # A participant token may not change it.
    guest = Participant(service.http, service.url, None)
    try:
        await guest.join(conf["pin"], "Guest")
        # The greeting (660 Hz) plays where the spoken welcome would.
        await wait_until(
            lambda: bool(guest.heard) and tone_level(
                np.concatenate(guest.heard)[-24000:], 660) > -30,
            within=10,
        )
        async with service.http.put(
            f"{service.url}/api/v1/conferences/{conf['id']}/greeting",
            data=wav_bytes(tmp_path, 700, 2.0), headers=service.auth(guest.token),
        ) as response:
            assert response.status == 403
    finally:
        await guest.close()
    assert (await service.get_conference(conf))["greeting"] is True


async def test_a_recording_holds_the_room_and_only_the_organiser_gets_it(
    service: InProcess,
) -> None:
    conf = await service.create_conference()
    organizer = Participant(service.http, service.url, 440)
    guest = Participant(service.http, service.url, 880)
    auth = service.auth(conf["organizer_token"])
    base = f"{service.url}/api/v1/conferences/{conf['id']}"
    try:
        await organizer.join(conf["moderator_pin"], "Olga")
        mark = await past_greeting(organizer)
        await guest.join(conf["pin"], "Gus")
        await wait_until(
            lambda: tone_level(heard_since(organizer, mark)[-24000:], 880) > -30, within=10
        )
        async with service.http.post(f"{base}/recording", json={"recording": True},
                                     headers=auth) as response:
            assert response.status == 200, await response.text()
            assert (await response.json())["recording"] is True
        assert (await service.get_conference(conf))["recording"] is True
        async with service.http.post(f"{base}/recording", json={"recording": True},
                                     headers=auth) as response:
            assert response.status == 409
        # Two seconds of the room, as the organiser hears it.
        start = len(organizer.heard)
        await wait_until(lambda: len(organizer.heard) - start >= 100, within=10)
        async with service.http.post(f"{base}/recording", json={"recording": False},
                                     headers=auth) as response:
            assert response.status == 200
            stopped = await response.json()
        assert stopped["recording"] is False and stopped["recorded_seconds"] >= 1.5
        async with service.http.get(f"{base}/recording",
                                    headers=service.auth(guest.token)) as response:
            assert response.status == 403
        async with service.http.get(f"{base}/recording", headers=auth) as response:
            assert response.status == 200
            assert response.headers["Content-Type"] == "audio/ogg"
            audio = decode_ogg(await response.read())
        # Both voices are in it (the recording is the whole mix, nobody subtracted).
        tail = audio[-48000:]
        assert tone_level(tail, 440) > -35 and tone_level(tail, 880) > -35
        async with service.http.post(f"{base}/end", headers=auth) as response:
            assert response.status == 200
    finally:
        await organizer.close()
        await guest.close()

    async def priced() -> bool:
        async with service.http.get(f"{base}/report", headers=auth) as response:
            report = await response.json()
        return report["costs"] is not None

    await wait_until(priced, within=15)
    async with service.http.get(f"{base}/report", headers=auth) as response:
        report = await response.json()
    items = [line["item"] for line in report["costs"]["lines"]]
    assert "addon:recording" in items


async def test_a_large_greeting_sent_in_pieces_arrives_whole(
    service: InProcess, tmp_path: Path
) -> None:
    """A 40 s WAV (3.8 MB) in chunked transfer: the server reads to the end, not one piece."""
    conf = await service.create_conference()
    data = wav_bytes(tmp_path, 440, 40.0)
    assert len(data) > 3_000_000

    async def pieces() -> AsyncIterator[bytes]:
        for i in range(0, len(data), 64 * 1024):
            yield data[i : i + 64 * 1024]

    async with service.http.put(
        f"{service.url}/api/v1/conferences/{conf['id']}/greeting", data=pieces(),
        headers=service.auth(conf["organizer_token"]),
    ) as response:
        assert response.status == 200, await response.text()
        assert (await response.json())["greeting"]["seconds"] == pytest.approx(40.0, abs=0.5)
