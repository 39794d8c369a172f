"""The media clock, driven deterministically: a fake monotonic clock and a fake sleep.

``MediaClock._run`` is stepped by hand: every ``await asyncio.sleep(d)`` inside
it hands ``d`` back to the test, which moves the fake time on and resumes it.
One short test also runs the real clock on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import types
from collections.abc import Callable, Coroutine, Generator
from typing import Any

import pytest

from server.media import clock as clock_module
from server.media.clock import ClockStats, MediaClock


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class _Sleep:
    def __init__(self, delay: float) -> None:
        self.delay = delay

    def __await__(self) -> Generator[_Sleep, None, None]:
        yield self


@pytest.fixture
def fake_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the clock module's view of asyncio is replaced."""
    monkeypatch.setattr(clock_module, "asyncio", types.SimpleNamespace(sleep=_Sleep))


class Driver:
    """Steps the clock's coroutine; records ticks with the fake time they ran at."""

    def __init__(
        self,
        *,
        period: float = 1.0,
        max_catch_up: int = 5,
        on_tick: Callable[[int, FakeTime], None] | None = None,
    ) -> None:
        self.time = FakeTime()
        self.ticks: list[tuple[int, float]] = []
        self.sleeps: list[float] = []
        self._on_tick = on_tick

        def tick(n: int) -> None:
            self.ticks.append((n, self.time.now))
            if self._on_tick is not None:
                self._on_tick(n, self.time)

        self.clock = MediaClock(
            tick, period=period, max_catch_up=max_catch_up, monotonic=self.time
        )
        self._coro: Coroutine[Any, Any, None] = self.clock._run()

    def step(self) -> float:
        """Run until the clock sleeps; sleep for exactly the asked time; return it."""
        request = self._coro.send(None)
        assert isinstance(request, _Sleep)
        self.sleeps.append(request.delay)
        self.time.now += request.delay
        return request.delay

    def run_until_tick(self, n: int) -> None:
        while not self.ticks or self.ticks[-1][0] < n:
            self.step()

    def close(self) -> None:
        self._coro.close()


@pytest.fixture
def drivers(fake_sleep: None) -> Generator[list[Driver], None, None]:
    made: list[Driver] = []
    yield made
    for d in made:
        d.close()


def make(drivers: list[Driver], **kw: Any) -> Driver:
    d = Driver(**kw)
    drivers.append(d)
    return d


# -- on schedule -------------------------------------------------------------------------------


def test_ticks_are_numbered_consecutively_on_schedule(drivers: list[Driver]) -> None:
    d = make(drivers, period=0.5)
    d.run_until_tick(10)
    assert d.ticks == [(n, n * 0.5) for n in range(11)]
    # Tick 0 runs at once (then yields once), every later one sleeps until due
    # (the last sleep is the wait for tick 11).
    assert d.sleeps == [0] + [0.5] * 11
    assert d.clock.stats.ticks == 11
    assert d.clock.stats.overruns == 0
    assert d.clock.stats.skipped == 0
    assert d.clock.stats.max_lateness == 0.0


def test_schedule_does_not_drift_with_tick_duration(drivers: list[Driver]) -> None:
    # Each tick takes 0.3 of a 1.0 period: the next one is still due at n * period.
    def slow(n: int, time: FakeTime) -> None:
        time.now += 0.3

    d = make(drivers, on_tick=slow)
    d.run_until_tick(5)
    assert d.ticks == [(n, float(n)) for n in range(6)]
    assert d.sleeps == pytest.approx([0] + [0.7] * 6)
    assert d.clock.stats.overruns == 0


def test_start_time_is_taken_from_the_injected_clock(drivers: list[Driver]) -> None:
    d = make(drivers)
    d.time.now = 1000.0
    d.run_until_tick(3)
    assert d.ticks == [(0, 1000.0), (1, 1001.0), (2, 1002.0), (3, 1003.0)]


# -- catching up -------------------------------------------------------------------------------


def test_missed_ticks_run_back_to_back(drivers: list[Driver]) -> None:
    def stall(n: int, time: FakeTime) -> None:
        if n == 2:
            time.now += 3.5  # tick 2 held the loop up for 3.5 periods

    d = make(drivers, on_tick=stall)
    d.run_until_tick(6)
    # Ticks 3 and 4 were missed and 5 is late: all three run at once (at 5.5),
    # each yielding to the loop with sleep(0); then the schedule resumes at 6.
    assert d.ticks == [(0, 0.0), (1, 1.0), (2, 2.0), (3, 5.5), (4, 5.5), (5, 5.5), (6, 6.0)]
    assert d.sleeps == [0, 1.0, 1.0, 0, 0, 0, 0.5, 1.0]
    stats = d.clock.stats
    assert stats.skipped == 0
    assert stats.overruns == 2  # ticks 3 (2.5 late) and 4 (1.5 late); 5 is 0.5 late
    assert stats.max_lateness == pytest.approx(2.5)
    assert stats.ticks == 7
    assert stats.overrun_ratio == pytest.approx(2 / 7)


def test_falling_too_far_behind_skips_beyond_max_catch_up(drivers: list[Driver]) -> None:
    def stall(n: int, time: FakeTime) -> None:
        if n == 2:
            time.now += 10.5  # now 12.5: ticks 3..12 are all overdue

    d = make(drivers, max_catch_up=5, on_tick=stall)
    d.run_until_tick(13)
    numbers = [n for n, _ in d.ticks]
    # Ten overdue ticks, at most five behind: 3..6 are given up, 7..12 run at once.
    assert numbers == [0, 1, 2, 7, 8, 9, 10, 11, 12, 13]
    assert [t for n, t in d.ticks if 7 <= n <= 12] == [12.5] * 6
    assert d.ticks[-1] == (13, 13.0)
    stats = d.clock.stats
    assert stats.skipped == 4
    assert stats.ticks == 10
    assert stats.max_lateness == pytest.approx(5.5)  # tick 7, due at 7.0


def test_skips_accumulate_over_several_stalls(drivers: list[Driver]) -> None:
    def stall(n: int, time: FakeTime) -> None:
        if n in (1, 30):
            time.now += 20.25

    d = make(drivers, max_catch_up=2, on_tick=stall)
    d.run_until_tick(60)
    numbers = [n for n, _ in d.ticks]
    assert numbers == sorted(set(numbers))  # increasing, never repeated
    # Each stall leaves 20 ticks overdue: the two behind plus the current one
    # run, the other 17 are given up.
    assert d.clock.stats.skipped == 2 * (20 - 3)
    assert len(numbers) + d.clock.stats.skipped == 61


def test_zero_catch_up_skips_straight_to_the_current_tick(drivers: list[Driver]) -> None:
    def stall(n: int, time: FakeTime) -> None:
        if n == 0:
            time.now += 4.5

    d = make(drivers, max_catch_up=0, on_tick=stall)
    d.run_until_tick(5)
    assert [n for n, _ in d.ticks] == [0, 4, 5]
    assert d.clock.stats.skipped == 3


def test_slightly_late_tick_is_not_an_overrun(drivers: list[Driver]) -> None:
    def stall(n: int, time: FakeTime) -> None:
        if n == 1:
            time.now += 1.9  # tick 2 runs 0.9 late, tick 3 on time

    d = make(drivers, on_tick=stall)
    d.run_until_tick(3)
    assert [n for n, _ in d.ticks] == [0, 1, 2, 3]
    assert d.clock.stats.overruns == 0
    assert d.clock.stats.max_lateness == pytest.approx(0.9)


# -- failing ticks -----------------------------------------------------------------------------


def test_a_failing_tick_does_not_stop_the_clock(
    drivers: list[Driver], caplog: pytest.LogCaptureFixture
) -> None:
    def explode(n: int, time: FakeTime) -> None:
        if n in (1, 3):
            raise RuntimeError(f"boom {n}")

    d = make(drivers, on_tick=explode)
    with caplog.at_level(logging.ERROR, logger="server.media.clock"):
        d.run_until_tick(6)
    assert [n for n, _ in d.ticks] == [0, 1, 2, 3, 4, 5, 6]
    assert d.clock.stats.ticks == 7
    failures = [r for r in caplog.records if r.name == "server.media.clock"]
    assert [r.getMessage() for r in failures] == ["media tick 1 failed", "media tick 3 failed"]
    assert all(r.exc_info is not None for r in failures)


def test_overrun_ratio_without_ticks_is_zero() -> None:
    stats = ClockStats()
    assert stats.overrun_ratio == 0.0


# -- the real clock on the event loop ---------------------------------------------------------


async def test_real_clock_ticks_and_stops() -> None:
    seen: list[int] = []
    reached = asyncio.Event()

    def tick(n: int) -> None:
        seen.append(n)
        if n == 4:
            reached.set()

    clock = MediaClock(tick, period=0.002)
    clock.start()
    first_task = clock._task
    clock.start()  # idempotent: still one task
    assert clock._task is first_task
    await asyncio.wait_for(reached.wait(), timeout=5.0)
    await clock.stop()
    assert clock._task is None
    assert first_task is not None and first_task.done()
    count = len(seen)
    assert seen == sorted(set(seen))
    assert seen[0] == 0
    assert clock.stats.ticks == count
    assert clock.stats.skipped + count == seen[-1] + 1
    assert clock.stats.busy_seconds >= 0.0
    await clock.stop()  # stopping twice is harmless
    await asyncio.sleep(0)
    assert len(seen) == count  # no tick after stop
