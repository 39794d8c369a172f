"""Charges: what each leg of a conference costs, and who pays it.

Who pays what, by how the participant joined (the "leg"):

- ``web`` (browser): the organiser pays the conference fee;
- ``dial-in`` on a ``premium`` number: the caller pays call and fee together at the premium rate,
  collected by their carrier; recorded against the caller as one ``premium`` line;
- ``dial-in`` on a ``geographic`` number: the caller pays the call to their own carrier (nothing
  of ours, so no line); the organiser pays the fee;
- ``dial-in`` on a ``tollfree`` number: the organiser pays the fee and the inbound call;
- ``dial-out``: the organiser pays the fee and the call, priced by the destination's country and
  number type.

Money is `Decimal` throughout. Each line's amount is rounded once, half up, to the minor unit
(cents); intermediate values are exact fractions, so no amount depends on float or on the
decimal context's precision. Totals are plain sums of the rounded lines, so a bill always adds up.

Durations are rounded per the tariff: ``per-second`` bills the exact seconds, ``per-started-minute``
rounds up to whole minutes. A leg of 0 seconds (an unanswered call, a tab closed at once) costs
nothing and gets no lines.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Literal, Protocol, get_args

import phonenumbers
from phonenumbers import PhoneNumberType

from .tariffs import ADDON_UNITS, DEFAULT_COUNTRY, NumberType, Rounding, Tariffs

Payer = Literal["caller", "organizer"]
LegKind = Literal["web", "dial-in", "dial-out"]
Unit = Literal["second", "each"]

LEG_KINDS: tuple[str, ...] = get_args(LegKind)
ACCESS_MODES = ("premium", "geographic", "tollfree")  # the values of server.access.AccessMode
PAYERS: tuple[str, ...] = get_args(Payer)

MINOR_UNIT_DIGITS = 2  # cents: currencies with another minor unit are refused by the tariffs

# phonenumbers' types we can price. FIXED_LINE_OR_MOBILE (numbering plans such as the US and
# Canada share ranges between fixed and mobile lines) is billed as mobile: we cannot tell which
# it is, mobile termination is normally the dearer, and guessing fixed would have us pay the
# carrier more than we charge on every such call.
_NUMBER_TYPES: Mapping[int, NumberType] = {
    PhoneNumberType.FIXED_LINE: "fixed",
    PhoneNumberType.MOBILE: "mobile",
    PhoneNumberType.FIXED_LINE_OR_MOBILE: "mobile",
    PhoneNumberType.TOLL_FREE: "tollfree",
}


class ChargeError(ValueError):
    """A leg or add-on that cannot be priced; better refused than billed at a guessed price."""


@dataclass(frozen=True)
class Leg:
    """One participant's connection to a conference, as measured when it ended."""

    participant_id: str
    name: str
    kind: LegKind
    access_mode: str | None  # dial-in only: "premium", "geographic" or "tollfree"
    phone: str | None  # E.164; needed for dial-out, ignored otherwise (caller ID may be hidden)
    seconds: int


@dataclass(frozen=True)
class Line:
    """One priced item of a bill.

    Time-priced lines (``unit == "second"``) carry the billed seconds, after rounding, and a price
    per minute: seconds stay whole and exact where minutes would be repeating decimals (61 s).
    Flat lines (``unit == "each"``) carry a count and a price per item.
    """

    participant_id: str | None  # None: a conference-wide add-on
    payer: Payer
    item: str  # "fee", "call", "premium" or "addon:<name>"
    quantity: int  # billed seconds, or a count for unit "each"
    unit: Unit
    unit_price: Decimal  # per minute for unit "second", per item for unit "each"
    amount: Decimal  # rounded to the minor unit
    detail: str = ""  # for people reading the bill, e.g. "SI mobile"

    @property
    def quantity_text(self) -> str:
        """'2:05 min' (billed time) or '1' (a count), for printing."""
        if self.unit == "second":
            return f"{self.quantity // 60}:{self.quantity % 60:02d} min"
        return str(self.quantity)

    def __str__(self) -> str:
        per = "/min" if self.unit == "second" else ""
        who = self.participant_id if self.participant_id is not None else "(conference)"
        text = (
            f"{who}  {self.payer}  {self.item}  {self.quantity_text} x "
            f"{self.unit_price}{per} = {self.amount}"
        )
        return f"{text}  ({self.detail})" if self.detail else text


@dataclass(frozen=True)
class Bill:
    """All lines of one conference and the total each payer owes (sums of the rounded lines)."""

    lines: tuple[Line, ...]
    total_organizer: Decimal
    total_caller: Decimal  # collected by callers' carriers, recorded for the books
    currency: str

    @property
    def total(self) -> Decimal:
        return self.total_organizer + self.total_caller

    def render(self) -> str:
        """A plain-text bill, one line per item."""
        rows = [f"Bill in {self.currency}", *(f"  {line}" for line in self.lines)]
        rows.append(f"Organizer total: {self.total_organizer} {self.currency}")
        rows.append(f"Caller total (collected by the carrier): {self.total_caller} {self.currency}")
        return "\n".join(rows)


@dataclass(frozen=True)
class Destination:
    """Where a dial-out call goes, as far as pricing is concerned."""

    country: str | None  # ISO 3166 code; None for non-geographic numbers such as +800
    number_type: NumberType
    ambiguous: bool  # phonenumbers said "fixed line or mobile"; billed as mobile


def round_money(value: Decimal | Fraction) -> Decimal:
    """Round half up (away from zero) to the minor unit, exactly for any Decimal or Fraction."""
    scaled = Fraction(value) * 10**MINOR_UNIT_DIGITS
    whole = math.floor(abs(scaled) + Fraction(1, 2))
    digits = tuple(int(d) for d in str(whole))
    return Decimal((1 if scaled < 0 else 0, digits, -MINOR_UNIT_DIGITS))


def to_minor_units(amount: Decimal) -> int:
    """Cents as an int, e.g. for a payment provider's API.

    Refuses amounts with more decimals than the minor unit instead of rounding them: every amount
    the billing core produces is already rounded, so anything else is a bug to surface.
    """
    if not isinstance(amount, Decimal):
        raise TypeError(f"amount must be a Decimal, not {type(amount).__name__}")
    if not amount.is_finite():
        raise ValueError(f"amount {amount} is not finite")
    scaled = Fraction(amount) * 10**MINOR_UNIT_DIGITS
    if scaled.denominator != 1:
        raise ValueError(f"amount {amount} has more than {MINOR_UNIT_DIGITS} decimals")
    return scaled.numerator


def billed_seconds(seconds: int, rounding: Rounding) -> int:
    """The seconds charged for a leg of `seconds`: exact, or up to whole started minutes."""
    if rounding == "per-second":
        return seconds
    if rounding == "per-started-minute":
        return -(-seconds // 60) * 60
    raise ValueError(f"unknown rounding {rounding!r}")


def per_minute_amount(unit_price: Decimal, seconds: int) -> Decimal:
    """unit_price x seconds / 60, rounded once to the minor unit."""
    return round_money(Fraction(unit_price) * seconds / 60)


def classify_number(phone: str) -> Destination:
    """Country and number type of an E.164 number, via phonenumbers."""
    try:
        parsed = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException as exc:
        raise ChargeError(f"{phone!r} is not an international number: {exc}") from None
    if not phonenumbers.is_valid_number(parsed):
        raise ChargeError(f"{phone!r} is not a valid phone number")
    found = phonenumbers.number_type(parsed)
    number_type = _NUMBER_TYPES.get(found)
    if number_type is None:
        kind = (PhoneNumberType.to_string(found) or "unknown").lower().replace("_", " ")
        raise ChargeError(
            f"{phone} is a {kind} number; dial-out is priced only for fixed, "
            "mobile and toll-free numbers"
        )
    region = phonenumbers.region_code_for_number(parsed)
    country = region if region in phonenumbers.SUPPORTED_REGIONS else None
    return Destination(
        country, number_type, ambiguous=found == PhoneNumberType.FIXED_LINE_OR_MOBILE
    )


def dial_out_rate(phone: str, tariffs: Tariffs) -> tuple[Decimal, str]:
    """Per-minute rate for calling `phone`, and a description for the bill.

    A country without a table uses the ``default`` table; a type missing from the table that
    applies is an error (no fallback from a country's table to the default one: the operator
    left it out on purpose, or by mistake, and either way a guess would be wrong).
    """
    destination = classify_number(phone)
    key = destination.country
    if key is None or key not in tariffs.dial_out_per_minute:
        key = DEFAULT_COUNTRY
    rate = tariffs.dial_out_per_minute[key].get(destination.number_type)
    where = destination.country or "non-geographic"
    if rate is None:
        raise ChargeError(
            f"no dial-out rate for {where} {destination.number_type} numbers "
            f"({phone}): dial_out_per_minute.{key} has no "
            f"{destination.number_type} price"
        )
    kind: str = destination.number_type
    if destination.ambiguous:
        kind = "fixed or mobile, billed as mobile"
    detail = f"{where} {kind}" + (" (default rate)" if key == DEFAULT_COUNTRY else "")
    return rate, detail


def charge_leg(leg: Leg, tariffs: Tariffs, *, registered: bool) -> list[Line]:
    """The lines for one leg: fee first, then the call (or the single premium line)."""
    _check_leg(leg)
    if leg.seconds == 0:
        return []
    plan = "registered" if registered else "adhoc"
    seconds = billed_seconds(leg.seconds, tariffs.rounding)

    def line(payer: Payer, item: str, unit_price: Decimal, detail: str) -> Line:
        return Line(
            leg.participant_id,
            payer,
            item,
            seconds,
            "second",
            unit_price,
            per_minute_amount(unit_price, seconds),
            detail,
        )

    def fee(kind: str) -> Line:
        plan_text = "registered" if registered else "ad hoc"
        return line(
            "organizer", "fee", tariffs.fee_per_minute[plan][kind], f"{kind} fee, {plan_text}"
        )

    if leg.kind == "web":
        return [fee("web")]
    if leg.kind == "dial-out":
        assert leg.phone is not None  # checked by _check_leg
        try:
            rate, detail = dial_out_rate(leg.phone, tariffs)
        except ChargeError as exc:
            raise ChargeError(f"dial-out leg {leg.participant_id}: {exc}") from None
        return [fee("dial-out"), line("organizer", "call", rate, detail)]
    if leg.access_mode == "premium":
        return [line("caller", "premium", tariffs.premium_per_minute, "premium access number")]
    if leg.access_mode == "geographic":
        return [fee("geographic")]
    return [
        fee("tollfree"),
        line("organizer", "call", tariffs.tollfree_call_per_minute, "toll-free inbound"),
    ]


def charge_addons(addons: Mapping[str, int], tariffs: Tariffs) -> list[Line]:
    """Lines for conference add-ons, paid by the organiser.

    `addons` maps a name to a count (``custom_welcome``: per conference, normally 1) or to whole
    recorded minutes (``recording``; the recorder decides how to round its seconds). Zero means
    not used. Lines come in the order of `ADDON_UNITS`, so bills are stable.
    """
    for name, amount in addons.items():
        if name not in ADDON_UNITS:
            raise ChargeError(f"unknown add-on {name!r} (known: {', '.join(ADDON_UNITS)})")
        if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
            raise ChargeError(f"add-on {name}: {amount!r} is not a whole number >= 0")
    lines = []
    for name, unit in ADDON_UNITS.items():
        amount = addons.get(name, 0)
        if amount == 0:
            continue
        price = tariffs.addons[name]
        if unit == "each":
            lines.append(
                Line(
                    None,
                    "organizer",
                    f"addon:{name}",
                    amount,
                    "each",
                    price,
                    round_money(Fraction(price) * amount),
                )
            )
        else:
            seconds = amount * 60
            lines.append(
                Line(
                    None,
                    "organizer",
                    f"addon:{name}",
                    seconds,
                    "second",
                    price,
                    per_minute_amount(price, seconds),
                )
            )
    return lines


def bill_conference(
    legs: Iterable[Leg], addons: Mapping[str, int] | None, tariffs: Tariffs, *, registered: bool
) -> Bill:
    """Every leg's lines, then the add-ons', with each payer's total."""
    lines = [line for leg in legs for line in charge_leg(leg, tariffs, registered=registered)]
    lines += charge_addons(addons or {}, tariffs)
    return Bill(
        lines=tuple(lines),
        total_organizer=total_for(lines, "organizer"),
        total_caller=total_for(lines, "caller"),
        currency=tariffs.currency,
    )


class Charged(Protocol):
    """Anything with an amount and a payer: a bill's line, or one stored from it."""

    @property
    def amount(self) -> Decimal: ...

    @property
    def payer(self) -> str: ...


def total_for(lines: Iterable[Charged], payer: str) -> Decimal:
    """What ``payer`` pays of these lines: their plain sum (each line is rounded already)."""
    return sum((line.amount for line in lines if line.payer == payer), Decimal("0.00"))


def _check_leg(leg: Leg) -> None:
    """Refuse inconsistent legs: billing a leg as something it is not costs someone money."""
    who = f"leg {leg.participant_id}"
    if isinstance(leg.seconds, bool) or not isinstance(leg.seconds, int) or leg.seconds < 0:
        raise ChargeError(f"{who}: seconds must be a whole number >= 0, not {leg.seconds!r}")
    if leg.kind not in LEG_KINDS:
        raise ChargeError(f"{who}: kind must be one of {', '.join(LEG_KINDS)}, not {leg.kind!r}")
    if leg.kind == "dial-in":
        if leg.access_mode not in ACCESS_MODES:
            raise ChargeError(
                f"{who}: a dial-in leg needs an access mode "
                f"({', '.join(ACCESS_MODES)}), not {leg.access_mode!r}"
            )
    elif leg.access_mode is not None:
        raise ChargeError(f"{who}: a {leg.kind} leg has no access mode ({leg.access_mode!r})")
    if leg.kind == "dial-out" and not leg.phone:
        raise ChargeError(f"{who}: a dial-out leg needs the number dialled")
