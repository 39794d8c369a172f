"""Monthly statements of a company account: a line per conference and per leg charge.

Built from the charges frozen when each conference ended (``server/reports.py``), so a
statement never changes when tariffs do. Money stays Decimal; totals are sums of lines.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from .billing import total_for
from .store import ChargeRecord


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """``YYYY-MM`` → [first instant, first instant of the next month) in UTC."""
    try:
        start = datetime.strptime(month, "%Y-%m").replace(tzinfo=UTC)
    except ValueError:
        raise ValueError("month must be written YYYY-MM, e.g. 2026-11") from None
    end = start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(
        month=start.month + 1
    )
    return start, end


def statement(
    *,
    account: Mapping[str, str],
    month: str,
    charges: list[ChargeRecord],
    conferences: Mapping[str, Mapping[str, Any]],
) -> dict[str, Any]:
    """``conferences``: id → {"title", "ended_at", "participants": {id: name}}."""
    by_conference: dict[str, list[ChargeRecord]] = {}
    for charge in charges:
        by_conference.setdefault(charge.conference_id, []).append(charge)
    entries = []
    for conference_id, lines in by_conference.items():
        info = conferences.get(conference_id, {})
        names = info.get("participants", {})
        entries.append({
            "id": conference_id,
            "title": info.get("title", ""),
            "ended_at": info.get("ended_at"),
            "lines": [
                {
                    "participant_id": c.participant_id,
                    "participant": names.get(c.participant_id, "") if c.participant_id else "",
                    "payer": c.payer, "item": c.item, "quantity": c.quantity, "unit": c.unit,
                    "unit_price": str(c.unit_price), "amount": str(c.amount), "detail": c.detail,
                }
                for c in lines
            ],
            "total_organizer": str(total_for(lines, "organizer")),
            "total_caller": str(total_for(lines, "caller")),
        })
    return {
        "account": dict(account),
        "month": month,
        "currency": charges[0].currency if charges else None,
        "conferences": entries,
        "total_organizer": str(total_for(charges, "organizer")),
        "total_caller": str(total_for(charges, "caller")),
    }


def statement_csv(view: Mapping[str, Any]) -> str:
    """One row per charge line; the account pays the ``organizer`` rows."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([
        "conference_id", "conference", "ended_at", "participant", "payer", "item", "quantity",
        "unit", "unit_price", "amount", "currency", "detail",
    ])
    for conference in view["conferences"]:
        for line in conference["lines"]:
            writer.writerow([
                conference["id"], _cell(conference["title"]), conference["ended_at"] or "",
                _cell(line["participant"]), line["payer"], line["item"], line["quantity"],
                line["unit"], line["unit_price"], line["amount"], view["currency"] or "",
                _cell(line["detail"]),
            ])
    return out.getvalue()


def _cell(value: str) -> str:
    """No spreadsheet formula from a name or title (CSV injection)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
