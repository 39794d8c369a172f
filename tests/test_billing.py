"""Billing core: golden numbers worked out by hand, bad tariff files, properties.

The expected amounts below are written out, not computed: each comment shows the arithmetic
(price x billed seconds / 60, rounded half up to cents) so a reviewer can check it on paper.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.billing import (
    Bill,
    ChargeError,
    Leg,
    Line,
    TariffError,
    Tariffs,
    bill_conference,
    charge_addons,
    charge_leg,
    load_tariffs,
    loads_tariffs,
    round_money,
    to_minor_units,
)
from server.billing.charges import LegKind
from server.billing.tariffs import Rounding

D = Decimal

TARIFF_TOML = """\
currency = "EUR"
rounding = "per-second"
premium_per_minute = "0.60"
tollfree_call_per_minute = "0.05"

[fee_per_minute.adhoc]
web = "0.02"
geographic = "0.03"
tollfree = "0.03"
dial-out = "0.04"

[fee_per_minute.registered]
web = "0.01"
geographic = "0.02"
tollfree = "0.02"
dial-out = "0.03"

[dial_out_per_minute.default]
fixed = "0.10"
mobile = "0.30"

[dial_out_per_minute.SI]
fixed = "0.02"
mobile = "0.07"

[addons]
custom_welcome = "5.00"
recording = "0.015"
"""


def tariffs(rounding: str = "per-second") -> Tariffs:
    text = TARIFF_TOML.replace('rounding = "per-second"', f'rounding = "{rounding}"')
    return loads_tariffs(text, source="test.toml")


LEGS = (
    Leg("w", "Ana (browser)", "web", None, None, 61),
    Leg("p", "Bor (premium)", "dial-in", "premium", "+38641000000", 125),
    Leg("g", "Cene (geographic)", "dial-in", "geographic", None, 600),
    Leg("t", "Dora (toll-free)", "dial-in", "tollfree", None, 59),
    Leg("si", "Eva (SI mobile)", "dial-out", None, "+38640123456", 90),
    Leg("de", "Fritz (DE fixed)", "dial-out", None, "+4930123456", 30),
)

Row = tuple[str | None, str, str, int, str, str]


def rows(bill: Bill) -> list[Row]:
    """(participant, payer, item, billed seconds, price per minute, amount) of each line."""
    return [
        (x.participant_id, x.payer, x.item, x.quantity, str(x.unit_price), str(x.amount))
        for x in bill.lines
    ]


# (rounding, registered) -> (lines, organizer total, caller total)
GOLDEN: dict[tuple[str, bool], tuple[list[Row], str, str]] = {
    ("per-second", False): (
        [
            ("w", "organizer", "fee", 61, "0.02", "0.02"),  # 0.02 x 61/60 = 0.02033
            ("p", "caller", "premium", 125, "0.60", "1.25"),  # 0.60 x 125/60 = 1.25
            ("g", "organizer", "fee", 600, "0.03", "0.30"),  # 0.03 x 10 = 0.30
            ("t", "organizer", "fee", 59, "0.03", "0.03"),  # 0.03 x 59/60 = 0.0295 -> up
            ("t", "organizer", "call", 59, "0.05", "0.05"),  # 0.05 x 59/60 = 0.04917
            ("si", "organizer", "fee", 90, "0.04", "0.06"),  # 0.04 x 1.5 = 0.06
            ("si", "organizer", "call", 90, "0.07", "0.11"),  # 0.07 x 1.5 = 0.105 -> up
            ("de", "organizer", "fee", 30, "0.04", "0.02"),  # 0.04 x 0.5 = 0.02
            ("de", "organizer", "call", 30, "0.10", "0.05"),  # DE not listed: default fixed
        ],
        "0.64",  # 0.02+0.30+0.03+0.05+0.06+0.11+0.02+0.05
        "1.25",
    ),
    ("per-started-minute", False): (
        [
            ("w", "organizer", "fee", 120, "0.02", "0.04"),  # 61 s -> 2 min
            ("p", "caller", "premium", 180, "0.60", "1.80"),  # 125 s -> 3 min
            ("g", "organizer", "fee", 600, "0.03", "0.30"),
            ("t", "organizer", "fee", 60, "0.03", "0.03"),  # 59 s -> 1 min
            ("t", "organizer", "call", 60, "0.05", "0.05"),
            ("si", "organizer", "fee", 120, "0.04", "0.08"),  # 90 s -> 2 min
            ("si", "organizer", "call", 120, "0.07", "0.14"),
            ("de", "organizer", "fee", 60, "0.04", "0.04"),  # 30 s -> 1 min
            ("de", "organizer", "call", 60, "0.10", "0.10"),
        ],
        "0.78",  # 0.04+0.30+0.03+0.05+0.08+0.14+0.04+0.10
        "1.80",
    ),
    ("per-second", True): (
        [
            ("w", "organizer", "fee", 61, "0.01", "0.01"),  # 0.01 x 61/60 = 0.01017
            ("p", "caller", "premium", 125, "0.60", "1.25"),  # same for every plan
            ("g", "organizer", "fee", 600, "0.02", "0.20"),
            ("t", "organizer", "fee", 59, "0.02", "0.02"),  # 0.02 x 59/60 = 0.01967
            ("t", "organizer", "call", 59, "0.05", "0.05"),
            ("si", "organizer", "fee", 90, "0.03", "0.05"),  # 0.03 x 1.5 = 0.045 -> up
            ("si", "organizer", "call", 90, "0.07", "0.11"),
            ("de", "organizer", "fee", 30, "0.03", "0.02"),  # 0.03 x 0.5 = 0.015 -> up
            ("de", "organizer", "call", 30, "0.10", "0.05"),
        ],
        "0.51",  # 0.01+0.20+0.02+0.05+0.05+0.11+0.02+0.05
        "1.25",
    ),
    ("per-started-minute", True): (
        [
            ("w", "organizer", "fee", 120, "0.01", "0.02"),
            ("p", "caller", "premium", 180, "0.60", "1.80"),
            ("g", "organizer", "fee", 600, "0.02", "0.20"),
            ("t", "organizer", "fee", 60, "0.02", "0.02"),
            ("t", "organizer", "call", 60, "0.05", "0.05"),
            ("si", "organizer", "fee", 120, "0.03", "0.06"),
            ("si", "organizer", "call", 120, "0.07", "0.14"),
            ("de", "organizer", "fee", 60, "0.03", "0.03"),
            ("de", "organizer", "call", 60, "0.10", "0.10"),
        ],
        "0.62",  # 0.02+0.20+0.02+0.05+0.06+0.14+0.03+0.10
        "1.80",
    ),
}


@pytest.mark.parametrize(("rounding", "registered"), list(GOLDEN))
def test_scripted_conference(rounding: str, registered: bool) -> None:
    bill = bill_conference(LEGS, {}, tariffs(rounding), registered=registered)
    lines, organizer, caller = GOLDEN[rounding, registered]
    assert rows(bill) == lines
    assert bill.total_organizer == D(organizer)
    assert bill.total_caller == D(caller)
    assert bill.currency == "EUR"
    assert all(line.unit == "second" for line in bill.lines)


def test_amounts_carry_cents_exactly() -> None:
    bill = bill_conference(LEGS, {}, tariffs(), registered=False)
    assert all(
        isinstance(x.amount, Decimal) and x.amount.as_tuple().exponent == -2 for x in bill.lines
    )
    assert str(bill.total_organizer) == "0.64"
    assert str(bill.total) == "1.89"


def test_who_pays_what_by_leg() -> None:
    t = tariffs()
    by_id = {leg.participant_id: leg for leg in LEGS}
    items = {
        pid: [(x.payer, x.item) for x in charge_leg(by_id[pid], t, registered=False)]
        for pid in by_id
    }
    assert items == {
        "w": [("organizer", "fee")],
        "p": [("caller", "premium")],  # nothing for the organiser
        "g": [("organizer", "fee")],  # the caller's call is between them and their carrier
        "t": [("organizer", "fee"), ("organizer", "call")],
        "si": [("organizer", "fee"), ("organizer", "call")],
        "de": [("organizer", "fee"), ("organizer", "call")],
    }


def test_dial_out_details_and_default_country() -> None:
    t = tariffs()
    si = charge_leg(LEGS[4], t, registered=False)[1]
    de = charge_leg(LEGS[5], t, registered=False)[1]
    assert si.detail == "SI mobile"
    assert de.detail == "DE fixed (default rate)"


def test_fixed_line_or_mobile_is_billed_as_mobile() -> None:
    # +1 201 555 0123: phonenumbers cannot tell fixed from mobile in the US.
    leg = Leg("us", "Gus", "dial-out", None, "+12015550123", 60)
    fee, call = charge_leg(leg, tariffs(), registered=False)
    assert (call.unit_price, call.amount) == (D("0.30"), D("0.30"))  # default mobile, 1 min
    assert call.detail == "US fixed or mobile, billed as mobile (default rate)"
    assert fee.amount == D("0.04")


@pytest.mark.parametrize(
    ("phone", "message"),
    [
        ("+38680123456", "no dial-out rate for SI tollfree"),  # SI table has no tollfree
        ("+38690123456", "premium rate number"),
        ("+38659012345", "voip number"),
        ("+3861234", "not a valid phone number"),
        ("+3861", "not an international number"),
        ("040 123 456", "not an international number"),
    ],
)
def test_unpriceable_dial_out_is_an_error(phone: str, message: str) -> None:
    leg = Leg("x", "X", "dial-out", None, phone, 60)
    with pytest.raises(ChargeError, match=message):
        charge_leg(leg, tariffs(), registered=False)


def test_tollfree_dial_out_with_a_rate() -> None:
    text = TARIFF_TOML.replace('mobile = "0.07"', 'mobile = "0.07"\ntollfree = "0"')
    leg = Leg("x", "X", "dial-out", None, "+38680123456", 60)
    fee, call = charge_leg(leg, loads_tariffs(text), registered=False)
    assert (call.detail, call.amount, fee.amount) == ("SI tollfree", D("0.00"), D("0.04"))


@pytest.mark.parametrize("rounding", ["per-second", "per-started-minute"])
def test_zero_second_leg_costs_nothing(rounding: str) -> None:
    t = tariffs(rounding)
    zero = [dataclasses.replace(leg, seconds=0) for leg in LEGS]
    for leg in zero:
        assert charge_leg(leg, t, registered=False) == []
    # Even an unanswered call to a number we could not price.
    unanswered = Leg("x", "X", "dial-out", None, "+38690123456", 0)
    assert charge_leg(unanswered, t, registered=False) == []
    bill = bill_conference(zero, {"recording": 0}, t, registered=True)
    assert bill.lines == ()
    assert (bill.total_organizer, bill.total_caller) == (D("0.00"), D("0.00"))


def test_one_second_per_started_minute_is_a_whole_minute() -> None:
    leg = Leg("g", "G", "dial-in", "geographic", None, 1)
    [line] = charge_leg(leg, tariffs("per-started-minute"), registered=False)
    assert (line.quantity, line.amount) == (60, D("0.03"))
    [line] = charge_leg(leg, tariffs("per-second"), registered=False)
    assert (line.quantity, line.amount) == (1, D("0.00"))  # 0.03 / 60 = 0.0005


def test_addons() -> None:
    lines = charge_addons({"recording": 7, "custom_welcome": 1}, tariffs())
    assert [(x.participant_id, x.payer, x.item, x.quantity, x.unit, x.amount) for x in lines] == [
        (None, "organizer", "addon:custom_welcome", 1, "each", D("5.00")),
        # 0.015 x 7 = 0.105 -> 0.11 (a float would give 0.10)
        (None, "organizer", "addon:recording", 420, "second", D("0.11")),
    ]
    assert charge_addons({"custom_welcome": 0, "recording": 0}, tariffs()) == []


def test_bill_with_addons() -> None:
    bill = bill_conference(LEGS, {"custom_welcome": 1, "recording": 7}, tariffs(), registered=False)
    assert bill.total_organizer == D("5.75")  # 0.64 + 5.00 + 0.11
    assert bill.total_caller == D("1.25")
    assert bill.total == D("7.00")
    assert to_minor_units(bill.total_organizer) == 575


@pytest.mark.parametrize(
    ("addons", "message"),
    [
        ({"karaoke": 1}, "unknown add-on"),
        ({"recording": -1}, "whole number"),
        ({"recording": 1.5}, "whole number"),
    ],
)
def test_bad_addons(addons: dict[str, int], message: str) -> None:
    with pytest.raises(ChargeError, match=message):
        charge_addons(addons, tariffs())


@pytest.mark.parametrize(
    ("leg", "message"),
    [
        (Leg("x", "X", "dial-in", None, None, 60), "needs an access mode"),
        (Leg("x", "X", "dial-in", "shared", None, 60), "needs an access mode"),
        (Leg("x", "X", "web", "premium", None, 60), "has no access mode"),
        (Leg("x", "X", "dial-out", None, None, 60), "needs the number"),
        (Leg("x", "X", "sip", None, None, 60), "kind must be one of"),  # type: ignore[arg-type]
        (Leg("x", "X", "web", None, None, -1), "seconds must be"),
    ],
)
def test_inconsistent_legs_are_refused(leg: Leg, message: str) -> None:
    with pytest.raises(ChargeError, match=message):
        charge_leg(leg, tariffs(), registered=False)


def test_printable() -> None:
    bill = bill_conference(LEGS[4:5], {"custom_welcome": 1}, tariffs(), registered=False)
    assert [str(x) for x in bill.lines] == [
        "si  organizer  fee  1:30 min x 0.04/min = 0.06  (dial-out fee, ad hoc)",
        "si  organizer  call  1:30 min x 0.07/min = 0.11  (SI mobile)",
        "(conference)  organizer  addon:custom_welcome  1 x 5.00 = 5.00",
    ]
    assert bill.render().splitlines()[-2:] == [
        "Organizer total: 5.17 EUR",
        "Caller total (collected by the carrier): 0.00 EUR",
    ]


# -- money ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "rounded"),
    [
        ("0.005", "0.01"),
        ("0.0049999", "0.00"),
        ("2.675", "2.68"),
        ("-0.005", "-0.01"),
        ("1", "1.00"),
        ("0.015", "0.02"),
        ("1.2345", "1.23"),
    ],
)
def test_round_money_is_half_up(value: str, rounded: str) -> None:
    assert str(round_money(D(value))) == rounded


@pytest.mark.parametrize(
    ("amount", "cents"),
    [
        ("12.34", 1234),
        ("0", 0),
        ("0.00", 0),
        ("5", 500),
        ("1.10", 110),
        ("-1.50", -150),
        ("1000000.01", 100000001),
    ],
)
def test_to_minor_units(amount: str, cents: int) -> None:
    assert to_minor_units(D(amount)) == cents


def test_to_minor_units_refuses_sub_cent_and_float() -> None:
    with pytest.raises(ValueError, match="more than 2 decimals"):
        to_minor_units(D("0.005"))
    with pytest.raises(TypeError):
        to_minor_units(0.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not finite"):
        to_minor_units(D("NaN"))


# -- tariff files -----------------------------------------------------------------------------


def test_bundled_default_tariffs_load() -> None:
    t = load_tariffs(None)
    assert t.currency == "EUR"
    for kind, adhoc in t.fee_per_minute["adhoc"].items():
        assert t.fee_per_minute["registered"][kind] <= adhoc
    assert "default" in t.dial_out_per_minute
    assert set(t.addons) == {"custom_welcome", "recording"}
    bill = bill_conference(LEGS, {"custom_welcome": 1}, t, registered=True)
    assert bill.total_organizer > 0


def test_load_from_file(tmp_path: Path) -> None:
    path = tmp_path / "tariffs.toml"
    path.write_text(TARIFF_TOML, encoding="utf-8")
    t = load_tariffs(path)
    assert t.premium_per_minute == D("0.60")
    assert t.dial_out_per_minute["SI"]["mobile"] == D("0.07")
    assert t.addons["recording"] == D("0.015")
    assert t.rounding == "per-second"


def test_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "tariffs.toml"
    path.write_text(TARIFF_TOML.replace('web = "0.02"', "web = 0.02"), encoding="utf-8")
    with pytest.raises(TariffError, match=f"tariff file {path}: fee_per_minute.adhoc.web"):
        load_tariffs(path)
    with pytest.raises(TariffError, match="cannot read it"):
        load_tariffs(tmp_path / "missing.toml")


def bad(old: str, new: str) -> str:
    assert old in TARIFF_TOML
    return TARIFF_TOML.replace(old, new, 1)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # A float literal: inexact; the message shows how to quote it.
        (
            bad('web = "0.02"', "web = 0.02"),
            'fee_per_minute.adhoc.web: 0.02 is a TOML float.*quote.*web = "0.02"',
        ),
        (bad('recording = "0.015"', "recording = 1.5e-2"), "addons.recording: 1.5e-2 is a TOML"),
        (
            bad('premium_per_minute = "0.60"', 'premium_per_minute = "-0.60"'),
            "premium_per_minute: -0.60 is negative",
        ),
        (bad('fixed = "0.10"', 'fixed = "-0"'), "dial_out_per_minute.default.fixed: -0 is neg"),
        (
            bad('web = "0.02"', 'web = "0.02"\nwebb = "0.02"'),
            "fee_per_minute.adhoc.webb: unknown key",
        ),
        (bad('currency = "EUR"', 'currency = "EUR"\ncolour = "red"'), "colour: unknown key"),
        (
            bad('mobile = "0.07"', 'mobile = "0.07"\npremium = "1"'),
            "dial_out_per_minute.SI.premium: unknown key",
        ),
        (bad("[addons]", '[addons]\nkaraoke = "1"'), "addons.karaoke: unknown key"),
        (bad('currency = "EUR"\n', ""), "currency: missing"),
        (bad('dial-out = "0.03"\n', ""), "fee_per_minute.registered.dial-out: missing"),
        (bad('recording = "0.015"\n', ""), "addons.recording: missing"),
        (
            bad("[dial_out_per_minute.default]", "[dial_out_per_minute.AT]"),
            "dial_out_per_minute.default: missing",
        ),
        (
            bad("[dial_out_per_minute.SI]", "[dial_out_per_minute.si]"),
            "dial_out_per_minute.si: unknown key.*capitals",
        ),
        (
            bad('web = "0.01"', 'web = "0.03"'),
            "fee_per_minute.registered.web: 0.03 is dearer than fee_per_minute.adhoc.web",
        ),
        (bad('currency = "EUR"', 'currency = "eur"'), "currency: must be an ISO 4217"),
        (
            bad('currency = "EUR"', 'currency = "JPY"'),
            "currency: JPY does not have a minor unit of 1/100",
        ),
        (
            bad('rounding = "per-second"', 'rounding = "per-minute"'),
            "rounding: must be one of per-second, per-started-minute",
        ),
        (
            bad('web = "0.02"', 'web = "two cents"'),
            "fee_per_minute.adhoc.web: 'two cents' is not a decimal",
        ),
        (
            bad('web = "0.02"', 'web = "NaN"'),
            "fee_per_minute.adhoc.web: 'NaN' is not a finite price",
        ),
        (
            bad('web = "0.02"', "web = true"),
            "fee_per_minute.adhoc.web: a price must be a quoted decimal",
        ),
        ("addons = 5\n" + TARIFF_TOML.partition("[addons]")[0], "addons: must be a table"),
        (bad('currency = "EUR"', 'currency = "EUR'), "not valid TOML"),
    ],
)
def test_bad_tariffs_are_refused(text: str, message: str) -> None:
    with pytest.raises(TariffError, match=f"tariff file test.toml: {message}"):
        loads_tariffs(text, source="test.toml")


def test_integer_prices_are_exact_and_accepted() -> None:
    t = loads_tariffs(bad('tollfree_call_per_minute = "0.05"', "tollfree_call_per_minute = 0"))
    assert t.tollfree_call_per_minute == D("0")


def test_equal_fees_for_both_plans_are_allowed() -> None:
    t = loads_tariffs(bad('web = "0.01"', 'web = "0.02"'))
    assert t.fee_per_minute["registered"]["web"] == t.fee_per_minute["adhoc"]["web"]


def test_tariffs_are_read_only() -> None:
    t = tariffs()
    with pytest.raises(TypeError):
        t.fee_per_minute["adhoc"]["web"] = D("0")  # type: ignore[index]


# -- properties -------------------------------------------------------------------------------

PRICES = st.decimals(min_value=0, max_value=10, places=4, allow_nan=False, allow_infinity=False)

LegShape = tuple[LegKind, str | None, str | None]
LEG_SHAPES: st.SearchStrategy[LegShape] = st.sampled_from(
    [
        ("web", None, None),
        ("dial-in", "premium", None),
        ("dial-in", "geographic", None),
        ("dial-in", "tollfree", None),
        ("dial-out", None, "+38640123456"),
        ("dial-out", None, "+4930123456"),
        ("dial-out", None, "+12015550123"),
    ]
)


@st.composite
def random_tariffs(draw: st.DrawFn) -> Tariffs:
    adhoc = {kind: draw(PRICES) for kind in ("web", "geographic", "tollfree", "dial-out")}
    return dataclasses.replace(
        tariffs(),
        fee_per_minute={"adhoc": adhoc, "registered": {k: v / 2 for k, v in adhoc.items()}},
        premium_per_minute=draw(PRICES),
        tollfree_call_per_minute=draw(PRICES),
        dial_out_per_minute={
            "default": {"fixed": draw(PRICES), "mobile": draw(PRICES)},
            "SI": {"fixed": draw(PRICES), "mobile": draw(PRICES)},
        },
    )


@st.composite
def legs(draw: st.DrawFn) -> Leg:
    kind, mode, phone = draw(LEG_SHAPES)
    seconds = draw(st.integers(min_value=0, max_value=200_000))
    return Leg(f"p{seconds}", "Someone", kind, mode, phone, seconds)


@given(leg=legs(), t=random_tariffs(), registered=st.booleans())
def test_per_started_minute_never_charges_less(leg: Leg, t: Tariffs, registered: bool) -> None:
    exact = charge_leg(leg, dataclasses.replace(t, rounding="per-second"), registered=registered)
    whole = charge_leg(
        leg, dataclasses.replace(t, rounding="per-started-minute"), registered=registered
    )
    assert [(x.payer, x.item) for x in exact] == [(x.payer, x.item) for x in whole]
    for e, w in zip(exact, whole, strict=True):
        assert w.quantity >= e.quantity
        assert w.quantity % 60 == 0
        assert w.amount >= e.amount


@given(
    conference=st.lists(legs(), max_size=8),
    t=random_tariffs(),
    registered=st.booleans(),
    rounding=st.sampled_from(["per-second", "per-started-minute"]),
    welcome=st.integers(min_value=0, max_value=2),
    recording=st.integers(min_value=0, max_value=600),
)
def test_totals_are_sums_of_lines(
    conference: list[Leg],
    t: Tariffs,
    registered: bool,
    rounding: Rounding,
    welcome: int,
    recording: int,
) -> None:
    t = dataclasses.replace(t, rounding=rounding)
    addons = {"custom_welcome": welcome, "recording": recording}
    bill = bill_conference(conference, addons, t, registered=registered)
    lines: list[Line] = list(bill.lines)
    assert bill.total_organizer == sum((x.amount for x in lines if x.payer == "organizer"), D(0))
    assert bill.total_caller == sum((x.amount for x in lines if x.payer == "caller"), D(0))
    assert bill.total == sum((x.amount for x in lines), D(0))
    assert to_minor_units(bill.total) == sum(to_minor_units(x.amount) for x in lines)
    for x in lines:
        assert x.amount >= 0
        assert x.amount == x.amount.quantize(D("0.01"))
