"""RTP packets (RFC 3550) and the few RTCP packets a phone leg needs.

Pure byte handling, no sockets:

- :class:`RtpPacket` parses and builds complete RTP packets (CSRC list,
  header extension, padding), rejecting malformed input with ``ValueError``;
- :func:`parse_header` is the hot-path variant that unpacks only what the
  media loop needs and returns where the payload starts;
- :func:`is_rtcp` demultiplexes RTP and RTCP sharing one port (RFC 5761);
- :func:`build_sender_report` / :func:`build_receiver_report` make compound
  RTCP packets (SR or RR followed by SDES CNAME, as RFC 3550 section 6.1
  requires and strict phones enforce) and :func:`parse_bye` finds a BYE.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

__all__ = [
    "RTCP_BYE",
    "RTCP_RR",
    "RTCP_SDES",
    "RTCP_SR",
    "ReportBlock",
    "RtcpBye",
    "RtpPacket",
    "build_receiver_report",
    "build_sender_report",
    "is_rtcp",
    "ntp_from_unix",
    "ntp_middle_bits",
    "parse_bye",
    "parse_header",
    "payload_end",
]

RTP_VERSION: Final = 2
HEADER_SIZE: Final = 12

RTCP_SR: Final = 200
RTCP_RR: Final = 201
RTCP_SDES: Final = 202
RTCP_BYE: Final = 203

_SDES_CNAME: Final = 1
_NTP_EPOCH_OFFSET: Final = 2_208_988_800  # seconds from 1900-01-01 to 1970-01-01

_FIXED = struct.Struct("!BBHII")
_EXTENSION = struct.Struct("!HH")
_RTCP_HEADER = struct.Struct("!BBH")
_REPORT_BLOCK = struct.Struct("!IIIIII")


@dataclass(frozen=True, slots=True)
class RtpPacket:
    """One RTP packet; ``bytes(packet)`` serialises it, :meth:`parse` reads one.

    The header extension is kept as ``(profile, data)`` so a packet survives a
    round trip; most receivers just ignore it.  ``padding`` is the number of
    padding octets (0 = no P bit), including the final count octet.
    """

    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes = b""
    marker: bool = False
    csrcs: tuple[int, ...] = ()
    extension: tuple[int, bytes] | None = None
    padding: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.payload_type <= 0x7F:
            raise ValueError(f"payload type out of range: {self.payload_type}")
        if not 0 <= self.sequence <= 0xFFFF:
            raise ValueError(f"sequence number out of range: {self.sequence}")
        if not 0 <= self.timestamp <= 0xFFFFFFFF:
            raise ValueError(f"timestamp out of range: {self.timestamp}")
        if not 0 <= self.ssrc <= 0xFFFFFFFF:
            raise ValueError(f"SSRC out of range: {self.ssrc}")
        if len(self.csrcs) > 15 or not all(0 <= c <= 0xFFFFFFFF for c in self.csrcs):
            raise ValueError("at most 15 CSRCs of 32 bits each")
        if self.extension is not None:
            profile, data = self.extension
            if not 0 <= profile <= 0xFFFF:
                raise ValueError(f"extension profile out of range: {profile}")
            if len(data) % 4 or len(data) > 4 * 0xFFFF:
                raise ValueError("extension data must be whole 32-bit words (at most 65535)")
        if not 0 <= self.padding <= 255:
            raise ValueError(f"padding must be 0..255 octets, not {self.padding}")

    @classmethod
    def parse(cls, data: bytes) -> RtpPacket:
        """Parse one RTP packet; ``ValueError`` says what is wrong with malformed input."""
        size = len(data)
        if size < HEADER_SIZE:
            raise ValueError(f"RTP packet too short: {size} bytes, the fixed header needs 12")
        first, second, sequence, timestamp, ssrc = _FIXED.unpack_from(data)
        version = first >> 6
        if version != RTP_VERSION:
            raise ValueError(f"bad RTP version {version} (expected 2)")
        csrc_count = first & 0x0F
        offset = HEADER_SIZE + 4 * csrc_count
        if offset > size:
            raise ValueError(
                f"CSRC list overruns the packet: {csrc_count} CSRCs need {offset} bytes, "
                f"packet has {size}"
            )
        csrcs = struct.unpack_from(f"!{csrc_count}I", data, HEADER_SIZE)
        extension = None
        if first & 0x10:
            if offset + 4 > size:
                raise ValueError(
                    f"extension header overruns the packet: needs {offset + 4} bytes, "
                    f"packet has {size}"
                )
            profile, words = _EXTENSION.unpack_from(data, offset)
            end = offset + 4 + 4 * words
            if end > size:
                raise ValueError(
                    f"extension overruns the packet: {words} words need {end} bytes, "
                    f"packet has {size}"
                )
            extension = (profile, bytes(data[offset + 4 : end]))
            offset = end
        padding = 0
        if first & 0x20:
            padding = data[-1] if size > offset else 0
            if padding == 0:
                raise ValueError("padding bit set but the padding count is 0 (or missing)")
            if offset + padding > size:
                raise ValueError(
                    f"padding length {padding} beyond the packet: only {size - offset} bytes "
                    "follow the header"
                )
        return cls(
            payload_type=second & 0x7F,
            sequence=sequence,
            timestamp=timestamp,
            ssrc=ssrc,
            payload=bytes(data[offset : size - padding]),
            marker=bool(second & 0x80),
            csrcs=tuple(csrcs),
            extension=extension,
            padding=padding,
        )

    def __bytes__(self) -> bytes:
        first = (
            RTP_VERSION << 6
            | (0x20 if self.padding else 0)
            | (0x10 if self.extension is not None else 0)
            | len(self.csrcs)
        )
        second = (0x80 if self.marker else 0) | self.payload_type
        parts = [_FIXED.pack(first, second, self.sequence, self.timestamp, self.ssrc)]
        if self.csrcs:
            parts.append(struct.pack(f"!{len(self.csrcs)}I", *self.csrcs))
        if self.extension is not None:
            profile, data = self.extension
            parts.append(_EXTENSION.pack(profile, len(data) // 4))
            parts.append(bytes(data))
        parts.append(self.payload)
        if self.padding:
            parts.append(bytes(self.padding - 1) + bytes([self.padding]))
        return b"".join(parts)


def parse_header(data: bytes) -> tuple[int, int, int, int, int, bool]:
    """The hot path: ``(payload_type, sequence, timestamp, ssrc, payload_offset, marker)``.

    The payload is ``data[payload_offset:payload_end(data)]``; ``payload_end`` is
    ``len(data)`` unless the (rare, for audio) padding bit is set.  Raises
    ``ValueError`` for the same malformations as :meth:`RtpPacket.parse`,
    except that padding is only checked by :func:`payload_end`.
    """
    if len(data) < HEADER_SIZE:
        raise ValueError(f"RTP packet too short: {len(data)} bytes, the fixed header needs 12")
    first, second, sequence, timestamp, ssrc = _FIXED.unpack_from(data)
    if first >> 6 != RTP_VERSION:
        raise ValueError(f"bad RTP version {first >> 6} (expected 2)")
    offset = HEADER_SIZE + 4 * (first & 0x0F)
    if first & 0x10:
        if offset + 4 > len(data):
            raise ValueError("CSRC list or extension header overruns the packet")
        offset += 4 + 4 * _EXTENSION.unpack_from(data, offset)[1]
    if offset > len(data):
        raise ValueError("CSRC list or extension overruns the packet")
    return second & 0x7F, sequence, timestamp, ssrc, offset, bool(second & 0x80)


def payload_end(data: bytes, payload_offset: int) -> int:
    """Where the payload ends: ``len(data)`` minus the padding, if any (checked).

    ``payload_offset`` is the one :func:`parse_header` returned for ``data``.
    """
    if not data[0] & 0x20:
        return len(data)
    padding = data[-1] if len(data) > payload_offset else 0
    if padding == 0 or payload_offset + padding > len(data):
        raise ValueError(f"padding length {padding} beyond the packet or zero")
    return len(data) - padding


def is_rtcp(data: bytes) -> bool:
    """RFC 5761 demultiplexing: RTCP when the second octet, minus the marker bit, is 64..95.

    RTCP packet types 192..223 occupy exactly that range, which is why RTP
    must not use payload types 64..95 on a multiplexed port.
    """
    return len(data) >= 2 and 64 <= (data[1] & 0x7F) <= 95


# --- RTCP -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReportBlock:
    """One reception report (RFC 3550 section 6.4.1) about the source ``ssrc``."""

    ssrc: int
    fraction_lost: int  # lost / expected since the last report, as a fraction of 256
    cumulative_lost: int  # signed; clamped to 24 bits when packed
    highest_sequence: int  # extended: cycles << 16 | highest sequence number
    jitter: int  # interarrival jitter in timestamp units
    last_sr: int = 0  # middle 32 bits of the NTP timestamp of the last SR received
    delay_since_last_sr: int = 0  # in units of 1/65536 s

    def pack(self) -> bytes:
        if not 0 <= self.fraction_lost <= 255:
            raise ValueError(f"fraction lost must be 0..255, not {self.fraction_lost}")
        lost = max(-0x800000, min(self.cumulative_lost, 0x7FFFFF)) & 0xFFFFFF
        return _REPORT_BLOCK.pack(
            self.ssrc,
            self.fraction_lost << 24 | lost,
            self.highest_sequence & 0xFFFFFFFF,
            self.jitter & 0xFFFFFFFF,
            self.last_sr & 0xFFFFFFFF,
            self.delay_since_last_sr & 0xFFFFFFFF,
        )


@dataclass(frozen=True, slots=True)
class RtcpBye:
    """A BYE: the sources leaving, and the reason if one was given."""

    ssrcs: tuple[int, ...]
    reason: str = ""


def ntp_from_unix(seconds: float) -> int:
    """A Unix time as a 64-bit NTP timestamp (32.32 fixed point since 1900)."""
    return round((seconds + _NTP_EPOCH_OFFSET) * (1 << 32)) & 0xFFFFFFFFFFFFFFFF


def ntp_middle_bits(ntp: int) -> int:
    """The middle 32 bits of an NTP timestamp: what a report block's LSR field carries."""
    return (ntp >> 16) & 0xFFFFFFFF


def _rtcp_header(count: int, packet_type: int, body: bytes) -> bytes:
    # The length field counts 32-bit words minus one, header included.
    return _RTCP_HEADER.pack(RTP_VERSION << 6 | count, packet_type, len(body) // 4) + body


def _sdes_cname(ssrc: int, cname: str) -> bytes:
    text = cname.encode()
    if not 0 < len(text) <= 255:
        raise ValueError("CNAME must be 1..255 bytes of UTF-8")
    chunk = struct.pack("!IBB", ssrc, _SDES_CNAME, len(text)) + text
    # Items end with a null octet, then pad the chunk to a 32-bit boundary.
    chunk += bytes(4 - len(chunk) % 4)
    return _rtcp_header(1, RTCP_SDES, chunk)


def _report_blocks(reports: Sequence[ReportBlock]) -> bytes:
    if len(reports) > 31:
        raise ValueError("at most 31 report blocks fit in one SR/RR")
    return b"".join(r.pack() for r in reports)


def build_receiver_report(
    ssrc: int, reports: Sequence[ReportBlock] = (), *, cname: str | None
) -> bytes:
    """An RR from ``ssrc`` (ours), compound with an SDES CNAME unless ``cname`` is None.

    RFC 3550 requires the CNAME in every compound packet; leave it out only
    to build a bare RR for a reduced-size RTCP peer (RFC 5506).
    """
    packet = _rtcp_header(len(reports), RTCP_RR, struct.pack("!I", ssrc) + _report_blocks(reports))
    return packet if cname is None else packet + _sdes_cname(ssrc, cname)


def build_sender_report(
    ssrc: int,
    *,
    ntp_timestamp: int,
    rtp_timestamp: int,
    packet_count: int,
    octet_count: int,
    reports: Sequence[ReportBlock] = (),
    cname: str | None,
) -> bytes:
    """An SR from ``ssrc``, compound with an SDES CNAME unless ``cname`` is None.

    ``ntp_timestamp`` (see :func:`ntp_from_unix`) and ``rtp_timestamp`` must
    name the same instant; the counts are of RTP packets and payload octets
    sent since the stream started (they wrap at 32 bits).
    """
    sender_info = struct.pack(
        "!IIIIII",
        ssrc,
        (ntp_timestamp >> 32) & 0xFFFFFFFF,
        ntp_timestamp & 0xFFFFFFFF,
        rtp_timestamp & 0xFFFFFFFF,
        packet_count & 0xFFFFFFFF,
        octet_count & 0xFFFFFFFF,
    )
    packet = _rtcp_header(len(reports), RTCP_SR, sender_info + _report_blocks(reports))
    return packet if cname is None else packet + _sdes_cname(ssrc, cname)


def parse_bye(data: bytes) -> RtcpBye | None:
    """The BYE in a (compound) RTCP packet, or None when there is none.

    Walks every packet of the compound so a BYE behind an RR (the usual
    order) is found; ``ValueError`` when the compound is malformed.
    """
    offset = 0
    size = len(data)
    while offset < size:
        if offset + 4 > size:
            raise ValueError(f"truncated RTCP header at offset {offset}")
        first, packet_type, words = _RTCP_HEADER.unpack_from(data, offset)
        if first >> 6 != RTP_VERSION:
            raise ValueError(f"bad RTCP version {first >> 6} at offset {offset} (expected 2)")
        end = offset + 4 * (words + 1)
        if end > size:
            raise ValueError(f"RTCP packet at offset {offset} overruns the compound packet")
        body_end = end
        if first & 0x20:
            padding = data[end - 1]
            if padding == 0 or offset + 4 + padding > end:
                raise ValueError(f"bad RTCP padding length {padding} at offset {offset}")
            body_end = end - padding
        if packet_type == RTCP_BYE:
            return _parse_bye_body(data[offset + 4 : body_end], first & 0x1F)
        offset = end
    return None


def _parse_bye_body(body: bytes, count: int) -> RtcpBye:
    if 4 * count > len(body):
        raise ValueError(f"BYE lists {count} SSRCs but has room for {len(body) // 4}")
    ssrcs = struct.unpack_from(f"!{count}I", body)
    reason = ""
    rest = body[4 * count :]
    if rest:
        length = rest[0]
        if 1 + length > len(rest):
            raise ValueError("BYE reason overruns the packet")
        reason = rest[1 : 1 + length].decode("utf-8", errors="replace")
    return RtcpBye(tuple(ssrcs), reason)
