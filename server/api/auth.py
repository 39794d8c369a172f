"""Who is calling: a conference token, a registered organiser's API key, or a session cookie.

- ``Authorization: Bearer <token>``: a conference's organiser or participant token, or an
  API key (``tk_…``) of a registered organiser; no cookie is looked at then.
- The ``telekonf_session`` cookie (HttpOnly, SameSite=Lax) of a logged-in organiser. A
  cookie rides along on requests that other sites make, so every state-changing request
  with it must carry the session's CSRF token in ``X-CSRF-Token`` (the pages read it from
  ``GET /api/v1/session``); one without is refused with 403.

A registered organiser acts as the organiser of the conferences they own; anyone
else's conference is a 404, exactly like one that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from ..accounts.service import API_KEY_PREFIX, AccountService
from ..errors import ServiceError
from ..realtime import SESSION_COOKIE
from ..service import ConferenceService, Principal
from ..store.accounts import SessionRecord, UserRecord

SERVICE = web.AppKey("service", ConferenceService)
ACCOUNTS = web.AppKey("accounts", AccountService)

CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class Caller:
    #: set for a conference token
    principal: Principal | None = None
    #: set for an API key or a session
    user: UserRecord | None = None
    session: SessionRecord | None = None


def client_key(request: web.Request) -> str:
    """Whom wrong PINs and passwords are counted against: the client's address."""
    return f"ip:{request.remote or 'unknown'}"


def bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ServiceError(401, "unauthorized", "an Authorization: Bearer token is required")
    return token.strip()


async def optional_caller(request: web.Request) -> Caller | None:
    """The caller, or None if the request carries no credentials at all."""
    token = bearer(request)
    accounts = request.app[ACCOUNTS]
    if token is not None:
        if token.startswith(API_KEY_PREFIX):
            user = await accounts.user_of_api_key(token)
            if user is None:
                raise ServiceError(401, "invalid_token", "the API key is not valid")
            return Caller(user=user)
        return Caller(principal=await request.app[SERVICE].authenticate(token))
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    found = await accounts.session(cookie)
    if found is None:
        return None
    user, session = found
    if request.method not in SAFE_METHODS and not accounts.csrf_ok(
        session, request.headers.get(CSRF_HEADER)
    ):
        raise ServiceError(
            403, "csrf", f"this form needs its CSRF token ({CSRF_HEADER}); reload the page"
        )
    return Caller(user=user, session=session)


async def caller(request: web.Request) -> Caller:
    found = await optional_caller(request)
    if found is None:
        raise ServiceError(401, "unauthorized", "log in, or send an Authorization: Bearer token")
    return found


async def user(request: web.Request) -> UserRecord:
    """A registered organiser (API key or session); conference tokens do not qualify."""
    found = await caller(request)
    if found.user is None:
        raise ServiceError(403, "forbidden", "this needs a registered organiser's log-in")
    return found.user


async def token_principal(request: web.Request) -> Principal:
    """A conference token only (a participant's own session, WHIP)."""
    found = await caller(request)
    if found.principal is None:
        raise ServiceError(403, "forbidden", "this needs a participant's token")
    return found.principal


async def conference_principal(request: web.Request) -> Principal:
    """The caller's rights on the conference in the path."""
    found = await caller(request)
    if found.principal is not None:
        return found.principal
    assert found.user is not None
    return await request.app[SERVICE].principal_for_user(
        found.user.id, request.match_info["id"]
    )
