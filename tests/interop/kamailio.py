"""Kamailio as the carrier's SIP trunk: a stateless proxy on loopback."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

from .conftest import require

CONFIG = """#!KAMAILIO
debug=2
log_stderror=yes
children=2
disable_tcp=yes
auto_aliases=no
listen=udp:127.0.0.1:{port}
mpath="/usr/lib/x86_64-linux-gnu/kamailio/modules/"
loadmodule "sl.so"
loadmodule "maxfwd.so"
loadmodule "rr.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "textops.so"
loadmodule "pv.so"

request_route {{
    xlog("L_INFO", "fwd $rm $ru from $si:$sp\\n");
    if (!mf_process_maxfwd_header("10")) {{
        sl_send_reply("483", "Too Many Hops");
        exit;
    }}
    if (has_totag() && loose_route()) {{
        forward();
        exit;
    }}
    if (is_method("INVITE")) record_route();
    $du = "sip:127.0.0.1:{target}";
    forward();
}}
"""


class Kamailio:
    """Forwards every new request to ``target`` (the callee), in-dialog ones by Route."""

    def __init__(self, workdir: Path, target_port: int, port: int | None = None) -> None:
        if port is None:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.bind(("127.0.0.1", 0))
                port = int(s.getsockname()[1])
        self.port = port
        self.log: list[str] = []
        self._reader: asyncio.Task[None] | None = None
        self.dir = workdir / "kamailio"
        self.dir.mkdir()
        self.config = self.dir / "trunk.cfg"
        self.config.write_text(CONFIG.format(port=self.port, target=target_port))
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            require("kamailio"), "-DD", "-E", "-f", str(self.config), "-Y", str(self.dir),
            "-m", "64", "-M", "8",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            stdin=asyncio.subprocess.DEVNULL,
        )
        assert self.process.stdout is not None
        ready = asyncio.Event()

        async def read(stream: asyncio.StreamReader) -> None:
            # Keep draining its log, or kamailio blocks once the pipe is full.
            while line := await stream.readline():
                self.log.append(line.decode("utf-8", "replace").rstrip())
                if b"child_init" in line:  # a worker is up: the socket is bound
                    ready.set()
            ready.set()

        self._reader = asyncio.ensure_future(read(self.process.stdout))
        async with asyncio.timeout(10):
            await ready.wait()
        if self.process.returncode is not None:
            raise RuntimeError("kamailio exited at start:\n" + "\n".join(self.log[-20:]))

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            try:
                async with asyncio.timeout(5):
                    await self.process.wait()
            except TimeoutError:
                self.process.kill()
        if self._reader is not None:
            self._reader.cancel()
