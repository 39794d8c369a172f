"""baresip, a real softphone, headless: plays a WAV as its microphone, records what it hears."""

from __future__ import annotations

import asyncio
import json
import wave
from pathlib import Path

import numpy as np

from ..conftest import free_port
from .conftest import require

CONFIG = """poll_method\t\tepoll
net_interface\t\t127.0.0.1
sip_listen\t\t127.0.0.1:{sip_port}
call_local_timeout\t30
audio_player\t\taubridge,nowhere
audio_alert\t\taubridge,nowhere
audio_source\t\taufile,{tone}
ausrc_srate\t\t8000
ausrc_channels\t\t1
audio_buffer\t\t20-160
jitter_buffer_delay\t1-10
rtp_stats\t\tyes
module_path\t\t/usr/lib/baresip/modules
module\t\t\tg711.so
module\t\t\taufile.so
module\t\t\taubridge.so
module\t\t\tsndfile.so
module_app\t\taccount.so
module_app\t\tmenu.so
module_app\t\tctrl_tcp.so
snd_path\t\t{record_dir}
ctrl_tcp_listen\t\t127.0.0.1:{ctrl_port}
"""


class Baresip:
    def __init__(self, workdir: Path, tone_wav: Path) -> None:
        self.dir = workdir / "baresip"
        self.record_dir = workdir / "recordings"
        self.dir.mkdir()
        self.record_dir.mkdir()
        self.ctrl_port = free_port()
        (self.dir / "config").write_text(
            CONFIG.format(sip_port=free_port(), tone=tone_wav, record_dir=self.record_dir,
                          ctrl_port=self.ctrl_port)
        )
        (self.dir / "accounts").write_text(
            "<sip:caller@127.0.0.1>;regint=0;audio_codecs=PCMU/8000/1\n"
        )
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            require("baresip"), "-f", str(self.dir),
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        async with asyncio.timeout(10):
            while True:  # until its control port answers
                try:
                    _, writer = await asyncio.open_connection("127.0.0.1", self.ctrl_port)
                except OSError:
                    await asyncio.sleep(0.05)
                    continue
                writer.close()
                return

    async def command(self, command: str, params: str = "") -> dict[str, object]:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.ctrl_port)
        body = json.dumps({"command": command, "params": params, "token": "t"}).encode()
        writer.write(str(len(body)).encode() + b":" + body + b",")
        await writer.drain()
        buffer = b""
        try:
            async with asyncio.timeout(5):
                while True:
                    chunk = await reader.read(4096)
                    if not chunk:
                        raise ConnectionError("baresip closed the control connection")
                    buffer += chunk
                    while b":" in buffer:
                        size, rest = buffer.split(b":", 1)
                        if len(rest) < int(size) + 1:
                            break
                        message = json.loads(rest[: int(size)])
                        buffer = rest[int(size) + 1 :]
                        if message.get("response"):
                            return dict(message)
        finally:
            writer.close()

    async def stop(self) -> str:
        if self.process is None:
            return ""
        if self.process.returncode is None:
            try:
                await self.command("quit")
            except (OSError, ConnectionError, TimeoutError):
                pass
            try:
                async with asyncio.timeout(5):
                    await self.process.wait()
            except TimeoutError:
                self.process.kill()
        assert self.process.stdout is not None
        return (await self.process.stdout.read()).decode("utf-8", "replace")

    def heard(self) -> np.ndarray:
        """What baresip received and decoded (its -dec.wav recording), as int16 at its rate."""
        files = sorted(self.record_dir.glob("dump-*-dec.wav"))
        if not files:
            return np.zeros(0, dtype=np.int16)
        with wave.open(str(files[-1])) as w:
            self.rate = w.getframerate()
            data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
            return data[:: w.getnchannels()]
