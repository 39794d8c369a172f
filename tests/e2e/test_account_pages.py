"""The home form and the account pages in headless Chromium against ``telekonf serve``.

The service runs as a subprocess with a real SMTP server on loopback (aiosmtpd), so the
invitations, password-reset mails and organiser links really travel.

- (a) the full home form: date, time, time zone, duration, participants with per-row
  errors (a bad phone number caught as it is typed, a bad e-mail address refused by the
  server), and the invitation that arrives with the PIN and the time in the chosen zone;
- (b) sign up, API keys (shown once), log out, log in by user number, a wrong password;
- (c) "Forgot your password?": the mailed /reset#token link, a new password, log-in;
  "Lost your organiser link?";
- (d) markup in names stays text everywhere, and ?next= cannot leave the site.

Screenshots go to artifacts/screenshots/.
"""

from __future__ import annotations

import re
import urllib.parse
import urllib.request
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from playwright.async_api import Browser, Dialog, Page, expect

from ..conftest import LiveServer
from ..support.smtp import SmtpServer, text_of
from .browser import TIMEOUT_MS, Launch, new_page

pytestmark = pytest.mark.browser

PASSWORD = "Tele-konf 2027!"
NEW_PASSWORD = "another Secret 42"
MAIL_WAIT = 20.0


# ---- helpers ------------------------------------------------------------------------------------


async def open_page(
    browser: Browser, errors: list[str], dialogs: list[str] | None = None, **context: Any
) -> Page:
    """A page like browser.new_page(), optionally in another time zone; every dialog
    (alert, confirm) is recorded and dismissed: none is expected."""
    if context:
        ctx = await browser.new_context(
            viewport={"width": 1280, "height": 860}, locale="en-GB", reduced_motion="reduce",
            **context,
        )
        page = await ctx.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.on("pageerror", lambda error: errors.append(f"{page.url}: {error}"))
    else:
        page = await new_page(browser, errors)
    seen = dialogs if dialogs is not None else errors

    async def on_dialog(dialog: Dialog) -> None:
        seen.append(f"dialog {dialog.type}: {dialog.message}")
        await dialog.dismiss()

    page.on("dialog", on_dialog)
    return page


async def sign_up(page: Page, url: str, *, company: str, name: str, email: str) -> str:
    """Sign up through the page; returns the user number shown on /account."""
    await page.goto(f"{url}/signup")
    await page.fill("#company", company)
    await page.fill("#name", name)
    await page.fill("#email", email)
    await page.fill("#password", PASSWORD)
    await page.fill("#password2", PASSWORD)
    await page.click("#signup-submit")
    await page.wait_for_url(f"{url}/account")
    await expect(page.locator("body")).to_have_attribute("data-state", "ready")
    number = (await page.locator("[data-testid=me-number]").inner_text()).strip()
    assert re.fullmatch(r"[1-9]\d{7}", number), number
    return number


async def log_in(page: Page, login: str, password: str) -> None:
    await page.fill("#login-id", login)
    await page.fill("#login-password", password)
    await page.click("#login-submit")


def mail_link(message_text: str, path: str) -> str:
    found = re.search(rf"https?://\S+{re.escape(path)}\S*", message_text)
    assert found, f"no {path} link in:\n{message_text}"
    return found.group(0)


# ---- (a) the full home form ----------------------------------------------------------------------


async def test_home_form_plans_with_participants_and_invites(
    mail_server: LiveServer, smtp: SmtpServer, launch: Launch, artifacts: Path
) -> None:
    errors: list[str] = []
    shots = artifacts / "screenshots"
    # The browser is in Tokyo; the conference is planned in New York time.
    page = await open_page(await launch(None), errors, timezone_id="Asia/Tokyo")
    await page.goto(f"{mail_server.url}/")
    await expect(page.locator("#create-heading")).to_have_text("Create a conference")
    await expect(page.locator("#account-nav")).to_contain_text("Log in")
    await expect(page.locator("#time-zone")).to_have_value("Asia/Tokyo")

    year = date.today().year + 1
    day = f"{year}-07-15"
    await page.fill("#title", "Planning <i>next year</i>")
    await page.fill("#organizer-name", "Olga Organiser")
    await page.fill("#organizer-email", "olga@example.org")
    await page.fill("#date", day)
    await page.fill("#time", "14:30")
    await page.select_option("#time-zone", "America/New_York")
    await page.select_option("#duration", "90")
    # July in New York is EDT: UTC-4, shown beside the time in the browser's own zone.
    preview = page.locator("#when-preview")
    await expect(preview).to_contain_text("UTC-04:00")
    await expect(preview).to_contain_text("in your time zone")

    # Participant 1: an address the browser accepts and the server refuses.
    rows = page.locator("#participant-rows > li")
    await expect(rows).to_have_count(1)
    await rows.nth(0).locator("[data-field=name]").fill("Pia Participant")
    await rows.nth(0).locator("[data-field=email]").fill("pia@localhost")
    # Participant 2: a phone number that is too short, caught while typing.
    await page.click("#add-participant")
    await expect(rows).to_have_count(2)
    second = rows.nth(1)
    await expect(second.locator("[data-field=name]")).to_be_focused()
    await second.locator("[data-field=name]").fill("Bob Phone")
    await second.locator("[data-field=email]").fill("bob@example.org")
    await second.locator("[data-field=phone]").fill("+386 1 23")
    await expect(second.locator(".phone-check")).to_have_attribute("data-check", "invalid")
    await expect(second.locator("[data-field=phone]")).to_have_attribute("aria-invalid", "true")
    # A third, empty row is ignored; removing it leaves two.
    await page.click("#add-participant")
    await expect(rows).to_have_count(3)
    await rows.nth(2).get_by_role("button", name="Remove participant 3").click()
    await expect(rows).to_have_count(2)

    await page.click("#create-submit")
    await expect(page.locator("body")).to_have_attribute("data-state", "error")
    await expect(page.locator("#form-error")).to_have_text("Please check participant 2.")
    await expect(second.locator("[data-testid=row-error]")).to_contain_text("Phone")
    await expect(second.locator("[data-field=phone]")).to_be_focused()
    await page.screenshot(path=shots / "home-row-phone-error.png", full_page=True)

    await second.locator("[data-field=phone]").fill("+386 1 234 56 78")
    await expect(second.locator(".phone-check")).to_have_attribute("data-check", "valid")
    await expect(second.locator("[data-testid=row-error]")).to_be_empty()
    await expect(second.locator("[data-field=phone]")).not_to_have_attribute(
        "aria-invalid", "true"
    )

    # Now the server refuses participant 1's address: its row says so.
    first = rows.nth(0)
    await page.click("#create-submit")
    await expect(page.locator("body")).to_have_attribute("data-state", "error")
    await expect(first.locator("[data-testid=row-error]")).to_contain_text("e-mail")
    await expect(first.locator("[data-field=email]")).to_have_attribute("aria-invalid", "true")
    await expect(second.locator("[data-field=phone]")).not_to_have_attribute(
        "aria-invalid", "true"
    )
    await expect(page.locator("#form-error")).to_have_text("Please check participant 1.")
    await page.screenshot(path=shots / "home-row-server-error.png", full_page=True)

    await first.locator("[data-field=email]").fill("pia@example.org")
    await page.click("#create-submit")
    await expect(page.locator("body")).to_have_attribute("data-state", "created")
    await expect(page.locator("#result-title")).to_have_text("Planning <i>next year</i>")
    await expect(page.locator("#result-invited")).to_contain_text(
        "Invitations were e-mailed to everyone with an e-mail address (2)."
    )
    await expect(page.locator("#result-when")).to_contain_text("14:30")
    await expect(page.locator("#result-when")).to_contain_text("America/New York")
    pin = (await page.locator("#result-pins [data-testid=pin]").inner_text()).strip()
    organizer_link = await page.locator("[data-testid=organizer-link]").get_attribute("href")
    assert organizer_link and "#token=" in organizer_link
    await page.screenshot(path=shots / "home-planned.png", full_page=True)

    # What the server stored: 14:30 in New York is 18:30 UTC; zone and duration kept.
    conference_id = organizer_link.split("/organizer/")[1].split("#")[0]
    token = organizer_link.split("#token=")[1]
    async with aiohttp.ClientSession() as http:
        async with http.get(
            f"{mail_server.url}/api/v1/conferences/{conference_id}",
            headers={"Authorization": f"Bearer {token}"},
        ) as response:
            assert response.status == 200, await response.text()
            conf = await response.json()
    expected = datetime(year, 7, 15, 14, 30, tzinfo=ZoneInfo("America/New_York"))
    assert datetime.fromisoformat(conf["starts_at"]) == expected
    assert expected.astimezone(UTC).hour == 18
    assert conf["time_zone"] == "America/New_York"
    assert conf["duration_minutes"] == 90
    phones = {p["name"]: p.get("phone") for p in conf["participants"]}
    assert phones["Bob Phone"] == "+38612345678"

    # The invitation reaches Pia with the PIN and the time in New York.
    messages = await smtp.mailbox.wait_to("pia@example.org", within=MAIL_WAIT)
    body = text_of(messages[0])
    assert pin in body
    assert "14:30 (America/New_York)" in body, body
    assert "1 h 30 min" in body
    assert (await smtp.mailbox.wait_to("bob@example.org", within=MAIL_WAIT))
    assert errors == []


async def test_zone_conversion_in_the_browser(live_server: LiveServer, launch: Launch) -> None:
    """The offset is the chosen zone's at that moment, across clock changes."""
    errors: list[str] = []
    page = await open_page(await launch(None), errors, timezone_id="America/Los_Angeles")
    await page.goto(f"{live_server.url}/")
    results = await page.evaluate(
        """async () => {
            const { zonedInstant } = await import('/static/account-zones.js');
            const cases = [
                ['2027-01-10', '09:00', 'Europe/Ljubljana'],
                ['2027-07-10', '09:00', 'Europe/Ljubljana'],
                ['2027-03-28', '02:30', 'Europe/Ljubljana'],  // does not exist: 03:30
                ['2027-10-31', '02:30', 'Europe/Ljubljana'],  // happens twice: the first
                ['2027-01-10', '09:00', 'Asia/Kathmandu'],
                ['2027-12-31', '23:59', 'Pacific/Kiritimati'],
                ['2027-03-14', '02:15', 'America/New_York'],
            ];
            return cases.map((c) => {
                const r = zonedInstant(...c);
                return [r.iso, new Date(r.ms).toISOString(), r.shifted];
            });
        }"""
    )
    assert results == [
        ["2027-01-10T09:00:00+01:00", "2027-01-10T08:00:00.000Z", False],
        ["2027-07-10T09:00:00+02:00", "2027-07-10T07:00:00.000Z", False],
        ["2027-03-28T03:30:00+02:00", "2027-03-28T01:30:00.000Z", True],
        ["2027-10-31T02:30:00+02:00", "2027-10-31T00:30:00.000Z", False],
        ["2027-01-10T09:00:00+05:45", "2027-01-10T03:15:00.000Z", False],
        ["2027-12-31T23:59:00+14:00", "2027-12-31T09:59:00.000Z", False],
        ["2027-03-14T03:15:00-04:00", "2027-03-14T07:15:00.000Z", True],
    ]
    assert errors == []


# ---- (b) sign up, API keys, log out, log in ----------------------------------------------------


async def test_sign_up_keys_log_out_and_in(
    mail_server: LiveServer, launch: Launch, artifacts: Path
) -> None:
    errors: list[str] = []
    shots = artifacts / "screenshots"
    url = mail_server.url
    page = await open_page(await launch(None), errors)

    # The repeated password must match: checked before anything is sent.
    await page.goto(f"{url}/signup")
    await expect(page.locator("#account-nav")).to_contain_text("Sign up")
    await page.fill("#company", "Acme d.o.o.")
    await page.fill("#name", "Olga Owner")
    await page.fill("#email", "olga@example.org")
    await page.fill("#password", PASSWORD)
    await page.fill("#password2", PASSWORD + "x")
    await page.click("#signup-submit")
    await expect(page.locator("#signup-error")).to_have_text(
        "The two passwords are not the same."
    )
    await expect(page.locator("#password2")).to_have_attribute("aria-invalid", "true")
    await page.screenshot(path=shots / "signup-mismatch.png", full_page=True)

    number = await sign_up(page, url, company="Acme d.o.o.", name="Olga Owner",
                           email="olga@example.org")
    await expect(page.locator("[data-testid=me-name]")).to_have_text("Olga Owner")
    await expect(page.locator("[data-testid=me-company]")).to_have_text("Acme d.o.o.")
    await expect(page.locator("[data-testid=me-role]")).to_have_text("Owner")
    await expect(page.locator("[data-testid=nav-user]")).to_contain_text("Olga Owner")
    await expect(page.locator("#keys-empty")).to_be_visible()
    await expect(page.locator("#conferences-empty")).to_be_visible()
    await expect(page.locator("[data-testid=organizer-row]")).to_have_count(1)
    await page.screenshot(path=shots / "account-new.png", full_page=True)

    # An API key: the whole key once, then only its prefix.
    await page.fill("#key-name", "Calendar sync")
    await page.click("#key-create")
    key_value = page.locator("[data-testid=new-key]")
    await expect(key_value).to_have_text(re.compile(r"^tk_\S{20,}$"))
    key = (await key_value.inner_text()).strip()
    await expect(page.locator("#new-key-warning")).to_contain_text("shown only once")
    await expect(page.locator("[data-testid=key-row]")).to_have_count(1)
    await expect(page.locator("[data-testid=key-prefix]")).to_have_text(f"{key[:10]}…")
    await page.screenshot(path=shots / "account-api-key.png", full_page=True)
    async with aiohttp.ClientSession() as http:
        async with http.get(
            f"{url}/api/v1/api-keys", headers={"Authorization": f"Bearer {key}"}
        ) as response:
            assert response.status == 200
            assert [k["name"] for k in await response.json()] == ["Calendar sync"]

    await page.reload()
    await expect(page.locator("body")).to_have_attribute("data-state", "ready")
    await expect(page.locator("[data-testid=key-prefix]")).to_have_text(f"{key[:10]}…")
    await expect(page.locator("#new-key")).to_be_hidden()
    assert key not in await page.content()

    # The owner adds an organiser (who is mailed a link to choose a password).
    await page.fill("#org-name", "Otto Organiser")
    await page.fill("#org-email", "otto@example.org")
    await page.select_option("#org-language", "de")
    await page.click("#org-submit")
    await expect(page.locator("[data-testid=org-status]")).to_contain_text("Otto Organiser")
    await expect(page.locator("[data-testid=organizer-row]")).to_have_count(2)

    # Log out; the account page then sends us to the log-in, and back after it.
    await page.click("#logout")
    await page.wait_for_url(f"{url}/login")
    await page.goto(f"{url}/account")
    await page.wait_for_url(re.compile(r"/login\?next=/account$"))
    await expect(page.locator("#account-nav")).to_contain_text("Log in")

    await log_in(page, number, "not the password")
    await expect(page.locator("#login-error")).to_have_text(
        "Wrong user number, e-mail address or password."
    )
    await expect(page.locator("#login-password")).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#login-password")).to_be_focused()
    assert page.url.endswith("/login?next=/account")
    await page.screenshot(path=shots / "login-wrong-password.png", full_page=True)

    await log_in(page, number, PASSWORD)
    await page.wait_for_url(f"{url}/account")
    await expect(page.locator("[data-testid=me-number]")).to_have_text(number)
    await expect(page.locator("[data-testid=key-row]")).to_have_count(1)

    # Revoking asks first; the key stops working at once.
    await page.get_by_role("button", name="Revoke the key “Calendar sync”").click()
    await expect(page.locator("#revoke-dialog")).to_be_visible()
    await page.screenshot(path=shots / "account-revoke-dialog.png")
    await page.click("#revoke-confirm")
    await expect(page.locator("[data-testid=key-row]")).to_have_count(0)
    await expect(page.locator("#keys-empty")).to_be_visible()
    async with aiohttp.ClientSession() as http:
        async with http.get(
            f"{url}/api/v1/api-keys", headers={"Authorization": f"Bearer {key}"}
        ) as response:
            assert response.status == 401
    assert errors == []


async def test_logged_in_home_form_belongs_to_the_account(
    mail_server: LiveServer, launch: Launch, artifacts: Path
) -> None:
    errors: list[str] = []
    url = mail_server.url
    page = await open_page(await launch(None), errors)
    await sign_up(page, url, company="Acme", name="Olga Owner", email="olga@example.org")

    await page.goto(f"{url}/")
    await expect(page.locator("[data-testid=account-notice]")).to_contain_text(
        "will belong to your account"
    )
    await expect(page.locator("#organizer-name")).to_have_value("Olga Owner")
    await expect(page.locator("#organizer-email")).to_have_value("olga@example.org")
    nav = page.locator("#account-nav")
    await expect(nav.get_by_role("link", name="Account")).to_have_attribute("href", "/account")
    await expect(nav.get_by_role("link", name="Contacts")).to_have_attribute("href", "/contacts")
    await expect(nav.get_by_role("button", name="Log out")).to_be_visible()
    await page.fill("#title", "Account meeting")
    await page.click("#create-submit")
    await expect(page.locator("body")).to_have_attribute("data-state", "created")
    await expect(page.locator("#result-account")).to_be_visible()
    await page.screenshot(path=artifacts / "screenshots" / "home-logged-in.png", full_page=True)

    await page.goto(f"{url}/account")
    item = page.locator("[data-testid=conference]")
    await expect(item).to_have_count(1)
    await expect(item.get_by_role("link")).to_have_text("Account meeting")
    href = await item.get_by_role("link").get_attribute("href")
    assert href and href.startswith("/organizer/")
    await expect(item.locator(".badge")).to_have_text("Scheduled")

    # The header's log-out ends the session.
    await page.goto(f"{url}/")
    await page.locator("#account-nav").get_by_role("button", name="Log out").click()
    await expect(page.locator("#account-nav")).to_contain_text("Sign up")
    await expect(page.locator("[data-testid=account-notice]")).to_be_hidden()
    assert errors == []


async def test_login_throttle_says_when_to_retry(
    mail_server: LiveServer, launch: Launch, artifacts: Path
) -> None:
    errors: list[str] = []
    page = await open_page(await launch(None), errors)
    await page.goto(f"{mail_server.url}/login")
    error = page.locator("#login-error")
    for _ in range(5):
        await log_in(page, "nobody@example.org", "wrong password")
        await expect(error).to_have_attribute("data-code", "bad_credentials")
        await expect(page.locator("#login-submit")).to_be_enabled()
        await page.evaluate("document.getElementById('login-error').dataset.code = ''")
    await log_in(page, "nobody@example.org", "wrong password")
    await expect(error).to_have_attribute("data-code", "too_many_attempts")
    await expect(error).to_contain_text(re.compile(r"Too many attempts\. Try again in \d+"))
    await expect(page.locator("#login-submit")).to_be_disabled()
    await page.screenshot(path=artifacts / "screenshots" / "login-throttled.png", full_page=True)
    assert errors == []


# ---- (c) forgotten password, lost organiser link -------------------------------------------------


async def test_forgotten_password_and_lost_organizer_link(
    mail_server: LiveServer, smtp: SmtpServer, launch: Launch, artifacts: Path
) -> None:
    errors: list[str] = []
    shots = artifacts / "screenshots"
    url = mail_server.url
    email = "rita@example.org"
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{url}/api/v1/accounts", json={
            "company": "Reset Ltd", "name": "Rita", "email": email, "password": PASSWORD,
        }) as response:
            assert response.status == 201, await response.text()
        # An ad hoc conference organised from another address, for the lost link.
        async with http.post(f"{url}/api/v1/conferences", json={
            "title": "Ad hoc call", "organizer": {"name": "Adam", "email": "adam@example.org"},
        }) as response:
            assert response.status == 201, await response.text()
            ad_hoc = await response.json()

    page = await open_page(await launch(None), errors)
    await page.goto(f"{url}/login")
    await page.click("#forgot-jump")
    await expect(page.locator("#forgot-email")).to_be_focused()
    await page.fill("#forgot-email", email)
    await page.click("#forgot-submit")
    await expect(page.locator("[data-testid=forgot-status]")).to_contain_text(
        f"If an account exists for {email}"
    )
    # An unknown address gets the very same answer.
    await page.fill("#forgot-email", "nobody@example.org")
    await page.click("#forgot-submit")
    await expect(page.locator("[data-testid=forgot-status]")).to_contain_text(
        "If an account exists for nobody@example.org"
    )
    await page.screenshot(path=shots / "login-forgot.png", full_page=True)

    messages = await smtp.mailbox.wait_to(email, within=MAIL_WAIT)
    link = mail_link(text_of(messages[0]), "/reset#token=")
    assert link.startswith(f"{url}/reset#token=")

    await page.goto(link)
    await expect(page.locator("#reset-password")).to_be_focused()
    # The token leaves the address bar (and the history) at once.
    assert "token" not in page.url
    await page.fill("#reset-password", "short")
    await page.fill("#reset-password2", "short")
    await page.click("#reset-submit")
    await expect(page.locator("#reset-error")).to_contain_text("at least 10 characters")
    await page.fill("#reset-password", NEW_PASSWORD)
    await page.fill("#reset-password2", NEW_PASSWORD)
    await page.screenshot(path=shots / "reset-form.png", full_page=True)
    await page.click("#reset-submit")
    await expect(page.locator("#reset-done")).to_be_visible()
    await page.screenshot(path=shots / "reset-done.png", full_page=True)
    await page.click("#reset-login")
    await page.wait_for_url(f"{url}/login")

    await log_in(page, email, PASSWORD)
    await expect(page.locator("#login-error")).to_contain_text("Wrong user number")
    await log_in(page, email, NEW_PASSWORD)
    await page.wait_for_url(f"{url}/account")
    await expect(page.locator("[data-testid=me-name]")).to_have_text("Rita")

    # The link works once: used again, it says so and offers a new one.
    await page.goto(link)
    await page.fill("#reset-password", "yet another password")
    await page.fill("#reset-password2", "yet another password")
    await page.click("#reset-submit")
    await expect(page.locator("#reset-invalid")).to_be_visible()
    await expect(page.locator("[data-testid=reset-invalid]")).to_contain_text("already been used")
    await expect(page.locator("#reset-ask-again")).to_have_attribute("href", "/login#forgot")
    await page.screenshot(path=shots / "reset-used.png", full_page=True)
    # Without a token it is clear at once.
    await page.goto(f"{url}/reset")
    await expect(page.locator("[data-testid=reset-invalid]")).to_contain_text("incomplete")

    # Lost organiser link: mailed again, to the organiser's own address only.
    await page.goto(f"{url}/login#lost-link")
    await expect(page.locator("#link-email")).to_be_focused()
    await page.fill("#link-email", "adam@example.org")
    await page.click("#link-submit")
    await expect(page.locator("[data-testid=link-status]")).to_contain_text(
        "If adam@example.org organises open conferences"
    )
    await page.screenshot(path=shots / "login-lost-link.png", full_page=True)

    # Adam's second mail (the first was the invitation) carries a fresh organiser link.
    messages = await smtp.mailbox.wait_to("adam@example.org", count=2, within=MAIL_WAIT)
    assert "Ad hoc call" in str(messages[-1]["Subject"])
    assert f"/organizer/{ad_hoc['id']}#token=" in mail_link(text_of(messages[-1]), "/organizer/")
    assert errors == []


# ---- (d) markup stays text; ?next= stays on the site ---------------------------------------------


async def test_markup_in_names_is_text(
    mail_server: LiveServer, launch: Launch, artifacts: Path
) -> None:
    errors: list[str] = []
    dialogs: list[str] = []
    url = mail_server.url
    page = await open_page(await launch(None), errors, dialogs)
    company = "<script>alert(1)</script>"
    name = '<img src=x onerror="alert(2)">'
    await sign_up(page, url, company=company, name=name, email="mallory@example.org")
    await expect(page.locator("[data-testid=me-name]")).to_have_text(name)
    await expect(page.locator("[data-testid=me-company]")).to_have_text(company)
    await expect(page.locator("[data-testid=nav-user]")).to_contain_text(name)

    key_name = "<b onmouseover=alert(3)>bold</b>"
    await page.fill("#key-name", key_name)
    await page.click("#key-create")
    await expect(page.locator("[data-testid=key-row] th")).to_have_text(key_name)

    organiser = "<svg onload=alert(4)>"
    await page.fill("#org-name", organiser)
    await page.fill("#org-email", "eve@example.org")
    await page.click("#org-submit")
    await expect(page.locator("[data-testid=organizer-row]")).to_have_count(2)
    await expect(page.locator("[data-testid=organizer-row] th").nth(1)).to_have_text(organiser)

    # A conference with markup in its title and a participant's name.
    title = "<script>alert(5)</script> weekly"
    await page.goto(f"{url}/")
    await expect(page.locator("#organizer-name")).to_have_value(name)
    await page.fill("#title", title)
    rows = page.locator("#participant-rows > li")
    await rows.nth(0).locator("[data-field=name]").fill("<iframe src=javascript:alert(6)>")
    await rows.nth(0).locator("[data-field=email]").fill("guest@example.org")
    await page.click("#create-submit")
    await expect(page.locator("body")).to_have_attribute("data-state", "created")
    await expect(page.locator("#result-title")).to_have_text(title)
    await expect(page.locator("[data-testid=account-notice]")).to_contain_text(company)

    await page.goto(f"{url}/account")
    await expect(page.locator("[data-testid=conference] a")).to_have_text(title)
    await page.screenshot(path=artifacts / "screenshots" / "account-markup.png", full_page=True)
    # No element came out of the names: no script, image, iframe, no on* handler anywhere.
    assert await page.evaluate(
        """() => ({
            scripts: document.body.querySelectorAll('script, img, iframe, b').length,
            handlers: [...document.querySelectorAll('*')].filter(
                (el) => [...el.attributes].some((a) => a.name.startsWith('on'))).length,
        })"""
    ) == {"scripts": 0, "handlers": 0}

    # ?next= only ever leads to a path on this site.
    outside = ("//evil.example/x", "/\\evil.example", "https://evil.example/", "javascript:x()")
    for bad in outside:
        await page.goto(f"{url}/login?next={urllib.parse.quote(bad, safe='')}")
        await log_in(page, "mallory@example.org", PASSWORD)
        await page.wait_for_url(f"{url}/account")
    await page.goto(f"{url}/login?next=/%3Flang%3Dde")
    await log_in(page, "mallory@example.org", PASSWORD)
    await page.wait_for_url(f"{url}/?lang=de")
    await expect(page.locator("#create-heading")).to_have_text("Konferenz erstellen")

    assert dialogs == []
    assert errors == []
