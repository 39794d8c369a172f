"""The numeric core of the bridge: arrays in, arrays out, no clock and no I/O.

Every tick the engine hands over one 20 ms frame per leg (rows of an int16
matrix) and learns who is heard and what each leg hears:

- the *contributors* are the legs that are in the mix, not muted, currently
  talking, and among the ``max_speakers`` loudest of those;
- a contributor hears the total minus its own voice (mix-minus);
- everybody else hears the same total, so one encoded stream per codec serves
  all of them, however many they are.

Sums are taken in int32 and saturated back to int16 (clip, never wrap).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

SAMPLE_RATE = 48000
FRAME_MS = 20
FRAME_SAMPLES = SAMPLE_RATE * FRAME_MS // 1000

Int16Array = npt.NDArray[np.int16]
BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]

_INT16_MIN = np.iinfo(np.int16).min
_INT16_MAX = np.iinfo(np.int16).max


def saturate(samples: npt.NDArray[np.int32]) -> Int16Array:
    """Clip wide samples into int16 (clip, don't wrap)."""
    return np.clip(samples, _INT16_MIN, _INT16_MAX).astype(np.int16)


def frame_levels(frames: Int16Array) -> FloatArray:
    """RMS of each row, in dBFS (digital silence gives -120)."""
    wide = frames.astype(np.float32)
    power = np.einsum("ij,ij->i", wide, wide, dtype=np.float64) / max(frames.shape[1], 1)
    return 10.0 * np.log10(np.maximum(power / 32768.0**2, 1e-12))


def choose_contributors(
    eligible: BoolArray, levels: FloatArray, max_speakers: int
) -> BoolArray:
    """Eligible legs, keeping only the ``max_speakers`` loudest when there are more."""
    chosen = eligible.copy()
    count = int(chosen.sum())
    if count > max_speakers:
        candidates = np.flatnonzero(chosen)
        keep = candidates[np.argsort(-levels[candidates], kind="stable")[:max_speakers]]
        chosen[:] = False
        chosen[keep] = True
    return chosen


@dataclass(frozen=True, slots=True)
class MixResult:
    #: what every non-contributor hears (the whole mix), shape (samples,)
    shared: Int16Array
    #: indices (into the input rows) of the contributors, ascending
    contributors: npt.NDArray[np.intp]
    #: what each contributor hears, row k for ``contributors[k]``
    mix_minus: Int16Array


def mix(frames: Int16Array, contributing: BoolArray) -> MixResult:
    """Mix the contributing rows of ``frames`` (shape legs x samples)."""
    if frames.ndim != 2:
        raise ValueError(f"frames must be 2-D (legs x samples), not {frames.shape}")
    if contributing.shape != (frames.shape[0],):
        raise ValueError("one contributing flag per leg is needed")
    index = np.flatnonzero(contributing)
    if index.size == 0:
        silence = np.zeros(frames.shape[1], dtype=np.int16)
        return MixResult(silence, index, np.zeros((0, frames.shape[1]), dtype=np.int16))
    voices = frames[index].astype(np.int32)
    total = voices.sum(axis=0, dtype=np.int32)
    own_removed = total[np.newaxis, :] - voices
    return MixResult(saturate(total), index, saturate(own_removed))
