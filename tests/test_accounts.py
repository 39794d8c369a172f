"""Registered organisers over the real HTTP API: sign-up, log-in, CSRF, resets, API keys.

Mail goes to a real SMTP server (aiosmtpd) on loopback.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from server.app import create_app
from server.config import Settings

from .support.smtp import SmtpServer, text_of

PASSWORD = "correct horse battery"


@pytest.fixture
def settings(tmp_path: Path, smtp: SmtpServer) -> Settings:
    return Settings(
        data_dir=tmp_path / "data", ice_addresses=("127.0.0.1",), sip_port=0,
        smtp_url=smtp.url, default_region="SI",
    )


@dataclass
class Browser:
    """One client with its own cookie jar, as a browser would be."""

    url: str
    http: aiohttp.ClientSession
    csrf: str | None = None

    async def call(self, method: str, path: str, *, csrf: bool = True, **kwargs: Any
                   ) -> tuple[int, Any]:
        headers = dict(kwargs.pop("headers", {}))
        if csrf and self.csrf:
            headers["X-CSRF-Token"] = self.csrf
        async with self.http.request(
            method, self.url + path, headers=headers, **kwargs
        ) as response:
            if response.content_type == "application/json":
                return response.status, await response.json()
            return response.status, await response.text()

    async def sign_up(self, email: str, company: str = "Acme d.o.o.", name: str = "Olga") -> Any:
        status, body = await self.call("POST", "/api/v1/accounts", json={
            "company": company, "name": name, "email": email, "password": PASSWORD,
        })
        assert status == 201, body
        self.csrf = body["csrf_token"]
        return body["user"]


@pytest.fixture
async def server(aiohttp_server: Any, settings: Settings) -> AsyncIterator[str]:
    app = await aiohttp_server(create_app(settings))
    yield str(app.make_url("")).rstrip("/")


@pytest.fixture
async def browsers(server: str) -> AsyncIterator[Any]:
    sessions: list[aiohttp.ClientSession] = []

    def make() -> Browser:
        # unsafe: accept cookies from an IP address (127.0.0.1), as browsers do
        http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        sessions.append(http)
        return Browser(server, http)

    yield make
    for http in sessions:
        await http.close()


async def test_sign_up_logs_in_with_a_safe_cookie(server: str, browsers: Any) -> None:
    olga = browsers()
    async with olga.http.post(f"{server}/api/v1/accounts", json={
        "company": "Acme d.o.o.", "name": "Olga", "email": "Olga@Example.org",
        "password": PASSWORD, "language": "sl",
    }) as response:
        assert response.status == 201, await response.text()
        body = await response.json()
        cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    user = body["user"]
    assert re.fullmatch(r"[1-9]\d{7}", user["user_number"])
    assert user["account"]["company"] == "Acme d.o.o." and user["role"] == "owner"
    assert user["language"] == "sl"
    olga.csrf = body["csrf_token"]
    status, me = await olga.call("GET", "/api/v1/session")
    assert status == 200 and me["user"]["id"] == user["id"]
    assert me["csrf_token"] == olga.csrf
    # The same address again, in another case: refused, the first account untouched.
    status, body = await browsers().call("POST", "/api/v1/accounts", json={
        "company": "Other", "name": "X", "email": "olga@example.ORG", "password": PASSWORD,
    })
    assert status == 409 and body["error"] == "email_taken"


@pytest.mark.parametrize(("password", "why"), [
    ("short", "at least 10"), ("aaaaaaaaaaaa", "too easy"), ("olga@example.org", "e-mail"),
])
async def test_weak_passwords_are_refused(browsers: Any, password: str, why: str) -> None:
    status, body = await browsers().call("POST", "/api/v1/accounts", json={
        "company": "Acme", "name": "Olga", "email": "olga@example.org", "password": password,
    })
    assert status == 400 and body["field"] == "password" and why in body["message"]


async def test_log_in_by_user_number_or_e_mail(browsers: Any) -> None:
    user = await browsers().sign_up("olga@example.org")
    for login in (user["user_number"], "OLGA@example.org"):
        status, body = await browsers().call(
            "POST", "/api/v1/session", json={"login": login, "password": PASSWORD}
        )
        assert status == 200, body
        assert body["user"]["id"] == user["id"] and body["csrf_token"]
    status, body = await browsers().call(
        "POST", "/api/v1/session", json={"login": user["user_number"], "password": "wrong one!"}
    )
    assert status == 401 and body["error"] == "bad_credentials"
    # Someone who does not exist gets the very same answer.
    status, other = await browsers().call(
        "POST", "/api/v1/session", json={"login": "nobody@example.org", "password": PASSWORD}
    )
    assert status == 401 and other == body


async def test_wrong_passwords_are_limited(browsers: Any) -> None:
    user = await browsers().sign_up("olga@example.org")
    guesser = browsers()
    statuses = []
    for attempt in range(7):
        status, _ = await guesser.call(
            "POST", "/api/v1/session",
            json={"login": user["user_number"], "password": f"guess {attempt} xyz"},
        )
        statuses.append(status)
    assert statuses[:5] == [401] * 5 and statuses[5:] == [429, 429]
    # Limited per login name: even the right password waits now.
    status, body = await guesser.call(
        "POST", "/api/v1/session", json={"login": user["user_number"], "password": PASSWORD}
    )
    assert status == 429 and body["retry_after"] > 0


async def test_state_changes_need_the_csrf_token(browsers: Any) -> None:
    olga = browsers()
    await olga.sign_up("olga@example.org")
    contact = {"name": "Pia", "phone": "040 123 456"}
    status, body = await olga.call("POST", "/api/v1/contacts", json=contact, csrf=False)
    assert status == 403 and body["error"] == "csrf"
    status, body = await olga.call(
        "POST", "/api/v1/contacts", json=contact, csrf=False, headers={"X-CSRF-Token": "forged"}
    )
    assert status == 403 and body["error"] == "csrf"
    status, body = await olga.call("GET", "/api/v1/contacts", csrf=False)
    assert status == 200 and body == []  # reading needs no token, and nothing was stored
    status, body = await olga.call("POST", "/api/v1/contacts", json=contact)
    assert status == 201 and body["phone"] == "+38640123456"
    # Creating a conference with the cookie but without the token: refused too.
    status, body = await olga.call("POST", "/api/v1/conferences", csrf=False, json={
        "title": "x", "organizer": {"name": "Olga", "email": "olga@example.org"},
    })
    assert status == 403 and body["error"] == "csrf"


async def test_a_cross_site_form_cannot_log_in(browsers: Any) -> None:
    user = await browsers().sign_up("olga@example.org")
    status, body = await browsers().call(
        "POST", "/api/v1/session", data={"login": user["user_number"], "password": PASSWORD}
    )
    assert status == 415 and body["error"] == "unsupported_media_type"


async def test_log_out_ends_the_session(browsers: Any) -> None:
    olga = browsers()
    await olga.sign_up("olga@example.org")
    status, _ = await olga.call("DELETE", "/api/v1/session", csrf=False)
    assert status == 403  # logging someone out is a state change too
    status, _ = await olga.call("DELETE", "/api/v1/session")
    assert status == 204
    status, _ = await olga.call("GET", "/api/v1/session")
    assert status == 401


async def test_password_reset_by_single_use_mail(browsers: Any, smtp: SmtpServer) -> None:
    olga = browsers()
    user = await olga.sign_up("olga@example.org")
    status, body = await browsers().call(
        "POST", "/api/v1/password-reset", json={"email": "olga@example.org"}
    )
    assert status == 202
    # An unknown address gets the same answer and no mail.
    assert await browsers().call(
        "POST", "/api/v1/password-reset", json={"email": "nobody@example.org"}
    ) == (status, body)
    (mail,) = await smtp.mailbox.wait_to("olga@example.org")
    assert user["user_number"] in text_of(mail)
    token = re.search(r"/reset#token=([\w-]+)", text_of(mail))
    assert token, text_of(mail)
    new_password = "a much better passphrase"
    status, _ = await browsers().call("POST", "/api/v1/password-reset/confirm", json={
        "token": token.group(1), "password": new_password,
    })
    assert status == 204
    # Once only.
    status, body = await browsers().call("POST", "/api/v1/password-reset/confirm", json={
        "token": token.group(1), "password": "yet another passphrase",
    })
    assert status == 400 and body["error"] == "invalid_token"
    # The old session is gone; the new password works, the old one does not.
    assert (await olga.call("GET", "/api/v1/session"))[0] == 401
    login = {"login": "olga@example.org", "password": PASSWORD}
    assert (await browsers().call("POST", "/api/v1/session", json=login))[0] == 401
    login["password"] = new_password
    assert (await browsers().call("POST", "/api/v1/session", json=login))[0] == 200
    assert nobody_got_mail(smtp, "nobody@example.org")


def nobody_got_mail(smtp: SmtpServer, address: str) -> bool:
    return smtp.mailbox.to(address) == []


async def test_api_keys_act_for_their_organiser(server: str, browsers: Any) -> None:
    olga = browsers()
    await olga.sign_up("olga@example.org")
    status, key = await olga.call("POST", "/api/v1/api-keys", json={"name": "CRM"})
    assert status == 201 and key["key"].startswith("tk_") and key["prefix"] == key["key"][:10]
    status, keys = await olga.call("GET", "/api/v1/api-keys")
    assert [k["name"] for k in keys] == ["CRM"] and "key" not in keys[0]

    async with aiohttp.ClientSession(
        headers={"Authorization": f"Bearer {key['key']}"}
    ) as api:
        async with api.post(f"{server}/api/v1/conferences", json={"title": "Board"}) as response:
            assert response.status == 201, await response.text()
            conference = await response.json()
        # The organiser defaults to the key's owner, and the conference is theirs.
        assert conference["organizer"]["email"] == "olga@example.org"
        async with api.get(f"{server}/api/v1/conferences") as response:
            listed = await response.json()
        assert [c["id"] for c in listed] == [conference["id"]]
        async with api.get(f"{server}/api/v1/conferences/{conference['id']}") as response:
            assert response.status == 200
            assert (await response.json())["moderator_pin"] == conference["moderator_pin"]
        # No CSRF token needed with a key: it is not sent by browsers on their own.
        async with api.post(f"{server}/api/v1/contacts", json={"name": "Pia",
                                                                "email": "pia@example.org"}
                            ) as response:
            assert response.status == 201

    status, _ = await olga.call("DELETE", f"/api/v1/api-keys/{key['id']}")
    assert status == 204
    async with aiohttp.ClientSession() as api, api.get(
        f"{server}/api/v1/conferences", headers={"Authorization": f"Bearer {key['key']}"}
    ) as response:
        assert response.status == 401


async def test_another_accounts_things_are_not_found(server: str, browsers: Any) -> None:
    olga, mallory = browsers(), browsers()
    await olga.sign_up("olga@example.org")
    await mallory.sign_up("mallory@example.org", company="Evil Corp")
    status, conference = await olga.call("POST", "/api/v1/conferences", json={"title": "Board"})
    assert status == 201
    status, contact = await olga.call("POST", "/api/v1/contacts", json={"name": "Pia",
                                                                         "phone": "+38640123456"})
    assert status == 201
    for method, path in [
        ("GET", f"/api/v1/conferences/{conference['id']}"),
        ("GET", f"/api/v1/conferences/{conference['id']}/report"),
        ("POST", f"/api/v1/conferences/{conference['id']}/end"),
        ("GET", f"/api/v1/contacts/{contact['id']}"),
        ("PATCH", f"/api/v1/contacts/{contact['id']}"),
        ("DELETE", f"/api/v1/contacts/{contact['id']}"),
    ]:
        kwargs = {"json": {"name": "x"}} if method == "PATCH" else {}
        status, body = await mallory.call(method, path, **kwargs)
        assert status == 404 and body["error"] == "not_found", (method, path, body)
        assert "Board" not in str(body) and "Pia" not in str(body)
    status, listed = await mallory.call("GET", "/api/v1/conferences")
    assert listed == []
    # Olga's things are unharmed.
    status, view = await olga.call("GET", f"/api/v1/conferences/{conference['id']}")
    assert status == 200 and view["state"] == "scheduled"
    status, mine = await olga.call("GET", "/api/v1/contacts")
    assert [c["name"] for c in mine] == ["Pia"]


async def test_an_owner_adds_an_organiser_who_sets_a_password(
    browsers: Any, smtp: SmtpServer
) -> None:
    olga = browsers()
    await olga.sign_up("olga@example.org")
    status, added = await olga.call("POST", "/api/v1/account/organizers", json={
        "name": "Igor", "email": "igor@example.org", "language": "de",
    })
    assert status == 201 and added["role"] == "organizer"
    (mail,) = await smtp.mailbox.wait_to("igor@example.org")
    assert "Acme d.o.o." in str(mail["Subject"]) and added["user_number"] in text_of(mail)
    token = re.search(r"/reset#token=([\w-]+)", text_of(mail))
    assert token
    igor = browsers()
    status, _ = await igor.call("POST", "/api/v1/password-reset/confirm", json={
        "token": token.group(1), "password": "igors own passphrase",
    })
    assert status == 204
    status, body = await igor.call("POST", "/api/v1/session", json={
        "login": added["user_number"], "password": "igors own passphrase",
    })
    assert status == 200 and body["user"]["account"]["company"] == "Acme d.o.o."
    igor.csrf = body["csrf_token"]
    status, organizers = await igor.call("GET", "/api/v1/account/organizers")
    assert sorted(o["name"] for o in organizers) == ["Igor", "Olga"]
    # Only the owner adds organisers.
    status, body = await igor.call("POST", "/api/v1/account/organizers", json={
        "name": "Eve", "email": "eve@example.org",
    })
    assert status == 403


async def test_reset_mails_are_limited_per_address(browsers: Any, smtp: SmtpServer) -> None:
    await browsers().sign_up("olga@example.org")
    asker = browsers()
    statuses = [
        (await asker.call("POST", "/api/v1/password-reset", json={"email": "olga@example.org"}))[0]
        for _ in range(6)
    ]
    assert statuses == [202] * 5 + [429]
    assert len(await smtp.mailbox.wait_to("olga@example.org", 5)) == 5


async def test_log_out_ends_the_cookies_session_whatever_else_is_sent(browsers: Any) -> None:
    olga = browsers()
    await olga.sign_up("olga@example.org")
    status, key = await olga.call("POST", "/api/v1/api-keys", json={"name": "x"})
    status, _ = await olga.call(
        "DELETE", "/api/v1/session", headers={"Authorization": f"Bearer {key['key']}"}
    )
    assert status == 204
    assert (await olga.call("GET", "/api/v1/session"))[0] == 401
