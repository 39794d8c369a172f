"""Real SIP peers on loopback: SIPp, baresip, Kamailio."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from server.app import GATEWAY

from ..conftest import InProcess

SCENARIOS = Path(__file__).parent / "scenarios"
GEOGRAPHIC = "+442079460001"


def sip_port(service: InProcess) -> int:
    return service.app[GATEWAY].contact_port


def require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} is not installed (make test installs it)")
    return path


async def run(*argv: str, cwd: Path, limit: float) -> tuple[int, str]:
    """Run a peer to completion (killed after ``limit`` seconds); exit code and output."""
    process = await asyncio.create_subprocess_exec(
        *argv, cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        stdin=asyncio.subprocess.DEVNULL,
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), limit)
    except TimeoutError:
        process.kill()
        output, _ = await process.communicate()
    return process.returncode or 0, output.decode("utf-8", "replace")
