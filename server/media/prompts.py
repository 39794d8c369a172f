"""Spoken prompts and signalling tones of the bridge.

The prompts are small mono Ogg/Opus files under ``prompts/<lang>/<name>.ogg``
beside this module, generated from text by ``tools/make_prompts.py`` (which is
the only place that needs espeak-ng) and committed to the repository.  At
startup :meth:`PromptLibrary.load` decodes all of them once with PyAV into
int16 mono 48 kHz numpy arrays; afterwards lookups are plain dictionary reads.

The tones (:func:`beep`, :func:`entry_tone`, :func:`leave_tone`) and
:func:`silence` are synthesised with numpy on first use and cached.

Every array handed out by this module is int16, mono, 48 kHz and read-only
(``arr.flags.writeable`` is ``False``), so the same array can be shared by all
calls and mixers without copying; callers that want to modify one must copy it.
"""

from __future__ import annotations

import functools
import pathlib
from collections.abc import Mapping

import av
import numpy as np
import numpy.typing as npt

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "PROMPT_DIRECTORY",
    "SAMPLE_RATE",
    "PromptLibrary",
    "beep",
    "entry_tone",
    "leave_tone",
    "silence",
]

SAMPLE_RATE = 48000
"""Sample rate of every array returned by this module (Hz)."""

LANGUAGES: tuple[str, ...] = ("en", "de", "sl")
"""Languages the committed prompt set provides."""

DEFAULT_LANGUAGE = "en"
"""Language used when a requested language has no prompts."""

PROMPT_DIRECTORY = pathlib.Path(__file__).resolve().parent / "prompts"
"""Default location of the ``<lang>/<name>.ogg`` files."""

NUMBER_MAX = 20
"""Largest number recorded as a whole word (``number_0`` .. ``number_20``)."""

Samples = npt.NDArray[np.int16]
"""int16 mono samples at :data:`SAMPLE_RATE`."""

_DIGIT_GAP_MS = 120
"""Pause between digits when a number is read out digit by digit."""

_NUMBER_CACHE_LIMIT = 256


def _frozen(samples: npt.ArrayLike) -> Samples:
    """Return *samples* as a contiguous, read-only int16 array."""
    array = np.ascontiguousarray(samples, dtype=np.int16)
    if array.base is not None or array.flags.writeable:
        array = array.copy()
    array.flags.writeable = False
    return array


def decode_file(path: pathlib.Path) -> Samples:
    """Decode an audio file (any format PyAV reads) to read-only int16 mono 48 kHz."""
    resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
    chunks: list[Samples] = []

    def collect(frames: list[av.AudioFrame]) -> None:
        chunks.extend(np.asarray(f.to_ndarray(), dtype=np.int16).reshape(-1) for f in frames)

    with av.open(str(path)) as container:
        if not container.streams.audio:
            raise ValueError(f"{path}: no audio stream")
        stream = container.streams.audio[0]
        for frame in container.decode(stream):
            collect(resampler.resample(frame))
    collect(resampler.resample(None))
    if not chunks:
        return _frozen(np.zeros(0, dtype=np.int16))
    return _frozen(np.concatenate(chunks))


class PromptLibrary:
    """All decoded prompts, by language and name.

    Build it once at startup with :meth:`load`; it is immutable afterwards
    (apart from a small cache of composed numbers) and safe to share.
    """

    def __init__(self, prompts: Mapping[str, Mapping[str, Samples]]) -> None:
        """Wrap already decoded prompts: ``{language: {name: samples}}``."""
        self._prompts: dict[str, dict[str, Samples]] = {
            language: {name: _frozen(samples) for name, samples in by_name.items()}
            for language, by_name in prompts.items()
        }
        self._names = frozenset(name for by_name in self._prompts.values() for name in by_name)
        self._numbers: dict[tuple[str, int], Samples] = {}

    @classmethod
    def load(cls, directory: pathlib.Path | None = None) -> PromptLibrary:
        """Decode every ``<lang>/<name>.ogg`` under *directory*.

        *directory* defaults to :data:`PROMPT_DIRECTORY` (the ``prompts/``
        folder beside this module).  Raises :class:`FileNotFoundError` if it
        does not exist or holds no prompts.
        """
        root = PROMPT_DIRECTORY if directory is None else pathlib.Path(directory)
        if not root.is_dir():
            raise FileNotFoundError(f"prompt directory {root} does not exist")
        prompts: dict[str, dict[str, Samples]] = {}
        for path in sorted(root.glob("*/*.ogg")):
            prompts.setdefault(path.parent.name, {})[path.stem] = decode_file(path)
        if not prompts:
            raise FileNotFoundError(f"no prompts (<lang>/<name>.ogg) under {root}")
        return cls(prompts)

    def _language(self, language: str) -> str:
        """Map *language* ("de", "de-AT", "SL_si", "fr" ...) to a loaded language."""
        code = language.strip().lower().replace("_", "-")
        for candidate in (code, code.split("-", 1)[0]):
            if candidate in self._prompts:
                return candidate
        return DEFAULT_LANGUAGE

    def get(self, language: str, name: str) -> Samples:
        """Return prompt *name* in *language* (int16, mono, 48 kHz, read-only).

        An unknown language (or a prompt missing in that language) falls back
        to English; an unknown name raises :class:`KeyError`.
        """
        for lang in (self._language(language), DEFAULT_LANGUAGE):
            samples = self._prompts.get(lang, {}).get(name)
            if samples is not None:
                return samples
        raise KeyError(name)

    def number(self, language: str, n: int) -> Samples:
        """Return *n* spoken in *language*.

        0 .. 20 are recorded as words; larger numbers are read digit by digit
        ("four two" for 42) with a short pause between the digits.  Negative
        numbers raise :class:`ValueError`.
        """
        n = int(n)
        if n < 0:
            raise ValueError(f"cannot speak negative number {n}")
        lang = self._language(language)
        if n <= NUMBER_MAX:
            try:
                return self.get(lang, f"number_{n}")
            except KeyError:
                if n < 10:
                    raise
        key = (lang, n)
        cached = self._numbers.get(key)
        if cached is not None:
            return cached
        gap = silence(_DIGIT_GAP_MS)
        parts: list[Samples] = []
        for index, digit in enumerate(str(n)):
            if index:
                parts.append(gap)
            parts.append(self.get(lang, f"number_{digit}"))
        samples = _frozen(np.concatenate(parts))
        if len(self._numbers) >= _NUMBER_CACHE_LIMIT:
            self._numbers.clear()
        self._numbers[key] = samples
        return samples

    def names(self) -> frozenset[str]:
        """Names of all prompts (in any language)."""
        return self._names

    def languages(self) -> tuple[str, ...]:
        """Languages that were loaded, sorted."""
        return tuple(sorted(self._prompts))

    def __repr__(self) -> str:
        """Short summary for logs."""
        return f"PromptLibrary(languages={self.languages()}, names={len(self._names)})"


def _raised_cosine(length: int) -> npt.NDArray[np.float64]:
    """Rising half of a Hann window, *length* samples, from 0 towards 1."""
    if length <= 0:
        return np.ones(0)
    return 0.5 - 0.5 * np.cos(np.pi * np.arange(length) / length)


def _note(
    frequency: float, duration_ms: float, edge_ms: float, decay_ms: float | None = None
) -> npt.NDArray[np.float64]:
    """A sine note with peak 1.0, raised-cosine edges and an optional exponential decay."""
    length = round(SAMPLE_RATE * duration_ms / 1000)
    t = np.arange(length) / SAMPLE_RATE
    envelope = np.ones(length)
    if decay_ms is not None:
        envelope *= np.exp(-t / (decay_ms / 1000))
    edge = min(round(SAMPLE_RATE * edge_ms / 1000), length // 2)
    ramp = _raised_cosine(edge)
    envelope[:edge] *= ramp
    envelope[length - edge :] *= ramp[::-1]  # ramp[0] == 0: starts and ends on silence
    return envelope * np.sin(2 * np.pi * frequency * t)


def _to_int16(signal: npt.NDArray[np.float64], peak_dbfs: float) -> Samples:
    """Scale *signal* so its peak is *peak_dbfs* and convert to read-only int16."""
    peak = float(np.max(np.abs(signal))) if signal.size else 0.0
    scale = 32767 * 10 ** (peak_dbfs / 20) / peak if peak > 0 else 0.0
    return _frozen(np.round(signal * scale))


_BEEP_HZ = 1000.0
_CHIME_LOW_HZ = 659.25  # E5
_CHIME_HIGH_HZ = 880.0  # A5
_TONE_PEAK_DBFS = -12.0


@functools.cache
def beep() -> Samples:
    """Short beep played after the welcome prompt: 150 ms at 1 kHz, -12 dBFS peak.

    The 10 ms raised-cosine edges keep it free of clicks.
    """
    return _to_int16(_note(_BEEP_HZ, 150, 10), _TONE_PEAK_DBFS)


def _chime(first_hz: float, second_hz: float) -> Samples:
    """Two 125 ms bell-like notes, one after the other (250 ms in all)."""
    notes = [_note(frequency, 125, 6, decay_ms=160) for frequency in (first_hz, second_hz)]
    return _to_int16(np.concatenate(notes), _TONE_PEAK_DBFS)


@functools.cache
def entry_tone() -> Samples:
    """Chime the others hear when someone joins: rising E5 -> A5, 250 ms."""
    return _chime(_CHIME_LOW_HZ, _CHIME_HIGH_HZ)


@functools.cache
def leave_tone() -> Samples:
    """Chime the others hear when someone leaves: falling A5 -> E5, 250 ms."""
    return _chime(_CHIME_HIGH_HZ, _CHIME_LOW_HZ)


@functools.lru_cache(maxsize=64)
def silence(ms: int) -> Samples:
    """*ms* milliseconds of silence (int16 zeros, read-only)."""
    if ms < 0:
        raise ValueError(f"negative duration: {ms} ms")
    return _frozen(np.zeros(round(SAMPLE_RATE * ms / 1000), dtype=np.int16))
