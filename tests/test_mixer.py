"""Numeric tests of the mixer: mix-minus, saturation, speaker choice and levels."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from server.media.mixer import (
    FRAME_SAMPLES,
    SAMPLE_RATE,
    MixResult,
    choose_contributors,
    frame_levels,
    mix,
    saturate,
)

I16_MAX = 32767
I16_MIN = -32768


def rows(*values: int, samples: int = 4) -> np.ndarray:
    """One constant row per value."""
    return np.array([[v] * samples for v in values], dtype=np.int16)


def flags(*bits: int) -> np.ndarray:
    return np.array([bool(b) for b in bits], dtype=np.bool_)


def sine(amplitude: float, freq: float = 1000.0, samples: int = FRAME_SAMPLES) -> np.ndarray:
    t = np.arange(samples)
    return np.round(amplitude * np.sin(2 * np.pi * freq * t / SAMPLE_RATE)).astype(np.int16)


# -- constants -------------------------------------------------------------------------


def test_frame_is_20_ms_at_48_khz() -> None:
    assert SAMPLE_RATE == 48000
    assert FRAME_SAMPLES == 960


# -- saturate --------------------------------------------------------------------------


def test_saturate_clips_both_ways_and_keeps_values_in_range() -> None:
    wide = np.array([-100_000, -32769, -32768, -1, 0, 1, 32767, 32768, 65534, 100_000],
                    dtype=np.int32)
    out = saturate(wide)
    assert out.dtype == np.int16
    assert out.tolist() == [-32768, -32768, -32768, -1, 0, 1, 32767, 32767, 32767, 32767]


# -- mix-minus ---------------------------------------------------------------------------


def test_each_contributor_hears_total_minus_own_voice_exactly() -> None:
    frames = np.array(
        [
            [100, -200, 300, 7],
            [1000, 2000, -3000, 11],
            [-5, 5, 17, 13],
        ],
        dtype=np.int16,
    )
    result = mix(frames, flags(1, 1, 1))
    assert isinstance(result, MixResult)
    assert result.contributors.tolist() == [0, 1, 2]
    assert result.shared.tolist() == [1095, 1805, -2683, 31]
    assert result.mix_minus.tolist() == [
        [995, 2005, -2983, 24],  # legs 1 + 2
        [95, -195, 317, 20],  # legs 0 + 2
        [1100, 1800, -2700, 18],  # legs 0 + 1
    ]
    assert result.shared.dtype == np.int16
    assert result.mix_minus.dtype == np.int16


def test_non_contributors_get_the_shared_total_and_add_nothing() -> None:
    # Row 1 is very loud but muted (not contributing): it must not be heard anywhere.
    frames = rows(1000, 30000, -400, 20000)
    result = mix(frames, flags(1, 0, 1, 0))
    assert result.contributors.tolist() == [0, 2]
    assert result.shared.tolist() == [600] * 4
    assert result.mix_minus.tolist() == [[-400] * 4, [1000] * 4]
    assert result.mix_minus.shape == (2, 4)


def test_single_contributor_hears_silence_and_others_hear_them() -> None:
    frames = rows(1234, 999, samples=6)
    result = mix(frames, flags(1, 0))
    assert result.shared.tolist() == [1234] * 6
    assert result.mix_minus.tolist() == [[0] * 6]


def test_no_contributors_gives_silence_and_no_mix_minus_rows() -> None:
    frames = rows(5000, -5000, samples=10)
    result = mix(frames, flags(0, 0))
    assert result.shared.tolist() == [0] * 10
    assert result.shared.dtype == np.int16
    assert result.contributors.size == 0
    assert result.mix_minus.shape == (0, 10)
    assert result.mix_minus.dtype == np.int16


def test_zero_legs_gives_silence() -> None:
    frames = np.zeros((0, 8), dtype=np.int16)
    result = mix(frames, np.zeros(0, dtype=np.bool_))
    assert result.shared.tolist() == [0] * 8
    assert result.mix_minus.shape == (0, 8)


def test_mix_does_not_modify_its_inputs() -> None:
    frames = rows(30000, 30000, -30000)
    contributing = flags(1, 1, 1)
    before = frames.copy()
    mix(frames, contributing)
    assert np.array_equal(frames, before)
    assert contributing.tolist() == [True, True, True]


# -- saturation ------------------------------------------------------------------------


def test_two_full_scale_voices_clip_instead_of_wrapping() -> None:
    # Wrapping int16 arithmetic would give 32767 + 32767 = -2.
    result = mix(rows(I16_MAX, I16_MAX), flags(1, 1))
    assert result.shared.tolist() == [I16_MAX] * 4
    result = mix(rows(I16_MIN, I16_MIN), flags(1, 1))
    assert result.shared.tolist() == [I16_MIN] * 4


@pytest.mark.parametrize("legs", [3, 8, 50, 500])
def test_many_loud_contributors_saturate_both_ways(legs: int) -> None:
    loud = np.full((legs, FRAME_SAMPLES), I16_MAX, dtype=np.int16)
    result = mix(loud, np.ones(legs, dtype=np.bool_))
    assert np.all(result.shared == I16_MAX)
    assert np.all(result.mix_minus == I16_MAX)
    assert result.mix_minus.shape == (legs, FRAME_SAMPLES)

    quiet_neg = np.full((legs, FRAME_SAMPLES), I16_MIN, dtype=np.int16)
    result = mix(quiet_neg, np.ones(legs, dtype=np.bool_))
    assert np.all(result.shared == I16_MIN)
    assert np.all(result.mix_minus == I16_MIN)


def test_alternating_full_scale_square_waves_clip_per_sample() -> None:
    square = np.tile(np.array([I16_MAX, I16_MIN], dtype=np.int16), FRAME_SAMPLES // 2)
    frames = np.stack([square] * 10)
    result = mix(frames, np.ones(10, dtype=np.bool_))
    assert result.shared[:4].tolist() == [I16_MAX, I16_MIN, I16_MAX, I16_MIN]
    assert np.array_equal(result.mix_minus[3], result.shared)


def test_mix_minus_is_taken_from_the_unclipped_total() -> None:
    # total = 35000 (clips to 32767), but leg 0 must hear 10000 - 5000 = 5000,
    # not 32767 - 30000 = 2767.
    result = mix(rows(30000, 10000, -5000), flags(1, 1, 1))
    assert result.shared.tolist() == [I16_MAX] * 4
    assert result.mix_minus[:, 0].tolist() == [5000, 25000, I16_MAX]


def test_opposite_voices_cancel_in_the_total_but_not_in_mix_minus() -> None:
    result = mix(rows(30000, 30000, -30000), flags(1, 1, 1))
    assert result.shared.tolist() == [30000] * 4
    # Leg 2 hears 60000, which clips; legs 0 and 1 hear each other minus leg 2.
    assert result.mix_minus[:, 0].tolist() == [0, 0, I16_MAX]


# -- shape errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "frames",
    [
        np.zeros(960, dtype=np.int16),
        np.zeros((2, 3, 4), dtype=np.int16),
        np.int16(5),
    ],
    ids=["1-D", "3-D", "scalar"],
)
def test_mix_rejects_frames_that_are_not_2d(frames: np.ndarray) -> None:
    with pytest.raises(ValueError, match="2-D"):
        mix(np.asarray(frames), np.ones(2, dtype=np.bool_))


@pytest.mark.parametrize(
    "contributing",
    [
        np.ones(2, dtype=np.bool_),
        np.ones(4, dtype=np.bool_),
        np.ones((3, 1), dtype=np.bool_),
        np.ones((1, 3), dtype=np.bool_),
    ],
)
def test_mix_needs_one_flag_per_leg(contributing: np.ndarray) -> None:
    with pytest.raises(ValueError, match="one contributing flag per leg"):
        mix(np.zeros((3, 8), dtype=np.int16), contributing)


# -- property: sum identities against an int32 reference -----------------------------------


@st.composite
def frames_and_flags(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    legs = draw(st.integers(min_value=0, max_value=12))
    samples = draw(st.integers(min_value=1, max_value=48))
    elements = st.integers(min_value=I16_MIN, max_value=I16_MAX)
    frames = draw(hnp.arrays(np.int16, (legs, samples), elements=elements))
    contributing = draw(hnp.arrays(np.bool_, (legs,)))
    return frames, contributing


@settings(max_examples=200, deadline=None)
@given(frames_and_flags())
def test_mix_matches_an_int32_reference(case: tuple[np.ndarray, np.ndarray]) -> None:
    frames, contributing = case
    result = mix(frames, contributing)
    index = [i for i in range(frames.shape[0]) if contributing[i]]
    assert result.contributors.tolist() == index

    wide = frames.astype(np.int64)  # wider than the mixer's int32: an independent check
    total = wide[index].sum(axis=0) if index else np.zeros(frames.shape[1], dtype=np.int64)
    assert np.array_equal(result.shared, np.clip(total, I16_MIN, I16_MAX))
    assert result.mix_minus.shape == (len(index), frames.shape[1])
    for k, leg in enumerate(index):
        expected = np.clip(total - wide[leg], I16_MIN, I16_MAX)
        assert np.array_equal(result.mix_minus[k], expected)
        # Where nothing clipped, own voice + what I hear == what everybody else hears.
        unclipped = (np.abs(total) <= I16_MAX) & (np.abs(total - wide[leg]) <= I16_MAX)
        own_plus_heard = result.mix_minus[k].astype(np.int64) + wide[leg]
        assert np.array_equal(own_plus_heard[unclipped], result.shared[unclipped].astype(np.int64))


@settings(max_examples=100, deadline=None)
@given(
    hnp.arrays(np.int16, st.tuples(st.integers(1, 8), st.integers(1, 32)),
               elements=st.integers(-4096, 4095))
)
def test_small_signals_never_clip_and_identities_hold_exactly(frames: np.ndarray) -> None:
    # With at most 8 legs of |x| <= 4096 the sum stays within int16: exact arithmetic.
    contributing = np.ones(frames.shape[0], dtype=np.bool_)
    result = mix(frames, contributing)
    total = frames.astype(np.int32).sum(axis=0)
    assert np.array_equal(result.shared.astype(np.int32), total)
    expected = np.broadcast_to(total, frames.shape)
    assert np.array_equal(result.mix_minus.astype(np.int32) + frames, expected)


# -- choose_contributors ---------------------------------------------------------------


def test_all_eligible_kept_when_not_more_than_max() -> None:
    eligible = flags(1, 0, 1, 1)
    levels = np.array([-10.0, 0.0, -30.0, -20.0])
    chosen = choose_contributors(eligible, levels, max_speakers=3)
    assert chosen.tolist() == [True, False, True, True]
    chosen[0] = False  # a copy: the caller's flags stay as they were
    assert eligible.tolist() == [True, False, True, True]


def test_keeps_the_n_loudest_eligible() -> None:
    eligible = flags(1, 1, 1, 1, 1, 0)
    levels = np.array([-40.0, -10.0, -25.0, -5.0, -60.0, 0.0])  # leg 5 loudest but ineligible
    chosen = choose_contributors(eligible, levels, max_speakers=2)
    assert chosen.tolist() == [False, True, False, True, False, False]
    chosen = choose_contributors(eligible, levels, max_speakers=3)
    assert np.flatnonzero(chosen).tolist() == [1, 2, 3]


def test_ties_are_broken_by_slot_order_stably() -> None:
    eligible = np.ones(6, dtype=np.bool_)
    levels = np.array([-20.0, -10.0, -20.0, -10.0, -20.0, -10.0])
    # Three legs at -10 fill two places: the first two of them win.
    assert np.flatnonzero(choose_contributors(eligible, levels, 2)).tolist() == [1, 3]
    # Four places: all three at -10, then the first at -20.
    assert np.flatnonzero(choose_contributors(eligible, levels, 4)).tolist() == [0, 1, 3, 5]
    # The same answer every time (stable, not random).
    for _ in range(20):
        assert np.flatnonzero(choose_contributors(eligible, levels, 4)).tolist() == [0, 1, 3, 5]


def test_zero_max_speakers_silences_everyone() -> None:
    chosen = choose_contributors(flags(1, 1), np.array([-1.0, -2.0]), max_speakers=0)
    assert chosen.tolist() == [False, False]


def test_never_more_than_max_speakers_of_many() -> None:
    rng = np.random.default_rng(7)
    levels = rng.uniform(-90, 0, size=200)
    eligible = rng.random(200) < 0.5
    chosen = choose_contributors(eligible, levels, max_speakers=8)
    assert int(chosen.sum()) == 8
    assert not np.any(chosen & ~eligible)
    # Every chosen leg is at least as loud as every eligible leg left out.
    assert levels[chosen].min() >= levels[eligible & ~chosen].max()


# -- frame_levels ------------------------------------------------------------------------


def test_full_scale_sine_is_about_minus_3_dbfs() -> None:
    level = frame_levels(sine(I16_MAX)[np.newaxis, :])
    assert level.shape == (1,)
    assert level[0] == pytest.approx(-3.01, abs=0.02)


def test_full_scale_square_is_0_dbfs() -> None:
    frames = np.full((1, FRAME_SAMPLES), I16_MIN, dtype=np.int16)
    assert frame_levels(frames)[0] == pytest.approx(0.0, abs=1e-9)


def test_levels_follow_amplitude_in_decibels() -> None:
    frames = np.stack([sine(I16_MAX), sine(I16_MAX / 2), sine(I16_MAX / 10), sine(I16_MAX / 100)])
    levels = frame_levels(frames)
    assert levels[0] - levels[1] == pytest.approx(20 * math.log10(2), abs=0.01)
    assert levels[0] - levels[2] == pytest.approx(20.0, abs=0.01)
    assert levels[0] - levels[3] == pytest.approx(40.0, abs=0.05)


def test_one_lsb_dc_is_about_minus_90_dbfs() -> None:
    frames = np.ones((1, FRAME_SAMPLES), dtype=np.int16)
    assert frame_levels(frames)[0] == pytest.approx(-90.309, abs=0.001)


def test_levels_are_per_row() -> None:
    frames = np.stack([sine(I16_MAX), np.full(FRAME_SAMPLES, 1, dtype=np.int16), sine(3276.7)])
    levels = frame_levels(frames)
    assert levels.shape == (3,)
    assert levels.tolist() == pytest.approx([-3.01, -90.31, -23.01], abs=0.02)


def test_silence_is_far_below_any_speech_threshold() -> None:
    level = frame_levels(np.zeros((2, FRAME_SAMPLES), dtype=np.int16))
    assert level.shape == (2,)
    assert np.all(np.isfinite(level))
    assert np.all(level <= -120.0)


def test_digital_silence_is_exactly_minus_120_dbfs() -> None:
    level = frame_levels(np.zeros((2, FRAME_SAMPLES), dtype=np.int16))
    assert level.tolist() == pytest.approx([-120.0, -120.0])


def test_levels_of_no_legs_is_empty() -> None:
    assert frame_levels(np.zeros((0, FRAME_SAMPLES), dtype=np.int16)).shape == (0,)


def test_levels_reject_1d_input() -> None:
    with pytest.raises(ValueError):
        frame_levels(np.zeros(FRAME_SAMPLES, dtype=np.int16))
