"""The toll-fraud fence: only ordinary numbers in allowed countries are called."""

from __future__ import annotations

import pytest

from server.dialout import DialOutRefused, check_destination

ALLOWED = ("GB", "SI")


@pytest.mark.parametrize(
    "number, e164",
    [
        ("+44 20 7946 0123", "+442079460123"),  # London, fixed
        ("+44 7400 123456", "+447400123456"),  # UK mobile
        ("+44 808 157 0123", "+448081570123"),  # toll-free costs the caller nothing
        ("+386 1 300 11 00", "+38613001100"),  # Ljubljana
    ],
)
def test_ordinary_numbers_are_called(number: str, e164: str) -> None:
    assert check_destination(number, ALLOWED) == e164


@pytest.mark.parametrize(
    "number, reason",
    [
        ("+44 909 879 0123", "premium-rate"),
        ("+49 30 901820", "not allowed"),  # Germany is not in the list
        ("+1 900 555 0123", "not"),  # US premium and not allowed
        ("+44 20 79", "not a valid"),
        ("hello", "not a phone number"),
        ("+44 345 600 0000", "non-geographic"),
    ],
)
def test_refused_with_the_reason(number: str, reason: str) -> None:
    with pytest.raises(DialOutRefused, match=reason):
        check_destination(number, ALLOWED)


def test_no_country_allowed_refuses_all() -> None:
    with pytest.raises(DialOutRefused, match="allowed: none"):
        check_destination("+442079460123", ())


def test_shared_cost_is_refused_even_where_calls_are_allowed() -> None:
    with pytest.raises(DialOutRefused, match="shared-cost"):
        check_destination("+33 810 123 456", ("FR",))
