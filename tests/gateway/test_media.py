"""Phone legs' RTP on loopback: G.711 in and out, symmetric RTP, DTMF, hold, garbage."""

from __future__ import annotations

import asyncio
import socket
import struct

import numpy as np

from gateway.dtmf import build_event
from gateway.g711 import PCMA, PCMU
from gateway.media import PhonePort, RtpPortPool
from server.media import messages as m
from server.media.codecs import EncodedFrame

from ..support.audio import sine, tone_level


def rtp(pt: int, seq: int, ts: int, payload: bytes, ssrc: int = 0x1234) -> bytes:
    return struct.pack("!BBHII", 0x80, pt, seq, ts, ssrc) + payload


class Phone:
    """A UDP socket standing in for a phone."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]

    def send(self, data: bytes, to: tuple[str, int]) -> None:
        self.sock.sendto(data, to)

    async def recv(self) -> bytes:
        loop = asyncio.get_running_loop()
        return await asyncio.wait_for(loop.sock_recv(self.sock, 2048), 2)


def watch(port: PhonePort) -> asyncio.Event:
    """An event set whenever the port takes in a datagram."""
    event = asyncio.Event()
    receive = port.receive

    def counted(data: bytes, addr: tuple[str, int]) -> None:
        receive(data, addr)
        event.set()

    port.receive = counted  # type: ignore[method-assign]
    return event


async def arrived(port: PhonePort, event: asyncio.Event, count: int) -> None:
    """Wait until the port has taken in ``count`` datagrams (good or bad)."""
    async with asyncio.timeout(2):
        while port.stats.received + port.stats.garbage + port.stats.foreign < count:
            event.clear()
            await event.wait()


async def test_g711_in_and_out_with_dtmf() -> None:
    pool = RtpPortPool("127.0.0.1", 31000, 31100)
    phone = Phone()
    states: list[str] = []
    digits: list[str] = []
    command = m.AddRtpLeg("c", "leg", "127.0.0.1", 9, "PCMU", 0, dtmf_payload_type=101)
    port, host, number = await pool.create(command, states.append, digits.append)
    assert number == 31000 and port.codec == "PCMU"
    got = watch(port)
    tone = sine(1000, 0.6, 0.3, rate=8000)
    codes = PCMU.encode(tone).tobytes()
    heard = []
    sent = 0
    for i in range(30):
        phone.send(rtp(0, 100 + i, i * 160, codes[i * 160 : (i + 1) * 160]), (host, number))
        if i == 10:
            phone.send(rtp(101, 500, 9999, build_event(5, False, 10, 160)), (host, number))
            phone.send(rtp(101, 501, 9999, build_event(5, True, 10, 800)), (host, number))
            phone.send(rtp(101, 502, 9999, build_event(5, True, 10, 800)), (host, number))
            sent += 3
        sent += 1
        await arrived(port, got, sent)
        pool.tick(i)
        frame = port.read_frame()
        if frame is not None:
            heard.append(frame.copy())
    assert digits == ["5"]
    audio = np.concatenate(heard[3:])
    assert tone_level(audio, 1000) > -15
    # Symmetric RTP: our packets go where the phone's come from, not to port 9.
    port.write(EncodedFrame(PCMU.silence(160), 960 * 7))
    packet = await phone.recv()
    (ts,) = struct.unpack("!I", packet[4:8])
    assert packet[1] & 0x7F == 0 and len(packet) == 12 + 160
    port.write(EncodedFrame(PCMU.silence(160), 960 * 8))
    (next_ts,) = struct.unpack("!I", (await phone.recv())[4:8])
    assert (next_ts - ts) & 0xFFFFFFFF == 160  # 8 kHz RTP clock, from the mixer's time
    # Garbage and foreign payload types are dropped and counted.
    phone.send(b"\x00garbage", (host, number))
    phone.send(rtp(18, 1, 1, b"\x00" * 20), (host, number))
    await arrived(port, got, sent + 2)
    assert port.stats.garbage == 1 and port.stats.foreign == 1
    # On hold: neither mixed nor sent to.
    pool.update(port, m.UpdateRtpLeg("leg", "127.0.0.1", phone.port, on_hold=True))
    assert port.read_frame() is None
    sent = port.stats.sent
    port.write(EncodedFrame(PCMU.silence(160), 960 * 9))
    assert port.stats.sent == sent
    await port.close()
    assert states == []


async def test_alaw_legs_and_the_encoder() -> None:
    pool = RtpPortPool("127.0.0.1", 31200, 31300)
    phone = Phone()
    command = m.AddRtpLeg("c", "a", "127.0.0.1", phone.port, "PCMA", 8)
    port, _, _ = await pool.create(command, lambda s: None, lambda d: None)
    encoder = port.new_encoder()
    received = []
    for i in range(25):
        pcm48 = sine(440, 0.02, 0.3)  # the same 20 ms each time: a steady 440 Hz
        port.write(EncodedFrame(encoder.encode(pcm48), i * 960))
        received.append((await phone.recv())[12:])
    decoded = PCMA.decode(np.frombuffer(b"".join(received[5:]), dtype=np.uint8))
    assert tone_level(decoded, 440, rate=8000) > -15
    await port.close()


async def test_inband_dtmf_for_phones_without_rfc4733() -> None:
    pool = RtpPortPool("127.0.0.1", 31400, 31500)
    phone = Phone()
    digits: list[str] = []
    command = m.AddRtpLeg("c", "old-phone", "127.0.0.1", phone.port, "PCMU", 0)
    port, host, number = await pool.create(command, lambda s: None, digits.append)
    got = watch(port)
    t = np.arange(8000 // 5) / 8000  # 200 ms of "7": 852 Hz + 1209 Hz
    key = (np.sin(2 * np.pi * 852 * t) + np.sin(2 * np.pi * 1209 * t)) * 0.25 * 32767
    codes = PCMU.encode(np.concatenate([key, np.zeros(1600)]).astype(np.int16)).tobytes()
    for i in range(len(codes) // 160):
        phone.send(rtp(0, i, i * 160, codes[i * 160 : (i + 1) * 160]), (host, number))
        await arrived(port, got, i + 1)
        pool.tick(i)
    assert digits == ["7"]
    await port.close()
