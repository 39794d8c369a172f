"""What every SMS provider offers, and the checks they share.

A provider hands one text to one number and says whether that worked. Its error
tells the outbox what to do next: ``permanent`` (the number or the message is
refused: retrying cannot help) or temporary (the provider is down, slow or busy:
try again later).
"""

from __future__ import annotations

import re
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

# ASCII digits only: str.isdigit() would also accept other scripts' digits
_E164 = re.compile(r"\+[1-9][0-9]{1,14}")


class SmsError(Exception):
    """Sending failed; ``permanent`` says whether a later attempt could succeed."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent

    def __repr__(self) -> str:
        kind = "permanent" if self.permanent else "temporary"
        return f"SmsError({str(self)!r}, {kind})"


class SmsProvider(Protocol):
    name: str

    async def send(self, to: str, text: str) -> str:
        """Send ``text`` to ``to`` (E.164, "+38640123456"); the provider's message id or "".

        Raises ``SmsError``.
        """
        ...

    async def close(self) -> None: ...


def check_message(to: str, text: str) -> str:
    """The digits of ``to`` (E.164 without "+"); refuses what no provider could send."""
    if not isinstance(to, str) or not _E164.fullmatch(to):
        raise SmsError(f"{to!r} is not an E.164 number like +38640123456", permanent=True)
    try:
        text.encode("utf-16-le")
    except UnicodeEncodeError:  # a lone surrogate: no encoding can carry it
        raise SmsError("the text is not valid Unicode", permanent=True) from None
    return to[1:]


def public_url(url: str) -> str:
    """``url`` fit for logs and error messages: no user, password, query or fragment."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<invalid URL>"
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    return urlunsplit((parts.scheme, host + port, parts.path, "", ""))
