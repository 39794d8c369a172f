"""The embedded store: one SQLite file in WAL mode, written through aiosqlite.

Each write is committed before the call returns, so a join or leave survives
the process dying a moment later.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import aiosqlite

from ..conference import (
    Conference,
    ConferenceState,
    Contact,
    Mode,
    Participant,
    Role,
)
from . import (
    ChargeRecord,
    ConferenceRecord,
    OutboxEntry,
    OutboxItem,
    PinTaken,
    RosterEvent,
    TokenRecord,
)
from .sqlite_accounts import SqliteAccounts
from .sqltime import parse_time, utc_text

SCHEMA = """
CREATE TABLE IF NOT EXISTS conferences (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    language TEXT NOT NULL,
    organizer_name TEXT NOT NULL,
    organizer_email TEXT,
    organizer_phone TEXT,
    pin TEXT NOT NULL,
    moderator_pin TEXT NOT NULL,
    state TEXT NOT NULL,
    locked INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    starts_at TEXT,
    started_at TEXT,
    ended_at TEXT
);
-- PINs of conferences that have not ended: unique across both kinds.
CREATE TABLE IF NOT EXISTS live_pins (
    pin TEXT PRIMARY KEY,
    conference_id TEXT NOT NULL REFERENCES conferences(id),
    role TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS participants (
    id TEXT PRIMARY KEY,
    conference_id TEXT NOT NULL REFERENCES conferences(id),
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    email TEXT,
    phone TEXT,
    role TEXT NOT NULL,
    mode TEXT,
    joined_at TEXT,
    left_at TEXT,
    left_reason TEXT,
    muted INTEGER NOT NULL DEFAULT 0,
    failure TEXT,
    access_number TEXT,
    access_mode TEXT
);
CREATE INDEX IF NOT EXISTS participants_by_conference ON participants(conference_id, position);
CREATE TABLE IF NOT EXISTS roster_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conference_id TEXT NOT NULL REFERENCES conferences(id),
    participant_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    at TEXT NOT NULL,
    mode TEXT,
    detail TEXT
);
CREATE INDEX IF NOT EXISTS roster_by_conference ON roster_events(conference_id, id);
CREATE TABLE IF NOT EXISTS tokens (
    token_hash TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    conference_id TEXT NOT NULL REFERENCES conferences(id),
    participant_id TEXT,
    expires_at TEXT
);
"""


# Version 2: the durable outbox of notifications (invitations by e-mail).
OUTBOX_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conference_id TEXT NOT NULL REFERENCES conferences(id),
    kind TEXT NOT NULL,
    recipient TEXT NOT NULL,
    recipient_name TEXT NOT NULL DEFAULT '',
    channel TEXT NOT NULL DEFAULT 'email',
    subject TEXT NOT NULL,
    body_text TEXT NOT NULL,
    body_html TEXT NOT NULL,
    ics TEXT,
    state TEXT NOT NULL DEFAULT 'queued',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error TEXT,
    created_at TEXT NOT NULL,
    sent_at TEXT,
    message_id TEXT
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox(state, next_attempt_at);
CREATE INDEX IF NOT EXISTS outbox_by_conference ON outbox(conference_id, id);
"""

# Version 3: organiser accounts (sessions, API keys, password resets, phonebooks);
# conferences get an owner and a schedule; the outbox is rebuilt so that a message
# may belong to no conference (account mail) and names its recipient participant.
ACCOUNTS_SCHEMA = """
CREATE TABLE accounts (
    id TEXT PRIMARY KEY,
    company TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    user_number TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    email TEXT NOT NULL,
    email_key TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    language TEXT NOT NULL,
    role TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX users_by_account ON users(account_id);
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    csrf_token TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX sessions_by_user ON sessions(user_id);
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    name TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at TEXT
);
CREATE INDEX api_keys_by_user ON api_keys(user_id);
CREATE TABLE password_resets (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT
);
CREATE TABLE contacts (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    name TEXT NOT NULL,
    email TEXT,
    phone TEXT,
    language TEXT NOT NULL,
    organisation TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX contacts_by_user ON contacts(user_id, name);
ALTER TABLE conferences ADD COLUMN owner_user_id TEXT REFERENCES users(id);
ALTER TABLE conferences ADD COLUMN duration_minutes INTEGER;
ALTER TABLE conferences ADD COLUMN time_zone TEXT;
ALTER TABLE conferences ADD COLUMN ics_sequence INTEGER NOT NULL DEFAULT 0;
CREATE INDEX conferences_by_owner ON conferences(owner_user_id, created_at);
CREATE INDEX conferences_by_organizer_email ON conferences(lower(organizer_email));
ALTER TABLE participants ADD COLUMN language TEXT;
CREATE TABLE outbox_v3 (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conference_id TEXT REFERENCES conferences(id),
    participant_id TEXT,
    kind TEXT NOT NULL,
    recipient TEXT NOT NULL,
    recipient_name TEXT NOT NULL DEFAULT '',
    channel TEXT NOT NULL DEFAULT 'email',
    subject TEXT NOT NULL,
    body_text TEXT NOT NULL,
    body_html TEXT NOT NULL,
    ics TEXT,
    state TEXT NOT NULL DEFAULT 'queued',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error TEXT,
    created_at TEXT NOT NULL,
    sent_at TEXT,
    message_id TEXT
);
INSERT INTO outbox_v3 (id, conference_id, kind, recipient, recipient_name, channel, subject,
    body_text, body_html, ics, state, attempts, next_attempt_at, last_error, created_at,
    sent_at, message_id)
SELECT id, conference_id, kind, recipient, recipient_name, channel, subject, body_text,
    body_html, ics, state, attempts, next_attempt_at, last_error, created_at, sent_at,
    message_id FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_v3 RENAME TO outbox;
CREATE INDEX outbox_due ON outbox(state, next_attempt_at);
CREATE INDEX outbox_by_conference ON outbox(conference_id, id);
"""

# Version 4: after the conference: the report (an attachment, sent once per key), the
# heartbeat that dates a crash, and the charges frozen when a conference ends.
REPORT_SCHEMA = """
ALTER TABLE outbox ADD COLUMN dedup_key TEXT;
CREATE UNIQUE INDEX outbox_dedup ON outbox(dedup_key) WHERE dedup_key IS NOT NULL;
ALTER TABLE outbox ADD COLUMN attachment_name TEXT;
ALTER TABLE outbox ADD COLUMN attachment_type TEXT;
ALTER TABLE outbox ADD COLUMN attachment TEXT;
CREATE TABLE heartbeat (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    at TEXT NOT NULL
);
CREATE TABLE charges (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conference_id TEXT NOT NULL REFERENCES conferences(id),
    account_id TEXT REFERENCES accounts(id),
    participant_id TEXT,
    payer TEXT NOT NULL,
    item TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    unit TEXT NOT NULL,
    unit_price TEXT NOT NULL,
    amount TEXT NOT NULL,
    currency TEXT NOT NULL,
    detail TEXT,
    at TEXT NOT NULL
);
CREATE INDEX charges_by_account ON charges(account_id, at);
CREATE INDEX charges_by_conference ON charges(conference_id, id);
ALTER TABLE conferences ADD COLUMN reported_at TEXT;
-- Conferences that ended before reports existed are not reported now.
UPDATE conferences SET reported_at = ended_at WHERE state = 'ended';
"""

# Version 5: phone numbers shown to participants or not; the add-ons (own greeting,
# recording).
ADDONS_SCHEMA = """
ALTER TABLE conferences ADD COLUMN hide_phone_numbers INTEGER NOT NULL DEFAULT 1;
ALTER TABLE conferences ADD COLUMN greeting_file TEXT;
ALTER TABLE conferences ADD COLUMN recording_file TEXT;
ALTER TABLE conferences ADD COLUMN recorded_seconds REAL NOT NULL DEFAULT 0;
"""

#: Each entry moves the schema one version on; never edit a published one.
MIGRATIONS: tuple[str, ...] = (
    SCHEMA, OUTBOX_SCHEMA, ACCOUNTS_SCHEMA, REPORT_SCHEMA, ADDONS_SCHEMA,
)


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


class SqliteStore(SqliteAccounts):
    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: aiosqlite.Connection | None = None

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError("the store is not open")
        return self._db

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = await aiosqlite.connect(self.path)
        self._db.row_factory = sqlite3.Row
        await self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL is durable against a process crash in WAL mode (not a power cut).
        await self._db.execute("PRAGMA synchronous=NORMAL")
        await self._db.execute("PRAGMA foreign_keys=ON")
        await self._migrate()

    async def _migrate(self) -> None:
        """Bring the file to the current schema; ``PRAGMA user_version`` counts steps."""
        async with self.db.execute("PRAGMA user_version") as cursor:
            row = await cursor.fetchone()
        version = int(row[0]) if row else 0
        if version > len(MIGRATIONS):
            raise RuntimeError(
                f"{self.path} has schema version {version}, newer than this Telekonf knows"
            )
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            # One transaction per step: a failed step leaves the file as it was.
            try:
                await self.db.executescript(
                    f"BEGIN;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;"
                )
            except sqlite3.Error:
                await self.db.rollback()
                raise

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None

    async def create_conference(
        self, conference: Conference, pin: str, moderator_pin: str
    ) -> None:
        c = conference
        try:
            await self.db.execute(
                "INSERT INTO conferences (id, title, language, organizer_name, organizer_email,"
                " organizer_phone, pin, moderator_pin, state, created_at, starts_at,"
                " owner_user_id, duration_minutes, time_zone, ics_sequence, hide_phone_numbers)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    c.id, c.title, c.language, c.organizer.name, c.organizer.email,
                    c.organizer.phone, pin, moderator_pin, c.state.value,
                    _time(c.created_at), _time(c.starts_at), c.owner_user_id,
                    c.duration_minutes, c.time_zone, c.ics_sequence, int(c.hide_phone_numbers),
                ),
            )
            await self.db.executemany(
                "INSERT INTO live_pins (pin, conference_id, role) VALUES (?,?,?)",
                [(pin, c.id, Role.PARTICIPANT.value), (moderator_pin, c.id, Role.ORGANIZER.value)],
            )
            for position, participant in enumerate(c.participants.values()):
                await self._upsert_participant(c.id, participant, position)
        except sqlite3.IntegrityError as exc:
            await self.db.rollback()
            raise PinTaken(str(exc)) from exc
        await self.db.commit()

    async def save_conference(self, conference: Conference) -> None:
        c = conference
        await self.db.execute(
            "UPDATE conferences SET title=?, language=?, state=?, locked=?, started_at=?,"
            " ended_at=?, starts_at=?, duration_minutes=?, time_zone=?, ics_sequence=?,"
            " hide_phone_numbers=?, greeting_file=?, recording_file=?, recorded_seconds=?"
            " WHERE id=?",
            (
                c.title, c.language, c.state.value, int(c.locked), _time(c.started_at),
                _time(c.ended_at), _time(c.starts_at), c.duration_minutes, c.time_zone,
                c.ics_sequence, int(c.hide_phone_numbers), c.greeting_file, c.recording_file,
                c.recorded_seconds, c.id,
            ),
        )
        await self.db.commit()

    async def save_participant(self, conference_id: str, participant: Participant) -> None:
        await self._upsert_participant(conference_id, participant, None)
        await self.db.commit()

    async def _upsert_participant(
        self, conference_id: str, p: Participant, position: int | None
    ) -> None:
        if position is None:
            async with self.db.execute(
                "SELECT COALESCE(MAX(position) + 1, 0) FROM participants WHERE conference_id=?",
                (conference_id,),
            ) as cursor:
                row = await cursor.fetchone()
                position = int(row[0]) if row else 0
        await self.db.execute(
            "INSERT INTO participants (id, conference_id, position, name, email, phone, role,"
            " mode, joined_at, left_at, left_reason, muted, failure, access_number, access_mode,"
            " language) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
            " ON CONFLICT(id) DO UPDATE SET name=excluded.name, email=excluded.email,"
            " phone=excluded.phone, role=excluded.role, mode=excluded.mode,"
            " joined_at=excluded.joined_at, left_at=excluded.left_at,"
            " left_reason=excluded.left_reason, muted=excluded.muted, failure=excluded.failure,"
            " access_number=excluded.access_number, access_mode=excluded.access_mode,"
            " language=excluded.language",
            (
                p.id, conference_id, position, p.name, p.email, p.phone, p.role.value,
                p.mode.value if p.mode else None, _time(p.joined_at), _time(p.left_at),
                p.left_reason, int(p.muted), p.failure, p.access_number, p.access_mode,
                p.language,
            ),
        )

    async def delete_participant(self, participant_id: str) -> None:
        """An invitation that never connected, replaced by a new call."""
        await self.db.execute(
            "DELETE FROM participants WHERE id=? AND joined_at IS NULL", (participant_id,)
        )
        await self.db.commit()

    async def add_roster_event(self, event: RosterEvent) -> None:
        await self.db.execute(
            "INSERT INTO roster_events (conference_id, participant_id, kind, at, mode, detail)"
            " VALUES (?,?,?,?,?,?)",
            (
                event.conference_id, event.participant_id, event.kind, _time(event.at),
                event.mode, event.detail,
            ),
        )
        await self.db.commit()

    async def roster(self, conference_id: str) -> list[RosterEvent]:
        async with self.db.execute(
            "SELECT * FROM roster_events WHERE conference_id=? ORDER BY id", (conference_id,)
        ) as cursor:
            rows = await cursor.fetchall()
        return [
            RosterEvent(
                r["conference_id"], r["participant_id"], r["kind"],
                parse_time(r["at"]) or datetime.min, r["mode"], r["detail"],
            )
            for r in rows
        ]

    async def find_pin(self, pin: str) -> tuple[str, str] | None:
        async with self.db.execute(
            "SELECT conference_id, role FROM live_pins WHERE pin=?", (pin,)
        ) as cursor:
            row = await cursor.fetchone()
        return (row["conference_id"], row["role"]) if row else None

    async def release_pins(self, conference_id: str) -> None:
        await self.db.execute("DELETE FROM live_pins WHERE conference_id=?", (conference_id,))
        await self.db.commit()

    async def load_conference(self, conference_id: str) -> ConferenceRecord | None:
        async with self.db.execute(
            "SELECT * FROM conferences WHERE id=?", (conference_id,)
        ) as cursor:
            row = await cursor.fetchone()
        if row is None:
            return None
        conference = Conference(
            id=row["id"],
            title=row["title"],
            organizer=Contact(
                row["organizer_name"], row["organizer_email"], row["organizer_phone"]
            ),
            language=row["language"],
            created_at=parse_time(row["created_at"]) or datetime.min,
            starts_at=parse_time(row["starts_at"]),
            state=ConferenceState(row["state"]),
            started_at=parse_time(row["started_at"]),
            ended_at=parse_time(row["ended_at"]),
            locked=bool(row["locked"]),
            owner_user_id=row["owner_user_id"],
            duration_minutes=row["duration_minutes"],
            time_zone=row["time_zone"],
            ics_sequence=row["ics_sequence"],
            hide_phone_numbers=bool(row["hide_phone_numbers"]),
            greeting_file=row["greeting_file"],
            recording_file=row["recording_file"],
            recorded_seconds=row["recorded_seconds"],
        )
        async with self.db.execute(
            "SELECT * FROM participants WHERE conference_id=? ORDER BY position",
            (conference_id,),
        ) as cursor:
            for p in await cursor.fetchall():
                conference.participants[p["id"]] = Participant(
                    id=p["id"],
                    name=p["name"],
                    role=Role(p["role"]),
                    mode=Mode(p["mode"]) if p["mode"] else None,
                    email=p["email"],
                    phone=p["phone"],
                    joined_at=parse_time(p["joined_at"]),
                    left_at=parse_time(p["left_at"]),
                    left_reason=p["left_reason"],
                    muted=bool(p["muted"]),
                    failure=p["failure"],
                    access_number=p["access_number"],
                    access_mode=p["access_mode"],
                    language=p["language"],
                )
        return ConferenceRecord(conference, row["pin"], row["moderator_pin"])

    async def unended_conference_ids(self) -> list[str]:
        async with self.db.execute(
            "SELECT id FROM conferences WHERE state != ?", (ConferenceState.ENDED.value,)
        ) as cursor:
            return [r["id"] for r in await cursor.fetchall()]

    # -- after the conference ---------------------------------------------------------

    async def unreported_conferences(self) -> list[str]:
        async with self.db.execute(
            "SELECT id FROM conferences WHERE state='ended' AND reported_at IS NULL"
            " ORDER BY ended_at"
        ) as cursor:
            return [r["id"] for r in await cursor.fetchall()]

    async def mark_reported(self, conference_id: str, now: datetime) -> None:
        await self.db.execute(
            "UPDATE conferences SET reported_at=? WHERE id=?", (utc_text(now), conference_id)
        )
        await self.db.commit()

    async def add_charges(self, conference_id: str, charges: list[ChargeRecord]) -> bool:
        """Freeze a conference's charges, once: False if it already has them."""
        async with self.db.execute(
            "SELECT 1 FROM charges WHERE conference_id=? LIMIT 1", (conference_id,)
        ) as cursor:
            if await cursor.fetchone() is not None:
                return False
        await self.db.executemany(
            "INSERT INTO charges (conference_id, account_id, participant_id, payer, item,"
            " quantity, unit, unit_price, amount, currency, detail, at)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            [
                (c.conference_id, c.account_id, c.participant_id, c.payer, c.item, c.quantity,
                 c.unit, str(c.unit_price), str(c.amount), c.currency, c.detail, utc_text(c.at))
                for c in charges
            ],
        )
        await self.db.commit()
        return True

    @staticmethod
    def _charge(r: sqlite3.Row) -> ChargeRecord:
        return ChargeRecord(
            conference_id=r["conference_id"], account_id=r["account_id"],
            participant_id=r["participant_id"], payer=r["payer"], item=r["item"],
            quantity=r["quantity"], unit=r["unit"], unit_price=Decimal(r["unit_price"]),
            amount=Decimal(r["amount"]), currency=r["currency"], detail=r["detail"] or "",
            at=parse_time(r["at"]) or datetime.min,
        )

    async def charges_of_conference(self, conference_id: str) -> list[ChargeRecord]:
        async with self.db.execute(
            "SELECT * FROM charges WHERE conference_id=? ORDER BY id", (conference_id,)
        ) as cursor:
            return [self._charge(r) for r in await cursor.fetchall()]

    async def charges_of_account(
        self, account_id: str, start: datetime, end: datetime
    ) -> list[ChargeRecord]:
        async with self.db.execute(
            "SELECT * FROM charges WHERE account_id=? AND at>=? AND at<? ORDER BY at, id",
            (account_id, utc_text(start), utc_text(end)),
        ) as cursor:
            return [self._charge(r) for r in await cursor.fetchall()]

    async def conferences_with_open_legs(self) -> list[str]:
        """Conferences with someone who joined and never left (the process died)."""
        async with self.db.execute(
            "SELECT DISTINCT conference_id FROM participants"
            " WHERE joined_at IS NOT NULL AND left_at IS NULL"
        ) as cursor:
            return [r["conference_id"] for r in await cursor.fetchall()]

    async def add_token(self, token_hash: str, record: TokenRecord) -> None:
        await self.db.execute(
            "INSERT INTO tokens (token_hash, kind, conference_id, participant_id, expires_at)"
            " VALUES (?,?,?,?,?)",
            (
                token_hash, record.kind, record.conference_id, record.participant_id,
                _time(record.expires_at),
            ),
        )
        await self.db.commit()

    async def get_token(self, token_hash: str) -> TokenRecord | None:
        async with self.db.execute(
            "SELECT * FROM tokens WHERE token_hash=?", (token_hash,)
        ) as cursor:
            row = await cursor.fetchone()
        if row is None:
            return None
        return TokenRecord(
            row["kind"], row["conference_id"], row["participant_id"],
            parse_time(row["expires_at"]),
        )

    # -- the outbox ------------------------------------------------------------------

    async def add_outbox(self, items: list[OutboxItem], now: datetime) -> list[int]:
        """Store messages; one whose ``dedup_key`` was ever stored before is left out."""
        ids = []
        for item in items:
            name, kind, text = item.attachment or (None, None, None)
            cursor = await self.db.execute(
                "INSERT INTO outbox (conference_id, participant_id, kind, recipient,"
                " recipient_name, channel, subject, body_text, body_html, ics, state, attempts,"
                " next_attempt_at, created_at, dedup_key, attachment_name, attachment_type,"
                " attachment) VALUES (?,?,?,?,?,?,?,?,?,?,'queued',0,?,?,?,?,?,?)"
                " ON CONFLICT DO NOTHING",
                (
                    item.conference_id, item.participant_id, item.kind, item.recipient,
                    item.recipient_name,
                    item.channel, item.subject, item.body_text, item.body_html, item.ics,
                    utc_text(now), utc_text(now), item.dedup_key, name, kind, text,
                ),
            )
            if cursor.rowcount > 0:
                ids.append(int(cursor.lastrowid or 0))
            await cursor.close()
        await self.db.commit()
        return ids

    async def has_outbox_key(self, dedup_key: str) -> bool:
        async with self.db.execute(
            "SELECT 1 FROM outbox WHERE dedup_key=?", (dedup_key,)
        ) as cursor:
            return await cursor.fetchone() is not None

    # -- the heartbeat ---------------------------------------------------------------

    async def beat(self, now: datetime) -> None:
        await self.db.execute(
            "INSERT INTO heartbeat (id, at) VALUES (1, ?)"
            " ON CONFLICT(id) DO UPDATE SET at=excluded.at",
            (utc_text(now),),
        )
        await self.db.commit()

    async def last_beat(self) -> datetime | None:
        async with self.db.execute("SELECT at FROM heartbeat WHERE id=1") as cursor:
            row = await cursor.fetchone()
        return parse_time(row["at"]) if row else None

    @staticmethod
    def _outbox_entry(r: sqlite3.Row) -> OutboxEntry:
        return OutboxEntry(
            id=r["id"], conference_id=r["conference_id"], participant_id=r["participant_id"],
            kind=r["kind"],
            recipient=r["recipient"], recipient_name=r["recipient_name"], channel=r["channel"],
            subject=r["subject"], body_text=r["body_text"], body_html=r["body_html"],
            ics=r["ics"], state=r["state"], attempts=r["attempts"],
            next_attempt_at=parse_time(r["next_attempt_at"]) or datetime.min,
            last_error=r["last_error"],
            created_at=parse_time(r["created_at"]) or datetime.min,
            sent_at=parse_time(r["sent_at"]), message_id=r["message_id"],
            attachment=(
                (r["attachment_name"], r["attachment_type"], r["attachment"])
                if r["attachment"] is not None else None
            ),
        )

    async def due_outbox(
        self, now: datetime, channels: Collection[str], limit: int = 50
    ) -> list[OutboxEntry]:
        """Queued messages due by ``now`` on the channels that can send at all."""
        marks = ",".join("?" * len(channels))
        async with self.db.execute(
            f"SELECT * FROM outbox WHERE state='queued' AND next_attempt_at<=?"
            f" AND channel IN ({marks}) ORDER BY next_attempt_at, id LIMIT ?",
            (utc_text(now), *channels, limit),
        ) as cursor:
            return [self._outbox_entry(r) for r in await cursor.fetchall()]

    async def next_outbox_due(self, channels: Collection[str]) -> datetime | None:
        marks = ",".join("?" * len(channels))
        async with self.db.execute(
            f"SELECT MIN(next_attempt_at) FROM outbox WHERE state='queued'"
            f" AND channel IN ({marks})",
            tuple(channels),
        ) as cursor:
            row = await cursor.fetchone()
        return parse_time(row[0]) if row else None

    async def outbox_entry(self, entry_id: int) -> OutboxEntry | None:
        async with self.db.execute("SELECT * FROM outbox WHERE id=?", (entry_id,)) as cursor:
            row = await cursor.fetchone()
        return self._outbox_entry(row) if row else None

    async def outbox_of_channel(self, channel: str, limit: int = 200) -> list[OutboxEntry]:
        """The newest messages of one channel (the development SMS page)."""
        async with self.db.execute(
            "SELECT * FROM outbox WHERE channel=? ORDER BY id DESC LIMIT ?", (channel, limit)
        ) as cursor:
            return [self._outbox_entry(r) for r in await cursor.fetchall()]

    async def outbox_sending(self, entry_id: int, attempts: int, message_id: str) -> None:
        await self.db.execute(
            "UPDATE outbox SET state='sending', attempts=?, message_id=? WHERE id=?",
            (attempts, message_id, entry_id),
        )
        await self.db.commit()

    async def outbox_sent(self, entry_id: int, now: datetime) -> None:
        # The bodies are no longer needed; the organiser's held a secret link.
        await self.db.execute(
            "UPDATE outbox SET state='sent', sent_at=?, last_error=NULL, body_text='',"
            " body_html='', ics=NULL, attachment=NULL WHERE id=?",
            (utc_text(now), entry_id),
        )
        await self.db.commit()

    async def outbox_retry(
        self, entry_id: int, error: str, next_attempt_at: datetime | None
    ) -> None:
        """Back to the queue until ``next_attempt_at``; None: give up (failed)."""
        if next_attempt_at is None:
            await self.db.execute(
                "UPDATE outbox SET state='failed', last_error=?, body_text='', body_html='',"
                " ics=NULL, attachment=NULL WHERE id=?",
                (error, entry_id),
            )
        else:
            await self.db.execute(
                "UPDATE outbox SET state='queued', last_error=?, next_attempt_at=? WHERE id=?",
                (error, utc_text(next_attempt_at), entry_id),
            )
        await self.db.commit()

    async def requeue_outbox_sending(self, now: datetime) -> int:
        """After a crash: what was being sent goes back to the queue (same Message-ID)."""
        cursor = await self.db.execute(
            "UPDATE outbox SET state='queued', next_attempt_at=? WHERE state='sending'",
            (utc_text(now),),
        )
        count = cursor.rowcount
        await cursor.close()
        await self.db.commit()
        return int(count)

    async def outbox_for_conference(self, conference_id: str) -> list[OutboxEntry]:
        async with self.db.execute(
            "SELECT * FROM outbox WHERE conference_id=? ORDER BY id", (conference_id,)
        ) as cursor:
            return [self._outbox_entry(r) for r in await cursor.fetchall()]
