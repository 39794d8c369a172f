"""Build one RTP stream (one SSRC) as a pcap for SIPp's play_pcap_audio.

Segments play in order: G.711 audio (bytes of codes), RFC 4733 digits, silence.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from gateway.g711 import PCMU

SSRC = 0x5EED0002
EVENTS = "0123456789*#ABCD"


class PcapBuilder:
    def __init__(self, telephone_event_pt: int = 101) -> None:
        self.te = telephone_event_pt
        self.seq = 1000
        self.ts = 0
        self.t_us = 0
        self.packets: list[tuple[int, bytes]] = []

    def _rtp(self, pt: int, marker: bool, payload: bytes, seq: int, ts: int) -> bytes:
        second = (0x80 if marker else 0) | pt
        header = struct.pack("!BBHII", 0x80, second, seq & 0xFFFF, ts & 0xFFFFFFFF, SSRC)
        return header + payload

    def audio(self, codes: bytes) -> PcapBuilder:
        for i in range(0, len(codes) - 159, 160):
            packet = self._rtp(0, self.seq == 1000, codes[i : i + 160], self.seq, self.ts)
            self.packets.append((self.t_us, packet))
            self.seq += 1
            self.ts += 160
            self.t_us += 20000
        return self

    def silence(self, seconds: float) -> PcapBuilder:
        return self.audio(PCMU.silence(int(seconds * 8000)))

    def tone(self, freq: float, seconds: float, amplitude: float = 0.3) -> PcapBuilder:
        t = np.arange(int(seconds * 8000)) / 8000
        pcm = (np.sin(2 * np.pi * freq * t) * amplitude * 32767).astype(np.int16)
        return self.audio(PCMU.encode(pcm).tobytes())

    def digits(self, keys: str) -> PcapBuilder:
        for key in keys:
            event = EVENTS.index(key)
            for n in range(1, 8):  # 140 ms of tone, the duration growing
                payload = struct.pack("!BBH", event, 10, n * 160)
                packet = self._rtp(self.te, n == 1, payload, self.seq, self.ts)
                self.packets.append((self.t_us, packet))
                self.seq += 1
                self.t_us += 20000
            for _ in range(3):  # the end packet, three times like real phones
                payload = struct.pack("!BBH", event, 0x80 | 10, 8 * 160)
                packet = self._rtp(self.te, False, payload, self.seq, self.ts)
                self.packets.append((self.t_us, packet))
                self.t_us += 1000
            self.seq += 1
            self.ts += 8 * 160
            self.t_us += 17000
            self.silence(0.1)
        return self

    @property
    def seconds(self) -> float:
        return self.t_us / 1e6

    def write(self, path: Path) -> Path:
        with path.open("wb") as out:
            out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
            for t, rtp in self.packets:
                udp = struct.pack("!HHHH", 6000, 6000, 8 + len(rtp), 0) + rtp
                ip = struct.pack(
                    "!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                    b"\x7f\0\0\x01", b"\x7f\0\0\x01",
                ) + udp
                frame = b"\0" * 12 + b"\x08\x00" + ip
                out.write(struct.pack("<IIII", t // 1000000, t % 1000000, len(frame), len(frame)))
                out.write(frame)
        return path
