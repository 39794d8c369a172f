"""The SMPP provider against a real SMSC on loopback.

The SMSC is smpp34's server (an independent SMPP 3.4 implementation, Rust core):
it records every submit_sm and answers with a message id or an error status.
"""

from __future__ import annotations

import asyncio
import logging
import select
import socket
from collections.abc import AsyncIterator, Iterator

import pytest
import smpp34

from server.notify.sms import SmppSmsProvider, SmsError, gsm7
from server.notify.sms.smpp import SmppSettings, source_address

TO = "+38640123456"
PASSWORD = "s3cr3t"

# command_status values of SMPP 3.4 (section 5.1.3)
ESME_RSYSERR, ESME_RINVDSTADR, ESME_RMSGQFUL, ESME_RTHROTTLED = 0x08, 0x0B, 0x14, 0x58


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Smsc:
    """An SMSC that records what it is sent and accepts it, or answers ``reject_with``."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.server = smpp34.Server(host="127.0.0.1", port=port, system_id="TESTSMSC")
        self.submits: list[smpp34.SubmitSmEvent] = []
        self.sessions: list[smpp34.Esme] = []
        self.unbound = asyncio.Event()
        self.reject_with: int | None = None
        self.hold = False  # leave submits unanswered (the client's timeout must fire)
        self.held: list[smpp34.SubmitSmEvent] = []
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"smpp://telekonf:{PASSWORD}@127.0.0.1:{self.port}"

    async def start(self) -> None:
        await self.server.start()
        self._task = asyncio.create_task(self._serve())

    async def _serve(self) -> None:
        while True:
            event = await self.server.next()
            if isinstance(event, smpp34.Esme):
                self.sessions.append(event)
            elif isinstance(event, smpp34.SubmitSmEvent):
                self.submits.append(event)
                if self.hold:
                    self.held.append(event)  # undecided: no submit_sm_resp yet
                elif self.reject_with is None:
                    event.accept(f"msg-{len(self.submits)}")
                else:
                    event.reject(self.reject_with)
            elif isinstance(event, smpp34.Unbound):
                self.unbound.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        await self.server.stop()


@pytest.fixture
async def smsc() -> AsyncIterator[Smsc]:
    center = Smsc(free_port())
    await center.start()
    yield center
    await center.stop()


@pytest.fixture
async def providers() -> AsyncIterator[list[SmppSmsProvider]]:
    made: list[SmppSmsProvider] = []
    yield made
    for provider in made:
        await provider.close()


def _provider(made: list[SmppSmsProvider], url: str, **options: str) -> SmppSmsProvider:
    provider = SmppSmsProvider(url, timeout=5.0, **options)
    made.append(provider)
    return provider


async def test_gsm7_message(smsc: Smsc, providers: list[SmppSmsProvider]) -> None:
    provider = _provider(providers, smsc.url, sender="Telekonf")
    text = "Sestanek ob 10:00 [soba 3], 5€ @ Ljubljana"
    assert await provider.send(TO, text) == "msg-1"
    (got,) = smsc.submits
    assert got.data_coding == 0 and got.esm_class == 0
    assert (got.destination_addr, got.dest_addr_ton, got.dest_addr_npi) == ("38640123456", 1, 1)
    assert (got.source_addr, got.source_addr_ton, got.source_addr_npi) == ("Telekonf", 5, 0)
    assert gsm7.decode(got.short_message) == text
    assert got.short_message.count(b"\x1b") == 3  # [ ] € are escaped


async def test_slovenian_text_goes_as_ucs2(smsc: Smsc, providers: list[SmppSmsProvider]) -> None:
    provider = _provider(providers, smsc.url + "?source=%2B38611234567")
    await provider.send(TO, "Živjo, čaša")
    (got,) = smsc.submits
    assert got.data_coding == 8 and got.esm_class == 0
    assert got.short_message.decode("utf-16-be") == "Živjo, čaša"
    assert (got.source_addr, got.source_addr_ton, got.source_addr_npi) == ("38611234567", 1, 1)


def _reassemble(parts: list[smpp34.SubmitSmEvent]) -> tuple[list[bytes], bytes]:
    """The UDHs and the joined bodies of concatenated parts, checked for consistency."""
    headers = [p.short_message[:6] for p in parts]
    references = {h[3] for h in headers}
    assert len(references) == 1
    assert [h[:3] for h in headers] == [b"\x05\x00\x03"] * len(parts)
    assert [(h[4], h[5]) for h in headers] == [(len(parts), i) for i in range(1, len(parts) + 1)]
    assert all(p.esm_class & 0x40 for p in parts)
    return headers, b"".join(p.short_message[6:] for p in parts)


async def test_long_gsm7_message_is_concatenated(
    smsc: Smsc, providers: list[SmppSmsProvider]
) -> None:
    text = ("Vabilo na sestanek: " + "abcdefghij" * 20)[:200]
    provider = _provider(providers, smsc.url)
    assert await provider.send(TO, text) == "msg-1,msg-2"
    assert len(smsc.submits) == 2
    assert all(p.data_coding == 0 for p in smsc.submits)
    _, body = _reassemble(smsc.submits)
    assert gsm7.decode(body) == text
    assert len(smsc.submits[0].short_message) == 6 + 153


async def test_an_escape_pair_is_never_split_across_parts(
    smsc: Smsc, providers: list[SmppSmsProvider]
) -> None:
    text = "a" * 152 + "€" + "b" * 10
    await _provider(providers, smsc.url).send(TO, text)
    first, second = (p.short_message[6:] for p in smsc.submits)
    assert first == b"a" * 152 and second == b"\x1b\x65" + b"b" * 10


async def test_long_ucs2_message_keeps_surrogate_pairs_whole(
    smsc: Smsc, providers: list[SmppSmsProvider]
) -> None:
    text = "č" * 66 + "😀" + "ž" * 70
    await _provider(providers, smsc.url).send(TO, text)
    assert len(smsc.submits) == 3 and all(p.data_coding == 8 for p in smsc.submits)
    # every part decodes on its own: no half of a surrogate pair at either end
    pieces = [p.short_message[6:].decode("utf-16-be") for p in smsc.submits]
    assert "".join(pieces) == text
    _, body = _reassemble(smsc.submits)
    assert body.decode("utf-16-be") == text


async def test_invalid_destination_is_permanent(
    smsc: Smsc, providers: list[SmppSmsProvider]
) -> None:
    smsc.reject_with = ESME_RINVDSTADR
    provider = _provider(providers, smsc.url)
    with pytest.raises(SmsError, match="0x0000000B") as caught:
        await provider.send(TO, "x")
    assert caught.value.permanent
    smsc.reject_with = None
    assert await provider.send(TO, "y") == "msg-2"  # the session survived the refusal
    assert len(smsc.sessions) == 1


@pytest.mark.parametrize(
    "status", [ESME_RTHROTTLED, ESME_RSYSERR, ESME_RMSGQFUL, 0x45, 0x64, 0x400]
)
async def test_busy_smsc_is_temporary(
    smsc: Smsc, providers: list[SmppSmsProvider], status: int
) -> None:
    smsc.reject_with = status
    with pytest.raises(SmsError) as caught:
        await _provider(providers, smsc.url).send(TO, "x")
    assert not caught.value.permanent


@pytest.fixture
def refusing_port() -> Iterator[int]:
    """A port that refuses connections: bound, never listening."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


async def test_smsc_down_is_temporary(refusing_port: int, providers: list[SmppSmsProvider]) -> None:
    provider = _provider(providers, f"smpp://telekonf:{PASSWORD}@127.0.0.1:{refusing_port}")
    with pytest.raises(SmsError, match="cannot connect") as caught:
        await provider.send(TO, "x")
    assert not caught.value.permanent
    assert PASSWORD not in str(caught.value)


async def test_binds_again_once_the_smsc_is_back(providers: list[SmppSmsProvider]) -> None:
    center = Smsc(free_port())
    provider = _provider(providers, center.url)
    with pytest.raises(SmsError):
        await provider.send(TO, "while down")
    await center.start()
    try:
        assert await provider.send(TO, "back") == "msg-1"
    finally:
        await center.stop()


async def test_binds_again_after_the_smsc_unbinds(
    smsc: Smsc, providers: list[SmppSmsProvider]
) -> None:
    provider = _provider(providers, smsc.url)
    await provider.send(TO, "first")
    unbind = asyncio.ensure_future(smsc.sessions[0].unbind())  # already a Future
    # wait until the SMSC's unbind has reached the idle client (no sleeping)
    client = provider._link.client
    assert client is not None
    readable, _, _ = await asyncio.to_thread(select.select, [client._socket], [], [], 5.0)
    assert readable, "the SMSC's unbind never arrived"
    assert await provider.send(TO, "second") == "msg-2"
    await asyncio.wait_for(unbind, 5.0)  # we answered it
    assert len(smsc.sessions) == 2


async def test_no_answer_in_time_is_temporary_and_drops_the_session(
    smsc: Smsc, providers: list[SmppSmsProvider]
) -> None:
    provider = SmppSmsProvider(smsc.url, timeout=0.3)
    providers.append(provider)
    smsc.hold = True
    with pytest.raises(SmsError, match="no answer in time") as caught:
        await provider.send(TO, "x")
    assert not caught.value.permanent
    smsc.hold = False
    assert await provider.send(TO, "y") == "msg-2"
    assert len(smsc.sessions) == 2  # a fresh session: the old one was in doubt


async def test_concurrent_sends_share_one_session(
    smsc: Smsc, providers: list[SmppSmsProvider]
) -> None:
    provider = _provider(providers, smsc.url)
    ids = await asyncio.gather(*(provider.send(TO, f"m{i}") for i in range(8)))
    assert sorted(ids) == sorted(f"msg-{i}" for i in range(1, 9))
    assert sorted(gsm7.decode(p.short_message) for p in smsc.submits) == [f"m{i}" for i in range(8)]
    assert len(smsc.sessions) == 1


async def test_close_unbinds(smsc: Smsc, providers: list[SmppSmsProvider]) -> None:
    provider = _provider(providers, smsc.url)
    await provider.send(TO, "x")
    await provider.close()
    await asyncio.wait_for(smsc.unbound.wait(), 5.0)
    assert await provider.send(TO, "after close") == "msg-2"  # binds anew on demand


async def test_wire_logs_never_show_the_password(
    smsc: Smsc, providers: list[SmppSmsProvider], caplog: pytest.LogCaptureFixture
) -> None:
    provider = _provider(providers, smsc.url)
    with caplog.at_level(logging.DEBUG):
        await provider.send(TO, "x")
    logged = caplog.text
    assert PASSWORD not in logged and PASSWORD.encode().hex() not in logged
    assert PASSWORD not in repr(provider) and PASSWORD not in repr(provider.settings)


# --- configuration (no SMSC needed) -------------------------------------------------


def test_settings_from_url() -> None:
    settings = SmppSettings.from_url(
        "smpp://tk%40x:p%3Ass@smsc.example?system_type=VMA&source=Telekonf", sender="ignored"
    )
    assert (settings.host, settings.port) == ("smsc.example", 2775)
    assert (settings.system_id, settings.password) == ("tk@x", "p:ss")
    assert (settings.system_type, settings.source) == ("VMA", "Telekonf")
    assert SmppSettings.from_url("smpp://a@h", sender="+38611").source == "+38611"
    assert SmppSettings.from_url("smpp://a@h?source=+38611").source == "+38611"  # not a space


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("", (0, 0, "")),
        ("+38611234567", (1, 1, "38611234567")),
        ("1234", (0, 1, "1234")),
        ("Telekonf", (5, 0, "Telekonf")),
        ("Tele Konf 1", (5, 0, "Tele Konf 1")),
    ],
)
def test_source_address(source: str, expected: tuple[int, int, str]) -> None:
    assert source_address(source) == expected


@pytest.mark.parametrize("source", ["Telekonf Ljubljana", "Šola", "+", "tab\there"])
def test_unsendable_sender_is_refused(source: str) -> None:
    with pytest.raises(ValueError, match="sender"):
        source_address(source)
