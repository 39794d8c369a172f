"""The invitation e-mails: multipart text + HTML in the conference's language, with an .ics.

Participants get the participant PIN, the dial-in numbers, one-tap ``tel:`` links and the
browser link. Only the organiser's own e-mail carries the moderator PIN and the secret
organiser link. Every user-supplied string is escaped in HTML (``html.escape``);
header values are made single-line when the message is built (see ``outbox.one_line``).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import phonenumbers
from icalendar import Calendar, Event, vCalAddress, vText
from phonenumbers import geocoder

from ..access import AccessMode, AccessNumber
from ..conference import Conference
from ..store import OutboxItem
from .outbox import one_line

DEFAULT_DURATION = timedelta(hours=1)

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "subject": "Invitation: {title}",
        "subject_organizer": "Your conference: {title}",
        "hello": "Hello {name},",
        "invited": "{organizer} invites you to the audio conference “{title}”.",
        "created": "your audio conference “{title}” is ready. Below are the details to pass "
                   "on, and your own moderator access.",
        "when": "When",
        "no_time": "no fixed time",
        "phone": "Join by phone",
        "pin": "Conference PIN",
        "moderator_pin": "Moderator PIN (keep it to yourself)",
        "one_tap": "One tap (dials and enters the PIN)",
        "browser": "Join in the browser",
        "organizer_page": "Your organiser page (secret link, do not forward)",
        "after_pin": "Enter the PIN followed by #.",
        "premium": "premium rate: you pay for the call and the conference fee",
        "geographic": "the price of a normal call to {country}",
        "tollfree": "free of charge",
        "footer": "Sent by Telekonf.",
    },
    "de": {
        "subject": "Einladung: {title}",
        "subject_organizer": "Ihre Konferenz: {title}",
        "hello": "Hallo {name},",
        "invited": "{organizer} lädt Sie zur Telefonkonferenz „{title}“ ein.",
        "created": "Ihre Telefonkonferenz „{title}“ ist eingerichtet. Unten stehen die Angaben "
                   "zum Weitergeben und Ihr eigener Moderatorzugang.",
        "when": "Wann",
        "no_time": "kein fester Termin",
        "phone": "Per Telefon teilnehmen",
        "pin": "Konferenz-PIN",
        "moderator_pin": "Moderator-PIN (bitte nicht weitergeben)",
        "one_tap": "Mit einem Tipp (wählt und gibt die PIN ein)",
        "browser": "Im Browser teilnehmen",
        "organizer_page": "Ihre Organisatorseite (geheimer Link, nicht weiterleiten)",
        "after_pin": "Geben Sie die PIN gefolgt von # ein.",
        "premium": "Sondertarif: Sie zahlen den Anruf und die Konferenzgebühr",
        "geographic": "Kosten eines normalen Anrufs, Zielland: {country}",
        "tollfree": "kostenlos",
        "footer": "Gesendet von Telekonf.",
    },
    "sl": {
        "subject": "Vabilo: {title}",
        "subject_organizer": "Vaša konferenca: {title}",
        "hello": "Pozdravljeni, {name},",
        "invited": "{organizer} vas vabi na avdio konferenco »{title}«.",
        "created": "vaša avdio konferenca »{title}« je pripravljena. Spodaj so podatki za "
                   "udeležence in vaš moderatorski dostop.",
        "when": "Kdaj",
        "no_time": "brez določenega termina",
        "phone": "Pridružite se po telefonu",
        "pin": "PIN konference",
        "moderator_pin": "PIN moderatorja (ne delite ga z drugimi)",
        "one_tap": "Z enim dotikom (pokliče in vnese PIN)",
        "browser": "Pridružite se v brskalniku",
        "organizer_page": "Vaša stran organizatorja (skrivna povezava, ne posredujte je)",
        "after_pin": "Vnesite PIN in nato #.",
        "premium": "posebna tarifa: plačate klic in pristojbino za konferenco",
        "geographic": "cena običajnega klica v {country}",
        "tollfree": "brezplačno",
        "footer": "Poslano iz sistema Telekonf.",
    },
}

# Slovenian names of nearby countries (phonenumbers' geocoder has none in Slovenian),
# in the accusative after "v".
_COUNTRIES_SL = {
    "GB": "Združeno kraljestvo", "SI": "Slovenijo", "DE": "Nemčijo", "AT": "Avstrijo",
    "IT": "Italijo", "HR": "Hrvaško", "HU": "Madžarsko", "CH": "Švico", "FR": "Francijo",
    "US": "ZDA",
}


_WITH_THE = {"GB", "US", "NL", "CZ", "AE", "PH", "DO", "BS"}


def texts(language: str) -> dict[str, str]:
    return TEXTS.get(language, TEXTS["en"])


def country_name(number: AccessNumber, language: str) -> str:
    if language == "sl" and number.region in _COUNTRIES_SL:
        return _COUNTRIES_SL[number.region]
    parsed = phonenumbers.parse(number.e164)
    name = geocoder.country_name_for_number(parsed, language) or number.region
    if language == "en" and number.region in _WITH_THE:
        name = "the " + name
    return name


def cost(number: AccessNumber, language: str) -> str:
    t = texts(language)
    if number.mode is AccessMode.GEOGRAPHIC:
        return t["geographic"].format(country=country_name(number, language))
    return t[number.mode.value]


def tel_link(number: AccessNumber, pin: str) -> str:
    """Dials, waits (two pauses), then types the PIN and # (``%23``)."""
    return f"tel:{number.e164},,{pin}%23"


def format_time(starts_at: datetime | None, language: str) -> str:
    if starts_at is None:
        return texts(language)["no_time"]
    # The API keeps starts_at in UTC (the caller's offset is not stored): show UTC.
    return starts_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC (+00:00)")


def _ics(
    conference: Conference,
    *,
    pin: str,
    join_url: str,
    numbers: Sequence[AccessNumber],
    attendees: Sequence[tuple[str, str]],
    uid_domain: str,
    method: str,
    now: datetime,
) -> str:
    cal = Calendar()
    cal.add("prodid", "-//Telekonf//Invitations//EN")
    cal.add("version", "2.0")
    cal.add("method", method)
    event = Event()
    event.add("uid", f"conference-{conference.id}@{uid_domain}")
    event.add("dtstamp", now)
    event.add("sequence", 0)
    if conference.starts_at is not None:
        event.add("dtstart", conference.starts_at)
        event.add("dtend", conference.starts_at + DEFAULT_DURATION)
    event.add("summary", conference.title)
    t = texts(conference.language)
    lines = [f"{t['pin']}: {pin}", ""]
    for n in numbers:
        lines.append(f"{n.display} ({cost(n, conference.language)}): {tel_link(n, pin)}")
    lines += ["", f"{t['browser']}: {join_url}"]
    event.add("description", "\n".join(lines))
    event.add("location", join_url)
    event.add("url", join_url)
    organizer = vCalAddress(f"mailto:{conference.organizer.email}")
    organizer.params["cn"] = vText(one_line(conference.organizer.name))
    event.add("organizer", organizer)
    for name, email in attendees:
        attendee = vCalAddress(f"mailto:{email}")
        attendee.params["cn"] = vText(one_line(name))
        attendee.params["role"] = vText("REQ-PARTICIPANT")
        attendee.params["partstat"] = vText("NEEDS-ACTION")
        attendee.params["rsvp"] = vText("FALSE")
        event.add("attendee", attendee, encode=0)
    cal.add_component(event)
    return cal.to_ical().decode("utf-8")


def _text_body(intro: list[str], rows: list[tuple[str, str]], numbers_block: list[str],
               footer: str) -> str:
    out = [*intro, ""]
    for label, value in rows:
        out.append(f"{label}: {value}")
    out += ["", *numbers_block, "", footer, ""]
    return "\n".join(out)


def build_invitations(
    conference: Conference,
    *,
    pin: str,
    moderator_pin: str,
    join_url: str,
    organizer_url: str,
    numbers: Sequence[AccessNumber],
    base_url: str,
    now: datetime,
) -> list[OutboxItem]:
    """One e-mail for the organiser, one for each invitee with an e-mail address."""
    lang = conference.language if conference.language in TEXTS else "en"
    t = TEXTS[lang]
    e = html.escape
    title = conference.title
    when = format_time(conference.starts_at, lang)
    uid_domain = urlsplit(base_url).hostname or "telekonf"
    invitees = [
        (p.name, p.email) for p in conference.participants.values()
        if p.email and p.role.value != "organizer"
    ]

    def phone_parts(the_pin: str) -> tuple[list[str], str]:
        text = [f"{t['phone']}:"]
        items = []
        for n in numbers:
            link = tel_link(n, the_pin)
            text.append(f"  {n.display} ({cost(n, lang)})")
            text.append(f"    {t['one_tap']}: {link}")
            items.append(
                f'<li><a href="{e(link)}">{e(n.display)}</a> ({e(cost(n, lang))})</li>'
            )
        text.append(f"  {t['after_pin']}")
        html_block = (
            f"<h3>{e(t['phone'])}</h3><ul>{''.join(items)}</ul>"
            f"<p>{e(t['one_tap'])}. {e(t['after_pin'])}</p>"
        )
        return text, html_block

    def page(intro_html: str, rows: list[tuple[str, str, str | None]], phone_html: str) -> str:
        cells = []
        for label, value, href in rows:
            shown = (
                f'<a href="{e(href)}">{e(value)}</a>' if href else f"<strong>{e(value)}</strong>"
            )
            cells.append(f"<tr><th align=\"left\">{e(label)}</th><td>{shown}</td></tr>")
        return (
            f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">'
            f"<title>{e(title)}</title></head><body>"
            f"<h2>{e(title)}</h2>{intro_html}<table>{''.join(cells)}</table>"
            f"{phone_html}<p><small>{e(t['footer'])}</small></p></body></html>"
        )

    ics = _ics(
        conference, pin=pin, join_url=join_url, numbers=numbers, attendees=invitees,
        uid_domain=uid_domain, method="REQUEST", now=now,
    )
    items: list[OutboxItem] = []
    phone_text, phone_html = phone_parts(pin)
    for name, email in invitees:
        hello = t["hello"].format(name=name)
        invited = t["invited"].format(organizer=conference.organizer.name, title=title)
        rows = [(t["when"], when, None), (t["pin"], pin, None), (t["browser"], join_url, join_url)]
        items.append(OutboxItem(
            conference_id=conference.id, kind="invitation", recipient=email,
            recipient_name=name, subject=t["subject"].format(title=title),
            body_text=_text_body(
                [hello, "", invited], [(a, b) for a, b, _ in rows], phone_text, t["footer"]
            ),
            body_html=page(f"<p>{e(hello)}</p><p>{e(invited)}</p>", rows, phone_html),
            ics=ics,
        ))
    org = conference.organizer
    if org.email:
        hello = t["hello"].format(name=org.name)
        created = t["created"].format(title=title)
        rows = [
            (t["when"], when, None), (t["pin"], pin, None),
            (t["moderator_pin"], moderator_pin, None),
            (t["browser"], join_url, join_url),
            (t["organizer_page"], organizer_url, organizer_url),
        ]
        items.append(OutboxItem(
            conference_id=conference.id, kind="invitation-organizer", recipient=org.email,
            recipient_name=org.name, subject=t["subject_organizer"].format(title=title),
            body_text=_text_body(
                [hello, created], [(a, b) for a, b, _ in rows], phone_text, t["footer"]
            ),
            body_html=page(f"<p>{e(hello)} {e(created)}</p>", rows, phone_html),
            ics=_ics(
                conference, pin=pin, join_url=join_url, numbers=numbers, attendees=invitees,
                uid_domain=uid_domain, method="PUBLISH", now=now,
            ),
        ))
    return items
