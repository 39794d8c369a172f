"""PINs and secret tokens: random from the OS's cryptographic source."""

from __future__ import annotations

import hashlib
import itertools
import secrets

PARTICIPANT_PIN_DIGITS = 8
MODERATOR_PIN_DIGITS = 10


def _looks_guessable(pin: str) -> bool:
    """All one digit, or a straight run such as 12345678 or 98765432."""
    if len(set(pin)) == 1:
        return True
    steps = {(int(b) - int(a)) % 10 for a, b in itertools.pairwise(pin)}
    return steps in ({1}, {9})


def generate_pin(digits: int = PARTICIPANT_PIN_DIGITS) -> str:
    if digits < 6:
        raise ValueError("a PIN needs at least 6 digits to resist guessing")
    while True:
        pin = f"{secrets.randbelow(10**digits):0{digits}d}"
        if not _looks_guessable(pin):
            return pin


def generate_token() -> str:
    """A bearer token: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """Tokens are stored hashed: a leaked database holds no usable token.

    A fast hash is right here (unlike passwords): the token itself has 256 bits
    of entropy, so nothing can be guessed from its hash.
    """
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_id() -> str:
    return secrets.token_hex(8)
