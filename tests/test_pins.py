"""PINs and tokens: format, guessability, randomness and hashing."""

from __future__ import annotations

import base64
import hashlib
from collections import Counter
from collections.abc import Iterator

import pytest

from server import pins
from server.pins import (
    MODERATOR_PIN_DIGITS,
    PARTICIPANT_PIN_DIGITS,
    _looks_guessable,
    generate_pin,
    generate_token,
    new_id,
    token_hash,
)


def test_pin_lengths() -> None:
    assert PARTICIPANT_PIN_DIGITS == 8
    assert MODERATOR_PIN_DIGITS == 10
    for _ in range(200):
        pin = generate_pin()
        assert len(pin) == 8
        assert pin.isdigit() and pin.isascii()
        moderator = generate_pin(MODERATOR_PIN_DIGITS)
        assert len(moderator) == 10
        assert moderator.isdigit() and moderator.isascii()


@pytest.mark.parametrize("digits", [6, 7, 12, 20])
def test_other_lengths(digits: int) -> None:
    assert all(len(generate_pin(digits)) == digits for _ in range(50))


@pytest.mark.parametrize("digits", [5, 4, 0, -1])
def test_short_pins_are_refused(digits: int) -> None:
    with pytest.raises(ValueError, match="at least 6 digits"):
        generate_pin(digits)


@pytest.mark.parametrize(
    "pin",
    [
        "00000000", "11111111", "99999999", "0000000000",
        "12345678", "23456789", "01234567", "1234567890",
        "98765432", "87654321", "76543210", "9876543210",
        "78901234",  # ascending, wrapping past 9
        "21098765",  # descending, wrapping past 0
    ],
)
def test_guessable_pins_are_recognised(pin: str) -> None:
    assert _looks_guessable(pin)


@pytest.mark.parametrize(
    "pin",
    ["12345679", "11111112", "13579135", "12121212", "00000001", "98765431", "48213975"],
)
def test_ordinary_pins_are_not_guessable(pin: str) -> None:
    assert not _looks_guessable(pin)


def test_guessable_draws_are_rejected_and_redrawn(monkeypatch: pytest.MonkeyPatch) -> None:
    draws: Iterator[int] = iter([11111111, 12345678, 98765432, 0, 42])
    calls: list[int] = []

    def fake_randbelow(n: int) -> int:
        calls.append(n)
        return next(draws)

    monkeypatch.setattr(pins.secrets, "randbelow", fake_randbelow)
    # 0 -> "00000000" is guessable too; 42 is zero-padded to "00000042".
    assert generate_pin(8) == "00000042"
    assert calls == [10**8] * 5


def test_generated_pins_are_never_guessable() -> None:
    for _ in range(2000):
        assert not _looks_guessable(generate_pin(6))


def test_pins_are_statistically_unique() -> None:
    # 3000 draws out of ~10^8: the expected number of colliding pairs is 0.045;
    # three or more would happen by chance with probability ~1e-5.
    drawn = [generate_pin() for _ in range(3000)]
    collisions = len(drawn) - len(set(drawn))
    assert collisions <= 2
    moderator = [generate_pin(MODERATOR_PIN_DIGITS) for _ in range(3000)]
    assert len(set(moderator)) >= 2999


def test_pin_digits_are_uniform() -> None:
    # 2000 PINs x 8 digits: each digit expected 1600 times. Chi-square with 9
    # degrees of freedom exceeds 40 with probability ~7e-6.
    counts = Counter("".join(generate_pin() for _ in range(2000)))
    assert set(counts) == set("0123456789")
    expected = 2000 * 8 / 10
    chi2 = sum((counts[d] - expected) ** 2 / expected for d in "0123456789")
    assert chi2 < 40


def test_leading_zeros_are_kept() -> None:
    # P(no PIN of 500 starts with 0) = 0.9^500 ~ 1e-23.
    assert any(generate_pin().startswith("0") for _ in range(500))


def test_every_position_varies() -> None:
    drawn = [generate_pin() for _ in range(500)]
    for position in range(8):
        assert len({pin[position] for pin in drawn}) == 10


# -- tokens ----------------------------------------------------------------------------------


def test_tokens_carry_at_least_256_bits() -> None:
    token = generate_token()
    assert len(token) >= 43  # 256 bits in base64: ceil(256 / 6)
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    assert len(raw) * 8 >= 256


def test_tokens_are_url_safe_and_unique() -> None:
    tokens = [generate_token() for _ in range(2000)]
    assert len(set(tokens)) == 2000
    allowed = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    for token in tokens:
        assert set(token) <= allowed


def test_token_hash_is_stable_sha256_and_hides_the_token() -> None:
    token = generate_token()
    digest = token_hash(token)
    assert digest == token_hash(token)
    assert digest != token
    assert token not in digest
    assert len(digest) == 64 and all(c in "0123456789abcdef" for c in digest)
    assert digest == hashlib.sha256(token.encode()).hexdigest()


def test_token_hash_known_value() -> None:
    assert token_hash("abc") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )


def test_different_tokens_have_different_hashes() -> None:
    tokens = [generate_token() for _ in range(500)]
    assert len({token_hash(t) for t in tokens}) == 500
    assert token_hash("a") != token_hash("b")


def test_new_ids_are_64_bit_hex_and_unique() -> None:
    ids = [new_id() for _ in range(2000)]
    assert len(set(ids)) == 2000
    assert all(len(i) == 16 and int(i, 16) >= 0 for i in ids)
