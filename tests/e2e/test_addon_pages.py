"""The organiser's add-ons in headless Chromium against ``telekonf serve``.

- (a) Own welcome announcement: a text file named .wav is refused with the not-audio message,
  a 2 s 660 Hz WAV becomes the greeting ("own greeting (2 s)", with a busy state while it
  uploads), a reload still says an own greeting plays, and "Use the standard greeting" goes
  back; labels follow the page language. A long (3.8 MB) upload from the page arrives whole
  (the browser sends it in pieces: the server reads to the end).
- (b) Recording: the organiser (aiortc, moderator PIN) and a guest (aiortc) are in the call, a
  third person joins from Chromium's join page. Started from the organiser page: the REC badge
  shows there (from the answer) and on a second organiser page (from the live event), and the
  join page shows that the conference is being recorded. Stopped: badges and notice go, the
  recorded time and "Download recording" appear, and the download (fetched with the organiser
  token) is an Ogg file.

Screenshots go to artifacts/screenshots/.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Page, Route, expect

from ..conftest import LiveServer
from ..support.audio import sine, write_wav
from ..support.client import Participant
from .browser import Launch, create_conference, new_page

pytestmark = pytest.mark.browser

TONE = 660.0


async def conference_view(http: aiohttp.ClientSession, url: str, conf: dict[str, Any]) -> Any:
    async with http.get(
        f"{url}/api/v1/conferences/{conf['id']}",
        headers={"Authorization": f"Bearer {conf['organizer_token']}"},
    ) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def open_organizer(page: Page, url: str, conf: dict[str, Any]) -> None:
    await page.goto(f"{url}/organizer/{conf['id']}#token={conf['organizer_token']}")
    await expect(page.locator("#live-status")).to_have_attribute("data-live", "online")
    await expect(page.get_by_test_id("addons")).to_be_visible()


# ---- (a) own welcome announcement ----------------------------------------------------------------


async def test_greeting_upload_errors_success_and_standard(
    live_server: LiveServer, launch: Launch, artifacts: Path, tmp_path: Path
) -> None:
    errors: list[str] = []
    shots = artifacts / "screenshots"
    url = live_server.url
    not_audio = tmp_path / "notes.wav"
    not_audio.write_text("These are meeting notes, not a recording.\n" * 20, encoding="utf-8")
    # Telephone rate keeps the file small (32 kB): see test_long_greeting_arrives_whole.
    welcome = write_wav(tmp_path / "welcome.wav", sine(TONE, 2.0, 0.5, 8000), 8000)

    async with aiohttp.ClientSession() as http:
        conf = await create_conference(http, url, title="Greeting check")
        page = await new_page(await launch(None), errors)
        await open_organizer(page, url, conf)

        state = page.get_by_test_id("greeting-state")
        file_input = page.get_by_test_id("greeting-file")
        upload = page.get_by_test_id("greeting-upload")
        error = page.get_by_test_id("greeting-error")
        standard = page.get_by_test_id("greeting-standard")
        await expect(state).to_have_text("Now playing: the standard greeting")
        await expect(page.get_by_test_id("addon-greeting")).to_contain_text(
            "charged once per conference as an add-on"
        )
        await expect(upload).to_be_disabled()  # nothing chosen yet
        await expect(standard).to_be_hidden()
        # Not running yet: recording cannot start, and the page says when it can.
        await expect(page.get_by_test_id("recording-toggle")).to_be_disabled()
        await expect(page.locator("#recording-when")).to_be_visible()
        await expect(page.get_by_test_id("rec-badge")).to_be_hidden()

        # A text file with an audio name: the server's verdict, in words.
        await file_input.set_input_files(not_audio)
        await upload.click()
        await expect(error).to_have_text(
            "This file is not audio that can be read. "
            "Choose a recording such as WAV, MP3, OGG, FLAC or M4A."
        )
        await expect(file_input).to_have_attribute("aria-invalid", "true")
        await expect(state).to_have_text("Now playing: the standard greeting")
        await page.get_by_test_id("addons").screenshot(path=shots / "addons-greeting-error.png")
        assert (await conference_view(http, url, conf))["greeting"] is False

        # A real recording: busy while it goes up (held back until seen), then in place.
        release = asyncio.Event()

        async def hold(route: Route) -> None:
            await release.wait()
            # Sent on by Playwright's own client in one piece, the answer handed back as is.
            await route.fulfill(response=await route.fetch())

        await page.route("**/greeting", hold)
        await file_input.set_input_files(welcome)
        await expect(error).to_be_hidden()  # a new file: the old verdict no longer applies
        await expect(file_input).not_to_have_attribute("aria-invalid", "true")
        await upload.click()
        progress = page.get_by_test_id("greeting-progress")
        await expect(progress).to_be_visible()
        await expect(progress).to_contain_text("Uploading and checking welcome.wav…")
        await expect(upload).to_have_text("Uploading…")
        await expect(upload).to_be_disabled()
        await expect(file_input).to_be_disabled()
        await page.get_by_test_id("addons").screenshot(path=shots / "addons-greeting-uploading.png")
        release.set()
        await expect(state).to_have_text("Now playing: own greeting (2 s)")
        await expect(progress).to_be_hidden()
        await expect(page.get_by_test_id("greeting-status")).to_have_text(
            "Your greeting is in place (2 s)."
        )
        await expect(state).to_have_attribute("data-greeting", "own")
        await expect(standard).to_be_visible()
        await expect(upload).to_be_disabled()  # the form is cleared for the next file
        await page.unroute("**/greeting")
        assert (await conference_view(http, url, conf))["greeting"] is True
        await page.get_by_test_id("addons").screenshot(path=shots / "addons-greeting-own.png")

        # In German too.
        await page.select_option("#lang-select", "de")
        await expect(state).to_have_text("Es läuft: eigene Begrüßung (2 s)")
        await expect(standard).to_have_text("Standardbegrüßung verwenden")
        await page.select_option("#lang-select", "en")

        # A later visit knows an own greeting plays (its length is not in the view).
        await page.reload()
        await expect(state).to_have_text("Now playing: own greeting")

        # Back to the standard greeting.
        await standard.click()
        await expect(state).to_have_text("Now playing: the standard greeting")
        await expect(page.get_by_test_id("greeting-status")).to_have_text(
            "The standard greeting plays again."
        )
        await expect(standard).to_be_hidden()
        assert (await conference_view(http, url, conf))["greeting"] is False
        await page.screenshot(path=shots / "addons-greeting-standard.png", full_page=True)
    assert errors == []


async def test_long_greeting_arrives_whole(
    live_server: LiveServer, launch: Launch, tmp_path: Path
) -> None:
    """A 40 s WAV (3.8 MB) from the page is taken whole: the greeting lasts 40 s."""
    errors: list[str] = []
    url = live_server.url
    long_wav = write_wav(tmp_path / "long.wav", sine(TONE, 40.0, 0.5))
    async with aiohttp.ClientSession() as http:
        conf = await create_conference(http, url, title="Long greeting")
    page = await new_page(await launch(None), errors)
    await open_organizer(page, url, conf)
    await page.get_by_test_id("greeting-file").set_input_files(long_wav)
    await page.get_by_test_id("greeting-upload").click()
    await expect(page.get_by_test_id("greeting-progress")).to_be_hidden()
    await expect(page.get_by_test_id("greeting-error")).to_be_hidden(timeout=1000)
    await expect(page.get_by_test_id("greeting-state")).to_have_text(
        "Now playing: own greeting (40 s)", timeout=1000
    )
    assert errors == []


# ---- (b) recording ------------------------------------------------------------------------------


async def test_recording_badge_notice_and_download(
    live_server: LiveServer,
    launch: Launch,
    tone_wav: Callable[[float], Path],
    artifacts: Path,
) -> None:
    errors: list[str] = []
    shots = artifacts / "screenshots"
    url = live_server.url
    async with aiohttp.ClientSession() as http:
        conf = await create_conference(http, url, title="Recorded <b>review</b>")
        organizer = Participant(http, url, None)
        guest = Participant(http, url, 440.0)
        try:
            await organizer.join(conf["moderator_pin"], "Olga")
            assert organizer.joined["role"] == "organizer"
            await guest.join(conf["pin"], "Gustav")

            browser = await launch(tone_wav(TONE))
            joiner = await new_page(browser, errors)
            await joiner.goto(f"{url}/join?pin={conf['pin']}&name=Pia&autojoin=1")
            await expect(joiner.locator("body")).to_have_attribute("data-state", "joined")
            notice = joiner.get_by_test_id("recording-indicator")
            await expect(notice).to_be_hidden()

            page = await new_page(browser, errors)
            await open_organizer(page, url, conf)
            other = await new_page(browser, errors)  # a second organiser tab: live events only
            await open_organizer(other, url, conf)

            toggle = page.get_by_test_id("recording-toggle")
            badge = page.get_by_test_id("rec-badge")
            await expect(page.locator("#conf-state-badge")).to_have_attribute(
                "data-conf-state", "active"
            )
            await expect(toggle).to_be_enabled()
            await expect(toggle).to_have_text("Start recording")
            await expect(page.get_by_test_id("addon-recording")).to_contain_text(
                "Everyone in the conference hears a short spoken notice when the recording starts."
            )
            await expect(page.get_by_test_id("addon-recording")).to_contain_text(
                "Recording is charged per minute recorded."
            )
            await expect(page.get_by_test_id("recording-download")).to_be_hidden()

            # Start: REC on both organiser pages, the notice on the participant's page.
            await toggle.click()
            await expect(badge).to_be_visible()
            await expect(badge).to_contain_text("REC")
            await expect(toggle).to_have_text("Stop recording")
            await expect(other.get_by_test_id("rec-badge")).to_be_visible()
            await expect(notice).to_be_visible()
            await expect(notice).to_have_text("This conference is being recorded")
            assert (await conference_view(http, url, conf))["recording"] is True
            # The time recorded counts up (a couple of seconds of the call on record).
            state = page.get_by_test_id("recording-state")
            await expect(state).to_have_text(re.compile(r"^Recording: 0:0[2-9]$"))
            await page.screenshot(path=shots / "organizer-recording.png", full_page=True)
            await joiner.screenshot(path=shots / "join-recording.png", full_page=True)
            await joiner.select_option("#lang-select", "sl")
            await expect(notice).to_have_text("Ta konferenca se snema")
            await joiner.select_option("#lang-select", "en")

            # Stop: the badges and the notice go; the recording is there to download.
            await toggle.click()
            await expect(badge).to_be_hidden()
            await expect(notice).to_be_hidden()
            await expect(other.get_by_test_id("rec-badge")).to_be_hidden()
            download_button = page.get_by_test_id("recording-download")
            await expect(download_button).to_be_visible()
            await expect(download_button).to_have_text("Download recording")
            await expect(state).to_contain_text(re.compile(r"Recorded: 0:0[2-9]"))
            await expect(toggle).to_be_hidden()  # one recording per conference
            # The other tab learns the time recorded from the conference view.
            await expect(other.get_by_test_id("recording-download")).to_be_visible()
            await expect(other.get_by_test_id("recording-state")).to_contain_text("Recorded: 0:0")
            view = await conference_view(http, url, conf)
            assert view["recording"] is False and view["recorded_seconds"] >= 2
            await page.screenshot(path=shots / "organizer-recorded.png", full_page=True)

            async with page.expect_download() as info:
                await download_button.click()
            download = await info.value
            assert download.suggested_filename == f"recording-{conf['id']}.ogg"
            saved = Path(await download.path())
            content = await asyncio.to_thread(saved.read_bytes)
            assert content[:4] == b"OggS", content[:16]
            assert b"OpusHead" in content[:200]
            await expect(page.get_by_test_id("recording-error")).to_be_hidden()
            await expect(download_button).to_be_enabled()
        finally:
            await organizer.close()
            await guest.close()
    assert errors == []
