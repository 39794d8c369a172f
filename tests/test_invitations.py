"""Invitations by e-mail through the durable outbox, against a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiosmtpd.controller import Controller
from icalendar import Calendar

from server.app import create_app
from server.config import Settings
from server.notify.outbox import Outbox, backoff, build_email
from server.notify.smtp import SmtpTransport
from server.store import OutboxItem
from server.store.sqlite import SqliteStore

from .conftest import free_port
from .test_openapi import Contract, load_document


@dataclass
class Mailbox:
    """What the SMTP server received, as parsed messages (thread-safe)."""

    messages: list[EmailMessage] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append(message)  # type: ignore[arg-type]
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for m in self.messages if address in str(m["To"])]

    async def wait_for(self, count: int, within: float = 10.0) -> None:
        deadline = asyncio.get_running_loop().time() + within
        while len(self.messages) < count:
            assert asyncio.get_running_loop().time() < deadline, (
                f"{len(self.messages)} of {count} messages arrived"
            )
            await asyncio.sleep(0.05)


class SmtpServer:
    def __init__(self, port: int) -> None:
        self.port = port
        self.mailbox = Mailbox()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer(free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def smtp_down() -> Iterator[SmtpServer]:
    """A port where an SMTP server will listen later (nothing listens yet)."""
    server = SmtpServer(free_port())
    yield server
    server.stop()


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
        await smtp.mailbox.wait_for(3)
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
            assert "2030-01-07 09:00 UTC" in body
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
        await smtp.mailbox.wait_for(2)
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
        id=7, conference_id="c0ffee", kind="invitation", recipient="pia@example.org",
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
        await smtp_down.mailbox.wait_for(3)
        await asyncio.sleep(0.3)
        async with aiohttp.ClientSession() as http:
            listed = await notifications(http, url, conf)
        assert [n["state"] for n in listed] == ["sent"] * 3
        await server.close()
    assert len(smtp_down.mailbox.messages) == 3
    assert len({m["Message-ID"] for m in smtp_down.mailbox.messages}) == 3
