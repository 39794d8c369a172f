"""Persistence behind one interface: SQLite embedded today, PostgreSQL later.

Everything the service must not lose (conferences, PINs, tokens, every join and
leave) is written through ``Store`` at the moment it happens.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from ..conference import Conference, Participant
from .accounts import AccountStore


class PinTaken(Exception):
    """A PIN collided with one of a conference that has not ended."""


@dataclass(frozen=True, slots=True)
class TokenRecord:
    kind: str  # "organizer" or "participant"
    conference_id: str
    participant_id: str | None
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class RosterEvent:
    conference_id: str
    participant_id: str
    kind: str  # "join" or "leave"
    at: datetime
    mode: str | None
    detail: str | None


@dataclass(frozen=True, slots=True)
class ConferenceRecord:
    conference: Conference
    pin: str
    moderator_pin: str


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """A message to be stored in the outbox before anything is sent."""

    conference_id: str | None  # None: account mail (password reset, …)
    kind: str  # "invitation", "invitation-organizer", "notice", "password-reset", …
    recipient: str  # the address: e-mail for channel "email", E.164 for "sms"
    recipient_name: str
    subject: str
    body_text: str
    body_html: str
    ics: str | None = None
    channel: str = "email"
    participant_id: str | None = None
    #: one more attached text file (the report's CSV), as (file name, MIME type, text)
    attachment: tuple[str, str, str] | None = None
    #: at most one message per key, ever (the report of a conference is sent once)
    dedup_key: str | None = None


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    id: int
    conference_id: str | None
    participant_id: str | None
    kind: str
    recipient: str
    recipient_name: str
    channel: str
    subject: str
    body_text: str
    body_html: str
    ics: str | None
    state: str  # queued, sending, sent or failed
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    message_id: str | None
    attachment: tuple[str, str, str] | None = None


@dataclass(frozen=True, slots=True)
class ChargeRecord:
    """One line of a conference's bill, frozen when the conference ended."""

    conference_id: str
    account_id: str | None  # the company billed centrally; None: an ad-hoc organiser
    participant_id: str | None
    payer: str  # "organizer" or "caller"
    item: str
    quantity: int
    unit: str
    unit_price: Decimal
    amount: Decimal
    currency: str
    detail: str
    at: datetime  # when the conference ended (statements are by month of this)


class Store(AccountStore, Protocol):
    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def create_conference(
        self, conference: Conference, pin: str, moderator_pin: str
    ) -> None: ...

    async def save_conference(self, conference: Conference) -> None: ...

    async def save_participant(self, conference_id: str, participant: Participant) -> None: ...

    async def delete_participant(self, participant_id: str) -> None: ...

    async def add_roster_event(self, event: RosterEvent) -> None: ...

    async def roster(self, conference_id: str) -> list[RosterEvent]: ...

    async def find_pin(self, pin: str) -> tuple[str, str] | None: ...

    async def release_pins(self, conference_id: str) -> None: ...

    async def load_conference(self, conference_id: str) -> ConferenceRecord | None: ...

    async def unended_conference_ids(self) -> list[str]: ...

    async def conferences_with_open_legs(self) -> list[str]: ...

    async def unreported_conferences(self) -> list[str]: ...

    async def mark_reported(self, conference_id: str, now: datetime) -> None: ...

    async def add_charges(self, conference_id: str, charges: list[ChargeRecord]) -> bool: ...

    async def charges_of_conference(self, conference_id: str) -> list[ChargeRecord]: ...

    async def charges_of_account(
        self, account_id: str, start: datetime, end: datetime
    ) -> list[ChargeRecord]: ...

    async def add_token(self, token_hash: str, record: TokenRecord) -> None: ...

    async def get_token(self, token_hash: str) -> TokenRecord | None: ...

    async def add_outbox(self, items: list[OutboxItem], now: datetime) -> list[int]: ...

    async def due_outbox(
        self, now: datetime, channels: Collection[str], limit: int = 50
    ) -> list[OutboxEntry]: ...

    async def next_outbox_due(self, channels: Collection[str]) -> datetime | None: ...

    async def outbox_entry(self, entry_id: int) -> OutboxEntry | None: ...

    async def has_outbox_key(self, dedup_key: str) -> bool: ...

    async def beat(self, now: datetime) -> None: ...

    async def last_beat(self) -> datetime | None: ...

    async def outbox_of_channel(self, channel: str, limit: int = 200) -> list[OutboxEntry]: ...

    async def outbox_sending(self, entry_id: int, attempts: int, message_id: str) -> None: ...

    async def outbox_sent(self, entry_id: int, now: datetime) -> None: ...

    async def outbox_retry(
        self, entry_id: int, error: str, next_attempt_at: datetime | None
    ) -> None: ...

    async def requeue_outbox_sending(self, now: datetime) -> int: ...

    async def outbox_for_conference(self, conference_id: str) -> list[OutboxEntry]: ...
