"""RTP parsing and building, RFC 5761 demultiplexing, and the RTCP packets a phone needs."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.rtp import (
    RTCP_BYE,
    RTCP_RR,
    RTCP_SDES,
    RTCP_SR,
    ReportBlock,
    RtcpBye,
    RtpPacket,
    build_receiver_report,
    build_sender_report,
    is_rtcp,
    ntp_from_unix,
    ntp_middle_bits,
    parse_bye,
    parse_header,
    payload_end,
)


def header(
    *,
    pt: int = 0,
    seq: int = 1,
    ts: int = 160,
    ssrc: int = 0x11223344,
    marker: bool = False,
    cc: int = 0,
    x: bool = False,
    p: bool = False,
    version: int = 2,
) -> bytes:
    """A fixed RTP header written out by hand (independently of the module)."""
    first = version << 6 | (0x20 if p else 0) | (0x10 if x else 0) | cc
    return struct.pack("!BBHII", first, (0x80 if marker else 0) | pt, seq, ts, ssrc)


# --- RtpPacket ------------------------------------------------------------------------------


def test_parse_plain_packet() -> None:
    data = header(pt=8, seq=65535, ts=0xFFFFFFF0, marker=True) + bytes(range(160))
    packet = RtpPacket.parse(data)
    assert packet == RtpPacket(
        payload_type=8,
        sequence=65535,
        timestamp=0xFFFFFFF0,
        ssrc=0x11223344,
        payload=bytes(range(160)),
        marker=True,
    )
    assert bytes(packet) == data


def test_csrcs_extension_and_padding_are_skipped() -> None:
    csrcs = struct.pack("!II", 1, 2)
    extension = struct.pack("!HH", 0xBEDE, 2) + b"\x10\xab\x00\x00" + b"\x22\x01\x02\x00"
    payload = b"\xff" * 160
    padding = b"\x00\x00\x03"
    data = header(cc=2, x=True, p=True) + csrcs + extension + payload + padding
    packet = RtpPacket.parse(data)
    assert packet.csrcs == (1, 2)
    assert packet.extension == (0xBEDE, b"\x10\xab\x00\x00\x22\x01\x02\x00")
    assert packet.padding == 3
    assert packet.payload == payload
    assert bytes(packet) == data
    pt, seq, ts, ssrc, offset, marker = parse_header(data)
    assert (pt, seq, ts, ssrc, marker) == (0, 1, 160, 0x11223344, False)
    assert data[offset : payload_end(data, offset)] == payload


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "too short: 0 bytes"),
        (header()[:11], "too short: 11 bytes"),
        (header(version=1) + b"x", "bad RTP version 1"),
        (header(version=0), "bad RTP version 0"),
        (header(cc=3) + bytes(8), "CSRC list overruns"),
        (header(x=True) + b"\xbe\xde", "extension header overruns"),
        (header(x=True) + struct.pack("!HH", 0xBEDE, 3) + bytes(8), "extension overruns"),
        (header(p=True), "padding count is 0"),
        (header(p=True) + b"ab\x00", "padding count is 0"),
        (header(p=True) + b"ab\x04", "padding length 4 beyond"),
        (header(cc=1, p=True) + bytes(4) + b"\x02", "padding length 2 beyond"),
    ],
)
def test_malformed_packets_are_refused_precisely(data: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RtpPacket.parse(data)


def test_parse_header_refuses_what_parse_refuses() -> None:
    for data in (b"", header(version=1), header(cc=2) + bytes(4), header(x=True) + bytes(2)):
        with pytest.raises(ValueError):
            parse_header(data)
    with pytest.raises(ValueError):
        payload_end(header(p=True) + b"\x09", 12)


def test_constructor_checks_ranges() -> None:
    for bad in (
        {"payload_type": 128},
        {"sequence": 65536},
        {"timestamp": -1},
        {"ssrc": 1 << 32},
        {"csrcs": tuple(range(16))},
        {"extension": (1, b"abc")},
        {"padding": 256},
    ):
        fields = {"payload_type": 0, "sequence": 0, "timestamp": 0, "ssrc": 0, **bad}
        with pytest.raises(ValueError):
            RtpPacket(**fields)  # type: ignore[arg-type]


packets = st.builds(
    RtpPacket,
    payload_type=st.integers(0, 127),
    sequence=st.integers(0, 0xFFFF),
    timestamp=st.integers(0, 0xFFFFFFFF),
    ssrc=st.integers(0, 0xFFFFFFFF),
    payload=st.binary(max_size=200),
    marker=st.booleans(),
    csrcs=st.lists(st.integers(0, 0xFFFFFFFF), max_size=15).map(tuple),
    extension=st.none()
    | st.tuples(st.integers(0, 0xFFFF), st.binary(max_size=40).map(lambda b: b[: len(b) // 4 * 4])),
    padding=st.integers(0, 255),
)


@given(packets)
def test_round_trip(packet: RtpPacket) -> None:
    data = bytes(packet)
    assert RtpPacket.parse(data) == packet
    pt, seq, ts, ssrc, offset, marker = parse_header(data)
    assert (pt, seq, ts, ssrc, marker) == (
        packet.payload_type,
        packet.sequence,
        packet.timestamp,
        packet.ssrc,
        packet.marker,
    )
    assert data[offset : payload_end(data, offset)] == packet.payload


@settings(max_examples=300)
@given(st.binary(max_size=120))
def test_parse_fuzz_only_value_error(data: bytes) -> None:
    try:
        packet = RtpPacket.parse(data)
    except ValueError:
        return
    assert RtpPacket.parse(bytes(packet)) == packet
    offset = parse_header(data)[4]
    assert data[offset : payload_end(data, offset)] == packet.payload


@settings(max_examples=300)
@given(st.binary(min_size=12, max_size=80))
def test_parse_fuzz_with_version_2(data: bytes) -> None:
    # Mostly-valid headers reach the CSRC/extension/padding checks.
    data = bytes([0x80 | data[0] & 0x3F]) + data[1:]
    try:
        RtpPacket.parse(data)
    except ValueError:
        return


# --- RFC 5761 -------------------------------------------------------------------------------


def test_is_rtcp() -> None:
    assert is_rtcp(bytes([0x80, RTCP_SR]) + bytes(26))
    assert is_rtcp(bytes([0x81, RTCP_RR]) + bytes(30))
    assert is_rtcp(bytes([0x80, RTCP_BYE, 0, 1]) + bytes(4))
    assert is_rtcp(bytes([0x80, 64]))  # RTP payload types 64..95 are off limits for RTP
    for pt in (0, 8, 9, 13, 63, 96, 101, 127):
        assert not is_rtcp(header(pt=pt) + bytes(160))
        assert not is_rtcp(header(pt=pt, marker=True) + bytes(160))
    assert not is_rtcp(b"\x80")
    assert not is_rtcp(b"")


# --- RTCP -----------------------------------------------------------------------------------


def split_compound(data: bytes) -> list[tuple[int, int, bytes]]:
    """(count, packet type, body) of each packet: an independent, strict walker."""
    out = []
    offset = 0
    while offset < len(data):
        first, packet_type, words = struct.unpack_from("!BBH", data, offset)
        assert first >> 6 == 2 and not first & 0x20
        end = offset + 4 * (words + 1)
        assert end <= len(data)
        out.append((first & 0x1F, packet_type, data[offset + 4 : end]))
        offset = end
    assert offset == len(data)
    return out


def parse_sdes_cname(body: bytes) -> tuple[int, str]:
    ssrc, item, length = struct.unpack_from("!IBB", body)
    assert item == 1
    text = body[6 : 6 + length]
    rest = body[6 + length :]
    assert rest and not any(rest) and len(body) % 4 == 0  # null-terminated, padded
    return ssrc, text.decode()


def test_receiver_report() -> None:
    block = ReportBlock(
        ssrc=0xCAFEBABE,
        fraction_lost=25,
        cumulative_lost=-3,
        highest_sequence=(2 << 16) | 17,
        jitter=80,
        last_sr=0x12345678,
        delay_since_last_sr=65536,
    )
    data = build_receiver_report(0x01020304, [block], cname="bridge@example.org")
    (rr_count, rr_type, rr_body), (sdes_count, sdes_type, sdes_body) = split_compound(data)
    assert (rr_count, rr_type, sdes_count, sdes_type) == (1, RTCP_RR, 1, RTCP_SDES)
    sender, ssrc, lost_word, highest, jitter, lsr, dlsr = struct.unpack("!7I", rr_body)
    assert (sender, ssrc) == (0x01020304, 0xCAFEBABE)
    assert lost_word >> 24 == 25 and lost_word & 0xFFFFFF == 0xFFFFFD  # -3 in 24 bits
    assert (highest, jitter, lsr, dlsr) == ((2 << 16) | 17, 80, 0x12345678, 65536)
    assert parse_sdes_cname(sdes_body) == (0x01020304, "bridge@example.org")
    assert parse_bye(data) is None


def test_empty_receiver_report_and_bare_rr() -> None:
    data = build_receiver_report(7, cname=None)
    assert split_compound(data) == [(0, RTCP_RR, struct.pack("!I", 7))]
    assert len(build_receiver_report(7, cname="abcd")) == 8 + 4 + 12  # CNAME gets a null word


def test_sender_report() -> None:
    ntp = ntp_from_unix(1_700_000_000.5)
    assert ntp >> 32 == 1_700_000_000 + 2_208_988_800 and ntp & 0xFFFFFFFF == 1 << 31
    assert ntp_middle_bits(ntp) == ((ntp >> 32) & 0xFFFF) << 16 | 0x8000
    data = build_sender_report(
        0xAABBCCDD,
        ntp_timestamp=ntp,
        rtp_timestamp=123456,
        packet_count=50,
        octet_count=8000,
        cname="x",
    )
    (count, packet_type, body), (_, sdes_type, _) = split_compound(data)
    assert (count, packet_type, sdes_type) == (0, RTCP_SR, RTCP_SDES)
    assert struct.unpack("!6I", body) == (
        0xAABBCCDD,
        ntp >> 32,
        ntp & 0xFFFFFFFF,
        123456,
        50,
        8000,
    )


def test_report_limits() -> None:
    block = ReportBlock(1, 0, 0, 0, 0)
    with pytest.raises(ValueError):
        build_receiver_report(1, [block] * 32, cname="x")
    with pytest.raises(ValueError):
        build_receiver_report(1, [ReportBlock(1, 256, 0, 0, 0)], cname="x")
    with pytest.raises(ValueError):
        build_receiver_report(1, cname="")
    clamped = build_receiver_report(1, [ReportBlock(1, 0, 1 << 30, 0, 0)], cname=None)
    assert struct.unpack_from("!I", clamped, 12)[0] == 0x7FFFFF


def bye(ssrcs: list[int], reason: bytes = b"") -> bytes:
    body = b"".join(struct.pack("!I", s) for s in ssrcs)
    if reason:
        body += bytes([len(reason)]) + reason
        body += bytes(-len(body) % 4)
    return struct.pack("!BBH", 0x80 | len(ssrcs), RTCP_BYE, len(body) // 4) + body


def test_parse_bye_in_compound() -> None:
    data = build_receiver_report(5, cname="phone") + bye([5, 6], b"hung up")
    assert parse_bye(data) == RtcpBye((5, 6), "hung up")
    assert parse_bye(bye([9])) == RtcpBye((9,), "")
    # With RTCP padding on the last packet.
    padded = bytearray(bye([9]) + b"\x00\x00\x00\x04")
    padded[0] |= 0x20
    padded[3] += 1
    assert parse_bye(bytes(padded)) == RtcpBye((9,), "")


@pytest.mark.parametrize(
    "data",
    [
        b"\x80\xcb\x00",  # truncated header
        b"\x40\xcb\x00\x00",  # version 1
        b"\x81\xcb\x00\x05" + bytes(4),  # length beyond the data
        b"\x82\xcb\x00\x01" + bytes(4),  # 2 SSRCs announced, room for 1
        b"\x81\xcb\x00\x02" + bytes(4) + b"\x09abc",  # reason longer than the packet
    ],
)
def test_parse_bye_malformed(data: bytes) -> None:
    with pytest.raises(ValueError):
        parse_bye(data)


@settings(max_examples=300)
@given(st.binary(max_size=64))
def test_parse_bye_fuzz_only_value_error(data: bytes) -> None:
    try:
        parse_bye(data)
    except ValueError:
        pass
