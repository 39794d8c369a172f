"""The organiser's free-text notices to one participant, by e-mail or SMS."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest

from server.conference import Conference, Contact, Participant
from server.notify.notices import SMS_TITLE_MAX, build_notice
from server.notify.outbox import build_email
from server.store import OutboxEntry, OutboxItem

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
EVIL = "<script>alert(1)</script>"


def conference(language: str = "en", title: str = "Jour fixe") -> Conference:
    return Conference(
        id="c0ffee00c0ffee00", title=title, organizer=Contact("Olga", "olga@example.org"),
        language=language, created_at=NOW,
    )


def pia(**changes: str | None) -> Participant:
    person = Participant("p1", "Pia", email="pia@example.org", phone="+38640123456")
    for name, value in changes.items():
        setattr(person, name, value)
    return person


def parsed(item: OutboxItem) -> EmailMessage:
    entry = OutboxEntry(
        id=3, conference_id=item.conference_id, participant_id=item.participant_id,
        kind=item.kind, recipient=item.recipient, recipient_name=item.recipient_name,
        channel=item.channel, subject=item.subject, body_text=item.body_text,
        body_html=item.body_html, ics=item.ics, state="queued", attempts=0,
        next_attempt_at=NOW, last_error=None, created_at=NOW, sent_at=None, message_id=None,
    )
    raw = build_email(entry, "Telekonf <noreply@example.org>", NOW).as_bytes()
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_email_notice() -> None:
    item = build_notice(
        conference(), pia(), message="We start 10 minutes late.\nSorry!", channel="email",
        sender_name="Olga",
    )
    assert (item.kind, item.channel, item.recipient, item.recipient_name) == (
        "notice", "email", "pia@example.org", "Pia",
    )
    assert (item.conference_id, item.participant_id, item.ics) == ("c0ffee00c0ffee00", "p1", None)
    assert item.subject == "Jour fixe: message from Olga"
    assert "Hello Pia," in item.body_text
    assert "We start 10 minutes late.\nSorry!" in item.body_text
    assert "We start 10 minutes late.<br>Sorry!" in item.body_html
    assert 'lang="en"' in item.body_html


@pytest.mark.parametrize(
    ("conference_language", "own_language", "subject", "lang"),
    [
        ("de", None, "Jour fixe: Nachricht von Olga", "de"),
        ("sl", None, "Jour fixe: sporočilo od Olga", "sl"),
        ("en", "de", "Jour fixe: Nachricht von Olga", "de"),  # the participant's own first
        ("de", "sl", "Jour fixe: sporočilo od Olga", "sl"),
        ("sl", "xx", "Jour fixe: sporočilo od Olga", "sl"),  # unknown: the conference's
        ("xx", None, "Jour fixe: message from Olga", "en"),  # neither known: English
    ],
)
def test_email_notice_languages(
    conference_language: str, own_language: str | None, subject: str, lang: str
) -> None:
    item = build_notice(
        conference(conference_language), pia(language=own_language), message="Hallo",
        channel="email", sender_name="Olga",
    )
    assert item.subject == subject
    assert f'lang="{lang}"' in item.body_html


def test_script_is_escaped_and_cannot_add_headers() -> None:
    item = build_notice(
        conference(title=f"Sync {EVIL}"), pia(name=f"Pia {EVIL}"),
        message=f"Read this {EVIL}\r\nBcc: victim@example.org", channel="email",
        sender_name=f"Olga {EVIL}\r\nX-Evil: 1",
    )
    assert "<script>" not in item.body_html
    assert item.body_html.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 4
    message = parsed(item)
    assert message["Bcc"] is None and message["X-Evil"] is None
    assert [a.addr_spec for a in message["To"].addresses] == ["pia@example.org"]
    assert "Olga <script>alert(1)</script> X-Evil: 1" in str(message["Subject"])


def test_sms_notice() -> None:
    item = build_notice(
        conference(), pia(), message="  We start 10 minutes late.  \n", channel="sms",
        sender_name="Olga",
    )
    assert (item.kind, item.channel, item.recipient, item.participant_id) == (
        "notice", "sms", "+38640123456", "p1",
    )
    assert (item.subject, item.body_html, item.ics) == ("", "", None)
    assert item.body_text == "Jour fixe: We start 10 minutes late. - Olga"


def test_sms_is_plain_and_short() -> None:
    long_title = "Quarterly review of the regional sales figures, part two"
    item = build_notice(
        conference(title=long_title), pia(), message=f"Dial in {EVIL}", channel="sms",
        sender_name="Olga\r\nX",
    )
    # Plain text (no escaping: nothing renders HTML), one line, the title shortened.
    assert item.body_text.endswith(f": Dial in {EVIL} - Olga X")
    title = item.body_text.split(": ", 1)[0]
    assert len(title) <= SMS_TITLE_MAX and title.endswith("...")
    assert "\r" not in item.body_text and "\n" not in item.body_text


def test_missing_address_or_bad_input() -> None:
    with pytest.raises(ValueError, match="e-mail"):
        build_notice(conference(), pia(email=None), message="x", channel="email",
                     sender_name="Olga")
    with pytest.raises(ValueError, match="phone"):
        build_notice(conference(), pia(phone=None), message="x", channel="sms",
                     sender_name="Olga")
    with pytest.raises(ValueError, match="channel"):
        build_notice(conference(), pia(), message="x", channel="fax", sender_name="Olga")
    with pytest.raises(ValueError, match="empty"):
        build_notice(conference(), pia(), message=" \n ", channel="email", sender_name="Olga")
