"""Tariffs: the prices the billing core charges, read from a TOML file at start-up.

Every price is a `Decimal`. TOML floats are binary floating point, so ``0.1`` in the file would
not be the price the operator meant; prices are therefore written as strings (``"0.045"``) and a
float literal is rejected with a message saying how to quote it. Integers are exact and accepted.

The file is checked completely when it is loaded (unknown keys, missing keys, negative prices,
registered fees above ad-hoc fees): a typo in a price list must stop the service at start-up, not
produce wrong bills for a month. Every problem raises `TariffError` (a `ValueError`) whose message
names the file and the key.

Registered fees above ad-hoc fees are rejected, not merely warned about: the product promises
registered accounts cheaper fees, a start-up warning is easily lost in a log, and swapped values
would overcharge exactly the customers we promised less. Equal fees are allowed ("not dearer").
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, NoReturn, get_args

import phonenumbers

Rounding = Literal["per-second", "per-started-minute"]
Plan = Literal["adhoc", "registered"]
FeeKind = Literal["web", "geographic", "tollfree", "dial-out"]
NumberType = Literal["fixed", "mobile", "tollfree"]

ROUNDINGS: tuple[str, ...] = get_args(Rounding)
PLANS: tuple[str, ...] = get_args(Plan)
FEE_KINDS: tuple[str, ...] = get_args(FeeKind)
NUMBER_TYPES: tuple[str, ...] = get_args(NumberType)

# Add-ons and what their price is per: "each" is a flat price per conference (times the count
# given), "minute" a price per recorded minute.
ADDON_UNITS: Mapping[str, Literal["each", "minute"]] = MappingProxyType(
    {"custom_welcome": "each", "recording": "minute"}
)

# The key under dial_out_per_minute used for every country without a table of its own.
DEFAULT_COUNTRY = "default"

DEFAULT_TARIFFS_PATH = Path(__file__).with_name("default_tariffs.toml")

# ISO 4217 currencies whose minor unit is not 1/100. Amounts are quantized to 2 decimals, so
# billing in these would be wrong (JPY has no cents, KWD has fils of 1/1000): refuse them.
_NOT_TWO_DECIMALS = frozenset(
    "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
    " BHD IQD JOD KWD LYD OMR TND CLF UYW".split()
)

_TOP_LEVEL = (
    "currency",
    "rounding",
    "fee_per_minute",
    "premium_per_minute",
    "tollfree_call_per_minute",
    "dial_out_per_minute",
    "addons",
)


class TariffError(ValueError):
    """A tariff file the service must not start with; the message is meant for the operator."""


@dataclass(frozen=True)
class Tariffs:
    """Validated prices. Build with `load_tariffs` / `parse_tariffs`, which check everything.

    All prices are per minute except add-ons priced "each" (see `ADDON_UNITS`). The mappings are
    read-only views so a shared `Tariffs` cannot be changed behind the billing code's back.
    """

    currency: str
    rounding: Rounding
    fee_per_minute: Mapping[str, Mapping[str, Decimal]]  # plan -> leg kind -> price
    premium_per_minute: Decimal  # the caller's price on a premium number: call and fee together
    tollfree_call_per_minute: Decimal  # inbound toll-free call, paid by the organiser
    dial_out_per_minute: Mapping[str, Mapping[str, Decimal]]  # ISO country/"default" -> type
    addons: Mapping[str, Decimal]


class _FloatLiteral(str):
    """The text of a TOML float, kept so the error can show the operator what to quote."""

    __slots__ = ()


def load_tariffs(path: Path | None = None) -> Tariffs:
    """Read and check a tariff file; None means the bundled `default_tariffs.toml`."""
    path = DEFAULT_TARIFFS_PATH if path is None else path
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TariffError(f"tariff file {path}: cannot read it: {exc}") from exc
    return loads_tariffs(text, source=str(path))


def loads_tariffs(text: str, *, source: str = "<string>") -> Tariffs:
    """Parse and check tariff TOML text; `source` names it in error messages."""
    try:
        data = tomllib.loads(text, parse_float=_FloatLiteral)
    except tomllib.TOMLDecodeError as exc:
        raise TariffError(f"tariff file {source}: not valid TOML: {exc}") from exc
    return parse_tariffs(data, source=source)


def parse_tariffs(data: Mapping[str, Any], *, source: str = "<data>") -> Tariffs:
    """Check already-parsed TOML data and build `Tariffs`."""
    check = _Checker(source)
    check.keys(data, "", required=_TOP_LEVEL, allowed=_TOP_LEVEL)

    currency = data["currency"]
    if not (
        isinstance(currency, str)
        and len(currency) == 3
        and currency.isascii()
        and currency.isalpha()
        and currency.isupper()
    ):
        check.fail(
            "currency", f'must be an ISO 4217 code in capitals such as "EUR", not {currency!r}'
        )
    if currency in _NOT_TWO_DECIMALS:
        check.fail(
            "currency",
            f"{currency} does not have a minor unit of 1/100; amounts are "
            "billed to 2 decimals, so this currency is not supported",
        )

    rounding = data["rounding"]
    if rounding not in ROUNDINGS:
        check.fail("rounding", f"must be one of {', '.join(ROUNDINGS)}, not {rounding!r}")

    fees = check.table(data["fee_per_minute"], "fee_per_minute")
    check.keys(fees, "fee_per_minute", required=PLANS, allowed=PLANS)
    fee_per_minute: dict[str, Mapping[str, Decimal]] = {}
    for plan in PLANS:
        where = f"fee_per_minute.{plan}"
        table = check.table(fees[plan], where)
        check.keys(table, where, required=FEE_KINDS, allowed=FEE_KINDS)
        fee_per_minute[plan] = MappingProxyType(
            {kind: check.price(table[kind], f"{where}.{kind}") for kind in FEE_KINDS}
        )
    for kind in FEE_KINDS:
        registered, adhoc = fee_per_minute["registered"][kind], fee_per_minute["adhoc"][kind]
        if registered > adhoc:
            check.fail(
                f"fee_per_minute.registered.{kind}",
                f"{registered} is dearer than fee_per_minute.adhoc.{kind} = {adhoc}; "
                "registered accounts must not pay more than ad-hoc conferences",
            )

    dial_out = check.table(data["dial_out_per_minute"], "dial_out_per_minute")
    if DEFAULT_COUNTRY not in dial_out:
        check.fail(
            f"dial_out_per_minute.{DEFAULT_COUNTRY}",
            "missing: the rates for every country without a table of its own",
        )
    dial_out_per_minute: dict[str, Mapping[str, Decimal]] = {}
    for country, raw in dial_out.items():
        where = f"dial_out_per_minute.{country}"
        if country != DEFAULT_COUNTRY and country not in phonenumbers.SUPPORTED_REGIONS:
            check.fail(
                where,
                'unknown key: expected "default" or an ISO 3166 country code '
                "in capitals such as SI or DE",
            )
        table = check.table(raw, where)
        # A type may be left out: dialling such a number is then refused when it is billed
        # (no silent fallback to another country's or type's rate).
        check.keys(table, where, required=(), allowed=NUMBER_TYPES)
        dial_out_per_minute[country] = MappingProxyType(
            {kind: check.price(price, f"{where}.{kind}") for kind, price in table.items()}
        )

    addons = check.table(data["addons"], "addons")
    check.keys(addons, "addons", required=tuple(ADDON_UNITS), allowed=tuple(ADDON_UNITS))

    return Tariffs(
        currency=currency,
        rounding=rounding,
        fee_per_minute=MappingProxyType(fee_per_minute),
        premium_per_minute=check.price(data["premium_per_minute"], "premium_per_minute"),
        tollfree_call_per_minute=check.price(
            data["tollfree_call_per_minute"], "tollfree_call_per_minute"
        ),
        dial_out_per_minute=MappingProxyType(dial_out_per_minute),
        addons=MappingProxyType(
            {name: check.price(addons[name], f"addons.{name}") for name in ADDON_UNITS}
        ),
    )


class _Checker:
    """Error messages that all name the file and the dotted key."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, problem: str) -> NoReturn:
        raise TariffError(f"tariff file {self.source}: {where}: {problem}")

    def keys(
        self,
        table: Mapping[str, Any],
        where: str,
        *,
        required: tuple[str, ...],
        allowed: tuple[str, ...],
    ) -> None:
        prefix = f"{where}." if where else ""
        for key in table:
            if key not in allowed:
                self.fail(
                    f"{prefix}{key}", f"unknown key (expected one of: {', '.join(sorted(allowed))})"
                )
        for key in required:
            if key not in table:
                self.fail(f"{prefix}{key}", "missing")

    def table(self, value: Any, where: str) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            self.fail(where, f"must be a table ([{where}]), not {value!r}")
        return value

    def price(self, value: Any, where: str) -> Decimal:
        key = where.rpartition(".")[2]
        if isinstance(value, _FloatLiteral):
            self.fail(
                where,
                f"{value} is a TOML float, which is inexact binary floating point; "
                f'quote the price so it is read exactly: {key} = "{value}"',
            )
        if isinstance(value, bool) or not isinstance(value, str | int):
            self.fail(where, f'a price must be a quoted decimal such as "0.045", not {value!r}')
        try:
            price = Decimal(value)
        except InvalidOperation:
            self.fail(where, f'{value!r} is not a decimal number (write it like "0.045")')
        if not price.is_finite():
            self.fail(where, f"{value!r} is not a finite price")
        if price.is_signed():  # also "-0", which would print as a negative amount
            self.fail(where, f"{value} is negative; prices must be zero or more")
        return price
