"""Times as SQLite stores them: text, always UTC in one format, so SQL compares them."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_text(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def utc_text_or_none(value: datetime | None) -> str | None:
    return utc_text(value) if value else None


def parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
