"""Generate the bridge's spoken prompts with espeak-ng.

Run from the repository root::

    .venv/bin/python tools/make_prompts.py [--only NAME ...] [--language LANG ...]

For every prompt in :data:`PROMPTS` and every language in :data:`VOICES` this
script

1. synthesises the text with ``espeak-ng`` (22050 Hz, 16 bit, mono),
2. resamples it to 48 kHz with PyAV's ``AudioResampler`` (libswresample),
3. trims leading and trailing silence down to about 50 ms,
4. normalises the loudness to about -16 dBFS RMS, with a smooth peak limiter
   so that nothing clips (peaks stay below about -3 dBFS before encoding),
5. encodes it as mono Ogg/Opus at about 24 kbit/s with PyAV (libopus),

and writes ``server/media/prompts/<lang>/<name>.ogg``.

The output is deterministic: espeak-ng, libswresample and libopus are
deterministic for a given input, and the Ogg muxer runs in bit-exact mode (fixed
stream serial number, no library version in the headers), so re-running the
script on the same machine does not change the committed files.

Only this script needs espeak-ng; the server decodes the committed ``.ogg``
files with PyAV (see ``server/media/prompts.py``).
"""

from __future__ import annotations

import argparse
import io
import pathlib
import re
import shutil
import subprocess
import sys
import wave

import av
import numpy as np
import numpy.typing as npt

SAMPLE_RATE = 48000
"""Sample rate of the generated files (Opus always runs at 48 kHz)."""

BIT_RATE = 24000
"""Target Opus bit rate (bit/s); plenty for mono speech."""

TARGET_RMS_DBFS = -16.0
"""Loudness target, RMS over the whole (trimmed) prompt."""

PEAK_LIMIT_DBFS = -3.0
"""Peaks are limited to this level before encoding (headroom for Opus)."""

EDGE_SILENCE_S = 0.05
"""Silence kept before the first and after the last audible sound."""

ESPEAK_SPEED_WPM: dict[str, int] = {"en": 160, "de": 160, "sl": 170}
"""Speaking rate per language: a little slower than espeak-ng's default (175) for
telephone lines; the Slovenian voice draws out its long vowels, so it runs a bit faster."""

OUTPUT_DIR = pathlib.Path(__file__).resolve().parent.parent / "server" / "media" / "prompts"

VOICES: dict[str, str] = {"en": "en-gb", "de": "de", "sl": "sl"}
"""espeak-ng voice for each language code."""

PRONUNCIATION: dict[str, dict[str, str]] = {
    # espeak-ng would spell "PIN" letter by letter or say a long [i:].
    # [[...]] is espeak-ng's inline phoneme input.
    "de": {"PIN": "[[p'In]]", "Rautetaste": "Raute-Taste"},
    "sl": {"PIN": "pin"},
}
"""Spelling tweaks applied only to the text handed to espeak-ng (whole words)."""

PROMPTS: dict[str, dict[str, str]] = {
    "welcome": {
        "en": "Welcome to the conference.",
        "de": "Willkommen in der Konferenz.",
        "sl": "Dobrodošli na konferenci.",
    },
    "waiting": {
        "en": "The conference will start when the organiser joins. Please hold.",
        "de": "Die Konferenz beginnt, sobald der Organisator beitritt. "
        "Bitte bleiben Sie in der Leitung.",
        "sl": "Konferenca se bo začela, ko se pridruži organizator. Prosimo, počakajte.",
    },
    "closing": {
        "en": "The conference has ended. Thank you for taking part. Goodbye.",
        "de": "Die Konferenz ist beendet. Vielen Dank für Ihre Teilnahme. Auf Wiederhören.",
        "sl": "Konferenca je končana. Hvala za vaše sodelovanje. Nasvidenje.",
    },
    "muted": {
        "en": "You are muted.",
        "de": "Sie sind stummgeschaltet.",
        "sl": "Utišani ste.",
    },
    "unmuted": {
        "en": "You are no longer muted.",
        "de": "Sie sind nicht mehr stummgeschaltet.",
        "sl": "Niste več utišani.",
    },
    "all_muted": {
        "en": "All participants are muted.",
        "de": "Alle Teilnehmer sind stummgeschaltet.",
        "sl": "Vsi udeleženci so utišani.",
    },
    "all_unmuted": {
        "en": "All participants may speak now.",
        "de": "Alle Teilnehmer können jetzt sprechen.",
        "sl": "Vsi udeleženci lahko zdaj govorijo.",
    },
    "removed": {
        "en": "You have been removed from the conference. Goodbye.",
        "de": "Sie wurden aus der Konferenz entfernt. Auf Wiederhören.",
        "sl": "Odstranjeni ste bili s konference. Nasvidenje.",
    },
    "enter_pin": {
        "en": "Please enter your conference PIN, followed by the hash key.",
        "de": "Bitte geben Sie Ihre Konferenz-PIN ein, gefolgt von der Rautetaste.",
        "sl": "Prosimo, vnesite PIN konference in nato pritisnite lojtro.",
    },
    "wrong_pin": {
        "en": "That PIN is not valid. Please try again.",
        "de": "Diese PIN ist ungültig. Bitte versuchen Sie es noch einmal.",
        "sl": "Ta PIN ni veljaven. Prosimo, poskusite znova.",
    },
    "too_many_attempts": {
        "en": "Too many wrong attempts. Goodbye.",
        "de": "Zu viele falsche Versuche. Auf Wiederhören.",
        "sl": "Preveč napačnih poskusov. Nasvidenje.",
    },
    "locked": {
        "en": "This conference is locked.",
        "de": "Diese Konferenz ist gesperrt.",
        "sl": "Ta konferenca je zaklenjena.",
    },
    "unlocked": {
        "en": "The conference is unlocked.",
        "de": "Die Konferenz ist wieder freigegeben.",
        "sl": "Konferenca je odklenjena.",
    },
    "conference_locked_join": {
        "en": "This conference is locked. Goodbye.",
        "de": "Diese Konferenz ist gesperrt. Auf Wiederhören.",
        "sl": "Ta konferenca je zaklenjena. Nasvidenje.",
    },
    "help": {
        "en": "Press star six to mute or unmute yourself. "
        "Press star one to hear this help again. "
        "The organiser can press star five to mute or unmute everyone, "
        "star seven to lock or unlock the conference, "
        "and star nine to hear how many people are in the conference.",
        "de": "Drücken Sie Stern sechs, um Ihr Mikrofon aus- oder einzuschalten. "
        "Mit Stern eins hören Sie diese Hilfe noch einmal. "
        "Der Organisator kann mit Stern fünf alle stummschalten oder wieder freigeben, "
        "mit Stern sieben die Konferenz sperren oder entsperren "
        "und mit Stern neun die Zahl der Teilnehmer abfragen.",
        "sl": "Z zvezdico in šest izklopite ali vklopite svoj mikrofon. "
        "Z zvezdico in ena znova slišite to pomoč. "
        "Organizator lahko z zvezdico in pet utiša ali ponovno vklopi vse udeležence, "
        "z zvezdico in sedem zaklene ali odklene konferenco, "
        "z zvezdico in devet pa sliši, koliko udeležencev je na konferenci.",
    },
    "participants_count": {
        "en": "Participants in the conference:",
        "de": "Anzahl der Teilnehmer in der Konferenz:",
        "sl": "Število udeležencev na konferenci:",
    },
    "press_one": {
        "en": "You are invited to a conference. Press one to join.",
        "de": "Sie sind zu einer Konferenz eingeladen. Drücken Sie die Eins, um teilzunehmen.",
        "sl": "Vabljeni ste na konferenco. Za pridružitev pritisnite ena.",
    },
    "recording_started": {
        "en": "This conference is being recorded.",
        "de": "Diese Konferenz wird aufgezeichnet.",
        "sl": "Ta konferenca se snema.",
    },
}
"""Prompt texts: name -> {language -> text}."""

NUMBER_WORDS: dict[str, tuple[str, ...]] = {
    "en": (
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
        "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
        "eighteen", "nineteen", "twenty",
    ),
    "de": (
        "null", "eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun",
        "zehn", "elf", "zwölf", "dreizehn", "vierzehn", "fünfzehn", "sechzehn", "siebzehn",
        "achtzehn", "neunzehn", "zwanzig",
    ),
    "sl": (
        "nič", "ena", "dve", "tri", "štiri", "pet", "šest", "sedem", "osem", "devet", "deset",
        "enajst", "dvanajst", "trinajst", "štirinajst", "petnajst", "šestnajst", "sedemnajst",
        "osemnajst", "devetnajst", "dvajset",
    ),
}  # fmt: skip
"""Spoken numbers 0..20, added to the prompts as ``number_0`` .. ``number_20``."""

for _lang, _words in NUMBER_WORDS.items():
    assert len(_words) == 21, _lang
    for _n, _word in enumerate(_words):
        PROMPTS.setdefault(f"number_{_n}", {})[_lang] = _word.capitalize() + "."

Float32Array = npt.NDArray[np.float32]


def espeak_text(language: str, text: str) -> str:
    """Return *text* with the pronunciation tweaks for *language* applied."""
    for word, spoken in PRONUNCIATION.get(language, {}).items():
        text = re.sub(rf"\b{re.escape(word)}\b", spoken, text)
    return text


def synthesise(language: str, text: str) -> tuple[Float32Array, int]:
    """Speak *text* with espeak-ng; return float samples in [-1, 1] and their rate."""
    result = subprocess.run(
        [
            "espeak-ng",
            "-v", VOICES[language],
            "-s", str(ESPEAK_SPEED_WPM[language]),
            "-b", "1",  # input is UTF-8
            "--stdout",
            espeak_text(language, text),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    with wave.open(io.BytesIO(result.stdout)) as wav:
        if wav.getnchannels() != 1 or wav.getsampwidth() != 2:
            raise RuntimeError("espeak-ng did not produce 16-bit mono audio")
        rate = wav.getframerate()
        # espeak-ng streams to stdout, so the header's length may be bogus:
        # read whatever follows the header instead of trusting nframes.
        raw = wav.readframes(wav.getnframes())
        raw += wav.readframes(1 << 30)
    samples = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    if samples.size == 0:
        raise RuntimeError(f"espeak-ng produced no audio for {text!r}")
    return samples, rate


def resample(samples: Float32Array, rate: int) -> Float32Array:
    """Resample mono float samples from *rate* to :data:`SAMPLE_RATE` with libswresample."""
    if rate == SAMPLE_RATE:
        return samples
    frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="flt", layout="mono")
    frame.sample_rate = rate
    frame.pts = 0
    resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
    chunks = [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
    chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    return np.concatenate(chunks).astype(np.float32)


def trim_silence(samples: Float32Array) -> Float32Array:
    """Cut leading/trailing silence, keeping :data:`EDGE_SILENCE_S` on each side."""
    frame = SAMPLE_RATE // 200  # 5 ms analysis frames
    count = samples.size // frame
    if count == 0:
        return samples
    energy = np.sqrt(np.mean(samples[: count * frame].reshape(count, frame) ** 2, axis=1))
    # "Audible" = within 45 dB of the loudest frame and above -60 dBFS.
    threshold = max(float(energy.max()) * 10 ** (-45 / 20), 10 ** (-60 / 20))
    active = np.flatnonzero(energy > threshold)
    if active.size == 0:
        return samples
    keep = int(EDGE_SILENCE_S * SAMPLE_RATE)
    start = max(int(active[0]) * frame - keep, 0)
    end = min((int(active[-1]) + 1) * frame + keep, samples.size)
    out = samples[start:end].copy()
    # Make sure the very first and last samples are exactly quiet (no clicks).
    fade = SAMPLE_RATE // 200
    ramp = (0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, fade))).astype(np.float32)
    out[:fade] *= ramp
    out[-fade:] *= ramp[::-1]
    return out


def _moving(values: Float32Array, width: int, how: str) -> Float32Array:
    """Centred moving minimum (``how="min"``) or mean (``how="mean"``) over *width* samples."""
    before = width // 2
    after = width - 1 - before
    if how == "min":
        padded = np.pad(values, (before, after), mode="edge")
        windows = np.lib.stride_tricks.sliding_window_view(padded, width)
        return windows.min(axis=1)
    padded = np.pad(values, (before, after), mode="edge")
    cumsum = np.concatenate(([0.0], np.cumsum(padded, dtype=np.float64)))
    return ((cumsum[width:] - cumsum[:-width]) / width).astype(np.float32)


def limit_peaks(samples: Float32Array, ceiling: float) -> Float32Array:
    """Smooth look-ahead peak limiter: the result never exceeds *ceiling*.

    The gain each sample needs is held (moving minimum over +-20 ms) and then
    smoothed (moving mean over +-10 ms).  Every gain averaged into a sample was
    a minimum over a window that contains that sample, so the smoothed gain is
    never larger than the gain that sample needs, and the gain changes only in
    gentle ramps (no distortion from sample-by-sample gain changes).
    """
    hold = int(0.020 * SAMPLE_RATE)
    needed = np.minimum(1.0, ceiling / np.maximum(np.abs(samples), 1e-9)).astype(np.float32)
    gain = _moving(_moving(needed, 2 * hold + 1, "min"), hold + 1, "mean")
    out = samples * gain
    return np.clip(out, -ceiling, ceiling).astype(np.float32)


def normalise(samples: Float32Array) -> Float32Array:
    """Bring the RMS level to :data:`TARGET_RMS_DBFS` with peaks limited, no clipping."""
    target = 10 ** (TARGET_RMS_DBFS / 20)
    ceiling = 10 ** (PEAK_LIMIT_DBFS / 20)
    out = samples
    gain = 1.0
    for _ in range(12):  # limiting lowers the RMS a little: iterate
        rms = float(np.sqrt(np.mean(out.astype(np.float64) ** 2)))
        if rms <= 0 or abs(20 * np.log10(rms / target)) < 0.05:
            break
        gain *= target / rms
        out = limit_peaks(samples * np.float32(gain), ceiling)
    return out


def encode_opus(samples: Float32Array, path: pathlib.Path) -> None:
    """Write mono 48 kHz float samples to *path* as Ogg/Opus at :data:`BIT_RATE`."""
    pcm = np.clip(np.round(samples * 32767.0), -32768, 32767).astype(np.int16)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".ogg.tmp")
    with av.open(str(tmp), "w", format="ogg", options={"fflags": "+bitexact"}) as container:
        container.metadata.clear()
        stream = container.add_stream(
            "libopus",
            rate=SAMPLE_RATE,
            options={
                "application": "voip",
                "frame_duration": "20",
                "vbr": "on",
                "compression_level": "10",
            },
        )
        stream.codec_context.layout = "mono"
        stream.codec_context.format = "s16"
        stream.codec_context.bit_rate = BIT_RATE
        stream.codec_context.flags |= av.codec.context.Flags.bitexact
        chunk = 960  # 20 ms
        for offset in range(0, pcm.size, chunk):
            block = pcm[offset : offset + chunk]
            frame = av.AudioFrame.from_ndarray(block.reshape(1, -1), format="s16", layout="mono")
            frame.sample_rate = SAMPLE_RATE
            frame.pts = offset
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    tmp.replace(path)


def render(language: str, text: str) -> Float32Array:
    """Produce the finished 48 kHz samples for one prompt."""
    samples, rate = synthesise(language, text)
    return normalise(trim_silence(resample(samples, rate)))


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", metavar="NAME", help="only these prompts")
    parser.add_argument("--language", nargs="*", choices=sorted(VOICES), help="only these")
    parser.add_argument("--output", type=pathlib.Path, default=OUTPUT_DIR, help="target dir")
    args = parser.parse_args(argv)

    if shutil.which("espeak-ng") is None:
        print("espeak-ng is not installed (apt-get install espeak-ng)", file=sys.stderr)
        return 1
    names = args.only or sorted(PROMPTS)
    unknown = set(names) - set(PROMPTS)
    if unknown:
        parser.error(f"unknown prompt(s): {', '.join(sorted(unknown))}")
    languages = args.language or list(VOICES)

    total = 0
    for language in languages:
        for name in names:
            path = args.output / language / f"{name}.ogg"
            samples = render(language, PROMPTS[name][language])
            encode_opus(samples, path)
            size = path.stat().st_size
            total += size
            print(f"{path.relative_to(args.output)}: {samples.size / SAMPLE_RATE:5.2f} s, {size} B")
    print(f"{len(languages) * len(names)} files, {total} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
