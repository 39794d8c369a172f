"""Audio codecs the engine speaks, behind one small interface.

Every codec turns one 20 ms frame of 48 kHz mono int16 into one payload and
back. Opus runs in libopus through PyAV; phone codecs (G.711) join with the
SIP gateway. Encoders are stateful, so one encoder instance feeds exactly one
outgoing stream (a leg's own, or a conference's shared stream).
"""

from __future__ import annotations

import fractions
from typing import Protocol

import av
import numpy as np

from .mixer import FRAME_SAMPLES, SAMPLE_RATE, Int16Array

TIME_BASE = fractions.Fraction(1, SAMPLE_RATE)


class Encoder(Protocol):
    name: str

    def encode(self, pcm: Int16Array) -> bytes: ...


class Decoder(Protocol):
    def decode(self, payload: bytes) -> Int16Array: ...


class OpusEncoder:
    """Mono Opus tuned for speech; decodable by any WebRTC endpoint (opus/48000/2)."""

    name = "opus"

    def __init__(self, bitrate: int = 32000, complexity: int | None = None) -> None:
        self._codec = av.CodecContext.create("libopus", "w")
        self._codec.bit_rate = bitrate
        self._codec.format = "s16"
        self._codec.layout = "mono"
        self._codec.sample_rate = SAMPLE_RATE
        self._codec.time_base = TIME_BASE
        options = {"application": "voip", "frame_duration": "20"}
        if complexity is not None:
            options["compression_level"] = str(complexity)
        self._codec.options = options
        self._pts = 0

    def encode(self, pcm: Int16Array) -> bytes:
        frame = av.AudioFrame.from_ndarray(
            pcm.reshape(1, -1), format="s16", layout="mono"
        )
        frame.sample_rate = SAMPLE_RATE
        frame.pts = self._pts
        self._pts += pcm.shape[0]
        packets = self._codec.encode(frame)
        return b"".join(bytes(p) for p in packets)


class OpusDecoder:
    """Decodes any Opus packet (mono or stereo, any frame size) to 48 kHz mono."""

    def __init__(self) -> None:
        self._codec = av.CodecContext.create("libopus", "r")
        self._codec.format = "s16"
        self._codec.layout = "mono"
        self._codec.sample_rate = SAMPLE_RATE

    def decode(self, payload: bytes) -> Int16Array:
        frames = self._codec.decode(av.Packet(payload))
        if not frames:
            return np.zeros(0, dtype=np.int16)
        pcm = [f.to_ndarray().reshape(-1) for f in frames]
        out = pcm[0] if len(pcm) == 1 else np.concatenate(pcm)
        return out.astype(np.int16, copy=False)


class Concealer:
    """Fills a lost frame by fading out the last good one, then silence."""

    def __init__(self, max_frames: int = 3) -> None:
        self.max_frames = max_frames
        self._last: Int16Array | None = None
        self._lost_in_row = 0

    def good(self, pcm: Int16Array) -> None:
        self._last = pcm
        self._lost_in_row = 0

    def conceal(self) -> Int16Array:
        self._lost_in_row += 1
        if self._last is None or self._lost_in_row > self.max_frames:
            return np.zeros(FRAME_SAMPLES, dtype=np.int16)
        gain = 0.5**self._lost_in_row
        ramp = np.linspace(1.0, 0.5, FRAME_SAMPLES, dtype=np.float32) * gain
        return (self._last.astype(np.float32) * ramp).astype(np.int16)


class EncodedFrame:
    """One encoded 20 ms frame of one outgoing stream, shared by all its listeners."""

    __slots__ = ("_packet", "payload", "pts")

    def __init__(self, payload: bytes, pts: int) -> None:
        self.payload = payload
        self.pts = pts  # in samples at 48 kHz
        self._packet: av.Packet | None = None

    def av_packet(self) -> av.Packet:
        """The frame as a PyAV packet (what aiortc's senders take), made once."""
        if self._packet is None:
            packet = av.Packet(self.payload)
            packet.pts = self.pts
            packet.time_base = TIME_BASE
            self._packet = packet
        return self._packet
