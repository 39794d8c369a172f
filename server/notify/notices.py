"""The organiser's free-text "Notify": one message to one participant, by e-mail or SMS.

The e-mail is in the participant's language (else the conference's), text + HTML with
everything the user typed escaped; the SMS is a single short plain text. Header values
are made single-line when the e-mail is built (``outbox.one_line``).
"""

from __future__ import annotations

import html

from ..conference import Conference, Participant
from ..store import OutboxItem
from .invitations import recipient_language, texts
from .outbox import one_line

NOTICE_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "subject": "{title}: message from {sender}",
        "intro": "{sender} sends you this message about the audio conference “{title}”:",
    },
    "de": {
        "subject": "{title}: Nachricht von {sender}",
        "intro": "{sender} sendet Ihnen diese Nachricht zur Telefonkonferenz „{title}“:",
    },
    "sl": {
        "subject": "{title}: sporočilo od {sender}",
        "intro": "{sender} vam pošilja to sporočilo o avdio konferenci »{title}«:",
    },
}

#: a longer title is shortened in an SMS (every extra part is paid for)
SMS_TITLE_MAX = 40

CHANNELS = ("email", "sms")


def _lines(message: str) -> list[str]:
    """The message's lines without control characters or trailing blank lines."""
    lines = [one_line(line) for line in message.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    while lines and not lines[0]:
        lines.pop(0)
    return lines


def _shorten(value: str, limit: int) -> str:
    # "..." rather than "…", which is not in the GSM alphabet either.
    return value if len(value) <= limit else value[: limit - 3].rstrip() + "..."


def build_notice(
    conference: Conference,
    participant: Participant,
    *,
    message: str,
    channel: str,
    sender_name: str,
) -> OutboxItem:
    """The organiser's message to one participant.

    Raises ValueError for an unknown channel, an empty message, or a participant without
    the address the channel needs (an e-mail address, or a phone number for SMS).
    """
    lines = _lines(message)
    if not lines:
        raise ValueError("the message is empty")
    title = one_line(conference.title)
    sender = one_line(sender_name)
    if channel == "sms":
        if not participant.phone:
            raise ValueError("the participant has no phone number")
        said = "\n".join(lines)
        # A plain hyphen: an en dash is not in the GSM 03.38 alphabet and would make the
        # whole SMS UCS-2, 70 characters a part instead of 160.
        body = f"{_shorten(title, SMS_TITLE_MAX)}: {said} - {sender}"
        return OutboxItem(
            conference_id=conference.id, kind="notice", recipient=participant.phone,
            recipient_name=participant.name, subject="", body_text=body, body_html="",
            channel="sms", participant_id=participant.id,
        )
    if channel != "email":
        raise ValueError(f"unknown channel {channel!r}; use one of {', '.join(CHANNELS)}")
    if not participant.email:
        raise ValueError("the participant has no e-mail address")

    lang = recipient_language(participant.language, conference.language)
    t, n = texts(lang), NOTICE_TEXTS[lang]
    hello = t["hello"].format(name=participant.name)
    intro = n["intro"].format(sender=sender, title=title)
    text = "\n".join([hello, "", intro, "", *lines, "", t["footer"], ""])
    e = html.escape
    quoted = "<br>".join(e(line) for line in lines)
    page = (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">'
        f"<title>{e(title)}</title></head><body>"
        f"<h2>{e(title)}</h2><p>{e(hello)}</p><p>{e(intro)}</p>"
        f"<blockquote><p>{quoted}</p></blockquote>"
        f"<p><small>{e(t['footer'])}</small></p></body></html>"
    )
    return OutboxItem(
        conference_id=conference.id, kind="notice", recipient=participant.email,
        recipient_name=participant.name,
        subject=n["subject"].format(title=title, sender=sender),
        body_text=text, body_html=page, participant_id=participant.id,
    )
