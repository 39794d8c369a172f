"""Registered organisers: sign-up, log-in sessions, password resets, API keys, phonebook.

Secrets (session tokens, API keys, reset tokens) are random, shown once and stored
only as SHA-256 hashes; passwords as argon2id hashes. Wrong log-ins are throttled per
login name and per client address, like wrong PINs.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from .. import phonebook
from ..errors import ServiceError, too_many
from ..notify.account_mail import organizer_welcome_mail, password_reset_mail
from ..notify.outbox import Outbox
from ..pins import new_id, token_hash
from ..store.accounts import (
    AccountRecord,
    AccountStore,
    AlreadyTaken,
    ApiKeyRecord,
    ContactRecord,
    SessionRecord,
    UserRecord,
)
from ..throttle import PinThrottle
from .passwords import Passwords, password_problem

logger = logging.getLogger(__name__)

SESSION_LIFETIME = timedelta(days=14)
RESET_LIFETIME = timedelta(hours=1)
WELCOME_LIFETIME = timedelta(hours=72)
#: API keys carry a prefix so that they can be told from conference tokens (and found
#: by secret scanners when leaked)
API_KEY_PREFIX = "tk_"
MAX_API_KEYS = 20
MAX_CONTACTS = 10_000


@dataclass(frozen=True, slots=True)
class LoggedIn:
    user: UserRecord
    account: AccountRecord
    session_token: str
    csrf_token: str


def user_view(user: UserRecord, account: AccountRecord | None = None) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": user.id, "user_number": user.user_number, "name": user.name,
        "email": user.email, "language": user.language, "role": user.role,
    }
    if account is not None:
        view["account"] = {"id": account.id, "company": account.company}
    return view


def contact_view(c: ContactRecord) -> dict[str, Any]:
    return {
        "id": c.id, "name": c.name, "email": c.email, "phone": c.phone,
        "language": c.language, "organisation": c.organisation,
    }


def key_view(k: ApiKeyRecord) -> dict[str, Any]:
    return {
        "id": k.id, "name": k.name, "prefix": k.prefix,
        "created_at": k.created_at.isoformat(),
        "last_used_at": k.last_used_at.isoformat() if k.last_used_at else None,
    }


def _data(c: ContactRecord) -> phonebook.ContactData:
    return phonebook.ContactData(c.name, c.email, c.phone, c.language, c.organisation)


def generate_user_number() -> str:
    """Eight digits, never starting with 0 (people type it into a log-in form)."""
    return str(10_000_000 + secrets.randbelow(90_000_000))


class AccountService:
    def __init__(
        self,
        store: AccountStore,
        *,
        base_url: str,
        region: str | None,
        outbox: Outbox | None = None,
        now: Callable[[], datetime],
        monotonic: Callable[[], float] = time.monotonic,
        passwords: Passwords | None = None,
        login_attempts: int = 5,
        login_window: float = 300.0,
    ) -> None:
        self.store = store
        self.base_url = base_url
        self.region = region
        self.outbox = outbox
        self.now = now
        self.monotonic = monotonic
        self.passwords = passwords or Passwords()
        self.throttle = PinThrottle(login_attempts, login_window)
        self.reset_throttle = PinThrottle(max_failures=5, window=3600.0, free_failures=5)

    # -- sign-up and log-in ----------------------------------------------------------

    async def sign_up(
        self, *, company: str, name: str, email: str, password: str, language: str
    ) -> LoggedIn:
        problem = password_problem(password, email=email)
        if problem:
            raise ServiceError(400, "invalid", f"password: {problem}", field="password")
        now = self.now()
        account = AccountRecord(new_id(), company, now)
        password_hash = await self.passwords.hash(password)
        for _ in range(10):
            user = UserRecord(
                id=new_id(), account_id=account.id, user_number=generate_user_number(),
                name=name, email=email, language=language, role="owner", created_at=now,
                password_hash=password_hash,
            )
            try:
                await self.store.create_account(account, user)
                break
            except AlreadyTaken as exc:
                if exc.what == "email":
                    raise ServiceError(
                        409, "email_taken", "an account with this e-mail address exists;"
                        " log in or reset the password", field="email",
                    ) from None
        else:  # pragma: no cover - 90 million numbers
            raise ServiceError(503, "no_user_number", "try again")
        logger.info("account %s signed up (user %s)", account.id, user.user_number)
        return await self._open_session(user, account)

    async def log_in(self, login: str, password: str, client: str) -> LoggedIn:
        login = login.strip()
        keys = [f"login:{login.casefold()}", client]
        verdict = self.throttle.check_all(keys, self.monotonic())
        if not verdict.allowed:
            raise too_many(
                verdict.retry_after, "too_many_attempts", "too many failed log-ins; try again later"
            )
        digits = login.replace(" ", "")
        user = (
            await self.store.user_by_number(digits) if digits.isdigit()
            else await self.store.user_by_email(login)
        )
        ok = await self.passwords.verify(user.password_hash if user else None, password)
        if not ok or user is None:
            self.throttle.failed_all(keys, self.monotonic())
            raise ServiceError(401, "bad_credentials", "wrong user number, e-mail or password")
        if self.passwords.needs_rehash(user.password_hash):
            await self.store.set_password(
                user.id, await self.passwords.hash(password), end_sessions=False
            )
        account = await self.store.account(user.account_id)
        assert account is not None
        return await self._open_session(user, account)

    async def _open_session(self, user: UserRecord, account: AccountRecord) -> LoggedIn:
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        now = self.now()
        await self.store.add_session(
            token_hash(token), SessionRecord(user.id, csrf, now + SESSION_LIFETIME), now
        )
        return LoggedIn(user, account, token, csrf)

    async def session(self, token: str) -> tuple[UserRecord, SessionRecord] | None:
        """The user behind a session cookie, or None (unknown or expired)."""
        if not token or len(token) > 200:
            return None
        record = await self.store.session(token_hash(token))
        if record is None:
            return None
        if record.expires_at <= self.now():
            await self.store.delete_session(token_hash(token))
            return None
        user = await self.store.user(record.user_id)
        return (user, record) if user else None

    @staticmethod
    def csrf_ok(session: SessionRecord, presented: str | None) -> bool:
        return bool(presented) and hmac.compare_digest(
            session.csrf_token.encode(), (presented or "").encode()
        )

    async def log_out(self, token: str) -> None:
        await self.store.delete_session(token_hash(token))

    async def me(self, user: UserRecord) -> dict[str, Any]:
        return user_view(user, await self.store.account(user.account_id))

    # -- password resets ---------------------------------------------------------------

    async def request_password_reset(self, email: str, client: str) -> None:
        """Mails a single-use link if the address has an account; says nothing either way.

        Limited per address and per client, so nobody can flood a mailbox with links.
        """
        now = self.monotonic()
        keys = (f"reset:{email.casefold()}", client)
        verdict = self.reset_throttle.check_all(keys, now)
        if not verdict.allowed:
            raise too_many(
                verdict.retry_after, "too_many_requests", "too many requests; try again later"
            )
        self.reset_throttle.failed_all(keys, now)
        user = await self.store.user_by_email(email)
        if user is None:
            logger.info("password reset asked for an unknown address")
            return
        link = await self._reset_link(user, RESET_LIFETIME)
        if self.outbox is not None:
            await self.outbox.enqueue([password_reset_mail(
                name=user.name, email=user.email, user_number=user.user_number,
                language=user.language, link=link, hours=int(RESET_LIFETIME.total_seconds())
                // 3600,
            )])

    async def _reset_link(self, user: UserRecord, lifetime: timedelta) -> str:
        token = secrets.token_urlsafe(32)
        now = self.now()
        await self.store.add_password_reset(token_hash(token), user.id, now, now + lifetime)
        # In the fragment: the token never reaches a server log or a Referer.
        return f"{self.base_url}/reset#token={token}"

    async def reset_password(self, token: str, password: str) -> None:
        user_id = await self.store.use_password_reset(token_hash(token), self.now())
        user = await self.store.user(user_id) if user_id else None
        if user is None:
            raise ServiceError(
                400, "invalid_token", "this reset link is not valid any more; ask for a new one"
            )
        problem = password_problem(password, email=user.email)
        if problem:
            # The token is spent: a typo costs a new link, but a token is never reusable.
            raise ServiceError(400, "invalid", f"password: {problem}", field="password")
        await self.store.set_password(user.id, await self.passwords.hash(password))
        logger.info("user %s set a new password; all sessions ended", user.user_number)

    # -- organisers of an account ----------------------------------------------------------

    async def organizers(self, user: UserRecord) -> list[dict[str, Any]]:
        return [user_view(u) for u in await self.store.users_of_account(user.account_id)]

    async def add_organizer(
        self, owner: UserRecord, *, name: str, email: str, language: str
    ) -> dict[str, Any]:
        if owner.role != "owner":
            raise ServiceError(403, "forbidden", "only the account's owner may add organisers")
        account = await self.store.account(owner.account_id)
        assert account is not None
        # No password yet: a random one nobody knows; the new organiser sets theirs.
        unusable = await self.passwords.hash(secrets.token_urlsafe(32))
        for _ in range(10):
            user = UserRecord(
                id=new_id(), account_id=owner.account_id,
                user_number=generate_user_number(), name=name, email=email,
                language=language, role="organizer", created_at=self.now(),
                password_hash=unusable,
            )
            try:
                await self.store.add_user(user)
                break
            except AlreadyTaken as exc:
                if exc.what == "email":
                    raise ServiceError(
                        409, "email_taken", "this e-mail address already has an account",
                        field="email",
                    ) from None
        else:  # pragma: no cover
            raise ServiceError(503, "no_user_number", "try again")
        link = await self._reset_link(user, WELCOME_LIFETIME)
        if self.outbox is not None:
            await self.outbox.enqueue([organizer_welcome_mail(
                name=name, email=email, user_number=user.user_number, language=language,
                inviter=owner.name, company=account.company, link=link,
                hours=int(WELCOME_LIFETIME.total_seconds()) // 3600,
            )])
        return user_view(user)

    # -- API keys --------------------------------------------------------------------

    async def create_api_key(self, user: UserRecord, name: str) -> dict[str, Any]:
        if len(await self.store.api_keys(user.id)) >= MAX_API_KEYS:
            raise ServiceError(409, "too_many_keys", f"at most {MAX_API_KEYS} API keys")
        key = API_KEY_PREFIX + secrets.token_urlsafe(32)
        record = ApiKeyRecord(new_id(), user.id, name, key[:10], self.now())
        await self.store.add_api_key(record, token_hash(key))
        return {**key_view(record), "key": key}

    async def api_keys(self, user: UserRecord) -> list[dict[str, Any]]:
        return [key_view(k) for k in await self.store.api_keys(user.id)]

    async def revoke_api_key(self, user: UserRecord, key_id: str) -> None:
        if not await self.store.revoke_api_key(user.id, key_id, self.now()):
            raise ServiceError(404, "not_found", "no such API key")

    async def user_of_api_key(self, key: str) -> UserRecord | None:
        record = await self.store.api_key_by_hash(token_hash(key))
        if record is None or record.revoked_at is not None:
            return None
        now = self.now()
        if record.last_used_at is None or now - record.last_used_at > timedelta(minutes=5):
            await self.store.touch_api_key(record.id, now)  # coarse: no write per request
        return await self.store.user(record.user_id)

    # -- the phonebook -----------------------------------------------------------------

    async def contacts(self, user: UserRecord, query: str | None = None) -> list[dict[str, Any]]:
        found = await self.store.contacts(user.id)
        if query and query.strip():
            found = [c for c in found if phonebook.matches(_data(c), query)]
        return [contact_view(c) for c in found]

    async def contact(self, user: UserRecord, contact_id: str) -> ContactRecord:
        record = await self.store.contact(user.id, contact_id)
        if record is None:
            # Someone else's contact looks exactly like a missing one.
            raise ServiceError(404, "not_found", "no such contact")
        return record

    def _clean(self, raw: dict[str, Any], default_language: str) -> phonebook.ContactData:
        try:
            return phonebook.clean_contact(
                raw, region=self.region, default_language=default_language
            )
        except phonebook.ContactError as exc:
            raise ServiceError(
                400, "invalid", f"{exc.field}: {exc.message}", field=exc.field
            ) from None

    async def _room_for(self, user: UserRecord, count: int) -> None:
        have = await self.store.count_contacts(user.id)
        if have + count > MAX_CONTACTS:
            raise ServiceError(409, "too_many_contacts", f"at most {MAX_CONTACTS} contacts")

    async def add_contact(self, user: UserRecord, raw: dict[str, Any]) -> dict[str, Any]:
        data = self._clean(raw, user.language)
        await self._room_for(user, 1)
        record = ContactRecord(
            new_id(), user.id, data.name, data.email, data.phone, data.language,
            data.organisation, self.now(),
        )
        await self.store.add_contacts([record])
        return contact_view(record)

    async def update_contact(
        self, user: UserRecord, contact_id: str, raw: dict[str, Any]
    ) -> dict[str, Any]:
        old = await self.contact(user, contact_id)
        merged = {**contact_view(old), **raw}
        data = self._clean(merged, user.language)
        record = replace(
            old, name=data.name, email=data.email, phone=data.phone, language=data.language,
            organisation=data.organisation,
        )
        await self.store.update_contact(record)
        return contact_view(record)

    async def delete_contact(self, user: UserRecord, contact_id: str) -> None:
        if not await self.store.delete_contact(user.id, contact_id):
            raise ServiceError(404, "not_found", "no such contact")

    async def import_csv(self, user: UserRecord, data: bytes) -> int:
        """All or nothing: one broken row and nothing is stored; every broken row reported."""
        result = phonebook.parse_csv(data, region=self.region, default_language=user.language)
        if result.errors:
            raise ServiceError(
                422, "invalid_csv",
                f"{len(result.errors)} problem(s) in the file; nothing was imported",
                rows=[
                    {"row": e.row, "field": e.field, "message": e.message}
                    for e in result.errors
                ],
            )
        await self._room_for(user, len(result.contacts))
        now = self.now()
        await self.store.add_contacts([
            ContactRecord(new_id(), user.id, c.name, c.email, c.phone, c.language,
                          c.organisation, now)
            for c in result.contacts
        ])
        return len(result.contacts)

    async def export_csv(self, user: UserRecord) -> str:
        return phonebook.export_csv(_data(c) for c in await self.store.contacts(user.id))
