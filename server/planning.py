"""Before and around a conference: the invitation list, invitations, notices, changes.

The organiser moves people (from the phonebook, or typed in) into the conference's
list, invites them by e-mail (also people added after creation), sends free-text
notices by e-mail and SMS, moves or re-titles the conference (an updated .ics with
the same UID and a higher SEQUENCE), or cancels it (METHOD:CANCEL). Every message goes
through the durable outbox; its delivery status is published live.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from . import conference as d
from .errors import ServiceError, too_many
from .notify.invitations import build_cancellations, build_invitations, build_organizer_link
from .notify.notices import build_notice
from .notify.outbox import Outbox
from .pins import new_id
from .service import ConferenceService, Principal
from .store import OutboxEntry, OutboxItem
from .throttle import PinThrottle
from .views import conference_notice, iso, notification_view, participant_view

logger = logging.getLogger(__name__)

CHANNELS = ("email", "sms")
MAX_LIST = 500
MAX_MESSAGE = 1000


@dataclass(frozen=True, slots=True)
class Invitee:
    name: str
    email: str | None
    phone: str | None
    language: str | None = None


class ConferencePlanner:
    def __init__(self, service: ConferenceService, outbox: Outbox | None) -> None:
        self.service = service
        self.outbox = outbox
        #: re-sent organiser links, per address and per client: no mail bombing
        self.link_throttle = PinThrottle(max_failures=3, window=3600.0, free_failures=3)
        if outbox is not None:
            outbox.subscribe(self._on_outbox_change)

    def _on_outbox_change(self, entry: OutboxEntry) -> None:
        if entry.conference_id is not None:
            self.service.publish("notification", entry.conference_id, notification_view(entry))

    async def _enqueue(self, items: list[OutboxItem]) -> list[dict[str, Any]]:
        """Store the messages; their notification views, as stored."""
        if self.outbox is None:
            raise ServiceError(503, "no_outbox", "messages cannot be sent by this server")
        return [notification_view(e) for e in await self.outbox.enqueue_entries(items)]

    # -- the list ----------------------------------------------------------------------

    async def add_invitees(
        self, principal: Principal, conference_id: str, people: Sequence[Invitee]
    ) -> list[dict[str, Any]]:
        """Into the conference's list (state invited); nobody is called or mailed yet."""
        self.service.require_organizer(principal, conference_id)
        live = await self.service.loaded(conference_id)
        async with live.lock:
            conf = live.conference
            if len(conf.participants) + len(people) > MAX_LIST:
                raise ServiceError(409, "too_many", f"at most {MAX_LIST} people in a conference")
            known = {(p.email or "").casefold() for p in conf.participants.values() if p.email}
            known |= {p.phone for p in conf.participants.values() if p.phone}
            added: list[d.Participant] = []
            events: list[d.Event] = []
            for person in people:
                # Moving the same contact in twice adds them once.
                if (person.email and person.email.casefold() in known) or (
                    person.phone and person.phone in known
                ):
                    continue
                participant = d.Participant(
                    new_id(), person.name, email=person.email, phone=person.phone,
                    language=person.language,
                )
                try:
                    events += conf.invite(participant)
                except d.ConferenceError as exc:
                    raise ServiceError(409, exc.code, exc.message) from None
                added.append(participant)
                known |= {x for x in ((person.email or "").casefold(), person.phone) if x}
            await self.service.persist(live, events)
            return [participant_view(p, conf) for p in added]

    # -- invitations ---------------------------------------------------------------------

    async def invite(
        self, principal: Principal, conference_id: str, participant_ids: Sequence[str] | None
    ) -> list[dict[str, Any]]:
        """Invitation e-mails to the listed people (default: those never invited yet)."""
        self.service.require_organizer(principal, conference_id)
        live = await self.service.loaded(conference_id)
        conf = live.conference
        if conf.state is d.ConferenceState.ENDED:
            raise ServiceError(409, "conference_ended", "the conference has ended")
        candidates = [
            p for p in conf.participants.values()
            if p.role is not d.Role.ORGANIZER and p.email
        ]
        if participant_ids is None:
            done = await self._invited(conference_id)
            chosen = [p.id for p in candidates if p.id not in done]
        else:
            _require_known(conf, participant_ids)
            by_id = {p.id: p for p in candidates}
            chosen = [pid for pid in participant_ids if pid in by_id]
        if not chosen:
            return []
        items = build_invitations(
            conf, pin=live.pin, moderator_pin=live.moderator_pin,
            join_url=self.service.join_url(live.pin), organizer_url="",
            numbers=self.service.access_numbers, base_url=self.service.settings.base_url,
            now=self.service.now(), recipients=chosen, include_organizer=False,
        )
        return await self._enqueue(items)

    async def _invited(self, conference_id: str) -> set[str]:
        """The participants who were sent an invitation (whatever became of it)."""
        return {
            e.participant_id
            for e in await self.service.store.outbox_for_conference(conference_id)
            if e.kind == "invitation" and e.participant_id is not None
        }

    # -- notices ---------------------------------------------------------------------------

    async def notify(
        self,
        principal: Principal,
        conference_id: str,
        *,
        message: str,
        channels: Sequence[str],
        participant_ids: Sequence[str] | None,
    ) -> list[dict[str, Any]]:
        """A free-text message by e-mail and/or SMS; one outbox entry per recipient and channel.

        A recipient without an address for a channel gets a ``skipped`` line, so the
        organiser sees why nothing went out to them.
        """
        self.service.require_organizer(principal, conference_id)
        live = await self.service.loaded(conference_id)
        conf = live.conference
        people = [p for p in conf.participants.values() if p.role is not d.Role.ORGANIZER]
        if participant_ids is not None:
            _require_known(conf, participant_ids)
            wanted = set(participant_ids)
            people = [p for p in conf.participants.values() if p.id in wanted]
        items: list[OutboxItem] = []
        skipped: list[dict[str, Any]] = []
        for person in people:
            for channel in channels:
                address = person.email if channel == "email" else person.phone
                if not address:
                    skipped.append({
                        "participant_id": person.id, "name": person.name, "channel": channel,
                        "state": "skipped",
                        "last_error": "no e-mail address" if channel == "email"
                        else "no phone number",
                    })
                    continue
                items.append(build_notice(
                    conf, person, message=message, channel=channel,
                    sender_name=conf.organizer.name,
                ))
        return [*(await self._enqueue(items) if items else []), *skipped]

    # -- changes and cancellation ---------------------------------------------------------------

    async def update(
        self,
        principal: Principal,
        conference_id: str,
        changes: dict[str, Any],
    ) -> dict[str, Any]:
        """New title or time: everyone invited gets an updated invitation (same UID)."""
        self.service.require_organizer(principal, conference_id)
        live = await self.service.loaded(conference_id)
        async with live.lock:
            conf = live.conference
            if conf.state is d.ConferenceState.ENDED:
                raise ServiceError(409, "conference_ended", "the conference has ended")
            if (
                "hide_phone_numbers" in changes
                and conf.hide_phone_numbers != changes["hide_phone_numbers"]
            ):
                # Who sees what changes; nothing to tell the invitees.
                conf.hide_phone_numbers = changes["hide_phone_numbers"]
                await self.service.store.save_conference(conf)
                for p in conf.participants.values():
                    self.service.publish("participant", conf.id, participant_view(p, conf))
            changed = False
            for key in ("title", "starts_at", "duration_minutes", "time_zone"):
                if key in changes and getattr(conf, key) != changes[key]:
                    setattr(conf, key, changes[key])
                    changed = True
            if changed:
                conf.ics_sequence += 1
                await self.service.store.save_conference(conf)
                await self._enqueue(await self._invitations_to_all(live, update=True))
                self.service.publish("conference", conf.id, conference_notice(
                    conf, title=conf.title, starts_at=iso(conf.starts_at),
                    duration_minutes=conf.duration_minutes, time_zone=conf.time_zone,
                ))
        return await self.service.view(principal, conference_id)

    async def _invitations_to_all(self, live: Any, *, update: bool) -> list[OutboxItem]:
        conf = live.conference
        invited = await self._invited(conf.id)
        token = await self.service.new_organizer_token(conf.id)
        return build_invitations(
            conf, pin=live.pin, moderator_pin=live.moderator_pin,
            join_url=self.service.join_url(live.pin),
            organizer_url=self.service.organizer_url(conf.id, token),
            numbers=self.service.access_numbers, base_url=self.service.settings.base_url,
            now=self.service.now(), recipients=sorted(invited), update=update,
        )

    async def cancel(self, principal: Principal, conference_id: str) -> dict[str, Any]:
        """Call it off before it starts: a cancellation (METHOD:CANCEL) to everyone invited."""
        self.service.require_organizer(principal, conference_id)
        live = await self.service.loaded(conference_id)
        async with live.lock:
            conf = live.conference
            if conf.state is d.ConferenceState.ENDED:
                raise ServiceError(409, "conference_ended", "the conference has ended")
            if conf.state is d.ConferenceState.ACTIVE:
                raise ServiceError(
                    409, "conference_active", "the conference is running: end it instead"
                )
            invited = await self._invited(conf.id)
            conf.ics_sequence += 1
            events = conf.end(self.service.now())
            await self.service.persist(live, events)
            items = build_cancellations(
                conf, numbers=self.service.access_numbers,
                base_url=self.service.settings.base_url, now=self.service.now(),
            )
            # Only people who had an invitation hear of the cancellation.
            items = [i for i in items if i.participant_id is None or i.participant_id in invited]
            if self.outbox is not None:
                await self.outbox.enqueue(items)
        return await self.service.view(principal, conference_id)

    # -- the organiser's link ---------------------------------------------------------------------

    async def resend_organizer_links(self, email: str, client: str) -> None:
        """Mail fresh organiser links for the address's open conferences; silent either way.

        Nobody learns whether an address organises anything, and the mail only ever
        goes to the organiser's own address.
        """
        now = self.service.monotonic()
        keys = (f"link:{email.casefold()}", client)
        verdict = self.link_throttle.check_all(keys, now)
        if not verdict.allowed:
            raise too_many(
                verdict.retry_after, "too_many_requests", "too many requests; try again later"
            )
        self.link_throttle.failed_all(keys, now)
        ids = await self.service.store.open_conferences_of_organizer(email)
        items = []
        for conference_id in ids[:20]:
            live = await self.service.loaded(conference_id)
            token = await self.service.new_organizer_token(conference_id)
            items.append(build_organizer_link(
                live.conference, organizer_url=self.service.organizer_url(conference_id, token),
                now=self.service.now(),
            ))
        if items and self.outbox is not None:
            await self.outbox.enqueue(items)
        logger.info("organiser links asked for: %d conference(s)", len(items))



def _require_known(conf: d.Conference, participant_ids: Sequence[str]) -> None:
    missing = [pid for pid in participant_ids if pid not in conf.participants]
    if missing:
        raise ServiceError(404, "not_found", f"no such participant: {missing[0]}")
