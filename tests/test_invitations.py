"""Invitations by e-mail through the durable outbox, against a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import asyncio
import email
import email.policy
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from icalendar import Calendar

from server.access import DEVELOPMENT_NUMBERS, parse_access_numbers
from server.app import create_app
from server.conference import Conference, Contact, Participant
from server.config import Settings
from server.notify.invitations import (
    build_cancellations,
    build_invitations,
    build_organizer_link,
    format_duration,
    format_time,
)
from server.notify.outbox import Outbox, backoff, build_email
from server.notify.smtp import SmtpTransport
from server.store import OutboxEntry, OutboxItem
from server.store.sqlite import SqliteStore

from .conftest import free_port
from .support.smtp import SmtpServer
from .test_openapi import Contract, load_document


def part(message: EmailMessage, content_type: str) -> str:
    for p in message.walk():
        if p.get_content_type() == content_type:
            return str(p.get_content())
    raise AssertionError(f"no {content_type} part")


def ics_of(message: EmailMessage) -> Calendar:
    for p in message.walk():
        if p.get_content_type() == "text/calendar":
            payload = p.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return Calendar.from_ical(payload)
    raise AssertionError("no text/calendar part")


BODY = {
    "title": "Weekly <script>alert(1)</script> sync",
    "organizer": {"name": "Olga", "email": "olga@example.org"},
    "participants": [
        {"name": "Peter <script>x()</script>", "email": "peter@example.org"},
        {"name": "Pia", "email": "pia@example.org", "phone": "+386 40 123 456"},
        {"name": "Phone only", "phone": "+49 30 901820"},
    ],
    "starts_at": "2030-01-07T10:00:00+01:00",
}


async def create(http: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> dict[str, Any]:
    async with http.post(f"{url}/api/v1/conferences", json=body) as response:
        assert response.status == 201, await response.text()
        return dict(await response.json())


async def notifications(
    http: aiohttp.ClientSession, url: str, conf: dict[str, Any]
) -> list[dict[str, Any]]:
    async with http.get(
        f"{url}/api/v1/conferences/{conf['id']}/notifications",
        headers={"Authorization": f"Bearer {conf['organizer_token']}"},
    ) as response:
        assert response.status == 200, await response.text()
        contract = Contract(load_document())
        body = await response.json()
        contract.validate(
            body,
            "/paths/~1api~1v1~1conferences~1{id}~1notifications/get/responses/200/content"
            "/application~1json/schema",
            strict=False,
        )
        return list(body)


async def test_invitations_arrive_with_what_each_needs(
    aiohttp_server: Any, settings: Settings, smtp: SmtpServer
) -> None:
    import dataclasses

    settings = dataclasses.replace(
        settings, smtp_url=smtp.url, mail_from="Telekonf <invite@konf.example.org>"
    )
    server = await aiohttp_server(create_app(settings))
    url = str(server.make_url("")).rstrip("/")
    async with aiohttp.ClientSession() as http:
        conf = await create(http, url, BODY)
        await smtp.mailbox.wait_count(3)
        await asyncio.sleep(0.2)
        assert len(smtp.mailbox.messages) == 3  # organiser + two with an e-mail address
        pin, moderator_pin = conf["pin"], conf["moderator_pin"]

        (peter,) = smtp.mailbox.to("peter@example.org")
        assert peter["From"].addresses[0].addr_spec == "invite@konf.example.org"
        assert peter["Message-ID"].endswith("@konf.example.org>")
        text, html_part = part(peter, "text/plain"), part(peter, "text/html")
        for body in (text, html_part):
            assert pin in body
            assert moderator_pin not in body
            assert "#token=" not in body and "/organizer/" not in body
            assert conf["join_url"] in body.replace("&amp;", "&")
            assert f"tel:+442079460001,,{pin}%23" in body
            assert "+44 20 7946 0001" in body  # formatted for humans
            assert "Monday, 7 January 2030, 09:00 (UTC)" in body  # no time zone set
        assert "free of charge" in text
        assert "a normal call to the United Kingdom" in text
        assert "conference fee" in text
        # Everything the user typed is escaped in HTML.
        assert "<script>" not in html_part
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html_part
        assert "Peter &lt;script&gt;" in html_part

        cal = ics_of(peter)
        assert cal["METHOD"] == "REQUEST"
        (event,) = cal.walk("VEVENT")
        assert str(event["UID"]) == f"conference-{conf['id']}@127.0.0.1"
        assert event.decoded("DTSTART") == datetime(2030, 1, 7, 9, 0, tzinfo=UTC)
        assert event.decoded("DTEND") - event.decoded("DTSTART") == timedelta(hours=1)
        assert str(event["SUMMARY"]) == BODY["title"]
        assert pin in str(event["DESCRIPTION"]) and moderator_pin not in str(event["DESCRIPTION"])
        assert str(event["LOCATION"]) == conf["join_url"]
        assert str(event["ORGANIZER"]) == "mailto:olga@example.org"
        attendees = {str(a) for a in event["ATTENDEE"]}
        assert attendees == {"mailto:peter@example.org", "mailto:pia@example.org"}

        (olga,) = smtp.mailbox.to("olga@example.org")
        org_text = part(olga, "text/plain")
        assert moderator_pin in org_text and pin in org_text
        assert conf["organizer_url"] in org_text
        assert str(ics_of(olga).walk("VEVENT")[0]["UID"]) == str(event["UID"])
        (pia,) = smtp.mailbox.to("pia@example.org")
        assert moderator_pin not in pia.as_string()

        listed = await notifications(http, url, conf)
        assert sorted(n["recipient"] for n in listed) == [
            "olga@example.org", "peter@example.org", "pia@example.org",
        ]
        assert {n["state"] for n in listed} == {"sent"}
        assert all(n["attempts"] == 1 and n["sent_at"] for n in listed)

        # Someone else's token sees nothing of it.
        other = await create(http, url, {"title": "x", "organizer": BODY["organizer"]})
        async with http.get(
            f"{url}/api/v1/conferences/{conf['id']}/notifications",
            headers={"Authorization": f"Bearer {other['organizer_token']}"},
        ) as response:
            assert response.status == 404


@pytest.mark.parametrize(
    ("language", "words"),
    [("de", ["Einladung", "Konferenz-PIN", "kostenlos", "Vereinigtes Königreich"]),
     ("sl", ["Vabilo", "PIN konference", "brezplačno", "Združeno kraljestvo"])],
)
async def test_invitations_speak_the_conference_language(
    aiohttp_server: Any, settings: Settings, smtp: SmtpServer, language: str, words: list[str]
) -> None:
    import dataclasses

    server = await aiohttp_server(create_app(dataclasses.replace(settings, smtp_url=smtp.url)))
    url = str(server.make_url("")).rstrip("/")
    async with aiohttp.ClientSession() as http:
        await create(http, url, {
            "title": "Jour fixe", "organizer": BODY["organizer"], "language": language,
            "participants": [{"name": "Pia", "email": "pia@example.org"}],
        })
        await smtp.mailbox.wait_count(2)
    (pia,) = smtp.mailbox.to("pia@example.org")
    text = part(pia, "text/plain")
    assert words[0] in str(pia["Subject"])
    for word in words[1:]:
        assert word in text
    assert f'lang="{language}"' in part(pia, "text/html")
    # No fixed time: said so, and the .ics has no DTSTART.
    (event,) = ics_of(pia).walk("VEVENT")
    assert "DTSTART" not in event


def test_no_header_injection() -> None:
    entry_time = datetime(2030, 1, 1, tzinfo=UTC)
    from server.store import OutboxEntry

    entry = OutboxEntry(
        id=7, conference_id="c0ffee", participant_id=None, kind="invitation",
        recipient="pia@example.org",
        recipient_name="Pia\r\nBcc: victim@example.org", channel="email",
        subject="Hi\r\nBcc: victim@example.org\nX-Evil: 1", body_text="t", body_html="<p>t</p>",
        ics=None, state="queued", attempts=0, next_attempt_at=entry_time, last_error=None,
        created_at=entry_time, sent_at=None, message_id=None,
    )
    raw = build_email(entry, "Telekonf\r\nX-Evil: 1 <noreply@example.org>", entry_time).as_bytes()
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["Bcc"] is None and parsed["X-Evil"] is None
    assert [a.addr_spec for a in parsed["To"].addresses] == ["pia@example.org"]
    assert parsed["Message-ID"] == "<outbox-7.c0ffee@example.org>"


def test_smtp_urls() -> None:
    plain = SmtpTransport.from_url("smtp://mail.example.org")
    assert (plain.port, plain.use_tls, plain.start_tls, plain.username) == (25, False, False, None)
    starttls = SmtpTransport.from_url("smtp+starttls://u%40x:p%3Aw@mail.example.org")
    assert (starttls.port, starttls.start_tls) == (587, True)
    assert (starttls.username, starttls.password) == ("u@x", "p:w")
    tls = SmtpTransport.from_url("smtps://mail.example.org:2465")
    assert (tls.port, tls.use_tls) == (2465, True)
    assert "p:w" not in repr(starttls)
    with pytest.raises(ValueError):
        SmtpTransport.from_url("http://mail.example.org")
    # A password never crosses the network unencrypted; on the machine itself it may.
    with pytest.raises(ValueError, match="encrypted"):
        SmtpTransport.from_url("smtp://u:p@mail.example.org")
    assert SmtpTransport.from_url("smtp://u:p@127.0.0.1:2525").username == "u"


def test_backoff_grows_and_is_capped() -> None:
    waits = [backoff(n).total_seconds() for n in range(1, 9)]
    assert waits[:3] == [10, 30, 120]
    assert waits == sorted(waits) and max(waits) == 1800


class FakeClock:
    def __init__(self) -> None:
        self.at = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


def items(conference_id: str, *recipients: str) -> list[OutboxItem]:
    return [
        OutboxItem(conference_id, "invitation", r, r.split("@")[0], "Invitation", "text",
                   "<p>html</p>", None)
        for r in recipients
    ]


async def seeded_store(tmp_path: Path) -> tuple[SqliteStore, str]:
    from server.conference import Conference, Contact

    store = SqliteStore(tmp_path / "outbox.sqlite3")
    await store.open()
    conf = Conference(
        id="c0ffee00c0ffee00", title="t", organizer=Contact("O", "o@example.org", None),
        language="en", created_at=datetime(2030, 1, 1, tzinfo=UTC),
    )
    await store.create_conference(conf, "40719352", "8137402956")
    return store, conf.id


async def test_smtp_down_then_up_sends_each_once(tmp_path: Path, smtp_down: SmtpServer) -> None:
    store, cid = await seeded_store(tmp_path)
    clock = FakeClock()
    outbox = Outbox(
        store, SmtpTransport.from_url(smtp_down.url), mail_from="T <t@example.org>", now=clock
    )
    try:
        await outbox.enqueue(items(cid, "a@example.org", "b@example.org"))
        assert await outbox.deliver_due() == 0  # nothing listens: both back in the queue
        rows = await store.outbox_for_conference(cid)
        assert [(r.state, r.attempts) for r in rows] == [("queued", 1)] * 2
        assert all(r.last_error and r.next_attempt_at == clock() + timedelta(seconds=10)
                   for r in rows)
        clock.advance(5)
        assert await outbox.deliver_due() == 0  # not due yet: no attempt
        assert [r.attempts for r in await store.outbox_for_conference(cid)] == [1, 1]
        clock.advance(5)
        assert await outbox.deliver_due() == 0  # second failure: 30 s
        assert [r.attempts for r in await store.outbox_for_conference(cid)] == [2, 2]

        smtp_down.start()
        clock.advance(29)
        assert await outbox.deliver_due() == 0
        clock.advance(1)
        assert await outbox.deliver_due() == 2
        for _ in range(3):
            clock.advance(3600)
            assert await outbox.deliver_due() == 0
        assert sorted(str(m["To"]) for m in smtp_down.mailbox.messages) == [
            "a <a@example.org>", "b <b@example.org>",
        ]
        rows = await store.outbox_for_conference(cid)
        assert [(r.state, r.attempts, r.last_error) for r in rows] == [("sent", 3, None)] * 2
        assert rows[0].sent_at == clock() - timedelta(hours=3)
        ids = {m["Message-ID"] for m in smtp_down.mailbox.messages}
        assert ids == {r.message_id for r in rows} and len(ids) == 2
    finally:
        await store.close()


async def test_gives_up_after_a_day(tmp_path: Path) -> None:
    store, cid = await seeded_store(tmp_path)
    clock = FakeClock()
    outbox = Outbox(store, SmtpTransport("127.0.0.1", free_port()), mail_from="t@x.org", now=clock)
    try:
        await outbox.enqueue(items(cid, "a@example.org"))
        for _ in range(100):
            await outbox.deliver_due()
            clock.advance(1800)
        (row,) = await store.outbox_for_conference(cid)
        assert row.state == "failed" and row.last_error
        assert 40 < row.attempts < 60
    finally:
        await store.close()


async def test_no_smtp_configured_keeps_messages_queued(tmp_path: Path) -> None:
    store, cid = await seeded_store(tmp_path)
    outbox = Outbox(store, None, mail_from="t@x.org", now=FakeClock())
    try:
        await outbox.enqueue(items(cid, "a@example.org"))
        assert await outbox.deliver_due() == 0
        assert await outbox.deliver_due() == 0
        (row,) = await store.outbox_for_conference(cid)
        assert (row.state, row.attempts) == ("queued", 0)
    finally:
        await store.close()


async def test_a_restart_sends_queued_messages_once(
    aiohttp_server: Any, tmp_path: Path, smtp_down: SmtpServer
) -> None:
    """Queued while no mail server is configured; a new app on the same data sends them once."""
    import dataclasses

    base = Settings(data_dir=tmp_path / "data", ice_addresses=("127.0.0.1",), sip_port=0)
    first = await aiohttp_server(create_app(base))
    url = str(first.make_url("")).rstrip("/")
    async with aiohttp.ClientSession() as http:
        conf = await create(http, url, BODY)
        listed = await notifications(http, url, conf)
        assert [n["state"] for n in listed] == ["queued"] * 3
    await first.close()
    # A message caught mid-send by the crash goes out again, with the same Message-ID.
    store = SqliteStore(base.database_path)
    await store.open()
    (row, *_) = await store.outbox_for_conference(conf["id"])
    await store.outbox_sending(row.id, 1, "<x>")
    await store.close()

    smtp_down.start()
    with_mail = dataclasses.replace(base, smtp_url=smtp_down.url)
    for _ in range(2):
        server = await aiohttp_server(create_app(with_mail))
        url = str(server.make_url("")).rstrip("/")
        await smtp_down.mailbox.wait_count(3)
        await asyncio.sleep(0.3)
        async with aiohttp.ClientSession() as http:
            listed = await notifications(http, url, conf)
        assert [n["state"] for n in listed] == ["sent"] * 3
        await server.close()
    assert len(smtp_down.mailbox.messages) == 3
    assert len({m["Message-ID"] for m in smtp_down.mailbox.messages}) == 3


# -- built directly (no server): time zones, updates, cancellations, languages ----------

NUMBERS = parse_access_numbers(DEVELOPMENT_NUMBERS)
NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
EVIL = "<script>alert(1)</script>\r\nBcc: victim@example.org"


def conference(**changes: Any) -> Conference:
    conf = Conference(
        id="c0ffee00c0ffee00", title="Jour fixe", language="en",
        organizer=Contact("Olga", "olga@example.org"), created_at=NOW,
        starts_at=datetime(2026, 12, 7, 13, 0, tzinfo=UTC), duration_minutes=90,
        time_zone="Europe/Ljubljana",
    )
    for name, value in changes.items():
        setattr(conf, name, value)
    conf.participants = {
        "p1": Participant("p1", "Peter", email="peter@example.org"),
        "p2": Participant("p2", "Paula", email="paula@example.org", language="de"),
        "p3": Participant("p3", "Pavel", email="pavel@example.org", language="sl"),
        "p4": Participant("p4", "Phone only", phone="+4930901820"),
    }
    return conf


def invitations(conf: Conference, **kwargs: Any) -> list[OutboxItem]:
    return build_invitations(
        conf, pin="40719352", moderator_pin="8137402956", join_url="https://k.example.org/j/1",
        organizer_url="https://k.example.org/o/1#token=secret", numbers=NUMBERS,
        base_url="https://k.example.org", now=NOW, **kwargs,
    )


def by_recipient(items: list[OutboxItem]) -> dict[str, OutboxItem]:
    return {i.recipient: i for i in items}


def event_of(item: OutboxItem) -> tuple[Calendar, Any]:
    assert item.ics is not None
    cal = Calendar.from_ical(item.ics)
    (event,) = cal.walk("VEVENT")
    return cal, event


def as_entry(item: OutboxItem, entry_id: int = 1) -> OutboxEntry:
    return OutboxEntry(
        id=entry_id, conference_id=item.conference_id, participant_id=item.participant_id,
        kind=item.kind, recipient=item.recipient, recipient_name=item.recipient_name,
        channel=item.channel, subject=item.subject, body_text=item.body_text,
        body_html=item.body_html, ics=item.ics, state="queued", attempts=0,
        next_attempt_at=NOW, last_error=None, created_at=NOW, sent_at=None, message_id=None,
    )


def parsed_email(item: OutboxItem) -> EmailMessage:
    raw = build_email(as_entry(item), "Telekonf <noreply@k.example.org>", NOW).as_bytes()
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


@pytest.mark.parametrize(
    ("language", "time_zone", "starts_at", "expected"),
    [
        ("en", "Europe/Ljubljana", datetime(2026, 12, 7, 13, 0, tzinfo=UTC),
         "Monday, 7 December 2026, 14:00 (Europe/Ljubljana)"),
        ("de", "Europe/Berlin", datetime(2026, 12, 7, 13, 0, tzinfo=UTC),
         "Montag, 7. Dezember 2026, 14:00 Uhr (Europe/Berlin)"),
        ("sl", "Europe/Ljubljana", datetime(2026, 12, 7, 13, 0, tzinfo=UTC),
         "ponedeljek, 7. december 2026, 14.00 (Europe/Ljubljana)"),
        # Summer time: +02:00.
        ("de", "Europe/Berlin", datetime(2026, 7, 4, 7, 5, tzinfo=UTC),
         "Samstag, 4. Juli 2026, 09:05 Uhr (Europe/Berlin)"),
        ("sl", "Europe/Ljubljana", datetime(2026, 3, 1, 23, 30, tzinfo=UTC),
         "ponedeljek, 2. marec 2026, 00.30 (Europe/Ljubljana)"),
        ("en", "America/New_York", datetime(2026, 12, 7, 13, 0, tzinfo=UTC),
         "Monday, 7 December 2026, 08:00 (America/New_York)"),
        # No zone, or one zoneinfo does not know: UTC, and said so.
        ("en", None, datetime(2026, 12, 7, 13, 0, tzinfo=UTC),
         "Monday, 7 December 2026, 13:00 (UTC)"),
        ("en", "Mars/Olympus_Mons", datetime(2026, 12, 7, 13, 0, tzinfo=UTC),
         "Monday, 7 December 2026, 13:00 (UTC)"),
        ("de", "../../etc/passwd", datetime(2026, 12, 7, 13, 0, tzinfo=UTC),
         "Montag, 7. Dezember 2026, 13:00 Uhr (UTC)"),
        ("fr", "Europe/Paris", datetime(2026, 12, 7, 13, 0, tzinfo=UTC),
         "Monday, 7 December 2026, 14:00 (Europe/Paris)"),
    ],
)
def test_times_in_the_conference_zone(
    language: str, time_zone: str | None, starts_at: datetime, expected: str
) -> None:
    assert format_time(starts_at, language, time_zone) == expected


def test_durations() -> None:
    assert [format_duration(m) for m in (90, 60, 45, 120, 125)] == [
        "1 h 30 min", "1 h", "45 min", "2 h", "2 h 5 min",
    ]


def test_invitation_shows_local_time_and_duration_and_ics_is_utc() -> None:
    conf = conference()
    mails = by_recipient(invitations(conf))
    peter, paula, pavel = (mails[f"{n}@example.org"] for n in ("peter", "paula", "pavel"))
    for body in (peter.body_text, peter.body_html):
        assert "Monday, 7 December 2026, 14:00 (Europe/Ljubljana)" in body
        assert "1 h 30 min" in body
    assert "Montag, 7. Dezember 2026, 14:00 Uhr (Europe/Ljubljana)" in paula.body_text
    assert "Dauer: 1 h 30 min" in paula.body_text
    assert "ponedeljek, 7. december 2026, 14.00 (Europe/Ljubljana)" in pavel.body_text
    assert "Trajanje: 1 h 30 min" in pavel.body_text

    cal, event = event_of(peter)
    assert cal["METHOD"] == "REQUEST"
    assert event.decoded("DTSTART") == datetime(2026, 12, 7, 13, 0, tzinfo=UTC)
    assert event.decoded("DTEND") == datetime(2026, 12, 7, 14, 30, tzinfo=UTC)
    assert "DTSTART:20261207T130000Z" in (peter.ics or "")  # in UTC, no VTIMEZONE needed
    assert event["SEQUENCE"] == 0
    assert str(event["STATUS"]) == "CONFIRMED"
    assert str(event["UID"]) == "conference-c0ffee00c0ffee00@k.example.org"
    assert str(event["ORGANIZER"]) == "mailto:olga@example.org"
    assert {str(a) for a in event["ATTENDEE"]} == {
        "mailto:peter@example.org", "mailto:paula@example.org", "mailto:pavel@example.org",
    }
    # The organiser's copy: published, same entry.
    olga = mails["olga@example.org"]
    org_cal, org_event = event_of(olga)
    assert org_cal["METHOD"] == "PUBLISH" and org_event["UID"] == event["UID"]


def test_without_duration_the_ics_lasts_an_hour() -> None:
    conf = conference(duration_minutes=None)
    (peter, *_) = invitations(conf)
    _, event = event_of(peter)
    assert event.decoded("DTEND") - event.decoded("DTSTART") == timedelta(hours=1)
    assert "Duration" not in peter.body_text


def test_per_recipient_language() -> None:
    conf = conference(language="sl")
    mails = by_recipient(invitations(conf))
    peter = mails["peter@example.org"]  # no language of his own: the conference's
    assert peter.subject == "Vabilo: Jour fixe" and 'lang="sl"' in peter.body_html
    paula = mails["paula@example.org"]
    assert paula.subject == "Einladung: Jour fixe" and 'lang="de"' in paula.body_html
    assert "Konferenz-PIN: 40719352" in paula.body_text
    assert "Konferenz-PIN" in str(event_of(paula)[1]["DESCRIPTION"])
    assert "kostenlos" in paula.body_text and "brezplačno" not in paula.body_text
    # The organiser's mail is in the conference's language.
    assert mails["olga@example.org"].subject == "Vaša konferenca: Jour fixe"
    # A language we have no texts for: the conference's.
    conf.participants["p1"].language = "fr"
    (peter, *_) = invitations(conf)
    assert peter.subject == "Vabilo: Jour fixe"
    # One calendar entry whatever the language.
    uids = {str(event_of(m)[1]["UID"]) for m in mails.values()}
    assert len(uids) == 1


def test_recipients_subset_and_participant_ids() -> None:
    conf = conference()
    everyone = invitations(conf)
    assert [(i.recipient, i.participant_id, i.kind) for i in everyone] == [
        ("peter@example.org", "p1", "invitation"),
        ("paula@example.org", "p2", "invitation"),
        ("pavel@example.org", "p3", "invitation"),
        ("olga@example.org", None, "invitation-organizer"),
    ]
    # Added later: only the newcomer, not the organiser again; one without e-mail is skipped.
    later = invitations(conf, recipients=["p3", "p4", "nobody"], include_organizer=False)
    assert [(i.recipient, i.participant_id) for i in later] == [("pavel@example.org", "p3")]
    # The calendar entry still lists everyone invited.
    assert len(event_of(later[0])[1]["ATTENDEE"]) == 3
    assert invitations(conf, recipients=[], include_organizer=False) == []
    assert [i.recipient for i in invitations(conf, recipients=())] == ["olga@example.org"]


def test_update_replaces_the_calendar_entry() -> None:
    conf = conference()
    (first, *_) = invitations(conf)
    conf.starts_at = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)
    conf.ics_sequence = 1
    mails = by_recipient(invitations(conf, update=True))
    peter, paula, pavel = (mails[f"{n}@example.org"] for n in ("peter", "paula", "pavel"))
    assert peter.subject == "Updated invitation: Jour fixe"
    assert paula.subject == "Aktualisierte Einladung: Jour fixe"
    assert pavel.subject == "Posodobljeno vabilo: Jour fixe"
    assert "have changed" in peter.body_text and "have changed" in peter.body_html
    assert "Tuesday, 8 December 2026, 10:00 (Europe/Ljubljana)" in peter.body_text
    assert peter.kind == "invitation"
    cal, event = event_of(peter)
    assert cal["METHOD"] == "REQUEST"
    assert event["UID"] == event_of(first)[1]["UID"]
    assert event["SEQUENCE"] == 1
    assert event.decoded("DTSTART") == datetime(2026, 12, 8, 9, 0, tzinfo=UTC)
    olga = mails["olga@example.org"]
    assert olga.subject == "Your conference was updated: Jour fixe"
    assert event_of(olga)[1]["SEQUENCE"] == 1
    # Without update: no prefix, no "changed" line.
    (plain, *_) = invitations(conf)
    assert plain.subject == "Invitation: Jour fixe" and "have changed" not in plain.body_text


def test_cancellation() -> None:
    conf = conference()
    (invitation, *_) = invitations(conf)
    conf.ics_sequence = 2
    cancelled = build_cancellations(
        conf, numbers=NUMBERS, base_url="https://k.example.org", now=NOW
    )
    mails = by_recipient(cancelled)
    assert set(mails) == {
        "peter@example.org", "paula@example.org", "pavel@example.org", "olga@example.org",
    }
    assert mails["peter@example.org"].subject == "Cancelled: Jour fixe"
    assert mails["paula@example.org"].subject == "Abgesagt: Jour fixe"
    assert mails["pavel@example.org"].subject == "Preklicano: Jour fixe"
    assert mails["olga@example.org"].subject == "Cancelled: Jour fixe"
    assert [(i.participant_id, i.kind) for i in cancelled] == [
        ("p1", "cancellation"), ("p2", "cancellation"), ("p3", "cancellation"),
        (None, "cancellation-organizer"),
    ]
    for item in cancelled:
        assert "40719352" not in item.body_text  # no PIN: nobody should dial in
        assert item.body_html.startswith("<!DOCTYPE html>")
        cal, event = event_of(item)
        assert cal["METHOD"] == "CANCEL"
        assert event["UID"] == event_of(invitation)[1]["UID"]
        assert event["SEQUENCE"] == 2
        assert str(event["STATUS"]) == "CANCELLED"
        assert event.decoded("DTSTART") == datetime(2026, 12, 7, 13, 0, tzinfo=UTC)
    assert "Monday, 7 December 2026, 14:00" in mails["peter@example.org"].body_text
    # The attachment says what it is, or calendars treat it as a new invitation.
    attached = next(
        p for p in parsed_email(mails["peter@example.org"]).walk()
        if p.get_content_type() == "text/calendar"
    )
    assert attached.get_param("method") == "CANCEL"


def test_organizer_link() -> None:
    conf = conference(language="de")
    item = build_organizer_link(
        conf, organizer_url="https://k.example.org/o/1#token=secret", now=NOW
    )
    assert (item.kind, item.recipient, item.participant_id) == (
        "organizer-link", "olga@example.org", None,
    )
    assert item.ics is None
    assert "Jour fixe" in item.subject
    assert "https://k.example.org/o/1#token=secret" in item.body_text
    assert 'href="https://k.example.org/o/1#token=secret"' in item.body_html
    assert "Montag, 7. Dezember 2026, 14:00 Uhr (Europe/Ljubljana)" in item.body_text
    assert "nicht angefordert" in item.body_text and "ignorieren" in item.body_html
    conf.organizer = Contact("Olga")
    with pytest.raises(ValueError):
        build_organizer_link(conf, organizer_url="https://k.example.org/o/1", now=NOW)


def test_script_in_names_and_titles_is_escaped_and_cannot_add_headers() -> None:
    conf = conference(title=f"Sync {EVIL}", organizer=Contact(f"Olga {EVIL}", "olga@example.org"))
    conf.participants["p1"].name = f"Peter {EVIL}"
    conf.ics_sequence = 1
    built = [
        *invitations(conf), *invitations(conf, update=True),
        *build_cancellations(conf, numbers=NUMBERS, base_url="https://k.example.org", now=NOW),
        build_organizer_link(conf, organizer_url="https://k.example.org/o/1", now=NOW),
    ]
    for item in built:
        assert "<script>" not in item.body_html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in item.body_html
        message = parsed_email(item)
        assert message["Bcc"] is None
        assert [a.addr_spec for a in message["To"].addresses] == [item.recipient]
        assert "\n" not in str(message["Subject"]) and "\r" not in str(message["Subject"])
        if item.ics:
            _, event = event_of(item)
            # Escaped in the .ics (icalendar keeps the LF as "\\n", drops the CR), not split.
            assert str(event["SUMMARY"]) == conf.title.replace("\r", "")
            assert "\nBcc:" not in item.ics.replace("\r\n ", "")  # no line of its own
    peter = by_recipient(built)["peter@example.org"]
    assert "Peter &lt;script&gt;" in peter.body_html
