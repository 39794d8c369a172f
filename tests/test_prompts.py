"""Tests for the committed spoken prompts and the synthesised tones.

These tests only decode the committed ``server/media/prompts/<lang>/*.ogg``
files with PyAV; they do not need espeak-ng.
"""

from __future__ import annotations

import importlib.util
import pathlib
import types
from collections.abc import Callable

import av
import numpy as np
import numpy.typing as npt
import pytest

from server.media import prompts
from server.media.prompts import (
    LANGUAGES,
    SAMPLE_RATE,
    PromptLibrary,
    beep,
    entry_tone,
    leave_tone,
    silence,
)

ROOT = pathlib.Path(__file__).resolve().parent.parent
PROMPT_DIR = ROOT / "server" / "media" / "prompts"

NAMES: tuple[str, ...] = (
    "welcome",
    "waiting",
    "closing",
    "muted",
    "unmuted",
    "all_muted",
    "all_unmuted",
    "removed",
    "enter_pin",
    "wrong_pin",
    "too_many_attempts",
    "locked",
    "unlocked",
    "conference_locked_join",
    "help",
    "participants_count",
    "press_one",
    "recording_started",
    *(f"number_{n}" for n in range(21)),
)

# The help text lists five key commands; spoken at a telephone-friendly pace it
# is the one prompt that is allowed to run longer than 15 s.
MAX_SECONDS = {"help": 30.0}


@pytest.fixture(scope="module")
def library() -> PromptLibrary:
    """The library decoded from the committed files."""
    return PromptLibrary.load()


def _dbfs(samples: npt.NDArray[np.int16]) -> float:
    """RMS level of *samples* in dBFS."""
    rms = float(np.sqrt(np.mean((samples.astype(np.float64) / 32768.0) ** 2)))
    return 20 * np.log10(max(rms, 1e-12))


def _dominant_hz(samples: npt.NDArray[np.int16]) -> float:
    """Frequency of the largest FFT bin (zero-padded to 1 Hz resolution)."""
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64), n=SAMPLE_RATE))
    return float(np.argmax(spectrum))  # n == SAMPLE_RATE: bin k is k Hz


def _load_generator() -> types.ModuleType:
    """Import tools/make_prompts.py (importing it does not run espeak-ng)."""
    path = ROOT / "tools" / "make_prompts.py"
    spec = importlib.util.spec_from_file_location("make_prompts", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- the committed files ----------------------------------------------------


def test_languages_constant() -> None:
    assert LANGUAGES == ("en", "de", "sl")
    assert SAMPLE_RATE == 48000


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("name", NAMES)
def test_file_is_mono_48k_opus(language: str, name: str) -> None:
    path = PROMPT_DIR / language / f"{name}.ogg"
    assert path.is_file(), path
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        assert stream.codec_context.name == "opus"
        assert stream.sample_rate == SAMPLE_RATE
        assert stream.codec_context.channels == 1


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("name", NAMES)
def test_prompt_decodes_to_plausible_audio(
    library: PromptLibrary, language: str, name: str
) -> None:
    samples = library.get(language, name)
    assert isinstance(samples, np.ndarray)
    assert samples.dtype == np.int16
    assert samples.ndim == 1
    assert not samples.flags.writeable
    seconds = samples.size / SAMPLE_RATE
    assert 0.3 <= seconds <= MAX_SECONDS.get(name, 15.0), seconds
    # Normalised to about -16 dBFS RMS, and not clipped.
    assert -20.0 <= _dbfs(samples) <= -13.0, _dbfs(samples)
    assert int(np.max(np.abs(samples.astype(np.int32)))) < 32767
    # Trimmed: at most ~50 ms (plus codec delay) of silence at either end.
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > 0.01 * 32768)
    assert loud[0] / SAMPLE_RATE < 0.1
    assert (samples.size - loud[-1]) / SAMPLE_RATE < 0.1


def test_total_size_is_small() -> None:
    files = list(PROMPT_DIR.glob("*/*.ogg"))
    assert len(files) == len(NAMES) * len(LANGUAGES)
    assert sum(f.stat().st_size for f in files) < 1_500_000


def test_generator_texts_match_committed_files() -> None:
    generator = _load_generator()
    assert set(generator.PROMPTS) == set(NAMES)
    assert set(generator.VOICES) == set(LANGUAGES)
    for name, texts in generator.PROMPTS.items():
        assert set(texts) == set(LANGUAGES), name
        assert all(text.strip() for text in texts.values()), name
    assert "č" in generator.PROMPTS["waiting"]["sl"]
    assert "Sie" in generator.PROMPTS["enter_pin"]["de"]


def test_generator_limiter_never_exceeds_ceiling() -> None:
    generator = _load_generator()
    rng = np.random.default_rng(1)
    noise = (rng.standard_normal(SAMPLE_RATE) * 0.5).astype(np.float32)
    limited = generator.limit_peaks(noise, 0.7)
    assert float(np.max(np.abs(limited))) <= 0.7 + 1e-6
    quiet = noise * np.float32(0.1)
    np.testing.assert_allclose(generator.limit_peaks(quiet, 0.7), quiet, rtol=1e-6)


# --- the library API ----------------------------------------------------------


def test_names(library: PromptLibrary) -> None:
    assert library.names() >= frozenset(NAMES)
    assert isinstance(library.names(), frozenset)


def test_unknown_language_falls_back_to_english(library: PromptLibrary) -> None:
    english = library.get("en", "welcome")
    assert library.get("fr", "welcome") is english
    np.testing.assert_array_equal(library.get("fr", "welcome"), english)
    assert library.number("fr", 3) is library.get("en", "number_3")


def test_regional_language_tags(library: PromptLibrary) -> None:
    assert library.get("de-AT", "welcome") is library.get("de", "welcome")
    assert library.get("SL_si", "welcome") is library.get("sl", "welcome")


def test_unknown_name_raises_key_error(library: PromptLibrary) -> None:
    with pytest.raises(KeyError):
        library.get("en", "no_such_prompt")
    with pytest.raises(KeyError):
        library.get("fr", "no_such_prompt")


@pytest.mark.parametrize("name", NAMES)
def test_languages_differ(library: PromptLibrary, name: str) -> None:
    clips = [library.get(language, name) for language in LANGUAGES]
    for i, a in enumerate(clips):
        for b in clips[i + 1 :]:
            assert a.size != b.size or not np.array_equal(a, b)


def test_arrays_are_read_only(library: PromptLibrary) -> None:
    for samples in (library.get("en", "welcome"), beep(), entry_tone(), silence(10)):
        with pytest.raises(ValueError):
            samples[0] = 1


@pytest.mark.parametrize("language", LANGUAGES)
def test_numbers_up_to_twenty(library: PromptLibrary, language: str) -> None:
    for n in range(21):
        samples = library.number(language, n)
        assert samples is library.get(language, f"number_{n}")
        assert samples.dtype == np.int16


@pytest.mark.parametrize("language", LANGUAGES)
def test_larger_numbers_digit_by_digit(library: PromptLibrary, language: str) -> None:
    four = library.get(language, "number_4")
    two = library.get(language, "number_2")
    samples = library.number(language, 42)
    assert samples.dtype == np.int16
    assert not samples.flags.writeable
    assert samples.size > four.size + two.size
    np.testing.assert_array_equal(samples[: four.size], four)
    np.testing.assert_array_equal(samples[-two.size :], two)
    assert library.number(language, 42) is samples  # cached
    hundred = library.number(language, 100)
    one, zero = library.get(language, "number_1"), library.get(language, "number_0")
    assert hundred.size > one.size + 2 * zero.size


def test_negative_number_raises(library: PromptLibrary) -> None:
    with pytest.raises(ValueError):
        library.number("en", -1)


def test_load_from_other_directory(tmp_path: pathlib.Path) -> None:
    (tmp_path / "de").mkdir()
    source = PROMPT_DIR / "de" / "welcome.ogg"
    (tmp_path / "de" / "welcome.ogg").write_bytes(source.read_bytes())
    small = PromptLibrary.load(tmp_path)
    assert small.names() == frozenset({"welcome"})
    assert small.get("de", "welcome").size > 0
    with pytest.raises(KeyError):
        small.get("en", "welcome")
    with pytest.raises(FileNotFoundError):
        PromptLibrary.load(tmp_path / "missing")


# --- tones ------------------------------------------------------------------


def _check_edges(samples: npt.NDArray[np.int16]) -> None:
    """No clicks: the tone fades in from and out to (near) zero."""
    peak = int(np.max(np.abs(samples.astype(np.int32))))
    edge = SAMPLE_RATE // 1000  # 1 ms
    assert abs(int(samples[0])) <= 0.01 * peak
    assert abs(int(samples[-1])) <= 0.01 * peak
    assert np.max(np.abs(samples[:edge].astype(np.int32))) < 0.1 * peak
    assert np.max(np.abs(samples[-edge:].astype(np.int32))) < 0.1 * peak


def _check_level(samples: npt.NDArray[np.int16]) -> None:
    """Peak about -12 dBFS."""
    peak = int(np.max(np.abs(samples.astype(np.int32)))) / 32768.0
    assert -14.0 <= 20 * np.log10(peak) <= -10.0


def test_beep() -> None:
    samples = beep()
    assert samples.dtype == np.int16 and samples.ndim == 1
    assert 0.12 <= samples.size / SAMPLE_RATE <= 0.2
    assert abs(_dominant_hz(samples) - 1000) <= 10
    _check_edges(samples)
    _check_level(samples)
    assert beep() is samples


@pytest.mark.parametrize(
    ("tone", "rising"), [(entry_tone, True), (leave_tone, False)], ids=["entry", "leave"]
)
def test_chimes(tone: Callable[[], npt.NDArray[np.int16]], rising: bool) -> None:
    samples = tone()
    assert samples.dtype == np.int16 and samples.ndim == 1
    assert 0.2 <= samples.size / SAMPLE_RATE <= 0.35
    half = samples.size // 2
    first, second = _dominant_hz(samples[:half]), _dominant_hz(samples[half:])
    assert 300 <= min(first, second) and max(first, second) <= 2000
    assert (second > first * 1.2) if rising else (first > second * 1.2)
    _check_edges(samples)
    _check_level(samples)


def test_entry_and_leave_differ() -> None:
    assert not np.array_equal(entry_tone(), leave_tone())


def test_silence() -> None:
    samples = silence(250)
    assert samples.dtype == np.int16
    assert samples.size == SAMPLE_RATE // 4
    assert not samples.any()
    assert silence(0).size == 0
    with pytest.raises(ValueError):
        silence(-1)


def test_module_exports() -> None:
    for name in ("PromptLibrary", "beep", "entry_tone", "leave_tone", "silence"):
        assert name in prompts.__all__
