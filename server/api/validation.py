"""Checks of request bodies: a clear 400 naming the field, never a crash."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers

from ..conference import Contact
from ..service import ServiceError

LANGUAGES = ("en", "de", "sl")
_EMAIL = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+$")


def invalid(field: str, message: str) -> ServiceError:
    return ServiceError(400, "invalid", f"{field}: {message}", field=field)


def text(body: dict[str, Any], field: str, *, required: bool = True, max_length: int = 200,
         path: str = "") -> str | None:
    name = path + field
    value = body.get(field)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise invalid(name, "is required")
        return None
    if not isinstance(value, str):
        raise invalid(name, "must be a string")
    value = " ".join(value.split())
    if len(value) > max_length:
        raise invalid(name, f"is longer than {max_length} characters")
    return value


def email(body: dict[str, Any], field: str, *, required: bool, path: str = "") -> str | None:
    value = text(body, field, required=required, max_length=254, path=path)
    if value is not None and not _EMAIL.match(value):
        raise invalid(path + field, "is not a valid e-mail address")
    return value


def phone(body: dict[str, Any], field: str, *, region: str | None, path: str = "") -> str | None:
    """Any form phonenumbers understands; stored as E.164."""
    value = text(body, field, required=False, max_length=40, path=path)
    if value is None:
        return None
    try:
        number = phonenumbers.parse(value, region or None)
    except phonenumbers.NumberParseException as exc:
        raise invalid(path + field, f"is not a phone number ({exc})") from None
    if not phonenumbers.is_valid_number(number):
        raise invalid(path + field, "is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def contact(value: Any, path: str, *, region: str | None, email_required: bool) -> Contact:
    if not isinstance(value, dict):
        raise invalid(path.rstrip("."), "must be an object")
    return Contact(
        name=text(value, "name", path=path, max_length=100) or "",
        email=email(value, "email", required=email_required, path=path),
        phone=phone(value, "phone", region=region, path=path),
    )


def language(body: dict[str, Any], default: str) -> str:
    value = body.get("language", default) or default
    if value not in LANGUAGES:
        raise invalid("language", f"must be one of {', '.join(LANGUAGES)}")
    return str(value)


def timestamp(body: dict[str, Any], field: str) -> datetime | None:
    value = body.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid(field, "must be an ISO 8601 date-time string")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise invalid(field, "is not an ISO 8601 date-time") from None
    if parsed.tzinfo is None:
        raise invalid(field, "needs a time zone offset (e.g. Z or +01:00)")
    return parsed.astimezone(UTC)


def boolean(body: dict[str, Any], field: str) -> bool:
    value = body.get(field)
    if not isinstance(value, bool):
        raise invalid(field, "must be true or false")
    return value


def password(body: dict[str, Any], field: str) -> str:
    """Taken as typed: no trimming or collapsing of spaces (they are part of it)."""
    value = body.get(field)
    if not isinstance(value, str) or not value:
        raise invalid(field, "is required")
    if len(value) > 1024:
        raise invalid(field, "is too long")
    return value


def minutes(body: dict[str, Any], field: str, *, maximum: int = 24 * 60) -> int | None:
    value = body.get(field)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= maximum:
        raise invalid(field, f"must be a whole number of minutes from 1 to {maximum}")
    return value


def time_zone(body: dict[str, Any], field: str) -> str | None:
    """An IANA zone name such as Europe/Ljubljana."""
    value = text(body, field, required=False, max_length=64)
    if value is None:
        return None
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise invalid(field, "is not a known time zone (e.g. Europe/Ljubljana)") from None
    return value


def id_list(body: dict[str, Any], field: str, *, maximum: int = 500) -> list[str] | None:
    value = body.get(field)
    if value is None:
        return None
    if (
        not isinstance(value, list) or len(value) > maximum
        or not all(isinstance(x, str) and 0 < len(x) <= 64 for x in value)
    ):
        raise invalid(field, f"must be a list of at most {maximum} ids")
    return list(dict.fromkeys(value))


def message(body: dict[str, Any], field: str, *, max_length: int) -> str:
    """Free text of several lines: line breaks kept, other control characters dropped."""
    value = body.get(field)
    if not isinstance(value, str) or not value.strip():
        raise invalid(field, "is required")
    lines = value.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    cleaned = "\n".join(
        "".join(ch if ch.isprintable() else " " for ch in line.replace("\t", " ")).rstrip()
        for line in lines
    ).strip()
    if len(cleaned) > max_length:
        raise invalid(field, f"is longer than {max_length} characters")
    return cleaned


def optional_boolean(body: dict[str, Any], field: str, *, default: bool) -> bool:
    return default if body.get(field) is None else boolean(body, field)
