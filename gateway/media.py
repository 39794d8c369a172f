"""Phone legs' media: plain RTP with G.711, all legs of a tick handled together.

The pool owns one UDP socket per leg (the RTP port named in our SDP), keeps a
playout buffer per leg, and once per tick, before the mixer reads, turns every
leg's 20 ms of G.711 into 48 kHz in one go: one table look-up for all legs'
codes, one batched resampling, one batched in-band DTMF check. Sending is per
leg (one ``sendto`` each) of a payload encoded once per stream.

Symmetric RTP: we send to wherever the phone's RTP comes from, not only to the
address in its SDP (NATs, SBCs). Garbage and foreign payload types are counted
and dropped. On hold (a=sendonly / inactive) the leg is neither mixed nor sent
to, so hold music never reaches the room.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from server.media import messages as m
from server.media.codecs import EncodedFrame
from server.media.mixer import FRAME_SAMPLES, Int16Array
from server.media.playout import PlayoutBuffer, Pull

from .dtmf import InbandDtmfDetector, Rfc4733Receiver
from .g711 import PCMA, PCMU, G711Law
from .resample import Downsampler, Upsampler
from .rtp import parse_header, payload_end

logger = logging.getLogger(__name__)

PHONE_RATE = 8000
PHONE_FRAME = PHONE_RATE * 20 // 1000  # 160 samples in 20 ms
LAWS = {"PCMU": PCMU, "PCMA": PCMA}
#: a call whose RTP stopped this long ago (and is not on hold) is dead
RTP_TIMEOUT = 60.0
_HEADER = struct.Struct("!BBHII")


class G711Encoder:
    """48 kHz mono to one 20 ms G.711 payload; stateful (its own resampler)."""

    def __init__(self, law: G711Law) -> None:
        self.name = law.name
        self._law = law
        self._down = Downsampler(PHONE_RATE, legs=1)

    def encode(self, pcm: Int16Array) -> bytes:
        return self._law.encode(self._down.process(pcm)).tobytes()


@dataclass(slots=True)
class RtpStats:
    received: int = 0
    garbage: int = 0
    foreign: int = 0
    sent: int = 0
    digits: int = 0


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, port: PhonePort) -> None:
        self.port = port

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.port.receive(data, addr)

    def error_received(self, exc: Exception) -> None:
        # ICMP unreachable from a phone that went away: the RTP timeout handles it.
        logger.debug("RTP socket error on leg %s: %s", self.port.leg_id, exc)


class PhonePort:
    """A phone leg as the media engine sees it (see ``server.media.engine.MediaPort``)."""

    def __init__(
        self,
        pool: RtpPortPool,
        command: m.AddRtpLeg,
        slot: int,
        on_state: Callable[[str], None],
        on_digit: Callable[[str], None],
    ) -> None:
        law = LAWS.get(command.codec.upper())
        if law is None:
            raise ValueError(f"unsupported phone codec {command.codec}")
        self.leg_id = command.leg_id
        self.codec = law.name
        self.law = law
        self.connected = True
        self.on_hold = False
        self.stats = RtpStats()
        self._pool = pool
        self.slot = slot
        self._payload_type = command.payload_type
        self._dtmf_type = command.dtmf_payload_type
        self._on_state = on_state
        self._on_digit = on_digit
        self._dtmf = Rfc4733Receiver()
        self._buffer = PlayoutBuffer()
        self._pending = b""  # received G.711 not yet played (packets of any ptime)
        self._last_payload = b""
        self._remote = (command.remote_host, command.remote_port)
        self._latched = False
        self._last_heard = time.monotonic()
        self._transport: asyncio.DatagramTransport | None = None
        self._ssrc = secrets.randbits(32)
        self._seq = secrets.randbits(16)
        self._ts_base = secrets.randbits(32)
        self.has_audio = False

    @property
    def inband_dtmf(self) -> bool:
        """In-band detection only when the phone did not offer RFC 4733."""
        return self._dtmf_type is None

    # -- receiving ---------------------------------------------------------------

    def receive(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            payload_type, seq, timestamp, ssrc, offset, _ = parse_header(data)
            end = payload_end(data, offset)
        except ValueError:
            self.stats.garbage += 1
            return
        if not self._latched or addr != self._remote:
            # Symmetric RTP: answer where the media really comes from. Re-latch
            # only when the latched source has been silent (an SBC re-routed).
            if not self._latched or time.monotonic() - self._last_heard > 2.0:
                self._remote = addr
                self._latched = True
            else:
                self.stats.foreign += 1
                return
        self._last_heard = time.monotonic()
        self.stats.received += 1
        if payload_type == self._dtmf_type:
            digit = self._dtmf.feed(timestamp, data[offset:end], ssrc)
            if digit is not None:
                self.deliver_digit(digit)
        elif payload_type == self._payload_type:
            if end > offset:
                self._buffer.push(seq, data[offset:end])
        else:
            self.stats.foreign += 1

    def deliver_digit(self, digit: str) -> None:
        self.stats.digits += 1
        self._on_digit(digit)

    def attach(self, transport: asyncio.DatagramTransport) -> None:
        self._transport = transport

    def next_payload(self) -> bytes | None:
        """This tick's 160 G.711 codes (any ptime regrouped into 20 ms), or None."""
        pending = self._pending
        while len(pending) < PHONE_FRAME:
            kind, payload = self._buffer.pop()
            if kind is Pull.FRAME:
                assert payload is not None
                pending += payload
                self._last_payload = payload
            elif kind is Pull.LOST and self._last_payload:
                # Repeat the last packet once rather than drop to silence.
                pending += self._last_payload
                self._last_payload = b""
            elif kind is Pull.LOST:
                pending += self.law.silence(PHONE_FRAME)
            else:
                break
        if len(pending) < PHONE_FRAME:
            self._pending = pending
            return None
        self._pending = pending[PHONE_FRAME:]
        return pending[:PHONE_FRAME]

    # -- the engine's side ---------------------------------------------------------

    def read_frame(self) -> Int16Array | None:
        if not self.has_audio or self.on_hold:
            return None
        return self._pool.frames[self.slot]

    def new_encoder(self) -> G711Encoder:
        return G711Encoder(self.law)

    def write(self, frame: EncodedFrame) -> None:
        if self._transport is None or self.on_hold or not self._remote[1]:
            return  # no address yet (a dial-out still ringing) or on hold
        marker = 0x80 if self.stats.sent == 0 else 0
        timestamp = (self._ts_base + frame.pts // (48000 // PHONE_RATE)) & 0xFFFFFFFF
        header = _HEADER.pack(0x80, marker | self._payload_type, self._seq, timestamp, self._ssrc)
        self._seq = (self._seq + 1) & 0xFFFF
        self._transport.sendto(header + frame.payload, self._remote)
        self.stats.sent += 1

    def update(self, command: m.UpdateRtpLeg) -> None:
        if (command.remote_host, command.remote_port) != self._remote and not self._latched:
            self._remote = (command.remote_host, command.remote_port)
        self.on_hold = command.on_hold
        self._last_heard = time.monotonic()
        if command.codec is not None:
            law = LAWS.get(command.codec.upper())
            if law is None:
                raise ValueError(f"unsupported phone codec {command.codec}")
            self.law = law
            self.codec = law.name
        if command.payload_type is not None:
            self._payload_type = command.payload_type
        if command.dtmf_payload_type is not None:
            self._dtmf_type = command.dtmf_payload_type

    def check_alive(self, now: float) -> None:
        if not self.on_hold and now - self._last_heard > RTP_TIMEOUT and self.connected:
            self.connected = False
            self._on_state("failed")

    async def close(self) -> None:
        self.connected = False
        if self._transport is not None:
            self._transport.close()
            self._transport = None
        self._pool.release(self)


class RtpPortPool:
    """Opens phone legs' RTP ports and does their per-tick work in batches."""

    def __init__(self, host: str, port_min: int = 20000, port_max: int = 29998) -> None:
        self.host = host
        self.port_min = port_min - port_min % 2
        self.port_max = port_max
        self._next_port = self.port_min
        self._ports: dict[int, PhonePort] = {}  # by slot
        self._free_slots: list[int] = []
        self._capacity = 0
        self._up = Upsampler(PHONE_RATE, legs=0)
        self._inband = InbandDtmfDetector(legs=0)
        self.frames = np.zeros((0, FRAME_SAMPLES), dtype=np.int16)
        self._codes = np.zeros((0, PHONE_FRAME), dtype=np.uint8)
        self._law_of_slot = np.zeros(0, dtype=np.uint8)  # 0 PCMU, 1 PCMA
        self._last_check = time.monotonic()

    # -- RtpPortFactory ----------------------------------------------------------------

    async def create(
        self,
        command: m.AddRtpLeg,
        on_state: Callable[[str], None],
        on_digit: Callable[[str], None],
    ) -> tuple[PhonePort, str, int]:
        slot = self._take_slot()
        port = PhonePort(self, command, slot, on_state, on_digit)
        loop = asyncio.get_running_loop()
        span = (self.port_max - self.port_min) // 2 + 1
        for _ in range(span):
            number = self._next_port
            self._next_port += 2
            if self._next_port > self.port_max:
                self._next_port = self.port_min
            try:
                transport, _ = await loop.create_datagram_endpoint(
                    lambda: _Protocol(port), local_addr=(self.host, number)
                )
            except OSError:
                continue
            port.attach(transport)
            self._ports[slot] = port
            self._law_of_slot[slot] = 1 if port.law is PCMA else 0
            return port, self.host, number
        self._free_slots.append(slot)
        raise OSError("no free RTP port in the configured range")

    def update(self, port: object, command: m.UpdateRtpLeg) -> None:
        assert isinstance(port, PhonePort)
        port.update(command)
        self._law_of_slot[port.slot] = 1 if port.law is PCMA else 0

    def release(self, port: PhonePort) -> None:
        if self._ports.pop(port.slot, None) is not None:
            self._free_slots.append(port.slot)
            self._up.reset(port.slot)
            self._inband.reset(port.slot)

    # -- the tick ---------------------------------------------------------------------

    def tick(self, n: int) -> None:
        """Before the mixer reads: every phone leg's 20 ms, decoded and at 48 kHz."""
        if not self._ports:
            return
        codes = self._codes
        codes[:, :] = PCMU.silence_byte
        codes[self._law_of_slot == 1] = PCMA.silence_byte
        for slot, port in self._ports.items():
            payload = port.next_payload()
            port.has_audio = payload is not None
            if payload is not None:
                codes[slot] = np.frombuffer(payload, dtype=np.uint8)
        alaw = self._law_of_slot == 1
        pcm8 = PCMU.decode(codes)
        if alaw.any():
            pcm8[alaw] = PCMA.decode(codes[alaw])
        self._up.process(pcm8, out=self.frames)
        # In-band detection only matters for phones without RFC 4733 (rare on trunks).
        if any(port.inband_dtmf for port in self._ports.values()):
            for leg, digits in enumerate(self._inband.feed(pcm8)):
                port = self._ports.get(leg)
                if digits and port is not None and port.inband_dtmf:
                    for digit in digits:
                        port.deliver_digit(digit)
        now = time.monotonic()
        if now - self._last_check > 1.0:
            self._last_check = now
            for port in list(self._ports.values()):
                port.check_alive(now)

    def _take_slot(self) -> int:
        if self._free_slots:
            return self._free_slots.pop()
        slot = self._capacity
        self._capacity += 1
        self._up.add_legs(1)
        self._inband.add_legs(1)
        self.frames = np.concatenate([self.frames, np.zeros((1, FRAME_SAMPLES), np.int16)])
        self._codes = np.concatenate([self._codes, np.zeros((1, PHONE_FRAME), np.uint8)])
        self._law_of_slot = np.concatenate([self._law_of_slot, np.zeros(1, np.uint8)])
        return slot
