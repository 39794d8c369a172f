"""The development sink: accepts every SMS and sends it nowhere.

It keeps the last messages in memory so a development page can show them; the
outbox in the database remains the real record of what was sent.
"""

from __future__ import annotations

import itertools
import logging
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import NamedTuple

from .provider import check_message

logger = logging.getLogger(__name__)

KEEP = 1000


class SentSms(NamedTuple):
    to: str
    text: str
    at: datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


class DevSmsProvider:
    name = "dev"

    def __init__(self, *, keep: int = KEEP, now: Callable[[], datetime] = utcnow) -> None:
        self.sent: deque[SentSms] = deque(maxlen=keep)
        self._now = now
        self._ids = itertools.count(1)

    def __repr__(self) -> str:
        return f"DevSmsProvider({len(self.sent)} kept)"

    async def send(self, to: str, text: str) -> str:
        check_message(to, text)  # the same refusals as a real provider
        self.sent.append(SentSms(to, text, self._now()))
        message_id = f"dev-{next(self._ids)}"
        logger.info("SMS %s to %s (not sent: development sink): %s", message_id, to, text)
        return message_id

    async def close(self) -> None:
        """Nothing to release; the kept messages stay readable."""
