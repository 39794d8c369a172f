"""After the conference: frozen charges and the report, from a scripted conference.

The conference has a leg of every kind with known durations; the expected charges are
worked out by hand below from the test tariff (not with the code under test).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from server.billing import loads_tariffs
from server.conference import Contact, Mode
from server.config import Settings
from server.media import messages as m
from server.notify.outbox import Outbox
from server.notify.smtp import SmtpTransport
from server.reports import Reporter
from server.service import ConferenceService
from server.store.sqlite import SqliteStore

from .support.smtp import SmtpServer

TARIFF = """
currency = "EUR"
rounding = "per-second"
premium_per_minute = "0.60"
tollfree_call_per_minute = "0.03"

[fee_per_minute.adhoc]
web = "0.02"
geographic = "0.04"
tollfree = "0.04"
dial-out = "0.04"

[fee_per_minute.registered]
web = "0.01"
geographic = "0.03"
tollfree = "0.03"
dial-out = "0.03"

[dial_out_per_minute.default]
fixed = "0.05"
mobile = "0.20"
tollfree = "0.00"

[dial_out_per_minute.SI]
fixed = "0.02"
mobile = "0.10"
tollfree = "0.00"

[addons]
custom_welcome = "2.00"
recording = "0.01"
"""

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.at = T0

    def __call__(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


class Media:
    """The media side, answering like the engine would."""

    async def __call__(self, command: m.MediaCommand) -> m.MediaReply:
        if isinstance(command, m.AddWebRtcLeg):
            return m.SdpAnswer("v=0\r\n")
        return m.Done()


@pytest.fixture
async def scripted(tmp_path: Path) -> AsyncIterator[tuple[ConferenceService, Clock, Reporter]]:
    store = SqliteStore(tmp_path / "db.sqlite3")
    await store.open()
    clock = Clock()
    service = ConferenceService(Settings(data_dir=tmp_path), store, Media(), now=clock)
    reporter = Reporter(
        store, None, loads_tariffs(TARIFF), now=clock, load=service.loaded,
        account_of=service.account_of, page_url=lambda cid: f"http://x/organizer/{cid}",
    )
    service.reporter = reporter
    service.finished_hooks.append(reporter.conference_finished)
    yield service, clock, reporter
    await service.close()
    await store.close()


async def settle(service: ConferenceService) -> None:
    while service._tasks:
        await asyncio.gather(*list(service._tasks))


async def test_every_kind_of_leg_is_reported_and_charged(
    scripted: tuple[ConferenceService, Clock, Reporter],
) -> None:
    service, clock, _ = scripted
    view, token = await service.create(
        title="Quarterly", organizer=Contact("Olga", "olga@example.org"), invitees=[],
        starts_at=None, language="en",
    )
    cid = view["id"]
    organizer = await service.authenticate(token)
    # 09:00:00 the organiser joins in the browser.
    joined = await service.join(view["moderator_pin"], "Olga", "ip:1")
    olga = await service.authenticate(joined["participant_token"])
    await service.connect_webrtc(olga, "v=0\r\n")
    # 09:00:10 three callers: premium, geographic, toll-free.
    clock.advance(10)
    for leg, number, mode in [
        ("prem", "+449098790001", "premium"),
        ("geo", "+442079460001", "geographic"),
        ("free", "+448081570001", "tollfree"),
    ]:
        assert await service.admit_phone(
            cid, leg, "participant", name=leg.title(), phone=f"+3864012345{len(leg)}",
            access_number=number, access_mode=mode,
        )
    # 09:00:20 a dialled-out Slovenian mobile answers.
    clock.advance(10)
    assert await service.admit_phone(
        cid, "out", "participant", name="Mobile", phone="+38640123456", mode=Mode.DIAL_OUT,
    )
    # Leaving: toll-free after 59 s (09:01:09), premium after 125 s (09:02:15),
    # dial-out after 90 s (09:01:50); then the organiser ends at 09:10:10:
    # geographic 600 s, the organiser 610 s.
    clock.advance(49)
    await service.phone_left("free", "hangup")
    clock.advance(41)
    await service.phone_left("out", "hangup")
    clock.advance(25)
    await service.phone_left("prem", "hangup")
    clock.at = T0 + timedelta(seconds=610)
    await service.end(organizer, cid)
    await service.phone_left("geo", "ended")
    await service.hang_up(olga, olga.participant_id or "")
    await settle(service)

    report = await service.report(organizer, cid)
    rows = {
        p["name"]: [(s["mode"], s["access_mode"], s["seconds"]) for s in p["sessions"]]
        for p in report["participants"]
    }
    assert rows == {
        "Olga": [("web", None, 610.0)],
        "Prem": [("dial-in", "premium", 125.0)],
        "Geo": [("dial-in", "geographic", 600.0)],
        "Free": [("dial-in", "tollfree", 59.0)],
        "Mobile": [("dial-out", None, 90.0)],
    }
    names = {p["id"]: p["name"] for p in report["participants"]}
    costs = report["costs"]
    lines = [
        (names[c["participant_id"]], c["payer"], c["item"], c["quantity"], c["amount"])
        for c in costs["lines"]
    ]
    # By hand, ad-hoc fees, per second:
    #   Olga web 610 s x 0.02/60 = 0.2033 -> 0.20
    #   Prem premium 125 s x 0.60/60 = 1.25 (the caller)
    #   Geo fee 600 s x 0.04/60 = 0.40
    #   Free fee 59 s x 0.04/60 = 0.0393 -> 0.04; call 59 s x 0.03/60 = 0.0295 -> 0.03
    #   Mobile fee 90 s x 0.04/60 = 0.06; call SI mobile 90 s x 0.10/60 = 0.15
    assert sorted(lines) == sorted([
        ("Olga", "organizer", "fee", 610, "0.20"),
        ("Prem", "caller", "premium", 125, "1.25"),
        ("Geo", "organizer", "fee", 600, "0.40"),
        ("Free", "organizer", "fee", 59, "0.04"),
        ("Free", "organizer", "call", 59, "0.03"),
        ("Mobile", "organizer", "fee", 90, "0.06"),
        ("Mobile", "organizer", "call", 90, "0.15"),
    ])
    assert (costs["currency"], costs["total_organizer"], costs["total_caller"]) == (
        "EUR", "0.88", "1.25",
    )
    assert Decimal(costs["total_organizer"]) == sum(
        Decimal(c["amount"]) for c in costs["lines"] if c["payer"] == "organizer"
    )


async def test_charges_are_frozen_once(
    scripted: tuple[ConferenceService, Clock, Reporter],
) -> None:
    service, clock, reporter = scripted
    view, token = await service.create(
        title="Short", organizer=Contact("Olga", "olga@example.org"), invitees=[],
        starts_at=None, language="en",
    )
    organizer = await service.authenticate(token)
    assert await service.admit_phone(
        view["id"], "o", "organizer", name="Olga", phone="+38640111222",
        access_number="+442079460001", access_mode="geographic",
    )
    clock.advance(30)
    await service.phone_left("o", "hangup")
    await settle(service)
    first = (await service.report(organizer, view["id"]))["costs"]
    # Running the hook again (a restart's catch-up, say) adds nothing.
    await reporter.conference_finished(view["id"])
    assert (await service.report(organizer, view["id"]))["costs"] == first
    assert [c["amount"] for c in first["lines"]] == ["0.02"]  # 30 s x 0.04/60




async def test_smtp_down_at_the_end_and_up_an_hour_later_sends_the_report_once(
    tmp_path: Path, smtp_down: SmtpServer
) -> None:
    store = SqliteStore(tmp_path / "db.sqlite3")
    await store.open()
    clock = Clock()
    outbox = Outbox(
        store, SmtpTransport.from_url(smtp_down.url), mail_from="T <t@example.org>", now=clock
    )
    service = ConferenceService(Settings(data_dir=tmp_path), store, Media(), now=clock)
    service.outbox = outbox
    reporter = Reporter(
        store, outbox, loads_tariffs(TARIFF), now=clock, load=service.loaded,
        account_of=service.account_of, page_url=lambda cid: f"http://x/organizer/{cid}",
    )
    service.reporter = reporter
    service.finished_hooks.append(reporter.conference_finished)
    try:
        view, _ = await service.create(
            title="Late mail", organizer=Contact("Olga", "olga@example.org"), invitees=[],
            starts_at=None, language="de",
        )
        assert await outbox.deliver_due() == 0  # the invitation copy waits too
        assert await service.admit_phone(
            view["id"], "o", "organizer", name="Olga", phone="+38640111222",
            access_number="+442079460001", access_mode="geographic",
        )
        clock.advance(300)
        await service.phone_left("o", "hangup")
        await settle(service)
        # SMTP is down for an hour: attempts fail and back off.
        for _ in range(6):
            await outbox.deliver_due()
            clock.advance(600)
        smtp_down.start()
        clock.advance(1800)
        assert await outbox.deliver_due() == 2  # the organiser's copy and the report
        # Later passes, and the report hook running again (a restart), send nothing more.
        await reporter.conference_finished(view["id"])
        for _ in range(3):
            clock.advance(3600)
            assert await outbox.deliver_due() == 0
        reports = [m for m in smtp_down.mailbox.messages if "Bericht" in str(m["Subject"])]
        assert [str(m["Subject"]) for m in reports] == ["Bericht: Late mail"]
        (csv_part,) = [p for p in reports[0].walk() if p.get_filename()]
        assert csv_part.get_filename() == f"report-{view['id']}.csv"
        assert "+38640111222" in csv_part.get_content()
    finally:
        await service.close()
        await store.close()


async def test_a_conference_that_ended_just_before_a_crash_is_reported_on_the_next_start(
    tmp_path: Path,
) -> None:
    """The end was stored, the report not yet: the next start's catch-up sends it, once."""
    store = SqliteStore(tmp_path / "db.sqlite3")
    await store.open()
    clock = Clock()
    service = ConferenceService(Settings(data_dir=tmp_path), store, Media(), now=clock)
    try:
        view, token = await service.create(
            title="Cut short", organizer=Contact("Olga", "olga@example.org"), invitees=[],
            starts_at=None, language="en",
        )
        await service.end(await service.authenticate(token), view["id"])
        await settle(service)  # no finished hook: as if the process died here
        assert await store.unreported_conferences() == [view["id"]]
    finally:
        await service.close()
        await store.close()

    store = SqliteStore(tmp_path / "db.sqlite3")  # the next start
    await store.open()
    outbox = Outbox(store, None, mail_from="T <t@example.org>", now=clock)
    service = ConferenceService(Settings(data_dir=tmp_path), store, Media(), now=clock)
    reporter = Reporter(
        store, outbox, loads_tariffs(TARIFF), now=clock, load=service.loaded,
        account_of=service.account_of, page_url=lambda cid: f"http://x/organizer/{cid}",
    )
    try:
        await reporter.catch_up()
        await reporter.catch_up()  # and once more: nothing new
        reports = [e for e in await store.outbox_for_conference(view["id"])
                   if e.kind == "report"]
        assert [(e.recipient, e.state) for e in reports] == [("olga@example.org", "queued")]
        assert await store.unreported_conferences() == []
    finally:
        await service.close()
        await store.close()
