"""The playout buffer, tick by tick: one ``pop`` per 20 ms, packets pushed as they arrive."""

from __future__ import annotations

from collections.abc import Iterable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.media.playout import PlayoutBuffer, PlayoutStats, Pull

FRAME = Pull.FRAME
LOST = Pull.LOST
EMPTY = Pull.EMPTY


def data(n: int) -> bytes:
    """The payload of the n-th packet sent (n counts on past 65535)."""
    return n.to_bytes(4, "big")


def number(payload: bytes | None) -> int | None:
    return None if payload is None else int.from_bytes(payload, "big")


def send(buf: PlayoutBuffer, n: int) -> bool:
    """Push the n-th packet of a stream, its RTP sequence number wrapping at 16 bits."""
    return buf.push(n & 0xFFFF, data(n))


def tick(buf: PlayoutBuffer, arriving: Iterable[int] = ()) -> tuple[Pull, int | None]:
    """Packets arriving during one tick, then the tick's pop."""
    for n in arriving:
        send(buf, n)
    kind, payload = buf.pop()
    return kind, number(payload)


def steady(buf: PlayoutBuffer, numbers: Iterable[int]) -> list[tuple[Pull, int | None]]:
    """One packet arrives per tick (None: none arrives), then the tick's pop."""
    return [tick(buf, () if n is None else (n,)) for n in numbers]


# -- construction and input checks ---------------------------------------------------------


@pytest.mark.parametrize("target, maximum", [(0, 8), (8, 8), (9, 8), (-1, 4)])
def test_depths_must_be_ordered(target: int, maximum: int) -> None:
    with pytest.raises(ValueError):
        PlayoutBuffer(target_depth=target, max_depth=maximum)


def test_defaults() -> None:
    buf = PlayoutBuffer()
    assert (buf.target_depth, buf.max_depth, buf.drift_window, buf.reset_gap) == (2, 8, 50, 500)
    assert len(buf) == 0
    assert not buf.playing
    assert buf.stats == PlayoutStats()


@pytest.mark.parametrize("seq", [-1, 0x10000, 1 << 20])
def test_sequence_number_must_be_16_bit(seq: int) -> None:
    with pytest.raises(ValueError, match="out of range"):
        PlayoutBuffer().push(seq, b"x")


# -- prefetch and the in-order stream ---------------------------------------------------------


def test_nothing_plays_before_the_target_depth_is_buffered() -> None:
    buf = PlayoutBuffer(target_depth=3, max_depth=8)
    assert buf.pop() == (EMPTY, None)
    assert tick(buf, [0]) == (EMPTY, None)
    assert tick(buf, [1]) == (EMPTY, None)
    assert not buf.playing
    assert len(buf) == 2
    assert tick(buf, [2]) == (FRAME, 0)
    assert buf.playing
    assert len(buf) == 2
    # An empty pop before playing is not an underrun.
    assert buf.stats.underruns == 0


def test_in_order_stream_plays_every_packet_with_constant_delay() -> None:
    buf = PlayoutBuffer()
    out = steady(buf, range(200))
    assert out[0] == (EMPTY, None)
    # Packet n arrives in tick n and is played in tick n + 1, all the way through.
    assert out[1:] == [(FRAME, n) for n in range(199)]
    assert len(buf) == 1
    assert buf.stats.received == 200
    assert buf.stats.played == 199
    assert (buf.stats.concealed, buf.stats.underruns, buf.stats.dropped) == (0, 0, 0)
    assert (buf.stats.late, buf.stats.duplicates, buf.stats.resets) == (0, 0, 0)


def test_first_packets_may_arrive_swapped_during_prefetch() -> None:
    buf = PlayoutBuffer()
    send(buf, 11)
    send(buf, 10)
    assert [tick(buf) for _ in range(2)] == [(FRAME, 10), (FRAME, 11)]


def test_push_reports_whether_the_packet_was_kept() -> None:
    buf = PlayoutBuffer()
    assert send(buf, 0) is True
    assert send(buf, 0) is False  # duplicate
    assert send(buf, 1) is True
    assert buf.pop() == (FRAME, data(0))
    assert send(buf, 0) is False  # late: already played


# -- loss ---------------------------------------------------------------------------------


def test_single_loss_is_one_lost_frame_and_adds_no_delay() -> None:
    buf = PlayoutBuffer()
    lost = 50
    out = steady(buf, [n if n != lost else None for n in range(100)])
    # Identical to the lossless stream except for one concealed frame in the
    # lost packet's place: packet n still plays in tick n + 1 after the loss
    # (aiortc's fixed buffer would instead wait or add its capacity in delay).
    expected = [(EMPTY, None)] + [(FRAME, n) if n != lost else (LOST, None) for n in range(99)]
    assert out == expected
    assert [k for k, _ in out].count(LOST) == 1
    assert buf.stats.concealed == 1
    assert buf.stats.underruns == 0
    assert len(buf) == 1  # no extra depth built up


def test_several_isolated_losses_each_cost_exactly_one_frame() -> None:
    buf = PlayoutBuffer()
    losses = {10, 20, 30, 40}
    out = steady(buf, [None if n in losses else n for n in range(60)])
    assert out[1:] == [(LOST, None) if n in losses else (FRAME, n) for n in range(59)]
    assert buf.stats.concealed == 4
    assert buf.stats.underruns == 0


def test_burst_loss_of_two_runs_dry_then_recovers_in_order() -> None:
    buf = PlayoutBuffer()
    out = steady(buf, [None if n in (20, 21) else n for n in range(100)])
    assert out[:21] == [(EMPTY, None)] + [(FRAME, n) for n in range(20)]
    assert out[21] == (EMPTY, None)  # nothing buffered: an underrun
    assert buf.stats.underruns == 1
    played = [n for kind, n in out if kind is FRAME]
    assert played[:21] == [*range(20), 22]
    assert played == sorted(set(played))
    assert played[-1] in (96, 97, 98)


def test_burst_loss_of_two_adds_no_lasting_delay() -> None:
    buf = PlayoutBuffer()
    out = steady(buf, [None if n in (20, 21) else n for n in range(100)])
    # Ticks 21 and 22 have nothing to play; from tick 23 on, packet n plays in
    # tick n + 1 again, as before the loss.
    assert all(kind is not FRAME for kind, _ in out[21:23])
    assert out[23:] == [(FRAME, n) for n in range(22, 99)]


def test_a_gap_is_concealed_frame_by_frame() -> None:
    buf = PlayoutBuffer()
    for n in (0, 1, 5, 6):
        send(buf, n)
    out = [tick(buf) for _ in range(7)]
    assert out == [
        (FRAME, 0), (FRAME, 1), (LOST, None), (LOST, None), (LOST, None),
        (FRAME, 5), (FRAME, 6),
    ]
    assert buf.stats.concealed == 3


# -- reordering, late packets and duplicates ------------------------------------------------------


def test_reordering_within_the_depth_is_absorbed() -> None:
    buf = PlayoutBuffer()
    arrivals = list(range(40))
    for i in (10, 20, 30):  # swap pairs: n + 1 arrives one tick before n
        arrivals[i], arrivals[i + 1] = arrivals[i + 1], arrivals[i]
    out = steady(buf, arrivals)
    assert out[1:] == [(FRAME, n) for n in range(39)]
    assert buf.stats.concealed == 0
    assert buf.stats.late == 0


def test_deeper_target_absorbs_deeper_reordering() -> None:
    buf = PlayoutBuffer(target_depth=3, max_depth=8)
    arrivals = list(range(30))
    arrivals[10:13] = [12, 11, 10]  # packet 10 arrives two ticks late
    out = steady(buf, arrivals)
    assert out[:2] == [(EMPTY, None), (EMPTY, None)]
    assert out[2:] == [(FRAME, n) for n in range(28)]


def test_late_packet_is_dropped_after_its_slot_was_concealed() -> None:
    buf = PlayoutBuffer()
    out = [tick(buf, [0]), tick(buf, [1]), tick(buf, [3]), tick(buf, [4]), tick(buf, [2, 5])]
    # Packet 2 missed its tick (concealed), then turned up: it is not played late.
    assert out == [(EMPTY, None), (FRAME, 0), (FRAME, 1), (LOST, None), (FRAME, 3)]
    assert buf.stats.late == 1
    assert buf.push(2, data(2)) is False
    assert buf.stats.late == 2
    assert [tick(buf) for _ in range(2)] == [(FRAME, 4), (FRAME, 5)]


def test_packet_overtaken_by_one_arrives_in_time() -> None:
    buf = PlayoutBuffer()
    out = [tick(buf, [0]), tick(buf, [1]), tick(buf, [3]), tick(buf, [2, 4])]
    assert out == [(EMPTY, None), (FRAME, 0), (FRAME, 1), (FRAME, 2)]
    assert buf.stats.late == 0


def test_duplicates_are_played_once() -> None:
    buf = PlayoutBuffer()
    for n in (0, 1, 1, 2, 2, 2, 3):
        send(buf, n)
    out = [tick(buf) for _ in range(5)]
    assert out == [(FRAME, 0), (FRAME, 1), (FRAME, 2), (FRAME, 3), (EMPTY, None)]
    assert buf.stats.duplicates == 3
    assert buf.stats.received == 7


def test_duplicate_of_a_played_packet_counts_as_late() -> None:
    buf = PlayoutBuffer()
    steady(buf, range(5))
    assert send(buf, 2) is False
    assert buf.stats.late == 1
    assert buf.stats.duplicates == 0


# -- sequence number wraparound ---------------------------------------------------------


def test_stream_across_the_16_bit_wrap_plays_in_order() -> None:
    buf = PlayoutBuffer()
    start = 65530
    out = steady(buf, range(start, start + 20))
    assert out[1:] == [(FRAME, n) for n in range(start, start + 19)]
    assert buf.stats.resets == 0
    assert buf.stats.concealed == 0


def test_loss_exactly_at_the_wrap_is_one_lost_frame() -> None:
    buf = PlayoutBuffer()
    start = 65530
    lost = 65536  # sequence number 0
    out = steady(buf, [None if n == lost else n for n in range(start, start + 15)])
    expected = [(LOST, None) if n == lost else (FRAME, n) for n in range(start, start + 14)]
    assert out[1:] == expected
    assert buf.stats.resets == 0


def test_late_packet_from_before_the_wrap_is_late_not_a_reset() -> None:
    buf = PlayoutBuffer()
    steady(buf, range(65530, 65540))  # has played up to 65538 (sequence number 2)
    assert buf.push(65534, data(65534)) is False
    assert buf.stats.late == 1
    assert buf.stats.resets == 0
    assert tick(buf, [65540]) == (FRAME, 65539)


def test_reordered_across_the_wrap_during_prefetch() -> None:
    buf = PlayoutBuffer()
    send(buf, 65536)  # sequence number 0 first
    send(buf, 65535)
    send(buf, 65537)
    assert [tick(buf) for _ in range(3)] == [(FRAME, 65535), (FRAME, 65536), (FRAME, 65537)]


# -- underrun and re-buffering ----------------------------------------------------------------


def test_underrun_gives_empty_then_rebuffers_to_target_depth() -> None:
    buf = PlayoutBuffer()
    out = steady(buf, [*range(10), None, None, None])
    assert out[:10] == [(EMPTY, None)] + [(FRAME, n) for n in range(9)]
    # Packet 9 plays in the first silent tick, then the buffer runs dry.
    assert out[10:] == [(FRAME, 9), (EMPTY, None), (EMPTY, None)]
    assert buf.stats.underruns == 1
    assert not buf.playing
    # The sender is back: one tick to re-buffer to the target depth, then it plays on.
    out = steady(buf, [10, 11, 12, 13])
    assert out == [(EMPTY, None), (FRAME, 10), (FRAME, 11), (FRAME, 12)]
    assert buf.playing
    assert buf.stats.underruns == 1
    assert buf.stats.concealed == 0


def test_dead_sender_gives_empty_forever_without_errors() -> None:
    buf = PlayoutBuffer()
    steady(buf, range(5))
    out = [buf.pop() for _ in range(5000)]
    assert out[0] == (FRAME, data(4))
    assert set(out[1:]) == {(EMPTY, None)}
    assert buf.stats.underruns == 1  # one underrun, not one per tick
    assert buf.stats.concealed == 0


def test_never_heard_sender_gives_empty_forever() -> None:
    buf = PlayoutBuffer()
    assert {buf.pop() for _ in range(1000)} == {(EMPTY, None)}
    assert buf.stats == PlayoutStats()


# -- piling up and drift ------------------------------------------------------------------


def test_burst_is_capped_at_max_depth() -> None:
    buf = PlayoutBuffer(target_depth=2, max_depth=8)
    for n in range(100):
        send(buf, n)
        assert len(buf) <= 8
    assert buf.stats.received == 100
    assert buf.stats.dropped + len(buf) == 100
    out = [tick(buf) for _ in range(len(buf))]
    played = [n for kind, n in out if kind is FRAME]
    assert played == list(range(100 - len(played), 100))  # the newest, in order


def test_overflow_keeps_the_target_depth_newest_packets() -> None:
    buf = PlayoutBuffer(target_depth=2, max_depth=4)
    for n in range(5):  # the fifth packet overflows max_depth 4
        send(buf, n)
    assert len(buf) == 2
    assert buf.stats.dropped == 3
    assert [tick(buf) for _ in range(3)] == [(FRAME, 3), (FRAME, 4), (EMPTY, None)]


def test_surplus_shrinks_one_frame_per_drift_window() -> None:
    buf = PlayoutBuffer(target_depth=2, max_depth=8, drift_window=10)
    for n in range(5):  # a burst: 5 buffered where 2 are needed
        send(buf, n)
    out = []
    for t in range(60):  # then one packet per tick, after the tick's pop
        out.append(tick(buf))
        send(buf, 5 + t)
    # After 10 ticks with surplus one frame is skipped, after 10 more another,
    # then the depth is back at target + 1 and nothing more is dropped.
    assert [n for _, n in out[:9]] == list(range(9))
    assert [n for _, n in out[9:19]] == list(range(10, 20))
    assert [n for _, n in out[19:]] == list(range(21, 62))
    assert all(kind is FRAME for kind, _ in out)
    assert buf.stats.dropped == 2
    assert len(buf) == 3  # target + 1 at the next pop: no longer a surplus


def test_sustained_faster_sender_keeps_depth_bounded() -> None:
    # The sender's clock runs 10 % fast: one extra packet every 10 ticks.
    buf = PlayoutBuffer(target_depth=2, max_depth=8, drift_window=10)
    n = 0
    depths = []
    previous = -1
    for t in range(2000):
        send(buf, n)
        n += 1
        if t % 10 == 0:
            send(buf, n)
            n += 1
        kind, payload = buf.pop()
        got = number(payload)
        if t > 0:
            assert kind is FRAME
            assert got is not None and got > previous
            previous = got
        depths.append(len(buf))
    assert max(depths) <= 3  # never near max_depth: drift handling does the work
    assert buf.stats.concealed == 0
    assert buf.stats.played + buf.stats.dropped + len(buf) == n
    assert buf.stats.dropped >= 190


def test_depth_at_target_plus_one_is_not_treated_as_drift() -> None:
    buf = PlayoutBuffer(target_depth=2, max_depth=8, drift_window=5)
    for n in range(3):
        send(buf, n)
    for t in range(100):
        assert tick(buf) == (FRAME, t)
        send(buf, 3 + t)
    assert buf.stats.dropped == 0


# -- reset on a jump --------------------------------------------------------------------------


def test_huge_forward_jump_resets_and_rebuffers() -> None:
    buf = PlayoutBuffer()
    steady(buf, range(10))
    assert send(buf, 5000) is True
    assert buf.stats.resets == 1
    assert not buf.playing
    assert len(buf) == 1
    assert tick(buf) == (EMPTY, None)
    assert tick(buf, [5001]) == (FRAME, 5000)
    assert tick(buf, [5002]) == (FRAME, 5001)
    assert buf.stats.concealed == 0


def test_huge_backward_jump_resets_too() -> None:
    buf = PlayoutBuffer()
    steady(buf, range(1000, 1010))
    assert send(buf, 10) is True
    assert buf.stats.resets == 1
    send(buf, 11)
    assert [tick(buf) for _ in range(2)] == [(FRAME, 10), (FRAME, 11)]


def test_jump_within_reset_gap_is_loss_not_reset() -> None:
    buf = PlayoutBuffer(reset_gap=500)
    steady(buf, range(10))
    send(buf, 9 + 500)  # 499 lost packets
    assert buf.stats.resets == 0
    assert tick(buf) == (FRAME, 9)
    assert tick(buf) == (LOST, None)


def test_reset_clears_state_and_counts() -> None:
    buf = PlayoutBuffer()
    steady(buf, range(5))
    buf.reset()
    assert len(buf) == 0
    assert not buf.playing
    assert buf.stats.resets == 1
    assert buf.pop() == (EMPTY, None)
    # After a reset a lower sequence number is not "late".
    assert send(buf, 0) is True
    assert send(buf, 1) is True
    assert tick(buf) == (FRAME, 0)


# -- property: any arrival order --------------------------------------------------------------


@st.composite
def arrival_schedules(draw: st.DrawFn) -> tuple[int, list[list[int]], int, int]:
    """(first sequence number, packets arriving in each tick, target, max depth)."""
    start = draw(st.integers(0, 0xFFFF))
    count = draw(st.integers(0, 80))
    schedule: list[list[int]] = [[] for _ in range(count + 12)]
    for n in range(count):
        if draw(st.booleans()) and draw(st.booleans()):  # ~25 % of packets lost
            continue
        delay = draw(st.integers(0, 10))  # jitter: up to 10 ticks late
        schedule[n + delay].append(n)
        if draw(st.integers(0, 9)) == 0:  # ~10 % duplicated, arriving later
            schedule[min(n + delay + draw(st.integers(0, 5)), len(schedule) - 1)].append(n)
    for arrivals in schedule:
        if len(arrivals) > 1:
            order = draw(st.permutations(arrivals))
            arrivals[:] = order
    target = draw(st.integers(1, 4))
    maximum = draw(st.integers(target + 1, 10))
    return start, schedule, target, maximum


@settings(max_examples=150, deadline=None)
@given(arrival_schedules())
def test_any_arrival_order_plays_each_packet_at_most_once_and_in_order(
    case: tuple[int, list[list[int]], int, int],
) -> None:
    start, schedule, target, maximum = case
    buf = PlayoutBuffer(target_depth=target, max_depth=maximum, drift_window=7)
    played: list[int] = []
    sent: set[int] = set()
    for arrivals in schedule:
        for n in arrivals:
            sent.add(n)
            buf.push((start + n) & 0xFFFF, data(n))
            assert len(buf) <= maximum
        kind, payload = buf.pop()
        if kind is FRAME:
            assert payload is not None
            played.append(number(payload))  # type: ignore[arg-type]
        else:
            assert payload is None
    for _ in range(20):  # drain
        kind, payload = buf.pop()
        if kind is FRAME:
            played.append(number(payload))  # type: ignore[arg-type]
    assert played == sorted(set(played))  # strictly increasing: no repeats, no reordering
    assert set(played) <= sent
    assert buf.stats.resets == 0
    assert buf.stats.played == len(played)
    unique = len(sent)
    assert buf.stats.received == sum(len(a) for a in schedule)
    assert buf.stats.played + buf.stats.dropped + len(buf) <= unique
