"""Shared pieces: test signals, CPU timing, the Opus baseline and table printing."""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from server.media.codecs import OpusDecoder, OpusEncoder
from server.media.mixer import FRAME_SAMPLES, SAMPLE_RATE, Int16Array

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts"

#: the issue's reference: aiortc's defaults, CPU per participant per 20 ms tick
REFERENCE_US_PER_PARTICIPANT = 850.0
TICK_US = 20_000.0


# -- signals ---------------------------------------------------------------------


def speech_like(seconds: float, rng: np.random.Generator, level_db: float = -20.0) -> Int16Array:
    """A voiced, syllable-modulated harmonic signal with a little noise (RMS ``level_db``).

    Not speech, but it keeps Opus in its speech modes and, with its shallow
    envelope, keeps the talk detector on for the whole signal.
    """
    n = int(seconds * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    f0 = 110.0 + rng.uniform(0, 80) + 25.0 * np.sin(2 * np.pi * 0.7 * t + rng.uniform(0, 6.3))
    phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE
    voiced = np.zeros(n)
    for k in range(1, 16):
        # a rough formant weighting: strong around 500 Hz and 1.5 kHz
        weight = (
            1.0 / k + 0.6 * np.exp(-(((k - 4) / 2.0) ** 2)) + 0.3 * np.exp(-(((k - 12) / 3.0) ** 2))
        )
        voiced += weight * np.sin(k * phase)
    syllables = 0.6 + 0.4 * np.sin(2 * np.pi * 4.0 * t + rng.uniform(0, 6.3))
    signal = voiced * syllables + 0.05 * rng.standard_normal(n) * np.abs(voiced).mean()
    return _at_level(signal, level_db)


def background_noise(
    seconds: float, rng: np.random.Generator, level_db: float = -65.0
) -> Int16Array:
    """A quiet room: white noise well below the talk detector's thresholds."""
    return _at_level(rng.standard_normal(int(seconds * SAMPLE_RATE)), level_db)


def _at_level(signal: npt.NDArray[np.float64], level_db: float) -> Int16Array:
    rms = float(np.sqrt(np.mean(signal**2))) or 1.0
    scaled = signal / rms * 32768.0 * 10 ** (level_db / 20)
    return np.clip(scaled, -32768, 32767).astype(np.int16)


def frames_of(samples: Int16Array) -> list[Int16Array]:
    count = samples.shape[0] // FRAME_SAMPLES
    return [samples[i * FRAME_SAMPLES : (i + 1) * FRAME_SAMPLES].copy() for i in range(count)]


def encode_all(frames: Sequence[Int16Array]) -> list[bytes]:
    encoder = OpusEncoder()
    return [encoder.encode(f) for f in frames]


# -- timing ----------------------------------------------------------------------


def cpu_ns() -> int:
    """CPU time of this process (all threads), in nanoseconds."""
    return time.process_time_ns()


@dataclass(slots=True)
class Stat:
    """Repeated measurements of one quantity (µs), summarised by the median."""

    median: float
    minimum: float
    maximum: float
    runs: list[float]

    @classmethod
    def of(cls, runs: Sequence[float]) -> Stat:
        values = [float(v) for v in runs]
        return cls(statistics.median(values), min(values), max(values), values)

    def spread(self) -> float:
        """Half the min-max range relative to the median (a rough noise figure)."""
        return (self.maximum - self.minimum) / 2 / self.median if self.median else 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def repeat_cpu(step: Callable[[int], None], calls: int, repetitions: int, warmup: int = 0) -> Stat:
    """CPU µs per ``step(i)`` call: ``repetitions`` runs of ``calls`` calls each."""
    i = 0
    for _ in range(warmup):
        step(i)
        i += 1
    runs = []
    for _ in range(repetitions):
        begin = cpu_ns()
        for _ in range(calls):
            step(i)
            i += 1
        runs.append((cpu_ns() - begin) / 1000 / calls)
    return Stat.of(runs)


def calls_for(step: Callable[[int], None], target_seconds: float, minimum: int = 20) -> int:
    """How many calls of ``step`` take about ``target_seconds`` of CPU."""
    begin = cpu_ns()
    probes = 0
    while cpu_ns() - begin < 20_000_000 and probes < 1000:  # 20 ms of probing
        step(probes)
        probes += 1
    per_call = (cpu_ns() - begin) / 1e9 / probes
    return max(minimum, int(target_seconds / per_call))


# -- the baseline ----------------------------------------------------------------


@dataclass(slots=True)
class Baseline:
    encode: Stat  # µs per 20 ms frame, OpusEncoder (32 kb/s, voip, speech-like input)
    decode: Stat  # µs per 20 ms frame, OpusDecoder (for reference only)

    @property
    def us(self) -> float:
        return self.encode.median


def measure_baseline(repetitions: int, frames_per_run: int) -> Baseline:
    """Opus encoding alone: CPU per 20 ms mono 48 kHz frame, in this process."""
    rng = np.random.default_rng(1)
    frames = frames_of(speech_like(frames_per_run * FRAME_SAMPLES / SAMPLE_RATE + 0.1, rng))
    encoder = OpusEncoder()
    count = len(frames)
    encoded: list[bytes] = []

    def encode(i: int) -> None:
        encoded.append(encoder.encode(frames[i % count]))

    encode_stat = repeat_cpu(encode, frames_per_run, repetitions, warmup=50)
    payloads = encoded[:count]
    decoder = OpusDecoder()

    def decode(i: int) -> None:
        decoder.decode(payloads[i % count])

    decode_stat = repeat_cpu(decode, frames_per_run, repetitions, warmup=50)
    return Baseline(encode_stat, decode_stat)


# -- machine -----------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import av

    return {
        "cpu": model or platform.processor(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "av": av.__version__,
        "platform": platform.platform(),
    }


def clock_ticks_per_second() -> int:
    return int(os.sysconf("SC_CLK_TCK"))


def process_cpu_seconds(pid: int) -> tuple[float, float]:
    """(utime, stime) of a process (all its threads) from /proc/<pid>/stat, in seconds."""
    raw = Path(f"/proc/{pid}/stat").read_text()
    fields = raw[raw.rindex(")") + 2 :].split()
    # fields[0] is field 3 (state); utime and stime are fields 14 and 15
    hz = clock_ticks_per_second()
    return int(fields[11]) / hz, int(fields[12]) / hz


def machine_busy_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs, from /proc/stat."""
    first = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    values = [int(v) for v in first]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    total = sum(values[:8])
    return total - idle, total


# -- output ------------------------------------------------------------------------


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(h) for h in headers]] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        justified = (
            c.rjust(w) if n and _numeric(c) else c.ljust(w)
            for c, w in zip(row, widths, strict=True)
        )
        lines.append("  ".join(justified))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def _numeric(text: str) -> bool:
    return bool(text) and (text[0].isdigit() or text[0] in "-+.<>~") and text != "-"


def _fmt(value: object) -> str:
    if isinstance(value, float):
        if value == 0:
            return "0"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        if abs(value) >= 1:
            return f"{value:.2f}"
        return f"{value:.3f}"
    return str(value)
