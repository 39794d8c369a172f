"""A WebRTC participant made of aiortc, joining through our public API (WHIP)."""

from __future__ import annotations

import asyncio
import fractions
import time
from typing import Any

import aiohttp
import numpy as np
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from av import AudioFrame

from .audio import RATE

FRAME = 960


class ToneTrack(MediaStreamTrack):
    """A microphone that plays a sine (or silence when ``freq`` is None), paced in real time."""

    kind = "audio"

    def __init__(self, freq: float | None, amplitude: float = 0.3) -> None:
        super().__init__()
        self.freq = freq
        self.amplitude = amplitude
        self._n = 0
        self._start: float | None = None

    async def recv(self) -> AudioFrame:
        if self._start is None:
            self._start = time.monotonic()
        due = self._start + self._n * FRAME / RATE
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        t = (np.arange(FRAME) + self._n * FRAME) / RATE
        if self.freq is None:
            samples = np.zeros(FRAME, dtype=np.int16)
        else:
            samples = (np.sin(2 * np.pi * self.freq * t) * self.amplitude * 32767).astype(np.int16)
        frame = AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = RATE
        frame.pts = self._n * FRAME
        frame.time_base = fractions.Fraction(1, RATE)
        self._n += 1
        return frame


class Participant:
    """Joins with a PIN, sends a tone, records what it hears (48 kHz mono)."""

    def __init__(self, http: aiohttp.ClientSession, base_url: str, freq: float | None) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.tone = ToneTrack(freq)
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.heard: list[np.ndarray] = []
        self.joined: dict[str, Any] = {}
        self.location: str | None = None
        self._recorder: asyncio.Task[None] | None = None
        self.closed = asyncio.Event()

        @self.pc.on("connectionstatechange")
        def _state() -> None:
            if self.pc.connectionState in ("closed", "failed"):
                self.closed.set()

        @self.pc.on("track")
        def _track(track: MediaStreamTrack) -> None:
            self._recorder = asyncio.ensure_future(self._record(track))

    @property
    def token(self) -> str:
        return str(self.joined["participant_token"])

    @property
    def id(self) -> str:
        return str(self.joined["participant_id"])

    async def join(self, pin: str, name: str) -> None:
        async with self.http.post(
            f"{self.base_url}/api/v1/join", json={"pin": pin, "name": name}
        ) as response:
            assert response.status == 200, await response.text()
            self.joined = await response.json()
        self.pc.addTrack(self.tone)
        await self.pc.setLocalDescription(await self.pc.createOffer())
        async with self.http.post(
            f"{self.base_url}/api/v1/webrtc",
            data=self.pc.localDescription.sdp,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/sdp"},
        ) as response:
            assert response.status == 201, await response.text()
            self.location = response.headers["Location"]
            answer = await response.text()
        await self.pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))

    async def _record(self, track: MediaStreamTrack) -> None:
        try:
            while True:
                frame = await track.recv()
                data = frame.to_ndarray().reshape(-1)
                channels = len(frame.layout.channels)
                if channels > 1:
                    data = data.reshape(-1, channels)[:, 0]
                self.heard.append(data.astype(np.int16))
        except Exception:
            self.closed.set()

    def last(self, seconds: float) -> np.ndarray:
        """The most recent ``seconds`` of what this participant heard."""
        need = int(seconds * RATE)
        chunks: list[np.ndarray] = []
        total = 0
        for chunk in reversed(self.heard):
            chunks.append(chunk)
            total += chunk.size
            if total >= need:
                break
        if not chunks:
            return np.zeros(0, dtype=np.int16)
        return np.concatenate(list(reversed(chunks)))[-need:]

    async def leave(self) -> int:
        assert self.location is not None
        async with self.http.delete(
            f"{self.base_url}{self.location}", headers={"Authorization": f"Bearer {self.token}"}
        ) as response:
            status = response.status
        await self.close()
        return status

    async def close(self) -> None:
        if self._recorder is not None:
            self._recorder.cancel()
        await self.pc.close()


async def wait_until(predicate: Any, within: float = 15.0, interval: float = 0.05) -> None:
    """Poll a condition (sync or async) until it holds; fail with a clear message.

    For conditions no event announces (what a participant hears, say).
    """
    deadline = time.monotonic() + within
    while True:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within} s: {predicate}")
        await asyncio.sleep(interval)


async def past_greeting(p: Participant) -> int:
    """Wait until ``p`` has heard its welcome and beep (1 kHz) and it is quiet again.

    Returns the number of chunks heard so far: a mark from which to listen for
    what comes next, so the greeting's own beep is not taken for something else.
    """
    from .audio import rms_db

    await wait_until(
        lambda: sum(c.size for c in p.heard) > 48000 * 2 and rms_db(p.last(0.4)) < -55,
        within=15,
    )
    return len(p.heard)


def heard_since(p: Participant, mark: int) -> np.ndarray:
    return np.concatenate(p.heard[mark:]) if len(p.heard) > mark else np.zeros(0, np.int16)
