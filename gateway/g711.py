"""G.711 µ-law (PCMU) and A-law (PCMA), vectorised with lookup tables.

Pure numpy, no I/O: every function takes and returns arrays of any shape
(typically one 20 ms frame per row, rows = legs), so one call converts all the
phone legs of a tick at once.

- decoding indexes a 256-entry int16 table with the code bytes;
- encoding indexes a 65536-entry uint8 table with the int16 samples
  (reinterpreted as uint16, so no arithmetic runs per sample).

The tables are computed once at import from the ITU-T G.711 segment rules,
with the conventions of the ITU-T reference implementation (G.191 STL):

- linear samples are int16; µ-law uses the top 14 bits, A-law the top 13 bits;
- a negative sample is quantised by its one's complement (``~x``), which makes
  the quantiser exactly symmetric about zero (a sample ``x`` and ``-x - 1``
  give codes differing only in the sign bit);
- µ-law codes are transmitted inverted (all bits), A-law codes with the even
  bits inverted (xor 0x55);
- decoding gives the middle of each quantisation interval, scaled to 16 bits:
  µ-law 0xFF -> 0, 0x00 -> -32124, 0x80 -> 32124; A-law 0xD5 -> 8, 0x2A -> -32256.

(The widespread Sun/FFmpeg µ-law encoder negates before quantising instead of
taking the one's complement, so for a few negative inputs next to a decision
level it picks the neighbouring code; decoding is identical everywhere.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt

__all__ = [
    "ALAW_SILENCE",
    "PCMA",
    "PCMU",
    "ULAW_SILENCE",
    "G711Law",
    "alaw_decode",
    "alaw_encode",
    "law_for_payload_type",
    "ulaw_decode",
    "ulaw_encode",
]

Int16Array = npt.NDArray[np.int16]
UInt8Array = npt.NDArray[np.uint8]
Codes = UInt8Array | bytes | bytearray | memoryview

ULAW_SILENCE: Final = 0xFF
"""µ-law code of digital silence (positive zero)."""

ALAW_SILENCE: Final = 0xD5
"""A-law code of the smallest positive level (+8); A-law has no zero code."""


def _ulaw_decode_table() -> Int16Array:
    code = ~np.arange(256, dtype=np.int32) & 0xFF  # undo the inversion on the line
    exponent = (code >> 4) & 0x7
    mantissa = code & 0xF
    # Segment e covers 14-bit magnitudes [33 * 2**e - 33, 33 * 2**(e+1) - 33)
    # in steps of 2**(e+1); the decoder answers the middle of the step (x4 for 16 bits).
    magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return np.where(code & 0x80, -magnitude, magnitude).astype(np.int16)


def _ulaw_encode_table() -> UInt8Array:
    x = np.arange(-32768, 32768, dtype=np.int32)
    # 14-bit magnitude with the bias of 33 that makes the segments start at powers of two.
    biased = np.minimum(np.where(x < 0, ~x, x) >> 2, 8158) + 33  # 33 .. 8191
    exponent = _bit_length(biased) - 6  # 33..63 -> 0, 64..127 -> 1, ..., 4096..8191 -> 7
    mantissa = (biased >> (exponent + 1)) & 0xF
    code = (exponent << 4) | mantissa
    code = np.where(x < 0, code | 0x80, code)
    return _by_uint16_index(x, (~code & 0xFF).astype(np.uint8))


def _alaw_decode_table() -> Int16Array:
    code = np.arange(256, dtype=np.int32) ^ 0x55  # undo the even-bit inversion
    exponent = (code >> 4) & 0x7
    mantissa = code & 0xF
    # Segments 0 and 1 share the finest step (16 in 16-bit units); each later one doubles it.
    step_base = np.where(exponent > 0, mantissa + 16, mantissa)
    magnitude = ((step_base << 4) + 8) << np.maximum(exponent - 1, 0)
    return np.where(code & 0x80, magnitude, -magnitude).astype(np.int16)


def _alaw_encode_table() -> UInt8Array:
    x = np.arange(-32768, 32768, dtype=np.int32)
    magnitude = np.where(x < 0, ~x, x) >> 4  # 12-bit magnitude of the 13-bit sample, 0..2047
    exponent = np.maximum(_bit_length(magnitude) - 4, 0)  # 0..15 -> 0, 16..31 -> 1, ...
    mantissa = (magnitude >> np.maximum(exponent - 1, 0)) & 0xF
    code = (exponent << 4) | mantissa
    code = np.where(x >= 0, code | 0x80, code)
    return _by_uint16_index(x, (code ^ 0x55).astype(np.uint8))


def _bit_length(values: npt.NDArray[np.int32]) -> npt.NDArray[np.int32]:
    """``int.bit_length`` for non-negative int32 values (exact: no float rounding)."""
    return np.searchsorted(1 << np.arange(32, dtype=np.int64), values, side="right").astype(
        np.int32
    )


def _by_uint16_index(samples: npt.NDArray[np.int32], codes: UInt8Array) -> UInt8Array:
    """Reorder a table built for samples -32768..32767 so the uint16 view indexes it."""
    table = np.empty(65536, dtype=np.uint8)
    table[samples.astype(np.int16).view(np.uint16)] = codes
    return table


_ULAW_DECODE: Final = _ulaw_decode_table()
_ULAW_ENCODE: Final = _ulaw_encode_table()
_ALAW_DECODE: Final = _alaw_decode_table()
_ALAW_ENCODE: Final = _alaw_encode_table()
for _table in (_ULAW_DECODE, _ULAW_ENCODE, _ALAW_DECODE, _ALAW_ENCODE):
    _table.flags.writeable = False  # shared by every caller: nobody may patch them


def _as_codes(codes: Codes | npt.ArrayLike) -> UInt8Array:
    if isinstance(codes, bytes | bytearray | memoryview):
        return np.frombuffer(codes, dtype=np.uint8)
    array = np.asarray(codes)
    if array.dtype != np.uint8:
        raise TypeError(f"G.711 codes must be uint8 (or bytes), not {array.dtype}")
    return array


def _as_uint16_view(samples: npt.ArrayLike) -> npt.NDArray[np.uint16]:
    array = np.asarray(samples)
    if array.dtype != np.int16:
        if not np.issubdtype(array.dtype, np.integer):
            raise TypeError(f"G.711 encodes integer PCM samples, not {array.dtype}")
        # Wider sums (e.g. an int32 mix) are saturated, never wrapped.
        array = np.clip(array, -32768, 32767).astype(np.int16)
    return array.view(np.uint16)


def ulaw_decode(codes: Codes | npt.ArrayLike) -> Int16Array:
    """µ-law codes (uint8 array of any shape, or bytes) to int16 samples of the same shape."""
    return _ULAW_DECODE[_as_codes(codes)]


def ulaw_encode(samples: npt.ArrayLike) -> UInt8Array:
    """int16 samples (any shape) to µ-law codes; ``.tobytes()`` gives the RTP payload."""
    return _ULAW_ENCODE[_as_uint16_view(samples)]


def alaw_decode(codes: Codes | npt.ArrayLike) -> Int16Array:
    """A-law codes (uint8 array of any shape, or bytes) to int16 samples of the same shape."""
    return _ALAW_DECODE[_as_codes(codes)]


def alaw_encode(samples: npt.ArrayLike) -> UInt8Array:
    """int16 samples (any shape) to A-law codes; ``.tobytes()`` gives the RTP payload."""
    return _ALAW_ENCODE[_as_uint16_view(samples)]


@dataclass(frozen=True, slots=True, eq=False)
class G711Law:
    """One G.711 variant as the SDP names it, with its static RTP payload type."""

    name: str
    payload_type: int
    silence_byte: int
    _decode: Int16Array = field(repr=False)
    _encode: UInt8Array = field(repr=False)

    def decode(self, codes: Codes | npt.ArrayLike) -> Int16Array:
        """Codes (any shape, or bytes) to int16 samples of the same shape."""
        return self._decode[_as_codes(codes)]

    def encode(self, samples: npt.ArrayLike) -> UInt8Array:
        """int16 samples (any shape) to codes of the same shape."""
        return self._encode[_as_uint16_view(samples)]

    def silence(self, samples: int) -> bytes:
        """A payload of ``samples`` silent samples (e.g. 160 for 20 ms)."""
        return bytes([self.silence_byte]) * samples


PCMU: Final = G711Law("PCMU", 0, ULAW_SILENCE, _ULAW_DECODE, _ULAW_ENCODE)
PCMA: Final = G711Law("PCMA", 8, ALAW_SILENCE, _ALAW_DECODE, _ALAW_ENCODE)


def law_for_payload_type(payload_type: int) -> G711Law | None:
    """The law of a static payload type (0 = PCMU, 8 = PCMA), else None."""
    return {0: PCMU, 8: PCMA}.get(payload_type)
