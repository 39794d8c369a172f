"""Shared fixtures: the service in process, the service as a subprocess, tone files."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from server.app import create_app
from server.config import Settings

from .support.audio import sine, write_wav
from .support.smtp import SmtpServer

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class InProcess:
    url: str
    http: aiohttp.ClientSession
    app: Any

    async def create_conference(self, **extra: Any) -> dict[str, Any]:
        body = {"title": "Weekly sync", "organizer": {"name": "Olga", "email": "olga@example.org"}}
        body.update(extra)
        async with self.http.post(f"{self.url}/api/v1/conferences", json=body) as response:
            assert response.status == 201, await response.text()
            return dict(await response.json())

    def auth(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    async def get_conference(self, conference: dict[str, Any]) -> dict[str, Any]:
        async with self.http.get(
            f"{self.url}/api/v1/conferences/{conference['id']}",
            headers=self.auth(conference["organizer_token"]),
        ) as response:
            assert response.status == 200, await response.text()
            return dict(await response.json())


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", ice_addresses=("127.0.0.1",), sip_port=0)


@pytest.fixture
async def service(aiohttp_server: Any, settings: Settings) -> AsyncIterator[InProcess]:
    """The whole service (HTTP, Socket.IO, media engine) on a loopback port."""
    server = await aiohttp_server(create_app(settings))
    async with aiohttp.ClientSession() as http:
        yield InProcess(str(server.make_url("")).rstrip("/"), http, server.app)


@dataclass
class LiveServer:
    url: str
    process: subprocess.Popen[bytes]
    data_dir: Path


def start_server(
    data_dir: Path, port: int | None = None, extra_args: tuple[str, ...] = ()
) -> LiveServer:
    """``telekonf serve`` as a subprocess, ready when ``/healthz`` answers."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    # No TELEKONF_* of the caller's shell (a real SMS provider, say) leaks into a test.
    env = {k: v for k, v in os.environ.items() if not k.startswith("TELEKONF_")}
    env.update(TELEKONF_ICE_ADDRESSES="127.0.0.1", TELEKONF_LOG_LEVEL="INFO")
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    log_path = data_dir.parent / f"server-{port}.log"
    with open(log_path, "ab") as log:  # the child keeps its own descriptor
        process = subprocess.Popen(
            [sys.executable, "-m", "server.cli", "serve", "--http-port", str(port),
             "--sip-port", "0", "--data-dir", str(data_dir), "--public-url", url, *extra_args],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            tail = log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"the server did not start (see {log_path}):\n{tail}")
        time.sleep(0.1)
    return LiveServer(url, process, data_dir)


def stop_server(server: LiveServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    """``telekonf serve`` as a real subprocess, ICE on 127.0.0.1."""
    server = start_server(tmp_path / "data")
    yield server
    stop_server(server)


@pytest.fixture
def tone_wav(tmp_path: Path) -> Callable[[float], Path]:
    def make(freq: float, seconds: float = 30.0) -> Path:
        return write_wav(tmp_path / f"tone-{int(freq)}.wav", sine(freq, seconds, 0.5))

    return make


@pytest.fixture(scope="session")
def artifacts() -> Path:
    (ARTIFACTS / "screenshots").mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A real SMTP server (aiosmtpd) on loopback, keeping what it receives."""
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def smtp_down() -> Iterator[SmtpServer]:
    """A port where an SMTP server will listen later (nothing listens yet)."""
    server = SmtpServer(free_port())
    yield server
    server.stop()


@pytest.fixture
def mail_server(tmp_path: Path, smtp: SmtpServer) -> Iterator[LiveServer]:
    """``telekonf serve`` sending mail to the ``smtp`` server; SMS to the development sink."""
    server = start_server(
        tmp_path / "data",
        extra_args=("--smtp-url", smtp.url, "--mail-from", "Telekonf <noreply@example.org>"),
    )
    yield server
    stop_server(server)
