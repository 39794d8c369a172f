"""The toll-fraud fence for calls the bridge places (dial-out).

A stolen organiser link must not turn the bridge into a free phone line to
premium-rate numbers. Only numbers of allowed countries, and only ordinary
fixed, mobile or toll-free numbers, are called; everything else is refused with
the reason, before any call is placed.
"""

from __future__ import annotations

from collections.abc import Iterable

import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType

ALLOWED_TYPES = frozenset(
    {
        PhoneNumberType.FIXED_LINE,
        PhoneNumberType.MOBILE,
        PhoneNumberType.FIXED_LINE_OR_MOBILE,
        PhoneNumberType.TOLL_FREE,
    }
)
_TYPE_NAMES = {
    PhoneNumberType.PREMIUM_RATE: "a premium-rate number",
    PhoneNumberType.SHARED_COST: "a shared-cost number",
    PhoneNumberType.UAN: "a non-geographic (UAN) number",
    PhoneNumberType.VOIP: "a VoIP number",
    PhoneNumberType.PERSONAL_NUMBER: "a personal number",
    PhoneNumberType.PAGER: "a pager",
    PhoneNumberType.VOICEMAIL: "a voicemail access number",
    PhoneNumberType.UNKNOWN: "a number of unknown type",
}


class DialOutRefused(ValueError):
    """The number may not be called; the message says why."""


def check_destination(number: str, allowed_countries: Iterable[str]) -> str:
    """The number in E.164 if the bridge may call it, else ``DialOutRefused``."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException as exc:
        raise DialOutRefused(f"{number!r} is not a phone number ({exc})") from None
    if not phonenumbers.is_valid_number(parsed):
        raise DialOutRefused(f"{number} is not a valid phone number")
    region = phonenumbers.region_code_for_number(parsed)
    allowed = {c.upper() for c in allowed_countries}
    if region not in allowed:
        listed = ", ".join(sorted(allowed)) or "none"
        raise DialOutRefused(
            f"calls to {region or 'this destination'} are not allowed (allowed: {listed})"
        )
    kind = phonenumbers.number_type(parsed)
    if kind not in ALLOWED_TYPES:
        raise DialOutRefused(
            f"{phonenumbers.format_number(parsed, PhoneNumberFormat.INTERNATIONAL)} is "
            f"{_TYPE_NAMES.get(kind, 'a number of a kind we do not call')}"
        )
    return phonenumbers.format_number(parsed, PhoneNumberFormat.E164)
