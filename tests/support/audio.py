"""Audio analysis for tests: what frequency, how loud."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

RATE = 48000


def sine(freq: float, seconds: float, amplitude: float = 0.5, rate: int = RATE) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (np.sin(2 * np.pi * freq * t) * amplitude * 32767).astype(np.int16)


def write_wav(path: Path, samples: np.ndarray, rate: int = RATE) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.astype("<i2").tobytes())
    return path


def tone_level(samples: np.ndarray, freq: float, rate: int = RATE) -> float:
    """Level (dBFS of a sine) of the component at ``freq`` (±15 Hz)."""
    if samples.size == 0:
        return -120.0
    x = samples.astype(np.float64) / 32768.0
    window = np.hanning(x.size)
    spectrum = np.abs(np.fft.rfft(x * window)) * 2 / window.sum()
    freqs = np.fft.rfftfreq(x.size, 1 / rate)
    band = (freqs > freq - 15) & (freqs < freq + 15)
    peak = float(spectrum[band].max()) if band.any() else 0.0
    return 20 * np.log10(max(peak, 1e-6))


def dominant_frequency(samples: np.ndarray, rate: int = RATE) -> float:
    x = samples.astype(np.float64)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    freqs = np.fft.rfftfreq(x.size, 1 / rate)
    spectrum[freqs < 50] = 0
    return float(freqs[int(np.argmax(spectrum))])


def rms_db(samples: np.ndarray) -> float:
    if samples.size == 0:
        return -120.0
    x = samples.astype(np.float64) / 32768.0
    return 10 * np.log10(max(float(np.mean(x * x)), 1e-12))
