"""(b) The media engine's whole tick, per leg, with fake ports (no network).

The ports stand in for WebRtcPort on the engine's side of it: each gives one
frame per tick made from real Opus payloads and counts what it is sent.

- ``pcm``: a pre-decoded frame (engine, mixer and encoders only);
- ``decode``: decodes this tick's Opus payload with our OpusDecoder;
- ``playout``: like WebRtcPort.read_frame: the payload goes through a
  PlayoutBuffer (push + pop), is decoded and fitted, and the concealer is fed.
"""

from __future__ import annotations

import asyncio
import cProfile
import io
import pstats
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from server.media import messages as m
from server.media.codecs import Concealer, EncodedFrame, Encoder, OpusDecoder, OpusEncoder
from server.media.engine import MediaEngine
from server.media.mixer import FRAME_SAMPLES, Int16Array
from server.media.playout import PlayoutBuffer, Pull
from server.media.prompts import PromptLibrary

from .common import (
    Baseline,
    Stat,
    background_noise,
    calls_for,
    cpu_ns,
    encode_all,
    frames_of,
    repeat_cpu,
    speech_like,
)

MODES = ("pcm", "decode", "playout")
LOOP_FRAMES = 100  # 2 s of audio per source, looped


class FakePort:
    """A MediaPort without a network: frames from real Opus payloads, writes counted."""

    codec = "opus"

    def __init__(
        self, mode: str, payloads: list[bytes], pcm: list[Int16Array], offset: int
    ) -> None:
        self.mode = mode
        self.connected = True
        self.written = 0
        self._payloads = payloads
        self._pcm = pcm
        self._n = offset
        self._decoder = OpusDecoder()
        self._concealer = Concealer()
        self._buffer = PlayoutBuffer()
        self._seq = offset & 0xFFFF
        if mode == "playout":
            for _ in range(self._buffer.target_depth):
                self._arrive()

    def _arrive(self) -> None:
        self._buffer.push(self._seq, self._payloads[self._seq % len(self._payloads)])
        self._seq = (self._seq + 1) & 0xFFFF

    def read_frame(self) -> Int16Array | None:
        self._n += 1
        if self.mode == "pcm":
            return self._pcm[self._n % len(self._pcm)]
        if self.mode == "decode":
            return self._fit(self._decoder.decode(self._payloads[self._n % len(self._payloads)]))
        self._arrive()  # one packet arrives per tick, as from a live sender
        kind, payload = self._buffer.pop()
        if kind is Pull.FRAME:
            assert payload is not None
            pcm = self._fit(self._decoder.decode(payload))
            self._concealer.good(pcm)
            return pcm
        if kind is Pull.LOST:
            return self._concealer.conceal()
        return None

    @staticmethod
    def _fit(pcm: Int16Array) -> Int16Array:
        if pcm.shape[0] != FRAME_SAMPLES:
            fitted = pcm[:FRAME_SAMPLES].copy()
            fitted.resize(FRAME_SAMPLES, refcheck=False)
            return fitted
        return pcm

    def new_encoder(self) -> Encoder:
        return OpusEncoder()

    def write(self, frame: EncodedFrame) -> None:
        self.written += 1

    async def close(self) -> None:
        self.connected = False


@dataclass(slots=True)
class EngineCase:
    conferences: int
    participants: int  # per conference
    talkers: int  # per conference
    mode: str
    per_tick: Stat  # µs, whole engine tick
    streams: float  # distinct encoded streams per tick (encodes)

    @property
    def legs(self) -> int:
        return self.conferences * self.participants

    @property
    def label(self) -> str:
        if self.conferences == 1:
            return f"{self.participants}"
        return f"{self.conferences}x{self.participants}"

    def per_leg(self) -> float:
        return self.per_tick.median / self.legs

    def as_dict(self, baseline: Baseline) -> dict[str, Any]:
        return {
            "conferences": self.conferences,
            "participants_per_conference": self.participants,
            "talkers_per_conference": self.talkers,
            "mode": self.mode,
            "us_per_tick": self.per_tick.as_dict(),
            "us_per_participant": self.per_leg(),
            "ratio_to_opus_encode": self.per_leg() / baseline.us,
            "encodes_per_tick": self.streams,
        }


class _Sources:
    """Pre-encoded payloads (and their decoded frames) for talkers and quiet rooms."""

    def __init__(self, rng: np.random.Generator, voices: int = 4) -> None:
        seconds = LOOP_FRAMES * FRAME_SAMPLES / 48000
        self.speech = [self._source(speech_like(seconds, rng)) for _ in range(voices)]
        self.quiet = [self._source(background_noise(seconds, rng)) for _ in range(voices)]

    @staticmethod
    def _source(samples: Int16Array) -> tuple[list[bytes], list[Int16Array]]:
        payloads = encode_all(frames_of(samples))
        decoder = OpusDecoder()
        return payloads, [FakePort._fit(decoder.decode(p)) for p in payloads]


def build_engine(
    conferences: int, participants: int, talkers: int, mode: str, sources: _Sources
) -> tuple[MediaEngine, list[FakePort]]:
    engine = MediaEngine(PromptLibrary({}), max_speakers=8)
    ports: list[FakePort] = []

    async def setup() -> None:
        for c in range(conferences):
            conf_id = f"conf-{c}"
            await engine.request(m.OpenConference(conf_id, "en"))
            await engine.request(m.SetMixing(conf_id, True))
            for p in range(participants):
                kind = sources.speech if p < talkers else sources.quiet
                payloads, pcm = kind[(c + p) % len(kind)]
                port = FakePort(mode, payloads, pcm, offset=7 * p + c)
                engine.add_leg(conf_id, f"leg-{c}-{p}", port)
                ports.append(port)

    asyncio.run(setup())
    return engine, ports


def run(
    baseline: Baseline,
    layouts: tuple[tuple[int, int], ...],
    talkers: int,
    repetitions: int,
    seconds_per_run: float,
    profile_to: Path | None = None,
) -> tuple[list[EngineCase], str]:
    sources = _Sources(np.random.default_rng(11))
    cases = []
    profile_text = ""
    for conferences, participants in layouts:
        for mode in MODES:
            engine, ports = build_engine(conferences, participants, talkers, mode, sources)
            calls = calls_for(engine.tick, seconds_per_run, minimum=10)
            stat = repeat_cpu(engine.tick, calls, repetitions, warmup=60)  # encoders warm up
            contributors = sum(1 for leg in engine._legs.values() if leg.talking)
            streams = min(talkers, 8) * conferences + conferences
            assert all(p.written > 0 for p in ports), "every leg must be sent a frame each tick"
            assert contributors == min(talkers, 8) * conferences, contributors
            cases.append(EngineCase(conferences, participants, talkers, mode, stat, streams))
            if profile_to and mode == "playout" and conferences == 1 and participants >= 100:
                profile_text = _profile(engine, calls, profile_to)
    return cases, profile_text


def _profile(engine: MediaEngine, calls: int, path: Path) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    for n in range(calls):
        engine.tick(n)
    profiler.disable()
    path.parent.mkdir(parents=True, exist_ok=True)
    profiler.dump_stats(str(path))
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(14)
    return out.getvalue()


def rows(cases: list[EngineCase], baseline: Baseline) -> list[list[object]]:
    return [
        [
            c.label,
            c.talkers,
            c.mode,
            c.per_tick.median,
            f"±{100 * c.per_tick.spread():.0f}%",
            c.streams,
            c.per_leg(),
            f"{c.per_leg() / baseline.us:.2f}x",
            f"{100 * c.per_tick.median / 20000:.1f}%",
        ]
        for c in cases
    ]


HEADERS = [
    "legs",
    "talkers",
    "input",
    "µs/tick",
    "spread",
    "encodes",
    "µs/leg/tick",
    "÷ 1 encode",
    "of 20 ms",
]


@dataclass(slots=True)
class ToneCase:
    """What one join costs the engine: the entry tone laid over what everybody else hears."""

    participants: int
    talkers: int
    ticks: int  # ticks the tone lasts
    quiet_tick: Stat  # µs per tick without a tone
    tone_tick: Stat  # µs per tick while the tone plays
    encodes_per_tick: float  # during the tone

    def extra_ms(self) -> float:
        return (self.tone_tick.median - self.quiet_tick.median) * self.ticks / 1000

    def as_dict(self, baseline: Baseline) -> dict[str, Any]:
        return {
            "participants": self.participants,
            "talkers": self.talkers,
            "tone_ticks": self.ticks,
            "us_per_tick_quiet": self.quiet_tick.as_dict(),
            "us_per_tick_during_tone": self.tone_tick.as_dict(),
            "encodes_per_tick_during_tone": self.encodes_per_tick,
            "extra_ms_per_join": self.extra_ms(),
            "extra_ratio_to_opus_encode": self.extra_ms() * 1000 / baseline.us,
        }


class _CountingPort(FakePort):
    encodes = 0

    def new_encoder(self) -> Encoder:
        inner = OpusEncoder()

        class Counted:
            name = inner.name

            def encode(self, pcm: Int16Array) -> bytes:
                _CountingPort.encodes += 1
                return inner.encode(pcm)

        return Counted()


def run_tones(sizes: tuple[int, ...], talkers: int, repetitions: int) -> list[ToneCase]:
    """The engine's cost of the entry tone a join plays to everybody else (pcm input)."""
    sources = _Sources(np.random.default_rng(13))
    cases = []
    for n in sizes:
        engine = MediaEngine(PromptLibrary({}), max_speakers=8)

        async def setup(engine: MediaEngine = engine, n: int = n) -> None:
            await engine.request(m.OpenConference("c", "en"))
            await engine.request(m.SetMixing("c", True))
            for p in range(n):
                kind = sources.speech if p < talkers else sources.quiet
                payloads, pcm = kind[p % len(kind)]
                engine.add_leg("c", f"leg-{p}", _CountingPort("pcm", payloads, pcm, offset=7 * p))

        asyncio.run(setup())
        tick = 0

        def start_tone(engine: MediaEngine = engine) -> None:
            command = m.PlayPrompts("c", ("entry_tone",), except_leg_id="leg-0")
            asyncio.run(engine.request(command))

        def play_tone(engine: MediaEngine = engine) -> int:
            """Tick until the tone is over; returns how many ticks it took."""
            nonlocal tick
            ticks = 0
            # Room-wide tones sit on the conference; per-leg prompts on the legs.
            while any(c.overlays for c in engine._conferences.values()) or any(
                leg.prompts for leg in engine._legs.values()
            ):
                engine.tick(tick)
                tick += 1
                ticks += 1
            return ticks

        for _ in range(60):  # warm the shared and talkers' encoders up
            engine.tick(tick)
            tick += 1
        for _ in range(3):  # and every leg's own encoder, made by its first tone
            start_tone()
            play_tone()
        quiet_runs, tone_runs, encodes = [], [], []
        ticks = 0
        for _ in range(repetitions):
            begin = cpu_ns()
            for _ in range(25):
                engine.tick(tick)
                tick += 1
            quiet_runs.append((cpu_ns() - begin) / 1000 / 25)
            start_tone()
            before = _CountingPort.encodes
            begin = cpu_ns()
            ticks = play_tone()
            tone_runs.append((cpu_ns() - begin) / 1000 / ticks)
            encodes.append((_CountingPort.encodes - before) / ticks)
        cases.append(
            ToneCase(n, talkers, ticks, Stat.of(quiet_runs), Stat.of(tone_runs), max(encodes))
        )
    return cases


def tone_rows(cases: list[ToneCase], baseline: Baseline) -> list[list[object]]:
    return [
        [
            c.participants,
            c.ticks,
            c.quiet_tick.median,
            c.tone_tick.median,
            c.encodes_per_tick,
            c.extra_ms(),
            f"{c.extra_ms() * 1000 / baseline.us:.0f}x",
        ]
        for c in cases
    ]


TONE_HEADERS = [
    "legs",
    "tone ticks",
    "µs/tick quiet",
    "µs/tick in tone",
    "encodes/tick",
    "ms per join",
    "÷ 1 encode",
]
