"""Sending SMS through an HTTP API, the way most SMS gateways take them.

The request is described, not coded: a URL, a method, an optional credential and a
body template whose placeholders ``{to}``, ``{to_digits}`` (E.164 without "+"),
``{sender}`` and ``{text}`` are filled in with the escaping of the content type:

- ``json``: the template is JSON text with the placeholders inside string literals,
  ``{"to": "{to}", "from": "{sender}", "text": "{text}"}``; values are JSON-escaped;
- ``form``: ``to={to}&from={sender}&text={text}``; values are URL-encoded (for GET
  the filled-in template becomes the query string).

Credentials (``basic:USER:PASS``, ``bearer:TOKEN``, ``header:NAME:VALUE``, or a user
and password in the URL) and the URL's query never reach logs, ``repr`` or errors.

A 2xx answer is success; 408, 429, 5xx, redirects, timeouts and connection errors
are temporary; any other 4xx is permanent (the provider refused this message).
"""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import quote_plus, unquote, urlsplit, urlunsplit

import aiohttp

from .provider import SmsError, check_message, public_url

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 30.0
METHODS = ("POST", "PUT", "PATCH", "GET")
PLACEHOLDERS = ("to", "to_digits", "sender", "text")
CONTENT_TYPES = {
    "json": "application/json; charset=utf-8",
    "form": "application/x-www-form-urlencoded",
}
DEFAULT_TEMPLATES = {
    "json": '{"to": "{to}", "from": "{sender}", "text": "{text}"}',
    "form": "to={to}&from={sender}&text={text}",
}
#: statuses in the 4xx range that still mean "try again later"
RETRYABLE_4XX = (408, 429)

_PLACEHOLDER = re.compile(r"\{(" + "|".join(PLACEHOLDERS) + r")\}")
_ANY_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an HTTP header name


def _json_escape(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)[1:-1]


def _form_escape(value: str) -> str:
    return quote_plus(value, safe="")


ESCAPES: dict[str, Callable[[str], str]] = {"json": _json_escape, "form": _form_escape}


def render(template: str, content_type: str, values: dict[str, str]) -> str:
    """``template`` with each placeholder replaced once (a value's own braces stay as they are)."""
    escape = ESCAPES[content_type]
    return _PLACEHOLDER.sub(lambda match: escape(values[match[1]]), template)


def parse_auth(spec: str | None) -> tuple[str, str] | None:
    """The (header, value) a credential spec stands for; ``ValueError`` when malformed."""
    if not spec:
        return None
    kind, _, rest = spec.partition(":")
    kind = kind.strip().lower()
    if kind == "basic" and ":" in rest:
        user, _, password = rest.partition(":")
        token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        header = ("Authorization", f"Basic {token}")
    elif kind == "bearer" and rest:
        header = ("Authorization", f"Bearer {rest}")
    elif kind == "header" and ":" in rest:
        name, _, value = rest.partition(":")
        if not _TOKEN.fullmatch(name):
            raise ValueError("SMS HTTP auth: the header name is not a valid HTTP header name")
        header = (name, value.strip())
    else:  # the spec itself is a secret: never echo it
        raise ValueError(
            "SMS HTTP auth must be basic:USER:PASSWORD, bearer:TOKEN or header:NAME:VALUE"
        )
    if any(ch in header[1] for ch in "\r\n\0"):
        raise ValueError("SMS HTTP auth: the credential contains a line break")
    return header


def find_id(document: Any, path: str) -> str:
    """The value at ``path`` (JSON pointer "/a/0/b" or dotted "a.0.b"), or "" if absent."""
    if path.startswith("/"):
        keys = [key.replace("~1", "/").replace("~0", "~") for key in path[1:].split("/")]
    else:
        keys = path.split(".")
    node = document
    for key in keys:
        if isinstance(node, dict) and key in node:
            node = node[key]
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            return ""
    if node is None or isinstance(node, dict | list):
        return ""
    return str(node)


def _excerpt(body: bytes, limit: int = 200) -> str:
    text = " ".join(body.decode("utf-8", "replace").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class HttpSmsProvider:
    name = "http"

    def __init__(
        self,
        url: str,
        *,
        method: str = "POST",
        auth: str | None = None,
        content_type: str = "json",
        template: str | None = None,
        id_path: str | None = None,
        sender: str = "",
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        parts = urlsplit(url.strip())
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise ValueError(f"SMS HTTP URL {public_url(url)!r} must be http(s)://host/…")
        self.method = method.strip().upper()
        if self.method not in METHODS:
            raise ValueError(f"SMS HTTP method {method!r}: use one of {', '.join(METHODS)}")
        self.content_type = _content_type(content_type)
        if self.method == "GET" and self.content_type != "form":
            raise ValueError("SMS HTTP method GET sends the template as a query: use form")
        self.template = template or DEFAULT_TEMPLATES[self.content_type]
        _check_template(self.template, self.content_type)
        self.id_path = id_path or None
        self.sender = sender
        self.timeout = timeout
        # a user and password in the URL become Basic auth; the URL keeps neither
        netloc = parts.netloc.rpartition("@")[2]
        self._url = urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
        if auth is None and parts.username is not None:
            auth = f"basic:{unquote(parts.username)}:{unquote(parts.password or '')}"
        self._auth_kind = auth.partition(":")[0].lower() if auth else "none"
        self._auth = parse_auth(auth)
        self._session: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:  # never the credential or the query (API keys live there)
        return (
            f"HttpSmsProvider({self.method} {public_url(self._url)}, {self.content_type},"
            f" auth={self._auth_kind})"
        )

    def _request(self, to: str, digits: str, text: str) -> tuple[str, str | None]:
        """The URL and body of one message."""
        values = {"to": to, "to_digits": digits, "sender": self.sender, "text": text}
        filled = render(self.template, self.content_type, values)
        if self.method == "GET":
            separator = "&" if urlsplit(self._url).query else "?"
            return f"{self._url}{separator}{filled}", None
        return self._url, filled

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json, */*;q=0.5"}
        if self.method != "GET":
            headers["Content-Type"] = CONTENT_TYPES[self.content_type]
        if self._auth:
            headers[self._auth[0]] = self._auth[1]
        return headers

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            )
        return self._session

    async def send(self, to: str, text: str) -> str:
        digits = check_message(to, text)
        url, body = self._request(to, digits, text)
        where = public_url(self._url)
        try:
            async with self._client().request(
                self.method,
                url,
                data=body.encode("utf-8") if body is not None else None,
                headers=self._headers(),
                allow_redirects=False,  # a redirected POST would silently turn into a GET
            ) as response:
                status, reason = response.status, response.reason or ""
                raw = await response.read()
        except TimeoutError:
            raise SmsError(
                f"{where}: no answer within {self.timeout:g} s", permanent=False
            ) from None
        except aiohttp.ClientConnectorError as exc:  # names host:port only, no query
            raise SmsError(f"{where}: {exc}", permanent=False) from None
        except aiohttp.ClientError as exc:  # others may quote the URL: name the kind only
            raise SmsError(f"{where}: {type(exc).__name__}", permanent=False) from None
        if 200 <= status < 300:
            return self._message_id(raw)
        detail = f"{where} answered {status} {reason}".rstrip()
        if raw:
            detail += f": {_excerpt(raw)}"
        permanent = 400 <= status < 500 and status not in RETRYABLE_4XX
        raise SmsError(detail, permanent=permanent)

    def _message_id(self, raw: bytes) -> str:
        if not self.id_path:
            return ""
        try:
            document = json.loads(raw)
        except ValueError:
            document = None
        message_id = find_id(document, self.id_path)
        if not message_id:  # the message was accepted all the same: never fail it now
            logger.warning(
                "SMS accepted by %s, but no id at %r in its answer",
                public_url(self._url),
                self.id_path,
            )
        return message_id

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _content_type(value: str) -> str:
    kind = value.strip().lower()
    aliases = {"application/json": "json", "application/x-www-form-urlencoded": "form"}
    kind = aliases.get(kind, kind)
    if kind not in CONTENT_TYPES:
        raise ValueError(f"SMS HTTP content type {value!r}: use json or form")
    return kind


def _check_template(template: str, content_type: str) -> None:
    """Refuse at start-up what would break every message later."""
    unknown = sorted(
        {name for name in _ANY_PLACEHOLDER.findall(template) if name not in PLACEHOLDERS}
    )
    if unknown:
        known = ", ".join(f"{{{name}}}" for name in PLACEHOLDERS)
        raise ValueError(
            f"SMS HTTP template: unknown placeholder {{{unknown[0]}}} (known: {known})"
        )
    if content_type == "json":
        # awkward sample values: quotes, backslashes, line breaks and non-ASCII
        sample = {
            "to": "+38640123456",
            "to_digits": "38640123456",
            "sender": 'Tele"konf\\',
            "text": 'Šola "x"\n\t{text}',
        }
        try:
            json.loads(render(template, content_type, sample))
        except ValueError as exc:
            raise ValueError(
                "SMS HTTP template is not valid JSON once filled in (placeholders belong"
                f' inside string literals, like "{{text}}"): {exc}'
            ) from None
