"""``telekonf serve`` as a subprocess for the benchmarks that load it over the network."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import aiohttp

from .common import ROOT, process_cpu_seconds


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    """The service in its own process (``benchmarks.serve`` when ``kind`` is instrumented)."""

    def __init__(
        self,
        kind: str,
        log_dir: Path,
        *,
        prefix: str = "telekonf-bench-",
        args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._tmp = Path(tempfile.mkdtemp(prefix=prefix))
        module = "benchmarks.serve" if kind == "instrumented" else "server.cli"
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / "server.log"
        self._log = self.log_path.open("wb")
        #: cores the server uses with nobody connected (its media clock ticking)
        self.idle_core = 0.0
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", module, "serve",
                "--http-port", str(self.port),
                *args,
                "--data-dir", str(self._tmp / "data"),
                "--public-url", self.url,
                "--log-level", "WARNING",
            ],
            cwd=ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=dict(os.environ, PYTHONPATH=str(ROOT), **(env or {})),
        )

    async def ready(self, http: aiohttp.ClientSession, within: float = 30.0) -> None:
        deadline = time.monotonic() + within
        while True:
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with http.get(f"{self.url}/healthz") as response:
                    if response.status == 200:
                        return
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start (see {self.log_path})")
            await asyncio.sleep(0.1)

    def cpu(self) -> tuple[float, float]:
        return process_cpu_seconds(self.process.pid)

    async def measure_idle(self, seconds: float = 1.5) -> None:
        begin = sum(self.cpu())
        await asyncio.sleep(seconds)
        self.idle_core = (sum(self.cpu()) - begin) / seconds

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log.close()
        shutil.rmtree(self._tmp, ignore_errors=True)
