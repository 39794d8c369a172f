"""The phonebook, invitations and messages pages in headless Chromium against ``telekonf serve``.

- /contacts: add (a bad phone number and a server-refused e-mail show by their fields), CSV
  import (a broken file shows every broken row and imports nothing; a good one imports all),
  search as you type, by name and by phone digits.
- /organizer/{id} opened by a logged-in organiser without a token: contacts moved in from the
  phonebook appear as invited; "Invite" mails them (a real SMTP server, aiosmtpd); "Notify"
  by e-mail and SMS with a live SMS counter; the Messages list follows the deliveries live;
  /dev/sms shows the SMS the development sink kept.
- Names with markup render as text everywhere.
- An ad-hoc organiser (token) gets selection and messages but no phonebook; without a token
  or a log-in the page says so and offers the log-in.

Screenshots go to artifacts/screenshots/.
"""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Page, expect

from ..conftest import LiveServer
from ..support.smtp import SmtpServer, text_of
from .browser import Launch, create_conference, new_page

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"
MESSAGE = "Začnemo ob 10.05"


# ---- helpers ---------------------------------------------------------------------------------


async def sign_up(page: Page, url: str, name: str, email: str) -> str:
    """A new account through the API with the page's own request context (it keeps the cookie);
    returns the session's CSRF token."""
    response = await page.request.post(
        f"{url}/api/v1/accounts",
        data={"company": "Planinsko društvo", "name": name, "email": email,
              "password": PASSWORD, "language": "en"},
    )
    assert response.status == 201, await response.text()
    return str((await response.json())["csrf_token"])


async def api_post(page: Page, url: str, path: str, csrf: str, body: Any) -> Any:
    response = await page.request.post(
        f"{url}{path}", data=body, headers={"X-CSRF-Token": csrf}
    )
    assert response.status in (200, 201, 202), await response.text()
    return await response.json()


async def api_get(page: Page, url: str, path: str) -> Any:
    response = await page.request.get(f"{url}{path}")
    assert response.status == 200, await response.text()
    return await response.json()


def track_dialogs(page: Page) -> list[str]:
    """Every alert/confirm/prompt the page opens (dismissed at once)."""
    opened: list[str] = []

    async def on_dialog(dialog: Any) -> None:
        opened.append(f"{dialog.type}: {dialog.message}")
        await dialog.dismiss()

    page.on("dialog", on_dialog)
    return opened


def contact_rows(page: Page) -> Any:
    return page.get_by_test_id("contact-row")


async def upload(page: Page, name: str, text: str) -> None:
    await page.get_by_test_id("import-file").set_input_files(
        {"name": name, "mimeType": "text/csv", "buffer": text.encode("utf-8")}
    )
    await page.get_by_test_id("import-submit").click()


# ---- (a) the contacts page ---------------------------------------------------------------------


async def test_contacts_add_import_and_search(
    mail_server: LiveServer, launch: Launch, artifacts: Path
) -> None:
    errors: list[str] = []
    shots = artifacts / "screenshots"
    url = mail_server.url
    page = await new_page(await launch(None), errors)
    dialogs = track_dialogs(page)

    # Not logged in: off to the log-in page, which comes back here afterwards.
    await page.goto(f"{url}/contacts")
    await expect(page).to_have_url(re.compile(r"/login\?next=%2Fcontacts$"))

    await sign_up(page, url, "Olga Organiser", "olga@example.org")
    await page.goto(f"{url}/contacts")
    await expect(page.locator("#contacts-panel")).to_be_visible()
    await expect(page.get_by_test_id("contact-count")).to_have_text("Contacts: 0")
    await expect(page.get_by_test_id("contacts-empty")).to_be_visible()
    await expect(page.get_by_test_id("user-name")).to_have_text("Olga Organiser")

    # A phone number that is too short: checked as typed, refused by its field, nothing sent.
    await page.get_by_test_id("contact-name").fill("Ana Novak")
    await page.get_by_test_id("contact-email").fill("ana@example.org")
    phone = page.get_by_test_id("contact-phone")
    await phone.press_sequentially("+386 40 12")
    check = page.get_by_test_id("contact-phone-check")
    await expect(check).to_have_attribute("data-check", "invalid")
    await expect(check).to_contain_text("Too short")
    await page.get_by_test_id("contact-submit").click()
    await expect(page.get_by_test_id("error-phone")).to_contain_text("not a valid phone number")
    await expect(phone).to_have_attribute("aria-invalid", "true")
    await expect(contact_rows(page)).to_have_count(0)
    await page.screenshot(path=shots / "contacts-phone-error.png", full_page=True)

    # The number completed; an e-mail address the server refuses shows by the e-mail field.
    await phone.press_sequentially("3 456")
    await expect(check).to_have_attribute("data-check", "valid")
    await expect(check.locator(".phone-check__number")).to_have_text("+386 40 123 456")
    await expect(page.get_by_test_id("error-phone")).to_be_hidden()
    await page.get_by_test_id("contact-email").fill("ana@localhost")
    await page.get_by_test_id("contact-submit").click()
    email_error = page.get_by_test_id("error-email")
    await expect(email_error).to_contain_text("not a valid e-mail address")
    await expect(page.get_by_test_id("contact-email")).to_have_attribute("aria-invalid", "true")
    await expect(contact_rows(page)).to_have_count(0)

    # Corrected: added, the form is empty again.
    await page.get_by_test_id("contact-email").fill("ana@example.org")
    await expect(email_error).to_be_hidden()
    await page.get_by_test_id("contact-organisation").fill("Občina Bled")
    await page.get_by_test_id("contact-language").select_option("sl")
    await page.get_by_test_id("contact-submit").click()
    await expect(page.get_by_test_id("contact-form-status")).to_have_text("Added: Ana Novak")
    await expect(contact_rows(page)).to_have_count(1)
    ana = contact_rows(page).filter(has_text="Ana Novak")
    await expect(ana.get_by_test_id("row-phone")).to_have_text("+386 40 123 456")
    await expect(ana).to_contain_text("Slovenščina")
    await expect(page.get_by_test_id("contact-name")).to_have_value("")

    # The second one, with a national number read in the browser's country (en-GB).
    await page.get_by_test_id("contact-name").fill("Bojan Kralj")
    await page.get_by_test_id("contact-email").fill("bojan@example.org")
    await page.get_by_test_id("contact-phone").fill("020 7946 0123")
    await expect(check.locator(".phone-check__number")).to_have_text("+44 20 7946 0123")
    await page.get_by_test_id("contact-submit").click()
    await expect(contact_rows(page)).to_have_count(2)
    await expect(page.get_by_test_id("contact-count")).to_have_text("Contacts: 2")

    # A CSV with broken rows: every problem listed with its row and field, nothing imported.
    broken = (
        "name,email,phone,language,organisation\n"
        "Cene Zupan,cene@example.org,+386 31 222 333,sl,ACME\n"
        "Dora Dolenc,not-an-address,,en,\n"
        "Eva Erjavec,,+386 1 23,xx,\n"
    )
    await upload(page, "broken.csv", broken)
    error_rows = page.get_by_test_id("import-error-row")
    await expect(page.get_by_test_id("import-errors")).to_be_visible()
    await expect(page.get_by_test_id("import-error")).to_contain_text("Nothing was imported")
    await expect(error_rows.first).to_be_visible()
    found = {
        (await r.get_attribute("data-row"), await r.get_attribute("data-field"))
        for r in await error_rows.all()
    }
    assert ("3", "email") in found
    assert ("4", "phone") in found
    assert ("4", "language") in found
    assert not any(row == "2" for row, _ in found), found
    await expect(
        error_rows.filter(has=page.locator(".import-errors__field", has_text="E-mail"))
    ).to_have_count(1)
    await expect(contact_rows(page)).to_have_count(2)
    assert len(await api_get(page, url, "/api/v1/contacts")) == 2
    await page.screenshot(path=shots / "contacts-import-errors.png", full_page=True)

    # The fixed file: all in; the error table goes away.
    good = (
        "name,email,phone,language,organisation\n"
        "Cene Zupan,cene@example.org,+386 31 222 333,sl,ACME\n"
        "Dora Dolenc,dora@example.org,,en,\n"
    )
    await upload(page, "good.csv", good)
    await expect(page.get_by_test_id("import-status")).to_have_text("Imported contacts: 2")
    await expect(page.get_by_test_id("import-errors")).to_be_hidden()
    await expect(contact_rows(page)).to_have_count(4)

    # Search as you type: by name, accents ignored…
    search = page.get_by_test_id("contact-search")
    await search.press_sequentially("kralj")
    await expect(contact_rows(page)).to_have_count(1)
    await expect(contact_rows(page).first.get_by_test_id("row-name")).to_have_text(
        "Bojan Kralj"
    )
    await expect(page.get_by_test_id("contact-count")).to_have_text("Found: 1")
    # …and by the digits of a phone number as written nationally.
    await search.fill("")
    await search.press_sequentially("040 123")
    await expect(contact_rows(page)).to_have_count(1)
    await expect(contact_rows(page).first.get_by_test_id("row-name")).to_have_text(
        "Ana Novak"
    )
    await search.fill("")
    await search.press_sequentially("222 333")
    await expect(contact_rows(page)).to_have_count(1)
    await expect(contact_rows(page).first.get_by_test_id("row-name")).to_have_text(
        "Cene Zupan"
    )
    await search.fill("nobody here")
    await expect(contact_rows(page)).to_have_count(0)
    await expect(page.get_by_test_id("contacts-empty")).to_contain_text("nobody here")
    await search.fill("")
    await expect(contact_rows(page)).to_have_count(4)

    # Edit: Dora gets a phone number; delete: Cene goes (after confirming in the page's dialog).
    dora = contact_rows(page).filter(has_text="Dora Dolenc")
    await dora.locator('[data-action="edit"]').click()
    await expect(page.get_by_test_id("contact-name")).to_have_value("Dora Dolenc")
    await page.get_by_test_id("contact-phone").fill("+386 41 555 123")
    await page.get_by_test_id("contact-submit").click()
    await expect(page.get_by_test_id("contact-form-status")).to_have_text("Saved: Dora Dolenc")
    await expect(dora.get_by_test_id("row-phone")).to_have_text("+386 41 555 123")
    cene = contact_rows(page).filter(has_text="Cene Zupan")
    await cene.locator('[data-action="delete"]').click()
    await expect(page.get_by_test_id("delete-dialog")).to_be_visible()
    await page.get_by_test_id("confirm-delete").click()
    await expect(contact_rows(page)).to_have_count(3)

    # The export is a download of the phonebook.
    export = await page.request.get(
        f"{url}{await page.get_by_test_id('export-link').get_attribute('href')}"
    )
    assert export.status == 200
    csv_text = (await export.body()).decode("utf-8-sig")
    assert "Ana Novak" in csv_text and "Cene Zupan" not in csv_text

    # In German, with the same data.
    await page.select_option("#lang-select", "de")
    await expect(page.get_by_test_id("contact-count")).to_have_text("Kontakte: 3")
    await page.select_option("#lang-select", "en")
    await page.screenshot(path=shots / "contacts.png", full_page=True)
    assert dialogs == []
    assert errors == []


# ---- (b) from the phonebook into the conference: invite, notify, delivery live -------------


async def test_organizer_session_invite_notify_live(
    mail_server: LiveServer, smtp: SmtpServer, launch: Launch, artifacts: Path
) -> None:
    errors: list[str] = []
    shots = artifacts / "screenshots"
    url = mail_server.url
    browser = await launch(None)
    page = await new_page(browser, errors)
    csrf = await sign_up(page, url, "Olga Organiser", "olga@example.org")
    ana = await api_post(page, url, "/api/v1/contacts", csrf, {
        "name": "Ana Novak", "email": "ana@example.org", "phone": "+38640123456",
        "language": "sl",
    })
    bojan = await api_post(page, url, "/api/v1/contacts", csrf, {
        "name": "Bojan Kralj", "email": "bojan@example.org", "phone": "+38641555123",
    })
    await api_post(page, url, "/api/v1/contacts", csrf, {
        "name": "Cene Zupan", "email": "cene@example.org",
    })
    conf = await api_post(page, url, "/api/v1/conferences", csrf, {
        "title": "Sestanek", "language": "en",
    })

    # The organiser's page by the log-in alone: no token anywhere in the address.
    await page.goto(f"{url}/organizer/{conf['id']}")
    assert "token" not in page.url
    await expect(page.locator("#live-status")).to_have_attribute("data-live", "online")
    await expect(page.locator("#conf-title")).to_have_text("Sestanek")
    phonebook = page.get_by_test_id("phonebook")
    await expect(phonebook).to_be_visible()
    contacts = page.get_by_test_id("phonebook-contact")
    await expect(contacts).to_have_count(3)
    # So far only the organiser's own copy of the invitation (mailed at creation) is listed.
    rows = page.get_by_test_id("message-row")
    await expect(rows).to_have_count(1)
    await expect(rows).to_have_attribute("data-kind", "invitation-organizer")
    await expect(rows).to_have_attribute("data-state", "sent")
    await smtp.mailbox.wait_to("olga@example.org")

    # Search in the phonebook, tick two, move them in: two invited cards.
    search = page.get_by_test_id("phonebook-search")
    await search.press_sequentially("kralj")
    await expect(contacts).to_have_count(1)
    await contacts.filter(has_text="Bojan Kralj").locator("input").check()
    await search.fill("")
    await expect(contacts).to_have_count(3)
    await contacts.filter(has_text="Ana Novak").locator("input").check()
    add = page.get_by_test_id("add-contacts")
    await expect(add).to_have_text("Add to conference (2)")
    await add.click()
    cards = page.locator(".participant:not([data-role='organizer'])")
    await expect(cards).to_have_count(2)
    for card in await cards.all():
        await expect(card).to_have_attribute("data-state", "invited")
    await expect(
        contacts.filter(has_text="Ana Novak")
    ).to_have_attribute("data-in-conference", "true")
    await expect(contacts.filter(has_text="Ana Novak").locator("input")).to_be_disabled()
    await expect(add).to_be_disabled()
    ids = {c["id"] for c in (await api_get(page, url, f"/api/v1/conferences/{conf['id']}"))[
        "participants"] if c["role"] != "organizer"}
    assert len(ids) == 2
    # Nobody is mailed by being put on the list.
    assert [str(m["To"]) for m in smtp.mailbox.messages] == ["Olga Organiser <olga@example.org>"]
    await page.screenshot(path=shots / "organizer-phonebook-added.png", full_page=True)

    # Invite (nobody selected: everyone not yet invited) → the mails arrive, the rows turn sent.
    invite = page.get_by_test_id("invite")
    await expect(invite).to_have_text("Invite everyone not yet invited")
    await invite.click()
    invitations = rows.and_(page.locator('[data-kind="invitation"]'))
    await expect(invitations).to_have_count(2)
    mails = await smtp.mailbox.wait_to("ana@example.org")
    await smtp.mailbox.wait_to("bojan@example.org")
    assert conf["pin"] in text_of(mails[0])
    for row in await invitations.all():
        await expect(row).to_have_attribute("data-state", "sent")
        await expect(row).to_have_attribute("data-channel", "email")

    # Notify the two selected by e-mail and SMS; the counter shows č forces UCS-2.
    await page.get_by_test_id("select-all").check()
    await expect(page.get_by_test_id("select-count")).to_have_text("Selected: 2")
    for box in await page.get_by_test_id("select-participant").all():
        if await box.is_visible():
            await expect(box).to_be_checked()
    notify = page.get_by_test_id("notify")
    await expect(notify).to_have_text("Notify selected (2)…")
    await notify.click()
    dialog = page.get_by_test_id("notify-dialog")
    await expect(dialog).to_be_visible()
    await expect(page.get_by_test_id("notify-recipients")).to_contain_text("Ana Novak")
    await expect(page.get_by_test_id("notify-recipients")).to_contain_text("Bojan Kralj")
    counter = page.get_by_test_id("sms-counter")
    await page.get_by_test_id("notify-message").press_sequentially("Start at 10.05")
    await expect(counter).to_have_attribute("data-encoding", "GSM-7")
    await expect(page.get_by_test_id("sms-encoding")).to_have_text("GSM-7")
    plain = len("Sestanek: Start at 10.05 - Olga Organiser")
    await expect(counter).to_have_attribute("data-units", str(plain))
    await expect(page.get_by_test_id("sms-size")).to_contain_text("up to 160 each")
    await page.get_by_test_id("notify-message").press_sequentially(" €")  # € costs 2 septets
    await expect(counter).to_have_attribute("data-units", str(plain + 3))
    await expect(counter).to_have_attribute("data-encoding", "GSM-7")
    await page.get_by_test_id("notify-message").fill("")
    await page.get_by_test_id("notify-message").press_sequentially(MESSAGE)
    await expect(counter).to_have_attribute("data-encoding", "UCS-2")
    await expect(page.get_by_test_id("sms-encoding")).to_have_text("UCS-2")
    await expect(counter).to_contain_text("č")
    # "Sestanek: Začnemo ob 10.05 - Olga Organiser": 43 UTF-16 units, one SMS of 70.
    sms_text = f"Sestanek: {MESSAGE} - Olga Organiser"
    await expect(counter).to_have_attribute("data-units", str(len(sms_text)))
    await expect(counter).to_have_attribute("data-segments", "1")
    await expect(page.get_by_test_id("sms-size")).to_contain_text("up to 70 each")
    await page.get_by_test_id("channel-sms").check()
    await expect(page.get_by_test_id("channel-email")).to_be_checked()
    await page.screenshot(path=shots / "organizer-notify-dialog.png")
    await page.get_by_test_id("send-notify").click()
    await expect(dialog).to_be_hidden()

    notices = rows.and_(page.locator('[data-kind="notice"]'))
    await expect(notices).to_have_count(4)
    for channel in ("email", "sms"):
        await expect(notices.and_(page.locator(f'[data-channel="{channel}"]'))).to_have_count(2)
    for row in await notices.all():
        await expect(row).to_have_attribute("data-state", "sent")
    await expect(rows).to_have_count(7)
    sms_rows = notices.and_(page.locator('[data-channel="sms"]'))
    await expect(sms_rows.filter(has_text="Ana Novak")).to_contain_text("+386 40 123 456")
    await smtp.mailbox.wait_to("ana@example.org", count=2)
    await smtp.mailbox.wait_to("bojan@example.org", count=2)
    notice_mail = [m for m in smtp.mailbox.to("bojan@example.org") if "message" in m["Subject"]]
    assert notice_mail and MESSAGE in text_of(notice_mail[0])
    await page.screenshot(path=shots / "organizer-messages-sent.png", full_page=True)

    # The stored list agrees; after a reload the page shows it again.
    stored = await api_get(page, url, f"/api/v1/conferences/{conf['id']}/notifications")
    assert sorted((n["kind"], n["channel"], n["state"]) for n in stored) == sorted(
        [("invitation-organizer", "email", "sent")]
        + [("invitation", "email", "sent")] * 2
        + [("notice", "email", "sent")] * 2
        + [("notice", "sms", "sent")] * 2
    )
    await page.reload()
    await expect(page.locator("#live-status")).to_have_attribute("data-live", "online")
    await expect(rows).to_have_count(7)
    await expect(rows.and_(page.locator('[data-state="sent"]'))).to_have_count(7)

    # The existing controls work by the log-in too (cookie + CSRF token): lock, unlock.
    lock = page.locator('.org-actions [data-action="lock"]')
    await lock.click()
    await expect(page.get_by_test_id("lock-badge")).to_be_visible()
    await lock.click()
    await expect(page.get_by_test_id("lock-badge")).to_be_hidden()

    # In Slovenian.
    await page.select_option("#lang-select", "sl")
    await expect(rows.first.locator(".status-badge")).to_have_text("Poslano")
    await expect(page.get_by_test_id("invite")).to_have_text("Povabi vse, ki še niso povabljeni")
    await expect(page.get_by_test_id("phonebook")).to_contain_text("Imenik")
    await page.select_option("#lang-select", "en")

    # The development SMS sink has both SMS, in UCS-2.
    sink = await api_get(page, url, "/api/v1/dev/sms")
    assert sorted(m["to"] for m in sink) == sorted([ana["phone"], bojan["phone"]])
    assert all(m["text"] == sms_text and m["encoding"] == "UCS-2" for m in sink), sink
    sms_page = await new_page(browser, errors)
    await sms_page.goto(f"{url}/dev/sms")
    sms_list = sms_page.get_by_test_id("sms-row")
    await expect(sms_list).to_have_count(2)
    for row in await sms_list.all():
        await expect(row).to_have_attribute("data-encoding", "UCS-2")
        await expect(row.locator(".sms-row__text")).to_have_text(sms_text)
        await expect(row.locator(".sms-row__segments")).to_have_text("1")
    await expect(sms_list.filter(has_text="+386 40 123 456")).to_have_count(1)
    await sms_page.screenshot(path=shots / "dev-sms.png", full_page=True)

    # One more SMS: the refresh button shows it.
    await api_post(page, url, f"/api/v1/conferences/{conf['id']}/notify", csrf, {
        "message": "Room 2 [east]", "channels": ["sms"], "participant_ids": [sorted(ids)[0]],
    })
    await expect(rows).to_have_count(8)  # the organiser's page hears of it live
    await sms_page.get_by_test_id("refresh").click()
    await expect(sms_list).to_have_count(3)
    await expect(sms_list.first).to_have_attribute("data-encoding", "GSM-7")
    await expect(sms_list.first.locator(".sms-row__text")).to_contain_text("Room 2 [east]")
    assert errors == []


# ---- (c) markup in names stays text -----------------------------------------------------------


async def test_markup_in_names_renders_as_text(
    mail_server: LiveServer, launch: Launch, artifacts: Path
) -> None:
    errors: list[str] = []
    url = mail_server.url
    page = await new_page(await launch(None), errors)
    dialogs = track_dialogs(page)
    csrf = await sign_up(page, url, "<b>Olga</b>", "olga@example.org")
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    await api_post(page, url, "/api/v1/contacts", csrf, {
        "name": evil, "email": "evil@example.org", "organisation": "<i>ACME</i>",
    })
    await page.goto(f"{url}/contacts")
    row = page.get_by_test_id("contact-row")
    await expect(row).to_have_count(1)
    await expect(row.get_by_test_id("row-name")).to_have_text(evil)
    await expect(row.locator(".contact-row__organisation")).to_have_text("<i>ACME</i>")
    await expect(page.get_by_test_id("user-name")).to_have_text("<b>Olga</b>")
    assert await page.locator("main script, main img, main i, header b").count() == 0

    # The broken-row table too: a CSV cell with markup stays text.
    await upload(page, "evil.csv", f'name,email\n"{evil.replace(chr(34), chr(34) * 2)}",nope\n')
    await expect(page.get_by_test_id("import-error-row")).to_have_count(1)
    assert await page.locator("#import-errors script, #import-errors img").count() == 0

    # On the organiser page: the phonebook, the card, the notify dialog, the messages.
    conf = await api_post(page, url, "/api/v1/conferences", csrf, {"title": "<u>Plan</u>"})
    await page.goto(f"{url}/organizer/{conf['id']}")
    await expect(page.locator("#conf-title")).to_have_text("<u>Plan</u>")
    contact = page.get_by_test_id("phonebook-contact")
    await expect(contact.locator(".pb-item__name")).to_have_text(evil)
    await contact.locator("input").check()
    await page.get_by_test_id("add-contacts").click()
    card = page.locator(".participant:not([data-role='organizer'])")
    await expect(card.locator(".participant__name")).to_have_text(evil)
    await card.get_by_test_id("select-participant").check()
    await page.get_by_test_id("notify").click()
    await expect(page.get_by_test_id("notify-recipients")).to_have_text(evil)
    await page.get_by_test_id("notify-message").fill("<b>hi</b>")
    await page.get_by_test_id("send-notify").click()
    message = page.get_by_test_id("message-row").and_(page.locator('[data-kind="notice"]'))
    await expect(message).to_have_count(1)
    await expect(message.locator(".message-row__name")).to_have_text(evil)
    await expect(message).to_have_attribute("data-state", "sent")
    assert await page.locator("main script, main img, main u, main b, dialog b").count() == 0
    assert await page.evaluate("document.querySelectorAll('body script:not([src])').length") == 0
    await page.screenshot(path=artifacts / "screenshots" / "organizer-markup.png", full_page=True)
    assert dialogs == []
    assert errors == []


# ---- (d) an ad-hoc organiser's token; no token and no log-in -----------------------------------


async def test_organizer_token_and_missing_login(
    mail_server: LiveServer, smtp: SmtpServer, launch: Launch
) -> None:
    errors: list[str] = []
    url = mail_server.url
    async with aiohttp.ClientSession() as http:
        conf = await create_conference(
            http, url, title="Ad hoc",
            participants=[{"name": "Pia", "email": "pia@example.org"},
                          {"name": "Rok", "phone": "+38631222333"}],
        )
    page = await new_page(await launch(None), errors)
    await page.goto(f"{url}/organizer/{conf['id']}#token={conf['organizer_token']}")
    await expect(page.locator("#live-status")).to_have_attribute("data-live", "online")
    await expect(page.get_by_test_id("select-bar")).to_be_visible()
    await expect(page.get_by_test_id("phonebook")).to_be_hidden()
    await expect(page.locator("#messages-section")).to_be_visible()
    # The invitations sent when the conference was created are listed already.
    rows = page.get_by_test_id("message-row")
    await smtp.mailbox.wait_to("pia@example.org")
    await expect(rows.and_(page.locator('[data-kind="invitation"]'))).not_to_have_count(0)

    # Notify Rok (phone only) by e-mail and SMS: the e-mail is "not sent", with the reason.
    rok = page.locator(".participant").filter(has_text="Rok")
    await rok.get_by_test_id("select-participant").check()
    await page.get_by_test_id("notify").click()
    await page.get_by_test_id("notify-message").fill("Kava je pripravljena")
    await page.get_by_test_id("channel-sms").check()
    await page.get_by_test_id("send-notify").click()
    rok_rows = rows.and_(page.locator('[data-kind="notice"]')).filter(has_text="Rok")
    await expect(rok_rows).to_have_count(2)
    skipped = rok_rows.and_(page.locator('[data-channel="email"]'))
    await expect(skipped).to_have_attribute("data-state", "skipped")
    await expect(skipped).to_contain_text("no e-mail address")
    await expect(rok_rows.and_(page.locator('[data-channel="sms"]'))).to_have_attribute(
        "data-state", "sent"
    )

    # No token and no log-in: the page says what is missing and offers the log-in.
    other = await new_page(await launch(None), errors)
    await other.goto(f"{url}/organizer/{conf['id']}")
    await expect(other.locator("#page-error")).to_contain_text("organiser key is missing")
    login = other.locator("#login-link")
    await expect(login).to_be_visible()
    await expect(login).to_have_attribute(
        "href", f"/login?next={urllib.request.quote('/organizer/' + conf['id'], safe='')}"
    )
    await expect(other.get_by_test_id("phonebook")).to_be_hidden()
    await expect(other.get_by_test_id("select-bar")).to_be_hidden()
    assert errors == []
