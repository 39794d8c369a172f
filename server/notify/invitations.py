"""The invitation e-mails: multipart text + HTML in each recipient's language, with an .ics.

Participants get the participant PIN, the dial-in numbers, one-tap ``tel:`` links and the
browser link. Only the organiser's own e-mail carries the moderator PIN and the secret
organiser link. Every user-supplied string is escaped in HTML (``html.escape``);
header values are made single-line when the message is built (see ``outbox.one_line``).

Calendar entries follow RFC 5546: one stable UID per conference; an update is a new
``REQUEST`` and a cancellation a ``CANCEL``, both with the conference's ``ics_sequence``
(raised by the caller before building them) so that calendars replace the older copy.
"""

from __future__ import annotations

import html
from collections.abc import Collection, Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from icalendar import Calendar, Event, vCalAddress, vText
from phonenumbers import geocoder

from ..access import AccessMode, AccessNumber
from ..conference import Conference, Participant, Role
from ..store import OutboxItem
from .outbox import one_line

DEFAULT_DURATION = timedelta(hours=1)

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "subject": "Invitation: {title}",
        "subject_organizer": "Your conference: {title}",
        "subject_update": "Updated invitation: {title}",
        "subject_update_organizer": "Your conference was updated: {title}",
        "subject_cancel": "Cancelled: {title}",
        "subject_link": "Your organiser link: {title}",
        "hello": "Hello {name},",
        "invited": "{organizer} invites you to the audio conference “{title}”.",
        "created": "your audio conference “{title}” is ready. Below are the details to pass "
                   "on, and your own moderator access.",
        "updated": "The time or other details of this conference have changed. This invitation "
                   "replaces the earlier one.",
        "cancelled": "{organizer} has cancelled the audio conference “{title}”. It will not "
                     "take place.",
        "cancelled_organizer": "your audio conference “{title}” has been cancelled. Everyone "
                               "invited by e-mail is told as well.",
        "link_intro": "here is the link to the organiser page of your audio conference "
                      "“{title}”. Keep it to yourself: whoever has it can run the conference.",
        "link_ignore": "If you did not ask for this, ignore this e-mail.",
        "requested": "Requested",
        "when": "When",
        "duration": "Duration",
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
        "subject_update": "Aktualisierte Einladung: {title}",
        "subject_update_organizer": "Ihre Konferenz wurde geändert: {title}",
        "subject_cancel": "Abgesagt: {title}",
        "subject_link": "Ihr Organisator-Link: {title}",
        "hello": "Hallo {name},",
        "invited": "{organizer} lädt Sie zur Telefonkonferenz „{title}“ ein.",
        "created": "Ihre Telefonkonferenz „{title}“ ist eingerichtet. Unten stehen die Angaben "
                   "zum Weitergeben und Ihr eigener Moderatorzugang.",
        "updated": "Zeit oder Angaben dieser Konferenz haben sich geändert. Diese Einladung "
                   "ersetzt die frühere.",
        "cancelled": "{organizer} hat die Telefonkonferenz „{title}“ abgesagt. Sie findet "
                     "nicht statt.",
        "cancelled_organizer": "Ihre Telefonkonferenz „{title}“ ist abgesagt. Alle, die per "
                               "E-Mail eingeladen wurden, werden ebenfalls benachrichtigt.",
        "link_intro": "hier ist der Link zur Organisatorseite Ihrer Telefonkonferenz "
                      "„{title}“. Bitte geben Sie ihn nicht weiter: Wer ihn hat, kann die "
                      "Konferenz leiten.",
        "link_ignore": "Falls Sie das nicht angefordert haben, ignorieren Sie diese E-Mail.",
        "requested": "Angefordert",
        "when": "Wann",
        "duration": "Dauer",
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
        "subject_update": "Posodobljeno vabilo: {title}",
        "subject_update_organizer": "Vaša konferenca je spremenjena: {title}",
        "subject_cancel": "Preklicano: {title}",
        "subject_link": "Vaša povezava za organizatorja: {title}",
        "hello": "Pozdravljeni, {name},",
        "invited": "{organizer} vas vabi na avdio konferenco »{title}«.",
        "created": "vaša avdio konferenca »{title}« je pripravljena. Spodaj so podatki za "
                   "udeležence in vaš moderatorski dostop.",
        "updated": "Čas ali drugi podatki te konference so se spremenili. To vabilo nadomešča "
                   "prejšnje.",
        "cancelled": "{organizer} sporoča, da je avdio konferenca »{title}« preklicana. "
                     "Konference ne bo.",
        "cancelled_organizer": "vaša avdio konferenca »{title}« je preklicana. Obvestilo "
                               "dobijo tudi vsi, ki so bili povabljeni po e-pošti.",
        "link_intro": "tukaj je povezava do strani organizatorja vaše avdio konference "
                      "»{title}«. Ne delite je z drugimi: kdor jo ima, lahko vodi konferenco.",
        "link_ignore": "Če tega niste zahtevali, to sporočilo prezrite.",
        "requested": "Zahtevano",
        "when": "Kdaj",
        "duration": "Trajanje",
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

# Our own small tables rather than the process locale (not thread-safe, often not installed)
# or Babel (a large dependency for three languages). Monday first, as datetime.weekday().
_WEEKDAYS = {
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "de": ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"),
    "sl": ("ponedeljek", "torek", "sreda", "četrtek", "petek", "sobota", "nedelja"),
}
_MONTHS = {
    "en": ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"),
    "de": ("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August",
           "September", "Oktober", "November", "Dezember"),
    "sl": ("januar", "februar", "marec", "april", "maj", "junij", "julij", "avgust",
           "september", "oktober", "november", "december"),
}
# {w} weekday, {d} day, {m} month, {y} year, {t} time, {z} zone
_DATE_FORMATS = {
    "en": "{w}, {d} {m} {y}, {t} ({z})",
    "de": "{w}, {d}. {m} {y}, {t} Uhr ({z})",
    "sl": "{w}, {d}. {m} {y}, {t} ({z})",
}
# Slovenian writes 14.00, the others 14:00.
_TIME_SEPARATORS = {"en": ":", "de": ":", "sl": "."}

# Slovenian names of nearby countries (phonenumbers' geocoder has none in Slovenian),
# in the accusative after "v".
_COUNTRIES_SL = {
    "GB": "Združeno kraljestvo", "SI": "Slovenijo", "DE": "Nemčijo", "AT": "Avstrijo",
    "IT": "Italijo", "HR": "Hrvaško", "HU": "Madžarsko", "CH": "Švico", "FR": "Francijo",
    "US": "ZDA",
}


_WITH_THE = {"GB", "US", "NL", "CZ", "AE", "PH", "DO", "BS"}


def language_of(language: str | None) -> str:
    """A language we have texts for (English for anything else)."""
    return language if language in TEXTS else "en"


def recipient_language(own: str | None, conference_language: str) -> str:
    """The recipient's own language if we have it, else the conference's, else English."""
    return own if own in TEXTS else language_of(conference_language)


def texts(language: str | None) -> dict[str, str]:
    return TEXTS[language_of(language)]


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


def zone(time_zone: str | None) -> tuple[tzinfo, str]:
    """The zone and the name to show; UTC when none is set or the name is not known."""
    if time_zone:
        try:
            return ZoneInfo(time_zone), time_zone
        # Unknown names, and ones zoneinfo refuses outright ("", "../x", "Europe").
        except (ZoneInfoNotFoundError, ValueError, OSError):
            pass
    return UTC, "UTC"


def _utc(moment: datetime) -> datetime:
    # A naive time would be read as the server's local time by astimezone(): it is UTC here.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def format_time(starts_at: datetime | None, language: str | None,
                time_zone: str | None = None) -> str:
    """E.g. "Monday, 7 December 2026, 14:00 (Europe/Ljubljana)"."""
    lang = language_of(language)
    if starts_at is None:
        return TEXTS[lang]["no_time"]
    tz, zone_name = zone(time_zone)
    local = _utc(starts_at).astimezone(tz)
    return _DATE_FORMATS[lang].format(
        w=_WEEKDAYS[lang][local.weekday()], d=local.day, m=_MONTHS[lang][local.month - 1],
        y=local.year, t=f"{local.hour:02d}{_TIME_SEPARATORS[lang]}{local.minute:02d}",
        z=zone_name,
    )


def format_duration(minutes: int) -> str:
    """E.g. "1 h 30 min" (the same symbols read well in en, de and sl)."""
    hours, rest = divmod(minutes, 60)
    parts = ([f"{hours} h"] if hours else []) + ([f"{rest} min"] if rest or not hours else [])
    return " ".join(parts)


def _duration(conference: Conference) -> timedelta | None:
    if conference.duration_minutes is None or conference.duration_minutes <= 0:
        return None
    return timedelta(minutes=conference.duration_minutes)


def _uid_domain(base_url: str) -> str:
    return urlsplit(base_url).hostname or "telekonf"


def _invitees(conference: Conference) -> list[Participant]:
    """Everyone invited with an e-mail address, the organiser aside (who gets their own)."""
    return [
        p for p in conference.participants.values() if p.email and p.role is not Role.ORGANIZER
    ]


def _mailto(email: str) -> vCalAddress:
    # one_line: an address can never break out of its content line.
    return vCalAddress(f"mailto:{one_line(email)}")


def _ics(
    conference: Conference,
    *,
    attendees: Sequence[Participant],
    uid_domain: str,
    method: str,
    status: str,
    now: datetime,
    description: str | None = None,
    join_url: str | None = None,
) -> str:
    cal = Calendar()
    cal.add("prodid", "-//Telekonf//Invitations//EN")
    cal.add("version", "2.0")
    cal.add("method", method)
    event = Event()
    # Stable per conference: updates and cancellations replace the same calendar entry.
    event.add("uid", f"conference-{conference.id}@{uid_domain}")
    event.add("dtstamp", _utc(now))
    event.add("sequence", conference.ics_sequence)
    event.add("status", status)
    if conference.starts_at is not None:
        start = _utc(conference.starts_at)
        event.add("dtstart", start)
        event.add("dtend", start + (_duration(conference) or DEFAULT_DURATION))
    event.add("summary", conference.title)
    if description is not None:
        event.add("description", description)
    if join_url is not None:
        event.add("location", join_url)
        event.add("url", join_url)
    organizer = _mailto(conference.organizer.email or "")
    organizer.params["cn"] = vText(one_line(conference.organizer.name))
    event.add("organizer", organizer)
    for p in attendees:
        attendee = _mailto(p.email or "")
        attendee.params["cn"] = vText(one_line(p.name))
        attendee.params["role"] = vText("REQ-PARTICIPANT")
        attendee.params["partstat"] = vText("NEEDS-ACTION")
        attendee.params["rsvp"] = vText("FALSE")
        event.add("attendee", attendee, encode=False)
    cal.add_component(event)
    return cal.to_ical().decode("utf-8")


def _description(lang: str, pin: str, join_url: str, numbers: Sequence[AccessNumber]) -> str:
    t = TEXTS[lang]
    lines = [f"{t['pin']}: {pin}", ""]
    for n in numbers:
        lines.append(f"{n.display} ({cost(n, lang)}): {tel_link(n, pin)}")
    lines += ["", f"{t['browser']}: {join_url}"]
    return "\n".join(lines)


#: a table row: label, value and an optional link
Row = tuple[str, str, str | None]


def _text_body(intro: list[str], rows: Sequence[Row], numbers_block: list[str],
               footer: str) -> str:
    out = [*intro, ""]
    for label, value, _ in rows:
        out.append(f"{label}: {value}")
    if numbers_block:
        out += ["", *numbers_block]
    out += ["", footer, ""]
    return "\n".join(out)


def _html_page(lang: str, title: str, intro: list[str], rows: Sequence[Row],
               phone_html: str = "") -> str:
    e = html.escape
    cells = []
    for label, value, href in rows:
        shown = f'<a href="{e(href)}">{e(value)}</a>' if href else f"<strong>{e(value)}</strong>"
        cells.append(f'<tr><th align="left">{e(label)}</th><td>{shown}</td></tr>')
    paragraphs = "".join(f"<p>{e(p)}</p>" for p in intro if p)
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">'
        f"<title>{e(title)}</title></head><body>"
        f"<h2>{e(title)}</h2>{paragraphs}<table>{''.join(cells)}</table>"
        f"{phone_html}<p><small>{e(TEXTS[lang]['footer'])}</small></p></body></html>"
    )


def _phone_parts(lang: str, numbers: Sequence[AccessNumber], pin: str) -> tuple[list[str], str]:
    t = TEXTS[lang]
    e = html.escape
    text = [f"{t['phone']}:"]
    items = []
    for n in numbers:
        link = tel_link(n, pin)
        text.append(f"  {n.display} ({cost(n, lang)})")
        text.append(f"    {t['one_tap']}: {link}")
        items.append(f'<li><a href="{e(link)}">{e(n.display)}</a> ({e(cost(n, lang))})</li>')
    text.append(f"  {t['after_pin']}")
    html_block = (
        f"<h3>{e(t['phone'])}</h3><ul>{''.join(items)}</ul>"
        f"<p>{e(t['one_tap'])}. {e(t['after_pin'])}</p>"
    )
    return text, html_block


def _time_rows(conference: Conference, lang: str) -> list[Row]:
    t = TEXTS[lang]
    rows: list[Row] = [
        (t["when"], format_time(conference.starts_at, lang, conference.time_zone), None)
    ]
    if conference.duration_minutes and conference.duration_minutes > 0:
        rows.append((t["duration"], format_duration(conference.duration_minutes), None))
    return rows


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
    recipients: Collection[str] | None = None,
    include_organizer: bool = True,
    update: bool = False,
) -> list[OutboxItem]:
    """One e-mail for each invitee with an e-mail address, and one for the organiser.

    ``recipients``: the participant ids to mail (None: every invitee), e.g. only those
    added after the conference was created; ids without an e-mail address are skipped.
    ``update``: the time or title changed (the caller has raised ``ics_sequence``).
    """
    title = conference.title
    uid_domain = _uid_domain(base_url)
    # The calendar entry lists everyone invited, even when only some are mailed now.
    attendees = _invitees(conference)
    wanted = None if recipients is None else set(recipients)
    ics_by_language: dict[str, str] = {}

    def invitee_ics(lang: str) -> str:
        if lang not in ics_by_language:
            ics_by_language[lang] = _ics(
                conference, attendees=attendees, uid_domain=uid_domain, method="REQUEST",
                status="CONFIRMED", now=now,
                description=_description(lang, pin, join_url, numbers), join_url=join_url,
            )
        return ics_by_language[lang]

    items: list[OutboxItem] = []
    for p in attendees:
        if wanted is not None and p.id not in wanted:
            continue
        lang = recipient_language(p.language, conference.language)
        t = TEXTS[lang]
        intro = [
            t["hello"].format(name=p.name), "",
            t["invited"].format(organizer=conference.organizer.name, title=title),
        ]
        if update:
            intro += ["", t["updated"]]
        rows = [*_time_rows(conference, lang), (t["pin"], pin, None),
                (t["browser"], join_url, join_url)]
        phone_text, phone_html = _phone_parts(lang, numbers, pin)
        items.append(OutboxItem(
            conference_id=conference.id, kind="invitation", recipient=p.email or "",
            recipient_name=p.name,
            subject=t["subject_update" if update else "subject"].format(title=title),
            body_text=_text_body(intro, rows, phone_text, t["footer"]),
            body_html=_html_page(lang, title, intro, rows, phone_html),
            ics=invitee_ics(lang), participant_id=p.id,
        ))

    org = conference.organizer
    if include_organizer and org.email:
        lang = language_of(conference.language)
        t = TEXTS[lang]
        intro = [f"{t['hello'].format(name=org.name)} {t['created'].format(title=title)}"]
        if update:
            intro += ["", t["updated"]]
        rows = [
            *_time_rows(conference, lang), (t["pin"], pin, None),
            (t["moderator_pin"], moderator_pin, None),
            (t["browser"], join_url, join_url),
            (t["organizer_page"], organizer_url, organizer_url),
        ]
        phone_text, phone_html = _phone_parts(lang, numbers, pin)
        subject = t["subject_update_organizer" if update else "subject_organizer"]
        items.append(OutboxItem(
            conference_id=conference.id, kind="invitation-organizer", recipient=org.email,
            recipient_name=org.name, subject=subject.format(title=title),
            body_text=_text_body(intro, rows, phone_text, t["footer"]),
            body_html=_html_page(lang, title, intro, rows, phone_html),
            # PUBLISH: the organiser's calendar gets the entry without being asked to
            # answer an invitation to their own conference.
            ics=_ics(
                conference, attendees=attendees, uid_domain=uid_domain, method="PUBLISH",
                status="CONFIRMED", now=now,
                description=_description(lang, pin, join_url, numbers), join_url=join_url,
            ),
        ))
    return items


def build_cancellations(
    conference: Conference,
    *,
    numbers: Sequence[AccessNumber] = (),
    base_url: str,
    now: datetime,
) -> list[OutboxItem]:
    """A cancellation ("Cancelled: …") to every invitee with e-mail and to the organiser.

    The .ics is a ``METHOD:CANCEL`` for the same UID with the conference's (already
    raised) ``ics_sequence``. ``numbers`` is accepted for symmetry with
    ``build_invitations``; a cancellation carries no dial-in details.
    """
    title = conference.title
    attendees = _invitees(conference)
    ics = _ics(
        conference, attendees=attendees, uid_domain=_uid_domain(base_url), method="CANCEL",
        status="CANCELLED", now=now,
    )
    items: list[OutboxItem] = []
    for p in attendees:
        lang = recipient_language(p.language, conference.language)
        t = TEXTS[lang]
        intro = [
            t["hello"].format(name=p.name), "",
            t["cancelled"].format(organizer=conference.organizer.name, title=title),
        ]
        rows = _time_rows(conference, lang)
        items.append(OutboxItem(
            conference_id=conference.id, kind="cancellation", recipient=p.email or "",
            recipient_name=p.name, subject=t["subject_cancel"].format(title=title),
            body_text=_text_body(intro, rows, [], t["footer"]),
            body_html=_html_page(lang, title, intro, rows),
            ics=ics, participant_id=p.id,
        ))
    org = conference.organizer
    if org.email:
        lang = language_of(conference.language)
        t = TEXTS[lang]
        intro = [f"{t['hello'].format(name=org.name)} "
                 f"{t['cancelled_organizer'].format(title=title)}"]
        rows = _time_rows(conference, lang)
        items.append(OutboxItem(
            conference_id=conference.id, kind="cancellation-organizer", recipient=org.email,
            recipient_name=org.name, subject=t["subject_cancel"].format(title=title),
            body_text=_text_body(intro, rows, [], t["footer"]),
            body_html=_html_page(lang, title, intro, rows),
            ics=ics,
        ))
    return items


def build_organizer_link(
    conference: Conference, *, organizer_url: str, now: datetime
) -> OutboxItem:
    """The organiser's secret page link again, e.g. after "I lost my link".

    Raises ValueError when the organiser has no e-mail address.
    """
    org = conference.organizer
    if not org.email:
        raise ValueError("the organiser has no e-mail address")
    lang = language_of(conference.language)
    t = TEXTS[lang]
    title = conference.title
    intro = [
        f"{t['hello'].format(name=org.name)} {t['link_intro'].format(title=title)}", "",
        t["link_ignore"],
    ]
    rows: list[Row] = [
        *_time_rows(conference, lang),
        (t["organizer_page"], organizer_url, organizer_url),
        # When it was asked for, so that an unexpected one can be recognised.
        (t["requested"], format_time(now, lang, conference.time_zone), None),
    ]
    return OutboxItem(
        conference_id=conference.id, kind="organizer-link", recipient=org.email,
        recipient_name=org.name, subject=t["subject_link"].format(title=title),
        body_text=_text_body(intro, rows, [], t["footer"]),
        body_html=_html_page(lang, title, intro, rows),
    )
