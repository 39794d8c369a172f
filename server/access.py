"""Dial-in access numbers: E.164 numbers, each with who pays what.

- ``premium``: the caller pays the call and the conference fee (a shared-cost
  or premium-rate number; the carrier collects);
- ``geographic``: the caller pays the call, the organiser the conference fee;
- ``tollfree``: the organiser pays both.

The INVITE's Request-URI user part names the number dialled, in whatever form
the carrier sends it (E.164, national, with or without ``+``); phonenumbers
reads it in the region of each configured number.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneNumberFormat


class AccessMode(enum.StrEnum):
    PREMIUM = "premium"
    GEOGRAPHIC = "geographic"
    TOLLFREE = "tollfree"


# Numbers reserved by Ofcom for drama: never a real subscriber.
DEVELOPMENT_NUMBERS = (
    "+442079460001:geographic",
    "+449098790001:premium",
    "+448081570001:tollfree",
)


@dataclass(frozen=True, slots=True)
class AccessNumber:
    e164: str
    mode: AccessMode
    region: str

    @property
    def display(self) -> str:
        parsed = phonenumbers.parse(self.e164)
        return phonenumbers.format_number(parsed, PhoneNumberFormat.INTERNATIONAL)

    def view(self) -> dict[str, str]:
        return {"e164": self.e164, "display": self.display, "mode": self.mode.value}


def parse_access_numbers(specs: Iterable[str]) -> tuple[AccessNumber, ...]:
    """``+E164:mode`` items (the number in any international form)."""
    numbers = []
    for spec in specs:
        number, sep, mode = spec.rpartition(":")
        if not sep:
            raise ValueError(f"access number {spec!r}: write it as +NUMBER:MODE")
        try:
            parsed = phonenumbers.parse(number.strip(), None)
        except phonenumbers.NumberParseException as exc:
            raise ValueError(f"access number {number!r}: {exc}") from None
        if not phonenumbers.is_valid_number(parsed):
            raise ValueError(f"access number {number!r} is not a valid number")
        try:
            access_mode = AccessMode(mode.strip().lower())
        except ValueError:
            choices = ", ".join(m.value for m in AccessMode)
            raise ValueError(f"access number {number!r}: mode must be one of {choices}") from None
        numbers.append(
            AccessNumber(
                phonenumbers.format_number(parsed, PhoneNumberFormat.E164),
                access_mode,
                phonenumbers.region_code_for_number(parsed) or "ZZ",
            )
        )
    return tuple(numbers)


def find_access_number(dialled: str, numbers: Iterable[AccessNumber]) -> AccessNumber | None:
    """The access number a Request-URI user part names, in any form; None if none."""
    digits = dialled.strip()
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    for number in numbers:
        for candidate in (digits, "+" + digits.lstrip("+")):
            try:
                parsed = phonenumbers.parse(candidate, number.region)
            except phonenumbers.NumberParseException:
                continue
            if phonenumbers.format_number(parsed, PhoneNumberFormat.E164) == number.e164:
                return number
    return None
