"""Sending one message over SMTP with aiosmtplib, configured by ``TELEKONF_SMTP_URL``.

- ``smtp://[user:pass@]host[:port]``: plain SMTP (port 25), no TLS;
- ``smtp+starttls://…``: STARTTLS required (port 587);
- ``smtps://…``: implicit TLS (port 465).

With a user name the client logs in (after TLS where TLS is asked for).
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

import aiosmtplib

DEFAULT_PORTS = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}
TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class SmtpTransport:
    host: str
    port: int
    use_tls: bool = False
    start_tls: bool = False
    username: str | None = None
    password: str | None = None
    timeout: float = TIMEOUT_SECONDS

    @classmethod
    def from_url(cls, url: str) -> SmtpTransport:
        parts = urlsplit(url.strip())
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS:
            raise ValueError(
                f"SMTP URL {url!r}: the scheme must be smtp, smtp+starttls or smtps"
            )
        if not parts.hostname:
            raise ValueError(f"SMTP URL {url!r} names no host")
        try:
            port = parts.port or DEFAULT_PORTS[scheme]
        except ValueError as exc:
            raise ValueError(f"SMTP URL {url!r}: {exc}") from None
        if parts.username and scheme == "smtp" and not _loopback(parts.hostname):
            # A password must not cross the network in clear text.
            raise ValueError(
                f"SMTP URL for {parts.hostname}: a user name and password need an encrypted"
                " connection; use smtp+starttls:// or smtps://"
            )
        return cls(
            host=parts.hostname,
            port=port,
            use_tls=scheme == "smtps",
            start_tls=scheme == "smtp+starttls",
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password is not None else None,
        )

    def __repr__(self) -> str:  # never the password in logs
        return (
            f"SmtpTransport({self.host}:{self.port}, tls={self.use_tls},"
            f" starttls={self.start_tls})"
        )

    async def send(self, message: EmailMessage) -> None:
        """Hand the message over; raises (aiosmtplib errors, OSError) when that fails."""
        await aiosmtplib.send(
            message,
            hostname=self.host,
            port=self.port,
            use_tls=self.use_tls,
            start_tls=self.start_tls,
            username=self.username,
            password=self.password if self.username else None,
            timeout=self.timeout,
        )


def _loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")
