"""Password hashing with argon2id (argon2-cffi, RFC 9106 parameters).

A hash costs ~0.1 s of CPU and 64 MiB: it runs in a worker thread so the event
loop (and with it the 20 ms media clock) never waits for it, and at most a few run
at once so a burst of log-ins cannot exhaust memory.
"""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 10
#: argon2 takes any length, but a megabyte "password" is an attack, not a password
MAX_LENGTH = 256


class Passwords:
    """Hashes and checks passwords off the event loop, a few at a time."""

    def __init__(self, hasher: PasswordHasher | None = None, concurrency: int = 2) -> None:
        self._hasher = hasher or PasswordHasher()  # argon2id, t=3, m=64 MiB, p=4
        self._slots = asyncio.Semaphore(concurrency)
        #: checked when a log-in names nobody, so that answer takes as long as a real one
        self._dummy: str | None = None

    async def hash(self, password: str) -> str:
        async with self._slots:
            return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """True if ``password`` matches; for an unknown user pass None (same cost, False)."""
        if len(password) > MAX_LENGTH:
            return False
        if self._dummy is None:
            self._dummy = await self.hash("not the password of anyone at all")
        stored = password_hash or self._dummy

        def check() -> bool:
            try:
                return self._hasher.verify(stored, password)
            except (VerificationError, InvalidHashError):
                return False

        async with self._slots:
            return await asyncio.to_thread(check) and password_hash is not None

    def needs_rehash(self, password_hash: str) -> bool:
        """After the parameters are raised, a log-in upgrades the stored hash."""
        return self._hasher.check_needs_rehash(password_hash)


def password_problem(password: str, *, email: str | None = None) -> str | None:
    """Why a new password is not acceptable, or None."""
    if len(password) < MIN_LENGTH:
        return f"must be at least {MIN_LENGTH} characters long"
    if len(password) > MAX_LENGTH:
        return f"must be at most {MAX_LENGTH} characters long"
    if email is not None and password.strip().casefold() == email.strip().casefold():
        return "must not be your e-mail address"
    if len(set(password)) < 4:
        return "is too easy to guess"
    return None
