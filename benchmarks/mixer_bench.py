"""(a) The numeric core per tick: levels, talk detection, choice of contributors, mix."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from server.media.mixer import (
    FRAME_SAMPLES,
    SAMPLE_RATE,
    BoolArray,
    Int16Array,
    choose_contributors,
    frame_levels,
    mix,
)
from server.media.talk import TalkDetector

from .common import Baseline, Stat, background_noise, calls_for, repeat_cpu, speech_like

MAX_SPEAKERS = 8


@dataclass(slots=True)
class MixerCase:
    participants: int
    scenario: str  # "talkers" or "all eligible"
    talkers: int
    contributors: int
    per_tick: Stat  # µs

    def as_dict(self, baseline: Baseline) -> dict[str, Any]:
        return {
            "participants": self.participants,
            "scenario": self.scenario,
            "talkers": self.talkers,
            "contributors": self.contributors,
            "us_per_tick": self.per_tick.as_dict(),
            "us_per_participant": self.per_tick.median / self.participants,
            "ratio_to_opus_encode": self.per_tick.median / baseline.us,
        }


def tick_matrices(
    participants: int, talkers: int, distinct: int, rng: np.random.Generator
) -> list[Int16Array]:
    """``distinct`` consecutive ticks of frames: ``talkers`` speak, the others are quiet rooms."""
    pool_seconds = 4.0
    speech = speech_like(pool_seconds, rng)
    quiet = background_noise(pool_seconds, rng)
    span = distinct * FRAME_SAMPLES
    limit = int(pool_seconds * SAMPLE_RATE) - span
    ticks = [np.empty((participants, FRAME_SAMPLES), dtype=np.int16) for _ in range(distinct)]
    for p in range(participants):
        source = speech if p < talkers else quiet
        start = int(rng.integers(0, limit))
        window = source[start : start + span].reshape(distinct, FRAME_SAMPLES)
        for k in range(distinct):
            ticks[k][p] = window[k]
    return ticks


def core_tick(frames: Int16Array, talk: TalkDetector, mixable: BoolArray, max_speakers: int) -> int:
    """What the engine does with the numbers each tick (one conference, all legs)."""
    levels = frame_levels(frames)
    talk.update(levels)
    eligible = mixable & talk.talking
    contributing = choose_contributors(eligible, levels, max_speakers)
    result = mix(frames, contributing)
    return int(result.contributors.size)


def run(
    baseline: Baseline,
    sizes: tuple[int, ...],
    talkers: int,
    repetitions: int,
    seconds_per_run: float,
    distinct: int = 16,
) -> list[MixerCase]:
    rng = np.random.default_rng(7)
    cases = []
    for n in sizes:
        for scenario, speaking in (("talkers", min(talkers, n)), ("all eligible", n)):
            ticks = tick_matrices(n, speaking, distinct, rng)
            talk = TalkDetector(n)
            mixable = np.ones(n, dtype=np.bool_)
            contributors: list[int] = []

            def step(
                i: int,
                ticks: list[Int16Array] = ticks,
                talk: TalkDetector = talk,
                mixable: BoolArray = mixable,
                contributors: list[int] = contributors,
            ) -> None:
                contributors.append(core_tick(ticks[i % distinct], talk, mixable, MAX_SPEAKERS))

            calls = calls_for(step, seconds_per_run)
            stat = repeat_cpu(step, calls, repetitions, warmup=5)
            steady = contributors[len(contributors) // 2 :]
            cases.append(MixerCase(n, scenario, speaking, int(np.median(steady)), stat))
            del ticks
    return cases


def rows(cases: list[MixerCase], baseline: Baseline) -> list[list[object]]:
    return [
        [
            c.participants,
            c.scenario,
            c.talkers,
            c.contributors,
            c.per_tick.median,
            f"±{100 * c.per_tick.spread():.0f}%",
            c.per_tick.median / c.participants,
            f"{c.per_tick.median / baseline.us:.2f}x",
        ]
        for c in cases
    ]


HEADERS = [
    "legs",
    "scenario",
    "loud",
    "mixed",
    "µs/tick",
    "spread",
    "µs/leg",
    "÷ 1 encode",
]
