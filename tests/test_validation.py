"""Request-body checks: a ServiceError 400 naming the field, never a crash."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from server.api import validation as v
from server.conference import Contact
from server.service import ServiceError


def refused(call: Callable[[], Any]) -> ServiceError:
    with pytest.raises(ServiceError) as info:
        call()
    error = info.value
    assert error.status == 400
    assert error.code == "invalid"
    return error


def assert_names(error: ServiceError, field: str) -> None:
    assert error.extra == {"field": field}
    assert error.message.startswith(f"{field}: ")


def test_invalid_builds_the_error() -> None:
    error = v.invalid("title", "is required")
    assert (error.status, error.code, error.message) == (400, "invalid", "title: is required")
    assert error.extra == {"field": "title"}


# -- phone numbers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, region, expected",
    [
        ("+44 20 7946 0123", None, "+442079460123"),
        ("+44 (0)20 7946 0123", None, "+442079460123"),
        ("020 7946 0123", "GB", "+442079460123"),
        ("+1 (202) 555-0143", None, "+12025550143"),
        ("+386 40 123 456", None, "+38640123456"),
        ("040 123 456", "SI", "+38640123456"),
        ("+49 30 1234567", "SI", "+49301234567"),  # the region does not override +country
        ("0049 30 1234567", "SI", "+49301234567"),  # international prefix of the region
        ("  +44   20 7946   0123  ", None, "+442079460123"),
    ],
)
def test_phone_numbers_become_e164(raw: str, region: str | None, expected: str) -> None:
    assert v.phone({"phone": raw}, "phone", region=region) == expected


def test_empty_region_string_means_none() -> None:
    error = refused(lambda: v.phone({"phone": "020 7946 0123"}, "phone", region=""))
    assert_names(error, "phone")


@pytest.mark.parametrize("value", [None, "", "   "])
def test_missing_phone_is_none(value: str | None) -> None:
    body = {} if value is None else {"phone": value}
    assert v.phone(body, "phone", region="GB") is None


@pytest.mark.parametrize(
    "raw, region, why",
    [
        ("020 7946 0123", None, "is not a phone number"),  # no +country and no region
        ("hello", None, "is not a phone number"),
        ("+1", None, "is not a phone number"),
        ("+44 20", None, "is not a valid phone number"),
        ("+44 20 7946 0123 9999 9999", None, "is not a"),
        ("+999 123 456 789", None, "is not a"),  # no such country code
        ("12", "GB", "is not a"),
    ],
)
def test_invalid_phone_numbers_are_400_naming_the_field(
    raw: str, region: str | None, why: str
) -> None:
    error = refused(lambda: v.phone({"phone": raw}, "phone", region=region))
    assert_names(error, "phone")
    assert why in error.message


def test_phone_error_names_the_nested_field() -> None:
    error = refused(lambda: v.phone({"phone": "nope"}, "phone", region=None, path="invitees.2."))
    assert_names(error, "invitees.2.phone")


def test_overlong_phone_is_refused_before_parsing() -> None:
    error = refused(lambda: v.phone({"phone": "+44" + "1" * 40}, "phone", region=None))
    assert_names(error, "phone")
    assert "longer than 40" in error.message


def test_phone_must_be_a_string() -> None:
    error = refused(lambda: v.phone({"phone": 442079460123}, "phone", region=None))
    assert_names(error, "phone")
    assert "must be a string" in error.message


# -- e-mail -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("ana@example.org", "ana@example.org"),
        ("  ana.novak+conf@mail.example.co.uk ", "ana.novak+conf@mail.example.co.uk"),
        ("a@b.si", "a@b.si"),
    ],
)
def test_valid_emails(raw: str, expected: str) -> None:
    assert v.email({"email": raw}, "email", required=True) == expected


@pytest.mark.parametrize(
    "raw",
    ["ana", "ana@", "@example.org", "ana@example", "ana@@example.org", "ana @example.org",
     "ana@exa mple.org", "<ana@example.org>", 'an"a@example.org', "a@b@c.org"],
)
def test_invalid_emails(raw: str) -> None:
    error = refused(lambda: v.email({"email": raw}, "email", required=True))
    assert_names(error, "email")
    assert "not a valid e-mail address" in error.message


def test_email_required_or_optional() -> None:
    error = refused(lambda: v.email({}, "email", required=True))
    assert_names(error, "email")
    assert "is required" in error.message
    assert v.email({}, "email", required=False) is None
    assert v.email({"email": "  "}, "email", required=False) is None


def test_overlong_email_is_refused() -> None:
    address = "a" * 250 + "@x.si"  # 255 characters
    error = refused(lambda: v.email({"email": address}, "email", required=True))
    assert "longer than 254" in error.message


# -- text ------------------------------------------------------------------------------------


def test_text_is_trimmed_and_inner_whitespace_collapsed() -> None:
    assert v.text({"title": "  Weekly \t\n  sync  "}, "title") == "Weekly sync"


def test_text_required() -> None:
    for body in ({}, {"title": None}, {"title": ""}, {"title": " \t\n "}):
        error = refused(lambda body=body: v.text(body, "title"))
        assert_names(error, "title")
        assert error.message == "title: is required"


def test_text_optional_gives_none() -> None:
    assert v.text({}, "note", required=False) is None
    assert v.text({"note": "   "}, "note", required=False) is None


@pytest.mark.parametrize("value", [42, 0, False, ["a"], {"a": 1}, 1.5])
def test_text_must_be_a_string(value: object) -> None:
    error = refused(lambda: v.text({"title": value}, "title"))
    assert_names(error, "title")
    assert error.message == "title: must be a string"


def test_text_length_is_measured_after_trimming() -> None:
    assert v.text({"title": "x" * 200}, "title") == "x" * 200
    assert v.text({"title": "   " + "x" * 200 + "   "}, "title") == "x" * 200
    error = refused(lambda: v.text({"title": "x" * 201}, "title"))
    assert error.message == "title: is longer than 200 characters"
    assert v.text({"t": "abcde"}, "t", max_length=5) == "abcde"
    refused(lambda: v.text({"t": "abcdef"}, "t", max_length=5))


def test_text_error_carries_the_path() -> None:
    error = refused(lambda: v.text({}, "name", path="organizer."))
    assert_names(error, "organizer.name")


# -- contact ---------------------------------------------------------------------------------


def test_contact_is_parsed() -> None:
    value = {"name": " Ana  Novak ", "email": "ana@example.org", "phone": "040 123 456"}
    got = v.contact(value, "organizer.", region="SI", email_required=True)
    assert got == Contact("Ana Novak", "ana@example.org", "+38640123456")


def test_contact_optional_parts() -> None:
    got = v.contact({"name": "Bob"}, "invitees.0.", region=None, email_required=False)
    assert got == Contact("Bob", None, None)


@pytest.mark.parametrize("value", [None, "Ana", ["Ana"], 3])
def test_contact_must_be_an_object(value: object) -> None:
    error = refused(lambda: v.contact(value, "organizer.", region=None, email_required=True))
    assert_names(error, "organizer")


@pytest.mark.parametrize(
    "value, field",
    [
        ({"email": "ana@example.org"}, "organizer.name"),
        ({"name": "Ana"}, "organizer.email"),
        ({"name": "Ana", "email": "nope"}, "organizer.email"),
        ({"name": "Ana", "email": "a@b.si", "phone": "12"}, "organizer.phone"),
        ({"name": "A" * 101, "email": "a@b.si"}, "organizer.name"),
    ],
)
def test_contact_errors_name_the_nested_field(value: dict[str, Any], field: str) -> None:
    error = refused(lambda: v.contact(value, "organizer.", region="SI", email_required=True))
    assert_names(error, field)


# -- timestamps ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("2024-05-07T10:30:00Z", datetime(2024, 5, 7, 10, 30, tzinfo=UTC)),
        ("2024-05-07T10:30:00+00:00", datetime(2024, 5, 7, 10, 30, tzinfo=UTC)),
        ("2024-05-07T12:30:00+02:00", datetime(2024, 5, 7, 10, 30, tzinfo=UTC)),
        ("2024-05-07T05:30:00-05:00", datetime(2024, 5, 7, 10, 30, tzinfo=UTC)),
        ("2024-05-07T10:30:00.250Z", datetime(2024, 5, 7, 10, 30, 0, 250000, tzinfo=UTC)),
    ],
)
def test_timestamps_are_converted_to_utc(raw: str, expected: datetime) -> None:
    got = v.timestamp({"starts_at": raw}, "starts_at")
    assert got == expected
    assert got is not None and got.utcoffset() == timedelta(0)
    assert got.tzinfo is UTC


def test_missing_timestamp_is_none() -> None:
    assert v.timestamp({}, "starts_at") is None
    assert v.timestamp({"starts_at": None}, "starts_at") is None


@pytest.mark.parametrize("raw", ["2024-05-07T10:30:00", "2024-05-07", "2024-05-07 10:30"])
def test_timestamp_needs_a_zone(raw: str) -> None:
    error = refused(lambda: v.timestamp({"starts_at": raw}, "starts_at"))
    assert_names(error, "starts_at")
    assert "time zone" in error.message


@pytest.mark.parametrize("raw", ["tomorrow", "", "2024-13-01T00:00:00Z", "07/05/2024 10:30Z"])
def test_unparseable_timestamp(raw: str) -> None:
    error = refused(lambda: v.timestamp({"starts_at": raw}, "starts_at"))
    assert_names(error, "starts_at")
    assert "ISO 8601" in error.message


@pytest.mark.parametrize("raw", [1715077800, 1.5, ["2024-05-07T10:30:00Z"], True])
def test_timestamp_must_be_a_string(raw: object) -> None:
    error = refused(lambda: v.timestamp({"starts_at": raw}, "starts_at"))
    assert_names(error, "starts_at")
    assert "must be an ISO 8601 date-time string" in error.message


# -- language and booleans -----------------------------------------------------------------------


def test_languages() -> None:
    assert v.LANGUAGES == ("en", "de", "sl")
    for lang in v.LANGUAGES:
        assert v.language({"language": lang}, "en") == lang
    assert v.language({}, "de") == "de"
    assert v.language({"language": None}, "sl") == "sl"
    assert v.language({"language": ""}, "sl") == "sl"


@pytest.mark.parametrize("value", ["fr", "EN", "en-GB", "english", 1, ["en"], {"en": 1}])
def test_unknown_language_is_refused(value: object) -> None:
    error = refused(lambda: v.language({"language": value}, "en"))
    assert_names(error, "language")
    assert error.message == "language: must be one of en, de, sl"


def test_booleans() -> None:
    assert v.boolean({"muted": True}, "muted") is True
    assert v.boolean({"muted": False}, "muted") is False
    for value in (None, 0, 1, "true", "false", [], "yes"):
        error = refused(lambda value=value: v.boolean({"muted": value}, "muted"))
        assert_names(error, "muted")
    refused(lambda: v.boolean({}, "muted"))
