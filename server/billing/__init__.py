"""Billing core: tariffs and the charges of a conference, pure and exact (Decimal, no I/O).

Nothing here talks to the store or the network; the only I/O is reading the tariff file at
start-up, so the rules can be tested with numbers worked out by hand.
"""

from __future__ import annotations

from .charges import (
    Bill,
    ChargeError,
    Destination,
    Leg,
    Line,
    bill_conference,
    billed_seconds,
    charge_addons,
    charge_leg,
    classify_number,
    dial_out_rate,
    per_minute_amount,
    round_money,
    to_minor_units,
    total_for,
)
from .tariffs import (
    ADDON_UNITS,
    DEFAULT_TARIFFS_PATH,
    TariffError,
    Tariffs,
    load_tariffs,
    loads_tariffs,
    parse_tariffs,
)

__all__ = [
    "ADDON_UNITS",
    "DEFAULT_TARIFFS_PATH",
    "Bill",
    "ChargeError",
    "Destination",
    "Leg",
    "Line",
    "TariffError",
    "Tariffs",
    "bill_conference",
    "billed_seconds",
    "charge_addons",
    "charge_leg",
    "classify_number",
    "dial_out_rate",
    "load_tariffs",
    "loads_tariffs",
    "parse_tariffs",
    "per_minute_amount",
    "round_money",
    "to_minor_units",
    "total_for",
]
