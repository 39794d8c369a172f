"""Wrong-PIN throttling: slowed, then refused, per client key (address, calling number).

Pure bookkeeping with the time passed in; the caller does the waiting. A right
PIN does not clear the count: otherwise knowing one PIN would reset the limit
between guesses at others.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    #: seconds to hold the answer to this attempt (slows guessing down)
    delay: float = 0.0
    #: when refused: seconds until the client may try again
    retry_after: float = 0.0


class PinThrottle:
    def __init__(
        self,
        max_failures: int = 5,
        window: float = 300.0,
        free_failures: int = 2,
        base_delay: float = 0.25,
        max_delay: float = 2.0,
        max_keys: int = 100_000,
    ) -> None:
        self.max_failures = max_failures
        self.window = window
        self.free_failures = free_failures
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.max_keys = max_keys
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def check(self, key: str, now: float) -> Verdict:
        """May this client try a PIN now?"""
        times = self._recent(key, now)
        if len(times) >= self.max_failures:
            return Verdict(False, retry_after=max(times[0] + self.window - now, 1.0))
        return Verdict(True)

    def failed(self, key: str, now: float) -> Verdict:
        """Record a wrong PIN; the verdict says how long to hold the answer."""
        times = self._recent(key, now)
        if not times:
            if len(self._failures) >= self.max_keys:
                # Bounded memory under a spray of addresses: forget the oldest key.
                self._failures.pop(next(iter(self._failures)))
            self._failures[key] = times
        times.append(now)
        excess = len(times) - self.free_failures
        delay = min(self.base_delay * 2 ** (excess - 1), self.max_delay) if excess > 0 else 0.0
        return Verdict(True, delay=delay)

    def check_all(self, keys: Iterable[str], now: float) -> Verdict:
        """The first refusal among a client's keys (address, login name, …), or allowed."""
        for key in keys:
            verdict = self.check(key, now)
            if not verdict.allowed:
                return verdict
        return Verdict(True)

    def failed_all(self, keys: Iterable[str], now: float) -> float:
        """Record a failure against every key; the longest hold any of them asks for."""
        return max((self.failed(key, now).delay for key in keys), default=0.0)
