"""The organiser page's phone features in headless Chromium against ``telekonf serve``.

- "Add participant": the number is checked as it is typed (libphonenumber-js, served from
  our own origin), and a number the server's toll-fraud fence refuses shows its message.
- Dial-out through a fake SIP trunk on loopback that answers busy / no answer: the card
  rings, fails with the reason, and "Call again" places a new call.
- Lock / unlock, "Start conference (call everyone)".
- A phone caller (SIPp) dialling in shows the access number and its mode.

Screenshots go to artifacts/screenshots/.
"""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Page, expect

from ..conftest import LiveServer, free_port, start_server, stop_server
from ..interop.rtp_pcap import PcapBuilder
from ..support.client import wait_until
from .browser import Launch, create_conference, new_page

pytestmark = pytest.mark.browser

SCENARIOS = Path(__file__).resolve().parent.parent / "interop" / "scenarios"
PREMIUM_ACCESS = "+449098790001"  # a development dial-in number (server/access.py)
LIB_URL = "/static/vendor/libphonenumber-max.js"


# ---- a fake carrier trunk --------------------------------------------------------------------


@dataclass
class FakeTrunk(asyncio.DatagramProtocol):
    """A SIP trunk on loopback UDP that rings, then refuses every call.

    ``answers`` maps a dialled number (E.164) to a final status; others get 486 Busy Here.
    """

    answers: dict[str, int] = field(default_factory=dict)
    ring_seconds: float = 1.5  # ringing before the final answer
    invites: list[str] = field(default_factory=list)  # dialled numbers, in order
    transport: asyncio.DatagramTransport | None = None
    _sent: dict[str, list[bytes]] = field(default_factory=dict)  # Call-ID: responses so far

    REASONS = {
        100: "Trying",
        180: "Ringing",
        200: "OK",
        480: "Temporarily Unavailable",
        486: "Busy Here",
        603: "Decline",
    }
    COMPACT = {"v": "via", "f": "from", "t": "to", "i": "call-id"}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a datagram transport

    @property
    def port(self) -> int:
        assert self.transport is not None
        return int(self.transport.get_extra_info("sockname")[1])

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        head = data.decode("utf-8", "replace").split("\r\n\r\n", 1)[0]
        start, *lines = head.split("\r\n")
        if start.startswith("SIP/2.0"):
            return
        method, uri = start.split(" ")[:2]
        headers: list[tuple[str, str]] = []
        for line in lines:
            name, _, value = line.partition(":")
            key = name.strip().lower()
            headers.append((self.COMPACT.get(key, key), value.strip()))
        call_id = next(v for k, v in headers if k == "call-id")

        def respond(status: int) -> bytes:
            out = [f"SIP/2.0 {status} {self.REASONS.get(status, 'Failed')}"]
            for key, value in headers:
                if key == "via":
                    out.append(f"Via: {value}")
                elif key in ("from", "call-id", "cseq"):
                    out.append(f"{key.title() if key != 'cseq' else 'CSeq'}: {value}")
                elif key == "to":
                    tag = "" if status == 100 or ";tag=" in value else ";tag=trunk1"
                    out.append(f"To: {value}{tag}")
            out += ["Content-Length: 0", "", ""]
            message = "\r\n".join(out).encode()
            assert self.transport is not None
            self.transport.sendto(message, addr)
            return message

        if method == "INVITE":
            if call_id in self._sent:  # a retransmission: repeat the last answer
                assert self.transport is not None
                self.transport.sendto(self._sent[call_id][-1], addr)
                return
            number = uri.removeprefix("sip:").split("@")[0]
            self.invites.append(number)
            self._sent[call_id] = [respond(100), respond(180)]
            final = self.answers.get(number, 486)
            loop = asyncio.get_running_loop()
            loop.call_later(self.ring_seconds, lambda: self._sent[call_id].append(respond(final)))
        elif method != "ACK":
            respond(200)


@pytest.fixture
async def trunk() -> AsyncIterator[FakeTrunk]:
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(
        FakeTrunk, local_addr=("127.0.0.1", 0)
    )
    yield protocol
    transport.close()


@pytest.fixture
def dial_server(tmp_path: Path, trunk: FakeTrunk) -> Iterator[LiveServer]:
    """``telekonf serve`` with dial-out through the fake trunk."""
    server = start_server(tmp_path / "data", extra_args=(
        "--sip-trunk", f"sip:127.0.0.1:{trunk.port}", "--caller-id", "+442079460001",
    ))
    yield server
    stop_server(server)


# ---- helpers -----------------------------------------------------------------------------------


async def open_organizer(page: Page, server: LiveServer, conf: dict[str, Any]) -> None:
    await page.goto(f"{server.url}/organizer/{conf['id']}#token={conf['organizer_token']}")
    await expect(page.locator("#live-status")).to_have_attribute("data-live", "online")
    await expect(page.locator("#dial-panel")).to_be_visible()
    loaded = await page.evaluate(
        "typeof window.libphonenumber?.parsePhoneNumberFromString === 'function'"
    )
    assert loaded, (
        f"libphonenumber-js is not served at {LIB_URL} "
        "(server/app.py VENDOR_FILES: node_modules/libphonenumber-js/bundle/libphonenumber-max.js)"
    )


async def type_phone(page: Page, text: str) -> None:
    """Type like a person, key by key (each key is an input event)."""
    phone = page.get_by_test_id("dial-phone")
    await phone.fill("")
    await phone.press_sequentially(text)


async def get_conference(http: aiohttp.ClientSession, url: str, conf: dict[str, Any]) -> Any:
    async with http.get(
        f"{url}/api/v1/conferences/{conf['id']}",
        headers={"Authorization": f"Bearer {conf['organizer_token']}"},
    ) as response:
        assert response.status == 200, await response.text()
        return await response.json()


def cards_named(page: Page, name: str) -> Any:
    return page.locator(".participant").filter(
        has=page.locator(".participant__name", has_text=re.compile(f"^{re.escape(name)}$"))
    )


# ---- (a) the number is checked as it is typed; the server's refusal shows ---------------------


async def test_phone_checked_as_typed_and_refusal_shown(
    dial_server: LiveServer, trunk: FakeTrunk, launch: Launch, artifacts: Path
) -> None:
    errors: list[str] = []
    shots = artifacts / "screenshots"
    async with aiohttp.ClientSession() as http:
        conf = await create_conference(http, dial_server.url, title="Dial-out check")
    page = await new_page(await launch(None), errors)
    await open_organizer(page, dial_server, conf)

    phone = page.get_by_test_id("dial-phone")
    check = page.get_by_test_id("dial-phone-valid")
    submit = page.locator('[data-action="add-participant"]')
    await expect(check).to_have_attribute("data-valid", "false")
    await expect(submit).to_be_disabled()

    # Too short so far: invalid, and the button stays off.
    await page.get_by_test_id("dial-name").fill("Pia Phone")
    await type_phone(page, "+44 20 7946")
    await expect(check).to_have_attribute("data-valid", "false")
    await expect(check).to_have_attribute("data-check", "invalid")
    await expect(check).to_contain_text("Too short")
    await expect(phone).to_have_attribute("aria-invalid", "true")
    await expect(submit).to_be_disabled()
    await page.screenshot(path=shots / "organizer-dial-invalid.png", full_page=True)

    # Four more digits: valid, shown in international format, the button comes on.
    await phone.press_sequentially(" 0123")
    await expect(check).to_have_attribute("data-valid", "true")
    await expect(check.locator(".phone-check__number")).to_have_text("+44 20 7946 0123")
    await expect(check).to_contain_text("Valid number")
    await expect(phone).not_to_have_attribute("aria-invalid", "true")
    await expect(submit).to_be_enabled()
    await page.screenshot(path=shots / "organizer-dial-valid.png", full_page=True)

    # One digit too many: invalid again.
    await phone.press("End")
    await phone.press_sequentially("4")
    await expect(check).to_have_attribute("data-valid", "false")
    await expect(check).to_contain_text("Too long")
    await expect(submit).to_be_disabled()

    # A national number is read in the browser's country (en-GB) and shown internationally.
    await type_phone(page, "020 7946 0123")
    await expect(check).to_have_attribute("data-valid", "true")
    await expect(check.locator(".phone-check__number")).to_have_text("+44 20 7946 0123")

    # Letters are no phone number.
    await type_phone(page, "call me")
    await expect(check).to_have_attribute("data-valid", "false")
    await expect(submit).to_be_disabled()

    # A premium-rate number is a valid number, but the server's fence refuses to call it:
    # its message shows by the form, nobody is added and nothing is dialled.
    await type_phone(page, "+44 909 879 0123")
    await expect(check).to_have_attribute("data-valid", "true")
    await expect(check.locator(".phone-check__number")).to_have_text("+44 909 879 0123")
    await submit.click()
    error = page.get_by_test_id("dial-error")
    await expect(error).to_be_visible()
    await expect(error).to_contain_text("premium-rate")
    await expect(phone).to_have_attribute("aria-invalid", "true")
    async with aiohttp.ClientSession() as http:
        # The message is the server's own.
        async with http.post(
            f"{dial_server.url}/api/v1/conferences/{conf['id']}/participants",
            json={"name": "Pia Phone", "phone": "+449098790123"},
            headers={"Authorization": f"Bearer {conf['organizer_token']}"},
        ) as response:
            assert response.status == 403
            body = await response.json()
        assert body["error"] == "dial_out_refused"
        await expect(error).to_have_text(body["message"])
        state = await get_conference(http, dial_server.url, conf)
    assert [p for p in state["participants"] if p["name"] == "Pia Phone"] == []
    assert await page.locator(".participant").count() == 0
    assert trunk.invites == []
    await page.screenshot(path=shots / "organizer-dial-refused.png", full_page=True)

    # Typing again clears the server's verdict.
    await phone.press("Backspace")
    await expect(error).to_be_hidden()
    assert errors == []


# ---- (b) dial-out rings, fails busy, call again; lock; start by calling everyone ---------------


async def test_dial_out_call_again_lock_and_start(
    dial_server: LiveServer, trunk: FakeTrunk, launch: Launch, artifacts: Path
) -> None:
    errors: list[str] = []
    shots = artifacts / "screenshots"
    organizer_phone = "+442079460999"
    trunk.answers[organizer_phone] = 480  # the organiser does not answer
    async with aiohttp.ClientSession() as http:
        conf = await create_conference(
            http,
            dial_server.url,
            title="Phone round",
            organizer={"name": "Olga", "email": "olga@example.org", "phone": organizer_phone},
        )
        page = await new_page(await launch(None), errors)
        await open_organizer(page, dial_server, conf)

        # Lock: a badge and the button turns into "Unlock"; the server has it locked.
        lock = page.locator('.org-actions [data-action="lock"]')
        badge = page.get_by_test_id("lock-badge")
        await expect(badge).to_be_hidden()
        await expect(lock).to_have_text("Lock")
        await lock.click()
        await expect(badge).to_be_visible()
        await expect(badge).to_have_text("Locked")
        await expect(lock).to_have_text("Unlock")
        assert (await get_conference(http, dial_server.url, conf))["locked"] is True
        await page.screenshot(path=shots / "organizer-locked.png", full_page=True)
        await lock.click()
        await expect(badge).to_be_hidden()
        await expect(lock).to_have_text("Lock")
        assert (await get_conference(http, dial_server.url, conf))["locked"] is False

        # Add participant: the card appears, rings, and fails busy.
        await page.get_by_test_id("dial-name").fill("Bob")
        await type_phone(page, "+44 20 7946 0123")
        await page.click('[data-action="add-participant"]')
        await expect(page.locator("#dial-status")).to_have_text("Bob is being called.")
        await expect(page.get_by_test_id("dial-phone")).to_have_value("")
        bob = cards_named(page, "Bob")
        await expect(bob).to_have_count(1)
        await expect(bob).to_have_attribute("data-mode", "dial-out")
        await expect(bob.locator(".phone")).to_have_text("+44 20 7946 0123")
        await expect(bob).to_have_attribute("data-state", "ringing")
        await expect(bob).to_have_attribute("data-state", "failed")
        await expect(bob).to_have_attribute("data-failure", "busy")
        await expect(bob.get_by_test_id("failure")).to_have_text("Busy")
        await expect(page.locator("#dial-status")).to_be_empty()  # the card tells the outcome
        call_again = bob.locator('[data-action="call-again"]')
        await expect(call_again).to_be_visible()
        await expect(call_again).to_have_text("Call again")
        assert trunk.invites == ["+442079460123"]
        await page.screenshot(path=shots / "organizer-dial-busy.png", full_page=True)

        # Call again: a second call; still one card for Bob, which fails busy again.
        first_id = await bob.get_attribute("data-id")
        await call_again.click()
        await wait_until(lambda: len(trunk.invites) == 2, within=10)
        assert trunk.invites[1] == "+442079460123"
        await expect(bob).to_have_count(1)
        await expect(bob).not_to_have_attribute("data-id", first_id or "")
        await expect(bob).to_have_attribute("data-state", "failed")
        await expect(bob).to_have_attribute("data-failure", "busy")

        # Start (call everyone): only while scheduled; the organiser's phone is called first.
        start = page.locator('.org-actions [data-action="start-dial-out"]')
        await expect(page.locator("#conf-state-badge")).to_have_attribute(
            "data-conf-state", "scheduled"
        )
        await expect(start).to_be_enabled()
        await start.click()
        await expect(page.locator("#toasts")).to_contain_text("Calling you first")
        await expect(start).to_be_disabled()
        await wait_until(lambda: organizer_phone in trunk.invites, within=10)
        olga = page.locator('.participant[data-role="organizer"]')
        await expect(olga).to_have_attribute("data-mode", "dial-out")
        await expect(olga).to_have_attribute("data-state", "failed")
        await expect(olga.get_by_test_id("failure")).to_have_text("No answer")
        await expect(olga.locator('[data-action="call-again"]')).to_be_visible()
        await page.screenshot(path=shots / "organizer-dial-start.png", full_page=True)

        # The failure reasons are translated.
        await page.select_option("#lang-select", "de")
        await expect(bob.get_by_test_id("failure")).to_have_text("Besetzt")
        await expect(olga.get_by_test_id("failure")).to_have_text("Keine Antwort")
        await expect(bob.locator('[data-action="call-again"]')).to_have_text("Erneut anrufen")
    assert errors == []


# ---- (c) a phone caller shows the access number it dialled and its mode -----------------------


def sip_port_of(server: LiveServer) -> int:
    port = server.url.rsplit(":", 1)[1]
    log = (server.data_dir.parent / f"server-{port}.log").read_text(errors="replace")
    match = re.search(r"SIP on [^\s:]+:(\d+)", log)
    assert match, "the server did not log its SIP port"
    return int(match.group(1))


async def test_dial_in_caller_shows_access_number(
    live_server: LiveServer, launch: Launch, artifacts: Path, tmp_path: Path
) -> None:
    sipp = shutil.which("sipp")
    if sipp is None:
        pytest.skip("sipp is not installed (Debian package 'sip-tester')")
    errors: list[str] = []
    async with aiohttp.ClientSession() as http:
        conf = await create_conference(http, live_server.url, title="Phone in")
    page = await new_page(await launch(None), errors)
    await open_organizer(page, live_server, conf)

    # SIPp dials the premium-rate access number and keys in the PIN.
    pcap = PcapBuilder().silence(0.5).digits(conf["pin"] + "#").silence(6.0)
    pcap.write(tmp_path / "call.pcap")
    shutil.copy(SCENARIOS / "uac_pcmu_dtmf.xml", tmp_path)
    process = await asyncio.create_subprocess_exec(
        sipp,
        f"127.0.0.1:{sip_port_of(live_server)}",
        "-sf",
        "uac_pcmu_dtmf.xml",
        "-s",
        PREMIUM_ACCESS,
        "-i",
        "127.0.0.1",
        "-p",
        str(free_port()),
        "-mi",
        "127.0.0.1",
        "-mp",
        str(free_port()),
        "-m",
        "1",
        "-nostdin",
        "-d",
        str(int(pcap.seconds * 1000) + 500),
        "-timeout",
        "30s",
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        stdin=asyncio.subprocess.DEVNULL,
    )
    try:
        caller = page.locator('.participant[data-mode="dial-in"]')
        await expect(caller).to_have_count(1)
        await expect(caller.locator(".mode")).to_have_text("Dial-in")
        access = caller.get_by_test_id("access")
        await expect(access).to_have_attribute("data-access-mode", "premium")
        await expect(access.locator(".access__number")).to_have_text("+44 909 879 0001")
        await expect(access.locator(".access__mode")).to_have_text("Premium rate")
        await page.screenshot(
            path=artifacts / "screenshots" / "organizer-dial-in.png", full_page=True
        )
        await page.select_option("#lang-select", "sl")
        await expect(access.locator(".access__mode")).to_have_text("Premijska številka")
        output, _ = await asyncio.wait_for(process.communicate(), 30)
        assert process.returncode == 0, output.decode("utf-8", "replace")[-3000:]
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert errors == []
