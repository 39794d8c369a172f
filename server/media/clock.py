"""The 20 ms media clock: a monotonic schedule that catches up on drift.

Ticks are due at ``start + n * period``; a tick never waits for packets. When
the loop was held up it runs the missed ticks back to back (up to
``max_catch_up``), and beyond that it skips ahead so that media stays live.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class ClockStats:
    ticks: int = 0
    #: ticks that started more than one period after they were due
    overruns: int = 0
    #: ticks given up because the loop fell too far behind
    skipped: int = 0
    busy_seconds: float = 0.0
    max_lateness: float = 0.0

    @property
    def overrun_ratio(self) -> float:
        return self.overruns / self.ticks if self.ticks else 0.0


class MediaClock:
    def __init__(
        self,
        tick: Callable[[int], None],
        *,
        period: float = 0.020,
        max_catch_up: int = 5,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._tick = tick
        self.period = period
        self.max_catch_up = max_catch_up
        self._monotonic = monotonic
        self.stats = ClockStats()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="media-clock")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def _run(self) -> None:
        start = self._monotonic()
        n = 0
        while True:
            due = start + n * self.period
            delay = due - self._monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            lateness = self._monotonic() - due
            behind = int(lateness / self.period)
            if behind > self.max_catch_up:
                skip = behind - self.max_catch_up
                self.stats.skipped += skip
                n += skip
                due += skip * self.period
                lateness = self._monotonic() - due
            self.stats.max_lateness = max(self.stats.max_lateness, lateness)
            if lateness > self.period:
                self.stats.overruns += 1
            began = time.perf_counter()
            try:
                self._tick(n)
            except Exception:
                logger.exception("media tick %d failed", n)
            self.stats.busy_seconds += time.perf_counter() - began
            self.stats.ticks += 1
            n += 1
            if delay <= 0:
                # Catching up: still let I/O in between ticks.
                await asyncio.sleep(0)
