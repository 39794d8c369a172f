"""Validation and normalisation of an organiser's custom welcome announcement.

An organiser uploads a recording (whatever their browser, phone or audio
editor produced); :func:`process_greeting` turns those untrusted bytes into
what the bridge plays and stores:

- int16 mono 48 kHz samples, the format of every prompt (see :mod:`.prompts`);
- the same audio as a small Ogg/Opus file for the disk, so that it is decoded
  on load exactly like the committed prompts.

The function is pure apart from CPU: no I/O, no event loop, no global state.
It takes up to a few hundred milliseconds for a long upload, so the caller
runs it in a worker thread.

The bytes are hostile until proven otherwise. They are only ever read from
memory (never written to a path first), only a whitelist of audio container
formats is probed (FFmpeg also knows playlists, image sequences and other
demuxers that an upload has no business reaching), and every limit is
enforced while decoding instead of trusting the header: a file that declares
ten seconds but holds ten hours stops decoding as soon as it passes
``max_seconds``, and the number of packets is bounded too.

Anything wrong with the upload raises :class:`UploadError` whose ``code``
the API can map to a translated message and whose text is fit for the user.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Literal

import av
import av.error
import numpy as np
import numpy.typing as npt

from .prompts import SAMPLE_RATE

__all__ = [
    "BIT_RATE",
    "Greeting",
    "UploadError",
    "UploadErrorCode",
    "process_greeting",
]

UploadErrorCode = Literal["too_large", "empty", "not_audio", "too_short", "too_long", "silent"]
"""Machine-readable reasons for rejecting an upload."""

BIT_RATE: Final = 32000
"""Opus bit rate of the stored file (bit/s): transparent enough for speech and jingles."""

TARGET_DBFS: Final = -20.0
"""Loudness of the normalised announcement: RMS over its non-silent blocks."""

CEILING_DBFS: Final = -1.0
"""Highest sample peak after normalisation (the Opus round trip needs headroom)."""

GATE_DBFS: Final = -50.0
"""20 ms blocks quieter than this are silence: not measured, and trimmed at the ends."""

SILENT_RMS_DBFS: Final = -50.0
"""A whole file quieter than this (RMS) is rejected as silent."""

SILENT_PEAK_DBFS: Final = -40.0
"""A whole file whose loudest sample stays below this is rejected as silent."""

KEEP_SILENCE_SECONDS: Final = 0.3
"""Silence kept before the first and after the last sound, so it does not start abruptly."""

FADE_SECONDS: Final = 0.010
"""Fade in and out, against clicks where the trim cuts into noise."""

_BLOCK: Final = SAMPLE_RATE * 20 // 1000
_KEEP: Final = round(SAMPLE_RATE * KEEP_SILENCE_SECONDS)
_FADE: Final = round(SAMPLE_RATE * FADE_SECONDS)

_INT16_SCALE: Final = 32767.0
_PEAK_LIMIT: Final = math.floor(10 ** (CEILING_DBFS / 20) * 32768)
"""Largest int16 magnitude allowed (29204, just under -1 dBFS)."""

_LENGTH_TOLERANCE_SECONDS: Final = 0.25
"""Slack for codec padding (encoder delay, last frame) before declaring a file too long."""

_FORMAT_WHITELIST: Final = ",".join(
    (
        "wav",  # also RF64 / BW64
        "w64",
        "aiff",
        "caf",
        "au",
        "flac",
        "mp3",
        "ogg",  # Vorbis, Opus, FLAC, Speex
        "mov",  # MP4 / M4A / 3GP (AAC, ALAC)
        "matroska",  # WebM and MKA (browser MediaRecorder)
        "aac",  # raw ADTS
        "amr",
        "asf",  # WMA
    )
)
"""Demuxers the upload may reach; FFmpeg's others (playlists, images...) are refused."""

_DEMUXER_OPTIONS: Final = {"format_whitelist": _FORMAT_WHITELIST}

_MIN_SOURCE_RATE: Final = 4000
_MAX_SOURCE_RATE: Final = 768000
_MAX_CHANNELS: Final = 32

_PACKETS_BASE: Final = 10_000
_PACKETS_PER_SECOND: Final = 1000
"""Packet budget: real codecs use 2.5 ms packets at the shortest (Opus), i.e. 400 per second."""

_MAX_DECODE_ERRORS: Final = 10
"""Corrupt packets tolerated (skipped) before the whole file counts as undecodable."""

_DECODER_ERRORS: Final = (
    av.error.FFmpegError,
    ValueError,
    TypeError,
    RuntimeError,
    OSError,
    EOFError,
    IndexError,
)
"""What PyAV raises (directly or from FFmpeg) for data it cannot handle."""

FloatArray = npt.NDArray[np.float64]
Samples = npt.NDArray[np.int16]


class UploadError(ValueError):
    """A rejected upload: ``code`` for programs, the message for people."""

    def __init__(self, code: UploadErrorCode, message: str) -> None:
        """Keep the machine-readable *code* beside the human *message*."""
        super().__init__(message)
        self.code: UploadErrorCode = code
        self.message = message

    def __repr__(self) -> str:
        """Show both parts in logs."""
        return f"UploadError({self.code!r}, {self.message!r})"


@dataclass(frozen=True, slots=True)
class Greeting:
    """A validated, normalised announcement, ready to play and to store."""

    samples: Samples
    """int16 mono 48 kHz, read-only (shared by every call that plays it)."""
    seconds: float
    """Length of :attr:`samples` (after trimming silence)."""
    ogg: bytes
    """The same audio as Ogg/Opus, mono 48 kHz, about :data:`BIT_RATE` bit/s."""
    source_format: str
    """Container and codec of the upload, e.g. ``"mp3/mp3float"`` (for logs)."""


def process_greeting(
    data: bytes,
    *,
    max_bytes: int = 10 * 1024 * 1024,
    min_seconds: float = 1.0,
    max_seconds: float = 60.0,
) -> Greeting:
    """Check, decode and normalise an uploaded announcement.

    Accepts anything FFmpeg decodes in the common audio containers (WAV,
    AIFF, FLAC, MP3, Ogg Vorbis/Opus, M4A/AAC, WebM/Opus...), at any sample
    rate and channel count; uses the first audio stream. Raises
    :class:`UploadError` when the upload is unusable.
    """
    if max_bytes <= 0 or min_seconds < 0 or max_seconds <= min_seconds:
        raise ValueError("need max_bytes > 0 and 0 <= min_seconds < max_seconds")
    size = len(data)
    if size == 0:
        raise UploadError("empty", "The file is empty.")
    if size > max_bytes:
        raise UploadError(
            "too_large",
            f"The file is {_size(size)}; files of at most {_size(max_bytes)} are accepted.",
        )
    audio, source_format = _decode(bytes(data), max_seconds)
    samples = _normalise(audio, min_seconds=min_seconds, max_seconds=max_seconds)
    return Greeting(
        samples=samples,
        seconds=samples.size / SAMPLE_RATE,
        ogg=_encode_ogg(samples),
        source_format=source_format,
    )


def _size(n: int) -> str:
    """A byte count the way people read it."""
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.1f} MB"
    if n >= 1024:
        return f"{n / 1024:.1f} kB"
    return f"{n} bytes"


def _not_audio(detail: str) -> UploadError:
    """The one message for everything FFmpeg cannot make sense of."""
    return UploadError("not_audio", f"The file is not a readable audio recording ({detail}).")


def _too_long(seconds: float | None, max_seconds: float) -> UploadError:
    """Too long, with the length if it is known."""
    length = "" if seconds is None else f" ({seconds:.0f} s)"
    return UploadError(
        "too_long",
        f"The announcement is too long{length}; at most {max_seconds:g} s are allowed.",
    )


def _decode(data: bytes, max_seconds: float) -> tuple[FloatArray, str]:
    """Decode the first audio stream to float mono 48 kHz; enforce the length while decoding."""
    limit = max_seconds + _LENGTH_TOLERANCE_SECONDS
    max_packets = _PACKETS_BASE + math.ceil(_PACKETS_PER_SECOND * limit)
    try:
        container = av.open(
            io.BytesIO(data), mode="r", options=_DEMUXER_OPTIONS, metadata_errors="ignore"
        )
    except _DECODER_ERRORS as exc:
        raise _not_audio("unknown or damaged format") from exc
    with container:
        if not container.streams.audio:
            raise _not_audio("it contains no audio")
        stream = container.streams.audio[0]
        codec = stream.codec_context
        if codec is None:
            raise _not_audio("unsupported audio codec")
        source_format = f"{container.format.name}/{codec.name}"
        declared = _declared_seconds(container, stream)
        if declared is not None and declared > limit:
            raise _too_long(declared, max_seconds)

        downmix = _Downmix()
        chunks: list[npt.NDArray[np.float32]] = []
        decoded_seconds = 0.0
        packets = errors = 0
        demuxer = container.demux(stream)
        while True:
            try:
                packet = next(demuxer)
            except StopIteration:
                break
            except _DECODER_ERRORS:
                break  # damaged or truncated tail: keep what was decoded so far
            packets += 1
            if packets > max_packets:
                raise _not_audio("too many packets for its length")
            try:
                frames = packet.decode()
            except _DECODER_ERRORS as exc:
                errors += 1
                if errors > _MAX_DECODE_ERRORS:
                    raise _not_audio("too many damaged packets") from exc
                continue
            for frame in frames:
                rate = frame.sample_rate
                channels = frame.layout.nb_channels
                if not _MIN_SOURCE_RATE <= rate <= _MAX_SOURCE_RATE:
                    raise _not_audio(f"unsupported sample rate {rate} Hz")
                if not 1 <= channels <= _MAX_CHANNELS:
                    raise _not_audio(f"unsupported channel count {channels}")
                decoded_seconds += frame.samples / rate
                if decoded_seconds > limit:
                    raise _too_long(None, max_seconds)
                chunks.extend(downmix.push(frame))
        chunks.extend(downmix.flush())
    if not chunks:
        raise _not_audio("no audio could be decoded")
    audio = np.concatenate(chunks).astype(np.float64)
    # Float formats can carry NaN or infinity; they would poison every level below.
    np.nan_to_num(audio, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
    if audio.size < _BLOCK:
        # A header with a few stray bytes of data: nothing to judge, let alone play.
        raise _not_audio("no audio could be decoded")
    return audio, source_format


def _declared_seconds(
    container: av.container.InputContainer, stream: av.audio.stream.AudioStream
) -> float | None:
    """The length the header claims for the stream (or the container), if any."""
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None


class _Downmix:
    """Resample each frame to 48 kHz float keeping its channels, then average them to mono.

    A new resampler is started whenever the source format changes mid-stream
    (concatenated MP3s, a WebM whose channel count changes...), since one
    resampler only accepts the setup of its first frame.
    """

    def __init__(self) -> None:
        """Start without a resampler; the first frame decides its input setup."""
        self._resampler: av.AudioResampler | None = None
        self._setup: tuple[str, str, int] | None = None

    def push(self, frame: av.AudioFrame) -> list[npt.NDArray[np.float32]]:
        """Mono 48 kHz chunks of *frame* (possibly none yet: the resampler buffers)."""
        setup = (frame.format.name, frame.layout.name, frame.sample_rate)
        out: list[npt.NDArray[np.float32]] = []
        if setup != self._setup:
            out.extend(self.flush())
            try:
                self._resampler = av.AudioResampler(
                    format="fltp", layout=frame.layout, rate=SAMPLE_RATE
                )
            except _DECODER_ERRORS as exc:
                raise _not_audio("unsupported sample format") from exc
            self._setup = setup
        assert self._resampler is not None
        frame.pts = None  # timestamps of an upload are untrusted and not needed
        out.extend(self._resample(frame))
        return out

    def flush(self) -> list[npt.NDArray[np.float32]]:
        """Drain the current resampler (end of stream or change of setup)."""
        if self._resampler is None:
            return []
        out = self._resample(None)
        self._resampler = None
        self._setup = None
        return out

    def _resample(self, frame: av.AudioFrame | None) -> list[npt.NDArray[np.float32]]:
        """Run the resampler and average the channels of what comes out."""
        assert self._resampler is not None
        try:
            frames: Iterable[av.AudioFrame] = self._resampler.resample(frame)
            return [np.asarray(f.to_ndarray(), dtype=np.float32).mean(axis=0) for f in frames]
        except _DECODER_ERRORS as exc:
            raise _not_audio("audio could not be converted") from exc


def _dbfs(value: float) -> float:
    """Amplitude (1.0 = full scale) in dBFS."""
    return 20 * math.log10(max(value, 1e-12))


def _amplitude(dbfs: float) -> float:
    """dBFS as an amplitude (1.0 = full scale)."""
    return 10 ** (dbfs / 20)


def _normalise(audio: FloatArray, *, min_seconds: float, max_seconds: float) -> Samples:
    """Reject silence and too little sound; trim, level, limit, fade and quantise."""
    peak = float(np.max(np.abs(audio)))
    rms = math.sqrt(float(np.mean(np.square(audio))))
    if rms < _amplitude(SILENT_RMS_DBFS) or peak < _amplitude(SILENT_PEAK_DBFS):
        level = (
            "it holds no signal at all"
            if peak == 0
            else f"level {_dbfs(rms):.0f} dBFS, peak {_dbfs(peak):.0f} dBFS"
        )
        raise UploadError(
            "silent",
            f"The recording is silent or far too quiet ({level}). "
            "Please check the microphone and record again.",
        )

    # Loudness of every 20 ms block; the quiet ones are the silence we trim and ignore.
    starts = np.arange(0, audio.size, _BLOCK)
    energy = np.add.reduceat(np.square(audio), starts)
    lengths = np.diff(np.append(starts, audio.size))
    active = energy / lengths >= _amplitude(GATE_DBFS) ** 2
    blocks = np.flatnonzero(active)
    if blocks.size == 0:
        raise UploadError("silent", "The recording contains no sound. Please check the microphone.")
    first = int(starts[blocks[0]])
    last = min(audio.size, int(starts[blocks[-1]]) + _BLOCK)
    sound_seconds = (last - first) / SAMPLE_RATE
    if sound_seconds < min_seconds:
        raise UploadError(
            "too_short",
            f"The announcement has only {sound_seconds:.1f} s of sound; "
            f"it must be at least {min_seconds:g} s long.",
        )

    gated_rms = math.sqrt(float(energy[active].sum() / lengths[active].sum()))
    trimmed = audio[max(0, first - _KEEP) : min(audio.size, last + _KEEP)]
    # Within the length tolerance, what sticks out is codec padding or kept silence.
    trimmed = trimmed[: math.floor(max_seconds * SAMPLE_RATE)]

    ceiling = _PEAK_LIMIT / _INT16_SCALE
    gain = _amplitude(TARGET_DBFS) / gated_rms
    trimmed_peak = float(np.max(np.abs(trimmed)))
    if trimmed_peak * gain > ceiling:
        gain = ceiling / trimmed_peak  # limit by lowering the level, never by clipping
    out = trimmed * gain

    fade = min(_FADE, out.size // 2)
    if fade:
        ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(fade) / fade)
        out[:fade] *= ramp
        out[out.size - fade :] *= ramp[::-1]

    # The clip only catches rounding (at most one step): the gain keeps the peak below.
    pcm = np.clip(np.rint(out * _INT16_SCALE), -_PEAK_LIMIT, _PEAK_LIMIT).astype(np.int16)
    pcm.flags.writeable = False
    return pcm


def _encode_ogg(samples: Samples) -> bytes:
    """Encode the normalised samples as mono Ogg/Opus, deterministically, in memory."""
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="ogg", options={"fflags": "+bitexact"}) as container:
        stream = container.add_stream(
            "libopus",
            rate=SAMPLE_RATE,
            # "audio" rather than "voip": a greeting may well carry a jingle. Constrained
            # VBR keeps the size predictable (free VBR spends 50 kbit/s on a pure tone).
            options={"application": "audio", "frame_duration": "20", "vbr": "constrained"},
        )
        stream.codec_context.layout = "mono"
        stream.codec_context.format = "s16"
        stream.codec_context.bit_rate = BIT_RATE
        for offset in range(0, samples.size, _BLOCK):
            block = np.ascontiguousarray(samples[offset : offset + _BLOCK]).reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(block, format="s16", layout="mono")
            frame.sample_rate = SAMPLE_RATE
            frame.pts = offset
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return buffer.getvalue()
