"""Fixtures of the browser tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from .browser import Launch, chromium


@pytest.fixture
async def launch() -> AsyncIterator[Launch]:
    """Start headless Chromium; a WAV path becomes its microphone."""
    async with chromium() as start:
        yield start
