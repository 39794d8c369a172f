"""Monthly statements of a company account, from the charges frozen at each conference's end."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from server.api.auth import ACCOUNTS
from server.api.routes import SERVICE
from server.app import create_app
from server.config import Settings
from server.statements import month_bounds
from server.store import ChargeRecord
from server.store.accounts import UserRecord

from .test_accounts import Browser


def test_month_bounds() -> None:
    assert month_bounds("2026-12") == (
        datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC),
    )
    with pytest.raises(ValueError, match="YYYY-MM"):
        month_bounds("2026-13")


@pytest.fixture
async def app_url(aiohttp_server: Any, tmp_path: Path) -> AsyncIterator[tuple[Any, str]]:
    settings = Settings(data_dir=tmp_path / "data", ice_addresses=("127.0.0.1",), sip_port=0)
    server = await aiohttp_server(create_app(settings))
    yield server.app, str(server.make_url("")).rstrip("/")


async def test_the_owner_gets_the_months_lines_as_json_and_csv(
    app_url: tuple[Any, str],
) -> None:
    app, url = app_url
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http, \
            aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as other_http:
        olga = Browser(url, http)
        me = await olga.sign_up("olga@example.org")
        mallory = Browser(url, other_http)
        await mallory.sign_up("mallory@example.org", company="Evil")
        status, conference = await olga.call("POST", "/api/v1/conferences", json={
            "title": "=Board", "participants": [{"name": "Pia", "phone": "+38640123456"}],
        })
        pia = conference["participants"][0]["id"]
        store = app[SERVICE].store

        def charge(at: datetime, payer: str, item: str, amount: str) -> ChargeRecord:
            return ChargeRecord(
                conference_id=conference["id"], account_id=me["account"]["id"],
                participant_id=pia, payer=payer, item=item, quantity=90, unit="second",
                unit_price=Decimal("0.10"), amount=Decimal(amount), currency="EUR",
                detail="SI mobile" if item == "call" else "", at=at,
            )

        november = datetime(2026, 11, 30, 23, 59, tzinfo=UTC)
        await store.add_charges(conference["id"], [
            charge(november, "organizer", "fee", "0.06"),
            charge(november, "organizer", "call", "0.15"),
            charge(november, "caller", "premium", "1.25"),
        ])
        status, view = await olga.call("GET", "/api/v1/account/statements/2026-11")
        assert status == 200, view
        assert (view["currency"], view["total_organizer"], view["total_caller"]) == (
            "EUR", "0.21", "1.25",
        )
        (entry,) = view["conferences"]
        assert entry["title"] == "=Board" and entry["total_organizer"] == "0.21"
        assert [(x["participant"], x["item"], x["amount"]) for x in entry["lines"]] == [
            ("Pia", "fee", "0.06"), ("Pia", "call", "0.15"), ("Pia", "premium", "1.25"),
        ]
        status, december = await olga.call("GET", "/api/v1/account/statements/2026-12")
        assert december["conferences"] == [] and december["total_organizer"] == "0.00"
        status, text = await olga.call("GET", "/api/v1/account/statements/2026-11",
                                        params={"format": "csv"})
        rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
        assert [(r["conference"], r["item"], r["amount"]) for r in rows] == [
            ("'=Board", "fee", "0.06"), ("'=Board", "call", "0.15"), ("'=Board", "premium", "1.25"),
        ]
        # Another company sees nothing of it; a bad month is a clear error.
        status, theirs = await mallory.call("GET", "/api/v1/account/statements/2026-11")
        assert status == 200 and theirs["conferences"] == []
        status, body = await olga.call("GET", "/api/v1/account/statements/11-2026")
        assert status == 400 and body["field"] == "month"
        # An organiser who is not the owner does not see the company's bill.
        accounts = app[ACCOUNTS]
        await store.add_user(UserRecord(
            "igor", me["account"]["id"], "12345678", "Igor", "igor@example.org", "en",
            "organizer", november, await accounts.passwords.hash("igors passphrase"),
        ))
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as igor_http:
            igor = Browser(url, igor_http)
            status, body = await igor.call("POST", "/api/v1/session", json={
                "login": "12345678", "password": "igors passphrase",
            })
            assert status == 200
            status, body = await igor.call("GET", "/api/v1/account/statements/2026-11")
            assert status == 403
