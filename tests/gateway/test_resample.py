"""Resampling between the phone rates and 48 kHz, many legs at a time.

Speed, measured by ``test_speed_per_leg`` (2-core Xeon, numpy 2.4 with
OpenBLAS, one 20 ms tick; µs of CPU per leg, 8 kHz <-> 48 kHz):

=======  ===============  =============  =====================================
legs     48 -> 8 kHz      8 -> 48 kHz    both directions, whole tick
=======  ===============  =============  =====================================
1        13 µs            12 µs          0.03 ms (per-call overhead dominates)
100      1.1 µs           1.2 µs         0.23 ms
1000     1.3 µs           1.3 µs         2.6 ms (budget: 20 ms)
=======  ===============  =============  =====================================
"""

from __future__ import annotations

import time
from itertools import pairwise

import numpy as np
import pytest

from gateway.resample import Downsampler, Upsampler, lowpass

RATE = 48000


def sine(freq: float, rate: int, samples: int, amplitude: float = 10000.0) -> np.ndarray:
    return (amplitude * np.sin(2 * np.pi * freq * np.arange(samples) / rate)).astype(np.int16)


def level_db(samples: np.ndarray, freq: float, rate: int) -> float:
    """Amplitude (dB re 1) of the component at ``freq``, by a windowed single-bin DFT."""
    x = samples.astype(np.float64)
    window = np.blackman(x.size)
    bin_ = np.sum(x * window * np.exp(-2j * np.pi * freq * np.arange(x.size) / rate))
    return float(20 * np.log10(max(2 * abs(bin_) / window.sum(), 1e-9)))


def response_db(h: np.ndarray, freqs: np.ndarray, rate: int = RATE) -> np.ndarray:
    n = np.arange(h.size)
    return 20 * np.log10(np.abs(np.exp(-2j * np.pi * np.outer(freqs, n) / rate) @ h))


def blocks(resampler: Downsampler | Upsampler, signal: np.ndarray, size: int) -> np.ndarray:
    """Feed ``signal`` (legs x samples) in blocks of ``size``; the outputs joined."""
    return np.concatenate(
        [resampler.process(signal[:, i : i + size]) for i in range(0, signal.shape[1], size)],
        axis=1,
    )


# --- the filters ----------------------------------------------------------------------------


def test_prototype_8k_response() -> None:
    h = lowpass(8000)
    passband = response_db(h, np.linspace(0, 3400, 300))
    assert np.abs(passband).max() < 0.5
    assert response_db(h, np.linspace(4600, 24000, 2000)).max() < -65
    assert response_db(h, np.linspace(5000, 24000, 2000)).max() < -70
    assert np.allclose(h, h[::-1])  # linear phase: symmetric, delay (taps - 1) / 2


def test_prototype_16k_response() -> None:
    h = lowpass(16000)
    assert np.abs(response_db(h, np.linspace(0, 7000, 300))).max() < 0.5
    assert response_db(h, np.linspace(9000, 24000, 2000)).max() < -65


# --- 48 kHz -> 8 kHz ------------------------------------------------------------------------


def test_down_passband_and_anti_aliasing() -> None:
    freqs = [300.0, 1000.0, 2000.0, 3000.0, 3400.0, 5000.0, 6000.0, 9000.0, 15000.0]
    signal = np.stack([sine(f, RATE, 9600) for f in freqs])
    out = blocks(Downsampler(8000, legs=len(freqs)), signal, 960)
    steady = out[:, 200:]  # past the filter's start-up
    reference = level_db(signal[0], 300.0, RATE)
    for row, freq in enumerate(freqs):
        if freq <= 3400:
            assert abs(level_db(steady[row], freq, 8000) - reference) < 0.5, freq
        # Whatever folds into the 0..4 kHz band must be >= 60 dB down: measure all of it.
        if freq >= 5000:
            rms = np.sqrt(np.mean(steady[row].astype(np.float64) ** 2))
            assert 20 * np.log10(max(rms, 1e-9) / (10000 / np.sqrt(2))) < -60, freq


def test_down_group_delay() -> None:
    down = Downsampler(8000)
    assert down.delay == 13
    # A slow ramp is reproduced sample for sample, ``delay`` samples late.
    ramp = (np.arange(9600) * 2).astype(np.int16)
    out = blocks(Downsampler(8000), ramp[np.newaxis], 960)[0]
    k = np.arange(100, 1600)
    assert np.abs(out[k] - ramp[6 * (k - 13)]).max() <= 1


# --- 8 kHz -> 48 kHz ------------------------------------------------------------------------


def test_up_passband_and_images() -> None:
    freqs = [300.0, 1000.0, 2000.0, 3400.0]
    signal = np.stack([sine(f, 8000, 1600) for f in freqs])
    out = blocks(Upsampler(8000, legs=len(freqs)), signal, 160)[:, 1200:]
    for row, freq in enumerate(freqs):
        tone = level_db(out[row], freq, RATE)
        assert abs(tone - level_db(signal[row], freq, 8000)) < 0.5, freq
        # Images at k * 8 kHz +- f must be gone.
        for k in (1, 2, 3):
            for image in (8000 * k - freq, 8000 * k + freq):
                assert level_db(out[row], image, RATE) < tone - 60, (freq, image)


def test_up_constant_stays_constant_and_group_delay() -> None:
    up = Upsampler(8000)
    assert up.delay == 13
    out = blocks(up, np.full((1, 800), 1234, np.int16), 160)[0]
    assert np.all(out[200:] == 1234)  # every polyphase branch has unit DC gain
    ramp = (np.arange(1600) * 10).astype(np.int16)
    out = blocks(Upsampler(8000), ramp[np.newaxis], 160)[0]
    t = np.arange(50, 1500)
    assert np.abs(out[6 * (t + 13)] - ramp[t]).max() <= 1


def test_round_trip_delay_is_twice_the_delay() -> None:
    speech_band = sine(700, 8000, 3200) // 2 + sine(2300, 8000, 3200) // 2
    up, down = Upsampler(8000), Downsampler(8000)
    back = blocks(down, blocks(up, speech_band[np.newaxis], 160), 960)[0]
    shift = 2 * up.delay
    error = back[shift + 100 :].astype(int) - speech_band[100:-shift]
    assert np.abs(error).max() < 0.02 * 10000  # passband ripple of two passes


# --- blocks, legs, state --------------------------------------------------------------------


@pytest.mark.parametrize("rate", [8000, 16000])
def test_blocks_join_seamlessly(rate: int) -> None:
    ratio = RATE // rate
    high = np.stack([sine(1000, RATE, 4800), sine(2900, RATE, 4800)])
    whole = Downsampler(rate, legs=2).process(high)
    np.testing.assert_allclose(blocks(Downsampler(rate, legs=2), high, 960), whole, atol=1)
    # Odd block lengths (any multiple of the ratio) too.
    down = Downsampler(rate, legs=2)
    cuts = [0, ratio * 7, ratio * 40, ratio * 41, ratio * 300, 4800]
    parts = [down.process(high[:, a:b]) for a, b in pairwise(cuts)]
    np.testing.assert_allclose(np.concatenate(parts, axis=1), whole, atol=1)

    low = np.stack([sine(1000, rate, 800), sine(3100, rate, 800)])
    whole = Upsampler(rate, legs=2).process(low)
    np.testing.assert_allclose(blocks(Upsampler(rate, legs=2), low, rate // 50), whole, atol=1)
    up = Upsampler(rate, legs=2)
    cuts = [0, 1, 17, 160, 161, 800]
    parts = [up.process(low[:, a:b]) for a, b in pairwise(cuts)]
    np.testing.assert_allclose(np.concatenate(parts, axis=1), whole, atol=1)


def test_legs_are_independent_and_rows_can_come_and_go() -> None:
    rng = np.random.default_rng(3)
    signal = rng.integers(-8000, 8000, size=(3, 160 * 6)).astype(np.int16)
    alone = [blocks(Upsampler(8000), signal[i : i + 1], 160)[0] for i in range(3)]

    up = Upsampler(8000, legs=2)
    first = up.process(signal[:2, :160])
    assert up.add_legs(1) == range(2, 3)
    second = up.process(signal[:, 160:320])  # the new leg starts from silence
    up.remove_legs(0)  # leg 0 hangs up: rows 1 and 2 move up
    rest = blocks(up, signal[1:, 320:], 160)
    # (Equal up to float32 rounding: BLAS may sum in another order for another row count.)
    np.testing.assert_allclose(np.concatenate([first[1], second[1], rest[0]]), alone[1], atol=1)
    fresh_leg_2 = blocks(Upsampler(8000), signal[2:, 160:], 160)[0]
    np.testing.assert_allclose(np.concatenate([second[2], rest[1]]), fresh_leg_2, atol=1)

    # Reusing a slot: reset forgets the old leg's history.
    up.reset(1)
    np.testing.assert_array_equal(up.history[1], 0)
    assert np.any(up.history[0] != 0)
    restarted = up.process(np.stack([signal[1, :160], signal[2, :160]]))
    np.testing.assert_allclose(restarted[1], alone[2][:960], atol=1)


def test_one_dimensional_and_out_parameter() -> None:
    x = sine(440, RATE, 960)
    down = Downsampler(8000)
    y = down.process(x)
    assert y.shape == (160,) and y.dtype == np.int16
    up = Upsampler(8000, legs=2)
    out = np.empty((2, 960), np.int16)
    assert up.process(np.zeros((2, 160), np.int16), out=out) is out
    with pytest.raises(ValueError):
        up.process(np.zeros((2, 160), np.int16), out=np.empty((2, 961), np.int16))
    with pytest.raises(ValueError):
        up.process(np.zeros(160, np.int16))  # 1-D needs exactly one leg
    with pytest.raises(ValueError):
        down.process(np.zeros(100, np.int16))  # not a multiple of 6
    with pytest.raises(ValueError):
        Upsampler(11025)
    empty = Upsampler(8000, legs=0)
    assert empty.process(np.zeros((0, 160), np.int16)).shape == (0, 960)


def test_saturates_instead_of_wrapping() -> None:
    # A full-scale square wave overshoots (Gibbs) after filtering: clip, never wrap.
    square = np.where(np.arange(1920) % 96 < 48, 32767, -32768).astype(np.int16)
    out = Downsampler(8000).process(square)
    exact = np.convolve(square.astype(np.float64), lowpass(8000))[:1920:6]
    assert exact.max() > 33000 and exact.min() < -33000
    np.testing.assert_allclose(out, np.clip(np.rint(exact), -32768, 32767), atol=1)


# --- speed ----------------------------------------------------------------------------------


def test_speed_per_leg() -> None:
    """µs of CPU per leg per 20 ms tick, each direction (figures in the module docstring)."""
    rng = np.random.default_rng(4)
    totals = {}
    for legs in (1, 100, 1000):
        high = rng.integers(-8000, 8000, size=(legs, 960)).astype(np.int16)
        low = rng.integers(-8000, 8000, size=(legs, 160)).astype(np.int16)
        down, up = Downsampler(8000, legs), Upsampler(8000, legs)
        best = {"down": float("inf"), "up": float("inf")}
        for _ in range(5):
            for name, resampler, block in (("down", down, high), ("up", up, low)):
                start = time.process_time()
                for _ in range(10):
                    resampler.process(block)
                best[name] = min(best[name], (time.process_time() - start) / 10)
        totals[legs] = best["down"] + best["up"]
        print(
            f"resample {legs:5d} legs: 48->8 {best['down'] * 1e6 / legs:.2f}, "
            f"8->48 {best['up'] * 1e6 / legs:.2f} µs/leg; both {totals[legs] * 1e3:.2f} ms"
        )
    assert totals[1000] < 0.020  # a whole tick's worth, with room to spare
