"""``telekonf serve`` with two read-only benchmark routes (``python -m benchmarks.serve``).

Used by ``python -m benchmarks --server instrumented``: the very same
application as ``python -m server.cli serve`` (same arguments), plus

- ``GET /_bench/stats``: the media clock's statistics and the number of legs,
  in the shape of ``GET /api/v1/stats``, plus garbage collections (count, time,
  longest, per generation) and event-loop stalls seen by a 5 ms sleeper;
- ``POST /_bench/profile/start`` and ``POST /_bench/profile/stop?path=FILE``:
  cProfile (in CPU time) of the server's event-loop thread (aiortc, engine, HTTP)
  between the two.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import logging
import sys
import threading
import time
import traceback
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from types import FrameType

from aiohttp import web

from server.app import ENGINE, create_app
from server.config import add_arguments, load_settings


class Watch:
    """Where the event loop's time goes missing: garbage collections and loop stalls.

    A 5 ms sleeper on the loop measures how late it wakes up (a stall) and how
    much CPU the loop's thread used meanwhile: a stall with the CPU busy is work
    held in the loop, one with the CPU idle is the process waiting for a core.
    During a stall a watchdog thread samples the loop thread's Python stack.
    """

    def __init__(self) -> None:
        self.gc: dict[int, dict[str, float]] = {
            g: {"count": 0, "seconds": 0.0, "max": 0.0} for g in range(3)
        }
        self.stalls: dict[str, float] = {
            "over_20ms": 0,
            "over_50ms": 0,
            "max": 0.0,
            "seconds": 0.0,
            "cpu_seconds": 0.0,
        }
        self.samples: Counter[str] = Counter()
        self._gc_began = 0.0
        self._heartbeat = time.monotonic()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        gc.callbacks.append(self._on_gc)
        self._task = asyncio.get_running_loop().create_task(self._probe())
        loop_thread = threading.get_ident()
        threading.Thread(target=self._watchdog, args=(loop_thread,), daemon=True).start()

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_began = time.perf_counter()
            return
        took = time.perf_counter() - self._gc_began
        entry = self.gc[info["generation"]]
        entry["count"] += 1
        entry["seconds"] += took
        entry["max"] = max(entry["max"], took)

    async def _probe(self, period: float = 0.005) -> None:
        while True:
            began = time.perf_counter()
            cpu = time.thread_time()
            self._heartbeat = time.monotonic()
            await asyncio.sleep(period)
            late = time.perf_counter() - began - period
            if late > 0.020:
                self.stalls["over_20ms"] += 1
                self.stalls["seconds"] += late
                self.stalls["cpu_seconds"] += time.thread_time() - cpu
            if late > 0.050:
                self.stalls["over_50ms"] += 1
            self.stalls["max"] = max(self.stalls["max"], late)

    def _watchdog(self, loop_thread: int) -> None:
        while True:
            time.sleep(0.005)
            if time.monotonic() - self._heartbeat > 0.030:
                frame = sys._current_frames().get(loop_thread)
                if frame is not None:
                    self.samples[_where(frame)] += 1

    def as_dict(self) -> dict[str, object]:
        return {
            "gc": {str(g): dict(v) for g, v in self.gc.items()},
            "stalls": dict(self.stalls),
            "stall_samples": dict(self.samples.most_common(12)),
        }


def _where(frame: FrameType, depth: int = 4) -> str:
    """The innermost frames of a stack, outside the standard library where possible."""
    stack = traceback.extract_stack(frame)
    names = [f"{Path(f.filename).name}:{f.lineno}:{f.name}" for f in stack]
    return " < ".join(reversed(names[-depth:]))


def add_bench_routes(app: web.Application) -> None:
    profiler: list[cProfile.Profile] = []
    watch = Watch()

    async def start_watch(app: web.Application) -> None:
        watch.start()

    app.on_startup.append(start_watch)

    async def stats(request: web.Request) -> web.Response:
        engine = request.app[ENGINE]
        return web.json_response(
            {"clock": asdict(engine.clock.stats), "legs": len(engine._legs)} | watch.as_dict()
        )

    async def profile_start(request: web.Request) -> web.Response:
        if not profiler:
            # CPU time of the loop's thread, so that waiting (and other processes) don't count
            profiler.append(cProfile.Profile(time.thread_time))
            profiler[0].enable()
        return web.json_response({"profiling": True})

    async def profile_stop(request: web.Request) -> web.Response:
        if not profiler:
            return web.json_response({"profiling": False}, status=409)
        active = profiler.pop()
        active.disable()
        active.dump_stats(request.query["path"])
        return web.json_response({"profiling": False, "path": request.query["path"]})

    app.router.add_get("/_bench/stats", stats)
    app.router.add_post("/_bench/profile/start", profile_start)
    app.router.add_post("/_bench/profile/stop", profile_stop)


def main() -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.serve")
    commands = parser.add_subparsers(dest="command", required=True)
    add_arguments(commands.add_parser("serve"))
    args = parser.parse_args()
    settings = load_settings(args)
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    app = create_app(settings)
    add_bench_routes(app)
    web.run_app(
        app,
        host=settings.http_host,
        port=settings.http_port,
        print=lambda *_: None,
        access_log=None,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
