"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives."""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import threading
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


class Mailbox:
    """Received messages, parsed; waiters are woken from the SMTP server's thread."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.lock = threading.Lock()
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append(message)  # type: ignore[arg-type]
            waiters = list(self._waiters)
        for loop, event in waiters:
            loop.call_soon_threadsafe(event.set)
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for m in self.messages if address in str(m["To"])]

    async def wait_for(
        self, predicate: Callable[[list[EmailMessage]], bool], within: float = 10.0
    ) -> list[EmailMessage]:
        """Until the messages received so far satisfy ``predicate``; returns them."""
        event = asyncio.Event()
        entry = (asyncio.get_running_loop(), event)
        with self.lock:
            self._waiters.append(entry)
        try:
            async with asyncio.timeout(within):
                while True:
                    event.clear()
                    with self.lock:
                        current = list(self.messages)
                    if predicate(current):
                        return current
                    await event.wait()
        except TimeoutError:
            raise AssertionError(
                f"the expected mail did not arrive within {within} s;"
                f" got {[str(m['Subject']) for m in current]}"
            ) from None
        finally:
            with self.lock:
                self._waiters.remove(entry)

    async def wait_count(self, count: int, within: float = 10.0) -> list[EmailMessage]:
        return await self.wait_for(lambda ms: len(ms) >= count, within)

    async def wait_to(self, address: str, count: int = 1, within: float = 10.0) -> list[
        EmailMessage
    ]:
        await self.wait_for(lambda ms: len([m for m in ms if address in str(m["To"])]) >= count,
                            within)
        return self.to(address)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SmtpServer:
    """``port`` None: any free port (chosen again if another process takes it first)."""

    def __init__(self, port: int | None = None) -> None:
        self.fixed_port = port is not None
        self.port = port if port is not None else _free_port()
        self.mailbox = Mailbox()
        self.controller: Controller | None = None

    def start(self) -> None:
        for _ in range(5):
            self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)
            try:
                self.controller.start()
                return
            except OSError:
                if self.fixed_port:
                    raise
                self.port = _free_port()
        raise RuntimeError("no free port for the SMTP server")

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"


def text_of(message: EmailMessage, subtype: str = "plain") -> str:
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None, f"no text/{subtype} part"
    return str(part.get_content())
