"""The SQLite side of accounts: mixed into ``SqliteStore`` (same connection, same file)."""

from __future__ import annotations

import sqlite3
from datetime import datetime

import aiosqlite

from .accounts import (
    AccountRecord,
    AlreadyTaken,
    ApiKeyRecord,
    ConferenceSummary,
    ContactRecord,
    SessionRecord,
    UserRecord,
)
from .sqltime import parse_time, utc_text_or_none


def email_key(email: str) -> str:
    """One account per address, whatever its case."""
    return email.strip().casefold()


def _user(r: sqlite3.Row) -> UserRecord:
    return UserRecord(
        id=r["id"], account_id=r["account_id"], user_number=r["user_number"], name=r["name"],
        email=r["email"], language=r["language"], role=r["role"],
        created_at=parse_time(r["created_at"]) or datetime.min, password_hash=r["password_hash"],
    )


def _key(r: sqlite3.Row) -> ApiKeyRecord:
    return ApiKeyRecord(
        id=r["id"], user_id=r["user_id"], name=r["name"], prefix=r["prefix"],
        created_at=parse_time(r["created_at"]) or datetime.min,
        last_used_at=parse_time(r["last_used_at"]), revoked_at=parse_time(r["revoked_at"]),
    )


def _contact(r: sqlite3.Row) -> ContactRecord:
    return ContactRecord(
        id=r["id"], user_id=r["user_id"], name=r["name"], email=r["email"], phone=r["phone"],
        language=r["language"], organisation=r["organisation"],
        created_at=parse_time(r["created_at"]) or datetime.min,
    )


def _taken(exc: sqlite3.IntegrityError) -> AlreadyTaken:
    text = str(exc)
    return AlreadyTaken("email" if "email_key" in text else "user_number")


class SqliteAccounts:
    db: aiosqlite.Connection

    async def _insert_user(self, u: UserRecord) -> None:
        await self.db.execute(
            "INSERT INTO users (id, account_id, user_number, name, email, email_key,"
            " password_hash, language, role, created_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (
                u.id, u.account_id, u.user_number, u.name, u.email, email_key(u.email),
                u.password_hash, u.language, u.role, utc_text_or_none(u.created_at),
            ),
        )

    async def create_account(self, account: AccountRecord, owner: UserRecord) -> None:
        try:
            await self.db.execute(
                "INSERT INTO accounts (id, company, created_at) VALUES (?,?,?)",
                (account.id, account.company, utc_text_or_none(account.created_at)),
            )
            await self._insert_user(owner)
        except sqlite3.IntegrityError as exc:
            await self.db.rollback()
            raise _taken(exc) from exc
        await self.db.commit()

    async def add_user(self, user: UserRecord) -> None:
        try:
            await self._insert_user(user)
        except sqlite3.IntegrityError as exc:
            await self.db.rollback()
            raise _taken(exc) from exc
        await self.db.commit()

    async def _one_user(self, where: str, value: str) -> UserRecord | None:
        async with self.db.execute(f"SELECT * FROM users WHERE {where}=?", (value,)) as cursor:
            row = await cursor.fetchone()
        return _user(row) if row else None

    async def user(self, user_id: str) -> UserRecord | None:
        return await self._one_user("id", user_id)

    async def user_by_email(self, email: str) -> UserRecord | None:
        return await self._one_user("email_key", email_key(email))

    async def user_by_number(self, user_number: str) -> UserRecord | None:
        return await self._one_user("user_number", user_number)

    async def account(self, account_id: str) -> AccountRecord | None:
        async with self.db.execute(
            "SELECT * FROM accounts WHERE id=?", (account_id,)
        ) as cursor:
            row = await cursor.fetchone()
        if row is None:
            return None
        created = parse_time(row["created_at"]) or datetime.min
        return AccountRecord(row["id"], row["company"], created)

    async def users_of_account(self, account_id: str) -> list[UserRecord]:
        async with self.db.execute(
            "SELECT * FROM users WHERE account_id=? ORDER BY created_at, id", (account_id,)
        ) as cursor:
            return [_user(r) for r in await cursor.fetchall()]

    async def set_password(
        self, user_id: str, password_hash: str, *, end_sessions: bool = True
    ) -> None:
        """A new password also ends every session of the user (a reset locks others out);
        a stronger hash of the same password (``end_sessions=False``) does not."""
        await self.db.execute(
            "UPDATE users SET password_hash=? WHERE id=?", (password_hash, user_id)
        )
        if end_sessions:
            await self.db.execute("DELETE FROM sessions WHERE user_id=?", (user_id,))
        await self.db.commit()

    # -- sessions --------------------------------------------------------------------

    async def add_session(
        self, token_hash: str, session: SessionRecord, created_at: datetime
    ) -> None:
        await self.db.execute(
            "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at)"
            " VALUES (?,?,?,?,?)",
            (token_hash, session.user_id, session.csrf_token, utc_text_or_none(created_at),
             utc_text_or_none(session.expires_at)),
        )
        await self.db.commit()

    async def session(self, token_hash: str) -> SessionRecord | None:
        async with self.db.execute(
            "SELECT * FROM sessions WHERE token_hash=?", (token_hash,)
        ) as cursor:
            row = await cursor.fetchone()
        if row is None:
            return None
        return SessionRecord(
            row["user_id"], row["csrf_token"], parse_time(row["expires_at"]) or datetime.min
        )

    async def delete_session(self, token_hash: str) -> None:
        await self.db.execute("DELETE FROM sessions WHERE token_hash=?", (token_hash,))
        await self.db.commit()

    # -- API keys --------------------------------------------------------------------

    async def add_api_key(self, key: ApiKeyRecord, key_hash: str) -> None:
        await self.db.execute(
            "INSERT INTO api_keys (id, user_id, name, key_hash, prefix, created_at)"
            " VALUES (?,?,?,?,?,?)",
            (key.id, key.user_id, key.name, key_hash, key.prefix, utc_text_or_none(key.created_at)),
        )
        await self.db.commit()

    async def api_key_by_hash(self, key_hash: str) -> ApiKeyRecord | None:
        async with self.db.execute(
            "SELECT * FROM api_keys WHERE key_hash=?", (key_hash,)
        ) as cursor:
            row = await cursor.fetchone()
        return _key(row) if row else None

    async def api_keys(self, user_id: str) -> list[ApiKeyRecord]:
        async with self.db.execute(
            "SELECT * FROM api_keys WHERE user_id=? AND revoked_at IS NULL"
            " ORDER BY created_at, id",
            (user_id,),
        ) as cursor:
            return [_key(r) for r in await cursor.fetchall()]

    async def revoke_api_key(self, user_id: str, key_id: str, now: datetime) -> bool:
        cursor = await self.db.execute(
            "UPDATE api_keys SET revoked_at=? WHERE id=? AND user_id=? AND revoked_at IS NULL",
            (utc_text_or_none(now), key_id, user_id),
        )
        changed = cursor.rowcount > 0
        await cursor.close()
        await self.db.commit()
        return changed

    async def touch_api_key(self, key_id: str, now: datetime) -> None:
        await self.db.execute(
            "UPDATE api_keys SET last_used_at=? WHERE id=?", (utc_text_or_none(now), key_id)
        )
        await self.db.commit()

    # -- password resets -------------------------------------------------------------

    async def add_password_reset(
        self, token_hash: str, user_id: str, created_at: datetime, expires_at: datetime
    ) -> None:
        await self.db.execute(
            "INSERT INTO password_resets (token_hash, user_id, created_at, expires_at)"
            " VALUES (?,?,?,?)",
            (token_hash, user_id, utc_text_or_none(created_at), utc_text_or_none(expires_at)),
        )
        await self.db.commit()

    async def use_password_reset(self, token_hash: str, now: datetime) -> str | None:
        """Spend a reset token (once, before it expires); returns its user id."""
        async with self.db.execute(
            "UPDATE password_resets SET used_at=? WHERE token_hash=? AND used_at IS NULL"
            " AND expires_at>? RETURNING user_id",
            (utc_text_or_none(now), token_hash, utc_text_or_none(now)),
        ) as cursor:
            row = await cursor.fetchone()
        await self.db.commit()
        return row["user_id"] if row else None

    # -- the phonebook ---------------------------------------------------------------

    async def add_contacts(self, contacts: list[ContactRecord]) -> None:
        """All in one transaction: an import is all or nothing."""
        try:
            await self.db.executemany(
                "INSERT INTO contacts (id, user_id, name, email, phone, language, organisation,"
                " created_at) VALUES (?,?,?,?,?,?,?,?)",
                [
                    (c.id, c.user_id, c.name, c.email, c.phone, c.language, c.organisation,
                     utc_text_or_none(c.created_at))
                    for c in contacts
                ],
            )
        except sqlite3.Error:
            await self.db.rollback()
            raise
        await self.db.commit()

    async def contacts(self, user_id: str) -> list[ContactRecord]:
        async with self.db.execute(
            "SELECT * FROM contacts WHERE user_id=? ORDER BY name COLLATE NOCASE, id",
            (user_id,),
        ) as cursor:
            return [_contact(r) for r in await cursor.fetchall()]

    async def count_contacts(self, user_id: str) -> int:
        async with self.db.execute(
            "SELECT COUNT(*) FROM contacts WHERE user_id=?", (user_id,)
        ) as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def contact(self, user_id: str, contact_id: str) -> ContactRecord | None:
        async with self.db.execute(
            "SELECT * FROM contacts WHERE id=? AND user_id=?", (contact_id, user_id)
        ) as cursor:
            row = await cursor.fetchone()
        return _contact(row) if row else None

    async def update_contact(self, contact: ContactRecord) -> None:
        c = contact
        await self.db.execute(
            "UPDATE contacts SET name=?, email=?, phone=?, language=?, organisation=?"
            " WHERE id=? AND user_id=?",
            (c.name, c.email, c.phone, c.language, c.organisation, c.id, c.user_id),
        )
        await self.db.commit()

    async def delete_contact(self, user_id: str, contact_id: str) -> bool:
        cursor = await self.db.execute(
            "DELETE FROM contacts WHERE id=? AND user_id=?", (contact_id, user_id)
        )
        deleted = cursor.rowcount > 0
        await cursor.close()
        await self.db.commit()
        return deleted

    # -- conferences seen from an account ----------------------------------------------

    async def conferences_of_user(self, user_id: str) -> list[ConferenceSummary]:
        async with self.db.execute(
            "SELECT id, title, state, created_at, starts_at, ended_at FROM conferences"
            " WHERE owner_user_id=? ORDER BY created_at DESC",
            (user_id,),
        ) as cursor:
            return [
                ConferenceSummary(
                    r["id"], r["title"], r["state"], parse_time(r["created_at"]) or datetime.min,
                    parse_time(r["starts_at"]), parse_time(r["ended_at"]),
                )
                for r in await cursor.fetchall()
            ]

    async def open_conferences_of_organizer(self, email: str) -> list[str]:
        async with self.db.execute(
            "SELECT id FROM conferences WHERE lower(organizer_email)=? AND state!='ended'"
            " ORDER BY created_at",
            (email.strip().lower(),),
        ) as cursor:
            return [r["id"] for r in await cursor.fetchall()]
