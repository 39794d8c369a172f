"""The front's side of phone calls, with the media side replaced by a recorder."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from server.conference import Contact, Mode
from server.config import Settings
from server.media import messages as m
from server.service import ConferenceService, ServiceError
from server.store.sqlite import SqliteStore


class MediaRecorder:
    def __init__(self) -> None:
        self.commands: list[m.MediaCommand] = []

    async def __call__(self, command: m.MediaCommand) -> m.MediaReply:
        self.commands.append(command)
        return m.Done()

    def prompts_to(self, leg_id: str) -> list[tuple[str, ...]]:
        return [
            c.prompts for c in self.commands
            if isinstance(c, m.PlayPrompts) and leg_id in c.leg_ids
        ]


@pytest.fixture
async def phones(tmp_path: Path) -> AsyncIterator[tuple[ConferenceService, MediaRecorder]]:
    store = SqliteStore(tmp_path / "db.sqlite3")
    await store.open()
    media = MediaRecorder()
    service = ConferenceService(Settings(data_dir=tmp_path, pin_attempts=3), store, media)
    yield service, media
    await service.close()
    await store.close()


async def conference(service: ConferenceService) -> dict:
    view, _ = await service.create(
        title="Call", organizer=Contact("Olga", "olga@example.org"), invitees=[],
        starts_at=None, language="de",
    )
    return view


async def test_pins_on_the_phone(phones: tuple[ConferenceService, MediaRecorder]) -> None:
    service, _ = phones
    conf = await conference(service)
    ok = await service.check_pin(conf["moderator_pin"], ["tel:+38640111222", "ip:10.0.0.1"])
    assert (ok.verdict, ok.conference_id, ok.role, ok.language) == (
        "ok", conf["id"], "organizer", "de",
    )
    # Wrong PINs count against the calling number and the address alike:
    # calling again from another address with the same number does not help.
    service.throttle.base_delay = 0
    for i in range(3):
        wrong = await service.check_pin("99999999", ["tel:+38640999999", f"ip:10.0.0.{i + 2}"])
        assert wrong.verdict == "wrong"
    blocked = await service.check_pin(conf["pin"], ["tel:+38640999999", "ip:10.0.0.9"])
    assert blocked.verdict == "throttled"


async def test_a_caller_joins_mutes_and_counts(
    phones: tuple[ConferenceService, MediaRecorder],
) -> None:
    service, media = phones
    conf = await conference(service)
    assert await service.admit_phone(
        conf["id"], "guest", "participant", name="Guest", phone="+38640333444",
    )
    assert await service.admit_phone(
        conf["id"], "org", "organizer", name="+386 40 111 222", phone="+38640111222",
        access_number="+442079460001", access_mode="geographic",
    )
    assert m.MoveLeg("org", conf["id"]) in media.commands
    assert media.prompts_to("guest")[0] == ("welcome", "beep", "waiting")
    assert media.prompts_to("org")[0] == ("welcome", "beep")
    assert m.SetMixing(conf["id"], True) in media.commands

    live = service._live[conf["id"]].conference
    org = live.participants["org"]
    assert (org.mode, org.access_number, org.access_mode, org.phone) == (
        Mode.DIAL_IN, "+442079460001", "geographic", "+38640111222",
    )

    await service.keypad("guest", "mute")
    assert live.participants["guest"].muted
    assert m.SetMuted("guest", True) in media.commands
    assert media.prompts_to("guest")[-1] == ("muted",)
    await service.keypad("guest", "mute")
    assert not live.participants["guest"].muted
    assert media.prompts_to("guest")[-1] == ("unmuted",)

    # Organiser commands: not for guests.
    await service.keypad("guest", "lock")
    assert not live.locked
    await service.keypad("org", "mute_all")
    assert live.participants["guest"].muted and not org.muted
    assert media.prompts_to("org")[-1] == ("all_muted",)
    await service.keypad("org", "mute_all")
    assert not live.participants["guest"].muted
    await service.keypad("org", "count")
    assert media.prompts_to("org")[-1] == ("participants_count", "number:2")
    await service.keypad("org", "lock")
    assert live.locked and media.prompts_to("org")[-1] == ("locked",)
    locked = await service.check_pin(conf["pin"], ["tel:+38640555666", "ip:10.0.0.5"])
    assert locked.verdict == "locked"
    organizer_still = await service.check_pin(conf["moderator_pin"], ["ip:10.0.0.5"])
    assert organizer_still.verdict == "ok"

    # The organiser hangs up: the conference ends for everyone.
    await service.phone_left("org", "hangup")
    assert live.state.value == "ended"
    assert any(isinstance(c, m.CloseConference) for c in media.commands)


class FakeDialer:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str, str]] = []

    async def dial(
        self, conference_id: str, leg_id: str, number: str, *, name: str, role: str,
        press_one: bool,
    ) -> None:
        self.calls.append((conference_id, leg_id, number, role))


async def settle(service: ConferenceService) -> None:
    """Let the service's own tasks (placing calls) run."""
    while service._tasks:
        await asyncio.gather(*list(service._tasks))


async def test_start_calls_the_organizer_first_then_everyone(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "db.sqlite3")
    await store.open()
    media = MediaRecorder()
    settings = Settings(data_dir=tmp_path, dial_out_countries=("GB",))
    service = ConferenceService(settings, store, media)
    dialer = FakeDialer()
    service.dialer = dialer
    try:
        view, token = await service.create(
            title="Call", organizer=Contact("Olga", "olga@example.org", "+442079460100"),
            invitees=[Contact("Ana", phone="+442079460101"), Contact("Bo", "bo@example.org"),
                      Contact("Cy", phone="+449098790102")],
            starts_at=None, language="en",
        )
        principal = await service.authenticate(token)
        await service.start(principal, view["id"], dial_out=True)
        await settle(service)
        assert [(c[2], c[3]) for c in dialer.calls] == [("+442079460100", "organizer")]
        organizer_leg = dialer.calls[0][1]
        await service.dial_progress(organizer_leg, "ringing")
        conf = service._live[view["id"]].conference
        assert conf.participants[organizer_leg].state_in(conf.state).value == "ringing"
        # Nobody else is called before the organiser answers.
        assert len(dialer.calls) == 1
        assert await service.admit_phone(
            view["id"], organizer_leg, "organizer", name="Olga", phone="+442079460100",
            mode=Mode.DIAL_OUT,
        )
        await settle(service)
        called = {c[2] for c in dialer.calls[1:]}
        assert called == {"+442079460101"}  # Bo has no phone; Cy's is premium-rate
        cy = next(p for p in conf.participants.values() if p.name == "Cy")
        assert cy.failure == "refused"
        ana_leg = next(c[1] for c in dialer.calls if c[2] == "+442079460101")
        await service.dial_progress(ana_leg, "busy")
        ana = conf.participants[ana_leg]
        assert ana.state_in(conf.state).value == "failed" and ana.failure == "busy"
        # Call again: a fresh leg for Ana.
        await service.call_again(principal, view["id"], ana_leg)
        await settle(service)
        assert dialer.calls[-1][2] == "+442079460101" and dialer.calls[-1][1] != ana_leg
    finally:
        await service.close()
        await store.close()


async def test_dial_out_caps(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "db.sqlite3")
    await store.open()
    settings = Settings(data_dir=tmp_path, dial_out_countries=("GB",),
                        dial_out_max_per_conference=2)
    service = ConferenceService(settings, store, MediaRecorder())
    service.dialer = FakeDialer()
    try:
        view, token = await service.create(
            title="Call", organizer=Contact("Olga", "olga@example.org"), invitees=[],
            starts_at=None, language="en",
        )
        principal = await service.authenticate(token)
        for i in range(2):
            await service.dial_out(principal, view["id"], f"P{i}", f"+44207946020{i}")
            await settle(service)
        with pytest.raises(ServiceError) as capped:
            await service.dial_out(principal, view["id"], "P3", "+442079460203")
        assert (capped.value.status, capped.value.code) == (429, "too_many_calls")
        service.dialer = None
        with pytest.raises(ServiceError) as no_trunk:
            await service.dial_out(principal, view["id"], "P4", "+442079460204")
        assert no_trunk.value.status == 503
    finally:
        await service.close()
        await store.close()


async def test_dial_out_cap_per_account_spans_its_organisers(tmp_path: Path) -> None:
    """Two organisers of one company share its cap; another company is not held back."""
    from datetime import UTC, datetime

    from server.store.accounts import AccountRecord, UserRecord

    store = SqliteStore(tmp_path / "db.sqlite3")
    await store.open()
    settings = Settings(data_dir=tmp_path, dial_out_countries=("GB",),
                        dial_out_max_per_account=3)
    service = ConferenceService(settings, store, MediaRecorder())
    service.dialer = FakeDialer()
    now = datetime(2026, 1, 1, tzinfo=UTC)

    def user(uid: str, account: str) -> UserRecord:
        return UserRecord(uid, account, uid[-8:].rjust(8, "1"), uid, f"{uid}@x.org", "en",
                          "owner", now, "x")

    await store.create_account(AccountRecord("acme", "Acme", now), user("olga0001", "acme"))
    await store.add_user(user("igor0002", "acme"))
    await store.create_account(AccountRecord("other", "Other", now), user("eve00003", "other"))
    try:
        principals = {}
        for uid in ("olga0001", "igor0002", "eve00003"):
            view, _ = await service.create(
                title=uid, organizer=Contact(uid, f"{uid}@x.org"), invitees=[],
                starts_at=None, language="en", owner_user_id=uid,
            )
            principals[uid] = (await service.principal_for_user(uid, view["id"]), view["id"])
        number = iter(range(100, 200))

        async def call(uid: str) -> None:
            principal, cid = principals[uid]
            await service.dial_out(principal, cid, "P", f"+442079460{next(number)}")
            await settle(service)

        await call("olga0001")
        await call("olga0001")
        await call("igor0002")
        with pytest.raises(ServiceError) as capped:
            await call("igor0002")
        assert (capped.value.status, capped.value.code) == (429, "too_many_calls")
        assert "account" in capped.value.message
        await call("eve00003")  # another company
    finally:
        await service.close()
        await store.close()
