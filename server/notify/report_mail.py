"""The after-conference report e-mail to the organiser, with the sessions as a CSV attachment.

A pure builder: it takes the dict of ``views.report_view`` (plus, when the integration adds
them, each session's ``access_number``/``access_mode`` and the report's ``costs``) and returns
one ``OutboxItem``; storing and sending are the outbox's business. The organiser sees
everything, phone numbers included (``hide_phone_numbers`` is for the other participants).

- Text + HTML in the organiser's language (en/de/sl, English otherwise); every user-supplied
  string is escaped in HTML. Times are shown in the organiser's time zone (UTC when unknown).
- ``dedup_key`` ``report:<conference id>``: the report of a conference is sent once, even when
  the end of a conference is processed twice (a retry, a restart).
- The CSV is for spreadsheets and scripts, so it is the same in every language: English
  header, UTC ISO 8601 times, decimal points. One row per session; costs are per participant
  (not per session, see ``report_csv``).
"""

from __future__ import annotations

import csv
import html
import io
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from typing import Any

import phonenumbers
from phonenumbers import PhoneNumberFormat

from ..store import OutboxItem
from .invitations import _MONTHS, _TIME_SEPARATORS, format_time, language_of, texts, zone

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "subject": "Report: {title}",
        "intro": "Hello {name}, here is the report of your audio conference “{title}”.",
        "started": "Started",
        "ended": "Ended",
        "duration": "Duration",
        "not_started": "did not start",
        "not_ended": "not ended",
        "page": "Report online",
        "participants": "Participants",
        "organizer": "organiser",
        "no_phone": "no phone number",
        "did_not_join": "did not join",
        "still_connected": "still connected",
        "web": "browser",
        "dial-in": "dial-in",
        "dial-in_on": "dial-in on {number}",
        "dial-out": "called by the system",
        "premium": "premium rate",
        "geographic": "geographic",
        "tollfree": "toll-free",
        "server_stopped": "connection lost when the server stopped",
        "totals": "Totals",
        "total_participants": "Participants",
        "total_sessions": "Sessions",
        "total_minutes": "Participant-minutes",
        "costs": "Costs",
        "conference": "conference",
        "fee": "conference fee",
        "call": "call",
        "premium_call": "premium-rate call (call and conference fee)",
        "addon": "add-on: {name}",
        "addon:custom_welcome": "custom welcome message",
        "addon:recording": "recording",
        "payer_organizer": "organiser",
        "payer_caller": "the caller, via their phone bill",
        "total_organizer": "Total for the organiser",
        "total_caller": "Total for callers, via their phone bills",
        "who": "Who",
        "item": "Item",
        "quantity": "Quantity",
        "amount": "Amount",
        "payer": "Paid by",
        "csv": "The attached file {file} lists every session; each participant's costs are "
               "on their first row.",
    },
    "de": {
        "subject": "Bericht: {title}",
        "intro": "Hallo {name}, hier ist der Bericht zu Ihrer Telefonkonferenz „{title}“.",
        "started": "Beginn",
        "ended": "Ende",
        "duration": "Dauer",
        "not_started": "nicht begonnen",
        "not_ended": "nicht beendet",
        "page": "Bericht online",
        "participants": "Teilnehmende",
        "organizer": "Organisator",
        "no_phone": "keine Telefonnummer",
        "did_not_join": "nicht teilgenommen",
        "still_connected": "noch verbunden",
        "web": "Browser",
        "dial-in": "Einwahl",
        "dial-in_on": "Einwahl über {number}",
        "dial-out": "vom System angerufen",
        "premium": "Sondertarif",
        "geographic": "Ortsnetz",
        "tollfree": "gebührenfrei",
        "server_stopped": "Verbindung verloren, als der Server anhielt",
        "totals": "Summen",
        "total_participants": "Teilnehmende",
        "total_sessions": "Verbindungen",
        "total_minutes": "Teilnehmerminuten",
        "costs": "Kosten",
        "conference": "Konferenz",
        "fee": "Konferenzgebühr",
        "call": "Anruf",
        "premium_call": "Anruf zum Sondertarif (Anruf und Konferenzgebühr)",
        "addon": "Zusatzleistung: {name}",
        "addon:custom_welcome": "eigene Begrüßungsansage",
        "addon:recording": "Aufzeichnung",
        "payer_organizer": "Organisator",
        "payer_caller": "der Anrufer, über seine Telefonrechnung",
        "total_organizer": "Summe für den Organisator",
        "total_caller": "Summe der Anrufer, über ihre Telefonrechnungen",
        "who": "Wer",
        "item": "Posten",
        "quantity": "Menge",
        "amount": "Betrag",
        "payer": "Bezahlt von",
        "csv": "Die angehängte Datei {file} listet jede Verbindung auf; die Kosten einer "
               "Person stehen in ihrer ersten Zeile.",
    },
    "sl": {
        "subject": "Poročilo: {title}",
        "intro": "Pozdravljeni, {name}, tukaj je poročilo o vaši avdio konferenci »{title}«.",
        "started": "Začetek",
        "ended": "Konec",
        "duration": "Trajanje",
        "not_started": "se ni začela",
        "not_ended": "ni končana",
        "page": "Poročilo na spletu",
        "participants": "Udeleženci",
        "organizer": "organizator",
        "no_phone": "brez telefonske številke",
        "did_not_join": "brez udeležbe",
        "still_connected": "še povezan",
        "web": "brskalnik",
        "dial-in": "klic po telefonu",
        "dial-in_on": "klic na {number}",
        "dial-out": "klical je sistem",
        "premium": "posebna tarifa",
        "geographic": "geografska številka",
        "tollfree": "brezplačna številka",
        "server_stopped": "povezava prekinjena ob zaustavitvi strežnika",
        "totals": "Skupaj",
        "total_participants": "Udeleženci",
        "total_sessions": "Povezave",
        "total_minutes": "Minute udeležencev",
        "costs": "Stroški",
        "conference": "konferenca",
        "fee": "pristojbina za konferenco",
        "call": "klic",
        "premium_call": "klic po posebni tarifi (klic in pristojbina)",
        "addon": "dodatek: {name}",
        "addon:custom_welcome": "lasten pozdrav",
        "addon:recording": "snemanje",
        "payer_organizer": "organizator",
        "payer_caller": "klicatelj, prek svojega telefonskega računa",
        "total_organizer": "Skupaj za organizatorja",
        "total_caller": "Skupaj klicatelji, prek svojih telefonskih računov",
        "who": "Kdo",
        "item": "Postavka",
        "quantity": "Količina",
        "amount": "Znesek",
        "payer": "Plača",
        "csv": "Priložena datoteka {file} navaja vse povezave; stroški udeleženca so v "
               "njegovi prvi vrstici.",
    },
}

# "server-died": what the integration records for a leg cut off by a crash; "server-restart":
# what ``Service.recover`` writes today for the same thing, found after the restart.
SERVER_STOPPED = frozenset({"server-died", "server-restart"})

# A date before the time when a session is not on the conference's (local) first day.
_SHORT_DATES = {"en": "{d} {m}", "de": "{d}. {m}", "sl": "{d}. {m}"}
# Decimal commas for people; the CSV keeps points for machines.
_DECIMAL_COMMA = {"de", "sl"}

CSV_HEADER = (
    "participant_id", "participant", "role", "phone", "mode", "access_number", "access_mode",
    "joined_at", "left_at", "seconds", "cost_organizer", "cost_caller", "currency",
)
#: the participant cell of the CSV row for costs of no participant (add-ons of the conference)
CSV_CONFERENCE = "(conference)"

_E164 = re.compile(r"\+[1-9][0-9]{1,14}")
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Typography for people (named, as ruff rightly flags look-alike characters in the source).
_DASH = "\N{EN DASH}"
_TIMES = "\N{MULTIPLICATION SIGN}"


# -- small formatting helpers ----------------------------------------------------------------


def _parse(value: str | None) -> datetime | None:
    """A report time (ISO 8601, "Z" or offset) as an aware UTC datetime; naive means UTC."""
    if not value:
        return None
    moment = datetime.fromisoformat(value)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _iso_utc(value: str | None) -> str:
    """Normalised for the CSV: UTC, ending in "Z" (sub-seconds kept when there are any)."""
    moment = _parse(value)
    return "" if moment is None else moment.isoformat().replace("+00:00", "Z")


def _whole_seconds(seconds: float | None) -> int:
    # Half up: 0.5 s is a second, not banker's-rounded away.
    return max(0, math.floor((seconds or 0) + 0.5))


def hms(seconds: float | None) -> str:
    """A duration as h:mm:ss, e.g. "1:02:03" (the same in every language)."""
    minutes, secs = divmod(_whole_seconds(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def human_phone(phone: str | None) -> str | None:
    """"+386 1 234 56 78"; a number phonenumbers cannot read is shown as it is."""
    if not phone:
        return None
    try:
        parsed = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return phone
    return phonenumbers.format_number(parsed, PhoneNumberFormat.INTERNATIONAL)


def _money(value: Decimal, lang: str) -> str:
    text = format(value, "f")
    return text.replace(".", ",") if lang in _DECIMAL_COMMA else text


def _decimal(value: Any) -> Decimal:
    # str() first: a float amount would otherwise bring its binary noise along.
    return Decimal(str(value))


class _Clock:
    """Times of day in the organiser's zone, with the date when it is not the first day."""

    def __init__(self, lang: str, tz: tzinfo, first_day: date | None) -> None:
        self.lang, self.tz, self.first_day = lang, tz, first_day

    def __call__(self, moment: datetime) -> str:
        local = moment.astimezone(self.tz)
        sep = _TIME_SEPARATORS[self.lang]
        text = f"{local.hour:02d}{sep}{local.minute:02d}{sep}{local.second:02d}"
        if self.first_day is not None and local.date() != self.first_day:
            day = _SHORT_DATES[self.lang].format(d=local.day, m=_MONTHS[self.lang][local.month - 1])
            text = f"{day} {text}"
        return text


# -- the pieces of the mail ------------------------------------------------------------------


def how_joined(session: Mapping[str, Any], lang: str) -> str:
    """E.g. "dial-in on +44 20 7946 0001 (geographic)", "browser", "called by the system"."""
    t = TEXTS[lang]
    mode = session.get("mode")
    if mode == "dial-in":
        number = human_phone(session.get("access_number"))
        text = t["dial-in_on"].format(number=number) if number else t["dial-in"]
        access_mode = session.get("access_mode")
        if access_mode in ("premium", "geographic", "tollfree"):
            text += f" ({t[access_mode]})"
        return text
    if mode in ("web", "dial-out"):
        return t[mode]
    return str(mode or "?")


def _session_line(session: Mapping[str, Any], lang: str, clock: _Clock) -> str:
    """"14:00:05 <en dash> 15:02:00 (1:01:55): browser", and why it ended when that matters."""
    t = TEXTS[lang]
    joined = _parse(session.get("joined_at"))
    left = _parse(session.get("left_at"))
    start = clock(joined) if joined else "?"
    if left is None:
        span = f"{start} {_DASH} {t['still_connected']}"
    else:
        span = f"{start} {_DASH} {clock(left)} ({hms(session.get('seconds'))})"
    text = f"{span}: {how_joined(session, lang)}"
    if session.get("left_reason") in SERVER_STOPPED:
        text += f"; {t['server_stopped']}"
    return text


def _person_heading(participant: Mapping[str, Any], lang: str) -> tuple[str, str | None]:
    """The name (with "organiser" for the organiser) and the phone number, if any."""
    t = TEXTS[lang]
    name = str(participant.get("name") or "")
    if participant.get("role") == "organizer":
        name += f" ({t['organizer']})"
    return name, human_phone(participant.get("phone"))


def _item_label(item: str, lang: str) -> str:
    t = TEXTS[lang]
    if item == "fee":
        return t["fee"]
    if item == "call":
        return t["call"]
    if item == "premium":
        return t["premium_call"]
    if item.startswith("addon:"):
        return t["addon"].format(name=t.get(item, item.removeprefix("addon:")))
    return item


def _quantity(line: Mapping[str, Any], currency: str, lang: str) -> str:
    """"2:05 min <times> 0.05 EUR/min" or "1 <times> 20.00 EUR"."""
    quantity = int(line.get("quantity") or 0)
    price = _money(_decimal(line.get("unit_price", "0")), lang)
    if line.get("unit") == "second":
        return f"{quantity // 60}:{quantity % 60:02d} min {_TIMES} {price} {currency}/min"
    return f"{quantity} {_TIMES} {price} {currency}"


def _cost_rows(report: Mapping[str, Any], lang: str) -> list[tuple[str, str, str, str, str]]:
    """(who, item, quantity, amount, payer) for each line, for people to read."""
    t = TEXTS[lang]
    costs = report["costs"]
    currency = str(costs.get("currency") or "")
    names = {p["id"]: str(p.get("name") or "") for p in report.get("participants", ())}
    rows = []
    for line in costs.get("lines", ()):
        pid = line.get("participant_id")
        who = t["conference"] if pid is None else names.get(pid, str(pid))
        item = _item_label(str(line.get("item") or ""), lang)
        if line.get("detail"):
            item += f" ({line['detail']})"
        amount = f"{_money(_decimal(line.get('amount', '0')), lang)} {currency}"
        payer = t["payer_caller"] if line.get("payer") == "caller" else t["payer_organizer"]
        rows.append((who, item, _quantity(line, currency, lang), amount, payer))
    return rows


def _cost_totals(costs: Mapping[str, Any], lang: str) -> list[tuple[str, str]]:
    t = TEXTS[lang]
    currency = str(costs.get("currency") or "")
    return [
        (t[key], f"{_money(_decimal(costs.get(key) or '0'), lang)} {currency}")
        for key in ("total_organizer", "total_caller")
    ]


# -- the CSV ---------------------------------------------------------------------------------


def csv_cell(value: str) -> str:
    """No formula injection: a cell a spreadsheet would evaluate gets a leading apostrophe.

    E.164 numbers ("+386…") and our own plain numbers ("-1.50") start with + or - but are
    not formulas, and an apostrophe would spoil them for scripts; they stay as they are.
    """
    if value.startswith(_FORMULA_STARTS) and not (
        _E164.fullmatch(value) or _NUMBER.fullmatch(value)
    ):
        return "'" + value
    return value


def _seconds_text(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return f"{seconds:.3f}".rstrip("0").rstrip(".")


def _sums(lines: Iterable[Mapping[str, Any]]) -> dict[str, Decimal]:
    # Decimal("0.00"): an empty sum still prints as "0.00", like the amounts.
    sums = {"organizer": Decimal("0.00"), "caller": Decimal("0.00")}
    for line in lines:
        payer = "caller" if line.get("payer") == "caller" else "organizer"
        sums[payer] += _decimal(line.get("amount", "0"))
    return sums


def report_csv(report: Mapping[str, Any]) -> str:
    """The sessions as CSV (RFC 4180, CRLF), one row per session after a header row.

    Cost lines belong to a participant, not to a session (a fee is billed per leg, but an
    add-on or a caller's premium line cannot be split meaningfully), so each participant's
    sums go on their *first* session row and the later rows leave the cost cells empty;
    summing the columns gives the totals. A participant with costs but no session gets a
    row of their own, and costs of no (known) participant, such as add-ons, one last row
    named ``(conference)``. Without ``costs`` the cost cells are all empty.
    """
    costs = report.get("costs")
    currency = str(costs.get("currency") or "") if costs else ""
    lines_of: dict[str | None, list[Mapping[str, Any]]] = {}
    if costs:
        known = {p["id"] for p in report.get("participants", ())}
        for line in costs.get("lines", ()):
            pid = line.get("participant_id")
            lines_of.setdefault(pid if pid in known else None, []).append(line)

    def cost_cells(key: str | None) -> list[str]:
        if not costs:
            return ["", "", ""]
        sums = _sums(lines_of.get(key, ()))
        return [format(sums["organizer"], "f"), format(sums["caller"], "f"), currency]

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)

    def row(cells: Sequence[str]) -> None:
        writer.writerow([csv_cell(cell) for cell in cells])

    for p in report.get("participants", ()):
        person = [str(p["id"]), str(p.get("name") or ""), str(p.get("role") or ""),
                  str(p.get("phone") or "")]
        sessions = p.get("sessions") or []
        if not sessions and p["id"] in lines_of:
            row([*person, "", "", "", "", "", "", *cost_cells(p["id"])])
        for index, s in enumerate(sessions):
            row([
                *person, str(s.get("mode") or ""), str(s.get("access_number") or ""),
                str(s.get("access_mode") or ""), _iso_utc(s.get("joined_at")),
                _iso_utc(s.get("left_at")), _seconds_text(s.get("seconds")),
                *(cost_cells(p["id"]) if index == 0 else ["", "", ""]),
            ])
    if None in lines_of:
        row(["", CSV_CONFERENCE, "", "", "", "", "", "", "", "", *cost_cells(None)])
    return out.getvalue()


# -- the mail --------------------------------------------------------------------------------


def build_report_mail(
    report: Mapping[str, Any],
    *,
    language: str,
    time_zone: str | None,
    organizer_email: str,
    organizer_name: str,
    page_url: str | None,
) -> OutboxItem:
    """The report of one conference to its organiser, once (``dedup_key``), CSV attached."""
    lang = language_of(language)
    t = TEXTS[lang]
    e = html.escape
    conf = report["conference"]
    conference_id = str(conf["id"])
    title = str(conf.get("title") or "")
    tz, _ = zone(time_zone)
    started, ended = _parse(conf.get("started_at")), _parse(conf.get("ended_at"))
    participants = list(report.get("participants", ()))
    first = started or min(
        (moment for p in participants for s in p.get("sessions") or ()
         if (moment := _parse(s.get("joined_at"))) is not None),
        default=None,
    )
    clock = _Clock(lang, tz, first.astimezone(tz).date() if first else None)
    file_name = f"report-{conference_id}.csv"

    # label, value, link
    rows: list[tuple[str, str, str | None]] = [
        (t["started"], format_time(started, lang, time_zone) if started else t["not_started"],
         None),
        (t["ended"], format_time(ended, lang, time_zone) if ended else t["not_ended"], None),
    ]
    if started and ended:
        rows.append((t["duration"], hms((ended - started).total_seconds()), None))
    if page_url:
        rows.append((t["page"], page_url, page_url))
    intro = t["intro"].format(name=organizer_name, title=title)

    text = [intro, ""]
    text += [f"{label}: {value}" for label, value, _ in rows]
    text += ["", t["participants"]]
    people_html = []
    for p in participants:
        name, phone = _person_heading(p, lang)
        sessions = [_session_line(s, lang, clock) for s in p.get("sessions") or ()]
        text.append(f"{name}, {phone}" if phone else name)
        text += [f"  {line}" for line in sessions] or [f"  {t['did_not_join']}"]
        heading = f"<strong>{e(name)}</strong>" + (f", {e(phone)}" if phone else "")
        items = "".join(f"<li>{e(line)}</li>" for line in sessions) or (
            f"<li><em>{e(t['did_not_join'])}</em></li>"
        )
        people_html.append(f"<li>{heading}<ul>{items}</ul></li>")

    totals = report.get("totals") or {}
    seconds = totals.get("seconds") or 0
    total_rows = [
        (t["total_participants"], str(totals.get("participants", 0))),
        (t["total_sessions"], str(totals.get("sessions", 0))),
        # Whole minutes, half up, then the exact time.
        (t["total_minutes"], f"{math.floor(seconds / 60 + 0.5)} ({hms(seconds)})"),
    ]
    text += ["", t["totals"], *(f"{label}: {value}" for label, value in total_rows)]

    cost_html = ""
    costs = report.get("costs")
    if costs:
        cost_rows = _cost_rows(report, lang)
        cost_totals = _cost_totals(costs, lang)
        text += ["", t["costs"]]
        text += [f"{who}: {item}, {qty} = {amount}; {t['payer']}: {payer}"
                 for who, item, qty, amount, payer in cost_rows]
        text += [f"{label}: {value}" for label, value in cost_totals]
        head = "".join(
            f'<th align="left">{e(t[key])}</th>'
            for key in ("who", "item", "quantity", "amount", "payer")
        )
        body = "".join(
            "<tr>" + "".join(f"<td>{e(cell)}</td>" for cell in cells) + "</tr>"
            for cells in cost_rows
        )
        sums = "".join(
            f'<tr><th align="left">{e(label)}</th><td><strong>{e(value)}</strong></td></tr>'
            for label, value in cost_totals
        )
        cost_html = (
            f"<h3>{e(t['costs'])}</h3><table><tr>{head}</tr>{body}</table><table>{sums}</table>"
        )

    footer = texts(lang)["footer"]
    csv_note = t["csv"].format(file=file_name)
    text += ["", csv_note, "", footer, ""]

    def table(cells: Iterable[tuple[str, str, str | None]]) -> str:
        out = []
        for label, value, href in cells:
            shown = f'<a href="{e(href)}">{e(value)}</a>' if href else e(value)
            out.append(f'<tr><th align="left">{e(label)}</th><td>{shown}</td></tr>')
        return f"<table>{''.join(out)}</table>"

    page = (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">'
        f"<title>{e(title)}</title></head><body><h2>{e(title)}</h2><p>{e(intro)}</p>"
        f"{table(rows)}<h3>{e(t['participants'])}</h3><ul>{''.join(people_html)}</ul>"
        f"<h3>{e(t['totals'])}</h3>{table((label, value, None) for label, value in total_rows)}"
        f"{cost_html}<p>{e(csv_note)}</p><p><small>{e(footer)}</small></p></body></html>"
    )
    return OutboxItem(
        conference_id=conference_id, kind="report", recipient=organizer_email,
        recipient_name=organizer_name, subject=t["subject"].format(title=title),
        body_text="\n".join(text), body_html=page,
        attachment=(file_name, "text/csv", report_csv(report)),
        dedup_key=f"report:{conference_id}",
    )
