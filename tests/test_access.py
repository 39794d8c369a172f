"""Access numbers: configuration, lookup of the dialled number in any form, the API."""

from __future__ import annotations

import pytest

from server.access import (
    DEVELOPMENT_NUMBERS,
    AccessMode,
    find_access_number,
    parse_access_numbers,
)
from server.config import load_settings

from .conftest import InProcess

NUMBERS = parse_access_numbers(DEVELOPMENT_NUMBERS)


def test_development_numbers_have_every_mode() -> None:
    assert {n.mode for n in NUMBERS} == set(AccessMode)
    assert [n.display for n in NUMBERS] == [
        "+44 20 7946 0001", "+44 909 879 0001", "+44 808 157 0001",
    ]


@pytest.mark.parametrize(
    "dialled",
    ["+442079460001", "442079460001", "00442079460001", "02079460001", "020 7946 0001",
     "+44 (0)20 7946-0001"],
)
def test_the_dialled_number_is_found_in_any_form(dialled: str) -> None:
    found = find_access_number(dialled, NUMBERS)
    assert found is not None and found.e164 == "+442079460001"
    assert found.mode is AccessMode.GEOGRAPHIC


@pytest.mark.parametrize("dialled", ["", "conference", "12", "+442079460002", "+38615000000"])
def test_other_numbers_are_not_access_numbers(dialled: str) -> None:
    assert find_access_number(dialled, NUMBERS) is None


@pytest.mark.parametrize(
    "spec, message",
    [("+442079460001", "+NUMBER:MODE"), ("+44207946:geographic", "not a valid"),
     ("+442079460001:cheap", "mode must be"), ("hello:premium", "hello")],
)
def test_bad_configuration_is_refused(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("+", r"\+")):
        parse_access_numbers([spec])
    with pytest.raises(SystemExit, match="TELEKONF_ACCESS_NUMBERS"):
        load_settings(None, {"TELEKONF_ACCESS_NUMBERS": spec})


def test_configured_from_the_environment() -> None:
    settings = load_settings(None, {"TELEKONF_ACCESS_NUMBERS": "+386 1 300 11 00:tollfree"})
    (number,) = parse_access_numbers(settings.access_numbers)
    assert (number.e164, number.mode, number.display) == (
        "+38613001100", AccessMode.TOLLFREE, "+386 1 300 11 00",
    )


async def test_dial_in_numbers_api(service: InProcess) -> None:
    async with service.http.get(f"{service.url}/api/v1/dial-in-numbers") as response:
        assert response.status == 200
        assert await response.json() == [n.view() for n in NUMBERS]
