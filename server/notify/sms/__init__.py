"""SMS notifications: one provider, chosen by ``TELEKONF_SMS_URL``.

- unset, "" or ``dev``: ``DevSmsProvider``, which sends nowhere (development);
- ``smpp://system_id:password@host:port[?system_type=…&source=…]``: an SMSC over SMPP;
- ``http://…`` or ``https://…``: an HTTP SMS API, described by the ``http_*`` options.

The text is counted and split by ``segments`` the same way for every provider.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from .dev import DevSmsProvider
from .http import HttpSmsProvider
from .provider import SmsError, SmsProvider
from .segments import SmsSegments, count_segments, is_gsm7, split_segments
from .smpp import SmppSmsProvider

__all__ = [
    "DevSmsProvider",
    "HttpSmsProvider",
    "SmppSmsProvider",
    "SmsError",
    "SmsProvider",
    "SmsSegments",
    "count_segments",
    "is_gsm7",
    "provider_from_url",
    "split_segments",
]


def provider_from_url(
    spec: str | None,
    *,
    http_method: str = "POST",
    http_auth: str | None = None,
    http_content_type: str = "json",
    http_template: str | None = None,
    http_id_path: str | None = None,
    sender: str = "",
) -> SmsProvider:
    """The provider ``spec`` names; ``ValueError`` (fit to show at start-up) when it is wrong.

    ``sender`` is the SMPP source (unless the URL has ``?source=``) and the HTTP
    template's ``{sender}``.
    """
    text = (spec or "").strip()
    if not text or text.lower() == "dev":
        return DevSmsProvider()
    try:
        scheme = urlsplit(text).scheme.lower()
    except ValueError:
        scheme = ""
    if scheme == "smpp":
        return SmppSmsProvider(text, sender=sender)
    if scheme in ("http", "https"):
        return HttpSmsProvider(
            text,
            method=http_method,
            auth=http_auth,
            content_type=http_content_type,
            template=http_template,
            id_path=http_id_path,
            sender=sender,
        )
    # only the scheme is named: whatever else was typed may hold a password
    named = f"with scheme {scheme!r}" if scheme else "without a scheme"
    raise ValueError(
        f"SMS URL {named}: use dev, smpp://system_id:password@host:port"
        " or an http(s):// URL of an SMS API"
    )
