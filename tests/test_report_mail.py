"""The after-conference report to the organiser: texts in three languages, HTML, the CSV."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from server.notify.outbox import one_line
from server.notify.report_mail import (
    CSV_HEADER,
    build_report_mail,
    csv_cell,
    hms,
    human_phone,
    report_csv,
)
from server.store import OutboxItem

EVIL = "<script>alert(1)</script>"
FORMULA = '=HYPERLINK("http://x")'
PAGE = "https://telekonf.example/o/abc?x=1&y=2"
# The typography of the mail, spelled out (ruff rightly flags look-alike characters).
D = "\N{EN DASH}"
X = "\N{MULTIPLICATION SIGN}"


def leg(mode: str, joined: str, left: str | None, seconds: float | None, *,
        reason: str | None = "left", number: str | None = None,
        access: str | None = None) -> dict[str, Any]:
    return {"mode": mode, "joined_at": joined, "left_at": left, "left_reason": reason,
            "seconds": seconds, "access_number": number, "access_mode": access}


def person(pid: str, name: str, phone: str | None, sessions: list[dict[str, Any]],
           role: str = "participant") -> dict[str, Any]:
    return {"id": pid, "name": name, "role": role, "phone": phone, "email": None,
            "state": "left" if sessions else "invited", "sessions": sessions,
            "seconds": sum(s["seconds"] or 0 for s in sessions)}


def line(pid: str | None, payer: str, item: str, quantity: int, unit: str, price: str,
         amount: str, detail: str = "") -> dict[str, Any]:
    return {"participant_id": pid, "payer": payer, "item": item, "quantity": quantity,
            "unit": unit, "unit_price": price, "amount": amount, "detail": detail}


COSTS: dict[str, Any] = {
    "currency": "EUR",
    "lines": [
        line("p1", "organizer", "fee", 3723, "second", "0.05", "3.10"),
        line("p2", "organizer", "fee", 1830, "second", "0.05", "1.53"),
        line("p3", "organizer", "fee", 600, "second", "0.05", "0.50"),
        line("p3", "organizer", "call", 600, "second", "0.10", "1.00", "DE fixed"),
        line("p3", "organizer", "fee", 1923, "second", "0.05", "1.60"),
        line("p3", "organizer", "call", 1923, "second", "0.10", "3.21", "DE fixed"),
        line("p4", "caller", "premium", 600, "second", "1.00", "10.00"),
        line("p5", "organizer", "fee", 1200, "second", "0.05", "1.00"),
        line("p5", "organizer", "call", 1200, "second", "0.03", "0.60"),
        line(None, "organizer", "addon:custom_welcome", 1, "each", "20.00", "20.00"),
    ],
    "total_organizer": "32.54",
    "total_caller": "10.00",
}


def report(*, costs: bool = True) -> dict[str, Any]:
    """Every way of joining; 14:00-15:02 in Ljubljana (UTC+1 in December)."""
    value: dict[str, Any] = {
        "conference": {
            "id": "c0ffee00c0ffee00", "title": "Jour fixe <Q4> & more", "state": "ended",
            "organizer": {"name": "Olga", "email": "olga@example.org", "phone": "+38612345678"},
            "created_at": "2026-12-01T09:00:00Z", "started_at": "2026-12-07T13:00:00Z",
            "ended_at": "2026-12-07T14:02:03Z",
        },
        "participants": [
            person("p1", "Olga", "+38612345678", [
                leg("web", "2026-12-07T13:00:00Z", "2026-12-07T14:02:03Z", 3723.0),
            ], role="organizer"),
            person("p2", EVIL, "+38640123456", [
                leg("dial-in", "2026-12-07T13:05:00Z", "2026-12-07T13:35:30.500000Z", 1830.5,
                    reason="server-died", number="+442079460001", access="geographic"),
            ]),
            person("p3", FORMULA, "+4930123456", [
                leg("dial-out", "2026-12-07T13:10:00Z", "2026-12-07T13:20:00Z", 600.0,
                    reason="hangup"),
                leg("dial-out", "2026-12-07T13:30:00Z", "2026-12-07T14:02:03Z", 1923.0,
                    reason="closed"),
            ]),
            # The caller ID was hidden.
            person("p4", "Pavel", None, [
                leg("dial-in", "2026-12-07T13:15:00Z", "2026-12-07T13:25:00Z", 600.0,
                    reason="hangup", number="+449098790001", access="premium"),
            ]),
            person("p5", "Tina", "+38641234567", [
                leg("dial-in", "2026-12-07T13:40:00Z", "2026-12-07T14:00:00Z", 1200.0,
                    reason="hangup", number="+448081570001", access="tollfree"),
            ]),
            person("p6", "Nina", None, []),
        ],
        "totals": {"participants": 5, "sessions": 6, "seconds": 9876.5},
    }
    if costs:
        value["costs"] = COSTS
    return value


def mail(language: str = "en", *, costs: bool = True, time_zone: str | None = "Europe/Ljubljana",
         page_url: str | None = PAGE, data: dict[str, Any] | None = None) -> OutboxItem:
    return build_report_mail(
        data if data is not None else report(costs=costs), language=language,
        time_zone=time_zone, organizer_email="olga@example.org", organizer_name="Olga",
        page_url=page_url,
    )


def rows_of(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def test_envelope() -> None:
    item = mail()
    assert (item.kind, item.channel, item.conference_id, item.participant_id) == (
        "report", "email", "c0ffee00c0ffee00", None,
    )
    assert (item.recipient, item.recipient_name) == ("olga@example.org", "Olga")
    assert item.dedup_key == "report:c0ffee00c0ffee00"
    assert item.ics is None
    assert item.attachment is not None
    name, mime, text = item.attachment
    assert (name, mime) == ("report-c0ffee00c0ffee00.csv", "text/csv")
    assert text == report_csv(report())


@pytest.mark.parametrize(("language", "subject"), [
    ("en", "Report: Jour fixe <Q4> & more"),
    ("de", "Bericht: Jour fixe <Q4> & more"),
    ("sl", "Poročilo: Jour fixe <Q4> & more"),
    ("fr", "Report: Jour fixe <Q4> & more"),  # no French texts: English
])
def test_subject(language: str, subject: str) -> None:
    assert mail(language).subject == subject


GOLDEN = {
    "en": [
        "Hello Olga, here is the report of your audio conference “Jour fixe <Q4> & more”.",
        "Started: Monday, 7 December 2026, 14:00 (Europe/Ljubljana)",
        "Ended: Monday, 7 December 2026, 15:02 (Europe/Ljubljana)",
        "Duration: 1:02:03",
        f"Report online: {PAGE}",
        "Olga (organiser), +386 1 234 56 78",
        f"  14:00:00 {D} 15:02:03 (1:02:03): browser",
        f"{EVIL}, +386 40 123 456",
        f"  14:05:00 {D} 14:35:30 (0:30:31): dial-in on +44 20 7946 0001 (geographic); "
        "connection lost when the server stopped",
        f"{FORMULA}, +49 30 123456",
        f"  14:10:00 {D} 14:20:00 (0:10:00): called by the system",
        f"  14:30:00 {D} 15:02:03 (0:32:03): called by the system",
        "Pavel",
        f"  14:15:00 {D} 14:25:00 (0:10:00): dial-in on +44 909 879 0001 (premium rate)",
        f"  14:40:00 {D} 15:00:00 (0:20:00): dial-in on +44 808 157 0001 (toll-free)",
        "Nina",
        "  did not join",
        "Participants: 5",
        "Sessions: 6",
        "Participant-minutes: 165 (2:44:37)",
        "Costs",
        f"Olga: conference fee, 62:03 min {X} 0.05 EUR/min = 3.10 EUR; Paid by: organiser",
        f"{FORMULA}: call (DE fixed), 32:03 min {X} 0.10 EUR/min = 3.21 EUR; Paid by: organiser",
        f"Pavel: premium-rate call (call and conference fee), 10:00 min {X} 1.00 EUR/min = "
        "10.00 EUR; Paid by: the caller, via their phone bill",
        f"conference: add-on: custom welcome message, 1 {X} 20.00 EUR = 20.00 EUR; "
        "Paid by: organiser",
        "Total for the organiser: 32.54 EUR",
        "Total for callers, via their phone bills: 10.00 EUR",
        "The attached file report-c0ffee00c0ffee00.csv lists every session; each "
        "participant's costs are on their first row.",
        "Sent by Telekonf.",
    ],
    "de": [
        "Hallo Olga, hier ist der Bericht zu Ihrer Telefonkonferenz „Jour fixe <Q4> & more“.",
        "Beginn: Montag, 7. Dezember 2026, 14:00 Uhr (Europe/Ljubljana)",
        "Ende: Montag, 7. Dezember 2026, 15:02 Uhr (Europe/Ljubljana)",
        "Dauer: 1:02:03",
        "Olga (Organisator), +386 1 234 56 78",
        f"  14:00:00 {D} 15:02:03 (1:02:03): Browser",
        f"  14:05:00 {D} 14:35:30 (0:30:31): Einwahl über +44 20 7946 0001 (Ortsnetz); "
        "Verbindung verloren, als der Server anhielt",
        f"  14:10:00 {D} 14:20:00 (0:10:00): vom System angerufen",
        f"  14:15:00 {D} 14:25:00 (0:10:00): Einwahl über +44 909 879 0001 (Sondertarif)",
        f"  14:40:00 {D} 15:00:00 (0:20:00): Einwahl über +44 808 157 0001 (gebührenfrei)",
        "  nicht teilgenommen",
        "Teilnehmende: 5",
        "Verbindungen: 6",
        "Teilnehmerminuten: 165 (2:44:37)",
        "Kosten",
        f"Pavel: Anruf zum Sondertarif (Anruf und Konferenzgebühr), 10:00 min {X} 1,00 EUR/min = "
        "10,00 EUR; Bezahlt von: der Anrufer, über seine Telefonrechnung",
        "Summe für den Organisator: 32,54 EUR",
        "Summe der Anrufer, über ihre Telefonrechnungen: 10,00 EUR",
        "Gesendet von Telekonf.",
    ],
    "sl": [
        "Pozdravljeni, Olga, tukaj je poročilo o vaši avdio konferenci »Jour fixe <Q4> & more«.",
        "Začetek: ponedeljek, 7. december 2026, 14.00 (Europe/Ljubljana)",
        "Konec: ponedeljek, 7. december 2026, 15.02 (Europe/Ljubljana)",
        "Trajanje: 1:02:03",
        "Olga (organizator), +386 1 234 56 78",
        f"  14.00.00 {D} 15.02.03 (1:02:03): brskalnik",
        f"  14.05.00 {D} 14.35.30 (0:30:31): klic na +44 20 7946 0001 (geografska številka); "
        "povezava prekinjena ob zaustavitvi strežnika",
        f"  14.10.00 {D} 14.20.00 (0:10:00): klical je sistem",
        f"  14.15.00 {D} 14.25.00 (0:10:00): klic na +44 909 879 0001 (posebna tarifa)",
        f"  14.40.00 {D} 15.00.00 (0:20:00): klic na +44 808 157 0001 (brezplačna številka)",
        "  brez udeležbe",
        "Udeleženci: 5",
        "Povezave: 6",
        "Minute udeležencev: 165 (2:44:37)",
        "Stroški",
        f"Pavel: klic po posebni tarifi (klic in pristojbina), 10:00 min {X} 1,00 EUR/min = "
        "10,00 EUR; Plača: klicatelj, prek svojega telefonskega računa",
        "Skupaj za organizatorja: 32,54 EUR",
        "Skupaj klicatelji, prek svojih telefonskih računov: 10,00 EUR",
        "Poslano iz sistema Telekonf.",
    ],
}


@pytest.mark.parametrize("language", sorted(GOLDEN))
def test_golden_lines(language: str) -> None:
    lines = mail(language).body_text.splitlines()
    for expected in GOLDEN[language]:
        assert expected in lines


def test_html_escapes_every_user_string() -> None:
    page = mail().body_html
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<title>Jour fixe &lt;Q4&gt; &amp; more</title>" in page
    assert "<h2>Jour fixe &lt;Q4&gt; &amp; more</h2>" in page
    assert "=HYPERLINK(&quot;http://x&quot;)" in page
    assert f'<a href="{PAGE.replace("&", "&amp;")}">' in page
    assert '<html lang="en">' in page
    # The same content as the text: sessions, totals, costs.
    assert f"<li>14:05:00 {D} 14:35:30 (0:30:31): dial-in on +44 20 7946 0001 (geographic); " \
           "connection lost when the server stopped</li>" in page
    assert "<td>165 (2:44:37)</td>" in page
    assert ("<tr><td>Pavel</td><td>premium-rate call (call and conference fee)</td>"
            f"<td>10:00 min {X} 1.00 EUR/min</td><td>10.00 EUR</td>"
            "<td>the caller, via their phone bill</td></tr>") in page
    assert "<strong>32.54 EUR</strong>" in page


def test_html_escapes_the_organizer_name() -> None:
    item = build_report_mail(
        report(), language="en", time_zone=None, organizer_email="x@example.org",
        organizer_name=EVIL, page_url=None,
    )
    assert EVIL not in item.body_html
    assert f"Hello {EVIL}, here is" in item.body_text


def test_without_costs_there_is_no_cost_section() -> None:
    for language, heading in (("en", "Costs"), ("de", "Kosten"), ("sl", "Stroški")):
        item = mail(language, costs=False)
        assert heading not in item.body_text.splitlines()
        assert f"<h3>{heading}</h3>" not in item.body_html
        assert "EUR" not in item.body_text
    assert mail("en").body_html.count("<h3>Costs</h3>") == 1
    # The integration hands over costs None when nothing was billed: the same as absent.
    data = report(costs=False)
    data["costs"] = None
    assert mail(data=data).body_text == mail(costs=False).body_text
    assert report_csv(data) == report_csv(report(costs=False))


def test_without_page_url_there_is_no_link() -> None:
    item = mail(page_url=None)
    assert "Report online" not in item.body_text
    assert "<a " not in item.body_html


CSV_ROWS = [
    list(CSV_HEADER),
    ["p1", "Olga", "organizer", "+38612345678", "web", "", "", "2026-12-07T13:00:00Z",
     "2026-12-07T14:02:03Z", "3723", "3.10", "0.00", "EUR"],
    ["p2", EVIL, "participant", "+38640123456", "dial-in", "+442079460001", "geographic",
     "2026-12-07T13:05:00Z", "2026-12-07T13:35:30.500000Z", "1830.5", "1.53", "0.00", "EUR"],
    # Costs per participant, on the first of their rows.
    ["p3", "'" + FORMULA, "participant", "+4930123456", "dial-out", "", "",
     "2026-12-07T13:10:00Z", "2026-12-07T13:20:00Z", "600", "6.31", "0.00", "EUR"],
    ["p3", "'" + FORMULA, "participant", "+4930123456", "dial-out", "", "",
     "2026-12-07T13:30:00Z", "2026-12-07T14:02:03Z", "1923", "", "", ""],
    ["p4", "Pavel", "participant", "", "dial-in", "+449098790001", "premium",
     "2026-12-07T13:15:00Z", "2026-12-07T13:25:00Z", "600", "0.00", "10.00", "EUR"],
    ["p5", "Tina", "participant", "+38641234567", "dial-in", "+448081570001", "tollfree",
     "2026-12-07T13:40:00Z", "2026-12-07T14:00:00Z", "1200", "1.60", "0.00", "EUR"],
    # Nina never joined: no session, no costs, no row. The add-on is the conference's.
    ["", "(conference)", "", "", "", "", "", "", "", "", "20.00", "0.00", "EUR"],
]


def test_csv_rows_and_values() -> None:
    text = report_csv(report())
    assert text.startswith(",".join(CSV_HEADER) + "\r\n")
    assert rows_of(text) == CSV_ROWS
    # The columns add up to the bill.
    rows = rows_of(text)[1:]
    assert sum(float(r[10] or 0) for r in rows) == pytest.approx(32.54)
    assert sum(float(r[11] or 0) for r in rows) == pytest.approx(10.00)


def test_csv_without_costs() -> None:
    rows = rows_of(report_csv(report(costs=False)))
    assert len(rows) == 1 + 6
    assert all(row[10:] == ["", "", ""] for row in rows[1:])
    assert [row[:10] for row in rows] == [row[:10] for row in CSV_ROWS[:-1]]


def test_csv_costs_of_someone_without_a_session() -> None:
    data = report(costs=False)
    data["costs"] = {
        "currency": "EUR", "total_organizer": "1.25", "total_caller": "0.00",
        "lines": [
            line("p6", "organizer", "addon:recording", 5, "each", "0.10", "0.50"),
            line("gone", "organizer", "fee", 60, "second", "0.75", "0.75"),
        ],
    }
    rows = rows_of(report_csv(data))
    assert rows[-2:] == [
        ["p6", "Nina", "participant", "", "", "", "", "", "", "", "0.50", "0.00", "EUR"],
        ["", "(conference)", "", "", "", "", "", "", "", "", "0.75", "0.00", "EUR"],
    ]
    text = mail(data=data).body_text
    assert f"Nina: add-on: recording, 5 {X} 0.10 EUR = 0.50 EUR; Paid by: organiser" in text
    assert f"gone: conference fee, 1:00 min {X} 0.75 EUR/min = 0.75 EUR; Paid by: organiser" in text


@pytest.mark.parametrize(("cell", "safe"), [
    ("=1+2", "'=1+2"),
    ("+1+2", "'+1+2"),
    ("-1+2", "'-1+2"),
    ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "'\tx"),
    ("\rx", "'\rx"),
    ("+38640123456", "+38640123456"),  # E.164: safe as it is
    ("+386 40 123 456", "'+386 40 123 456"),  # not E.164
    ("-1.50", "-1.50"),  # a plain number
    ("Olga", "Olga"),
    ("", ""),
])
def test_csv_cell_neutralises_formulas(cell: str, safe: str) -> None:
    assert csv_cell(cell) == safe


def test_csv_neutralises_every_user_column() -> None:
    data = report(costs=False)
    data["participants"] = [
        person("p1", "@cmd", "=1", [
            leg("=mode", "2026-12-07T13:00:00Z", "2026-12-07T13:01:00Z", 60.0,
                number="-2", access="+x"),
        ], role="+role"),
    ]
    assert rows_of(report_csv(data))[1] == [
        "p1", "'@cmd", "'+role", "'=1", "'=mode", "-2", "'+x", "2026-12-07T13:00:00Z",
        "2026-12-07T13:01:00Z", "60", "", "", "",
    ]


def test_unknown_language_and_time_zone() -> None:
    item = mail("fr", time_zone="Mars/Olympus_Mons")
    lines = item.body_text.splitlines()
    assert "Started: Monday, 7 December 2026, 13:00 (UTC)" in lines
    assert f"  13:00:00 {D} 14:02:03 (1:02:03): browser" in lines
    assert '<html lang="en">' in item.body_html


def test_sessions_on_another_day_and_still_open() -> None:
    data = report(costs=False)
    data["conference"]["ended_at"] = None
    data["participants"] = [
        person("p1", "Olga", None, [
            leg("web", "2026-12-07T22:30:00Z", "2026-12-07T23:10:00Z", 2400.0),
            leg("web", "2026-12-07T23:20:00Z", None, None, reason=None),
        ], role="organizer"),
        person("p2", "Ivo", None, [leg("dial-in", "2026-12-07T13:10:00Z", None, None)]),
    ]
    lines = mail("de", data=data).body_text.splitlines()
    assert "Ende: nicht beendet" in lines
    assert not any(line.startswith("Dauer:") for line in lines)
    # 23:30 in Ljubljana is still the first day; 00:10 is the next.
    assert f"  23:30:00 {D} 8. Dezember 00:10:00 (0:40:00): Browser" in lines
    assert f"  8. Dezember 00:20:00 {D} noch verbunden: Browser" in lines
    # A dial-in without a recorded access number.
    assert f"  14:10:00 {D} noch verbunden: Einwahl" in lines


def test_conference_that_never_started() -> None:
    data = report(costs=False)
    data["conference"].update(started_at=None, ended_at=None)
    data["participants"] = [person("p1", "Olga", None, [], role="organizer")]
    data["totals"] = {"participants": 0, "sessions": 0, "seconds": 0}
    lines = mail("sl", data=data).body_text.splitlines()
    assert "Začetek: se ni začela" in lines
    assert "Minute udeležencev: 0 (0:00:00)" in lines
    assert rows_of(report_csv(data)) == [list(CSV_HEADER)]


def test_subject_stays_a_plain_string() -> None:
    data = report(costs=False)
    data["conference"]["title"] = "Sync\r\nBcc: everyone@example.org"
    item = mail(data=data)
    assert item.subject == "Report: Sync\r\nBcc: everyone@example.org"
    # The outbox makes it one line when it builds the message.
    assert one_line(item.subject) == "Report: Sync Bcc: everyone@example.org"


@pytest.mark.parametrize(("seconds", "text"), [
    (None, "0:00:00"), (0, "0:00:00"), (0.4, "0:00:00"), (0.5, "0:00:01"), (59.5, "0:01:00"),
    (3723, "1:02:03"), (36000, "10:00:00"),
])
def test_hms(seconds: float | None, text: str) -> None:
    assert hms(seconds) == text


def test_human_phone() -> None:
    assert human_phone("+442079460001") == "+44 20 7946 0001"
    assert human_phone(None) is None
    assert human_phone("anonymous") == "anonymous"
