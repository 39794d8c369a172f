"""Browsers' protocol for real: aiortc participants join through WHIP and hear each other."""

from __future__ import annotations

import asyncio

import numpy as np

from ..conftest import InProcess
from ..support.audio import dominant_frequency, rms_db, tone_level
from ..support.client import Participant, wait_until

HEARD = -30.0  # dBFS: clearly present
ABSENT = -50.0  # dBFS: not there (a tone leaking would be far above this)


def hears(p: Participant, freq: float, level: float = HEARD) -> bool:
    return tone_level(p.last(1.0), freq) > level


def silent_at(p: Participant, freq: float) -> bool:
    return tone_level(p.last(1.0), freq) < ABSENT


async def test_mix_minus_mute_and_end(service: InProcess) -> None:
    conf = await service.create_conference()
    organizer = Participant(service.http, service.url, 440)
    speaker = Participant(service.http, service.url, 880)
    listener = Participant(service.http, service.url, None)
    try:
        await speaker.join(conf["pin"], "Sam")
        await listener.join(conf["pin"], "Lee")
        state = await service.get_conference(conf)
        assert state["state"] == "waiting"
        assert {p["state"] for p in state["participants"]} == {"waiting"}

        await organizer.join(conf["moderator_pin"], "Olga")
        assert organizer.joined["role"] == "organizer"
        assert speaker.joined["role"] == "participant"

        # The listener hears both speakers once their welcomes are over.
        await wait_until(lambda: hears(listener, 440) and hears(listener, 880), within=20)
        # Each speaker hears the other and not itself (mix-minus).
        await wait_until(lambda: hears(organizer, 880) and hears(speaker, 440), within=5)
        # (the entry tone chimes at 659 and 880 Hz: give it a second to pass)
        await wait_until(lambda: silent_at(organizer, 440) and silent_at(speaker, 880), within=3)
        assert hears(organizer, 880) and hears(speaker, 440)

        state = await service.get_conference(conf)
        assert state["state"] == "active"
        talking = {p["name"]: p["talking"] for p in state["participants"]}
        assert talking == {"Sam": True, "Lee": False, "Olga": True}

        # Muting the 880 Hz speaker silences exactly that one.
        async with service.http.patch(
            f"{service.url}/api/v1/conferences/{conf['id']}/participants/{speaker.id}",
            json={"muted": True},
            headers=service.auth(conf["organizer_token"]),
        ) as response:
            assert response.status == 200
            assert (await response.json())["state"] == "muted"
        await wait_until(lambda: silent_at(listener, 880) and silent_at(organizer, 880), within=5)
        assert hears(listener, 440) and hears(speaker, 440)

        # Ending disconnects everyone after the closing announcement.
        async with service.http.post(
            f"{service.url}/api/v1/conferences/{conf['id']}/end",
            headers=service.auth(conf["organizer_token"]),
        ) as response:
            assert response.status == 200
            assert (await response.json())["state"] == "ended"
        await asyncio.wait_for(
            asyncio.gather(organizer.closed.wait(), speaker.closed.wait(), listener.closed.wait()),
            timeout=20,
        )

        async def all_left() -> bool:
            state = await service.get_conference(conf)
            return all(p["state"] == "left" for p in state["participants"])

        await wait_until(all_left, within=5)
        async with service.http.get(
            f"{service.url}/api/v1/conferences/{conf['id']}/report",
            headers=service.auth(conf["organizer_token"]),
        ) as response:
            report = await response.json()
        sessions = {p["name"]: p["sessions"] for p in report["participants"]}
        assert set(sessions) == {"Sam", "Lee", "Olga"}
        for name, legs in sessions.items():
            assert len(legs) == 1, name
            assert legs[0]["mode"] == "web"
            assert legs[0]["joined_at"] and legs[0]["left_at"], name
            assert legs[0]["left_at"] >= legs[0]["joined_at"]
    finally:
        for p in (organizer, speaker, listener):
            await p.close()


async def test_conference_ends_when_the_organizer_leaves(service: InProcess) -> None:
    conf = await service.create_conference(language="de")
    organizer = Participant(service.http, service.url, 440)
    guest = Participant(service.http, service.url, 880)
    try:
        await organizer.join(conf["moderator_pin"], "Olga")
        await guest.join(conf["pin"], "Gus")
        await wait_until(lambda: hears(guest, 440), within=20)

        before = len(guest.heard)
        assert await organizer.leave() == 200
        state = await service.get_conference(conf)
        assert state["state"] == "ended"
        # The guest is disconnected by the bridge after the closing announcement...
        await asyncio.wait_for(guest.closed.wait(), timeout=20)
        # ...which it heard: speech, not the organiser's tone (skip 0.2 s in flight).
        farewell = np.concatenate(guest.heard[before + 10 :])
        assert farewell.size > 48000
        assert rms_db(farewell) > -35
        assert abs(dominant_frequency(farewell) - 440) > 20
        report_state = await service.get_conference(conf)
        left = {p["name"]: p["state"] for p in report_state["participants"]}
        assert left["Olga"] == "left"
    finally:
        await organizer.close()
        await guest.close()


async def test_rejoining_an_empty_waiting_conference(service: InProcess) -> None:
    conf = await service.create_conference()
    first = Participant(service.http, service.url, 880)
    await first.join(conf["pin"], "Sam")
    assert await first.leave() == 200
    again = Participant(service.http, service.url, 880)
    organizer = Participant(service.http, service.url, 440)
    try:
        await again.join(conf["pin"], "Sam")
        await organizer.join(conf["moderator_pin"], "Olga")
        await wait_until(lambda: hears(organizer, 880) and hears(again, 440), within=20)
    finally:
        await again.close()
        await organizer.close()
