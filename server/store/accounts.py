"""What the store keeps for registered organisers: accounts, users, sessions, keys, contacts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


class AlreadyTaken(Exception):
    """A unique value (e-mail address, user number) is in use."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


@dataclass(frozen=True, slots=True)
class AccountRecord:
    id: str
    company: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class UserRecord:
    id: str
    account_id: str
    user_number: str
    name: str
    email: str
    language: str
    role: str  # "owner" (manages the account's organisers) or "organizer"
    created_at: datetime
    password_hash: str


@dataclass(frozen=True, slots=True)
class SessionRecord:
    user_id: str
    csrf_token: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    id: str
    user_id: str
    name: str
    prefix: str  # the first characters of the key, to recognise it in a list
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ContactRecord:
    id: str
    user_id: str
    name: str
    email: str | None
    phone: str | None  # E.164
    language: str
    organisation: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ConferenceSummary:
    id: str
    title: str
    state: str
    created_at: datetime
    starts_at: datetime | None
    ended_at: datetime | None


class AccountStore(Protocol):
    async def create_account(self, account: AccountRecord, owner: UserRecord) -> None: ...

    async def add_user(self, user: UserRecord) -> None: ...

    async def user(self, user_id: str) -> UserRecord | None: ...

    async def user_by_email(self, email: str) -> UserRecord | None: ...

    async def user_by_number(self, user_number: str) -> UserRecord | None: ...

    async def account(self, account_id: str) -> AccountRecord | None: ...

    async def users_of_account(self, account_id: str) -> list[UserRecord]: ...

    async def set_password(
        self, user_id: str, password_hash: str, *, end_sessions: bool = True
    ) -> None: ...

    async def add_session(
        self, token_hash: str, session: SessionRecord, created_at: datetime
    ) -> None: ...

    async def session(self, token_hash: str) -> SessionRecord | None: ...

    async def delete_session(self, token_hash: str) -> None: ...

    async def add_api_key(self, key: ApiKeyRecord, key_hash: str) -> None: ...

    async def api_key_by_hash(self, key_hash: str) -> ApiKeyRecord | None: ...

    async def api_keys(self, user_id: str) -> list[ApiKeyRecord]: ...

    async def revoke_api_key(self, user_id: str, key_id: str, now: datetime) -> bool: ...

    async def touch_api_key(self, key_id: str, now: datetime) -> None: ...

    async def add_password_reset(
        self, token_hash: str, user_id: str, created_at: datetime, expires_at: datetime
    ) -> None: ...

    async def use_password_reset(self, token_hash: str, now: datetime) -> str | None: ...

    async def add_contacts(self, contacts: list[ContactRecord]) -> None: ...

    async def contacts(self, user_id: str) -> list[ContactRecord]: ...

    async def count_contacts(self, user_id: str) -> int: ...

    async def contact(self, user_id: str, contact_id: str) -> ContactRecord | None: ...

    async def update_contact(self, contact: ContactRecord) -> None: ...

    async def delete_contact(self, user_id: str, contact_id: str) -> bool: ...

    async def conferences_of_user(self, user_id: str) -> list[ConferenceSummary]: ...

    async def open_conferences_of_organizer(self, email: str) -> list[str]: ...
