"""SIP messages (RFC 3261 §7, §8.2.6, §18, §19, §20, §25), sans-IO.

``parse_message(data)`` turns one datagram into a ``SipRequest`` or ``SipResponse``;
``StreamFramer`` does the same for a TCP/TLS byte stream; ``bytes(message)`` serialises with
CRLF line ends and a Content-Length computed from the body.

Parsing is lenient where real equipment is sloppy (bare LF line ends, leading CRLFs, header
name case, compact names, folded lines, extra spaces) and strict where guessing would be
dangerous (start line, version, Content-Length, mandatory headers, URIs we route on). Every
problem raises ``SipParseError`` carrying the status code to answer with; no other exception
escapes ``parse_message``.

Content-Length is not kept in ``headers``: it is derived from the body on output, so parsed
and hand-built messages compare equal and cannot carry a stale length.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

__all__ = [
    "COMPACT_FORMS",
    "MAX_MESSAGE_SIZE",
    "REASON_PHRASES",
    "CSeq",
    "Headers",
    "NameAddr",
    "SipMessage",
    "SipParseError",
    "SipRequest",
    "SipResponse",
    "SipUri",
    "StreamFramer",
    "Via",
    "canonical_name",
    "is_keepalive",
    "make_cancel",
    "make_response",
    "parse_message",
    "split_header_values",
    "stamp_received",
]

#: Largest message we accept (UDP's own limit is just under this).
MAX_MESSAGE_SIZE = 65535

MAGIC_COOKIE = "z9hG4bK"


class SipParseError(ValueError):
    """The peer sent something we cannot parse; ``status`` is the response to answer with.

    400 Bad Request by default; 505 for a version other than SIP/2.0, 416 for a Request-URI
    scheme we do not speak, 413 for a body over our limit and 513 for a message over it.
    """

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status

    @property
    def reason(self) -> str:
        return REASON_PHRASES.get(self.status, "Bad Request")


# --------------------------------------------------------------------------------------------
# Header names

#: Compact forms (RFC 3261 §7.3.3 and the extensions that define one).
COMPACT_FORMS: dict[str, str] = {
    "a": "Accept-Contact",  # RFC 3841
    "b": "Referred-By",  # RFC 3892
    "c": "Content-Type",
    "d": "Request-Disposition",  # RFC 3841
    "e": "Content-Encoding",
    "f": "From",
    "i": "Call-ID",
    "j": "Reject-Contact",  # RFC 3841
    "k": "Supported",
    "l": "Content-Length",
    "m": "Contact",
    "n": "Identity-Info",  # RFC 4474
    "o": "Event",  # RFC 6665
    "r": "Refer-To",  # RFC 3515
    "s": "Subject",
    "t": "To",
    "u": "Allow-Events",  # RFC 6665
    "v": "Via",
    "x": "Session-Expires",  # RFC 4028
    "y": "Identity",  # RFC 8224
}

_KNOWN_NAMES = """
Accept Accept-Contact Accept-Encoding Accept-Language Accept-Resource-Priority Alert-Info Allow
Allow-Events Answer-Mode Authentication-Info Authorization Call-ID Call-Info Contact
Content-Disposition Content-Encoding Content-ID Content-Language Content-Length Content-Type
CSeq Date Diversion Error-Info Event Expires Flow-Timer From Geolocation History-Info Identity
Identity-Info In-Reply-To Join Max-Breadth Max-Forwards MIME-Version Min-Expires Min-SE
Organization P-Access-Network-Info P-Asserted-Identity P-Associated-URI P-Called-Party-ID
P-Charging-Function-Addresses P-Charging-Vector P-Early-Media P-Preferred-Identity
P-Visited-Network-ID Path Priority Privacy Proxy-Authenticate Proxy-Authorization Proxy-Require
RAck Reason Record-Route Refer-Sub Refer-To Referred-By Reject-Contact Remote-Party-ID Replaces
Reply-To Request-Disposition Require Resource-Priority Retry-After Route RSeq Security-Client
Security-Server Security-Verify Server Service-Route Session-Expires Session-ID SIP-ETag
SIP-If-Match Subject Subscription-State Supported Target-Dialog Timestamp To Unsupported
User-Agent Via Warning WWW-Authenticate
""".split()

_CANONICAL: dict[str, str] = {name.lower(): name for name in _KNOWN_NAMES}

# Headers whose grammar is a comma-separated list (RFC 3261 §7.3.1). Authentication headers,
# Date, Subject, From/To and anything we do not know are never split: commas occur inside them.
_LIST_HEADERS = frozenset(
    name.lower()
    for name in """
Accept Accept-Contact Accept-Encoding Accept-Language Accept-Resource-Priority Alert-Info Allow
Allow-Events Call-Info Contact Content-Encoding Content-Language Diversion Error-Info
History-Info In-Reply-To P-Associated-URI P-Asserted-Identity P-Preferred-Identity Path
Proxy-Require Reason Record-Route Reject-Contact Request-Disposition Require Resource-Priority
Route Security-Client Security-Server Security-Verify Service-Route Supported Unsupported Via
Warning
""".split()
)

_TOKEN = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+")


def canonical_name(name: str) -> str:
    """Expand a compact form and capitalise a known name; unknown names are kept as written."""
    name = name.strip()
    if len(name) == 1:
        name = COMPACT_FORMS.get(name.lower(), name)
    return _CANONICAL.get(name.lower(), name)


def _key(name: str) -> str:
    return canonical_name(name).lower()


def _split_outside(text: str, separator: str, *, angle: bool) -> list[str]:
    """Split on ``separator`` outside quoted strings (and outside <...> when ``angle``)."""
    parts: list[str] = []
    start = 0
    in_quote = False
    depth = 0
    i = 0
    n = len(text)
    while i < n:
        char = text[i]
        if in_quote:
            if char == "\\":
                i += 1  # the escaped character cannot end the string
            elif char == '"':
                in_quote = False
        elif char == '"':
            in_quote = True
        elif angle and char == "<":
            depth += 1
        elif angle and char == ">" and depth:
            depth -= 1
        elif char == separator and not depth:
            parts.append(text[start:i])
            start = i + 1
        i += 1
    parts.append(text[start:])
    return parts


def split_header_values(name: str, value: str) -> list[str]:
    """The individual values of one header line: split on commas only where the grammar allows."""
    if _key(name) not in _LIST_HEADERS:
        return [value]
    parts = (part.strip(" \t") for part in _split_outside(value, ",", angle=True))
    return [part for part in parts if part]


def _check_name(name: str) -> str:
    canonical = canonical_name(name)
    if not _TOKEN.fullmatch(canonical):
        raise ValueError(f"bad header name {name!r}")
    return canonical


def _check_value(value: str) -> str:
    value = str(value).strip(" \t")
    if "\r" in value or "\n" in value:
        raise ValueError("line break in header value")  # would let a value inject headers
    return value


class Headers:
    """An ordered, multi-valued header list with case-insensitive names.

    Entries are kept as they came (one per header line, compact names expanded, canonical
    capitalisation); ``get_all`` splits comma-separated lists where the grammar allows it.
    Equality is semantic: per header name, the same sequence of individual values.
    """

    def __init__(self, items: Iterable[tuple[str, str]] | Mapping[str, str] | None = None) -> None:
        self._items: list[tuple[str, str]] = []
        if items is not None:
            pairs = items.items() if isinstance(items, Mapping) else items
            for name, value in pairs:
                self.add(name, value)

    def add(self, name: str, value: str, *, first: bool = False) -> None:
        """Append a header (or put it before all others, as a proxy adds Via/Record-Route)."""
        entry = (_check_name(name), _check_value(value))
        if first:
            self._items.insert(0, entry)
        else:
            self._items.append(entry)

    def set(self, name: str, value: str | Iterable[str]) -> None:
        """Replace every header of this name, keeping the position of the first one."""
        key = _key(name)
        values = [value] if isinstance(value, str) else list(value)
        position = next(
            (i for i, (n, _) in enumerate(self._items) if n.lower() == key), len(self._items)
        )
        self.remove(name)
        canonical = _check_name(name)
        for offset, item in enumerate(values):
            self._items.insert(position + offset, (canonical, _check_value(item)))

    def remove(self, name: str) -> int:
        """Remove every header of this name; returns how many lines went."""
        key = _key(name)
        before = len(self._items)
        self._items = [(n, v) for n, v in self._items if n.lower() != key]
        return before - len(self._items)

    def get(self, name: str, default: str | None = None) -> str | None:
        """The first individual value of a header, or ``default``."""
        values = self.get_all(name)
        return values[0] if values else default

    def get_all(self, name: str) -> list[str]:
        """Every individual value, in order, split on commas where the header allows lists."""
        key = _key(name)
        values: list[str] = []
        for n, v in self._items:
            if n.lower() == key:
                values.extend(split_header_values(n, v))
        return values

    def lines(self, name: str) -> list[str]:
        """The raw values of each header line of this name (no comma splitting)."""
        key = _key(name)
        return [v for n, v in self._items if n.lower() == key]

    def replace_first_value(self, name: str, value: str) -> None:
        """Replace the first individual value (e.g. the top Via), keeping the rest of its line."""
        key = _key(name)
        for index, (n, v) in enumerate(self._items):
            if n.lower() == key:
                values = split_header_values(n, v)
                values[:1] = [value]
                self._items[index] = (n, ", ".join(values))
                return
        raise KeyError(name)

    def copy(self) -> Headers:
        clone = Headers()
        clone._items = list(self._items)
        return clone

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        key = _key(name)
        return any(n.lower() == key for n, _ in self._items)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(list(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def _semantic(self) -> dict[str, list[str]]:
        grouped: dict[str, list[str]] = {}
        for n, v in self._items:
            grouped.setdefault(n.lower(), []).extend(split_header_values(n, v))
        return grouped

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Headers):
            return NotImplemented
        return self._semantic() == other._semantic()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"


# --------------------------------------------------------------------------------------------
# URIs, addresses, Via, CSeq

_USER = re.compile(r"[A-Za-z0-9\-_.!~*'()%&=+$,;?/#]+")
_PASSWORD = re.compile(r"[A-Za-z0-9\-_.!~*'()%&=+$,]*")
_HOSTNAME = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.\-]*[A-Za-z0-9_.])?")
_URI_PARAM_NAME = re.compile(r"[A-Za-z0-9\-_.!~*'()%\[\]/:&+$]+")
_URI_PARAM_VALUE = re.compile(r"[A-Za-z0-9\-_.!~*'()%\[\]/:&+$=@,#]*")
_URI_HEADER = re.compile(r"[A-Za-z0-9\-_.!~*'()%\[\]/?:+$=@,]*")
_TEL_NUMBER = re.compile(r"[0-9A-Fa-f*#+\-.()%pPwW]+")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
_FORBIDDEN_IN_URI = re.compile(r'[\x00-\x20\x7f<>"]')
_PORT = re.compile(r"[0-9]{1,5}")
_SUPPORTED_SCHEMES = ("sip", "sips", "tel")


def _parse_port(text: str, what: str) -> int:
    if not _PORT.fullmatch(text) or int(text) > 65535:
        raise SipParseError(f"{what}: bad port {text!r}")
    return int(text)


def _check_host(host: str, what: str) -> str:
    """Validate a host: [IPv6], IPv4 or a host name (underscores tolerated)."""
    if host.startswith("["):
        if not host.endswith("]"):
            raise SipParseError(f"{what}: unterminated IPv6 reference {host!r}")
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            raise SipParseError(f"{what}: bad IPv6 address {host!r}") from None
        return host
    if not _HOSTNAME.fullmatch(host):
        raise SipParseError(f"{what}: bad host {host!r}")
    return host


def _bare_host(host: str) -> str:
    """A host without IPv6 brackets, as sockets want it."""
    return host[1:-1] if host.startswith("[") and host.endswith("]") else host


def _split_hostport(text: str, what: str) -> tuple[str, int | None]:
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise SipParseError(f"{what}: unterminated IPv6 reference {text!r}")
        host, rest = text[: end + 1], text[end + 1 :]
        if rest and not rest.startswith(":"):
            raise SipParseError(f"{what}: junk after IPv6 reference {text!r}")
        port_text = rest[1:] if rest else None
    else:
        host, colon, port_text_ = text.partition(":")
        port_text = port_text_ if colon else None
    _check_host(host, what)
    port = _parse_port(port_text, what) if port_text is not None else None
    return host, port


def _parse_uri_params(text: str, what: str) -> dict[str, str | None]:
    params: dict[str, str | None] = {}
    for piece in text.split(";"):
        if not piece:
            continue  # ";;" and a trailing ";" are harmless
        name, sep, value = piece.partition("=")
        if not _URI_PARAM_NAME.fullmatch(name):
            raise SipParseError(f"{what}: bad URI parameter {piece!r}")
        if sep and not _URI_PARAM_VALUE.fullmatch(value):
            raise SipParseError(f"{what}: bad URI parameter value {piece!r}")
        params[name.lower()] = value if sep else None
    return params


def _format_params(params: Mapping[str, str | None]) -> str:
    return "".join(f";{k}" if v is None else f";{k}={v}" for k, v in params.items())


@dataclass
class SipUri:
    """A sip:, sips: or tel: URI (RFC 3261 §19.1, RFC 3966).

    ``host`` keeps IPv6 brackets as written in the URI; parameter names are lower-cased (they
    are case-insensitive), a valueless parameter (``;lr``) maps to ``None``. For tel: URIs the
    number is in ``user`` and ``host`` is empty. Escapes (%xx) are kept as received.
    """

    scheme: str = "sip"
    user: str | None = None
    host: str = ""
    port: int | None = None
    params: dict[str, str | None] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    password: str | None = None

    @classmethod
    def parse(cls, text: str) -> SipUri:
        text = text.strip()
        what = f"URI {text[:80]!r}"
        match = _SCHEME.match(text)
        if not match:
            raise SipParseError(f"{what}: no scheme")
        scheme = match.group(1).lower()
        if scheme not in _SUPPORTED_SCHEMES:
            raise SipParseError(f"{what}: unsupported URI scheme {scheme!r}", 416)
        if _FORBIDDEN_IN_URI.search(text) or not text.isascii():
            raise SipParseError(f"{what}: forbidden character")
        rest = text[match.end() :]
        if scheme == "tel":
            number, _, param_text = rest.partition(";")
            if not _TEL_NUMBER.fullmatch(number) or "?" in param_text:
                raise SipParseError(f"{what}: bad telephone number")
            return cls(scheme, number, "", None, _parse_uri_params(param_text, what))

        main, question, header_text = rest.partition("?")
        user: str | None = None
        password: str | None = None
        at = main.find("@")
        if at >= 0:
            userinfo, main = main[:at], main[at + 1 :]
            user_part, colon, password_part = userinfo.partition(":")
            if not _USER.fullmatch(user_part):
                raise SipParseError(f"{what}: bad user part")
            if colon:
                if not _PASSWORD.fullmatch(password_part):
                    raise SipParseError(f"{what}: bad password")
                password = password_part
            user = user_part
        hostport, _, param_text = main.partition(";")
        if not hostport:
            raise SipParseError(f"{what}: no host")
        host, port = _split_hostport(hostport, what)
        params = _parse_uri_params(param_text, what)
        headers: dict[str, str] = {}
        if question:
            for piece in header_text.split("&"):
                if not piece:
                    continue
                name, _, value = piece.partition("=")
                if not name or not _URI_HEADER.fullmatch(name) or not _URI_HEADER.fullmatch(value):
                    raise SipParseError(f"{what}: bad URI header {piece!r}")
                headers[name] = value
        return cls(scheme, user, host, port, params, headers, password)

    def __str__(self) -> str:
        if self.scheme == "tel":
            return f"tel:{self.user or ''}{_format_params(self.params)}"
        text = f"{self.scheme}:"
        if self.user is not None:
            text += self.user
            if self.password is not None:
                text += f":{self.password}"
            text += "@"
        text += self.host
        if self.port is not None:
            text += f":{self.port}"
        text += _format_params(self.params)
        if self.headers:
            text += "?" + "&".join(f"{k}={v}" for k, v in self.headers.items())
        return text

    @property
    def transport(self) -> str | None:
        value = self.params.get("transport")
        return value.upper() if value else None

    @property
    def loose_routing(self) -> bool:
        return "lr" in self.params

    def copy(self) -> SipUri:
        return SipUri(
            self.scheme,
            self.user,
            self.host,
            self.port,
            dict(self.params),
            dict(self.headers),
            self.password,
        )


_QUOTED_STRING = re.compile(r'"(?:[^"\\\r\n]|\\[^\r\n])*"')
_GENERIC_VALUE = re.compile(r"[^\s\";<>]+")


def _parse_generic_params(text: str, what: str) -> dict[str, str | None]:
    """Header parameters (``;name=value``, quoted values kept with their quotes)."""
    text = text.strip()
    if not text:
        return {}
    if not text.startswith(";"):
        raise SipParseError(f"{what}: unexpected {text[:40]!r}")
    params: dict[str, str | None] = {}
    for piece in _split_outside(text[1:], ";", angle=False):
        piece = piece.strip()
        if not piece:
            continue
        name, sep, value = piece.partition("=")
        name = name.strip()
        if not _TOKEN.fullmatch(name):
            raise SipParseError(f"{what}: bad parameter {piece[:40]!r}")
        if sep:
            value = value.strip()
            if value.startswith('"'):
                if not _QUOTED_STRING.fullmatch(value):
                    raise SipParseError(f"{what}: bad quoted parameter {piece[:40]!r}")
            elif value and not _GENERIC_VALUE.fullmatch(value):
                raise SipParseError(f"{what}: bad parameter value {piece[:40]!r}")
            params[name.lower()] = value
        else:
            params[name.lower()] = None
    return params


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text[1:-1], flags=re.S)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass
class NameAddr:
    """``"Display Name" <uri>;params`` as in From, To, Contact, Route (RFC 3261 §20.10).

    ``display_name`` is unescaped (``None`` when absent); it is always written quoted.
    In the addr-spec form (no angle brackets) the parameters belong to the header, not the URI.
    """

    uri: SipUri
    display_name: str | None = None
    params: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> NameAddr:
        text = text.strip()
        what = f"address {text[:80]!r}"
        display: str | None = None
        if text.startswith('"'):
            match = _QUOTED_STRING.match(text)
            if not match:
                raise SipParseError(f"{what}: unterminated display name")
            display = _unquote(match.group(0))
            rest = text[match.end() :].lstrip()
            if not rest.startswith("<"):
                raise SipParseError(f"{what}: display name without <uri>")
        else:
            lt = text.find("<")
            semicolon = text.find(";")
            if lt >= 0 and (semicolon < 0 or lt < semicolon):
                display = text[:lt].strip() or None
                if display is not None and '"' in display:
                    raise SipParseError(f"{what}: bad display name")
                rest = text[lt:]
            else:
                uri_text, _, param_text = text.partition(";")
                if "?" in uri_text or "," in uri_text:
                    raise SipParseError(f"{what}: URI with ? or , must be in <>")
                params = _parse_generic_params(";" + param_text, what)
                return cls(SipUri.parse(uri_text), None, params)
        end = rest.find(">")
        if end < 0:
            raise SipParseError(f"{what}: missing '>'")
        uri = SipUri.parse(rest[1:end])
        return cls(uri, display, _parse_generic_params(rest[end + 1 :], what))

    def __str__(self) -> str:
        prefix = f"{_quote(self.display_name)} " if self.display_name is not None else ""
        return f"{prefix}<{self.uri}>{_format_params(self.params)}"

    @property
    def tag(self) -> str | None:
        return self.params.get("tag")


_VIA = re.compile(
    r"\s*([A-Za-z0-9\-.!%*_+`'~]+)\s*/\s*([A-Za-z0-9\-.!%*_+`'~]+)\s*/\s*"
    r"([A-Za-z0-9\-.!%*_+`'~]+)\s+(\[[^\]]*\]|[^\s:;\[]+)(?:\s*:\s*([^\s;]*))?\s*(.*)",
    re.S,
)


@dataclass
class Via:
    """One Via value (RFC 3261 §20.42, RFC 3581 rport); ``host`` keeps IPv6 brackets.

    ``params["rport"]`` is ``None`` when the client asked for rport (valueless) and the port
    string once a server filled it in.
    """

    transport: str
    host: str
    port: int | None = None
    params: dict[str, str | None] = field(default_factory=dict)
    protocol: str = "SIP/2.0"

    @classmethod
    def parse(cls, text: str) -> Via:
        what = f"Via {text[:80]!r}"
        match = _VIA.fullmatch(text)
        if not match:
            raise SipParseError(f"{what}: malformed")
        name, version, transport, host, port_text, param_text = match.groups()
        _check_host(host, what)
        port = _parse_port(port_text, what) if port_text is not None else None
        params = _parse_generic_params(param_text, what)
        rport = params.get("rport")
        if rport is not None and not (_PORT.fullmatch(rport) and int(rport) <= 65535):
            raise SipParseError(f"{what}: bad rport")
        return cls(transport.upper(), host, port, params, f"{name.upper()}/{version}")

    def __str__(self) -> str:
        port = f":{self.port}" if self.port is not None else ""
        return f"{self.protocol}/{self.transport} {self.host}{port}{_format_params(self.params)}"

    @property
    def branch(self) -> str | None:
        return self.params.get("branch")

    @property
    def sent_by(self) -> tuple[str, int | None]:
        return self.host, self.port

    @property
    def received(self) -> str | None:
        return self.params.get("received")

    @property
    def rport(self) -> int | None:
        """The rport value a server filled in (None if absent or still valueless)."""
        value = self.params.get("rport")
        return int(value) if value else None

    def response_address(self) -> tuple[str, int]:
        """Where a response to this hop goes (RFC 3261 §18.2.2 with RFC 3581): received and
        rport win over sent-by; the default port depends on the transport."""
        host = _bare_host(self.received or self.host)
        default = 5061 if self.transport in ("TLS", "WSS") else 5060
        return host, self.rport or self.port or default


_CSEQ = re.compile(r"\s*([0-9]{1,10})\s+([A-Za-z0-9\-.!%*_+`'~]+)\s*")


@dataclass(frozen=True)
class CSeq:
    """The CSeq header: a sequence number below 2**31 and the method."""

    number: int
    method: str

    @classmethod
    def parse(cls, text: str) -> CSeq:
        match = _CSEQ.fullmatch(text)
        if not match or int(match.group(1)) >= 2**31:
            raise SipParseError(f"bad CSeq {text[:80]!r}")
        return cls(int(match.group(1)), match.group(2))

    def __str__(self) -> str:
        return f"{self.number} {self.method}"


# --------------------------------------------------------------------------------------------
# Messages


class _MessageAccessors:
    """Typed views of the headers every request and response carries."""

    headers: Headers
    body: bytes

    def _single(self, name: str) -> str:
        value = self.headers.get(name)
        if value is None:
            raise SipParseError(f"missing {name} header")
        return value

    @property
    def call_id(self) -> str:
        return self._single("Call-ID")

    @property
    def cseq(self) -> CSeq:
        return CSeq.parse(self._single("CSeq"))

    @property
    def from_(self) -> NameAddr:
        return NameAddr.parse(self._single("From"))

    @property
    def to(self) -> NameAddr:
        return NameAddr.parse(self._single("To"))

    @property
    def vias(self) -> list[Via]:
        return [Via.parse(value) for value in self.headers.get_all("Via")]

    @property
    def top_via(self) -> Via:
        return Via.parse(self._single("Via"))

    @property
    def branch(self) -> str | None:
        return self.top_via.branch

    @property
    def contact(self) -> NameAddr | None:
        value = self.headers.get("Contact")
        return NameAddr.parse(value) if value is not None and value != "*" else None

    @property
    def record_routes(self) -> list[NameAddr]:
        return [NameAddr.parse(value) for value in self.headers.get_all("Record-Route")]

    @property
    def routes(self) -> list[NameAddr]:
        return [NameAddr.parse(value) for value in self.headers.get_all("Route")]

    @property
    def max_forwards(self) -> int | None:
        value = self.headers.get("Max-Forwards")
        return int(value) if value is not None else None

    def _serialise(self, start_line: str) -> bytes:
        lines = [start_line]
        for name, value in self.headers:
            if name != "Content-Length":
                lines.append(f"{name}: {value}")
        lines.append(f"Content-Length: {len(self.body)}")
        head = "\r\n".join(lines) + "\r\n\r\n"
        return head.encode("utf-8", "surrogateescape") + self.body


@dataclass(eq=True)
class SipRequest(_MessageAccessors):
    method: str
    uri: SipUri
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""

    def __bytes__(self) -> bytes:
        return self._serialise(f"{self.method} {self.uri} SIP/2.0")


@dataclass(eq=True)
class SipResponse(_MessageAccessors):
    status: int
    reason: str | None = None
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""

    def __post_init__(self) -> None:
        if self.reason is None:
            self.reason = REASON_PHRASES.get(self.status, "")

    def __bytes__(self) -> bytes:
        return self._serialise(f"SIP/2.0 {self.status} {self.reason}")


SipMessage = SipRequest | SipResponse

# --------------------------------------------------------------------------------------------
# Parsing

_METHOD = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+")
_VERSION = re.compile(r"SIP/([0-9]{1,3})\.([0-9]{1,3})", re.I)
_STATUS_LINE = re.compile(r"(SIP/[0-9]{1,3}\.[0-9]{1,3}) +([0-9]{3})(?: (.*))?", re.I | re.S)
_HEADER_NAME = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_LINE_END = re.compile(rb"\r?\n")
_DIGITS = re.compile(r"[0-9]{1,10}")


def is_keepalive(data: bytes) -> bool:
    """A CRLF keep-alive (RFC 5626 §3.5.1) rather than a message: answer or ignore, never parse."""
    return bool(data) and not data.strip(b"\r\n")


def _check_version(text: str) -> None:
    match = _VERSION.fullmatch(text)
    if not match:
        raise SipParseError(f"bad protocol version {text[:20]!r}")
    if (int(match.group(1)), int(match.group(2))) != (2, 0):
        raise SipParseError(f"unsupported version {text!r}", 505)


def _find_head_end(data: bytes) -> tuple[int, int] | None:
    """Index of the empty line ending the header section and where the body starts."""
    ends = [(i, i + len(sep)) for sep in (b"\r\n\r\n", b"\n\n") if (i := data.find(sep)) >= 0]
    return min(ends) if ends else None


def _parse_header_lines(head: bytes) -> tuple[str, Headers]:
    raw_lines = [line.decode("utf-8", "surrogateescape") for line in _LINE_END.split(head)]
    start_line = raw_lines[0]
    if _CONTROL.search(start_line):
        raise SipParseError("control character in start line")
    headers = Headers()
    current: list[str] | None = None
    entries: list[list[str]] = []
    for line in raw_lines[1:]:
        if _CONTROL.search(line):
            raise SipParseError("control character in header section")
        if line[:1] in (" ", "\t"):
            if current is None:
                raise SipParseError("continuation line before any header")
            current[1] += " " + line.strip()  # unfold: LWS collapses to one space
            continue
        if not line:
            continue  # only reachable with a stray empty line in a bare-LF head; harmless
        name, colon, value = line.partition(":")
        name = name.rstrip(" \t")
        if not colon:
            raise SipParseError(f"header line without colon: {line[:60]!r}")
        if not _HEADER_NAME.fullmatch(name):
            raise SipParseError(f"bad header name {name[:60]!r}")
        current = [name, value]
        entries.append(current)
    for name, value in entries:
        headers.add(name, value.strip(" \t"))
    return start_line, headers


def _content_length(headers: Headers) -> int | None:
    values = {v.strip() for v in headers.lines("Content-Length")}
    if not values:
        return None
    if len(values) > 1:
        raise SipParseError("conflicting Content-Length headers")
    (value,) = values
    if not _DIGITS.fullmatch(value):
        raise SipParseError(f"bad Content-Length {value[:20]!r}")
    return int(value)


def _validate(message: SipMessage) -> None:
    """Check the mandatory headers (RFC 3261 §8.1.1) so the typed accessors cannot fail later."""
    headers = message.headers
    for name in ("Via", "From", "To", "Call-ID", "CSeq"):
        if name not in headers:
            raise SipParseError(f"missing mandatory header {name}")
    for name in ("From", "To", "Call-ID", "CSeq"):
        if len(headers.lines(name)) > 1:
            raise SipParseError(f"more than one {name} header")
    call_id = headers.get("Call-ID") or ""
    if not call_id or any(c.isspace() for c in call_id):
        raise SipParseError(f"bad Call-ID {call_id[:80]!r}")
    cseq = message.cseq
    if isinstance(message, SipRequest) and cseq.method != message.method:
        raise SipParseError(f"CSeq method {cseq.method!r} does not match {message.method!r}")
    NameAddr.parse(headers.get("From") or "")
    NameAddr.parse(headers.get("To") or "")
    vias = headers.get_all("Via")
    if not vias:
        raise SipParseError("empty Via header")
    for value in vias:
        Via.parse(value)
    max_forwards = headers.get("Max-Forwards")
    if max_forwards is not None and not (_DIGITS.fullmatch(max_forwards)):
        raise SipParseError(f"bad Max-Forwards {max_forwards[:20]!r}")
    for value in headers.get_all("Contact"):
        if value != "*":
            NameAddr.parse(value)
    for name in ("Route", "Record-Route"):
        for value in headers.get_all(name):
            NameAddr.parse(value)


def parse_message(data: bytes, *, max_size: int = MAX_MESSAGE_SIZE) -> SipMessage:
    """Parse one complete message (a datagram, or one message cut out by ``StreamFramer``).

    Bytes beyond Content-Length are discarded (RFC 3261 §18.3); a body shorter than it is an
    error. Without Content-Length (allowed on datagrams) the body runs to the end.
    """
    if len(data) > max_size:
        raise SipParseError(f"message of {len(data)} bytes exceeds {max_size}", 513)
    data = data.lstrip(b"\r\n")
    if not data:
        raise SipParseError("empty message")
    bounds = _find_head_end(data)
    head, rest = (data[: bounds[0]], data[bounds[1] :]) if bounds else (data, b"")
    start_line, headers = _parse_header_lines(head)
    length = _content_length(headers)
    headers.remove("Content-Length")
    if length is None:
        body = rest
    elif length > max_size:
        raise SipParseError(f"Content-Length {length} exceeds {max_size}", 413)
    elif length > len(rest):
        raise SipParseError(f"body of {len(rest)} bytes is shorter than Content-Length {length}")
    else:
        body = rest[:length]

    message: SipMessage
    if start_line[:4].upper() == "SIP/":
        match = _STATUS_LINE.fullmatch(start_line)
        if not match:
            raise SipParseError(f"malformed status line {start_line[:80]!r}")
        _check_version(match.group(1))
        status = int(match.group(2))
        if not 100 <= status <= 699:
            raise SipParseError(f"status code {status} out of range")
        message = SipResponse(status, (match.group(3) or "").strip(" \t"), headers, body)
    else:
        parts = [part for part in re.split(r"[ \t]+", start_line) if part]
        if len(parts) != 3:
            raise SipParseError(f"malformed request line {start_line[:80]!r}")
        method, uri_text, version = parts
        if not _METHOD.fullmatch(method):
            raise SipParseError(f"bad method {method[:40]!r}")
        _check_version(version)
        message = SipRequest(method, SipUri.parse(uri_text), headers, body)
    _validate(message)
    return message


class StreamFramer:
    """Cuts a TCP/TLS byte stream into messages (RFC 3261 §18.3).

    Content-Length is mandatory on streams. CRLFs between messages (RFC 5626 keep-alive pings)
    are skipped and counted in ``pings``; the shell should answer each double CRLF with a
    single CRLF pong. After any error the stream position is lost, so the framer stays broken
    (every later ``feed`` raises) and the connection must be closed. Messages completed in the
    same ``feed`` call before the error are returned first; the error follows on the next call.
    """

    def __init__(self, max_size: int = MAX_MESSAGE_SIZE) -> None:
        self.max_size = max_size
        self.pings = 0
        self._buffer = bytearray()
        self._crlf_run = 0  # CRLFs seen since the last message: two make a ping
        self._error: SipParseError | None = None

    @property
    def broken(self) -> bool:
        return self._error is not None

    def feed(self, data: bytes) -> list[SipMessage]:
        if self._error is not None:
            raise self._error
        self._buffer += data
        messages: list[SipMessage] = []
        try:
            while (message := self._next()) is not None:
                messages.append(message)
        except SipParseError as error:
            self._error = SipParseError(f"connection unusable: {error}", error.status)
            self._buffer.clear()
            if not messages:
                raise self._error from error
        return messages

    def _skip_keepalives(self) -> None:
        buffer = self._buffer
        while buffer:
            if buffer.startswith(b"\r\n"):
                del buffer[:2]
                self._crlf_run += 1
                if self._crlf_run == 2:
                    self.pings += 1
                    self._crlf_run = 0
            elif buffer[0] == 0x0A:
                del buffer[:1]  # a bare LF keep-alive, as some old phones send
            elif buffer == b"\r":
                return  # wait for the LF
            else:
                return

    def _next(self) -> SipMessage | None:
        self._skip_keepalives()
        buffer = self._buffer
        if not buffer or buffer == b"\r":
            return None
        bounds = _find_head_end(bytes(buffer[: self.max_size + 4]))
        if bounds is None:
            if len(buffer) > self.max_size:
                raise SipParseError(f"header section exceeds {self.max_size} bytes", 513)
            return None
        head_end, body_start = bounds
        length = self._stream_content_length(bytes(buffer[:head_end]))
        if body_start + length > self.max_size:
            raise SipParseError(f"message of {body_start + length} bytes exceeds limit", 413)
        if len(buffer) < body_start + length:
            return None
        raw = bytes(buffer[: body_start + length])
        del buffer[: body_start + length]
        self._crlf_run = 0
        return parse_message(raw, max_size=self.max_size)

    @staticmethod
    def _stream_content_length(head: bytes) -> int:
        _, headers = _parse_header_lines(head)
        length = _content_length(headers)
        if length is None:
            raise SipParseError("Content-Length is required on stream transports")
        return length


# --------------------------------------------------------------------------------------------
# Building responses and requests

#: Reason phrases: RFC 3261 §21 and the extensions in common use.
REASON_PHRASES: dict[int, str] = {
    100: "Trying",
    180: "Ringing",
    181: "Call Is Being Forwarded",
    182: "Queued",
    183: "Session Progress",
    199: "Early Dialog Terminated",
    200: "OK",
    202: "Accepted",
    204: "No Notification",
    300: "Multiple Choices",
    301: "Moved Permanently",
    302: "Moved Temporarily",
    305: "Use Proxy",
    380: "Alternative Service",
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    407: "Proxy Authentication Required",
    408: "Request Timeout",
    410: "Gone",
    412: "Conditional Request Failed",
    413: "Request Entity Too Large",
    414: "Request-URI Too Long",
    415: "Unsupported Media Type",
    416: "Unsupported URI Scheme",
    417: "Unknown Resource-Priority",
    420: "Bad Extension",
    421: "Extension Required",
    422: "Session Interval Too Small",
    423: "Interval Too Brief",
    428: "Use Identity Header",
    429: "Provide Referrer Identity",
    433: "Anonymity Disallowed",
    436: "Bad Identity Info",
    437: "Unsupported Credential",
    438: "Invalid Identity Header",
    439: "First Hop Lacks Outbound Support",
    440: "Max-Breadth Exceeded",
    469: "Bad Info Package",
    470: "Consent Needed",
    480: "Temporarily Unavailable",
    481: "Call/Transaction Does Not Exist",
    482: "Loop Detected",
    483: "Too Many Hops",
    484: "Address Incomplete",
    485: "Ambiguous",
    486: "Busy Here",
    487: "Request Terminated",
    488: "Not Acceptable Here",
    489: "Bad Event",
    491: "Request Pending",
    493: "Undecipherable",
    494: "Security Agreement Required",
    500: "Server Internal Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Server Time-out",
    505: "Version Not Supported",
    513: "Message Too Large",
    555: "Push Notification Service Not Supported",
    580: "Precondition Failure",
    600: "Busy Everywhere",
    603: "Decline",
    604: "Does Not Exist Anywhere",
    606: "Not Acceptable",
    607: "Unwanted",
    608: "Rejected",
}

# Requests that create dialogs: their 101-299 responses carry the Record-Route set back.
_DIALOG_CREATING = frozenset({"INVITE", "SUBSCRIBE", "REFER"})


def make_response(
    request: SipRequest,
    status: int,
    reason: str | None = None,
    *,
    to_tag: str | None = None,
    headers: Iterable[tuple[str, str]] | Mapping[str, str] | None = None,
    body: bytes = b"",
) -> SipResponse:
    """A response to ``request`` as RFC 3261 §8.2.6 builds it.

    Copies every Via (in order), From, To (adding ``to_tag`` unless the request already has a
    tag), Call-ID, CSeq and Timestamp; for a dialog-creating request also Record-Route
    (§12.1.1). ``headers`` are appended after those.
    """
    if not 100 <= status <= 699:
        raise ValueError(f"status {status} out of range")
    out = Headers()
    for line in request.headers.lines("Via"):
        out.add("Via", line)
    out.add("From", request.headers.get("From") or "")
    to_value = request.headers.get("To") or ""
    if to_tag is not None:
        to = NameAddr.parse(to_value)
        if to.tag is None:
            to.params["tag"] = to_tag
            to_value = str(to)
    out.add("To", to_value)
    out.add("Call-ID", request.headers.get("Call-ID") or "")
    out.add("CSeq", request.headers.get("CSeq") or "")
    if status == 100 and "Timestamp" in request.headers:
        out.add("Timestamp", request.headers.get("Timestamp") or "")
    if 100 < status < 300 and request.method in _DIALOG_CREATING:
        for line in request.headers.lines("Record-Route"):
            out.add("Record-Route", line)
    for name, value in Headers(headers) if headers is not None else ():
        out.add(name, value)
    if reason is None:
        reason = REASON_PHRASES.get(status, "")
    return SipResponse(status, reason, out, body)


def make_cancel(invite: SipRequest) -> SipRequest:
    """A CANCEL for a pending INVITE (RFC 3261 §9.1): same Request-URI, Call-ID, From, To,
    CSeq number and top Via (so it shares the INVITE's branch), and the same Route set."""
    if invite.method != "INVITE":
        raise ValueError("only INVITE can be cancelled")
    out = Headers()
    out.add("Via", str(invite.top_via))
    for line in invite.headers.lines("Route"):
        out.add("Route", line)
    out.add("Max-Forwards", invite.headers.get("Max-Forwards") or "70")
    out.add("From", invite.headers.get("From") or "")
    out.add("To", invite.headers.get("To") or "")
    out.add("Call-ID", invite.call_id)
    out.add("CSeq", str(CSeq(invite.cseq.number, "CANCEL")))
    return SipRequest("CANCEL", invite.uri.copy(), out)


def _same_address(a: str, b: str) -> bool:
    try:
        return ipaddress.ip_address(_bare_host(a)) == ipaddress.ip_address(_bare_host(b))
    except ValueError:
        return _bare_host(a).lower() == _bare_host(b).lower()


def _normal_address(host: str) -> str:
    """An IP address in its canonical text form (IPv6 compressed, no brackets)."""
    try:
        return str(ipaddress.ip_address(_bare_host(host)))
    except ValueError:
        return _bare_host(host)


def stamp_received(request: SipRequest, source_host: str, source_port: int) -> Via:
    """Record where a request really came from in its top Via (RFC 3261 §18.2.1, RFC 3581).

    Adds ``received`` when the sent-by host differs from the source address, or whenever the
    client asked for ``rport`` (then ``rport`` gets the source port). Returns the new top Via;
    the request's headers are updated in place.
    """
    via = request.top_via
    wants_rport = "rport" in via.params and via.params["rport"] is None
    if wants_rport:
        via.params["rport"] = str(source_port)
    if wants_rport or not _same_address(via.host, source_host):
        via.params["received"] = _normal_address(source_host)
    request.headers.replace_first_value("Via", str(via))
    return via
