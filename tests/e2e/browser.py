"""Shared pieces of the browser tests: headless Debian Chromium, pages, conferences."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

CHROMIUM = os.environ.get("TELEKONF_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
HAVE_CHROMIUM = Path(CHROMIUM).exists()
CHROMIUM_ARGS = [
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
    "--allow-loopback-in-peer-connection",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-gpu",
    "--no-sandbox",
]
TIMEOUT_MS = 20_000

expect.set_options(timeout=TIMEOUT_MS)

Launch = Callable[[Path | None], Awaitable[Browser]]


@asynccontextmanager
async def chromium() -> AsyncIterator[Launch]:
    """Start headless Chromium as often as asked; a WAV path becomes its microphone."""
    if not HAVE_CHROMIUM:
        pytest.skip(f"Chromium not found at {CHROMIUM} (Debian package 'chromium')")
    async with async_playwright() as playwright:
        browsers: list[Browser] = []

        async def start(microphone: Path | None = None) -> Browser:
            args = list(CHROMIUM_ARGS)
            if microphone is not None:
                args.append(f"--use-file-for-fake-audio-capture={microphone}")
            browser = await playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=args
            )
            browsers.append(browser)
            return browser

        yield start
        for browser in browsers:
            await browser.close()


async def new_page(browser: Browser, errors: list[str]) -> Page:
    """A page whose uncaught script errors are collected (each test asserts there are none)."""
    # Reduced motion turns off the pages' colour transitions: computed colours are final.
    context = await browser.new_context(
        viewport={"width": 1280, "height": 860}, locale="en-GB", reduced_motion="reduce"
    )
    page = await context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.on("pageerror", lambda error: errors.append(f"{page.url}: {error}"))
    return page


async def create_conference(http: aiohttp.ClientSession, url: str, **extra: Any) -> dict[str, Any]:
    body = {
        "title": "Browser check",
        "organizer": {"name": "Olga", "email": "olga@example.org"},
        "participants": [],
        "language": "en",
        **extra,
    }
    async with http.post(f"{url}/api/v1/conferences", json=body) as response:
        assert response.status == 201, await response.text()
        return dict(await response.json())
