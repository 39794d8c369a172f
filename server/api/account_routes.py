"""REST API v1 for registered organisers: sign-up, session, password reset, API keys,
the account's organisers, and the phonebook."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..accounts.service import AccountService, LoggedIn, contact_view, user_view
from ..errors import ServiceError
from ..statements import month_bounds, statement, statement_csv
from ..views import iso
from . import validation as v
from .auth import ACCOUNTS, CSRF_HEADER, SERVICE, SESSION_COOKIE, client_key, optional_caller, user
from .errors import read_body, read_json

routes = web.RouteTableDef()

MAX_CSV_BYTES = 2 * 1024 * 1024


def _accounts(request: web.Request) -> AccountService:
    return request.app[ACCOUNTS]


async def _json_only(request: web.Request, limit: int = 16 * 1024) -> dict[str, Any]:
    """Log-in and sign-up take JSON only: a cross-site HTML form cannot send it (login CSRF)."""
    if request.content_type != "application/json":
        raise ServiceError(415, "unsupported_media_type", "send application/json")
    return await read_json(request, limit=limit)


def _with_session(request: web.Request, response: web.Response, token: str) -> web.Response:
    response.set_cookie(
        SESSION_COOKIE, token, httponly=True, samesite="Lax", path="/",
        secure=request.app[ACCOUNTS].base_url.startswith("https:"),
        max_age=14 * 24 * 3600,
    )
    return response


def _session_body(logged_in: LoggedIn) -> dict[str, Any]:
    return {
        "user": user_view(logged_in.user, logged_in.account),
        "csrf_token": logged_in.csrf_token,
    }


@routes.post("/api/v1/accounts")
async def sign_up(request: web.Request) -> web.Response:
    body = await _json_only(request)
    logged_in = await _accounts(request).sign_up(
        company=v.text(body, "company", max_length=200) or "",
        name=v.text(body, "name", max_length=100) or "",
        email=v.email(body, "email", required=True) or "",
        password=v.password(body, "password"),
        language=v.language(body, "en"),
    )
    response = web.json_response(_session_body(logged_in), status=201)
    return _with_session(request, response, logged_in.session_token)


@routes.post("/api/v1/session")
async def log_in(request: web.Request) -> web.Response:
    body = await _json_only(request)
    login = v.text(body, "login", max_length=254) or ""
    logged_in = await _accounts(request).log_in(
        login, v.password(body, "password"), client_key(request)
    )
    response = web.json_response(_session_body(logged_in))
    return _with_session(request, response, logged_in.session_token)


@routes.get("/api/v1/session")
async def get_session(request: web.Request) -> web.Response:
    found = await optional_caller(request)
    if found is None or found.session is None or found.user is None:
        raise ServiceError(401, "unauthorized", "not logged in")
    me = await _accounts(request).me(found.user)
    return web.json_response({"user": me, "csrf_token": found.session.csrf_token})


@routes.delete("/api/v1/session")
async def log_out(request: web.Request) -> web.Response:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        # The cookie's own session, whatever else the request carries; ending it is a
        # state change, so it needs that session's CSRF token.
        found = await _accounts(request).session(cookie)
        if found is not None:
            if not _accounts(request).csrf_ok(found[1], request.headers.get(CSRF_HEADER)):
                raise ServiceError(403, "csrf", f"log-out needs the CSRF token ({CSRF_HEADER})")
            await _accounts(request).log_out(cookie)
    response = web.Response(status=204)
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


@routes.post("/api/v1/password-reset")
async def ask_password_reset(request: web.Request) -> web.Response:
    body = await _json_only(request)
    email = v.email(body, "email", required=True) or ""
    await _accounts(request).request_password_reset(email, client_key(request))
    # The same answer whether or not the address has an account.
    return web.json_response({"sent": True}, status=202)


@routes.post("/api/v1/password-reset/confirm")
async def confirm_password_reset(request: web.Request) -> web.Response:
    body = await _json_only(request)
    token = v.text(body, "token", max_length=200) or ""
    await _accounts(request).reset_password(token, v.password(body, "password"))
    return web.Response(status=204)


@routes.get("/api/v1/api-keys")
async def list_api_keys(request: web.Request) -> web.Response:
    return web.json_response(await _accounts(request).api_keys(await user(request)))


@routes.post("/api/v1/api-keys")
async def create_api_key(request: web.Request) -> web.Response:
    me = await user(request)
    body = await read_json(request, limit=4096)
    name = v.text(body, "name", max_length=100) or ""
    return web.json_response(await _accounts(request).create_api_key(me, name), status=201)


@routes.delete("/api/v1/api-keys/{key}")
async def revoke_api_key(request: web.Request) -> web.Response:
    await _accounts(request).revoke_api_key(await user(request), request.match_info["key"])
    return web.Response(status=204)


@routes.get("/api/v1/account/organizers")
async def list_organizers(request: web.Request) -> web.Response:
    return web.json_response(await _accounts(request).organizers(await user(request)))


@routes.post("/api/v1/account/organizers")
async def add_organizer(request: web.Request) -> web.Response:
    me = await user(request)
    body = await read_json(request, limit=4096)
    view = await _accounts(request).add_organizer(
        me,
        name=v.text(body, "name", max_length=100) or "",
        email=v.email(body, "email", required=True) or "",
        language=v.language(body, me.language),
    )
    return web.json_response(view, status=201)


# -- the phonebook ---------------------------------------------------------------------


@routes.get("/api/v1/contacts")
async def list_contacts(request: web.Request) -> web.Response:
    me = await user(request)
    query = request.query.get("q")
    return web.json_response(await _accounts(request).contacts(me, query))


@routes.post("/api/v1/contacts")
async def add_contact(request: web.Request) -> web.Response:
    me = await user(request)
    body = await read_json(request, limit=8192)
    return web.json_response(await _accounts(request).add_contact(me, body), status=201)


@routes.get("/api/v1/contacts/export")
async def export_contacts(request: web.Request) -> web.Response:
    me = await user(request)
    # With a byte-order mark: otherwise Excel reads UTF-8 as the local code page.
    text = "\ufeff" + await _accounts(request).export_csv(me)
    return web.Response(
        text=text, content_type="text/csv", charset="utf-8",
        headers={"Content-Disposition": 'attachment; filename="contacts.csv"'},
    )


@routes.post("/api/v1/contacts/import")
async def import_contacts(request: web.Request) -> web.Response:
    me = await user(request)
    data = await read_body(request, MAX_CSV_BYTES, "the file")
    imported = await _accounts(request).import_csv(me, data)
    return web.json_response({"imported": imported})


@routes.get("/api/v1/contacts/{contact}")
async def get_contact(request: web.Request) -> web.Response:
    me = await user(request)
    record = await _accounts(request).contact(me, request.match_info["contact"])
    return web.json_response(contact_view(record))


@routes.patch("/api/v1/contacts/{contact}")
async def patch_contact(request: web.Request) -> web.Response:
    me = await user(request)
    body = await read_json(request, limit=8192)
    view = await _accounts(request).update_contact(me, request.match_info["contact"], body)
    return web.json_response(view)


@routes.delete("/api/v1/contacts/{contact}")
async def delete_contact(request: web.Request) -> web.Response:
    me = await user(request)
    await _accounts(request).delete_contact(me, request.match_info["contact"])
    return web.Response(status=204)



# -- monthly statements ------------------------------------------------------------------


@routes.get("/api/v1/account/statements/{month}")
async def get_statement(request: web.Request) -> web.Response:
    """The company's statement of a month (``YYYY-MM``); ``?format=csv`` for a spreadsheet."""
    me = await user(request)
    if me.role != "owner":
        raise ServiceError(403, "forbidden", "statements are for the account's owner")
    month = request.match_info["month"]
    try:
        start, end = month_bounds(month)
    except ValueError as exc:
        raise ServiceError(400, "invalid", f"month: {exc}", field="month") from None
    accounts = _accounts(request)
    account = await accounts.store.account(me.account_id)
    assert account is not None
    store = request.app[SERVICE].store
    charges = await store.charges_of_account(account.id, start, end)
    conferences: dict[str, dict[str, Any]] = {}
    for conference_id in dict.fromkeys(c.conference_id for c in charges):
        record = await store.load_conference(conference_id)
        if record is not None:
            conf = record.conference
            conferences[conference_id] = {
                "title": conf.title, "ended_at": iso(conf.ended_at),
                "participants": {p.id: p.name for p in conf.participants.values()},
            }
    view = statement(
        account={"id": account.id, "company": account.company}, month=month, charges=charges,
        conferences=conferences,
    )
    if request.query.get("format") == "csv":
        return web.Response(
            text="\ufeff" + statement_csv(view), content_type="text/csv", charset="utf-8",
            headers={"Content-Disposition": f'attachment; filename="statement-{month}.csv"'},
        )
    return web.json_response(view)
