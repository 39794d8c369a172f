"""HTTP Digest authentication as SIP uses it.

The client side answers a ``WWW-Authenticate`` (401) or ``Proxy-Authenticate`` (407)
challenge with an ``Authorization`` or ``Proxy-Authorization`` value: RFC 2617 and its
successor RFC 7616, with the algorithms RFC 8760 brings to SIP (MD5, SHA-256,
SHA-512-256 and their ``-sess`` variants), qop=auth (and auth-int), and the RFC 2069
form without qop that old registrars still send. The server side (:func:`verify`,
:func:`make_challenge`) lets the bridge challenge its own SIP peers.

Strings are hashed as UTF-8 (RFC 7616 ``charset=UTF-8``; plain ASCII for everything
in practice). Pure computation, no I/O; the only randomness is the cnonce, which tests
pass in.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field

__all__ = [
    "ALGORITHMS",
    "AuthChallenge",
    "DigestAuthorization",
    "DigestChallenge",
    "DigestClient",
    "DigestCredentials",
    "DigestError",
    "Verification",
    "build_authorization",
    "compute_response",
    "credentials_header_for",
    "make_challenge",
    "parse_authorization",
    "parse_challenge",
    "parse_challenges",
    "parse_digest_challenges",
    "verify",
]


class DigestError(ValueError):
    """A malformed header, or a challenge we cannot answer."""


def _hash_available(name: str) -> bool:
    try:
        hashlib.new(name, usedforsecurity=False)
    except ValueError:
        return False
    return True


# Weakest first; the index is the strength used to choose between challenges.
_HASHES: dict[str, str] = {"MD5": "md5", "SHA-256": "sha256"}
if _hash_available("sha512_256"):  # SHA-512/256 needs an OpenSSL that provides it
    _HASHES["SHA-512-256"] = "sha512_256"

ALGORITHMS: tuple[str, ...] = tuple(name for base in _HASHES for name in (base, f"{base}-sess"))
_CANONICAL = {name.lower(): name for name in ALGORITHMS}
_QOPS = ("auth", "auth-int")  # in order of preference: auth does not depend on the body

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_TOKEN68 = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"', re.DOTALL)
_SPACE = re.compile(r"[ \t\r\n]*")
_UNESCAPE = re.compile(r"\\(.)", re.DOTALL)
_HEX = re.compile(r"[0-9a-fA-F]+")
_NC = re.compile(r"[0-9a-fA-F]{8}")


@dataclass(frozen=True)
class DigestCredentials:
    """What we authenticate with. ``repr`` hides the password from logs."""

    username: str
    password: str = field(repr=False)


# --------------------------------------------------------------------------- parsing


@dataclass(frozen=True)
class AuthChallenge:
    """One challenge of any scheme: auth-params (names lower-cased) or a token68."""

    scheme: str
    params: Mapping[str, str] = field(default_factory=dict)
    token68: str | None = None


class _Scanner:
    """A cursor over a header value for the RFC 7235 challenge grammar."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    @property
    def done(self) -> bool:
        return self.pos >= len(self.text)

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def space(self) -> bool:
        start = self.pos
        match = _SPACE.match(self.text, self.pos)
        assert match is not None  # the pattern matches the empty string
        self.pos = match.end()
        return self.pos > start

    def take(self, pattern: re.Pattern[str]) -> str | None:
        match = pattern.match(self.text, self.pos)
        if match is None or not match.group(0):
            return None
        self.pos = match.end()
        return match.group(0)

    def quoted(self) -> str:
        match = _QUOTED.match(self.text, self.pos)
        if match is None:
            raise DigestError(f"unterminated quoted string at offset {self.pos}")
        self.pos = match.end()
        return _UNESCAPE.sub(r"\1", match.group(1))

    def at_separator(self) -> bool:
        """Whether only whitespace stands between here and a comma or the end."""
        rest = self.text[self.pos :].lstrip(" \t\r\n")
        return not rest or rest[0] == ","

    def error(self, what: str) -> DigestError:
        found = self.text[self.pos : self.pos + 20]
        return DigestError(f"{what} at offset {self.pos} (found {found!r})")


def parse_challenges(*header_values: str) -> list[AuthChallenge]:
    """Every challenge in one or more ``WWW-Authenticate``/``Proxy-Authenticate`` values.

    A value may hold several challenges separated by commas (RFC 7235 §4.1); quoted
    strings may contain commas and backslash escapes. Raises :class:`DigestError` on
    malformed input, including a parameter given twice in one challenge.
    """
    challenges: list[AuthChallenge] = []
    for value in header_values:
        scanner = _Scanner(value)
        while True:
            while scanner.space() or scanner.peek() == ",":
                if scanner.peek() == ",":
                    scanner.pos += 1
            if scanner.done:
                break
            challenges.append(_challenge(scanner))
    return challenges


def _challenge(scanner: _Scanner) -> AuthChallenge:
    scheme = scanner.take(_TOKEN)
    if scheme is None:
        raise scanner.error("expected an authentication scheme")
    params: dict[str, str] = {}
    if not scanner.space():
        if not scanner.at_separator():
            raise scanner.error(f"expected a space after {scheme}")
        return AuthChallenge(scheme)
    # token68 (e.g. "Negotiate abc==") is only possible as the whole challenge body.
    start = scanner.pos
    token68 = scanner.take(_TOKEN68)
    if token68 is not None and scanner.at_separator():
        return AuthChallenge(scheme, token68=token68)
    scanner.pos = start
    while not scanner.done:
        mark = scanner.pos
        scanner.space()
        if scanner.peek() == ",":
            scanner.pos += 1  # empty list elements are allowed (RFC 7230 §7)
            continue
        if scanner.done:
            break
        name = scanner.take(_TOKEN)
        if name is None:
            raise scanner.error("expected a parameter name")
        scanner.space()
        if scanner.peek() != "=":
            # A bare token after a comma starts the next challenge.
            scanner.pos = mark
            break
        scanner.pos += 1
        scanner.space()
        if scanner.peek() == '"':
            value = scanner.quoted()
        else:
            token = scanner.take(_TOKEN)
            if token is None:
                raise scanner.error(f"expected a value for {name}")
            value = token
        key = name.lower()
        if key in params:
            raise DigestError(f"parameter {name!r} appears twice in one {scheme} challenge")
        params[key] = value
        if not scanner.at_separator():
            scanner.space()
            raise scanner.error(f"expected ',' after the {name} parameter")
    return AuthChallenge(scheme, params)


@dataclass(frozen=True)
class DigestChallenge:
    """A Digest challenge. ``algorithm`` is canonical (``MD5``, ``SHA-256``...), as the
    server spelled it if we do not know it; ``qop`` holds the offered values, lower-cased.
    ``params`` keeps every parameter, unknown ones too."""

    realm: str
    nonce: str
    algorithm: str = "MD5"
    qop: tuple[str, ...] = ()
    opaque: str | None = None
    stale: bool = False
    domain: str | None = None
    userhash: bool = False
    charset: str | None = None
    params: Mapping[str, str] = field(default_factory=dict, compare=False)

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> DigestChallenge:
        for required in ("realm", "nonce"):
            if required not in params:
                raise DigestError(f"Digest challenge without {required}")
        algorithm = params.get("algorithm", "MD5")
        qop = tuple(q.strip().lower() for q in params.get("qop", "").split(",") if q.strip())
        return cls(
            realm=params["realm"],
            nonce=params["nonce"],
            algorithm=_CANONICAL.get(algorithm.lower(), algorithm),
            qop=qop,
            opaque=params.get("opaque"),
            stale=params.get("stale", "").lower() == "true",
            domain=params.get("domain"),
            userhash=params.get("userhash", "").lower() == "true",
            charset=params.get("charset"),
            params=dict(params),
        )

    @property
    def supported(self) -> bool:
        """Whether we can answer it: known algorithm and a qop we do (or none)."""
        if self.algorithm not in ALGORITHMS:
            return False
        if not self.qop:
            # -sess needs a cnonce, which RFC 2617 only allows together with qop.
            return not self.algorithm.endswith("-sess")
        return any(q in _QOPS for q in self.qop)

    @property
    def strength(self) -> int:
        base = self.algorithm.removesuffix("-sess")
        return list(_HASHES).index(base) if base in _HASHES else -1


def parse_digest_challenges(*header_values: str) -> list[DigestChallenge]:
    """The Digest challenges among the header values, in order (others are skipped)."""
    return [
        DigestChallenge.from_params(c.params)
        for c in parse_challenges(*header_values)
        if c.scheme.lower() == "digest"
    ]


def parse_challenge(*header_values: str) -> DigestChallenge:
    """The Digest challenge to answer: the strongest algorithm we support.

    Ties go to the one listed first, i.e. the server's preference. Picking by strength
    rather than position keeps a reordered header list from downgrading us to MD5.
    """
    challenges = parse_digest_challenges(*header_values)
    if not challenges:
        raise DigestError("no Digest challenge in the header")
    usable = [c for c in challenges if c.supported]
    if not usable:
        offered = ", ".join(f"{c.algorithm} qop={','.join(c.qop) or '-'}" for c in challenges)
        raise DigestError(f"no supported Digest challenge (offered: {offered})")
    return max(usable, key=lambda c: c.strength)  # max keeps the first of equals


# --------------------------------------------------------------------------- computing


def _h(algorithm: str, data: str | bytes) -> str:
    base = algorithm.removesuffix("-sess")
    if base not in _HASHES:
        raise DigestError(f"unsupported Digest algorithm {algorithm!r}")
    raw = data.encode("utf-8") if isinstance(data, str) else data
    # MD5 is what the protocol prescribes here, not our choice of primitive.
    return hashlib.new(_HASHES[base], raw, usedforsecurity=False).hexdigest()


def compute_response(
    *,
    algorithm: str,
    username: str,
    realm: str,
    password: str,
    nonce: str,
    method: str,
    uri: str,
    qop: str | None = None,
    nc: int | None = None,
    cnonce: str | None = None,
    body: bytes = b"",
) -> str:
    """The ``response`` value of RFC 7616 §3.4.1 (RFC 2069 form when ``qop`` is None)."""
    algorithm = _CANONICAL.get(algorithm.lower(), algorithm)
    a1 = f"{username}:{realm}:{password}"
    if algorithm.endswith("-sess"):
        if cnonce is None:
            raise DigestError(f"{algorithm} needs a cnonce")
        a1 = f"{_h(algorithm, a1)}:{nonce}:{cnonce}"
    if qop == "auth-int":
        a2 = f"{method}:{uri}:{_h(algorithm, body)}"
    elif qop in (None, "auth"):
        a2 = f"{method}:{uri}"
    else:
        raise DigestError(f"unsupported qop {qop!r}")
    ha1, ha2 = _h(algorithm, a1), _h(algorithm, a2)
    if qop is None:
        return _h(algorithm, f"{ha1}:{nonce}:{ha2}")
    if nc is None or cnonce is None:
        raise DigestError("qop needs nc and cnonce")
    return _h(algorithm, f"{ha1}:{nonce}:{_format_nc(nc)}:{cnonce}:{qop}:{ha2}")


def _format_nc(nc: int) -> str:
    if not 0 < nc <= 0xFFFFFFFF:
        raise DigestError(f"nonce count {nc} is out of range")
    return f"{nc:08x}"


def _quote(value: str) -> str:
    if any(ch in value for ch in "\r\n\0"):
        # A CR or LF here would let a server-chosen value inject header lines.
        raise DigestError("header value contains CR, LF or NUL")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _choose_qop(offered: Collection[str]) -> str | None:
    if not offered:
        return None
    for qop in _QOPS:
        if qop in offered:
            return qop
    raise DigestError(f"no supported qop among {', '.join(offered)}")


def build_authorization(
    challenge: DigestChallenge,
    credentials: DigestCredentials,
    method: str,
    uri: str,
    *,
    nc: int = 1,
    cnonce: str | None = None,
    body: bytes = b"",
) -> str:
    """The ``Authorization``/``Proxy-Authorization`` value answering ``challenge``.

    ``uri`` is the Request-URI of the request being authorised (RFC 3261 §22.4). A random
    cnonce is made unless one is passed in; ``nc`` is the count of requests made with
    this nonce, starting at 1 (:class:`DigestClient` keeps it).
    """
    if not challenge.supported:
        raise DigestError(f"cannot answer a {challenge.algorithm} challenge")
    qop = _choose_qop(challenge.qop)
    if cnonce is None and (qop is not None or challenge.algorithm.endswith("-sess")):
        cnonce = secrets.token_hex(16)
    response = compute_response(
        algorithm=challenge.algorithm,
        username=credentials.username,
        realm=challenge.realm,
        password=credentials.password,
        nonce=challenge.nonce,
        method=method,
        uri=uri,
        qop=qop,
        nc=nc if qop is not None else None,
        cnonce=cnonce,
        body=body,
    )
    username = credentials.username
    if challenge.userhash:
        # RFC 7616 §3.4.4: hide the user name from eavesdroppers.
        username = _h(challenge.algorithm, f"{username}:{challenge.realm}")
    parts = [
        f"username={_quote(username)}",
        f"realm={_quote(challenge.realm)}",
        f"nonce={_quote(challenge.nonce)}",
        f"uri={_quote(uri)}",
        f"response={_quote(response)}",
        f"algorithm={challenge.algorithm}",
    ]
    if cnonce is not None:
        parts.append(f"cnonce={_quote(cnonce)}")
    if challenge.opaque is not None:
        parts.append(f"opaque={_quote(challenge.opaque)}")
    if qop is not None:
        parts += [f"qop={qop}", f"nc={_format_nc(nc)}"]
    if challenge.userhash:
        parts.append("userhash=true")
    return "Digest " + ", ".join(parts)


def credentials_header_for(challenge_header: str) -> str:
    """``Authorization`` for a ``WWW-Authenticate`` challenge (401), ``Proxy-Authorization``
    for a ``Proxy-Authenticate`` one (407)."""
    names = {"www-authenticate": "Authorization", "proxy-authenticate": "Proxy-Authorization"}
    try:
        return names[challenge_header.strip().lower()]
    except KeyError:
        raise ValueError(f"not a challenge header: {challenge_header!r}") from None


class DigestClient:
    """Answers challenges for one set of credentials, counting nc per nonce.

    Feed it the challenge headers of a 401/407 with :meth:`challenge`, then call
    :meth:`authorization` for the retried request and for later requests that reuse the
    nonce (e.g. REGISTER refreshes); each call with the same nonce increments nc. How
    often to retry is the caller's policy: a server that rejects the answer usually
    sends a fresh nonce, and only ``stale=true`` says the password was right.
    """

    _REMEMBERED_NONCES = 16  # enough for a few realms; old nonces are dropped first

    def __init__(self, credentials: DigestCredentials) -> None:
        self.credentials = credentials
        self.current: DigestChallenge | None = None
        self._counts: dict[str, int] = {}

    def challenge(self, *header_values: str) -> DigestChallenge:
        """Take the challenge(s) of a 401/407 and remember the one we will answer."""
        chosen = parse_challenge(*header_values)
        self.current = chosen
        return chosen

    def next_nc(self, nonce: str) -> int:
        count = self._counts.pop(nonce, 0) + 1
        self._counts[nonce] = count  # re-inserted: the dict order is least recent first
        while len(self._counts) > self._REMEMBERED_NONCES:
            del self._counts[next(iter(self._counts))]
        return count

    def authorization(
        self, method: str, uri: str, *, cnonce: str | None = None, body: bytes = b""
    ) -> str:
        """The credentials header value for a request, answering the last challenge."""
        if self.current is None:
            raise DigestError("no challenge to answer yet")
        nc = self.next_nc(self.current.nonce)
        return build_authorization(
            self.current, self.credentials, method, uri, nc=nc, cnonce=cnonce, body=body
        )


# --------------------------------------------------------------------------- server side


@dataclass(frozen=True)
class DigestAuthorization:
    """A parsed ``Authorization``/``Proxy-Authorization`` Digest value."""

    username: str
    realm: str
    nonce: str
    uri: str
    response: str
    algorithm: str = "MD5"
    cnonce: str | None = None
    nc: int | None = None
    qop: str | None = None
    opaque: str | None = None
    userhash: bool = False
    params: Mapping[str, str] = field(default_factory=dict, compare=False)


def parse_authorization(header_value: str) -> DigestAuthorization:
    """Parse a Digest credentials value. Raises :class:`DigestError` if malformed."""
    parsed = parse_challenges(header_value)  # same auth-param grammar as challenges
    if len(parsed) != 1 or parsed[0].scheme.lower() != "digest":
        raise DigestError("expected exactly one Digest credentials value")
    params = parsed[0].params
    for required in ("username", "realm", "nonce", "uri", "response"):
        if required not in params:
            raise DigestError(f"Digest credentials without {required}")
    qop = params.get("qop")
    nc: int | None = None
    if qop is not None:
        qop = qop.lower()
        if "cnonce" not in params or "nc" not in params:
            raise DigestError("Digest credentials with qop need cnonce and nc")
        if _NC.fullmatch(params["nc"]) is None:
            raise DigestError(f"nc must be 8 hex digits, got {params['nc']!r}")
        nc = int(params["nc"], 16)
    algorithm = params.get("algorithm", "MD5")
    return DigestAuthorization(
        username=params["username"],
        realm=params["realm"],
        nonce=params["nonce"],
        uri=params["uri"],
        response=params["response"],
        algorithm=_CANONICAL.get(algorithm.lower(), algorithm),
        cnonce=params.get("cnonce"),
        nc=nc,
        qop=qop,
        opaque=params.get("opaque"),
        userhash=params.get("userhash", "").lower() == "true",
        params=dict(params),
    )


def make_challenge(
    realm: str,
    nonce: str,
    *,
    algorithm: str = "SHA-256",
    qop: Iterable[str] = ("auth",),
    opaque: str | None = None,
    stale: bool = False,
) -> str:
    """A ``WWW-Authenticate``/``Proxy-Authenticate`` value. For RFC 8760 servers, send one
    header per algorithm, strongest first (SHA-256 before MD5 for older phones)."""
    canonical = _CANONICAL.get(algorithm.lower())
    if canonical is None:
        raise DigestError(f"unsupported Digest algorithm {algorithm!r}")
    parts = [f"realm={_quote(realm)}", f"nonce={_quote(nonce)}"]
    if opaque is not None:
        parts.append(f"opaque={_quote(opaque)}")
    if stale:
        parts.append("stale=TRUE")
    parts.append(f"algorithm={canonical}")
    qops = list(qop)
    if qops:
        parts.append(f"qop={_quote(','.join(qops))}")
    return "Digest " + ", ".join(parts)


@dataclass(frozen=True)
class Verification:
    """The outcome of :func:`verify`. ``stale``: right password, expired nonce; send a
    new challenge with ``stale=TRUE`` so the client retries without asking the user."""

    ok: bool
    username: str | None = None
    stale: bool = False
    reason: str = ""


def verify(
    authorization_header: str,
    method: str,
    password_lookup: Callable[[str, str], str | None],
    *,
    realm: str,
    nonce_valid: Callable[[str, int | None], bool] | None = None,
    uri: str | None = None,
    opaque: str | None = None,
    body: bytes = b"",
    algorithms: Collection[str] = ALGORITHMS,
) -> Verification:
    """Check a Digest credentials value against the password of its user.

    ``password_lookup(username, realm)`` returns the password or None for an unknown
    user. ``nonce_valid(nonce, nc)`` says whether the nonce is one we issued, still fresh,
    and whether ``nc`` (None without qop) is new; replay protection lives there.
    ``uri``, if given, must equal the credentials' uri (the Request-URI). userhash is
    not supported on this side.
    """
    try:
        credentials = parse_authorization(authorization_header)
    except DigestError as error:
        return Verification(False, reason=str(error))
    allowed = {_CANONICAL.get(a.lower(), a) for a in algorithms}
    if credentials.realm != realm:
        return Verification(False, reason=f"wrong realm {credentials.realm!r}")
    if credentials.algorithm not in allowed or credentials.algorithm not in ALGORITHMS:
        return Verification(False, reason=f"algorithm {credentials.algorithm} not allowed")
    if credentials.qop is not None and credentials.qop not in _QOPS:
        return Verification(False, reason=f"unsupported qop {credentials.qop!r}")
    if credentials.algorithm.endswith("-sess") and credentials.cnonce is None:
        return Verification(False, reason=f"{credentials.algorithm} without cnonce")
    if credentials.userhash:
        return Verification(False, reason="userhash is not supported")
    if uri is not None and credentials.uri != uri:
        return Verification(False, reason="uri does not match the Request-URI")
    if opaque is not None and credentials.opaque != opaque:
        return Verification(False, reason="opaque does not match")
    if _HEX.fullmatch(credentials.response) is None:
        return Verification(False, reason="response is not hexadecimal")
    password = password_lookup(credentials.username, credentials.realm)
    if password is None:
        return Verification(False, reason="unknown user")
    try:
        expected = compute_response(
            algorithm=credentials.algorithm,
            username=credentials.username,
            realm=credentials.realm,
            password=password,
            nonce=credentials.nonce,
            method=method,
            uri=credentials.uri,
            qop=credentials.qop,
            nc=credentials.nc,
            cnonce=credentials.cnonce,
            body=body,
        )
    except DigestError as error:  # e.g. nc=00000000
        return Verification(False, username=credentials.username, reason=str(error))
    # Constant time, so the response cannot be guessed byte by byte from timings.
    if not hmac.compare_digest(expected, credentials.response.lower()):
        return Verification(False, username=credentials.username, reason="wrong response")
    if nonce_valid is not None and not nonce_valid(credentials.nonce, credentials.nc):
        return Verification(False, username=credentials.username, stale=True, reason="stale nonce")
    return Verification(True, username=credentials.username)
