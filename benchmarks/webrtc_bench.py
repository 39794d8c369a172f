"""(c) Real WebRTC participants against one server process, until it cannot keep up.

The service runs as a subprocess (``python -m server.cli serve``, ICE on
127.0.0.1); load-generator subprocesses (``benchmarks.loadgen``) join N
participants over WHIP, 2-3 of them talking, and N grows step by step. Each
step is held for a while and measured:

- the server's CPU (utime + stime from /proc/<pid>/stat) per participant per tick;
- tick overruns from the server's ``GET /api/v1/stats`` when it exists (or
  ``/_bench/stats`` of the instrumented server), and always an estimate from the
  clients' side: a tick whose packets reached every client more than one period
  later than that client's best case is counted as an overrun.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import pstats
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np

from .common import (
    ARTIFACTS,
    REFERENCE_US_PER_PARTICIPANT,
    ROOT,
    TICK_US,
    Baseline,
    machine_busy_jiffies,
    process_cpu_seconds,
)
from .loadgen import PERIOD, per_tick
from .server_process import ServerProcess


@dataclass
class Options:
    sizes: tuple[int, ...] = (10, 20, 40, 60, 80, 100, 120, 140, 160)
    hold: float = 10.0
    settle: float = 2.5
    loadgens: int = 2
    talkers: int = 3
    server: str = "cli"  # "cli" (python -m server.cli serve) or "instrumented"
    profile_at: int | None = None
    fail_overruns: float = 0.05
    budget: float = 270.0  # seconds for the whole part
    concurrency: int = 4
    log_dir: Path = ARTIFACTS / "bench-logs"


@dataclass
class Step:
    participants: int
    join_seconds: float
    join_failures: int
    hold_seconds: float
    ticks: float
    server_cpu_seconds: float
    server_system_share: float  # of the server's CPU, the part spent in the kernel
    server_core_percent: float
    server_us_per_tick: float
    server_us_per_participant: float
    ratio_to_opus_encode: float
    loadgen_core_percent: float
    loadgen_us_per_participant: float
    machine_busy_percent: float
    other_cores: float  # CPU used by everything else on the machine (other jobs)
    client_overrun_ratio: float
    client_lateness_p99_ms: float
    client_missing_ticks: int
    packet_loss: float
    connected: int
    server_overrun_ratio: float | None = None
    server_skipped: int | None = None
    server_tick_busy_us: float | None = None
    server_legs: int | None = None
    #: server CPU per join (HTTP join + WHIP offer/answer + ICE + DTLS), approximate
    server_ms_per_join: float = 0.0
    #: overruns while the participants of this step were joining
    join_overrun_ratio: float | None = None
    #: instrumented server only: garbage collections and loop stalls during the hold
    server_watch: dict[str, Any] | None = None
    verdict: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def overrun_ratio(self) -> float:
        if self.server_overrun_ratio is not None:
            return self.server_overrun_ratio
        return self.client_overrun_ratio


def start_server(kind: str, log_dir: Path) -> ServerProcess:
    """``telekonf serve`` as a subprocess, ICE on loopback (like tests/conftest.py)."""
    return ServerProcess(kind, log_dir, args=("--ice-addresses", "127.0.0.1"))


class LoadGen:
    """One load-generator subprocess, driven by JSON lines."""

    def __init__(self, process: asyncio.subprocess.Process, log: Any) -> None:
        self.process = process
        self._log = log
        self._lock = asyncio.Lock()

    @classmethod
    async def start(cls, url: str, conference: dict[str, Any], seed: int, log_dir: Path) -> LoadGen:
        log = (log_dir / f"loadgen-{seed}.log").open("wb")
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "benchmarks.loadgen",
            "--url",
            url,
            "--pin",
            str(conference["pin"]),
            "--moderator-pin",
            str(conference["moderator_pin"]),
            "--seed",
            str(seed),
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=log,
            env=dict(os.environ, PYTHONPATH=str(ROOT)),
            limit=64 * 1024 * 1024,
        )
        generator = cls(process, log)
        hello = await generator._read(within=60)
        if not hello.get("ready"):
            raise RuntimeError(f"load generator did not start: {hello}")
        return generator

    async def _read(self, within: float) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), within)
        if not line:
            raise RuntimeError("the load generator exited (see artifacts/bench-logs)")
        return dict(json.loads(line))

    async def call(self, body: dict[str, Any], within: float = 120.0) -> dict[str, Any]:
        async with self._lock:
            assert self.process.stdin is not None
            self.process.stdin.write((json.dumps(body) + "\n").encode())
            await self.process.stdin.drain()
            return await self._read(within)

    def cpu(self) -> float:
        return sum(process_cpu_seconds(self.process.pid))

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            await self.call({"op": "quit"}, within=20)
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        await self.process.wait()
        self._log.close()


async def _stats(http: aiohttp.ClientSession, url: str | None) -> dict[str, Any] | None:
    if url is None:
        return None
    try:
        async with http.get(url) as response:
            if response.status != 200:
                return None
            body = await response.json()
    except (aiohttp.ClientError, ValueError):
        return None
    return body if isinstance(body, dict) and isinstance(body.get("clock"), dict) else None


async def run(baseline: Baseline, options: Options, say: Any = print) -> dict[str, Any]:
    """Run the ramp; returns everything measured (steps, summary, notes)."""
    began = time.monotonic()
    options.log_dir.mkdir(parents=True, exist_ok=True)
    server = start_server(options.server, options.log_dir)
    generators: list[LoadGen] = []
    steps: list[Step] = []
    notes: list[str] = []
    profile_text = ""
    stats_source = "none"
    try:
        async with aiohttp.ClientSession() as http:
            await server.ready(http)
            body = {"title": "Load", "organizer": {"name": "Bench", "email": "bench@example.org"}}
            async with http.post(f"{server.url}/api/v1/conferences", json=body) as response:
                if response.status != 201:
                    raise RuntimeError(f"cannot create a conference: {await response.text()}")
                conference = await response.json()
            stats_url: str | None = f"{server.url}/api/v1/stats"
            if options.server == "instrumented":
                stats_url = f"{server.url}/_bench/stats"
                stats_source = "GET /_bench/stats (instrumented server)"
            elif await _stats(http, stats_url) is not None:
                stats_source = "GET /api/v1/stats"
            else:
                stats_url = None
                notes.append(
                    "GET /api/v1/stats is not available: overruns are estimated from the "
                    "clients' arrival times (ticks reaching every client > 20 ms late)"
                )
            generators = list(
                await asyncio.gather(
                    *(
                        LoadGen.start(server.url, conference, i, options.log_dir)
                        for i in range(options.loadgens)
                    )
                )
            )
            current = 0
            per_join = 0.1
            for n in options.sizes:
                elapsed = time.monotonic() - began
                estimate = (n - current) * per_join + options.settle + options.hold + 2
                if steps and elapsed + estimate > options.budget:
                    notes.append(f"stopped before N={n}: time budget of {options.budget:.0f} s")
                    break
                join_stats = await _stats(http, stats_url)
                join_began = time.monotonic()
                join_cpu = sum(server.cpu())
                failures = await _join(generators, current, n, options)
                join_seconds = time.monotonic() - join_began
                join_cpu = sum(server.cpu()) - join_cpu
                joined_stats = await _stats(http, stats_url)
                joins = max(1, n - current)
                per_join = max(0.02, join_seconds / joins)
                current = n
                await asyncio.sleep(options.settle)
                step, text = await _hold(
                    http, server, generators, stats_url, n, options, baseline, failures
                )
                step.join_seconds = join_seconds
                # The joins' own CPU: what the server used meanwhile beyond carrying the
                # media (taken as the mean of the rates before and after the joins).
                before = steps[-1].server_core_percent / 100 if steps else 0.0
                carrying = join_seconds * (before + step.server_core_percent / 100) / 2
                step.server_ms_per_join = max(0.0, join_cpu - carrying) / joins * 1000
                if join_stats is not None and joined_stats is not None:
                    c0, c1 = join_stats["clock"], joined_stats["clock"]
                    ran = c1["ticks"] - c0["ticks"]
                    step.join_overrun_ratio = (c1["overruns"] - c0["overruns"]) / max(1, ran)
                profile_text = profile_text or text
                steps.append(step)
                say(format_step(step))
                if _should_stop(steps):
                    break
    finally:
        for generator in generators:
            await generator.stop()
        server.stop()
    summary = summarize(steps, baseline)
    return {
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(options).items()},
        "stats_source": stats_source,
        "steps": [asdict(s) | {"overrun_ratio": s.overrun_ratio} for s in steps],
        "summary": summary,
        "notes": notes,
        "profile": profile_text,
        "seconds": time.monotonic() - began,
    }


async def _join(generators: list[LoadGen], current: int, target: int, options: Options) -> int:
    """Add participants ``current .. target-1``; the organiser (index 0) first."""
    specs: list[list[list[Any]]] = [[] for _ in generators]
    for index in range(current, target):
        specs[index % len(generators)].append([index, index < options.talkers, index == 0])
    failures = 0
    if current == 0 and target > 0:
        first = specs[0].pop(0)
        answer = await generators[0].call({"op": "join", "legs": [first]})
        failures += int(answer["failed"])
    answers = await asyncio.gather(
        *(
            g.call({"op": "join", "legs": s, "concurrency": options.concurrency})
            for g, s in zip(generators, specs, strict=True)
            if s
        )
    )
    return failures + sum(int(a["failed"]) for a in answers)


async def _hold(
    http: aiohttp.ClientSession,
    server: ServerProcess,
    generators: list[LoadGen],
    stats_url: str | None,
    n: int,
    options: Options,
    baseline: Baseline,
    failures: int,
) -> tuple[Step, str]:
    await asyncio.gather(*(g.call({"op": "mark"}) for g in generators))
    profiling = options.profile_at == n and options.server == "instrumented"
    if profiling:
        async with http.post(f"{server.url}/_bench/profile/start"):
            pass
    stats0 = await _stats(http, stats_url)
    wall0 = time.monotonic()
    user0, system0 = server.cpu()
    gen0 = sum(g.cpu() for g in generators)
    own0 = sum(process_cpu_seconds(os.getpid()))
    busy0, total0 = machine_busy_jiffies()
    await asyncio.sleep(options.hold)
    busy1, total1 = machine_busy_jiffies()
    user1, system1 = server.cpu()
    gen1 = sum(g.cpu() for g in generators)
    own1 = sum(process_cpu_seconds(os.getpid()))
    wall = time.monotonic() - wall0
    stats1 = await _stats(http, stats_url)
    profile_text = ""
    if profiling:
        path = ARTIFACTS / f"server-profile-{n}.prof"
        async with http.post(f"{server.url}/_bench/profile/stop", params={"path": str(path)}):
            pass
        profile_text = _profile_summary(path)
        (ARTIFACTS / f"server-profile-{n}.txt").write_text(profile_text)
    reports = await asyncio.gather(*(g.call({"op": "report"}) for g in generators))

    ticks = wall / PERIOD
    server_overruns: float | None = None
    skipped: int | None = None
    tick_busy: float | None = None
    legs: int | None = None
    watch: dict[str, Any] | None = None
    if stats0 is not None and stats1 is not None:
        c0, c1 = stats0["clock"], stats1["clock"]
        ticks = max(1.0, float(c1["ticks"] - c0["ticks"]))
        server_overruns = (c1["overruns"] - c0["overruns"]) / ticks
        skipped = int(c1["skipped"] - c0["skipped"])
        tick_busy = (c1["busy_seconds"] - c0["busy_seconds"]) / ticks * 1e6
        legs = int(stats1.get("legs", -1))
        if "gc" in stats1 and "gc" in stats0:
            watch = {
                "gc": {
                    g: {
                        "count": v["count"] - stats0["gc"][g]["count"],
                        "seconds": v["seconds"] - stats0["gc"][g]["seconds"],
                        "max_since_start": v["max"],
                    }
                    for g, v in stats1["gc"].items()
                },
                "stalls_over_20ms": stats1["stalls"]["over_20ms"] - stats0["stalls"]["over_20ms"],
                "stalls_over_50ms": stats1["stalls"]["over_50ms"] - stats0["stalls"]["over_50ms"],
                "max_stall_since_start": stats1["stalls"]["max"],
                "stall_seconds": stats1["stalls"]["seconds"] - stats0["stalls"]["seconds"],
                "stall_cpu_seconds": (
                    stats1["stalls"]["cpu_seconds"] - stats0["stalls"]["cpu_seconds"]
                ),
                "stall_samples": {
                    k: v - stats0.get("stall_samples", {}).get(k, 0)
                    for k, v in stats1.get("stall_samples", {}).items()
                },
            }
    due = [np.asarray(r["tick_due"], dtype=np.float64) for r in reports]
    late = [np.asarray(r["tick_lateness"], dtype=np.float64) for r in reports]
    tick_due, tick_late = per_tick(due, late)
    if tick_late.size:
        client_overruns = float((tick_late > PERIOD).mean())
        p99 = float(np.percentile(tick_late, 99)) * 1000
        span = round((tick_due[-1] - tick_due[0]) / PERIOD) + 1
        missing = max(0, span - int(tick_late.size))
    else:
        client_overruns, p99, missing = 1.0, float("nan"), 0
    received = sum(int(r["received"]) for r in reports)
    expected = sum(int(r["expected"]) for r in reports)
    cpu = (user1 - user0) + (system1 - system0)
    machine_cores = (busy1 - busy0) / max(1, total1 - total0) * (os.cpu_count() or 1)
    others = machine_cores - (cpu + (gen1 - gen0) + (own1 - own0)) / wall
    # CPU per 20 ms of real time (not per tick run: skipped ticks still cost their packets)
    us_per_tick = cpu / (wall / PERIOD) * 1e6
    per_participant = us_per_tick / n
    step = Step(
        participants=n,
        join_seconds=0.0,
        join_failures=failures,
        hold_seconds=wall,
        ticks=ticks,
        server_cpu_seconds=cpu,
        server_system_share=(system1 - system0) / cpu if cpu else 0.0,
        server_core_percent=100 * cpu / wall,
        server_us_per_tick=us_per_tick,
        server_us_per_participant=per_participant,
        ratio_to_opus_encode=per_participant / baseline.us,
        loadgen_core_percent=100 * (gen1 - gen0) / wall,
        loadgen_us_per_participant=(gen1 - gen0) / (wall / PERIOD) * 1e6 / n,
        machine_busy_percent=100 * (busy1 - busy0) / max(1, total1 - total0),
        other_cores=max(0.0, others),
        client_overrun_ratio=client_overruns,
        client_lateness_p99_ms=p99,
        client_missing_ticks=missing,
        packet_loss=1 - received / expected if expected else 1.0,
        connected=sum(int(r["connected"]) for r in reports),
        server_overrun_ratio=server_overruns,
        server_skipped=skipped,
        server_tick_busy_us=tick_busy,
        server_legs=legs,
        server_watch=watch,
    )
    step.verdict = _verdict(step, options)
    return step, profile_text


#: cores used by other jobs above which a step's overruns may not be the server's doing
OTHER_LOAD = 0.3


def _verdict(step: Step, options: Options) -> str:
    if step.join_failures:
        step.notes.append(f"{step.join_failures} joins failed")
    if step.connected < step.participants:
        step.notes.append(f"only {step.connected} of {step.participants} connected")
    if step.server_skipped:
        step.notes.append(f"{step.server_skipped} ticks skipped")
    if step.other_cores > OTHER_LOAD:
        step.notes.append(f"other jobs used {step.other_cores:.1f} cores")
    if step.machine_busy_percent > 95:
        step.notes.append("machine saturated")
    if step.server_core_percent > 90:
        step.notes.append("server saturated")
    if (
        step.join_failures
        or step.connected < step.participants
        or step.overrun_ratio >= options.fail_overruns
        or step.packet_loss >= 0.05
    ):
        return "fails"
    if step.overrun_ratio >= 0.01:
        return "overruns"
    return "real time"


def _should_stop(steps: list[Step]) -> bool:
    """After a failing step, unless other jobs may have caused it (then one more try)."""
    last = steps[-1]
    if last.verdict != "fails":
        return last.server_core_percent > 95
    if last.join_failures or last.connected < last.participants:
        return True
    disturbed = last.other_cores > OTHER_LOAD
    return not disturbed or (len(steps) > 1 and steps[-2].verdict == "fails")


def summarize(steps: list[Step], baseline: Baseline) -> dict[str, Any]:
    good = [s for s in steps if s.verdict == "real time"]
    sustained = 0  # every step up to this N in real time, with a core to spare (< 95 %)
    for s in steps:
        if s.verdict != "real time" or s.server_core_percent >= 95:
            break
        sustained = s.participants
    summary: dict[str, Any] = {
        "sustained_real_time_participants": sustained,
        "max_real_time_participants": max((s.participants for s in good), default=0),
        "first_failing_participants": next(
            (s.participants for s in steps if s.verdict == "fails"), None
        ),
        "reference_us_per_participant": REFERENCE_US_PER_PARTICIPANT,
        "reference_participants_per_core": TICK_US / REFERENCE_US_PER_PARTICIPANT,
    }
    # The cost curve: every step where all joined and the server was not saturated
    # (overruns caused by other jobs do not change what the server's work costs).
    fit = [
        s
        for s in steps
        if s.connected >= s.participants and not s.join_failures and s.server_core_percent < 90
    ]
    if len(fit) >= 2:
        x = np.array([s.participants for s in fit], dtype=np.float64)
        y = np.array([s.server_us_per_tick for s in fit], dtype=np.float64)
        slope, intercept = np.polyfit(x, y, 1)
        summary["marginal_us_per_participant"] = float(slope)
        summary["fixed_us_per_tick"] = float(intercept)
        summary["marginal_ratio_to_opus_encode"] = float(slope) / baseline.us
        summary["participants_per_core_marginal"] = (
            float((TICK_US - intercept) / slope) if slope > 0 else None
        )
        summary["speedup_vs_reference"] = REFERENCE_US_PER_PARTICIPANT / float(slope)
    if fit:
        summary["loadgen_us_per_participant"] = float(
            np.median([s.loadgen_us_per_participant for s in fit])
        )
        summary["server_ms_per_join"] = {str(s.participants): s.server_ms_per_join for s in fit}
    if sustained:
        best = next(s for s in steps if s.participants == sustained)
        summary["us_per_participant_at_max"] = best.server_us_per_participant
        summary["ratio_to_opus_encode_at_max"] = best.ratio_to_opus_encode
        summary["participants_per_core_at_max"] = TICK_US / best.server_us_per_participant
    return summary


def _profile_summary(path: Path, lines: int = 30) -> str:
    out = io.StringIO()
    stats = pstats.Stats(str(path), stream=out)
    stats.sort_stats("tottime").print_stats(lines)
    stats.sort_stats("cumulative").print_stats(lines)
    return out.getvalue()


HEADERS = [
    "N",
    "join s",
    "join overruns",
    "server",
    "kernel",
    "µs/tick",
    "µs/leg/tick",
    "÷ 1 encode",
    "overruns",
    "client est.",
    "p99 late",
    "loss",
    "loadgens",
    "others",
    "verdict",
]


def step_row(s: Step) -> list[object]:
    server = "-" if s.server_overrun_ratio is None else f"{100 * s.server_overrun_ratio:.2f}%"
    return [
        s.participants,
        f"{s.join_seconds:.1f}",
        "-" if s.join_overrun_ratio is None else f"{100 * s.join_overrun_ratio:.1f}%",
        f"{s.server_core_percent / 100:.2f} core",
        f"{100 * s.server_system_share:.0f}%",
        s.server_us_per_tick,
        s.server_us_per_participant,
        f"{s.ratio_to_opus_encode:.2f}x",
        server,
        f"{100 * s.client_overrun_ratio:.2f}%",
        f"{s.client_lateness_p99_ms:.0f} ms",
        f"{100 * s.packet_loss:.2f}%",
        f"{s.loadgen_core_percent / 100:.2f} core",
        f"{s.other_cores:.2f} core",
        s.verdict + ("" if not s.notes else " (" + "; ".join(s.notes) + ")"),
    ]


def format_step(s: Step) -> str:
    text = "  " + ", ".join(
        f"{h}={v:.1f}" if isinstance(v, float) else f"{h}={v}"
        for h, v in zip(HEADERS, step_row(s), strict=True)
    )
    if s.server_watch:
        w = s.server_watch
        collections = ", ".join(
            f"gen{g} {v['count']}x {1000 * v['seconds']:.0f} ms" for g, v in w["gc"].items()
        )
        busy = w["stall_cpu_seconds"] / w["stall_seconds"] if w["stall_seconds"] else 0.0
        text += (
            f"\n    server loop stalls >20 ms: {w['stalls_over_20ms']}, >50 ms: "
            f"{w['stalls_over_50ms']} (loop thread on CPU {100 * busy:.0f}% of the stalled "
            f"time); gc: {collections}"
        )
    return text
