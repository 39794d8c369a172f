"""A load-generator process: many cheap WebRTC participants (``python -m benchmarks.loadgen``).

Each participant joins like a browser (POST /api/v1/join, then a WHIP offer to
/api/v1/webrtc) with an aiortc peer connection, but costs as little as we can
make it, so that the load generator leaves the CPU to the server:

- nothing is encoded: a tone (talkers) or a quiet room (listeners) is encoded
  once at start-up and the same Opus packets are sent, as av.Packets, by
  aiortc's RTP sender, paced by one clock for the whole process;
- nothing is decoded or even decrypted: the received RTP is tapped right at the
  DTLS transport (the header of an SRTP packet is in the clear) and only its
  RTP timestamp and arrival time are kept, to see how regularly the server's
  mixer ticks arrive.

It is driven by JSON lines on stdin (one answer line on stdout for each):
``{"op": "join", "legs": [[index, talker, moderator], ...]}``, ``{"op": "mark"}``,
``{"op": "report"}`` and ``{"op": "quit"}``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fractions
import json
import logging
import sys
import time
from typing import Any

import aiohttp
import av
import numpy as np
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from server.media.webrtc import offer_ice_addresses

from .common import background_noise, encode_all, frames_of, speech_like

FRAME = 960
PERIOD = 0.020
TIME_BASE = fractions.Fraction(1, 48000)
SOURCE_SECONDS = 2.0

logger = logging.getLogger("benchmarks.loadgen")


class Pacer:
    """One 20 ms clock for every sender of the process, in ``phases`` staggered groups."""

    def __init__(self, phases: int = 4) -> None:
        self.phases = phases
        loop = asyncio.get_running_loop()
        self._waiting = [loop.create_future() for _ in range(phases)]
        self._task = loop.create_task(self._run())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        start = time.monotonic()
        k = 0
        step = PERIOD / self.phases
        while True:
            delay = start + k * step - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            phase = k % self.phases
            due, self._waiting[phase] = self._waiting[phase], loop.create_future()
            due.set_result(k // self.phases)
            k += 1

    async def wait(self, phase: int) -> int:
        """The number of the next tick of this phase, when it is due."""
        return await asyncio.shield(self._waiting[phase])

    def stop(self) -> None:
        self._task.cancel()


class PacketTrack(MediaStreamTrack):
    """A microphone that hands out pre-encoded Opus packets, one per 20 ms."""

    kind = "audio"

    def __init__(self, pacer: Pacer, payloads: list[bytes], phase: int, offset: int) -> None:
        super().__init__()
        self._pacer = pacer
        self._payloads = payloads
        self._phase = phase
        self._n = offset

    async def recv(self) -> av.Packet:  # type: ignore[override]
        if self.readyState != "live":
            raise MediaStreamError
        tick = await self._pacer.wait(self._phase)
        self._n += 1
        packet = av.Packet(self._payloads[self._n % len(self._payloads)])
        packet.pts = tick * FRAME
        packet.time_base = TIME_BASE
        return packet


class _ClearRtp:
    """Stands in for the receiving SRTP session: RTP is left encrypted (never decoded)."""

    def __init__(self, session: Any) -> None:
        self._session = session

    def unprotect(self, data: bytes) -> bytes:
        return data

    def unprotect_rtcp(self, data: bytes) -> bytes:
        return bytes(self._session.unprotect_rtcp(data))


class Leg:
    """One participant: its peer connection and the arrival log of what it is sent."""

    def __init__(self, index: int, talker: bool) -> None:
        self.index = index
        self.talker = talker
        self.pc: RTCPeerConnection | None = None
        self.state = "new"
        self.stamps: list[int] = []
        self.times: list[float] = []
        self.connected = asyncio.Event()

    def arrived(self, data: bytes) -> None:
        self.stamps.append(int.from_bytes(data[4:8], "big"))
        self.times.append(time.monotonic())

    def clear(self) -> None:
        self.stamps = []
        self.times = []


def _tap(leg: Leg, pc: RTCPeerConnection) -> None:
    """Drop received media at the DTLS transport, keeping only RTP timestamps and times."""
    transceiver = pc.getTransceivers()[0]
    receiver = transceiver.receiver
    transport = receiver.transport

    async def handle_rtp_data(data: bytes, arrival_time_ms: int = 0) -> None:
        leg.arrived(data)

    transport._handle_rtp_data = handle_rtp_data  # type: ignore[method-assign]
    original_receive = receiver.receive

    async def receive(parameters: Any) -> None:
        await original_receive(parameters)
        receiver._RTCRtpReceiver__stop_decoder()  # type: ignore[attr-defined]

    receiver.receive = receive  # type: ignore[method-assign]


def _skip_decryption(pc: RTCPeerConnection) -> None:
    transport = pc.getTransceivers()[0].receiver.transport
    session = transport._rx_srtp
    if session is not None and not isinstance(session, _ClearRtp):
        transport._rx_srtp = _ClearRtp(session)  # type: ignore[assignment]


def per_tick(dues: list[np.ndarray], lates: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Group packets of all legs by the server tick they came from; keep the earliest.

    A tick's packets to different legs share a due time up to a few ms, while
    ticks are 20 ms apart, so sorted due times split into ticks at gaps of half
    a period. Returns each tick's due time and its smallest lateness.
    """
    if not dues:
        return np.zeros(0), np.zeros(0)
    due = np.concatenate(dues)
    late = np.concatenate(lates)
    order = np.argsort(due, kind="stable")
    due, late = due[order], late[order]
    starts = np.flatnonzero(np.concatenate([[True], np.diff(due) > PERIOD / 2]))
    return due[starts], np.minimum.reduceat(late, starts)


class LoadGenerator:
    def __init__(self, url: str, pin: str, moderator_pin: str, seed: int) -> None:
        self.url = url.rstrip("/")
        self.pin = pin
        self.moderator_pin = moderator_pin
        rng = np.random.default_rng(seed)
        frames = int(SOURCE_SECONDS / PERIOD)
        self.speech = encode_all(frames_of(speech_like(SOURCE_SECONDS + 0.1, rng))[:frames])
        self.quiet = encode_all(frames_of(background_noise(SOURCE_SECONDS + 0.1, rng))[:frames])
        self.pacer = Pacer()
        self.legs: list[Leg] = []
        self.http = aiohttp.ClientSession()
        self.marked_at = time.monotonic()

    async def join(self, specs: list[list[Any]], concurrency: int) -> dict[str, Any]:
        began = time.monotonic()
        gate = asyncio.Semaphore(concurrency)
        errors: list[str] = []

        async def one(index: int, talker: bool, moderator: bool) -> None:
            async with gate:
                try:
                    await self._join_one(index, talker, moderator)
                except Exception as exc:
                    errors.append(f"leg {index}: {type(exc).__name__}: {exc}")

        # The moderator first: the conference mixes only once the organiser is in.
        first = [s for s in specs if s[2]]
        rest = [s for s in specs if not s[2]]
        for group in (first, rest):
            await asyncio.gather(*(one(int(i), bool(t), bool(m)) for i, t, m in group))
        return {
            "joined": len(specs) - len(errors),
            "errors": errors[:5],
            "failed": len(errors),
            "seconds": time.monotonic() - began,
        }

    async def _join_one(self, index: int, talker: bool, moderator: bool) -> None:
        leg = Leg(index, talker)
        pin = self.moderator_pin if moderator else self.pin
        async with self.http.post(
            f"{self.url}/api/v1/join", json={"pin": pin, "name": f"load {index}"}
        ) as response:
            if response.status != 200:
                raise RuntimeError(f"join: HTTP {response.status} {await response.text()}")
            token = (await response.json())["participant_token"]
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        leg.pc = pc
        self.legs.append(leg)

        @pc.on("connectionstatechange")
        def _state() -> None:
            leg.state = pc.connectionState
            if leg.state == "connected":
                _skip_decryption(pc)
                leg.connected.set()
            elif leg.state in ("failed", "closed"):
                leg.connected.set()

        payloads = self.speech if talker else self.quiet
        pc.addTrack(PacketTrack(self.pacer, payloads, index % self.pacer.phases, offset=index * 7))
        _tap(leg, pc)
        await pc.setLocalDescription(await pc.createOffer())
        async with self.http.post(
            f"{self.url}/api/v1/webrtc",
            data=pc.localDescription.sdp,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/sdp"},
        ) as response:
            if response.status != 201:
                raise RuntimeError(f"WHIP: HTTP {response.status} {await response.text()}")
            answer = await response.text()
        await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        await asyncio.wait_for(leg.connected.wait(), timeout=30)
        if leg.state != "connected":
            raise RuntimeError(f"connection {leg.state}")

    def mark(self) -> dict[str, Any]:
        for leg in self.legs:
            leg.clear()
        self.marked_at = time.monotonic()
        return {"legs": len(self.legs)}

    def report(self) -> dict[str, Any]:
        """Arrival regularity since the mark: per leg, and per server tick (earliest leg)."""
        seconds = time.monotonic() - self.marked_at
        received = 0
        expected = 0
        late_fraction: list[float] = []
        dues: list[np.ndarray] = []
        lates: list[np.ndarray] = []
        for leg in self.legs:
            if len(leg.stamps) < 10:
                continue
            stamps = np.asarray(leg.stamps, dtype=np.int64)
            times = np.asarray(leg.times, dtype=np.float64)
            diff = (stamps - stamps[0]) % (1 << 32)
            diff = np.where(diff >= 1 << 31, diff - (1 << 32), diff)
            index = np.rint(diff / FRAME).astype(np.int64)
            due = times - index * PERIOD
            base = float(due.min())
            lateness = due - base
            received += int(np.unique(index).size)
            expected += int(index.max() - index.min() + 1)
            late_fraction.append(float((lateness > PERIOD).mean()))
            dues.append(base + index * PERIOD)
            lates.append(lateness)
        tick_due, tick_lateness = per_tick(dues, lates)
        return {
            "legs": len(self.legs),
            "connected": sum(1 for leg in self.legs if leg.state == "connected"),
            "seconds": seconds,
            "received": received,
            "expected": expected,
            "leg_late_fraction": late_fraction,
            "tick_due": tick_due.tolist(),
            "tick_lateness": tick_lateness.tolist(),
        }

    async def close(self) -> None:
        self.pacer.stop()
        for leg in self.legs:
            if leg.pc is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(leg.pc.close(), timeout=2)
        await self.http.close()


async def serve(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    generator = LoadGenerator(args.url, args.pin, args.moderator_pin, args.seed)

    def answer(body: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(body) + "\n")
        sys.stdout.flush()

    answer({"ready": True})
    try:
        while True:
            line = await reader.readline()
            if not line:
                break
            command = json.loads(line)
            op = command.get("op")
            if op == "join":
                answer(await generator.join(command["legs"], int(command.get("concurrency", 4))))
            elif op == "mark":
                answer(generator.mark())
            elif op == "report":
                answer(generator.report())
            elif op == "quit":
                break
            else:
                answer({"error": f"unknown op {op!r}"})
    finally:
        await generator.close()
        answer({"bye": True})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--pin", required=True)
    parser.add_argument("--moderator-pin", required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    offer_ice_addresses(["127.0.0.1"])
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
