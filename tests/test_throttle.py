"""Wrong-PIN throttling with fake times: slowed, refused, allowed again."""

from __future__ import annotations

import pytest

from server.throttle import PinThrottle, Verdict

KEY = "198.51.100.7"


def fail_times(throttle: PinThrottle, key: str, times: list[float]) -> list[Verdict]:
    return [throttle.failed(key, t) for t in times]


def test_defaults() -> None:
    t = PinThrottle()
    assert (t.max_failures, t.window, t.free_failures) == (5, 300.0, 2)
    assert (t.base_delay, t.max_delay, t.max_keys) == (0.25, 2.0, 100_000)


def test_fresh_client_is_allowed_without_delay() -> None:
    assert PinThrottle().check(KEY, 0.0) == Verdict(True, 0.0, 0.0)


def test_free_failures_then_doubling_delays_capped() -> None:
    t = PinThrottle(max_failures=100, free_failures=2, base_delay=0.25, max_delay=2.0)
    delays = [v.delay for v in fail_times(t, KEY, [float(i) for i in range(9)])]
    assert delays == [0.0, 0.0, 0.25, 0.5, 1.0, 2.0, 2.0, 2.0, 2.0]
    assert all(v.allowed for v in fail_times(t, "other", [0.0]))


def test_cap_applies_when_not_a_power_of_two() -> None:
    t = PinThrottle(max_failures=100, free_failures=0, base_delay=0.3, max_delay=1.0)
    delays = [v.delay for v in fail_times(t, KEY, [0.0, 1.0, 2.0, 3.0])]
    assert delays == pytest.approx([0.3, 0.6, 1.0, 1.0])


def test_refused_after_max_failures_within_the_window() -> None:
    t = PinThrottle(max_failures=5, window=300.0)
    for i, now in enumerate([0.0, 10.0, 20.0, 30.0]):
        fail_times(t, KEY, [now])
        assert t.check(KEY, now + 1).allowed, f"refused after only {i + 1} failures"
    fail_times(t, KEY, [40.0])
    verdict = t.check(KEY, 50.0)
    assert not verdict.allowed
    # The oldest failure (t=0) leaves the window at t=300.
    assert verdict.retry_after == pytest.approx(250.0)
    assert verdict.delay == 0.0
    assert t.check(KEY, 299.0).retry_after == pytest.approx(1.0)


def test_retry_after_is_at_least_one_second() -> None:
    t = PinThrottle(max_failures=2, window=10.0)
    fail_times(t, KEY, [0.0, 0.0])
    verdict = t.check(KEY, 9.9)
    assert not verdict.allowed
    assert verdict.retry_after == 1.0


def test_allowed_again_once_the_window_has_passed() -> None:
    t = PinThrottle(max_failures=3, window=60.0)
    fail_times(t, KEY, [0.0, 5.0, 10.0])
    assert not t.check(KEY, 59.9).allowed
    # At t=60 the failure at t=0 is exactly one window old: it no longer counts.
    assert t.check(KEY, 60.0).allowed
    # One more failure now brings it back to three within the window.
    t.failed(KEY, 60.0)
    assert not t.check(KEY, 60.0).allowed
    assert t.check(KEY, 60.0).retry_after == pytest.approx(5.0)
    # Long after, everything has expired and the delays start over.
    assert t.check(KEY, 1000.0).allowed
    assert t.failed(KEY, 1000.0).delay == 0.0


def test_delay_counts_only_failures_in_the_window() -> None:
    t = PinThrottle(max_failures=10, window=100.0, free_failures=1, base_delay=1.0, max_delay=8)
    assert [v.delay for v in fail_times(t, KEY, [0.0, 1.0, 2.0])] == [0.0, 1.0, 2.0]
    # t=150: failures at 0, 1 and 2 have expired: a free failure again.
    assert t.failed(KEY, 150.0).delay == 0.0
    assert t.failed(KEY, 151.0).delay == 1.0


def test_keys_are_independent() -> None:
    t = PinThrottle(max_failures=2, window=100.0)
    fail_times(t, "a", [0.0, 1.0])
    assert not t.check("a", 2.0).allowed
    assert t.check("b", 2.0).allowed
    assert t.failed("b", 2.0).delay == 0.0
    assert t.check("b", 2.0).allowed
    assert not t.check("a", 2.0).allowed


def test_memory_is_bounded_by_max_keys() -> None:
    t = PinThrottle(max_failures=1, window=1000.0, max_keys=3)
    for i in range(50):
        t.failed(f"10.0.0.{i}", float(i))
        assert len(t._failures) <= 3
    # The most recent keys are still refused; the oldest were forgotten.
    for i in (47, 48, 49):
        assert not t.check(f"10.0.0.{i}", 60.0).allowed
    assert t.check("10.0.0.0", 60.0).allowed


def test_eviction_removes_the_oldest_key_first() -> None:
    t = PinThrottle(max_failures=2, window=1000.0, max_keys=2)
    fail_times(t, "a", [0.0, 1.0])
    fail_times(t, "b", [2.0, 3.0])
    t.failed("c", 4.0)  # evicts "a"
    assert t.check("a", 5.0).allowed
    assert not t.check("b", 5.0).allowed
    t.failed("c", 5.0)
    assert not t.check("c", 6.0).allowed


def test_expired_keys_are_forgotten() -> None:
    t = PinThrottle(max_failures=5, window=10.0)
    t.failed("a", 0.0)
    t.failed("b", 0.0)
    assert t.check("a", 20.0).allowed
    assert "a" not in t._failures
    assert "b" in t._failures


def test_a_right_pin_does_not_reset_the_count() -> None:
    # There is no "success" call: checking alone never clears failures.
    t = PinThrottle(max_failures=2, window=100.0)
    t.failed(KEY, 0.0)
    for now in (1.0, 2.0, 3.0):
        assert t.check(KEY, now).allowed
    t.failed(KEY, 4.0)
    assert not t.check(KEY, 5.0).allowed
