"""Tests for the processing of uploaded welcome announcements (server/media/upload.py).

Every fixture is generated here with numpy and PyAV, so no binary file lives in
the repository. The encoders used are the ones the PyAV wheels bundle:
libmp3lame, libopus, FFmpeg's flac and aac, and FFmpeg's native Vorbis encoder
(the wheels lack libvorbis; the native one is "experimental" but writes valid
Ogg Vorbis). A format whose encoder the installed FFmpeg lacks is reported as
a skip with the encoder's name (``pytest -rs`` lists them), never passed
silently; ``test_baseline_encoders_present`` fails if even the encoders that
every FFmpeg build has (PCM WAV, FLAC) are missing.
"""

from __future__ import annotations

import fractions
import io
import math
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import av
import numpy as np
import numpy.typing as npt
import pytest

from server.media import upload
from server.media.upload import Greeting, UploadError, process_greeting

from .support.audio import dominant_frequency, rms_db, tone_level

RATE = 48000
TONE = 440.0

FloatArray = npt.NDArray[np.float64]


def tone(seconds: float, rate: int, freq: float = TONE, amplitude: float = 0.5) -> FloatArray:
    """A sine in full-scale floats (1.0 = 0 dBFS)."""
    t = np.arange(round(seconds * rate)) / rate
    return amplitude * np.sin(2 * np.pi * freq * t)


def peak_db(samples: npt.NDArray[np.int16]) -> float:
    """Sample peak in dBFS (int16 full scale = 32768)."""
    return 20 * math.log10(max(int(np.max(np.abs(samples.astype(np.int32)))), 1) / 32768)


def _quantise(signal: FloatArray, sample_format: str) -> npt.NDArray[Any]:
    """Floats as the sample format an encoder wants (packed or planar alike)."""
    base = sample_format.rstrip("p")
    if base == "s16":
        return np.round(signal * 32767).astype(np.int16)
    if base == "s32":
        return np.round(signal * 2147483647).astype(np.int32)
    if base == "u8":
        return np.round(signal * 127 + 128).astype(np.uint8)
    if base == "flt":
        return signal.astype(np.float32)
    raise AssertionError(f"no quantiser for {sample_format}")


def encode(
    container_format: str,
    codec: str,
    channels: list[FloatArray],
    rate: int,
    sample_format: str,
    *,
    options: dict[str, str] | None = None,
) -> bytes:
    """Encode one audio stream (one row per channel) into a file in memory."""
    layout = {1: "mono", 2: "stereo", 6: "5.1"}[len(channels)]
    signal = np.stack(channels)
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=container_format) as container:
        stream = container.add_stream(codec, rate=rate, options=options or {})
        assert isinstance(stream, av.audio.stream.AudioStream)
        stream.codec_context.layout = layout
        stream.codec_context.format = sample_format
        for offset in range(0, signal.shape[1], 1024):
            block = _quantise(signal[:, offset : offset + 1024], sample_format)
            if not sample_format.endswith("p"):
                block = block.T.reshape(1, -1)  # packed: interleave the channels
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(block), format=sample_format, layout=layout
            )
            frame.sample_rate = rate
            frame.pts = offset
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return buffer.getvalue()


def wav_bytes(
    samples: npt.NDArray[np.int16],
    rate: int,
    *,
    data_size: int | None = None,
    riff_size: int | None = None,
) -> bytes:
    """A minimal 16-bit mono WAV whose header sizes can lie."""
    pcm = samples.astype("<i2").tobytes()
    data_size = len(pcm) if data_size is None else data_size
    riff_size = 36 + len(pcm) if riff_size is None else riff_size
    fmt = struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
    header = b"RIFF" + struct.pack("<I", riff_size) + b"WAVEfmt " + fmt
    return header + b"data" + struct.pack("<I", data_size) + pcm


def wav_tone(seconds: float, rate: int = 8000, amplitude: float = 0.5) -> bytes:
    """A small mono WAV tone: cheap to build and to decode."""
    return wav_bytes(
        np.round(tone(seconds, rate, amplitude=amplitude) * 32767).astype(np.int16), rate
    )


def _pcm(frame: av.AudioFrame) -> npt.NDArray[np.int16]:
    """The samples of a mono s16 frame."""
    return np.asarray(frame.to_ndarray(), dtype=np.int16).reshape(-1)


def decode_ogg(data: bytes) -> tuple[npt.NDArray[np.int16], str, int, int]:
    """Decode the stored Ogg/Opus: samples, codec, sample rate and channels of the stream."""
    resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
    chunks: list[npt.NDArray[np.int16]] = []
    with av.open(io.BytesIO(data), "r") as container:
        assert container.format.name == "ogg"
        stream = container.streams.audio[0]
        codec = stream.codec_context
        info = (codec.name, codec.sample_rate, codec.layout.nb_channels)
        for frame in container.decode(stream):
            chunks.extend(_pcm(f) for f in resampler.resample(frame))
    chunks.extend(_pcm(f) for f in resampler.resample(None))
    return (np.concatenate(chunks), *info)


@dataclass(frozen=True)
class Format:
    """One way an organiser's upload may arrive."""

    name: str
    container: str
    codec: str
    rate: int
    channels: int
    sample_format: str
    source: str
    """How :attr:`Greeting.source_format` starts for this format."""
    options: dict[str, str] | None = None

    def make(self, seconds: float = 3.0) -> bytes:
        """The 440 Hz test tone in this format."""
        signal = tone(seconds, self.rate)
        return encode(
            self.container,
            self.codec,
            [signal] * self.channels,
            self.rate,
            self.sample_format,
            options=self.options,
        )


FORMATS = (
    Format("wav16-44k-stereo", "wav", "pcm_s16le", 44100, 2, "s16", "wav/pcm_s16le"),
    Format("wav16-8k-mono", "wav", "pcm_s16le", 8000, 1, "s16", "wav/pcm_s16le"),
    Format("wav24-96k-stereo", "wav", "pcm_s24le", 96000, 2, "s32", "wav/pcm_s24le"),
    Format("wav8-16k-mono", "wav", "pcm_u8", 16000, 1, "u8", "wav/pcm_u8"),
    Format("wavfloat-22k-mono", "wav", "pcm_f32le", 22050, 1, "flt", "wav/pcm_f32le"),
    Format("mp3-44k-stereo", "mp3", "libmp3lame", 44100, 2, "s16p", "mp3/mp3"),
    Format("flac-44k-stereo", "flac", "flac", 44100, 2, "s16", "flac/flac"),
    Format(
        "vorbis-44k-stereo",
        "ogg",
        "vorbis",
        44100,
        2,
        "fltp",
        "ogg/vorbis",
        {"strict": "experimental"},
    ),
    Format("opus-ogg-48k-mono", "ogg", "libopus", 48000, 1, "s16", "ogg/opus"),
    Format("opus-webm-48k-stereo", "webm", "libopus", 48000, 2, "s16", "matroska,webm/opus"),
    Format("aac-m4a-44k-stereo", "ipod", "aac", 44100, 2, "fltp", "mov,mp4,m4a"),
)


def _has_encoder(name: str) -> bool:
    """Whether the installed FFmpeg can encode with *name*."""
    try:
        av.codec.Codec(name, "w")
    except Exception:
        return False
    return True


def test_baseline_encoders_present() -> None:
    """PCM and FLAC are built into every FFmpeg; without them these tests prove nothing."""
    assert _has_encoder("pcm_s16le")
    assert _has_encoder("flac")


def check_greeting(greeting: Greeting, seconds: float) -> None:
    """The invariants of every accepted upload."""
    samples = greeting.samples
    assert samples.dtype == np.int16
    assert samples.ndim == 1
    assert not samples.flags.writeable
    assert greeting.seconds == pytest.approx(samples.size / RATE)
    assert greeting.seconds == pytest.approx(seconds, abs=0.05)
    assert dominant_frequency(samples) == pytest.approx(TONE, abs=2)
    assert rms_db(samples) == pytest.approx(-20.0, abs=1.0)
    assert peak_db(samples) <= -1.0

    decoded, codec, rate, channels = decode_ogg(greeting.ogg)
    assert (codec, rate, channels) == ("opus", RATE, 1)
    assert abs(decoded.size - samples.size) <= RATE // 50
    assert dominant_frequency(decoded) == pytest.approx(TONE, abs=2)
    assert rms_db(decoded) == pytest.approx(rms_db(samples), abs=0.5)
    common = min(decoded.size, samples.size)
    reference = samples[:common].astype(np.float64)
    error = decoded[:common].astype(np.float64) - reference
    assert 10 * math.log10(np.sum(reference**2) / np.sum(error**2)) > 20  # same waveform
    kbits = len(greeting.ogg) * 8 / greeting.seconds / 1000
    assert 20 < kbits < 40


@pytest.mark.parametrize("fmt", FORMATS, ids=[f.name for f in FORMATS])
def test_common_formats_are_normalised(fmt: Format) -> None:
    """Whatever the organiser's software wrote ends up as the same 48 kHz mono prompt."""
    if not _has_encoder(fmt.codec):
        pytest.skip(f"the installed FFmpeg has no {fmt.codec} encoder")
    greeting = process_greeting(fmt.make())
    check_greeting(greeting, 3.0)
    assert greeting.source_format.startswith(fmt.source)


def test_silence_is_trimmed_to_three_tenths() -> None:
    """Leading and trailing silence shrink to 0.3 s; the sound itself is kept whole."""
    gap = np.zeros(2 * 8000)
    body = tone(3.0, 8000)
    data = encode("wav", "pcm_s16le", [np.concatenate([gap, body, gap])], 8000, "s16")
    greeting = process_greeting(data)
    assert greeting.seconds == pytest.approx(3.6, abs=0.03)
    head = greeting.samples[: int(0.28 * RATE)]
    assert rms_db(head) < -80  # the kept lead-in is still silence, not smeared sound
    assert rms_db(greeting.samples[int(0.35 * RATE) : int(3.25 * RATE)]) == pytest.approx(
        -20.0, abs=0.2
    )


def test_fades_in_and_out() -> None:
    """10 ms ramps at both ends: no click where the upload starts or stops abruptly."""
    greeting = process_greeting(FORMATS[0].make())
    samples = greeting.samples.astype(np.int32)
    assert abs(samples[0]) < 100 and abs(samples[-1]) < 100
    first_ms = np.abs(samples[:48]).max()
    later = np.abs(samples[480:960]).max()
    assert first_ms < later / 10


def test_loud_peaks_are_limited_not_clipped() -> None:
    """A quiet voice with one loud bang: the bang sets the gain, nothing is clipped."""
    signal = tone(3.0, 48000, amplitude=0.01)
    signal[48000 : 48000 + 480] += tone(0.01, 48000, freq=1000, amplitude=0.98)
    data = encode("wav", "pcm_f32le", [signal], 48000, "flt")
    greeting = process_greeting(data)
    assert peak_db(greeting.samples) == pytest.approx(-1.0, abs=0.05)
    assert rms_db(greeting.samples) < -20.0
    assert int(np.max(np.abs(greeting.samples.astype(np.int32)))) < 32767


def test_loud_input_is_turned_down() -> None:
    """A full-scale square wave comes out at the same loudness as everything else."""
    signal = 0.99 * np.sign(tone(3.0, 44100))
    greeting = process_greeting(encode("wav", "pcm_s16le", [signal, signal], 44100, "s16"))
    assert rms_db(greeting.samples) == pytest.approx(-20.0, abs=0.5)


def test_channels_are_averaged() -> None:
    """Downmixing averages the channels: a tone in one at twice the other's level stays 6 dB up."""
    left = tone(3.0, 44100, freq=TONE, amplitude=0.5)
    right = tone(3.0, 44100, freq=1000, amplitude=0.25)
    greeting = process_greeting(encode("wav", "pcm_s16le", [left, right], 44100, "s16"))
    difference = tone_level(greeting.samples, TONE) - tone_level(greeting.samples, 1000)
    assert difference == pytest.approx(6.02, abs=0.3)


def test_surround_is_mixed_down() -> None:
    """A 5.1 file with the voice only in front left still gives the voice."""
    silent = np.zeros(3 * 48000)
    channels = [tone(3.0, 48000), *[silent] * 5]
    greeting = process_greeting(encode("wav", "pcm_s16le", channels, 48000, "s16"))
    check_greeting(greeting, 3.0)


def test_first_of_many_audio_streams_is_used() -> None:
    """A container with several audio tracks: the first one is the announcement."""
    rate = 48000
    tracks = [tone(3.0, rate)] + [tone(3.0, rate, freq=1000.0, amplitude=0.9)] * 3
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="matroska") as container:
        streams = [container.add_stream("flac", rate=rate) for _ in tracks]
        for stream in streams:
            stream.codec_context.layout = "mono"
            stream.codec_context.format = "s16"
        for offset in range(0, tracks[0].size, 4096):
            for stream, track in zip(streams, tracks, strict=True):
                block = _quantise(track[offset : offset + 4096], "s16").reshape(1, -1)
                frame = av.AudioFrame.from_ndarray(block, format="s16", layout="mono")
                frame.sample_rate = rate
                frame.pts = offset
                container.mux(stream.encode(frame))
        for stream in streams:
            container.mux(stream.encode(None))
    greeting = process_greeting(buffer.getvalue())
    check_greeting(greeting, 3.0)
    assert tone_level(greeting.samples, 1000) < tone_level(greeting.samples, TONE) - 40


def test_damaged_tail_keeps_the_audio_before_it() -> None:
    """An upload cut off mid-file (a dropped connection) still gives what arrived."""
    fmt = next(f for f in FORMATS if f.codec == "flac")
    data = fmt.make()
    greeting = process_greeting(data[: len(data) * 2 // 3])
    assert 1.5 < greeting.seconds < 2.5
    assert dominant_frequency(greeting.samples) == pytest.approx(TONE, abs=2)


def _png() -> bytes:
    """The start of a real PNG: signature and IHDR chunk."""
    ihdr = struct.pack(">IIBBBBB", 16, 16, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + bytes(4)


BAD_INPUTS: dict[str, tuple[Callable[[], bytes], str]] = {
    "empty": (lambda: b"", "empty"),
    "text": (lambda: b"not audio" * 100, "not_audio"),
    "png": (_png, "not_audio"),
    "random": (lambda: np.random.default_rng(7).bytes(64 * 1024), "not_audio"),
    "wav-header-only": (lambda: wav_tone(2.0)[:44], "not_audio"),
    "wav-header-and-stray-bytes": (lambda: wav_tone(2.0)[:47], "not_audio"),
    "61s": (lambda: wav_tone(61.0), "too_long"),
    "0.5s": (lambda: wav_tone(0.5), "too_short"),
    "0.5s-padded-with-silence": (
        lambda: wav_bytes(
            np.concatenate([np.zeros(16000), tone(0.5, 8000) * 16000, np.zeros(16000)]).astype(
                np.int16
            ),
            8000,
        ),
        "too_short",
    ),
    "digital-silence": (lambda: wav_bytes(np.zeros(3 * 8000, dtype=np.int16), 8000), "silent"),
    "hiss-at-minus-60": (lambda: wav_tone(3.0, amplitude=0.001), "silent"),
}


@pytest.mark.parametrize("name", list(BAD_INPUTS))
def test_bad_inputs_are_rejected(name: str) -> None:
    """Each unusable upload gets its own code and a message for the organiser."""
    make, code = BAD_INPUTS[name]
    with pytest.raises(UploadError) as caught:
        process_greeting(make())
    assert caught.value.code == code
    assert isinstance(caught.value, ValueError)
    assert str(caught.value) and str(caught.value)[0].isupper()


def test_too_large_is_checked_before_decoding() -> None:
    """The byte limit applies to anything, even valid audio."""
    data = wav_tone(3.0)
    with pytest.raises(UploadError) as caught:
        process_greeting(data, max_bytes=1000)
    assert caught.value.code == "too_large"
    assert process_greeting(data, max_bytes=len(data)).seconds == pytest.approx(3.0, abs=0.05)


def test_limits_are_configurable() -> None:
    """min_seconds and max_seconds are the caller's."""
    data = wav_tone(3.0)
    with pytest.raises(UploadError, match="at most 2 s") as caught:
        process_greeting(data, max_seconds=2.0)
    assert caught.value.code == "too_long"
    with pytest.raises(UploadError) as caught:
        process_greeting(data, min_seconds=4.0)
    assert caught.value.code == "too_short"


def test_wav_claiming_a_huge_size_is_read_for_what_it_holds() -> None:
    """Streaming recorders write 0xFFFFFFFF sizes; we take the 2 s that are really there."""
    samples = np.round(tone(2.0, 48000) * 32767).astype(np.int16)
    data = wav_bytes(samples, 48000, data_size=0xFFFFFFFF, riff_size=0xFFFFFFFF)
    started = time.perf_counter()
    greeting = process_greeting(data)
    assert time.perf_counter() - started < 1.0
    assert greeting.seconds == pytest.approx(2.0, abs=0.05)


class _Unseekable(io.RawIOBase):
    """An output PyAV cannot seek back in, like a browser's MediaRecorder stream."""

    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def write(self, chunk: bytes) -> int:  # type: ignore[override]
        self.data += chunk
        return len(chunk)


def _webm_bomb(hours: float) -> bytes:
    """A WebM without a declared duration holding *hours* of tiny 60 ms Opus packets."""
    sink = _Unseekable()
    with av.open(sink, "w", format="webm") as container:
        stream = container.add_stream("libopus", rate=RATE, options={"frame_duration": "60"})
        stream.codec_context.layout = "mono"
        stream.codec_context.format = "s16"
        stream.codec_context.bit_rate = 6000
        pcm = np.round(tone(0.06, RATE) * 32767).astype(np.int16).reshape(1, -1)
        encoded: list[av.Packet] = []
        for index in range(3):
            frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
            frame.sample_rate = RATE
            frame.pts = index * pcm.shape[1]
            encoded.extend(stream.encode(frame))
        payload = bytes(encoded[-1])
        for index in range(round(hours * 3600 / 0.06)):
            packet = av.Packet(payload)
            packet.stream = stream
            packet.time_base = fractions.Fraction(1, 1000)
            packet.pts = packet.dts = index * 60
            packet.duration = 60
            container.mux(packet)
    return bytes(sink.data)


def test_decompression_bomb_stops_at_the_limit() -> None:
    """Two hours in 7 MB with no duration in the header: rejected after decoding 60 s.

    Decoding all of it would take seconds; stopping at the limit takes milliseconds.
    """
    data = _webm_bomb(2.0)
    assert len(data) < 10 * 1024 * 1024
    with av.open(io.BytesIO(data), "r") as container:
        assert container.duration is None  # nothing to check up front
    started = time.perf_counter()
    with pytest.raises(UploadError) as caught:
        process_greeting(data)
    assert time.perf_counter() - started < 1.0
    assert caught.value.code == "too_long"


def test_packet_count_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the packet budget decoding stops, whatever the packets hold."""
    data = next(f for f in FORMATS if f.container == "webm").make()
    monkeypatch.setattr(upload, "_PACKETS_BASE", 0)
    monkeypatch.setattr(upload, "_PACKETS_PER_SECOND", 10)  # 53 for 5 s; the file has 150
    with pytest.raises(UploadError) as caught:
        process_greeting(data, max_seconds=5.0)
    assert caught.value.code == "not_audio"
    assert "packets" in str(caught.value)


def test_ogg_output_is_deterministic() -> None:
    """The same upload stores the same bytes (handy for de-duplication and caching)."""
    data = wav_tone(2.0)
    assert process_greeting(data).ogg == process_greeting(data).ogg
