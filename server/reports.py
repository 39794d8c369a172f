"""After the conference: its charges are frozen and the organiser's report is mailed, once.

When a conference has ended and everyone has left, the bill is computed from the roster
with the tariffs of that moment and stored (``charges``; later tariff changes never
rewrite it), and the report goes into the outbox under the key ``report:<id>``, which the
store accepts once only. Both steps are idempotent, and the conference is marked
reported last: a process that dies anywhere in between does the rest on its next start
(``catch_up``), and the report is still sent exactly once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from . import conference as d
from .addons import addons_used
from .billing import Bill, ChargeError, Leg, Tariffs, bill_conference, total_for
from .notify.outbox import Outbox
from .notify.report_mail import build_report_mail
from .store import ChargeRecord, RosterEvent, Store
from .views import report_view

logger = logging.getLogger(__name__)


def legs_of(conference: d.Conference, roster: list[RosterEvent]) -> list[Leg]:
    """Every stretch someone was in, from the roster's joins and leaves."""
    legs: list[Leg] = []
    open_joins: dict[str, RosterEvent] = {}
    for event in roster:
        if event.kind == "join":
            open_joins[event.participant_id] = event
        elif event.kind == "leave" and event.participant_id in open_joins:
            join = open_joins.pop(event.participant_id)
            p = conference.participants.get(event.participant_id)
            if p is None or join.mode is None:
                continue
            legs.append(Leg(
                participant_id=p.id, name=p.name, kind=join.mode,  # type: ignore[arg-type]
                access_mode=p.access_mode if join.mode == "dial-in" else None,
                phone=p.phone if join.mode == "dial-out" else None,
                seconds=max(0, round((event.at - join.at).total_seconds())),
            ))
    return legs


def costs_view(charges: list[ChargeRecord]) -> dict[str, Any] | None:
    if not charges:
        return None

    return {
        "currency": charges[0].currency,
        "lines": [
            {
                "participant_id": c.participant_id, "payer": c.payer, "item": c.item,
                "quantity": c.quantity, "unit": c.unit, "unit_price": str(c.unit_price),
                "amount": str(c.amount), "detail": c.detail,
            }
            for c in charges
        ],
        "total_organizer": str(total_for(charges, "organizer")),
        "total_caller": str(total_for(charges, "caller")),
    }


class Reporter:
    def __init__(
        self,
        store: Store,
        outbox: Outbox | None,
        tariffs: Tariffs,
        *,
        now: Callable[[], datetime],
        load: Callable[[str], Any],
        page_url: Callable[[str], str],
        account_of: Callable[[d.Conference], Any],
    ) -> None:
        self.store = store
        self.outbox = outbox
        self.tariffs = tariffs
        self.now = now
        self._load = load
        self._page_url = page_url
        self._account_of = account_of

    async def report(
        self, conference: d.Conference, roster: list[RosterEvent] | None = None
    ) -> dict[str, Any]:
        """The report as the API shows it: roster, sessions and (once frozen) the costs."""
        if roster is None:
            roster = await self.store.roster(conference.id)
        view = report_view(conference, roster)
        for participant in view["participants"]:
            p = conference.participants.get(participant["id"])
            for session in participant["sessions"]:
                dial_in = p is not None and session["mode"] == "dial-in"
                session["access_number"] = p.access_number if dial_in and p else None
                session["access_mode"] = p.access_mode if dial_in and p else None
        view["costs"] = costs_view(await self.store.charges_of_conference(conference.id))
        return view

    def bill(self, conference: d.Conference, roster: list[RosterEvent]) -> Bill:
        return bill_conference(
            legs_of(conference, roster), addons_used(conference), self.tariffs,
            registered=conference.owner_user_id is not None,
        )

    async def conference_finished(self, conference_id: str) -> None:
        """The finished hook: freeze the charges, mail the report, mark it done."""
        try:
            live = await self._load(conference_id)
            conf: d.Conference = live.conference
            roster = await self.store.roster(conf.id)
            await self._freeze_charges(conf, roster)
            report = await self.report(conf, roster)
            if self.outbox is not None and conf.organizer.email:
                await self.outbox.enqueue([build_report_mail(
                    report, language=conf.language, time_zone=conf.time_zone,
                    organizer_email=conf.organizer.email, organizer_name=conf.organizer.name,
                    page_url=self._page_url(conf.id),
                )])
            await self.store.mark_reported(conf.id, self.now())
        except Exception:
            # Left unmarked: the next start tries again (catch_up).
            logger.exception("the report of conference %s failed", conference_id)

    async def _freeze_charges(self, conf: d.Conference, roster: list[RosterEvent]) -> None:
        try:
            bill = self.bill(conf, roster)
        except ChargeError:
            logger.exception("conference %s cannot be priced; no charges stored", conf.id)
            return
        at = conf.ended_at or self.now()
        account = await self._account_of(conf)
        await self.store.add_charges(conf.id, [
            ChargeRecord(
                conference_id=conf.id, account_id=account, participant_id=line.participant_id,
                payer=line.payer, item=line.item, quantity=line.quantity, unit=line.unit,
                unit_price=line.unit_price, amount=line.amount, currency=bill.currency,
                detail=line.detail, at=at,
            )
            for line in bill.lines
        ])

    async def catch_up(self) -> None:
        """At start-up: conferences that ended but whose report was never made."""
        for conference_id in await self.store.unreported_conferences():
            live = await self._load(conference_id)
            if not live.conference.present:
                await self.conference_finished(conference_id)
