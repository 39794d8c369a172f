"""After the conference, in headless Chromium against ``telekonf serve``: the organiser page's
report and the account's monthly statements, from a real (short) conference.

A registered organiser signs up, creates a conference with the session, and two aiortc
clients (the organiser with the moderator PIN and a guest) join over WebRTC; after a couple
of seconds the conference is ended through the API with the session's CSRF token. The server
then plays its farewell, drops the legs, freezes the charges and mails the report (a real
SMTP server on loopback, aiosmtpd).

- (a) /account → Statements: the current month lists the conference with its web fee lines
  (2 s at a registered web fee round to 0.00, so the rows, durations and prices are checked,
  not the amounts), month totals, a CSV download; another month says there were no charges;
  money follows the page language.
- (b) /organizer/{id}, open while the conference ends: the Report panel appears with each
  participant's sessions, then (once priced, a moment later) the costs table with totals per
  payer; a reload shows the same from the snapshot; the report also arrives by e-mail.

Screenshots go to artifacts/screenshots/.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Page, Route, expect

from ..conftest import LiveServer
from ..support.client import Participant, wait_until
from ..support.smtp import SmtpServer, text_of
from .browser import Launch, create_conference, new_page

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"
OWNER = "Olga Owner"
OWNER_EMAIL = "olga@example.org"
GUEST = "Pia <b>Gast</b>"
CALL_SECONDS = 2.0  # how long the call lasts: billed time, not a wait for some state
PRICED_WITHIN = 30.0  # farewell played, legs dropped, charges frozen


# ---- helpers ---------------------------------------------------------------------------------


async def sign_up(page: Page, url: str) -> str:
    """A new company account through the API with the page's own request context (it keeps
    the session cookie); returns the session's CSRF token."""
    response = await page.request.post(
        f"{url}/api/v1/accounts",
        data={
            "company": "Acme d.o.o.",
            "name": OWNER,
            "email": OWNER_EMAIL,
            "password": PASSWORD,
            "language": "en",
        },
    )
    assert response.status == 201, await response.text()
    return str((await response.json())["csrf_token"])


async def api_post(page: Page, url: str, path: str, csrf: str, body: Any = None) -> Any:
    response = await page.request.post(
        f"{url}{path}", data=body if body is not None else {}, headers={"X-CSRF-Token": csrf}
    )
    assert response.status in (200, 201, 202), await response.text()
    return await response.json()


async def api_get(page: Page, url: str, path: str) -> Any:
    response = await page.request.get(f"{url}{path}")
    assert response.status == 200, await response.text()
    return await response.json()


@asynccontextmanager
async def in_the_call(url: str, conf: dict[str, Any]) -> AsyncIterator[list[Participant]]:
    """The organiser (moderator PIN) and a guest in the conference over WebRTC (aiortc)."""
    async with aiohttp.ClientSession() as http:
        organizer = Participant(http, url, None)
        guest = Participant(http, url, 440.0)
        try:
            await organizer.join(conf["moderator_pin"], OWNER)
            assert organizer.joined["role"] == "organizer"
            await guest.join(conf["pin"], GUEST)
            yield [organizer, guest]
        finally:
            await organizer.close()
            await guest.close()


async def connected(page: Page, url: str, conf_id: str, count: int) -> None:
    """Until ``count`` participants are in the call (joined, not left)."""

    async def check() -> bool:
        view = await api_get(page, url, f"/api/v1/conferences/{conf_id}")
        return sum(1 for p in view["participants"] if p["joined_at"] and not p["left_at"]) >= count

    await wait_until(check, within=20, interval=0.2)


async def priced(page: Page, url: str, conf_id: str) -> dict[str, Any]:
    """The report once its costs are frozen."""
    found: dict[str, Any] = {}

    async def check() -> bool:
        found.update(await api_get(page, url, f"/api/v1/conferences/{conf_id}/report"))
        return found.get("costs") is not None

    await wait_until(check, within=PRICED_WITHIN, interval=0.3)
    return found


# ---- (a) statements on /account --------------------------------------------------------------


async def test_statement_lists_the_conference_of_the_month(
    mail_server: LiveServer, launch: Launch, artifacts: Path
) -> None:
    errors: list[str] = []
    shots = artifacts / "screenshots"
    url = mail_server.url
    page = await new_page(await launch(None), errors)
    csrf = await sign_up(page, url)

    # Nothing yet: this month has no charges, said so plainly.
    await page.goto(f"{url}/account")
    section = page.get_by_test_id("statements")
    await expect(section).to_be_visible()
    await expect(section).to_have_attribute("data-state", "ready")
    this_month = date.today().strftime("%Y-%m")
    await expect(page.get_by_test_id("statement-month")).to_have_value(this_month)
    month_name = date.today().strftime("%B %Y")
    await expect(page.get_by_test_id("statement-empty")).to_have_text(
        f"No charges in {month_name}."
    )
    await expect(page.get_by_test_id("statement-csv")).to_be_hidden()

    conf = await api_post(
        page,
        url,
        "/api/v1/conferences",
        csrf,
        {
            "title": "Monthly <i>review</i>",
            "language": "en",
        },
    )
    async with in_the_call(url, conf):
        await connected(page, url, conf["id"], 2)
        await asyncio.sleep(CALL_SECONDS)  # the call's billed length
        await api_post(page, url, f"/api/v1/conferences/{conf['id']}/end", csrf)
        report = await priced(page, url, conf["id"])
    assert {line["item"] for line in report["costs"]["lines"]} == {"fee"}

    await page.reload()
    await expect(section).to_have_attribute("data-state", "ready")
    confs = page.get_by_test_id("statement-conference")
    await expect(confs).to_have_count(1)
    await expect(confs.get_by_test_id("statement-title")).to_have_text("Monthly <i>review</i>")
    await expect(confs).to_contain_text("Ended ")
    lines = confs.get_by_test_id("statement-line")
    await expect(lines).to_have_count(2)
    for who in (OWNER, GUEST):
        line = lines.filter(has=page.get_by_test_id("line-who").get_by_text(who, exact=True))
        await expect(line).to_have_count(1)
        await expect(line).to_have_attribute("data-item", "fee")
        await expect(line.get_by_test_id("line-item")).to_have_text("Conference fee (browser)")
        await expect(line.get_by_test_id("line-quantity")).to_have_text(re.compile(r"^\d+:\d\d$"))
        await expect(line.get_by_test_id("line-quantity")).not_to_have_text("0:00")
        await expect(line.get_by_test_id("line-unit-price")).to_have_text("€0.01/min")
        await expect(line.get_by_test_id("line-amount")).to_have_text(re.compile(r"^€\d+\.\d\d$"))
        await expect(line.get_by_test_id("payer")).to_have_text("The account")
    await expect(
        confs.get_by_test_id("statement-total-organizer").get_by_test_id("amount")
    ).to_have_text(re.compile(r"^€\d+\.\d\d$"))
    await expect(
        confs.get_by_test_id("statement-total-caller").get_by_test_id("amount")
    ).to_have_text("€0.00")
    await expect(page.get_by_test_id("month-conferences")).to_have_text("1")
    await expect(page.get_by_test_id("month-total-caller")).to_have_text("€0.00")
    csv_link = page.get_by_test_id("statement-csv")
    await expect(csv_link).to_be_visible()
    await expect(csv_link).to_have_attribute(
        "href", f"/api/v1/account/statements/{this_month}?format=csv"
    )
    await section.screenshot(path=shots / "account-statement.png")

    # The download is the same month as a spreadsheet, by the session alone.
    async with page.expect_download() as info:
        await csv_link.click()
    download = await info.value
    assert download.suggested_filename == f"statement-{this_month}.csv"
    saved = Path(await download.path())
    text = await asyncio.to_thread(saved.read_text, encoding="utf-8-sig")
    rows = text.strip().splitlines()
    assert rows[0].startswith("conference_id,conference,ended_at,participant,payer,item")
    assert len(rows) == 3 and all(conf["id"] in row for row in rows[1:]), text

    # Another month: nothing, and no download to offer.
    month_input = page.get_by_test_id("statement-month")
    await month_input.fill("2020-02")
    await expect(page.get_by_test_id("statement-empty")).to_have_text(
        "No charges in February 2020."
    )
    await expect(confs).to_have_count(0)
    await expect(csv_link).to_be_hidden()
    await month_input.fill(this_month)
    await expect(confs).to_have_count(1)

    # Money and labels follow the page language.
    await page.select_option("#lang-select", "de")
    await expect(page.locator("#statements-heading")).to_have_text("Abrechnungen")
    await expect(lines.first.get_by_test_id("line-unit-price")).to_have_text(
        re.compile(r"^0,01\s€/Min\.$")
    )
    await expect(lines.first.get_by_test_id("payer")).to_have_text("Das Konto")
    await expect(lines.first.get_by_test_id("line-item")).to_have_text("Konferenzgebühr (Browser)")
    await section.screenshot(path=shots / "account-statement-de.png")
    assert errors == []


# ---- (b) the report on the organiser page -------------------------------------------------------


async def test_organizer_page_shows_the_report_and_costs(
    mail_server: LiveServer, smtp: SmtpServer, launch: Launch, artifacts: Path
) -> None:
    errors: list[str] = []
    shots = artifacts / "screenshots"
    url = mail_server.url
    page = await new_page(await launch(None), errors)
    csrf = await sign_up(page, url)
    conf = await api_post(
        page,
        url,
        "/api/v1/conferences",
        csrf,
        {
            "title": "Weekly sync",
            "language": "en",
        },
    )

    await page.goto(f"{url}/organizer/{conf['id']}")
    await expect(page.locator("#live-status")).to_have_attribute("data-live", "online")
    panel = page.get_by_test_id("report")
    await expect(panel).to_be_hidden()

    async with in_the_call(url, conf) as (organizer, guest):
        for someone in (organizer, guest):
            await expect(page.locator(f'.participant[data-id="{someone.id}"]')).to_have_attribute(
                "data-state", re.compile(r"^(connected|talking)$")
            )
        await asyncio.sleep(CALL_SECONDS)  # the call's billed length
        await api_post(page, url, f"/api/v1/conferences/{conf['id']}/end", csrf)

        # The end arrives live: the report panel opens by itself.
        await expect(page.locator("#conf-state-badge")).to_have_text("Ended")
        await expect(panel).to_be_visible()
        # The PINs are free again for other conferences: no longer shown.
        await expect(page.get_by_test_id("pin")).to_have_count(0)
        await expect(page.get_by_test_id("moderator-pin")).to_have_count(0)
        await expect(page.get_by_test_id("report-mail")).to_have_text(
            f"The report is also sent by e-mail to {OWNER_EMAIL}, with every session in a CSV file."
        )
        people = page.get_by_test_id("report-participant")
        await expect(people).to_have_count(2)
        # Costs come a moment after the end, once the farewell is over and the legs are gone.
        costs = page.get_by_test_id("costs-table")
        await expect(costs).to_be_visible(timeout=PRICED_WITHIN * 1000)
        await expect(panel).to_have_attribute("data-state", "ready")

    for someone, name in ((organizer, OWNER), (guest, GUEST)):
        person = page.locator(f'[data-testid=report-participant][data-id="{someone.id}"]')
        await expect(person.get_by_test_id("report-name")).to_have_text(name)
        sessions = person.get_by_test_id("report-session")
        await expect(sessions).to_have_count(1)
        await expect(sessions.get_by_test_id("session-how")).to_have_text("Browser")
        await expect(sessions.get_by_test_id("session-duration")).to_have_text(
            re.compile(r"^0:(0[2-9]|[1-5]\d)$")
        )
        await expect(sessions.get_by_test_id("left-reason")).to_have_text(
            "at the end of the conference"
        )
    organizer_row = page.locator(f'[data-testid=report-participant][data-id="{organizer.id}"]')
    await expect(organizer_row).to_contain_text("organiser")
    await expect(page.get_by_test_id("report-total-participants")).to_have_text("2")
    await expect(page.get_by_test_id("report-total-sessions")).to_have_text("2")

    lines = costs.get_by_test_id("cost-line")
    await expect(lines).to_have_count(2)
    for name in (OWNER, GUEST):
        line = lines.filter(has=page.get_by_test_id("cost-who").get_by_text(name, exact=True))
        await expect(line).to_have_attribute("data-payer", "organizer")
        await expect(line.get_by_test_id("cost-item")).to_have_text("Conference fee (browser)")
        await expect(line.get_by_test_id("cost-amount")).to_have_text(re.compile(r"^€\d+\.\d\d$"))
        await expect(line.get_by_test_id("payer")).to_have_text("You (the organiser)")
    await expect(costs.get_by_test_id("cost-total-organizer")).to_contain_text("Total for you")
    await expect(
        costs.get_by_test_id("cost-total-caller").get_by_test_id("cost-total")
    ).to_have_text("€0.00")
    await expect(page.get_by_test_id("report-costs-status")).to_be_hidden()
    await page.screenshot(path=shots / "organizer-report.png", full_page=True)

    # A later visit: the ended snapshot alone brings the report, costs included.
    await page.reload()
    await expect(panel).to_be_visible()
    await expect(costs.get_by_test_id("cost-line")).to_have_count(2)
    await expect(page.get_by_test_id("report-participant")).to_have_count(2)
    await page.select_option("#lang-select", "sl")
    await expect(page.locator("#report-heading")).to_have_text("Poročilo")
    await expect(page.get_by_test_id("session-how").first).to_have_text("Brskalnik")
    await expect(costs.get_by_test_id("cost-amount").first).to_have_text(
        re.compile(r"^\d+,\d\d\s€$")
    )
    await page.screenshot(path=shots / "organizer-report-sl.png", full_page=True)

    # And the same report came by e-mail, once.
    messages = await smtp.mailbox.wait_for(
        lambda ms: any(str(m["Subject"]).startswith("Report:") for m in ms), within=20
    )
    reports = [m for m in messages if str(m["Subject"]).startswith("Report:")]
    assert len(reports) == 1 and OWNER_EMAIL in str(reports[0]["To"])
    assert "Weekly sync" in text_of(reports[0])
    assert errors == []


# ---- (c) every kind of session and charge, and the wait for the costs ----------------------------


def crafted_report(conf_id: str, *, costs: bool) -> dict[str, Any]:
    """A report with a session of every kind (as the server words them), for the page's
    wording; the conference itself ended with nobody in it."""

    def session(mode: str, seconds: float, reason: str, **access: str) -> dict[str, Any]:
        return {
            "mode": mode,
            "joined_at": "2026-11-02T09:00:00Z",
            "left_at": "2026-11-02T09:10:00Z",
            "left_reason": reason,
            "seconds": seconds,
            "access_number": access.get("number"),
            "access_mode": access.get("access_mode"),
        }

    def line(
        who: str | None,
        payer: str,
        item: str,
        quantity: int,
        unit: str,
        price: str,
        amount: str,
        detail: str = "",
    ) -> dict[str, Any]:
        return {
            "participant_id": who,
            "payer": payer,
            "item": item,
            "quantity": quantity,
            "unit": unit,
            "unit_price": price,
            "amount": amount,
            "detail": detail,
        }

    def person(pid: str, name: str, phone: str | None, *legs: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": pid,
            "name": name,
            "role": "organizer" if pid == "p-olga" else "participant",
            "phone": phone,
            "email": None,
            "state": "left",
            "sessions": list(legs),
            "seconds": sum(leg["seconds"] for leg in legs),
        }

    return {
        "conference": {
            "id": conf_id,
            "title": "Crafted",
            "state": "ended",
            "organizer": {"name": "Olga", "email": "olga@example.org", "phone": None},
            "created_at": "2026-11-02T08:00:00Z",
            "started_at": "2026-11-02T09:00:00Z",
            "ended_at": "2026-11-02T10:05:00Z",
        },
        "participants": [
            person("p-olga", "Olga", None, session("web", 125.4, "ended")),
            person(
                "p-dora",
                "Dora",
                "+38640123456",
                session("dial-in", 61, "server-died", number="+38612345678", access_mode="premium"),
                session("dial-in", 30, "left"),
            ),
            person("p-carl", "", "+4930123456", session("dial-out", 30, "removed")),
            person("p-nina", "Nina", None),
        ],
        "totals": {"participants": 3, "sessions": 4, "seconds": 246.4},
        "costs": {
            "currency": "EUR",
            "lines": [
                line(
                    "p-olga",
                    "organizer",
                    "fee",
                    125,
                    "second",
                    "0.010",
                    "0.02",
                    "web fee, registered",
                ),
                line(
                    "p-dora",
                    "caller",
                    "premium",
                    61,
                    "second",
                    "0.49",
                    "0.50",
                    "premium access number",
                ),
                line(
                    "p-carl",
                    "organizer",
                    "fee",
                    30,
                    "second",
                    "0.025",
                    "0.01",
                    "dial-out fee, registered",
                ),
                line("p-carl", "organizer", "call", 30, "second", "0.025", "0.01", "DE fixed"),
                line(None, "organizer", "addon:custom_welcome", 1, "each", "5.00", "5.00"),
            ],
            "total_organizer": "5.04",
            "total_caller": "0.50",
        }
        if costs
        else None,
    }


async def test_report_words_every_session_and_waits_for_the_costs(
    live_server: LiveServer, launch: Launch, artifacts: Path
) -> None:
    errors: list[str] = []
    url = live_server.url
    async with aiohttp.ClientSession() as http:
        conf = await create_conference(http, url, title="Crafted")
        async with http.post(
            f"{url}/api/v1/conferences/{conf['id']}/end",
            headers={"Authorization": f"Bearer {conf['organizer_token']}"},
        ) as response:
            assert response.status == 200, await response.text()

    # The server's answer is replaced by a crafted one: priced from the third request on.
    asked: list[str] = []

    async def answer(route: Route) -> None:
        asked.append(route.request.headers.get("authorization", ""))
        body = crafted_report(conf["id"], costs=len(asked) >= 3)
        await route.fulfill(json=body)

    page = await new_page(await launch(None), errors)
    await page.route(f"**/api/v1/conferences/{conf['id']}/report", answer)
    await page.goto(f"{url}/organizer/{conf['id']}#token={conf['organizer_token']}")
    panel = page.get_by_test_id("report")
    await expect(panel).to_be_visible()
    status = page.get_by_test_id("report-costs-status")
    await expect(status).to_have_text("Working out the costs…")
    await expect(panel).to_have_attribute("data-state", "priced-later")
    costs = page.get_by_test_id("costs-table")
    await expect(costs).to_be_visible()
    await expect(status).to_be_hidden()
    assert len(asked) == 3 and all(a == f"Bearer {conf['organizer_token']}" for a in asked)

    def row(pid: str) -> Any:
        return page.locator(f'[data-testid=report-participant][data-id="{pid}"]')

    olga = row("p-olga")
    await expect(olga.get_by_test_id("session-how")).to_have_text("Browser")
    await expect(olga.get_by_test_id("session-duration")).to_have_text("2:05")
    dora = row("p-dora").get_by_test_id("report-session")
    await expect(dora).to_have_count(2)
    await expect(dora.nth(0).get_by_test_id("session-how")).to_have_text(
        re.compile(r"^Dial-in on \+386 1 ?234 ?56 ?78 \(Premium rate\)$")
    )
    await expect(dora.nth(0).get_by_test_id("left-reason")).to_have_text(
        "connection lost when the server stopped"
    )
    await expect(dora.nth(0).get_by_test_id("session-duration")).to_have_text("1:01")
    await expect(dora.nth(1).get_by_test_id("session-how")).to_have_text("Dial-in")
    await expect(dora.nth(1).get_by_test_id("left-reason")).to_have_count(0)
    await expect(row("p-dora").get_by_test_id("report-phone")).to_contain_text("+386")
    await expect(row("p-dora").get_by_test_id("report-person-total")).to_have_text("1:31")
    carl = row("p-carl")
    await expect(carl.get_by_test_id("report-name")).to_contain_text("+49")  # no name: the number
    await expect(carl.get_by_test_id("session-how")).to_have_text("Called by the system")
    await expect(carl.get_by_test_id("left-reason")).to_have_text("removed by the organiser")
    await expect(row("p-nina")).to_contain_text("Did not join")
    await expect(page.get_by_test_id("report-duration")).to_have_text("1:05:00")
    await expect(page.get_by_test_id("report-total-time")).to_have_text("4:06")

    lines = costs.get_by_test_id("cost-line")
    await expect(lines).to_have_count(5)
    premium = lines.and_(page.locator('[data-item="premium"]'))
    await expect(premium.get_by_test_id("cost-who")).to_have_text("Dora")
    await expect(premium.get_by_test_id("cost-item")).to_have_text(
        "Premium-rate call (call and conference fee)"
    )
    await expect(premium.get_by_test_id("payer")).to_have_text("The caller, via their phone bill")
    call = lines.and_(page.locator('[data-item="call"]'))
    await expect(call.get_by_test_id("cost-item")).to_contain_text("Call")
    await expect(call.locator(".line-note")).to_have_text("DE fixed")  # where the call went
    await expect(call).to_contain_text("€0.025/min")
    fee = lines.and_(page.locator('[data-item="fee"][data-participant="p-carl"]'))
    await expect(fee.get_by_test_id("cost-item")).to_have_text(
        "Conference fee (called by the system)"
    )
    addon = lines.and_(page.locator('[data-item="addon:custom_welcome"]'))
    await expect(addon.get_by_test_id("cost-who")).to_have_text("Conference")
    await expect(addon.get_by_test_id("cost-item")).to_have_text("Add-on: custom welcome message")
    await expect(addon.get_by_test_id("cost-quantity")).to_have_text("1")
    await expect(addon.get_by_test_id("cost-amount")).to_have_text("€5.00")
    await expect(costs.get_by_test_id("cost-total-organizer")).to_contain_text("€5.04")
    await expect(costs.get_by_test_id("cost-total-caller")).to_contain_text("€0.50")
    await panel.screenshot(path=artifacts / "screenshots" / "organizer-report-kinds.png")

    # Priced: no more asking.
    await page.wait_for_timeout(1500)
    assert len(asked) == 3
    assert errors == []
