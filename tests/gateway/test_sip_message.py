"""SIP message parsing and building: real vectors, malformed corpus, fuzzing, helpers."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.sip.message import (
    MAX_MESSAGE_SIZE,
    CSeq,
    Headers,
    NameAddr,
    SipParseError,
    SipRequest,
    SipResponse,
    SipUri,
    StreamFramer,
    Via,
    canonical_name,
    is_keepalive,
    make_cancel,
    make_response,
    parse_message,
    stamp_received,
)

DATA = Path(__file__).parent / "data"
VECTORS = sorted(path.name for path in DATA.glob("*.sip"))


def vector(name: str) -> bytes:
    # Normalise to CRLF whatever a checkout did to the line ends; the files are written in CRLF.
    return (DATA / name).read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def crlf(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode()


OPTIONS = crlf(
    "OPTIONS sip:bridge@example.org SIP/2.0\n"
    "Via: SIP/2.0/UDP 192.0.2.7:5060;branch=z9hG4bK74bf9;rport\n"
    "Max-Forwards: 70\n"
    "From: <sip:probe@example.net>;tag=9fxced76sl\n"
    "To: <sip:bridge@example.org>\n"
    "Call-ID: 3848276298220188511@192.0.2.7\n"
    "CSeq: 63104 OPTIONS\n"
    "Content-Length: 0\n"
    "\n"
)


# --------------------------------------------------------------------------------------------
# Real vectors


def test_all_vectors_are_present() -> None:
    assert len(VECTORS) >= 10


@pytest.mark.parametrize("name", VECTORS)
def test_vector_round_trip(name: str) -> None:
    data = vector(name)
    message = parse_message(data)
    again = parse_message(bytes(message))
    assert again == message
    assert bytes(again) == bytes(message)  # serialisation is a fixpoint after one pass
    assert b"\r\n\r\n" in bytes(message)
    assert bytes(message).count(b"Content-Length:") == 1


@pytest.mark.parametrize("name", VECTORS)
def test_vector_accessors(name: str) -> None:
    message = parse_message(vector(name))
    assert message.call_id
    assert message.vias and message.top_via == message.vias[0]
    assert message.branch == message.top_via.branch
    assert message.from_.tag
    assert message.cseq.number > 0
    if isinstance(message, SipRequest):
        assert message.cseq.method == message.method


def test_sipp_invite() -> None:
    message = parse_message(vector("sipp_uac_invite.sip"))
    assert isinstance(message, SipRequest)
    assert message.method == "INVITE"
    assert message.uri == SipUri("sip", "service", "192.168.1.20", 5060)
    assert message.from_.display_name == "sipp"
    assert message.from_.tag == "31337SIPpTag001"
    assert message.to.tag is None
    assert message.contact == NameAddr(SipUri("sip", "sipp", "192.168.1.10", 5061))
    assert message.headers.get("Subject") == "Performance Test"
    assert message.body.startswith(b"v=0\r\n") and message.body.endswith(b"PCMU/8000\r\n")
    assert "Content-Length" not in message.headers  # derived from the body on output
    assert message.max_forwards == 70


def test_baresip_invite() -> None:
    message = parse_message(vector("baresip_invite.sip"))
    via = message.top_via
    assert (via.transport, via.host, via.port) == ("UDP", "192.168.178.34", 5060)
    assert "rport" in via.params and via.params["rport"] is None
    assert message.from_.display_name == "Alice Example"
    assert message.headers.get_all("Allow")[:3] == ["INVITE", "ACK", "BYE"]
    assert len(message.headers.get_all("Allow")) == 11
    assert message.headers.get_all("Supported") == ["replaces", "norefersub", "100rel"]
    assert message.contact is not None
    assert message.contact.uri.transport == "UDP"


def test_kamailio_proxied_invite() -> None:
    message = parse_message(vector("kamailio_proxied_invite.sip"))
    vias = message.vias
    assert [v.host for v in vias] == ["203.0.113.10", "192.168.178.34"]
    assert vias[0].port is None
    assert vias[1].received == "198.51.100.23" and vias[1].rport == 40123
    assert vias[1].response_address() == ("198.51.100.23", 40123)
    (record_route,) = message.record_routes
    assert record_route.uri.loose_routing
    assert record_route.uri.params["ftag"] == "7d0c2a3e9b1f4c5a"
    assert message.max_forwards == 69
    assert message.contact is not None
    assert message.contact.uri.params["alias"] == "198.51.100.23~40123~1"


def test_carrier_sbc_invite() -> None:
    message = parse_message(vector("carrier_sbc_invite.sip"))
    assert isinstance(message, SipRequest)
    assert message.uri.user == "+4989123456;npdi;rn=+498999"
    assert message.uri.params == {"user": "phone"}
    assert len(message.headers.lines("Via")) == 1  # two values in one line
    assert [v.host for v in message.vias] == ["192.0.2.1", "192.0.2.200"]
    assert message.vias[1].rport == 5060
    assert message.from_.display_name == 'M"uller, Hans'
    (pai,) = [NameAddr.parse(v) for v in message.headers.get_all("P-Asserted-Identity")]
    assert pai.uri.scheme == "tel" and pai.uri.user == "+4930123456789"
    assert pai.display_name == 'M"uller, Hans'  # the comma in quotes did not split the list
    assert message.headers.get("Session-Expires") == "1800;refresher=uac"
    # Odd case on the wire, canonical on output.
    names = [name for name, _ in message.headers]
    assert names[:4] == ["Via", "From", "To", "Call-ID"]
    assert b"\r\nCall-ID: SDd4ah499" in bytes(message)


def test_compact_and_folded_headers() -> None:
    message = parse_message(vector("compact_folded_options.sip"))
    names = [name for name, _ in message.headers]
    assert names == [
        "Via",
        "From",
        "To",
        "Call-ID",
        "CSeq",
        "Contact",
        "Subject",
        "Supported",
        "Max-Forwards",
        "Accept",
    ]
    via = message.top_via
    assert via.transport == "TCP"
    assert via.params == {"branch": "z9hG4bKnashds7", "rport": None, "alias": None}
    assert message.headers.get("Subject") == "A subject line that was folded"
    assert message.contact is not None
    assert message.contact.params == {"expires": "3600"}
    assert "ob" in message.contact.uri.params
    assert message.headers.get_all("Supported") == ["timer", "100rel"]
    assert message.to == NameAddr(SipUri("sip", "bridge", "example.org"))
    out = bytes(message)
    assert out.startswith(b"OPTIONS sip:bridge@example.org;transport=tcp SIP/2.0\r\nVia: ")
    assert b"\r\nCSeq: 1826 OPTIONS\r\n" in out and b"\r\nMax-Forwards: 70\r\n" in out


def test_ipv6_register() -> None:
    message = parse_message(vector("ipv6_register.sip"))
    assert isinstance(message, SipRequest)
    assert message.uri.host == "[2001:db8::10]" and message.uri.port is None
    assert message.top_via.host == "[2001:db8::9:1]" and message.top_via.port == 5060
    contact = message.contact
    assert contact is not None
    assert contact.uri.host == "[2001:db8::9:1]"
    assert contact.params["+sip.instance"] == '"<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>"'
    assert contact.params["reg-id"] == "1"
    assert message.call_id == "a84b4c76e66710@2001:db8::9:1"


def test_kamailio_401_keeps_commas_in_auth_and_date() -> None:
    message = parse_message(vector("kamailio_401.sip"))
    assert isinstance(message, SipResponse)
    assert (message.status, message.reason) == (401, "Unauthorized")
    (challenge,) = message.headers.get_all("WWW-Authenticate")
    assert challenge.startswith('Digest realm="example.org", nonce=')
    assert challenge.endswith("algorithm=MD5")
    assert message.headers.get_all("Date") == ["Fri, 21 Nov 2025 06:12:00 GMT"]


def test_carrier_200_ok_record_route() -> None:
    message = parse_message(vector("carrier_200_ok.sip"))
    assert isinstance(message, SipResponse)
    routes = message.record_routes
    assert [r.uri.host for r in routes] == ["192.0.2.1", "10.1.1.1", "10.1.1.2"]
    assert all(r.uri.loose_routing for r in routes)
    assert routes[1].uri.transport == "TCP"
    assert message.to.tag == "3f1c5e7a9b"


def test_tel_request_uri() -> None:
    message = parse_message(vector("tel_uri_message.sip"))
    assert isinstance(message, SipRequest)
    assert message.uri == SipUri("tel", "+4930123456", "", None, {"phone-context": "+49"})
    assert str(message.uri) == "tel:+4930123456;phone-context=+49"
    assert message.from_.uri.scheme == "sips"
    assert message.body.decode() == "Grüß Gott, the conference starts at 10:00."


# --------------------------------------------------------------------------------------------
# Headers


def test_canonical_names() -> None:
    assert canonical_name("i") == "Call-ID"
    assert canonical_name("CALL-id") == "Call-ID"
    assert canonical_name("cseq") == "CSeq"
    assert canonical_name("www-authenticate") == "WWW-Authenticate"
    assert canonical_name("o") == "Event"
    assert canonical_name("u") == "Allow-Events"
    assert canonical_name("r") == "Refer-To"
    assert canonical_name("b") == "Referred-By"
    assert canonical_name("X-Carrier-Trace") == "X-Carrier-Trace"  # unknown: as written
    assert canonical_name("Q") == "Q"  # not a compact form


def test_headers_api() -> None:
    headers = Headers([("v", "SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/UDP b;branch=z9hG4bK2")])
    headers.add("Via", "SIP/2.0/UDP c;branch=z9hG4bK3")
    headers.add("Via", "SIP/2.0/UDP top;branch=z9hG4bK0", first=True)
    assert [v.split()[1].split(";")[0] for v in headers.get_all("VIA")] == ["top", "a", "b", "c"]
    assert headers.get("via") == "SIP/2.0/UDP top;branch=z9hG4bK0"
    assert len(headers.lines("Via")) == 3
    assert "v" in headers and "Via" in headers and "Route" not in headers
    assert 42 not in headers
    headers.add("Subject", "Hello, world")
    assert headers.get_all("Subject") == ["Hello, world"]
    headers.set("Subject", "Bye")
    assert headers.get("s") == "Bye"
    assert headers.get("Route") is None and headers.get("Route", "x") == "x"
    assert headers.remove("Via") == 3
    assert list(headers) == [("Subject", "Bye")]
    assert len(headers) == 1
    with pytest.raises(ValueError):
        headers.add("Subject", "evil\r\nVia: injected")
    with pytest.raises(ValueError):
        headers.add("Bad Name", "x")


def test_headers_set_keeps_position() -> None:
    headers = Headers([("From", "<sip:a@b>"), ("Allow", "INVITE"), ("To", "<sip:c@d>")])
    headers.add("Allow", "BYE")
    headers.set("Allow", ["ACK", "CANCEL"])
    assert [n for n, _ in headers] == ["From", "Allow", "Allow", "To"]
    assert headers.get_all("Allow") == ["ACK", "CANCEL"]


def test_headers_equality_is_semantic() -> None:
    one = Headers([("Allow", "INVITE, ACK"), ("To", "<sip:b@c>")])
    other = Headers([("To", "<sip:b@c>"), ("allow", "INVITE"), ("ALLOW", "ACK")])
    assert one == other
    assert one != Headers([("Allow", "ACK, INVITE"), ("To", "<sip:b@c>")])
    assert one != "Allow: INVITE"


def test_contact_list_splits_outside_quotes_and_brackets() -> None:
    headers = Headers(
        [("Contact", '"Doe, John" <sip:a@b;x=1,2>;q=0.7, <sip:c@d>;methods="INVITE,BYE"')]
    )
    values = headers.get_all("m")
    assert len(values) == 2
    assert NameAddr.parse(values[0]).display_name == "Doe, John"
    assert NameAddr.parse(values[1]).params["methods"] == '"INVITE,BYE"'


# --------------------------------------------------------------------------------------------
# URIs, addresses, Via, CSeq


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sip:alice@atlanta.com", SipUri("sip", "alice", "atlanta.com")),
        (
            "sip:alice:secretword@atlanta.com;transport=tcp",
            SipUri("sip", "alice", "atlanta.com", None, {"transport": "tcp"}, {}, "secretword"),
        ),
        (
            "sips:alice@atlanta.com?subject=project%20x&priority=urgent",
            SipUri(
                "sips",
                "alice",
                "atlanta.com",
                None,
                {},
                {"subject": "project%20x", "priority": "urgent"},
            ),
        ),
        (
            "sip:+1-212-555-1212:1234@gateway.com;user=phone",
            SipUri("sip", "+1-212-555-1212", "gateway.com", None, {"user": "phone"}, {}, "1234"),
        ),
        ("sip:atlanta.com;method=REGISTER?to=alice%40atlanta.com", None),
        ("sip:alice;day=tuesday@atlanta.com", SipUri("sip", "alice;day=tuesday", "atlanta.com")),
        ("sip:[2001:db8::1]:5070;lr", SipUri("sip", None, "[2001:db8::1]", 5070, {"lr": None})),
        (
            "sip:10.0.0.1;LR;Transport=TLS",
            SipUri("sip", None, "10.0.0.1", None, {"lr": None, "transport": "TLS"}),
        ),
        ("SIP:Bob@Biloxi.example.COM:5060", SipUri("sip", "Bob", "Biloxi.example.COM", 5060)),
        (
            "tel:+358-555-1234567;postd=pp22",
            SipUri("tel", "+358-555-1234567", "", None, {"postd": "pp22"}),
        ),
        (
            "tel:7042;phone-context=example.com",
            SipUri("tel", "7042", "", None, {"phone-context": "example.com"}),
        ),
        ("sip:*67%23123@pbx_1.example.net", SipUri("sip", "*67%23123", "pbx_1.example.net")),
    ],
)
def test_uri_parse(text: str, expected: SipUri | None) -> None:
    uri = SipUri.parse(text)
    if expected is not None:
        assert uri == expected
    assert SipUri.parse(str(uri)) == uri


def test_uri_str_is_canonical() -> None:
    assert str(SipUri.parse("SIP:bob@h:05060;LR")) == "sip:bob@h:5060;lr"
    assert str(SipUri("sip", "bob", "[::1]", 5060, {"transport": "udp"})) == (
        "sip:bob@[::1]:5060;transport=udp"
    )


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("mailto:alice@example.org", 416),
        ("http://example.org/", 416),
        ("sip:", 400),
        ("sip:@host", 400),
        ("sip:alice@", 400),
        ("sip:alice@host:99999", 400),
        ("sip:alice@host:5o60", 400),
        ("sip:alice@[2001:db8::1", 400),
        ("sip:alice@[not:an:address]", 400),
        ("sip:alice@2001:db8::1", 400),
        ("sip:alice @host", 400),
        ("sip:alice@ho<st", 400),
        ("sip:al\u00efce@host", 400),
        ("tel:", 400),
        ("tel:+49 30", 400),
        ("alice@example.org", 400),
    ],
)
def test_uri_errors(text: str, status: int) -> None:
    with pytest.raises(SipParseError) as info:
        SipUri.parse(text)
    assert info.value.status == status


@pytest.mark.parametrize(
    ("text", "display", "uri", "params"),
    [
        (
            '"Bob \\"B\\" \\\\ Smith" <sip:bob@b.com>;tag=1',
            'Bob "B" \\ Smith',
            "sip:bob@b.com",
            {"tag": "1"},
        ),
        (
            "Anonymous <sip:anonymous@anonymous.invalid>;tag=x",
            "Anonymous",
            "sip:anonymous@anonymous.invalid",
            {"tag": "x"},
        ),
        ("<sip:carol@chicago.com;lr>", None, "sip:carol@chicago.com;lr", {}),
        ("sip:carol@chicago.com;tag=887s", None, "sip:carol@chicago.com", {"tag": "887s"}),
        ('"" <tel:+4930123>', "", "tel:+4930123", {}),
        (
            '"J\u00fcrgen" <sip:j@x.de> ; tag = 9 ; expires=60',
            "J\u00fcrgen",
            "sip:j@x.de",
            {"tag": "9", "expires": "60"},
        ),
        ("Mr. Watson <mailto:watson@bell-telephone.com>", None, None, None),
    ],
)
def test_name_addr(
    text: str, display: str | None, uri: str | None, params: dict[str, str] | None
) -> None:
    if uri is None:
        with pytest.raises(SipParseError) as info:
            NameAddr.parse(text)
        assert info.value.status == 416
        return
    address = NameAddr.parse(text)
    assert address.display_name == display
    assert str(address.uri) == uri
    assert address.params == params
    assert NameAddr.parse(str(address)) == address


def test_name_addr_str_quotes_display_name() -> None:
    address = NameAddr(SipUri("sip", "a", "b"), 'Say "hi" \\', {"tag": "x"})
    assert str(address) == '"Say \\"hi\\" \\\\" <sip:a@b>;tag=x'
    assert NameAddr.parse(str(address)) == address


@pytest.mark.parametrize(
    "text",
    [
        '"unterminated <sip:a@b>',
        '"Bob" sip:a@b',
        "<sip:a@b",
        "<sip:a@b>;tag=a b",
        "<sip:a@b> junk",
        "sip:a@b?subject=x",
        '<sip:a@b>;x="open',
    ],
)
def test_name_addr_errors(text: str) -> None:
    with pytest.raises(SipParseError):
        NameAddr.parse(text)


def test_via_parse_and_str() -> None:
    via = Via.parse("SIP / 2.0 / udp  192.0.2.4 : 5060 ;branch=z9hG4bK776;rport ; received=1.2.3.4")
    assert via == Via(
        "UDP", "192.0.2.4", 5060, {"branch": "z9hG4bK776", "rport": None, "received": "1.2.3.4"}
    )
    assert str(via) == "SIP/2.0/UDP 192.0.2.4:5060;branch=z9hG4bK776;rport;received=1.2.3.4"
    assert via.rport is None and via.received == "1.2.3.4"
    assert via.response_address() == ("1.2.3.4", 5060)

    v6 = Via.parse("SIP/2.0/TLS [2001:db8::5];branch=z9hG4bKx;maddr=224.2.0.1;ttl=16")
    assert v6.host == "[2001:db8::5]" and v6.port is None
    assert v6.params["maddr"] == "224.2.0.1" and v6.params["ttl"] == "16"
    assert v6.response_address() == ("2001:db8::5", 5061)
    assert Via.parse(str(v6)) == v6
    assert Via.parse("SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bKx;rport=9").rport == 9
    assert Via("UDP", "h").branch is None
    assert Via.parse("SIP/2.0/UDP h;received=2001:db8::1").received == "2001:db8::1"


@pytest.mark.parametrize(
    "text",
    [
        "SIP/2.0 192.0.2.4",
        "SIP/2.0/UDP",
        "SIP/2.0/UDP 192.0.2.4:port",
        "SIP/2.0/UDP [2001:db8::1;branch=x",
        "SIP/2.0/UDP host;rport=abc",
        "SIP/2.0/UDP host junk",
        "SIP/2.0/UDP host;branch=a b",
    ],
)
def test_via_errors(text: str) -> None:
    with pytest.raises(SipParseError):
        Via.parse(text)


def test_cseq() -> None:
    assert CSeq.parse(" 4711   INVITE ") == CSeq(4711, "INVITE")
    assert str(CSeq(1, "BYE")) == "1 BYE"
    for bad in (
        "INVITE 1",
        "1",
        "-1 INVITE",
        "2147483648 INVITE",
        "99999999999 INVITE",
        "1 IN VITE",
    ):
        with pytest.raises(SipParseError):
            CSeq.parse(bad)


# --------------------------------------------------------------------------------------------
# Datagram specifics


def test_content_length_truncates_datagram() -> None:
    data = OPTIONS.replace(b"Content-Length: 0", b"Content-Length: 4") + b"abcdEXTRA"
    assert parse_message(data).body == b"abcd"


def test_missing_content_length_on_datagram_takes_the_rest() -> None:
    data = OPTIONS.replace(b"Content-Length: 0\r\n", b"") + b"hello"
    message = parse_message(data)
    assert message.body == b"hello"
    assert b"Content-Length: 5\r\n" in bytes(message)


def test_lenient_framing() -> None:
    # Leading CRLFs, bare-LF line ends and a missing final empty line are all tolerated.
    lf = OPTIONS.replace(b"\r\n", b"\n")
    assert parse_message(b"\r\n\r\n" + OPTIONS) == parse_message(OPTIONS)
    assert parse_message(lf) == parse_message(OPTIONS)
    assert parse_message(OPTIONS.rstrip(b"\r\n")) == parse_message(OPTIONS)
    # Extra spaces in the start line and an empty reason phrase.
    request = parse_message(OPTIONS)
    assert isinstance(request, SipRequest)
    response = make_response(request, 200)
    no_reason = bytes(response).replace(b"SIP/2.0 200 OK", b"SIP/2.0 200")
    reparsed = parse_message(no_reason)
    assert isinstance(reparsed, SipResponse) and reparsed.reason == ""
    spaced = parse_message(OPTIONS.replace(b"OPTIONS sip", b"OPTIONS  sip"))
    assert isinstance(spaced, SipRequest) and spaced.method == "OPTIONS"


def test_keepalive() -> None:
    assert is_keepalive(b"\r\n\r\n") and is_keepalive(b"\r\n")
    assert not is_keepalive(b"") and not is_keepalive(OPTIONS)
    with pytest.raises(SipParseError):
        parse_message(b"\r\n\r\n")


def without(header: str) -> bytes:
    lines = OPTIONS.split(b"\r\n")
    return b"\r\n".join(line for line in lines if not line.startswith(header.encode() + b":"))


MALFORMED: list[tuple[str, bytes, int]] = [
    ("empty", b"", 400),
    ("only spaces", b"   \r\n\r\n", 400),
    ("binary garbage", bytes(range(256)) * 4, 400),
    ("random bytes", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400),
    ("http request", OPTIONS.replace(b"SIP/2.0\r\n", b"HTTP/1.1\r\n", 1), 400),
    (
        "request line two parts",
        OPTIONS.replace(b"OPTIONS sip:bridge@example.org SIP/2.0", b"OPTIONS SIP/2.0"),
        400,
    ),
    ("request line four parts", OPTIONS.replace(b" SIP/2.0\r\n", b" SIP/2.0 extra\r\n", 1), 400),
    ("bad method", OPTIONS.replace(b"OPTIONS sip", b"OPT(IONS sip", 1), 400),
    ("sip 3.0", OPTIONS.replace(b"SIP/2.0\r\n", b"SIP/3.0\r\n", 1), 505),
    ("sip 1.0", OPTIONS.replace(b"SIP/2.0\r\n", b"SIP/1.0\r\n", 1), 505),
    ("response sip 3.0", b"SIP/3.0 200 OK\r\n" + OPTIONS.split(b"\r\n", 1)[1], 505),
    ("status out of range", b"SIP/2.0 999 Huh\r\n" + OPTIONS.split(b"\r\n", 1)[1], 400),
    ("status not numeric", b"SIP/2.0 2OO OK\r\n" + OPTIONS.split(b"\r\n", 1)[1], 400),
    (
        "unsupported scheme",
        OPTIONS.replace(b"sip:bridge@example.org SIP", b"mailto:bridge@example.org SIP"),
        416,
    ),
    (
        "bad request uri",
        OPTIONS.replace(b"sip:bridge@example.org SIP", b"sip:bridge@exa<mple.org SIP"),
        400,
    ),
    ("missing CSeq", without("CSeq"), 400),
    ("missing Via", without("Via"), 400),
    ("missing From", without("From"), 400),
    ("missing To", without("To"), 400),
    ("missing Call-ID", without("Call-ID"), 400),
    (
        "two CSeq",
        OPTIONS.replace(
            b"CSeq: 63104 OPTIONS\r\n", b"CSeq: 63104 OPTIONS\r\nCSeq: 63105 OPTIONS\r\n"
        ),
        400,
    ),
    ("CSeq method mismatch", OPTIONS.replace(b"CSeq: 63104 OPTIONS", b"CSeq: 63104 INVITE"), 400),
    ("CSeq not numeric", OPTIONS.replace(b"CSeq: 63104 OPTIONS", b"CSeq: abc OPTIONS"), 400),
    ("CSeq huge", OPTIONS.replace(b"CSeq: 63104", b"CSeq: " + b"9" * 5000), 400),
    (
        "Content-Length not numeric",
        OPTIONS.replace(b"Content-Length: 0", b"Content-Length: zero"),
        400,
    ),
    ("Content-Length negative", OPTIONS.replace(b"Content-Length: 0", b"Content-Length: -1"), 400),
    (
        "Content-Length huge digits",
        OPTIONS.replace(b"Content-Length: 0", b"Content-Length: " + b"9" * 5000),
        400,
    ),
    (
        "Content-Length over limit",
        OPTIONS.replace(b"Content-Length: 0", b"Content-Length: 9999999"),
        413,
    ),
    (
        "conflicting Content-Length",
        OPTIONS.replace(b"Content-Length: 0\r\n", b"Content-Length: 0\r\nl: 5\r\n"),
        400,
    ),
    (
        "body shorter than Content-Length",
        OPTIONS.replace(b"Content-Length: 0", b"Content-Length: 10") + b"short",
        400,
    ),
    ("header without colon", OPTIONS.replace(b"Max-Forwards: 70", b"Max-Forwards 70"), 400),
    ("header name with space", OPTIONS.replace(b"Max-Forwards: 70", b"Max Forwards: 70"), 400),
    ("empty header name", OPTIONS.replace(b"Max-Forwards: 70", b": 70"), 400),
    ("continuation first", OPTIONS.replace(b"\r\nVia:", b"\r\n Via:"), 400),
    ("NUL in header", OPTIONS.replace(b"Max-Forwards: 70", b"Max-Forwards: 7\x000"), 400),
    ("bare CR in header", OPTIONS.replace(b"Max-Forwards: 70", b"Max-Forwards: 7\r0"), 400),
    (
        "Max-Forwards not numeric",
        OPTIONS.replace(b"Max-Forwards: 70", b"Max-Forwards: seventy"),
        400,
    ),
    (
        "bad Via",
        OPTIONS.replace(b"Via: SIP/2.0/UDP 192.0.2.7:5060", b"Via: SIP/2.0 192.0.2.7:5060"),
        400,
    ),
    (
        "empty Via",
        OPTIONS.replace(b"Via: SIP/2.0/UDP 192.0.2.7:5060;branch=z9hG4bK74bf9;rport", b"Via: "),
        400,
    ),
    (
        "bad From",
        OPTIONS.replace(b"From: <sip:probe@example.net>", b"From: <sip:probe@example.net"),
        400,
    ),
    (
        "Call-ID with space",
        OPTIONS.replace(b"Call-ID: 3848276298220188511@192.0.2.7", b"Call-ID: a b"),
        400,
    ),
    ("bad Contact", OPTIONS.replace(b"Max-Forwards: 70", b"Contact: <sip:a@b"), 400),
    (
        "bad Record-Route",
        OPTIONS.replace(b"Max-Forwards: 70", b"Record-Route: sip:a@b;lr junk"),
        400,
    ),
    ("huge header", OPTIONS.replace(b"Max-Forwards: 70", b"X-Padding: " + b"a" * 70000), 513),
    (
        "huge body",
        OPTIONS.replace(b"Content-Length: 0", b"Content-Length: 70000") + b"x" * 70000,
        513,
    ),
]


@pytest.mark.parametrize(("name", "data", "status"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed(name: str, data: bytes, status: int) -> None:
    with pytest.raises(SipParseError) as info:
        parse_message(data)
    assert info.value.status == status, str(info.value)
    assert str(info.value)  # a precise message, not an empty one


def test_parse_error_reason() -> None:
    assert SipParseError("x", 505).reason == "Version Not Supported"
    assert SipParseError("x").reason == "Bad Request"


# --------------------------------------------------------------------------------------------
# Fuzzing: nothing but SipParseError escapes, and what parses round-trips.


def _check(data: bytes) -> None:
    try:
        message = parse_message(data)
    except SipParseError as error:
        assert error.status in (400, 413, 416, 505, 513)
        return
    again = parse_message(bytes(message))
    assert again == message
    assert bytes(again) == bytes(message)


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.binary(max_size=2048))
def test_fuzz_arbitrary_bytes(data: bytes) -> None:
    _check(data)


@FUZZ
@given(
    st.lists(
        st.sampled_from(
            [
                b"INVITE ",
                b"SIP/2.0",
                b" ",
                b"\r\n",
                b"\n",
                b":",
                b";",
                b",",
                b"<",
                b">",
                b'"',
                b"\\",
                b"sip:",
                b"tel:+1",
                b"@",
                b"[::1]",
                b"Via: SIP/2.0/UDP h",
                b"v:",
                b"CSeq: 1 INVITE",
                b"From: <sip:a@b>;tag=1",
                b"To:",
                b"i: x",
                b"l: 3",
                b"Content-Length: ",
                b"0",
                b"\t",
                b"\x00",
                b"\xff",
                b"=",
                b"branch=z9hG4bK",
                b"rport",
                b"SIP/2.0 200 OK",
            ]
        ),
        max_size=60,
    )
)
def test_fuzz_sip_tokens(pieces: list[bytes]) -> None:
    _check(b"".join(pieces))


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(vector(draw(st.sampled_from(VECTORS))))
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "duplicate"]))
        position = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[position] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[position:position] = draw(
                st.sampled_from([b"\r\n", b" ", b",", b";", b":", b'"', b"<", b">", b"\r\n "])
            )
        elif kind == "delete":
            del data[position : position + draw(st.integers(1, 8))]
        elif kind == "truncate":
            del data[position:]
        else:
            end = data.find(b"\r\n", position)
            if end >= 0:
                start = data.rfind(b"\r\n", 0, position) + 2
                data[end:end] = b"\r\n" + data[start:end]
    return bytes(data)


@FUZZ
@given(mutated())
def test_fuzz_mutated_vectors(data: bytes) -> None:
    _check(data)


@FUZZ
@given(st.sampled_from(VECTORS), st.data())
def test_fuzz_stream_chunks(name: str, data: st.DataObject) -> None:
    """Any split of a stream of messages into chunks yields the same messages."""
    payload = b"\r\n\r\n".join(vector(n) for n in (name, "sipp_180_ringing.sip"))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(payload)), max_size=8)))
    framer = StreamFramer()
    messages = []
    for start, end in zip([0, *cuts], [*cuts, len(payload)], strict=True):
        messages += framer.feed(payload[start:end])
    assert messages == [parse_message(vector(name)), parse_message(vector("sipp_180_ringing.sip"))]
    assert framer.pings == 1


# --------------------------------------------------------------------------------------------
# Stream framing


def test_framer_splits_and_reassembles() -> None:
    invite = vector("baresip_invite.sip")
    stream = invite + OPTIONS + invite
    framer = StreamFramer()
    out = []
    for byte in stream:
        out += framer.feed(bytes([byte]))
    assert [m.cseq.method for m in out] == ["INVITE", "OPTIONS", "INVITE"]
    assert out[0].body == parse_message(invite).body
    assert StreamFramer().feed(stream) == out


def test_framer_keepalives() -> None:
    framer = StreamFramer()
    assert framer.feed(b"\r\n\r\n") == []
    assert framer.feed(b"\r\n") == []
    assert framer.feed(b"\r\n" + OPTIONS + b"\r\n\r\n") != []
    assert framer.pings == 3
    assert not framer.broken


def test_framer_requires_content_length() -> None:
    framer = StreamFramer()
    with pytest.raises(SipParseError, match="Content-Length"):
        framer.feed(OPTIONS.replace(b"Content-Length: 0\r\n", b""))
    assert framer.broken
    with pytest.raises(SipParseError, match="unusable"):
        framer.feed(OPTIONS)


def test_framer_returns_good_messages_before_the_error() -> None:
    framer = StreamFramer()
    assert len(framer.feed(OPTIONS + b"GARBAGE\r\n\r\n")) == 1
    with pytest.raises(SipParseError):
        framer.feed(b"")


def test_framer_caps_size() -> None:
    framer = StreamFramer(max_size=1024)
    with pytest.raises(SipParseError) as info:
        framer.feed(OPTIONS.replace(b"Content-Length: 0", b"Content-Length: 5000"))
    assert info.value.status == 413
    framer = StreamFramer(max_size=1024)
    framer.feed(b"OPTIONS sip:a@b SIP/2.0\r\nX-Long: ")
    with pytest.raises(SipParseError) as info:
        framer.feed(b"a" * 2000)
    assert info.value.status == 513


def test_framer_waits_for_the_body() -> None:
    data = OPTIONS.replace(b"Content-Length: 0", b"Content-Length: 5")
    framer = StreamFramer()
    assert framer.feed(data + b"ab") == []
    (message,) = framer.feed(b"cde")
    assert message.body == b"abcde"


def test_default_limit() -> None:
    assert MAX_MESSAGE_SIZE == 65535


# --------------------------------------------------------------------------------------------
# Building responses


def test_make_response_copies_what_8_2_6_says() -> None:
    invite = parse_message(vector("kamailio_proxied_invite.sip"))
    assert isinstance(invite, SipRequest)
    response = make_response(
        invite, 180, to_tag="as7d01", headers=[("Contact", "<sip:conf@10.0.0.5>")]
    )
    assert response.reason == "Ringing"
    assert response.headers.lines("Via") == invite.headers.lines("Via")
    assert [v.host for v in response.vias] == ["203.0.113.10", "192.168.178.34"]
    assert response.headers.get("From") == invite.headers.get("From")
    assert response.to.tag == "as7d01"
    assert response.to.uri == invite.to.uri
    assert response.call_id == invite.call_id
    assert response.cseq == invite.cseq
    assert response.record_routes == invite.record_routes  # dialog-creating: §12.1.1
    assert response.contact is not None
    assert parse_message(bytes(response)) == response


def test_make_response_keeps_existing_tag_and_reason() -> None:
    request = parse_message(
        OPTIONS.replace(b"To: <sip:bridge@example.org>", b"To: <sip:bridge@example.org>;tag=old")
    )
    assert isinstance(request, SipRequest)
    response = make_response(request, 200, to_tag="new")
    assert response.to.tag == "old"
    assert "Record-Route" not in response.headers
    assert (
        make_response(request, 486, "Busy Here (conference full)").reason
        == "Busy Here (conference full)"
    )
    assert make_response(request, 499).reason == ""
    with pytest.raises(ValueError):
        make_response(request, 99)


def test_make_response_100_copies_timestamp() -> None:
    request = parse_message(OPTIONS.replace(b"Max-Forwards: 70", b"Timestamp: 54.2"))
    assert isinstance(request, SipRequest)
    assert make_response(request, 100).headers.get("Timestamp") == "54.2"
    assert "Timestamp" not in make_response(request, 200).headers


def test_response_serialisation() -> None:
    response = SipResponse(200, headers=Headers([("Content-Length", "99")]), body=b"xyz")
    assert response.reason == "OK"
    assert bytes(response) == b"SIP/2.0 200 OK\r\nContent-Length: 3\r\n\r\nxyz"


def test_make_cancel() -> None:
    invite = parse_message(vector("carrier_sbc_invite.sip"))
    assert isinstance(invite, SipRequest)
    cancel = make_cancel(invite)
    assert cancel.method == "CANCEL"
    assert cancel.uri == invite.uri
    assert cancel.vias == [invite.top_via]
    assert cancel.cseq == CSeq(1, "CANCEL")
    assert cancel.headers.get("From") == invite.headers.get("From")
    assert cancel.headers.get("To") == invite.headers.get("To")
    assert parse_message(bytes(cancel)) == cancel
    with pytest.raises(ValueError):
        make_cancel(cancel)


# --------------------------------------------------------------------------------------------
# received / rport


def test_stamp_received_with_rport() -> None:
    request = parse_message(vector("baresip_invite.sip"))
    assert isinstance(request, SipRequest)
    via = stamp_received(request, "198.51.100.23", 40123)
    assert via.params["received"] == "198.51.100.23"
    assert via.rport == 40123
    assert request.top_via == via
    assert request.top_via.response_address() == ("198.51.100.23", 40123)
    assert b";rport=40123;received=198.51.100.23" in bytes(request)


def test_stamp_received_without_rport() -> None:
    request = parse_message(vector("sipp_uac_invite.sip"))
    assert isinstance(request, SipRequest)
    assert "received" not in stamp_received(request, "192.168.1.10", 5061).params
    via = stamp_received(request, "10.9.9.9", 7000)
    assert via.received == "10.9.9.9" and "rport" not in via.params
    assert via.response_address() == ("10.9.9.9", 5061)


def test_stamp_received_keeps_other_vias_in_the_same_line() -> None:
    request = parse_message(vector("carrier_sbc_invite.sip"))
    assert isinstance(request, SipRequest)
    before = request.vias[1]
    stamp_received(request, "192.0.2.99", 5060)
    assert request.vias[1] == before
    assert request.top_via.received == "192.0.2.99"
    assert len(request.headers.lines("Via")) == 1


def test_stamp_received_ipv6_and_hostnames() -> None:
    request = parse_message(vector("ipv6_register.sip"))
    assert isinstance(request, SipRequest)
    via = stamp_received(request, "2001:db8:0::9:1", 5060)
    assert via.received == "2001:db8::9:1"  # rport asked for, so always stamped; no brackets
    assert via.response_address() == ("2001:db8::9:1", 5060)
    options = parse_message(vector("compact_folded_options.sip"))
    assert isinstance(options, SipRequest)
    assert stamp_received(options, "[2001:db8::77]", 50123).received == "2001:db8::77"
