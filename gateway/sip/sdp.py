"""SDP for the SIP side of the bridge: parsing, serialising and audio offer/answer.

The session description format is RFC 8866 (which replaced RFC 4566); the offer/answer
rules are RFC 3264. A conference leg needs exactly one audio stream, so :func:`negotiate`
accepts the first acceptable ``m=audio`` line of an offer with one codec (plus
telephone-event, RFC 4733) and rejects every other stream with port 0. :func:`make_offer`
and :func:`accept_answer` are the dial-out counterparts.

Codecs: PCMU (static PT 0), PCMA (8), G722 (9; RFC 3551 keeps its RTP clock at 8000
although the audio is sampled at 16 kHz), opus/48000/2 (RFC 7587, dynamic) and
telephone-event/8000 or /48000 (dynamic).

Session versions (RFC 3264 §8): every SDP we send in one dialog keeps the o= session id
of our first SDP; the version goes up by one exactly when the content changes. Build the
new SDP with the previous version and pass it through :func:`revise`, which does that.

Pure functions over strings and dataclasses: no I/O.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal, cast

__all__ = [
    "DEFAULT_CODECS",
    "DIRECTIONS",
    "STATIC_PAYLOAD_TYPES",
    "Answer",
    "Attribute",
    "Codec",
    "Connection",
    "Direction",
    "MediaDescription",
    "Negotiated",
    "Origin",
    "RtpMap",
    "SdpError",
    "SessionDescription",
    "Timing",
    "accept_answer",
    "is_same_version",
    "make_offer",
    "negotiate",
    "parse_sdp",
    "revise",
]

Direction = Literal["sendrecv", "sendonly", "recvonly", "inactive"]
DIRECTIONS: tuple[Direction, ...] = ("sendrecv", "sendonly", "recvonly", "inactive")

# Plain RTP only: the secure profiles (SAVP, SAVPF, DTLS) need keys we do not negotiate
# here. AVPF is AVP plus optional feedback, which an AVP endpoint may simply not send.
PLAIN_RTP_PROFILES: tuple[str, ...] = ("RTP/AVP", "RTP/AVPF")

DEFAULT_CODECS: tuple[str, ...] = ("PCMU", "PCMA", "telephone-event")

DEFAULT_PTIME = 20
# Outside this window a ptime is more likely a typo than a wish; fall back to 20 ms.
_MIN_PTIME, _MAX_PTIME = 10, 120

# Events the bridge understands: DTMF 0-9 * # A-D (0-15) and flash (16), RFC 4733 §3.2.
_OUR_EVENTS = frozenset(range(17))
# RFC 4733 §2.4.1: without an fmtp line the receiver only expects the DTMF events.
_DEFAULT_EVENTS = frozenset(range(16))

TELEPHONE_EVENT = "telephone-event"
_TELEPHONE_EVENT_PT = {8000: 101, 48000: 102}

_ORIGIN_USERNAME = "telekonf"

_LINE = re.compile(r"([a-z])=(.*)")
_NUMBER = re.compile(r"[0-9]{1,64}")  # int() alone would also accept "٣" and "1_0"
_TOKEN = re.compile(r"[!#$%&'*+\-.0-9A-Z^_`a-z{|}~]+")
_RTPMAP = re.compile(r"([0-9]{1,3})\s+([^/\s]+)/([0-9]{1,10})(?:/([0-9]{1,3}))?")
_EVENT_ITEM = re.compile(r"([0-9]{1,3})(?:-([0-9]{1,3}))?")

# Session-level line types in RFC 8866 §5 order; r= belongs to the t= before it.
_SESSION_TYPES = frozenset("vosiuepcbtrzkam")
_MEDIA_TYPES = frozenset("icbka")


class SdpError(ValueError):
    """A session description we cannot parse or accept.

    ``status`` is the SIP response for an offer that fails: 400 for a malformed body,
    488 (Not Acceptable Here) when it is well formed but nothing in it is acceptable.
    """

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


# --------------------------------------------------------------------------- model


@dataclass
class Origin:
    """The o= line: identifies the session and the version of its description."""

    username: str
    session_id: int
    session_version: int
    net_type: str
    addr_type: str
    address: str

    def __str__(self) -> str:
        return (
            f"{self.username} {self.session_id} {self.session_version} "
            f"{self.net_type} {self.addr_type} {self.address}"
        )


@dataclass
class Connection:
    """A c= line. ``address`` is kept verbatim (multicast may carry /ttl/count)."""

    net_type: str
    addr_type: str
    address: str

    @property
    def host(self) -> str:
        """The address without a multicast TTL or address count."""
        return self.address.split("/", 1)[0]

    def __str__(self) -> str:
        return f"{self.net_type} {self.addr_type} {self.address}"


@dataclass
class Timing:
    """A t= line and the r= lines that repeat it (kept as text; SIP uses ``t=0 0``)."""

    start: int = 0
    stop: int = 0
    repeats: list[str] = field(default_factory=list)


@dataclass
class Attribute:
    """An a= line; ``value`` is None for a property attribute such as ``a=sendrecv``."""

    name: str
    value: str | None = None

    def __str__(self) -> str:
        return self.name if self.value is None else f"{self.name}:{self.value}"


@dataclass(frozen=True)
class RtpMap:
    """What a payload type number stands for (an a=rtpmap line or a static type)."""

    payload_type: int
    encoding: str
    clock_rate: int
    channels: int = 1

    def __str__(self) -> str:
        text = f"{self.payload_type} {self.encoding}/{self.clock_rate}"
        return text if self.channels == 1 else f"{text}/{self.channels}"

    def same_format(self, other: RtpMap) -> bool:
        """Same codec, ignoring the payload type number (encoding names are case-blind)."""
        return (
            self.encoding.lower() == other.encoding.lower()
            and self.clock_rate == other.clock_rate
            and self.channels == other.channels
        )


# RFC 3551 §6 audio payload types that need no rtpmap (name, clock rate, channels).
STATIC_PAYLOAD_TYPES: dict[int, tuple[str, int, int]] = {
    0: ("PCMU", 8000, 1),
    3: ("GSM", 8000, 1),
    4: ("G723", 8000, 1),
    5: ("DVI4", 8000, 1),
    6: ("DVI4", 16000, 1),
    7: ("LPC", 8000, 1),
    8: ("PCMA", 8000, 1),
    9: ("G722", 8000, 1),
    10: ("L16", 44100, 2),
    11: ("L16", 44100, 1),
    12: ("QCELP", 8000, 1),
    13: ("CN", 8000, 1),
    14: ("MPA", 90000, 1),
    15: ("G728", 8000, 1),
    16: ("DVI4", 11025, 1),
    17: ("DVI4", 22050, 1),
    18: ("G729", 8000, 1),
}


@dataclass
class MediaDescription:
    """An m= line and the lines under it."""

    media: str
    port: int
    proto: str
    formats: list[str]
    port_count: int | None = None
    information: str | None = None
    connection: Connection | None = None
    bandwidths: list[str] = field(default_factory=list)
    key: str | None = None
    attributes: list[Attribute] = field(default_factory=list)

    def values(self, name: str) -> list[str]:
        """Values of every ``a=name:value`` line (property attributes give "")."""
        return [a.value or "" for a in self.attributes if a.name == name]

    def first(self, name: str) -> str | None:
        """The value of the first ``a=name`` line, or None if there is none."""
        found = self.values(name)
        return found[0] if found else None

    def has(self, name: str) -> bool:
        return any(a.name == name for a in self.attributes)

    @property
    def payload_types(self) -> list[int]:
        """The formats as RTP payload type numbers (empty for non-RTP transports)."""
        return [int(f) for f in self.formats] if _is_rtp(self.proto) else []

    def rtpmaps(self) -> dict[int, RtpMap]:
        """The explicit a=rtpmap lines by payload type (the first one wins)."""
        maps: dict[int, RtpMap] = {}
        for value in self.values("rtpmap"):
            rtpmap = _parse_rtpmap(value)
            if rtpmap is not None:
                maps.setdefault(rtpmap.payload_type, rtpmap)
        return maps

    def rtpmap(self, payload_type: int) -> RtpMap | None:
        """The codec behind a payload type: its rtpmap, else the RFC 3551 static type."""
        explicit = self.rtpmaps().get(payload_type)
        if explicit is not None:
            return explicit
        static = STATIC_PAYLOAD_TYPES.get(payload_type)
        if static is None:
            return None
        return RtpMap(payload_type, *static)

    def fmtp(self, payload_type: int) -> str | None:
        """The parameters of ``a=fmtp:<payload_type> ...``, or None."""
        for value in self.values("fmtp"):
            number, _, params = value.partition(" ")
            if number == str(payload_type):
                return params.strip()
        return None

    @property
    def direction(self) -> Direction | None:
        """The media-level direction attribute, if any."""
        return _direction_in(self.attributes)

    def __str__(self) -> str:
        port = self.port if self.port_count is None else f"{self.port}/{self.port_count}"
        lines = [f"m={self.media} {port} {self.proto} {' '.join(self.formats)}"]
        if self.information is not None:
            lines.append(f"i={self.information}")
        if self.connection is not None:
            lines.append(f"c={self.connection}")
        lines += [f"b={b}" for b in self.bandwidths]
        if self.key is not None:
            lines.append(f"k={self.key}")
        lines += [f"a={a}" for a in self.attributes]
        return "".join(line + "\r\n" for line in lines)


@dataclass
class SessionDescription:
    """A whole SDP body. ``str()`` gives the wire form with CRLF line ends."""

    origin: Origin
    session_name: str = "-"
    version: int = 0
    information: str | None = None
    uri: str | None = None
    emails: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    connection: Connection | None = None
    bandwidths: list[str] = field(default_factory=list)
    times: list[Timing] = field(default_factory=lambda: [Timing()])
    zone: str | None = None
    key: str | None = None
    attributes: list[Attribute] = field(default_factory=list)
    media: list[MediaDescription] = field(default_factory=list)

    def connection_for(self, media: MediaDescription) -> Connection | None:
        """The media-level c= line, else the session-level one."""
        return media.connection or self.connection

    def direction_for(self, media: MediaDescription) -> Direction:
        """Media-level direction, else session-level, else sendrecv (RFC 3264 §5.1)."""
        return media.direction or _direction_in(self.attributes) or "sendrecv"

    def __str__(self) -> str:
        lines = [f"v={self.version}", f"o={self.origin}", f"s={self.session_name}"]
        if self.information is not None:
            lines.append(f"i={self.information}")
        if self.uri is not None:
            lines.append(f"u={self.uri}")
        lines += [f"e={e}" for e in self.emails]
        lines += [f"p={p}" for p in self.phones]
        if self.connection is not None:
            lines.append(f"c={self.connection}")
        lines += [f"b={b}" for b in self.bandwidths]
        for timing in self.times:
            lines.append(f"t={timing.start} {timing.stop}")
            lines += [f"r={r}" for r in timing.repeats]
        if self.zone is not None:
            lines.append(f"z={self.zone}")
        if self.key is not None:
            lines.append(f"k={self.key}")
        lines += [f"a={a}" for a in self.attributes]
        head = "".join(line + "\r\n" for line in lines)
        return head + "".join(str(m) for m in self.media)


# --------------------------------------------------------------------------- parsing


def parse_sdp(text: str) -> SessionDescription:
    """Parse an SDP body.

    Tolerates LF-only line ends, trailing blank lines and trailing whitespace; keeps
    unknown attributes. Raises :class:`SdpError` (status 400) naming the line for
    anything malformed, and for a missing v=, o=, s=, t= or m= line or a stream
    without a connection address.
    """
    parser = _Parser()
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw[:-1] if raw.endswith("\r") else raw
        if not line.strip():
            continue  # blank lines are not SDP, but trailing ones are common
        parser.feed(number, line)
    return parser.finish()


class _Parser:
    """Line-by-line state: session level until the first m= line, then media level."""

    def __init__(self) -> None:
        self.started = False
        self.origin: Origin | None = None
        self.session_name: str | None = None
        self.fields: dict[str, str] = {}  # single-valued session lines: i u z k
        self.emails: list[str] = []
        self.phones: list[str] = []
        self.connection: Connection | None = None
        self.bandwidths: list[str] = []
        self.times: list[Timing] = []
        self.attributes: list[Attribute] = []
        self.media: list[MediaDescription] = []
        self.media_lines: list[int] = []
        self.number = 0

    def fail(self, message: str) -> SdpError:
        return SdpError(f"SDP line {self.number}: {message}")

    def feed(self, number: int, line: str) -> None:
        self.number = number
        if "\r" in line or "\0" in line:
            raise self.fail("contains a stray CR or NUL character")
        match = _LINE.fullmatch(line)
        if match is None:
            raise self.fail(f"expected '<letter>=<value>', got {line[:40]!r}")
        kind, value = match.group(1), match.group(2)
        if kind not in "si":
            value = value.rstrip(" \t")  # free text keeps its spaces ("s= " is allowed)
        if not self.started:
            if kind != "v":
                raise self.fail(f"an SDP body must start with v=, got {kind}=")
            if value != "0":
                raise self.fail(f"unsupported SDP version {value!r}")
            self.started = True
            return
        if self.media:
            self.media_line(kind, value)
        else:
            self.session_line(kind, value)

    def session_line(self, kind: str, value: str) -> None:
        if kind not in _SESSION_TYPES:
            raise self.fail(f"unknown line type {kind}=")
        if kind == "v":
            raise self.fail("duplicate v= line")
        if kind == "o":
            if self.origin is not None:
                raise self.fail("duplicate o= line")
            self.origin = self.parse_origin(value)
        elif kind == "s":
            if self.session_name is not None:
                raise self.fail("duplicate s= line")
            self.session_name = value
        elif kind in "iuzk":
            if kind in self.fields:
                raise self.fail(f"duplicate {kind}= line")
            self.fields[kind] = value
        elif kind == "e":
            self.emails.append(value)
        elif kind == "p":
            self.phones.append(value)
        elif kind == "c":
            if self.connection is not None:
                raise self.fail("duplicate session-level c= line")
            self.connection = self.parse_connection(value)
        elif kind == "b":
            self.bandwidths.append(self.parse_bandwidth(value))
        elif kind == "t":
            parts = value.split()
            if len(parts) != 2:
                raise self.fail(f"t= needs a start and a stop time, got {value!r}")
            self.times.append(
                Timing(self.number_of(parts[0], "t= start"), self.number_of(parts[1], "t= stop"))
            )
        elif kind == "r":
            if not self.times:
                raise self.fail("r= line before any t= line")
            self.times[-1].repeats.append(value)
        elif kind == "a":
            self.attributes.append(self.parse_attribute(value))
        else:  # "m"
            self.start_media(value)

    def media_line(self, kind: str, value: str) -> None:
        current = self.media[-1]
        if kind == "m":
            self.start_media(value)
        elif kind not in _MEDIA_TYPES:
            if kind in _SESSION_TYPES:
                raise self.fail(f"{kind}= is not allowed after the first m= line")
            raise self.fail(f"unknown line type {kind}=")
        elif kind == "i":
            if current.information is not None:
                raise self.fail("duplicate i= line in a media description")
            current.information = value
        elif kind == "c":
            if current.connection is not None:
                # Layered multicast may repeat c=; a conference bridge never needs it.
                raise self.fail("more than one c= line in a media description")
            current.connection = self.parse_connection(value)
        elif kind == "b":
            current.bandwidths.append(self.parse_bandwidth(value))
        elif kind == "k":
            current.key = value
        else:  # "a"
            attribute = self.parse_attribute(value)
            if attribute.name == "rtpmap" and _is_rtp(current.proto):
                self.check_rtpmap(attribute.value or "")
            current.attributes.append(attribute)

    def start_media(self, value: str) -> None:
        parts = value.split()
        if len(parts) < 4:
            raise self.fail(f"m= needs '<media> <port> <proto> <format>...', got {value[:60]!r}")
        media, port_text, proto, formats = parts[0], parts[1], parts[2], parts[3:]
        if _TOKEN.fullmatch(media) is None:
            raise self.fail(f"bad media type {media!r}")
        port_part, slash, count_part = port_text.partition("/")
        port = self.number_of(port_part, "m= port")
        if port > 65535:
            raise self.fail(f"m= port {port} is out of range")
        port_count = self.number_of(count_part, "m= port count") if slash else None
        if port_count == 0:
            raise self.fail("m= port count must be at least 1")
        if _is_rtp(proto):
            for fmt in formats:
                if self.number_of(fmt, "RTP payload type") > 127:
                    raise self.fail(f"RTP payload type {fmt} is out of range 0-127")
        self.media.append(MediaDescription(media, port, proto, formats, port_count))
        self.media_lines.append(self.number)

    def parse_origin(self, value: str) -> Origin:
        parts = value.split()
        if len(parts) != 6:
            raise self.fail(
                "o= needs '<username> <sess-id> <sess-version> <nettype> <addrtype> "
                f"<address>', got {value[:80]!r}"
            )
        return Origin(
            parts[0],
            self.number_of(parts[1], "o= session id"),
            self.number_of(parts[2], "o= session version"),
            parts[3],
            parts[4],
            parts[5],
        )

    def parse_connection(self, value: str) -> Connection:
        parts = value.split()
        if len(parts) != 3:
            raise self.fail(f"c= needs '<nettype> <addrtype> <address>', got {value[:60]!r}")
        return Connection(parts[0], parts[1], parts[2])

    def parse_bandwidth(self, value: str) -> str:
        kind, colon, amount = value.partition(":")
        if not colon or _TOKEN.fullmatch(kind) is None or _NUMBER.fullmatch(amount) is None:
            raise self.fail(f"b= needs '<bwtype>:<bandwidth>', got {value[:40]!r}")
        return value

    def parse_attribute(self, value: str) -> Attribute:
        name, colon, rest = value.partition(":")
        if _TOKEN.fullmatch(name) is None:
            raise self.fail(f"bad attribute name in a={value[:40]!r}")
        return Attribute(name, rest if colon else None)

    def check_rtpmap(self, value: str) -> None:
        rtpmap = _parse_rtpmap(value)
        if rtpmap is None:
            raise self.fail(
                f"a=rtpmap needs '<payload type> <encoding>/<clock rate>[/<channels>]', "
                f"got {value[:60]!r}"
            )
        if rtpmap.payload_type > 127:
            raise self.fail(f"a=rtpmap payload type {rtpmap.payload_type} is out of range")

    def number_of(self, text: str, what: str) -> int:
        if _NUMBER.fullmatch(text) is None:
            raise self.fail(f"{what} must be a decimal number, got {text[:30]!r}")
        return int(text)

    def finish(self) -> SessionDescription:
        if not self.started:
            raise SdpError("empty SDP body (no v= line)")
        if self.origin is None:
            raise SdpError("SDP has no o= line")
        if self.session_name is None:
            raise SdpError("SDP has no s= line")
        if not self.times:
            raise SdpError("SDP has no t= line")
        if not self.media:
            raise SdpError("SDP has no m= line")
        for media, number in zip(self.media, self.media_lines, strict=True):
            # A disabled stream (port 0) carries nothing, so a missing c= is harmless there.
            if media.connection is None and self.connection is None and media.port != 0:
                raise SdpError(
                    f"SDP line {number}: m={media.media} has no connection address "
                    "(no c= line in the media description or at session level)"
                )
        return SessionDescription(
            origin=self.origin,
            session_name=self.session_name,
            information=self.fields.get("i"),
            uri=self.fields.get("u"),
            emails=self.emails,
            phones=self.phones,
            connection=self.connection,
            bandwidths=self.bandwidths,
            times=self.times,
            zone=self.fields.get("z"),
            key=self.fields.get("k"),
            attributes=self.attributes,
            media=self.media,
        )


def _parse_rtpmap(value: str) -> RtpMap | None:
    match = _RTPMAP.fullmatch(value.strip())
    if match is None:
        return None
    payload_type, encoding, clock, channels = match.groups()
    return RtpMap(int(payload_type), encoding, int(clock), int(channels) if channels else 1)


def _is_rtp(proto: str) -> bool:
    return "RTP/" in proto.upper()


def _direction_in(attributes: Iterable[Attribute]) -> Direction | None:
    for attribute in attributes:
        if attribute.value is None and attribute.name in DIRECTIONS:
            return cast(Direction, attribute.name)
    return None


# --------------------------------------------------------------------------- codecs


@dataclass(frozen=True)
class Codec:
    """An audio codec the bridge can carry.

    ``clock_rate`` is the RTP timestamp rate written in SDP, ``sample_rate`` the rate of
    the audio itself; they differ for G722. ``payload_type`` is the static type, or the
    dynamic number we use in our own offers.
    """

    name: str
    clock_rate: int
    channels: int
    sample_rate: int
    payload_type: int

    def rtpmap(self, payload_type: int | None = None) -> RtpMap:
        pt = self.payload_type if payload_type is None else payload_type
        return RtpMap(pt, self.name, self.clock_rate, self.channels)

    def matches(self, rtpmap: RtpMap) -> bool:
        return self.rtpmap().same_format(rtpmap)


CODECS: dict[str, Codec] = {
    "pcmu": Codec("PCMU", 8000, 1, 8000, 0),
    "pcma": Codec("PCMA", 8000, 1, 8000, 8),
    "g722": Codec("G722", 8000, 1, 16000, 9),
    # RFC 7587 §7: always opus/48000/2, whatever is actually sent.
    "opus": Codec("opus", 48000, 2, 48000, 96),
}


def _resolve_codecs(names: Iterable[str]) -> tuple[list[Codec], bool]:
    """Our codec list in the caller's order, and whether telephone-event is wanted."""
    codecs: list[Codec] = []
    dtmf = False
    for name in names:
        key = name.lower()
        if key == TELEPHONE_EVENT:
            dtmf = True
        elif key in CODECS:
            if CODECS[key] not in codecs:
                codecs.append(CODECS[key])
        else:
            raise ValueError(f"unsupported codec {name!r}")
    if not codecs:
        raise ValueError("at least one audio codec is needed besides telephone-event")
    return codecs, dtmf


def _parse_events(text: str | None) -> frozenset[int] | None:
    """An RFC 4733 event list such as "0-15" or "0-11,16"; None if unreadable."""
    if text is None:
        return _DEFAULT_EVENTS
    events: set[int] = set()
    for item in text.replace(" ", "").split(","):
        match = _EVENT_ITEM.fullmatch(item)
        if match is None:
            return None
        low = int(match.group(1))
        high = int(match.group(2)) if match.group(2) is not None else low
        if high < low or high > 255:
            return None
        events.update(range(low, high + 1))
    return frozenset(events)


def _format_events(events: Iterable[int]) -> str:
    ranges: list[str] = []
    ordered = sorted(events)
    start = previous = ordered[0]
    for event in [*ordered[1:], -2]:
        if event != previous + 1:
            ranges.append(str(start) if start == previous else f"{start}-{previous}")
            start = event
        previous = event
    return ",".join(ranges)


# --------------------------------------------------------------------------- offer/answer


@dataclass(frozen=True)
class Negotiated:
    """What the RTP side needs to know about the one audio stream of a call.

    Payload types: ``payload_type`` and ``telephone_event`` are the numbers in the
    remote's SDP, so the RTP we send carries them; ``receive_payload_type`` and
    ``receive_telephone_event`` are the numbers in our SDP, which the remote uses when
    it sends. :func:`negotiate` keeps the offer's numbers, so both are equal there.

    ``direction`` is ours (``sendonly``: we send and do not receive). ``on_hold`` is the
    remote's doing: it will not send to us, or asked us not to send to it (a=sendonly,
    a=recvonly, a=inactive or an RFC 2543 ``c=0.0.0.0``).
    """

    remote_address: str
    remote_port: int
    remote_rtcp_address: str
    remote_rtcp_port: int
    codec: str
    payload_type: int
    clock_rate: int
    sample_rate: int
    channels: int
    fmtp: str | None
    telephone_event: int | None
    telephone_event_clock_rate: int | None
    receive_payload_type: int
    receive_telephone_event: int | None
    ptime: int
    direction: Direction
    on_hold: bool
    media_index: int

    @property
    def sends(self) -> bool:
        """Whether we send RTP to the remote."""
        return self.direction in ("sendrecv", "sendonly")

    @property
    def receives(self) -> bool:
        """Whether we expect RTP from the remote."""
        return self.direction in ("sendrecv", "recvonly")


@dataclass(frozen=True)
class Answer:
    """The SDP to send back and the negotiated stream."""

    sdp: SessionDescription
    negotiated: Negotiated

    def __str__(self) -> str:
        return str(self.sdp)


def negotiate(
    offer: SessionDescription,
    local_address: str,
    local_port: int,
    supported: Sequence[str] = DEFAULT_CODECS,
    *,
    session_id: int,
    session_version: int,
    direction: Direction = "sendrecv",
    local_rtcp_port: int | None = None,
) -> Answer:
    """Answer an offer (RFC 3264 §6) for one audio stream at ``local_address:local_port``.

    The first ``m=audio`` line on plain RTP with a codec from ``supported`` is accepted
    with the first such codec in the offer's order (the offerer's preference), under the
    offer's payload type number, plus telephone-event if both sides have it. Every other
    m= line is rejected with port 0, in the offer's order. ``direction`` is what we would
    like; the answer narrows it to what the offer allows (sendonly ↔ recvonly).

    Raises :class:`SdpError` with status 488 when no stream is acceptable.
    """
    codecs, want_dtmf = _resolve_codecs(supported)
    _check_port(local_port)
    if local_rtcp_port is not None:
        _check_port(local_rtcp_port)
    if direction not in DIRECTIONS:
        raise ValueError(f"unknown direction {direction!r}")

    chosen: tuple[int, int, Codec] | None = None
    reasons: list[str] = []
    for index, media in enumerate(offer.media):
        if media.media != "audio" or media.port == 0:
            continue
        if media.proto.upper() not in PLAIN_RTP_PROFILES:
            reasons.append(f"m= line {index + 1}: transport {media.proto} is not plain RTP")
            continue
        pick = _first_common_codec(media, codecs)
        if pick is None:
            listing = ", ".join(_describe(media, pt) for pt in media.payload_types)
            reasons.append(f"m= line {index + 1}: no common codec (offered {listing})")
            continue
        chosen = (index, *pick)
        break
    if chosen is None:
        detail = "; ".join(reasons) if reasons else "the offer has no active audio stream"
        raise SdpError(f"no acceptable audio stream: {detail}", status=488)

    index, payload_type, codec = chosen
    media = offer.media[index]
    offer_direction = offer.direction_for(media)
    remote = _remote_endpoint(offer, media)
    # RFC 3264 §8.4: c=0.0.0.0 (RFC 2543 hold) means "do not send to me".
    remote_receives = offer_direction in ("sendrecv", "recvonly") and not _unspecified(remote[0])
    remote_sends = offer_direction in ("sendrecv", "sendonly")
    our_direction = _combine(
        send=direction in ("sendrecv", "sendonly") and remote_receives,
        receive=direction in ("sendrecv", "recvonly") and remote_sends,
    )

    event = _pick_telephone_event(media, codec.clock_rate) if want_dtmf else None
    ptime = _ptime(offer, media)

    formats = [str(payload_type)]
    attributes = [Attribute("rtpmap", str(codec.rtpmap(payload_type)))]
    if event is not None:
        event_pt, event_clock, events = event
        formats.append(str(event_pt))
        attributes.append(Attribute("rtpmap", f"{event_pt} {TELEPHONE_EVENT}/{event_clock}"))
        attributes.append(Attribute("fmtp", f"{event_pt} {_format_events(events)}"))
    attributes.append(Attribute("ptime", str(ptime)))
    if local_rtcp_port is not None:
        attributes.append(Attribute("rtcp", str(local_rtcp_port)))
    attributes.append(Attribute(our_direction))

    answer_media: list[MediaDescription] = []
    for position, offered in enumerate(offer.media):
        if position == index:
            answer_media.append(
                MediaDescription("audio", local_port, media.proto, formats, attributes=attributes)
            )
        else:
            # RFC 3264 §6: one m= line per offered stream, port 0 for those we refuse.
            answer_media.append(
                MediaDescription(offered.media, 0, offered.proto, list(offered.formats))
            )

    addr_type = _addr_type(local_address)
    sdp = SessionDescription(
        origin=Origin(
            _ORIGIN_USERNAME, session_id, session_version, "IN", addr_type, local_address
        ),
        connection=Connection("IN", addr_type, local_address),
        # RFC 3264 §6: the answer's t= line must equal the offer's.
        times=[Timing(t.start, t.stop, list(t.repeats)) for t in offer.times],
        media=answer_media,
    )
    negotiated = Negotiated(
        remote_address=remote[0],
        remote_port=media.port,
        remote_rtcp_address=remote[1],
        remote_rtcp_port=remote[2],
        codec=codec.name,
        payload_type=payload_type,
        clock_rate=codec.clock_rate,
        sample_rate=codec.sample_rate,
        channels=codec.channels,
        fmtp=media.fmtp(payload_type),
        telephone_event=event[0] if event else None,
        telephone_event_clock_rate=event[1] if event else None,
        receive_payload_type=payload_type,
        receive_telephone_event=event[0] if event else None,
        ptime=ptime,
        direction=our_direction,
        on_hold=not (remote_sends and remote_receives),
        media_index=index,
    )
    return Answer(sdp, negotiated)


def make_offer(
    local_address: str,
    local_port: int,
    codecs: Sequence[str] = DEFAULT_CODECS,
    *,
    session_id: int,
    session_version: int,
    direction: Direction = "sendrecv",
    ptime: int = DEFAULT_PTIME,
    local_rtcp_port: int | None = None,
) -> SessionDescription:
    """An offer with one audio stream, codecs in our order of preference (for dial-out).

    telephone-event is offered at 8000 Hz (PT 101, events 0-16) and, when opus is in the
    list, also at 48000 Hz (PT 102) so it can share opus's clock (RFC 4733 §2.1).
    """
    ours, want_dtmf = _resolve_codecs(codecs)
    _check_port(local_port)
    if local_rtcp_port is not None:
        _check_port(local_rtcp_port)
    if direction not in DIRECTIONS:
        raise ValueError(f"unknown direction {direction!r}")
    formats = [str(c.payload_type) for c in ours]
    attributes = [Attribute("rtpmap", str(c.rtpmap())) for c in ours]
    if want_dtmf:
        clocks = sorted({8000, *(c.clock_rate for c in ours if c.name == "opus")})
        for clock in clocks:
            pt = _TELEPHONE_EVENT_PT[clock]
            formats.append(str(pt))
            attributes.append(Attribute("rtpmap", f"{pt} {TELEPHONE_EVENT}/{clock}"))
            attributes.append(Attribute("fmtp", f"{pt} {_format_events(_OUR_EVENTS)}"))
    attributes.append(Attribute("ptime", str(ptime)))
    if local_rtcp_port is not None:
        attributes.append(Attribute("rtcp", str(local_rtcp_port)))
    attributes.append(Attribute(direction))
    addr_type = _addr_type(local_address)
    return SessionDescription(
        origin=Origin(
            _ORIGIN_USERNAME, session_id, session_version, "IN", addr_type, local_address
        ),
        connection=Connection("IN", addr_type, local_address),
        media=[MediaDescription("audio", local_port, "RTP/AVP", formats, attributes=attributes)],
    )


def accept_answer(offer: SessionDescription, answer: SessionDescription) -> Negotiated:
    """What the remote chose in its answer to our ``offer`` (RFC 3264 §7).

    The answer must mirror the offer's m= lines; its codec must be one we offered (an
    answerer may renumber it, RFC 3264 §6.1, so codecs are compared by name, clock and
    channels). Raises :class:`SdpError` otherwise.
    """
    if len(answer.media) != len(offer.media):
        raise SdpError(
            f"the answer has {len(answer.media)} m= lines, the offer had {len(offer.media)}"
        )
    chosen: int | None = None
    for index, (ours, theirs) in enumerate(zip(offer.media, answer.media, strict=True)):
        if ours.media != theirs.media:
            raise SdpError(
                f"answer m= line {index + 1} is {theirs.media}, the offer had {ours.media}"
            )
        if ours.proto.upper() != theirs.proto.upper() and theirs.port != 0:
            raise SdpError(
                f"answer m= line {index + 1} uses {theirs.proto}, the offer had {ours.proto}"
            )
        if chosen is None and ours.media == "audio" and ours.port != 0 and theirs.port != 0:
            chosen = index
    if chosen is None:
        raise SdpError("the answer rejected every audio stream", status=488)

    ours, theirs = offer.media[chosen], answer.media[chosen]
    pick = _answered_codec(ours, theirs)
    if pick is None:
        answered = ", ".join(_describe(theirs, pt) for pt in theirs.payload_types)
        raise SdpError(f"the answer has no codec from our offer (answered {answered})", status=488)
    send_pt, receive_pt, codec = pick

    event_send: tuple[int, int] | None = None
    event_receive: int | None = None
    offered_events = {
        rtpmap.clock_rate: pt
        for pt in reversed(ours.payload_types)
        if (rtpmap := ours.rtpmap(pt)) is not None and rtpmap.encoding.lower() == TELEPHONE_EVENT
    }
    answered_events = [
        (pt, rtpmap.clock_rate)
        for pt in theirs.payload_types
        if (rtpmap := theirs.rtpmap(pt)) is not None
        and rtpmap.encoding.lower() == TELEPHONE_EVENT
        and rtpmap.clock_rate in offered_events
    ]
    if answered_events:
        same_clock = [e for e in answered_events if e[1] == codec.clock_rate]
        event_send = (same_clock or answered_events)[0]
        event_receive = offered_events[event_send[1]]

    remote = _remote_endpoint(answer, theirs)
    answer_direction = answer.direction_for(theirs)
    offer_direction = offer.direction_for(ours)
    remote_sends = answer_direction in ("sendrecv", "sendonly")
    remote_receives = answer_direction in ("sendrecv", "recvonly") and not _unspecified(remote[0])
    our_direction = _combine(
        send=offer_direction in ("sendrecv", "sendonly") and remote_receives,
        receive=offer_direction in ("sendrecv", "recvonly") and remote_sends,
    )
    return Negotiated(
        remote_address=remote[0],
        remote_port=theirs.port,
        remote_rtcp_address=remote[1],
        remote_rtcp_port=remote[2],
        codec=codec.name,
        payload_type=send_pt,
        clock_rate=codec.clock_rate,
        sample_rate=codec.sample_rate,
        channels=codec.channels,
        fmtp=theirs.fmtp(send_pt),
        telephone_event=event_send[0] if event_send else None,
        telephone_event_clock_rate=event_send[1] if event_send else None,
        receive_payload_type=receive_pt,
        receive_telephone_event=event_receive,
        ptime=_ptime(answer, theirs),
        direction=our_direction,
        on_hold=not (remote_sends and remote_receives),
        media_index=chosen,
    )


def revise(previous: SessionDescription | None, current: SessionDescription) -> SessionDescription:
    """Give ``current`` the o= line RFC 3264 §8 requires after ``previous``.

    Same username, session id and address as the SDP we sent before; the version stays
    if nothing else changed (a session refresh) and goes up by one if anything did.
    ``previous=None`` (our first SDP in the dialog) returns ``current`` unchanged.
    """
    if previous is None:
        return current
    unchanged = replace(current, origin=previous.origin) == previous
    version = previous.origin.session_version + (0 if unchanged else 1)
    return replace(current, origin=replace(previous.origin, session_version=version))


def is_same_version(previous: SessionDescription, current: SessionDescription) -> bool:
    """Whether a remote re-offer repeats its previous SDP (identical o= line, RFC 3264 §8).

    Session-timer refreshes do that; the RTP side need not change anything then.
    """
    return previous.origin == current.origin


# --------------------------------------------------------------------------- helpers


def _check_port(port: int) -> None:
    if not 0 < port <= 65535:
        raise ValueError(f"port {port} is out of range 1-65535")


def _addr_type(address: str) -> str:
    try:
        return "IP6" if ipaddress.ip_address(address).version == 6 else "IP4"
    except ValueError:
        return "IP4"  # a host name; RFC 8866 allows an FQDN in c= and o=


def _unspecified(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return False


def _combine(*, send: bool, receive: bool) -> Direction:
    if send and receive:
        return "sendrecv"
    if send:
        return "sendonly"
    return "recvonly" if receive else "inactive"


def _first_common_codec(media: MediaDescription, codecs: list[Codec]) -> tuple[int, Codec] | None:
    for payload_type in media.payload_types:
        rtpmap = media.rtpmap(payload_type)
        if rtpmap is None:
            continue  # a dynamic type without rtpmap means nothing
        for codec in codecs:
            if codec.matches(rtpmap):
                return payload_type, codec
    return None


def _answered_codec(
    ours: MediaDescription, theirs: MediaDescription
) -> tuple[int, int, Codec] | None:
    """(the answer's payload type, ours, the codec) for the first answered codec we offered."""
    for payload_type in theirs.payload_types:
        answered = theirs.rtpmap(payload_type)
        if answered is None or answered.encoding.lower() == TELEPHONE_EVENT:
            continue
        codec = CODECS.get(answered.encoding.lower())
        if codec is None or not codec.matches(answered):
            continue
        for our_pt in ours.payload_types:
            offered = ours.rtpmap(our_pt)
            if offered is not None and offered.same_format(answered):
                return payload_type, our_pt, codec
    return None


def _pick_telephone_event(
    media: MediaDescription, clock_rate: int
) -> tuple[int, int, frozenset[int]] | None:
    """The offered telephone-event to answer with: same clock as the codec if offered."""
    candidates: list[tuple[int, int, frozenset[int]]] = []
    for payload_type in media.payload_types:
        rtpmap = media.rtpmap(payload_type)
        if rtpmap is None or rtpmap.encoding.lower() != TELEPHONE_EVENT:
            continue
        if rtpmap.clock_rate not in _TELEPHONE_EVENT_PT or rtpmap.channels != 1:
            continue
        offered = _parse_events(media.fmtp(payload_type))
        # An unreadable list is treated as the RFC 4733 default rather than failing the call.
        events = (offered if offered is not None else _DEFAULT_EVENTS) & _OUR_EVENTS
        if events:
            candidates.append((payload_type, rtpmap.clock_rate, events))
    same_clock = [c for c in candidates if c[1] == clock_rate]
    if same_clock:
        return same_clock[0]
    # Pairing e.g. opus with telephone-event/8000 is common; timestamps then differ in
    # units, which RFC 4733 discourages but the RTP side can handle.
    return candidates[0] if candidates else None


def _ptime(sdp: SessionDescription, media: MediaDescription) -> int:
    """The packet time the describing side wants to receive, in ms (20 if unsaid)."""

    def read(name: str) -> float | None:
        for source in (media.attributes, sdp.attributes):
            for attribute in source:
                if attribute.name == name and attribute.value is not None:
                    try:
                        value = float(attribute.value.strip())
                    except ValueError:
                        return None
                    return value if _MIN_PTIME <= value <= _MAX_PTIME else None
        return None

    ptime = read("ptime") or DEFAULT_PTIME
    maxptime = read("maxptime")
    if maxptime is not None and ptime > maxptime:
        ptime = maxptime
    return round(ptime)


def _remote_endpoint(sdp: SessionDescription, media: MediaDescription) -> tuple[str, str, int]:
    """(RTP address, RTCP address, RTCP port); RTCP from a=rtcp (RFC 3605) or port + 1."""
    connection = sdp.connection_for(media)
    # parse_sdp guarantees a connection for an active stream; a hand-built one may lack it.
    if connection is None:
        raise SdpError(f"m={media.media} has no connection address")
    address = connection.host
    rtcp_address, rtcp_port = address, media.port + 1
    value = media.first("rtcp")
    if value is not None:
        parts = value.split()
        # A malformed a=rtcp only costs us RTCP, so fall back instead of failing the call.
        if parts and _NUMBER.fullmatch(parts[0]) and 0 < int(parts[0]) <= 65535:
            rtcp_port = int(parts[0])
            if len(parts) == 4:
                rtcp_address = parts[3]
    return address, rtcp_address, rtcp_port


def _describe(media: MediaDescription, payload_type: int) -> str:
    rtpmap = media.rtpmap(payload_type)
    if rtpmap is None:
        return str(payload_type)
    return f"{payload_type} {rtpmap.encoding}/{rtpmap.clock_rate}"
