"""The browser pages for real: headless Chromium against ``telekonf serve``.

A fake microphone plays a WAV file; an aiortc client stands in for the organiser's audio.
Screenshots go to artifacts/screenshots/.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import aiohttp
import numpy as np
import pytest
from playwright.async_api import Page, expect

from ..conftest import LiveServer
from ..support.audio import RATE
from ..support.client import Participant, wait_until
from .browser import Launch, create_conference, new_page

pytestmark = pytest.mark.browser

TONE = 660.0


def spectrum_peak(samples: np.ndarray) -> tuple[float, float, float]:
    """(dominant frequency Hz, its level dBFS, median spectral floor dBFS) above 50 Hz."""
    x = samples.astype(np.float64) / 32768.0
    window = np.hanning(x.size)
    spectrum = np.abs(np.fft.rfft(x * window)) * 2 / window.sum()
    freqs = np.fft.rfftfreq(x.size, 1 / RATE)
    spectrum[freqs < 50] = 0
    peak = int(np.argmax(spectrum))
    level = 20 * np.log10(max(float(spectrum[peak]), 1e-9))
    floor = 20 * np.log10(max(float(np.median(spectrum[freqs >= 50])), 1e-9))
    return float(freqs[peak]), level, floor


def tone_slices(heard: np.ndarray) -> list[tuple[float, float, float]]:
    """Spectrum peaks of the last 2 s, in four 0.5 s slices."""
    size = RATE // 2
    if heard.size < 4 * size:
        return []
    return [spectrum_peak(chunk) for chunk in heard[-4 * size :].reshape(4, size)]


def tone_is_steady(heard: np.ndarray, freq: float) -> bool:
    """``freq`` dominates each 0.5 s slice of the last 2 s, loud and far above the noise floor:
    a steady source, not the short entry chime (which also rings near 660 Hz)."""
    slices = tone_slices(heard)
    return bool(slices) and all(
        abs(f - freq) <= 15 and level > -35 and level - floor > 30 for f, level, floor in slices
    )


def tone_is_absent(heard: np.ndarray, freq: float) -> bool:
    """Nothing within ±15 Hz of ``freq`` above -50 dBFS in the last second."""
    if heard.size < RATE:
        return False
    x = heard[-RATE:].astype(np.float64) / 32768.0
    window = np.hanning(x.size)
    spectrum = np.abs(np.fft.rfft(x * window)) * 2 / window.sum()
    freqs = np.fft.rfftfreq(x.size, 1 / RATE)
    band = (freqs > freq - 15) & (freqs < freq + 15)
    return 20 * np.log10(max(float(spectrum[band].max()), 1e-9)) < -50


async def wait_for_tone(
    listener: Participant, freq: float, *, present: bool, within: float
) -> None:
    def check() -> bool:
        heard = listener.last(2.0)
        return tone_is_steady(heard, freq) if present else tone_is_absent(heard, freq)

    try:
        await wait_until(check, within=within)
    except AssertionError:
        slices = ", ".join(
            f"{f:.0f} Hz {lv:.0f} dBFS (floor {fl:.0f})"
            for f, lv, fl in tone_slices(listener.last(2.0))
        )
        want = "steadily" if present else "no longer"
        raise AssertionError(f"expected to hear {freq:.0f} Hz {want}; heard: {slices}") from None


async def card_background(page: Page, participant_id: str) -> str:
    card = page.locator(f'.participant[data-id="{participant_id}"]')
    return str(await card.evaluate("el => getComputedStyle(el).backgroundColor"))


async def wait_card_state(page: Page, participant_id: str, states: tuple[str, ...]) -> None:
    await page.wait_for_function(
        """([id, states]) => {
            const card = document.querySelector(`.participant[data-id="${id}"]`);
            return card !== null && states.includes(card.dataset.state);
        }""",
        arg=[participant_id, list(states)],
    )


# ---- (a) home page ------------------------------------------------------------------------


async def test_home_form_creates_conference(
    live_server: LiveServer, launch: Launch, artifacts: Path
) -> None:
    errors: list[str] = []
    page = await new_page(await launch(None), errors)
    await page.goto(f"{live_server.url}/")
    await expect(page.locator("#create-heading")).to_have_text("Create a conference")

    # The language switcher translates in place and remembers the choice in ?lang=.
    await page.select_option("#lang-select", "de")
    await expect(page.locator("#create-heading")).to_have_text("Konferenz erstellen")
    assert "lang=de" in page.url
    await page.select_option("#lang-select", "en")

    title = "Roadmap <b>review</b> & more"
    await page.fill("#title", title)
    await page.fill("#organizer-name", "Olga Organiser")
    # The browser accepts this address, the server does not: its message shows by the form.
    await page.fill("#organizer-email", "olga@localhost")
    await page.click("#create-submit")
    await expect(page.locator("body")).to_have_attribute("data-state", "error")
    await expect(page.locator("#form-error")).to_contain_text("e-mail")
    await expect(page.locator("#organizer-email")).to_have_attribute("aria-invalid", "true")
    await page.screenshot(path=artifacts / "screenshots" / "home-error.png", full_page=True)

    await page.fill("#organizer-email", "olga@example.org")
    await page.select_option("#language", "sl")
    await page.click("#create-submit")
    await expect(page.locator("body")).to_have_attribute("data-state", "created")

    pin = (await page.locator("#result-pins [data-testid=pin]").inner_text()).strip()
    moderator_pin = (
        await page.locator("#result-pins [data-testid=moderator-pin]").inner_text()
    ).strip()
    assert pin.isdigit() and moderator_pin.isdigit() and pin != moderator_pin
    # User text is shown as text, never parsed as HTML.
    await expect(page.locator("#result-title")).to_have_text(title)
    assert await page.locator("#result-title b").count() == 0
    join_link = await page.locator("[data-testid=join-link]").get_attribute("href")
    organizer_link = await page.locator("[data-testid=organizer-link]").get_attribute("href")
    assert join_link and pin in join_link
    assert organizer_link and "/organizer/" in organizer_link and "#token=" in organizer_link
    await page.screenshot(path=artifacts / "screenshots" / "home-created.png", full_page=True)

    # The organiser link works and shows both PINs, in the conference's language.
    await page.click("#open-organizer")
    await expect(page.locator("#conf-title")).to_have_text(title)
    await expect(page.locator("#conf-facts [data-testid=pin]")).to_have_text(pin)
    await expect(page.locator("#conf-facts [data-testid=moderator-pin]")).to_have_text(
        moderator_pin
    )
    await expect(page.locator("html")).to_have_attribute("lang", "sl")
    await expect(page.locator("#live-status")).to_have_attribute("data-live", "online")
    await page.screenshot(path=artifacts / "screenshots" / "organizer-new.png", full_page=True)
    assert errors == []


# ---- (b) a browser participant is heard by an aiortc organiser ------------------------------


async def test_browser_participant_is_heard(
    live_server: LiveServer,
    launch: Launch,
    tone_wav: Callable[[float], Path],
    artifacts: Path,
) -> None:
    errors: list[str] = []
    shots = artifacts / "screenshots"
    async with aiohttp.ClientSession() as http:
        conf = await create_conference(http, live_server.url)
        organizer = Participant(http, live_server.url, None)  # a silent microphone
        try:
            await organizer.join(conf["moderator_pin"], "Olga")
            assert organizer.joined["role"] == "organizer"

            page = await new_page(await launch(tone_wav(TONE)), errors)
            await page.goto(f"{live_server.url}/join?pin={conf['pin']}&name=Pia&raw=1&autojoin=1")
            await expect(page.locator("body")).to_have_attribute("data-state", "joined")
            await page.wait_for_function("window.telekonf.pc.connectionState === 'connected'")
            session = await page.evaluate("({...window.telekonf, pc: undefined})")
            assert session["participantId"]
            assert session["location"].startswith(f"{live_server.url}/api/v1/webrtc/")
            await expect(page.locator("#conf-title")).to_have_text("Browser check")
            await expect(page.locator(f'#roster [data-id="{organizer.id}"]')).to_contain_text(
                "Olga"
            )

            # The organiser hears the browser's 660 Hz microphone, steadily.
            await wait_for_tone(organizer, TONE, present=True, within=25)
            # And the browser receives the bridge's audio.
            await page.wait_for_function(
                """async () => {
                    const stats = await window.telekonf.pc.getStats();
                    return [...stats.values()].some(
                        (s) => s.type === 'inbound-rtp' && s.kind === 'audio'
                            && s.packetsReceived > 0);
                }""",
                polling=200,
            )
            await page.screenshot(path=shots / "join-joined.png", full_page=True)

            # Muting from the page silences the tone for the organiser; unmuting brings it back.
            await page.click("#mute-button")
            await expect(page.locator("#mute-button")).to_have_attribute("aria-pressed", "true")
            await wait_for_tone(organizer, TONE, present=False, within=10)
            await page.screenshot(path=shots / "join-muted.png", full_page=True)
            await page.click("#mute-button")
            await expect(page.locator("#mute-button")).to_have_attribute("aria-pressed", "false")
            await wait_for_tone(organizer, TONE, present=True, within=15)

            # Leaving hangs up the WHIP session.
            await page.click("#leave-button")
            await expect(page.locator("body")).to_have_attribute("data-state", "left")
            await expect(page.locator("#end-text")).to_have_text("You left the conference.")
            assert await page.evaluate("window.telekonf.pc.connectionState") == "closed"
            await page.screenshot(path=shots / "join-left.png", full_page=True)
            async with http.get(
                f"{live_server.url}/api/v1/conferences/{conf['id']}",
                headers={"Authorization": f"Bearer {conf['organizer_token']}"},
            ) as response:
                state = {p["id"]: p["state"] for p in (await response.json())["participants"]}
            assert state[session["participantId"]] == "left"
        finally:
            await organizer.close()
    assert errors == []


# ---- (c) the organiser page: cards, mute, mute all, end ------------------------------------


async def test_organizer_page_mutes_and_ends(
    live_server: LiveServer,
    launch: Launch,
    tone_wav: Callable[[float], Path],
    artifacts: Path,
) -> None:
    errors: list[str] = []
    shots = artifacts / "screenshots"
    async with aiohttp.ClientSession() as http:
        conf = await create_conference(http, live_server.url, title="Board <i>meeting</i>")
        organizer = Participant(http, live_server.url, None)
        try:
            await organizer.join(conf["moderator_pin"], "Olga")
            browser = await launch(tone_wav(TONE))
            guest = await new_page(browser, errors)
            await guest.goto(
                f"{live_server.url}/join?pin={conf['pin']}&name=Pia%20<Guest>&raw=1&autojoin=1"
            )
            await expect(guest.locator("body")).to_have_attribute("data-state", "joined")
            guest_id = await guest.evaluate("window.telekonf.participantId")

            page = await new_page(browser, errors)
            await page.goto(
                f"{live_server.url}/organizer/{conf['id']}#token={conf['organizer_token']}"
            )
            await expect(page.locator("#conf-title")).to_have_text("Board <i>meeting</i>")
            await wait_card_state(page, guest_id, ("connected", "talking"))
            card = page.locator(f'.participant[data-id="{guest_id}"]')
            await expect(card.locator(".participant__name")).to_have_text("Pia <Guest>")
            await expect(card).to_have_attribute("data-mode", "web")
            organizer_card = page.locator(f'.participant[data-id="{organizer.id}"]')
            await expect(organizer_card).to_have_attribute("data-role", "organizer")
            await expect(organizer_card.locator('[data-action="remove"]')).to_be_hidden()
            await expect(page.locator("#join-audio")).to_have_attribute(
                "href", f"/join?pin={conf['moderator_pin']}&name=Olga"
            )
            live_colour = await card_background(page, guest_id)
            await page.screenshot(path=shots / "organizer-live.png", full_page=True)

            # Mute: the card turns 'muted' with another colour, and the guest's page knows.
            await card.locator('[data-action="mute"]').click()
            await expect(card).to_have_attribute("data-state", "muted")
            await expect(card.locator('[data-action="mute"]')).to_have_text("Unmute")
            muted_colour = await card_background(page, guest_id)
            assert muted_colour != live_colour
            legend_muted = await page.locator('#legend [data-state="muted"] .swatch').evaluate(
                "el => getComputedStyle(el).backgroundColor"
            )
            assert muted_colour == legend_muted
            await expect(guest.locator("#mute-button")).to_have_attribute("aria-pressed", "true")
            await page.screenshot(path=shots / "organizer-muted.png", full_page=True)

            # Unmute: back to connected/talking and its colour.
            await card.locator('[data-action="mute"]').click()
            await wait_card_state(page, guest_id, ("connected", "talking"))
            assert await card_background(page, guest_id) != muted_colour
            await expect(guest.locator("#mute-button")).to_have_attribute("aria-pressed", "false")

            # Mute all spares the organiser; unmute all undoes it.
            await page.click('[data-action="mute-all"]')
            await expect(card).to_have_attribute("data-state", "muted")
            await expect(organizer_card).not_to_have_attribute("data-state", "muted")
            await page.click('[data-action="unmute-all"]')
            await wait_card_state(page, guest_id, ("connected", "talking"))

            # End (after confirming): the guest is told and disconnected.
            await page.click('.org-actions [data-action="end"]')
            await expect(page.locator("#end-dialog")).to_be_visible()
            await page.screenshot(path=shots / "organizer-end-dialog.png")
            await page.click('[data-action="confirm-end"]')
            await expect(page.locator("#conf-state-badge")).to_have_attribute(
                "data-conf-state", "ended"
            )
            await expect(guest.locator("body")).to_have_attribute("data-state", "ended")
            await expect(guest.locator("#end-text")).to_have_text(
                "The conference has ended. Thank you."
            )
            assert await guest.evaluate("window.telekonf.pc.connectionState") == "closed"
            await wait_card_state(page, guest_id, ("left",))
            await page.screenshot(path=shots / "organizer-ended.png", full_page=True)
            await guest.screenshot(path=shots / "join-ended.png", full_page=True)
        finally:
            await organizer.close()
    assert errors == []


# ---- (d) wrong PIN -----------------------------------------------------------------------------


async def test_wrong_pin_shows_error(
    live_server: LiveServer, launch: Launch, artifacts: Path
) -> None:
    errors: list[str] = []
    async with aiohttp.ClientSession() as http:
        conf = await create_conference(http, live_server.url)
    pin = conf["pin"]
    wrong = pin[:-1] + str((int(pin[-1]) + 1) % 10)
    assert wrong not in (conf["pin"], conf["moderator_pin"])

    page = await new_page(await launch(None), errors)
    await page.goto(f"{live_server.url}/join")
    await page.fill("#name", "Mallory")
    await page.fill("#pin", wrong)
    await page.click("#join-submit")
    await expect(page.locator("body")).to_have_attribute("data-state", "error")
    await expect(page.locator("#join-error")).to_be_visible()
    message = (await page.locator("#join-error").inner_text()).strip()
    assert message
    assert await page.evaluate("window.telekonf.pc") is None
    await page.screenshot(path=artifacts / "screenshots" / "join-wrong-pin.png", full_page=True)
    assert errors == []
