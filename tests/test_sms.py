"""SMS: segment counting, the development sink, the provider factory and the HTTP provider.

The HTTP provider is tested against a real aiohttp server on loopback that records
what it receives; the SMPP provider has its own file (test_sms_smpp.py).
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import pytest
from aiohttp import web
from hypothesis import given, settings
from hypothesis import strategies as st

from server.notify.sms import (
    DevSmsProvider,
    HttpSmsProvider,
    SmppSmsProvider,
    SmsError,
    count_segments,
    gsm7,
    is_gsm7,
    provider_from_url,
    split_segments,
)
from server.notify.sms.concat import submission
from server.notify.sms.http import find_id, parse_auth
from server.notify.sms.segments import SmsSegments

TO = "+38640123456"

# --- the GSM 03.38 alphabet -------------------------------------------------------

GSM_ACCENTED = "éèùìòÇØøÅåÄÖÑÜ§äöñüàßÉÆæ¡¿£¥¤"
GREEK = "ΔΦΓΛΩΠΨΣΘΞ"
EXTENSION = "^{}\\[~]|€\f"
# "\u0391" (Greek Alpha) and "\u2126" (Ohm sign) look like GSM-7 letters but are not
NOT_GSM = [
    "č",
    "š",
    "ž",
    "ć",
    "đ",
    "Č",
    "Š",
    "Ž",
    "Ć",
    "Đ",
    "ç",
    "á",
    "ê",
    "í",
    "ó",
    "ú",
    "`",
    "\u0391",
    "\u2126",
    "\x1b",
    "\t",
    "😀",
    "„",
]


def test_the_default_alphabet_has_128_positions_in_standard_order() -> None:
    table = gsm7.DEFAULT_ALPHABET
    assert len(table) == 128
    assert table[0x00] == "@" and table[0x09] == "Ç" and table[0x0A] == "\n"
    assert table[0x10] == "Δ" and table[0x1B] == "\x1b" and table[0x1F] == "É"
    assert table[0x24] == "¤" and table[0x40] == "¡" and table[0x5F] == "§"
    assert table[0x60] == "¿" and table[0x7F] == "à"
    assert len(set(table)) == 128


@pytest.mark.parametrize("ch", list(GSM_ACCENTED + GREEK + " @$_!\"#%&'()*+,-./:;<=>?\n\r"))
def test_gsm7_characters_cost_one_septet(ch: str) -> None:
    assert is_gsm7(ch)
    assert count_segments(ch) == SmsSegments("GSM-7", 1, 1, 160)


@pytest.mark.parametrize("ch", list(EXTENSION))
def test_extension_characters_cost_two_septets(ch: str) -> None:
    assert is_gsm7(ch)
    assert count_segments(ch).units == 2
    assert gsm7.encode(ch)[0] == 0x1B


@pytest.mark.parametrize("ch", NOT_GSM)
def test_other_characters_need_ucs2(ch: str) -> None:
    assert not is_gsm7(ch)
    assert count_segments("Zdravo " + ch).encoding == "UCS-2"


def test_gsm7_encoding_round_trips() -> None:
    text = "Zdravo Ana! Koda: {1234} [ok] ~ 5€ | @home\n¿Qué? Ø Δ"
    assert gsm7.decode(gsm7.encode(text)) == text
    assert gsm7.encode("@€a") == bytes([0x00, 0x1B, 0x65, 0x61])
    with pytest.raises(ValueError, match="U\\+010D"):
        gsm7.encode("č")


# --- counting segments: golden numbers --------------------------------------------


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments", "per_segment"),
    [
        ("", "GSM-7", 0, 1, 160),
        ("a" * 160, "GSM-7", 160, 1, 160),
        ("a" * 161, "GSM-7", 161, 2, 153),
        ("a" * 306, "GSM-7", 306, 2, 153),
        ("a" * 307, "GSM-7", 307, 3, 153),
        ("č" * 70, "UCS-2", 70, 1, 70),
        ("č" * 71, "UCS-2", 71, 2, 67),
        ("č" * 134, "UCS-2", 134, 2, 67),
        ("č" * 135, "UCS-2", 135, 3, 67),
        ("€", "GSM-7", 2, 1, 160),
        ("€" * 80, "GSM-7", 160, 1, 160),
        ("€" * 81, "GSM-7", 162, 2, 153),
        ("a" * 159 + "€", "GSM-7", 161, 2, 153),
        ("😀", "UCS-2", 2, 1, 70),
        ("😀" * 35, "UCS-2", 70, 1, 70),
        ("😀" * 36, "UCS-2", 72, 2, 67),
        ("a" * 69 + "č", "UCS-2", 70, 1, 70),  # one č turns the whole text into UCS-2
        ("a" * 152 + "€" + "a" * 152, "GSM-7", 306, 3, 153),  # not 2: € moves whole
        ("č" * 66 + "😀" + "č" * 66, "UCS-2", 134, 3, 67),  # not 2: 😀 moves whole
    ],
)
def test_count_segments(
    text: str, encoding: str, units: int, segments: int, per_segment: int
) -> None:
    assert count_segments(text) == SmsSegments(encoding, units, segments, per_segment)


def test_an_escape_at_the_153_boundary_is_not_split() -> None:
    text = "a" * 152 + "€" + "b" * 10
    assert split_segments(text) == ["a" * 152, "€" + "b" * 10]
    assert count_segments(text).segments == 2


def test_a_surrogate_pair_at_the_67_boundary_is_not_split() -> None:
    text = "č" * 66 + "😀" + "č" * 10
    assert split_segments(text) == ["č" * 66, "😀" + "č" * 10]


def test_split_fills_parts_to_the_brim() -> None:
    assert [len(p) for p in split_segments("a" * 307)] == [153, 153, 1]
    assert [len(p) for p in split_segments("č" * 135)] == [67, 67, 1]
    assert [len(p) for p in split_segments("€" * 81)] == [76, 5]
    assert split_segments("a" * 160) == ["a" * 160]


# Alphabets that hit the boundaries often: 1- and 2-unit characters of both encodings.
_MIXED = st.sampled_from([*"ab €{]\n", "č", "😀", "é", "Δ"])


def _units(part: str, encoding: str) -> int:
    if encoding == "GSM-7":
        return len(gsm7.encode(part))
    return len(part.encode("utf-16-le")) // 2


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(_MIXED, max_size=500), st.text(max_size=400)))
def test_split_and_count_agree(text: str) -> None:
    parts = split_segments(text)
    counted = count_segments(text)
    assert "".join(parts) == text
    assert len(parts) == counted.segments
    assert all(_units(part, counted.encoding) <= counted.per_segment for part in parts)
    if counted.segments > 1:
        assert all(parts)
        # greedy: each full part could not have taken the next character
        for part, following in itertools.pairwise(parts):
            grown = part + following[0]
            assert _units(grown, counted.encoding) > counted.per_segment


# --- SMPP payloads (pure) -----------------------------------------------------------


def test_submission_of_a_short_gsm_text() -> None:
    message = submission("Hi €", reference=7)
    assert (message.data_coding, message.esm_class) == (0, 0)
    assert message.payloads == [b"Hi \x1b\x65"]


def test_submission_of_a_long_text_carries_concatenation_headers() -> None:
    text = "č" * 66 + "😀" + "č" * 10
    message = submission(text, reference=0x1A5)  # only the low octet is used
    assert (message.data_coding, message.esm_class) == (8, 0x40)
    headers = [p[:6] for p in message.payloads]
    assert headers == [bytes([5, 0, 3, 0xA5, 2, 1]), bytes([5, 0, 3, 0xA5, 2, 2])]
    assert "".join(p[6:].decode("utf-16-be") for p in message.payloads) == text
    assert max(len(p) for p in message.payloads) <= 140


def test_submission_refuses_more_than_255_parts() -> None:
    with pytest.raises(ValueError, match="256 SMS"):
        submission("a" * (153 * 255 + 1), reference=0)


# --- the development sink -----------------------------------------------------------


async def test_dev_provider_keeps_the_last_messages() -> None:
    moment = datetime(2030, 1, 2, 3, 4, tzinfo=UTC)
    dev = DevSmsProvider(keep=3, now=lambda: moment)
    ids = [await dev.send(TO, f"m{i}") for i in range(5)]
    assert ids == ["dev-1", "dev-2", "dev-3", "dev-4", "dev-5"]
    assert [m.text for m in dev.sent] == ["m2", "m3", "m4"]
    assert dev.sent[-1] == (TO, "m4", moment)
    await dev.close()


async def test_dev_provider_keeps_1000_by_default() -> None:
    dev = DevSmsProvider()
    for i in range(1005):
        await dev.send(TO, str(i))
    assert len(dev.sent) == 1000 and dev.sent[0].text == "5"


@pytest.mark.parametrize(
    "to",
    # the last one: fullwidth digits, which str.isdigit() would accept
    [
        "38640123456",
        "+0123",
        "+386 40 123 456",
        "+",
        "",
        "+3864012345678901",
        "+\uff13\uff18\uff16",
    ],
)
async def test_a_malformed_number_is_a_permanent_error(to: str) -> None:
    with pytest.raises(SmsError) as caught:
        await DevSmsProvider().send(to, "x")
    assert caught.value.permanent
    assert "E.164" in str(caught.value)


async def test_a_lone_surrogate_is_a_permanent_error() -> None:
    with pytest.raises(SmsError) as caught:
        await DevSmsProvider().send(TO, "bad \ud800")
    assert caught.value.permanent


# --- provider_from_url --------------------------------------------------------------


@pytest.mark.parametrize("spec", [None, "", "  ", "dev", "DEV"])
def test_no_spec_means_the_development_sink(spec: str | None) -> None:
    assert isinstance(provider_from_url(spec), DevSmsProvider)


def test_smpp_url() -> None:
    provider = provider_from_url("smpp://tk:pw@smsc.example:2776?source=%2B38611234567")
    assert isinstance(provider, SmppSmsProvider)
    assert provider.settings.port == 2776 and provider.settings.source == "+38611234567"
    assert "pw" not in repr(provider)


def test_http_url_with_options() -> None:
    provider = provider_from_url(
        "https://api.example/v1/sms?key=K3Y",
        http_method="put",
        http_auth="bearer:T0KEN",
        http_content_type="form",
        http_template="dst={to_digits}&msg={text}",
        http_id_path="id",
        sender="Telekonf",
    )
    assert isinstance(provider, HttpSmsProvider)
    assert (provider.method, provider.content_type, provider.sender) == ("PUT", "form", "Telekonf")
    shown = repr(provider)
    assert "api.example/v1/sms" in shown and "K3Y" not in shown and "T0KEN" not in shown


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("smtp://user:s3cret@mail.example", "scheme 'smtp'"),
        ("user:s3cret@host", "scheme 'user'"),
        ("just-a-word", "without a scheme"),
        ("smpp://:s3cret@host", "names no system_id"),
        ("smpp://user:s3cret@", "names no host"),
        ("smpp://user:s3cret@host:99999", "(?i)port"),
        ("smpp://user:s3cret@host?colour=red", "unknown option 'colour'"),
        ("smpp://user:s3cret_too_long@host", "password must be at most 8"),
        ("smpp://user:s3cret@host?source=Telekonf%20Ljubljana", "sender"),
        ("https:///nohost", r"http\(s\)://host"),
    ],
)
def test_a_bad_spec_is_a_clear_value_error(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        provider_from_url(spec)
    assert "s3cret" not in str(caught.value)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"http_method": "DELETE"}, "method"),
        ({"http_content_type": "xml"}, "content type"),
        ({"http_auth": "digest:a:b"}, "basic:USER:PASSWORD"),
        ({"http_auth": "header:Bad Name:v"}, "header name"),
        ({"http_template": '{"to": "{to}", "x": "{recipient}"}'}, "unknown placeholder"),
        ({"http_template": '{"to": {to}, "text": "{text}"}'}, "not valid JSON"),
        ({"http_template": '{"text": {text}}'}, "not valid JSON"),
        ({"http_method": "GET"}, "GET"),
    ],
)
def test_bad_http_options_are_value_errors(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        provider_from_url("https://api.example/sms", **options)


# --- HTTP helpers -------------------------------------------------------------------


def test_parse_auth() -> None:
    user_pass = base64.b64encode(b"ana:p:a:ss").decode()
    assert parse_auth("basic:ana:p:a:ss") == ("Authorization", f"Basic {user_pass}")
    assert parse_auth("bearer:abc") == ("Authorization", "Bearer abc")
    assert parse_auth("header:X-Api-Key:k:1") == ("X-Api-Key", "k:1")
    assert parse_auth(None) is None
    with pytest.raises(ValueError, match="line break"):
        parse_auth("bearer:abc\r\nX-Evil: 1")


def test_find_id() -> None:
    doc = {"messages": [{"id": "m-1", "n": 5}], "a/b": {"~": "odd"}, "nil": None}
    assert find_id(doc, "/messages/0/id") == "m-1"
    assert find_id(doc, "messages.0.n") == "5"
    assert find_id(doc, "/a~1b/~0") == "odd"
    assert find_id(doc, "/messages/1/id") == ""
    assert find_id(doc, "nil") == "" and find_id(doc, "messages") == ""
    assert find_id(None, "id") == ""


# --- HTTP against a real server -----------------------------------------------------


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


@dataclass
class Gateway:
    """An SMS API on loopback: records each request, answers as told."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    status: int = 200
    answer: str = '{"messages": [{"id": "abc-1"}]}'
    hang: bool = False

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append(
            Received(
                request.method,
                request.path,
                parse_qs(request.query_string),
                dict(request.headers),
                await request.read(),
            )
        )
        if self.hang:  # never answers: the client's timeout must fire
            await asyncio.Event().wait()
        return web.Response(status=self.status, text=self.answer, content_type="application/json")

    @property
    def last(self) -> Received:
        return self.received[-1]


@pytest.fixture
async def gateway(aiohttp_server: Any) -> Gateway:
    gw = Gateway()
    app = web.Application()
    app.router.add_route("*", "/v1/sms", gw.handle)
    server = await aiohttp_server(app)
    gw.url = str(server.make_url("/v1/sms"))
    return gw


@pytest.fixture
async def closing() -> AsyncIterator[list[HttpSmsProvider]]:
    """Providers to close after the test."""
    providers: list[HttpSmsProvider] = []
    yield providers
    for provider in providers:
        await provider.close()


def _http(closing: list[HttpSmsProvider], url: str, **options: Any) -> HttpSmsProvider:
    provider = HttpSmsProvider(url, **options)
    closing.append(provider)
    return provider


async def test_json_body_is_escaped(gateway: Gateway, closing: list[HttpSmsProvider]) -> None:
    provider = _http(closing, gateway.url, sender='Tele"konf', id_path="/messages/0/id")
    text = 'Šola "x"\n\\ {sender} </script> 😀'
    assert await provider.send(TO, text) == "abc-1"
    got = gateway.last
    assert got.method == "POST"
    assert got.headers["Content-Type"] == "application/json; charset=utf-8"
    assert json.loads(got.body) == {"to": TO, "from": 'Tele"konf', "text": text}
    assert "Šola".encode() in got.body  # UTF-8, not \u escapes


async def test_custom_json_template_with_digits(
    gateway: Gateway, closing: list[HttpSmsProvider]
) -> None:
    template = '{"messages": [{"msisdn": {to_digits}, "body": "{text}", "tag": "tk"}]}'
    provider = _http(closing, gateway.url, template=template)
    assert await provider.send(TO, "x") == ""  # no id_path: no id
    assert json.loads(gateway.last.body) == {
        "messages": [{"msisdn": 38640123456, "body": "x", "tag": "tk"}]
    }


async def test_form_body_is_url_encoded(gateway: Gateway, closing: list[HttpSmsProvider]) -> None:
    provider = _http(
        closing,
        gateway.url,
        content_type="form",
        sender="Tele konf",
        template="to={to}&dst={to_digits}&from={sender}&text={text}",
    )
    text = "a&b=c+d Šola 100%\n"
    await provider.send(TO, text)
    got = gateway.last
    assert got.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(got.body.decode("ascii")) == {
        "to": [TO],
        "dst": ["38640123456"],
        "from": ["Tele konf"],
        "text": [text],
    }


async def test_get_sends_the_form_as_query(
    gateway: Gateway, closing: list[HttpSmsProvider]
) -> None:
    provider = _http(closing, gateway.url + "?apikey=K", method="GET", content_type="form")
    await provider.send(TO, "Živjo")
    got = gateway.last
    assert got.method == "GET" and got.body == b""
    assert got.query == {"apikey": ["K"], "to": [TO], "text": ["Živjo"]}


@pytest.mark.parametrize(
    ("auth", "header", "value"),
    [
        ("basic:ana:p:ss", "Authorization", "Basic " + base64.b64encode(b"ana:p:ss").decode()),
        ("bearer:T0K", "Authorization", "Bearer T0K"),
        ("header:X-Api-Key:k3y", "X-Api-Key", "k3y"),
    ],
)
async def test_auth_header_is_sent(
    gateway: Gateway, closing: list[HttpSmsProvider], auth: str, header: str, value: str
) -> None:
    await _http(closing, gateway.url, auth=auth).send(TO, "x")
    assert gateway.last.headers[header] == value


async def test_credentials_in_the_url_become_basic_auth(
    gateway: Gateway, closing: list[HttpSmsProvider]
) -> None:
    url = gateway.url.replace("http://", "http://ana:p%40ss@")
    provider = _http(closing, url)
    assert "p%40ss" not in repr(provider) and "ana" not in repr(provider)
    await provider.send(TO, "x")
    expected = "Basic " + base64.b64encode(b"ana:p@ss").decode()
    assert gateway.last.headers["Authorization"] == expected


@pytest.mark.parametrize(
    ("status", "permanent"),
    [
        (400, True),
        (401, True),
        (404, True),
        (422, True),
        (408, False),
        (429, False),
        (500, False),
        (502, False),
        (503, False),
        (302, False),
    ],
)
async def test_status_decides_permanent_or_temporary(
    gateway: Gateway, closing: list[HttpSmsProvider], status: int, permanent: bool
) -> None:
    gateway.status, gateway.answer = status, '{"error": "invalid number"}'
    provider = _http(closing, gateway.url + "?apikey=S3CRET", auth="bearer:T0KEN")
    with pytest.raises(SmsError) as caught:
        await provider.send(TO, "x")
    assert caught.value.permanent is permanent
    message = str(caught.value)
    assert f"answered {status}" in message and "invalid number" in message
    assert "S3CRET" not in message and "T0KEN" not in message
    assert len(gateway.received) == 1  # no redirect followed, no retry


async def test_a_missing_id_is_not_an_error(
    gateway: Gateway, closing: list[HttpSmsProvider]
) -> None:
    gateway.answer = "OK"
    assert await _http(closing, gateway.url, id_path="id").send(TO, "x") == ""


@pytest.fixture
def refusing_port() -> Iterator[int]:
    """A port that refuses connections: bound, never listening."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


async def test_connection_refused_is_temporary(
    refusing_port: int, closing: list[HttpSmsProvider]
) -> None:
    provider = _http(closing, f"http://127.0.0.1:{refusing_port}/sms?apikey=S3CRET")
    with pytest.raises(SmsError) as caught:
        await provider.send(TO, "x")
    assert not caught.value.permanent
    assert "S3CRET" not in str(caught.value)


async def test_no_answer_in_time_is_temporary(
    gateway: Gateway, closing: list[HttpSmsProvider]
) -> None:
    gateway.hang = True
    provider = _http(closing, gateway.url, timeout=0.3)
    with pytest.raises(SmsError, match=r"no answer within 0\.3 s") as caught:
        await provider.send(TO, "x")
    assert not caught.value.permanent


async def test_one_session_is_reused_and_closed(
    gateway: Gateway, closing: list[HttpSmsProvider]
) -> None:
    provider = _http(closing, gateway.url)
    await provider.send(TO, "1")
    session = provider._session
    await provider.send(TO, "2")
    assert provider._session is session and session is not None
    await provider.close()
    assert session.closed
    await provider.send(TO, "3")  # usable again: a new session
    assert len(gateway.received) == 3
