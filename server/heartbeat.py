"""The heartbeat: the last moment the service is known to have been alive, in the store.

After a crash, legs still open are closed at this moment rather than at the restart
(which may be hours later), so nobody is billed for time the bridge was down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

from .store import Store

logger = logging.getLogger(__name__)


class Heartbeat:
    def __init__(self, store: Store, now: Callable[[], datetime], interval: float) -> None:
        self.store = store
        self.now = now
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="heartbeat")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.store.beat(self.now())  # a clean stop is alive until now

    async def _run(self) -> None:
        while True:
            try:
                await self.store.beat(self.now())
            except Exception:
                logger.exception("the heartbeat could not be stored")
            await asyncio.sleep(self.interval)
