"""Stateful, click-free resampling between the phone rates and the 48 kHz mix.

One :class:`Upsampler` (8 or 16 kHz -> 48 kHz) and one :class:`Downsampler`
(48 kHz -> 8 or 16 kHz) serve *all* phone legs of a rate: row ``i`` of every
block is leg ``i``, and the per-leg filter history lives in one
``(legs x taps)`` float32 array, so a tick costs a handful of BLAS calls
however many legs there are, and consecutive blocks join without a seam
(a signal cut into 20 ms blocks comes out as if processed in one piece).

The filter is a linear-phase FIR low-pass (windowed sinc, Kaiser window)
applied polyphase-style, i.e. only at the output instants that exist:

====================  ============  ============  ===================================
rates                 taps          cutoff        response
====================  ============  ============  ===================================
8 kHz <-> 48 kHz      157           3.9 kHz       flat to 3.4 kHz (-0.16 dB), >= 68 dB
                                                  down from 4.6 kHz, >= 75 dB from 5 kHz
16 kHz <-> 48 kHz     97            7.8 kHz       flat to 7.0 kHz (-0.17 dB), >= 68 dB
                                                  down from 9 kHz
====================  ============  ============  ===================================

Group delay (each direction, constant: the filter is linear phase):
(taps - 1) / 2 samples at 48 kHz = 78 (1.625 ms, 13 samples at 8 kHz) or
48 (1.0 ms, 16 samples at 16 kHz).  Because it is a whole number of
low-rate samples, output sample ``k`` of the down direction is centred on
input sample ``ratio * (k - delay)``, and the up direction puts input
sample ``t`` at output ``ratio * (t + delay)``: a round trip delays by
``2 * delay`` low-rate samples and lands on the same sample grid.

How the FIR becomes BLAS: the output is cut into chunks of a few samples;
every chunk of every leg is the same small matrix product (the filter laid
out as a banded Toeplitz matrix) applied to an overlapping window of the
history+input buffer, so one batched ``matmul`` over a strided view does all
chunks of all legs.  The zeros in the band cost some arithmetic but BLAS
makes up for it many times over.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Final

import numpy as np
import numpy.typing as npt

__all__ = ["HIGH_RATE", "Downsampler", "Upsampler", "lowpass"]

Int16Array = npt.NDArray[np.int16]
Float32Array = npt.NDArray[np.float32]
Float64Array = npt.NDArray[np.float64]
Rows = int | Sequence[int] | slice | npt.NDArray[np.intp]

HIGH_RATE: Final = 48000

# Per low rate: (taps, cutoff Hz, Kaiser stopband attenuation dB).  taps - 1 is a
# multiple of 2 * ratio so the group delay is a whole number of low-rate samples.
_DESIGNS: Final[dict[int, tuple[int, float, float]]] = {
    8000: (157, 3900.0, 70.0),
    16000: (97, 7800.0, 70.0),
}

# Output samples (down) / input samples (up) per matrix chunk: small chunks waste
# little on the zeros of the band; 16 measured fastest for 1..1000 legs.
_CHUNK: Final = 16

# Legs per matrix product: keeps each product (128 x ~250 x 16 multiply-adds) under
# OpenBLAS's threading threshold, so it runs on the calling thread (threads cost
# twice the CPU here and stall when the cores are busy with the rest of the
# bridge), and keeps the float32 work block in the L2 cache.
_GROUP: Final = 128


def _kaiser_beta(attenuation_db: float) -> float:
    """Kaiser's empirical window parameter for a given stopband attenuation."""
    if attenuation_db > 50:
        return 0.1102 * (attenuation_db - 8.7)
    if attenuation_db >= 21:
        return 0.5842 * (attenuation_db - 21) ** 0.4 + 0.07886 * (attenuation_db - 21)
    return 0.0


@functools.cache
def lowpass(rate: int) -> Float64Array:
    """The prototype low-pass (at 48 kHz, DC gain 1) used between ``rate`` and 48 kHz."""
    if rate not in _DESIGNS:
        raise ValueError(f"unsupported rate {rate} (supported: {sorted(_DESIGNS)})")
    taps, cutoff, attenuation = _DESIGNS[rate]
    centred = np.arange(taps) - (taps - 1) / 2
    ideal = 2 * cutoff / HIGH_RATE * np.sinc(2 * cutoff / HIGH_RATE * centred)
    h = ideal * np.kaiser(taps, _kaiser_beta(attenuation))
    h /= h.sum()
    h.flags.writeable = False
    return h


def _rows(rows: Rows | None, legs: int) -> npt.NDArray[np.intp]:
    if rows is None:
        return np.arange(legs)
    index = np.arange(legs)[rows]
    return np.atleast_1d(index)


class _Resampler:
    """What both directions share: the history buffer, leg rows, the int16 output."""

    def __init__(self, rate: int, legs: int) -> None:
        if rate not in _DESIGNS:
            raise ValueError(f"unsupported rate {rate} (supported: {sorted(_DESIGNS)})")
        if legs < 0:
            raise ValueError("legs must be >= 0")
        self.rate = rate
        self.ratio = HIGH_RATE // rate
        self.taps = _DESIGNS[rate][0]
        #: group delay in samples at the low rate (same in both directions)
        self.delay = (self.taps - 1) // 2 // self.ratio
        self._history_len = self._history_length()
        self._buf: Float32Array = np.zeros((legs, self._history_len), dtype=np.float32)
        self._work: Float32Array = np.empty((0, legs, 0), dtype=np.float32)

    def _history_length(self) -> int:
        raise NotImplementedError

    @property
    def legs(self) -> int:
        return self._buf.shape[0]

    @property
    def history(self) -> Float32Array:
        """The per-leg filter state, shape ``(legs, history length)`` (read-only view)."""
        view = self._buf[:, : self._history_len]
        view.flags.writeable = False
        return view

    def add_legs(self, count: int = 1) -> range:
        """Append ``count`` silent legs; returns their row indices."""
        first = self.legs
        self._buf = np.concatenate(
            [self._buf, np.zeros((count, self._buf.shape[1]), dtype=np.float32)]
        )
        return range(first, first + count)

    def remove_legs(self, rows: Rows) -> None:
        """Drop rows; later rows move up (do the same ``np.delete`` on the frames)."""
        self._buf = np.delete(self._buf, _rows(rows, self.legs), axis=0)

    def reset(self, rows: Rows | None = None) -> None:
        """Forget the history of ``rows`` (all when None): a slot reused for a new leg."""
        self._buf[_rows(rows, self.legs), : self._history_len] = 0.0

    def _load(self, block: npt.ArrayLike) -> tuple[np.ndarray, bool]:
        """Copy a block behind the history; returns it as 2-D and whether it was 1-D."""
        array = np.asarray(block)
        flat = array.ndim == 1
        if flat:
            array = array[np.newaxis, :]
        if array.ndim != 2 or array.shape[0] != self.legs:
            raise ValueError(
                f"expected a block of shape ({self.legs}, samples), got {np.shape(block)}"
            )
        if flat and self.legs != 1:
            raise ValueError("a 1-D block needs a resampler with exactly one leg")
        length = self._history_len + array.shape[1]
        if self._buf.shape[1] != length:
            buf = np.empty((self.legs, length), dtype=np.float32)
            buf[:, : self._history_len] = self._buf[:, : self._history_len]
            self._buf = buf
        self._buf[:, self._history_len :] = array
        return array, flat

    def _run(
        self,
        matrix: Float32Array,
        in_step: int,
        chunks: int,
        remainder: tuple[Float32Array, int] | None,
        out: Int16Array | None,
    ) -> Int16Array:
        """Apply ``matrix`` to every chunk window of every leg and round into int16."""
        legs = self.legs
        window, out_step = matrix.shape
        total = chunks * out_step + (remainder[0].shape[1] if remainder else 0)
        if out is None:
            out = np.empty((legs, total), dtype=np.int16)
        elif (
            out.shape != (legs, total)
            or out.dtype != np.int16
            or not out.flags.c_contiguous
            or not out.flags.writeable
        ):
            raise ValueError(f"out must be a writeable C-contiguous int16 array {(legs, total)}")
        if chunks and self._work.shape != (chunks, min(legs, _GROUP), out_step):
            self._work = np.empty((chunks, min(legs, _GROUP), out_step), dtype=np.float32)
        item = self._buf.itemsize
        buf_row, out_row = self._buf.strides[0], out.strides[0]
        for first in range(0, legs, _GROUP):
            rows = min(_GROUP, legs - first)
            if chunks:
                work = self._work[:, :rows]
                # (chunk, leg, window) view: each window is contiguous and rows are
                # legs, so every chunk is one plain GEMM for BLAS.  (np.ndarray over
                # the buffer is the cheap way to a strided view; as_strided costs µs.)
                windows = np.ndarray(
                    (chunks, rows, window),
                    dtype=np.float32,
                    buffer=self._buf,
                    offset=first * buf_row,
                    strides=(in_step * item, buf_row, item),
                )
                np.matmul(windows, matrix, out=work)
                # The same (chunk, leg, sample) layout over the int16 output.
                out_chunks = np.ndarray(
                    (chunks, rows, out_step),
                    dtype=np.int16,
                    buffer=out,
                    offset=first * out_row,
                    strides=(out_step * out.itemsize, out_row, out.itemsize),
                )
                _round_into(work, out_chunks)
            if remainder is not None:
                part, start = remainder
                tail = self._buf[first : first + rows, start : start + part.shape[0]] @ part
                _round_into(tail, out[first : first + rows, chunks * out_step :])
        return out

    def _keep_history(self, consumed: int) -> None:
        """Slide the newest samples to the front: they are the next block's history."""
        keep = self._history_len
        self._buf[:, :keep] = self._buf[:, consumed : consumed + keep]


def _round_into(values: Float32Array, out: npt.NDArray[np.int16]) -> None:
    """Round to nearest and saturate into int16 (clip, never wrap)."""
    np.rint(values, out=values)
    np.maximum(values, -32768.0, out=values)  # two plain ufuncs: cheaper than np.clip
    np.minimum(values, 32767.0, out=values)
    np.copyto(out, values, casting="unsafe")


class Downsampler(_Resampler):
    """48 kHz -> ``rate`` (8000 or 16000) for many legs: ``(legs, n)`` -> ``(legs, n / ratio)``.

    ``n`` must be a multiple of the ratio (960 -> 160 at 8 kHz).  Anything above
    the low rate's band is removed first (anti-aliasing), so a 5 kHz tone
    leaves the 8 kHz side at least 70 dB down.
    """

    def __init__(self, rate: int = 8000, legs: int = 1) -> None:
        super().__init__(rate, legs)
        h = lowpass(rate)
        ratio, taps = self.ratio, self.taps
        # y[k] = sum_j h[j] x[ratio * k - j]: column k of a chunk holds the reversed
        # filter starting at row ratio * k of the chunk's input window.
        window = ratio * (_CHUNK - 1) + taps
        matrix = np.zeros((window, _CHUNK), dtype=np.float32)
        for k in range(_CHUNK):
            matrix[ratio * k : ratio * k + taps, k] = h[::-1]
        self._matrix = matrix

    def _history_length(self) -> int:
        return self.taps - 1

    def process(self, block: npt.ArrayLike, out: Int16Array | None = None) -> Int16Array:
        """Resample one block (``(legs, n)``, or ``(n,)`` with one leg) to int16."""
        array, flat = self._load(block)
        samples = array.shape[1]
        if samples % self.ratio:
            raise ValueError(f"block length {samples} is not a multiple of {self.ratio}")
        outputs = samples // self.ratio
        chunks, rest = divmod(outputs, _CHUNK)
        remainder = None
        if rest:
            rows = self.ratio * (rest - 1) + self.taps
            remainder = (self._matrix[:rows, :rest], self.ratio * _CHUNK * chunks)
        result = self._run(self._matrix, self.ratio * _CHUNK, chunks, remainder, out)
        self._keep_history(samples)
        return result[0] if flat else result


class Upsampler(_Resampler):
    """``rate`` (8000 or 16000) -> 48 kHz for many legs: ``(legs, n)`` -> ``(legs, n * ratio)``.

    Interpolates with the same low-pass (zero-stuffing, then filtering out the
    images), each polyphase branch normalised to unit DC gain so a constant
    input stays exactly constant.
    """

    def __init__(self, rate: int = 8000, legs: int = 1) -> None:
        super().__init__(rate, legs)
        ratio, taps, history = self.ratio, self.taps, self._history_len
        g = np.array(lowpass(rate), dtype=np.float64)
        for phase in range(ratio):
            g[phase::ratio] /= g[phase::ratio].sum()
        # y[ratio * t + p] = sum_i x[t - i] g[p + ratio * i]; in a chunk window whose
        # row i is input t = chunk start + i - history, output column o uses
        # g[o - ratio * i + ratio * history].
        window = _CHUNK + history
        rows = np.arange(window)[:, np.newaxis]
        cols = np.arange(ratio * _CHUNK)[np.newaxis, :]
        index = cols - ratio * rows + ratio * history
        valid = (index >= 0) & (index < taps)
        self._matrix = np.where(valid, g[np.clip(index, 0, taps - 1)], 0.0).astype(np.float32)

    def _history_length(self) -> int:
        return -(-(self.taps - 1) // self.ratio)

    def process(self, block: npt.ArrayLike, out: Int16Array | None = None) -> Int16Array:
        """Resample one block (``(legs, n)``, or ``(n,)`` with one leg) to int16."""
        array, flat = self._load(block)
        samples = array.shape[1]
        chunks, rest = divmod(samples, _CHUNK)
        remainder = None
        if rest:
            part = self._matrix[: rest + self._history_len, : self.ratio * rest]
            remainder = (part, _CHUNK * chunks)
        result = self._run(self._matrix, _CHUNK, chunks, remainder, out)
        self._keep_history(samples)
        return result[0] if flat else result
