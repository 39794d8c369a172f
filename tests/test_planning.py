"""The organiser's list, invitations after creation, notices, updates and cancellation,
with the phonebook; over the real HTTP API, mail to a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from icalendar import Calendar

from server.api.routes import SERVICE
from server.app import SMS, create_app
from server.config import Settings

from .support.smtp import SmtpServer, text_of
from .test_accounts import Browser

PASSWORD = "correct horse battery"


@pytest.fixture
def settings(tmp_path: Path, smtp: SmtpServer) -> Settings:
    return Settings(
        data_dir=tmp_path / "data", ice_addresses=("127.0.0.1",), sip_port=0,
        smtp_url=smtp.url, default_region="SI",
    )


@pytest.fixture
async def app_url(aiohttp_server: Any, settings: Settings) -> AsyncIterator[tuple[Any, str]]:
    server = await aiohttp_server(create_app(settings))
    yield server.app, str(server.make_url("")).rstrip("/")


@pytest.fixture
async def olga(app_url: tuple[Any, str]) -> AsyncIterator[Browser]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        browser = Browser(app_url[1], http)
        await browser.sign_up("olga@example.org")
        yield browser


def ics_of(message: Any) -> Any:
    for part in message.walk():
        if part.get_content_type() == "text/calendar":
            return Calendar.from_ical(part.get_content())
    raise AssertionError("no .ics attached")


async def test_csv_import_is_all_or_nothing_and_exports_back(olga: Browser) -> None:
    broken = (
        "Name;E-Mail;Telefon;Sprache\n"
        "Pia Novak;pia@example.org;040 123 456;sl\n"
        "Hans;hans@example;;de\n"
        "<script>alert(1)</script>;x@example.org;;en\n"
        ";nobody@example.org;;\n"
        "Ana;;12ab;\n"
    ).encode("utf-8-sig")
    status, body = await olga.call(
        "POST", "/api/v1/contacts/import", data=broken, headers={"Content-Type": "text/csv"}
    )
    assert status == 422 and body["error"] == "invalid_csv"
    assert [(r["row"], r["field"]) for r in body["rows"]] == [
        (3, "email"), (5, "name"), (6, "phone"),
    ]
    assert (await olga.call("GET", "/api/v1/contacts"))[1] == []  # nothing stored

    good = "\n".join([
        *broken.decode("utf-8-sig").splitlines()[:2],
        "<script>alert(1)</script>;x@example.org;;en", "Šime Kovač;sime@example.org;;",
    ]).encode()
    status, body = await olga.call(
        "POST", "/api/v1/contacts/import", data=good, headers={"Content-Type": "text/csv"}
    )
    assert status == 200 and body == {"imported": 3}
    status, found = await olga.call("GET", "/api/v1/contacts", params={"q": "sime"})
    assert [c["name"] for c in found] == ["Šime Kovač"]
    status, found = await olga.call("GET", "/api/v1/contacts", params={"q": "040 123"})
    assert [c["phone"] for c in found] == ["+38640123456"]
    status, exported = await olga.call("GET", "/api/v1/contacts/export")
    rows = list(csv.DictReader(io.StringIO(exported.lstrip("\ufeff"))))
    assert sorted(r["name"] for r in rows) == ["<script>alert(1)</script>", "Pia Novak",
                                               "Šime Kovač"]
    assert {r["phone"] for r in rows} == {"+38640123456", ""}


async def test_broken_uploads_get_a_clear_error(olga: Browser) -> None:
    status, body = await olga.call(
        "POST", "/api/v1/contacts/import", data=b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        headers={"Content-Type": "text/csv"},
    )
    assert status == 422 and body["rows"][0]["row"] == 1
    status, body = await olga.call(
        "POST", "/api/v1/contacts/import", data=b"x" * (2 * 1024 * 1024 + 1),
        headers={"Content-Type": "text/csv"},
    )
    assert status == 413
    status, body = await olga.call("POST", "/api/v1/contacts", json={"name": "Pia",
                                                                      "phone": "not a number"})
    assert status == 400 and body["field"] == "phone"


async def test_contacts_move_into_a_conference_then_invite_and_notify(
    app_url: tuple[Any, str], olga: Browser, smtp: SmtpServer
) -> None:
    app, _ = app_url
    contacts = []
    for person in (
        {"name": "Pia", "email": "pia@example.org", "phone": "+38640123456", "language": "sl"},
        {"name": "Hans", "email": "hans@example.org", "language": "de"},
        {"name": "Tel Only", "phone": "+38641234567"},
    ):
        status, contact = await olga.call("POST", "/api/v1/contacts", json=person)
        assert status == 201, contact
        contacts.append(contact)
    status, conference = await olga.call("POST", "/api/v1/conferences", json={
        "title": "Board <b>meeting</b>", "starts_at": "2026-12-07T13:00:00Z",
        "duration_minutes": 90, "time_zone": "Europe/Ljubljana",
    })
    assert status == 201, conference
    cid = conference["id"]
    await smtp.mailbox.wait_to("olga@example.org")  # the organiser's own mail

    # Move contacts in (twice: added once), nobody is called or mailed yet.
    ids = [c["id"] for c in contacts]
    status, body = await olga.call(
        "POST", f"/api/v1/conferences/{cid}/invitees", json={"contact_ids": [*ids, ids[0]]}
    )
    assert status == 201, body
    added = body["participants"]
    assert [(p["name"], p["state"], p["language"]) for p in added] == [
        ("Pia", "invited", "sl"), ("Hans", "invited", "de"), ("Tel Only", "invited", "en"),
    ]
    # Invite: mail to those with an address, each in their language.
    status, body = await olga.call("POST", f"/api/v1/conferences/{cid}/invitations", json={})
    assert status == 202
    assert sorted(n["recipient"] for n in body["notifications"]) == [
        "hans@example.org", "pia@example.org",
    ]
    (pia_mail,) = await smtp.mailbox.wait_to("pia@example.org")
    (hans_mail,) = await smtp.mailbox.wait_to("hans@example.org")
    assert "Vabilo" in str(pia_mail["Subject"]) and "Einladung" in str(hans_mail["Subject"])
    assert "ponedeljek, 7. december 2026, 14.00" in text_of(pia_mail)
    assert "<b>" not in text_of(pia_mail, "html")  # the title is escaped
    assert conference["moderator_pin"] not in text_of(pia_mail)
    # A second Invite sends nothing new: everyone has theirs.
    status, body = await olga.call("POST", f"/api/v1/conferences/{cid}/invitations", json={})
    assert body["notifications"] == []

    # Notify by e-mail and SMS; statuses are stored and reported.
    service = app[SERVICE]
    changes: list[dict[str, Any]] = []
    sms_sent = asyncio.Event()

    def record(notice: tuple[str, str, dict[str, Any]]) -> None:
        if notice[0] == "notification":
            changes.append(notice[2])
            sent = {c["id"] for c in changes if c["channel"] == "sms" and c["state"] == "sent"}
            if len(sent) == 2:
                sms_sent.set()

    service.subscribe(record)
    status, body = await olga.call("POST", f"/api/v1/conferences/{cid}/notify", json={
        "message": "We start 10 minutes late.\nSorry!", "channels": ["email", "sms"],
    })
    assert status == 202, body
    lines = {(n["name"], n["channel"]): n for n in body["notifications"]}
    assert lines[("Hans", "sms")]["state"] == "skipped"
    assert lines[("Tel Only", "email")]["state"] == "skipped"
    assert lines[("Pia", "sms")]["state"] == "queued"
    notices = await smtp.mailbox.wait_to("pia@example.org", 2)
    assert "We start 10 minutes late." in text_of(notices[-1])
    sms = app[SMS]

    await asyncio.wait_for(sms_sent.wait(), 10)
    stored = await notifications(olga, cid)
    assert sorted(n["state"] for n in stored if n["channel"] == "sms") == ["sent", "sent"]
    assert sorted(m.to for m in sms.sent) == ["+38640123456", "+38641234567"]
    assert "We start 10 minutes late." in sms.sent[0].text
    assert {c["state"] for c in changes} >= {"queued", "sent"}


async def notifications(olga: Browser, cid: str) -> list[dict[str, Any]]:
    status, body = await olga.call("GET", f"/api/v1/conferences/{cid}/notifications")
    assert status == 200
    return list(body)


async def test_a_moved_conference_sends_an_update_then_a_cancellation(
    olga: Browser, smtp: SmtpServer
) -> None:
    status, conference = await olga.call("POST", "/api/v1/conferences", json={
        "title": "Board", "starts_at": "2026-12-07T13:00:00Z",
        "participants": [{"name": "Pia", "email": "pia@example.org"}],
    })
    cid = conference["id"]
    (first,) = await smtp.mailbox.wait_to("pia@example.org")
    uid = str(ics_of(first).walk("VEVENT")[0]["UID"])
    status, view = await olga.call("PATCH", f"/api/v1/conferences/{cid}", json={
        "starts_at": "2026-12-08T09:30:00Z",
    })
    assert status == 200 and view["starts_at"] == "2026-12-08T09:30:00Z"
    update = (await smtp.mailbox.wait_to("pia@example.org", 2))[-1]
    event = ics_of(update).walk("VEVENT")[0]
    assert str(event["UID"]) == uid and int(event["SEQUENCE"]) == 1
    assert str(ics_of(update)["METHOD"]) == "REQUEST"
    status, view = await olga.call("POST", f"/api/v1/conferences/{cid}/cancel")
    assert status == 200 and view["state"] == "ended"
    cancel = (await smtp.mailbox.wait_to("pia@example.org", 3))[-1]
    calendar = ics_of(cancel)
    assert str(calendar["METHOD"]) == "CANCEL"
    event = calendar.walk("VEVENT")[0]
    assert str(event["UID"]) == uid and int(event["SEQUENCE"]) == 2
    # The PIN is free again: nobody can join a cancelled conference.
    status, _ = await olga.call("POST", "/api/v1/join", json={"pin": conference["pin"],
                                                               "name": "Pia"})
    assert status == 403


async def test_a_lost_organiser_link_is_mailed_again(
    app_url: tuple[Any, str], smtp: SmtpServer
) -> None:
    _, url = app_url
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{url}/api/v1/conferences", json={
            "title": "Ad hoc", "organizer": {"name": "Ada", "email": "ada@example.org"},
        }) as response:
            conference = await response.json()
        await smtp.mailbox.wait_to("ada@example.org")
        for address in ("ADA@example.org", "nobody@example.org"):
            async with http.post(
                f"{url}/api/v1/organizer-link", json={"email": address}
            ) as response:
                assert response.status == 202
        (_, resent) = await smtp.mailbox.wait_to("ada@example.org", 2)
        link = next(
            word for word in text_of(resent).split() if f"/organizer/{conference['id']}#" in word
        )
        token = link.split("#token=")[1]
        async with http.get(
            f"{url}/api/v1/conferences/{conference['id']}",
            headers={"Authorization": f"Bearer {token}"},
        ) as response:
            assert response.status == 200
        assert smtp.mailbox.to("nobody@example.org") == []


async def test_a_name_alone_is_enough_at_creation_but_not_for_the_list(
    app_url: tuple[Any, str], olga: Browser
) -> None:
    status, conference = await olga.call("POST", "/api/v1/conferences", json={
        "title": "Open", "participants": [{"name": "Guest"}],
    })
    assert status == 201 and conference["participants"][0]["name"] == "Guest"
    status, body = await olga.call(
        "POST", f"/api/v1/conferences/{conference['id']}/invitees",
        json={"people": [{"name": "Nobody"}]},
    )
    assert status == 400 and body["field"] == "people[0]"


async def test_phone_numbers_are_hidden_from_participants_unless_shown(
    app_url: tuple[Any, str], olga: Browser
) -> None:
    _, url = app_url
    status, conference = await olga.call("POST", "/api/v1/conferences", json={
        "title": "Phones", "participants": [{"name": "Pia", "phone": "+38640123456"}],
    })
    assert conference["hide_phone_numbers"] is True
    cid = conference["id"]
    async with aiohttp.ClientSession() as guest:
        async with guest.post(f"{url}/api/v1/join", json={
            "pin": conference["pin"], "name": "Guest",
        }) as response:
            token = (await response.json())["participant_token"]

        async def seen_by_guest() -> str | None:
            async with guest.get(f"{url}/api/v1/conferences/{cid}",
                                 headers={"Authorization": f"Bearer {token}"}) as response:
                view = await response.json()
            return next(p["phone"] for p in view["participants"] if p["name"] == "Pia")

        assert await seen_by_guest() is None
        status, view = await olga.call("PATCH", f"/api/v1/conferences/{cid}",
                                       json={"hide_phone_numbers": False})
        assert status == 200 and view["hide_phone_numbers"] is False
        assert await seen_by_guest() == "+38640123456"
    # The organiser always sees them.
    status, view = await olga.call("GET", f"/api/v1/conferences/{cid}")
    assert view["participants"][0]["phone"] == "+38640123456"
