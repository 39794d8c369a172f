"""The front's conference service: domain + store + media + live notices.

Every command takes the conference's lock, applies the pure domain model,
persists what changed before it answers, tells the media side what to do
(by message), and publishes notices for the live pages.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from . import conference as d
from .access import parse_access_numbers
from .config import Settings
from .dialout import DialOutRefused, check_destination
from .errors import ServiceError, too_many
from .media import messages as m
from .notify.invitations import build_invitations
from .notify.outbox import Outbox
from .pins import (
    MODERATOR_PIN_DIGITS,
    PARTICIPANT_PIN_DIGITS,
    generate_pin,
    generate_token,
    new_id,
    token_hash,
)
from .store import PinTaken, RosterEvent, Store, TokenRecord
from .throttle import PinThrottle
from .views import (
    conference_notice,
    conference_view,
    notification_view,
    participant_view,
    report_view,
)

logger = logging.getLogger(__name__)

PARTICIPANT_TOKEN_LIFETIME = timedelta(hours=24)
#: how long the closing announcement may take before legs are cut regardless
FAREWELL_GRACE_SECONDS = 30.0

MediaRequest = Callable[[m.MediaCommand], Awaitable[m.MediaReply]]
Notice = tuple[str, str, dict[str, Any]]  # (event, conference_id, payload)


@dataclass(frozen=True, slots=True)
class Principal:
    kind: str  # "organizer", "participant", or "user" (a registered organiser, unscoped)
    conference_id: str
    participant_id: str | None = None
    #: the registered organiser behind a session or API key
    user_id: str | None = None

    @property
    def is_organizer(self) -> bool:
        return self.kind == "organizer"


@dataclass(frozen=True, slots=True)
class PinCheck:
    verdict: str  # "ok", "wrong", "throttled" or "locked"
    conference_id: str | None = None
    role: str | None = None
    language: str | None = None


class Dialer(Protocol):
    async def dial(
        self, conference_id: str, leg_id: str, number: str, *, name: str, role: str,
        press_one: bool,
    ) -> None: ...


@dataclass(slots=True)
class _Live:
    conference: d.Conference
    pin: str
    moderator_pin: str
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    pending: dict[str, tuple[str, d.Role]] = field(default_factory=dict)
    #: "start with dial-out": once the organiser answers, call everyone with a phone
    call_everyone: bool = False
    #: the company account of a registered organiser's conference (dial-out caps)
    account_id: str | None = None
    #: set once the conference has ended and everyone has left (the finished hooks ran)
    emptied: asyncio.Event = field(default_factory=asyncio.Event)


def utcnow() -> datetime:
    return datetime.now(UTC)


class ConferenceService:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        media: MediaRequest,
        *,
        now: Callable[[], datetime] = utcnow,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.store = store
        self.media = media
        self.now = now
        self.monotonic = monotonic
        self.throttle = PinThrottle(settings.pin_attempts, settings.pin_window_seconds)
        self.access_numbers = parse_access_numbers(settings.access_numbers)
        self._live: dict[str, _Live] = {}
        self._conference_of_leg: dict[str, str] = {}
        #: calls being placed: leg (participant) id -> conference id
        self._dialling: dict[str, str] = {}
        #: places calls (the SIP gateway); None when no trunk is configured
        self.dialer: Dialer | None = None
        self._listeners: list[Callable[[Notice], None]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        #: the durable outbox of e-mails; None: no notifications (e.g. some tests)
        self.outbox: Outbox | None = None
        #: called with a conference id once it has ended and everyone has left
        self.finished_hooks: list[Callable[[str], Awaitable[None]]] = []
        #: makes the report (with costs); None: the roster alone
        self.reporter: Any = None
        #: awaited with a conference id as it ends, before the farewell (stop recording)
        self.closing_hooks: list[Callable[[str], Awaitable[None]]] = []

    # -- plumbing ------------------------------------------------------------------

    def subscribe(self, listener: Callable[[Notice], None]) -> None:
        self._listeners.append(listener)

    def _publish(self, event: str, conference_id: str, payload: dict[str, Any]) -> None:
        for listener in self._listeners:
            try:
                listener((event, conference_id, payload))
            except Exception:
                logger.exception("live listener failed")

    def organizer_url(self, conference_id: str, token: str) -> str:
        # The token rides in the fragment: it never reaches a server log.
        return f"{self.settings.base_url}/organizer/{conference_id}#token={token}"

    def join_url(self, pin: str | None = None) -> str:
        base = f"{self.settings.base_url}/join"
        return f"{base}?pin={pin}" if pin else base

    async def loaded(self, conference_id: str) -> _Live:
        """The conference with its PINs and lock (planning code works on it under the lock)."""
        return await self._load(conference_id)

    async def persist(self, live: _Live, events: list[d.Event]) -> None:
        await self._persist(live, events)

    def publish(self, event: str, conference_id: str, payload: dict[str, Any]) -> None:
        self._publish(event, conference_id, payload)

    def phones_hidden(self, conference_id: str) -> bool:
        live = self._live.get(conference_id)
        return live.conference.hide_phone_numbers if live is not None else True

    async def principal_for_user(self, user_id: str, conference_id: str) -> Principal:
        """A registered organiser is the organiser of the conferences they own, and only those."""
        live = await self._load(conference_id)
        if live.conference.owner_user_id != user_id:
            raise ServiceError(404, "not_found", "no such conference")
        return Principal("organizer", conference_id, None, user_id)

    async def new_organizer_token(self, conference_id: str) -> str:
        """Another organiser link (the old ones stay valid): for mail re-sent to the organiser."""
        token = generate_token()
        await self.store.add_token(
            token_hash(token), TokenRecord("organizer", conference_id, None, None)
        )
        return token

    async def _load(self, conference_id: str) -> _Live:
        live = self._live.get(conference_id)
        if live is None:
            record = await self.store.load_conference(conference_id)
            if record is None:
                raise ServiceError(404, "not_found", "no such conference")
            account_id = await self.account_of(record.conference)
            live = self._live.setdefault(
                conference_id,
                _Live(record.conference, record.pin, record.moderator_pin, account_id=account_id),
            )
        return live

    async def account_of(self, conf: d.Conference) -> str | None:
        if conf.owner_user_id is None:
            return None
        owner = await self.store.user(conf.owner_user_id)
        return owner.account_id if owner is not None else None

    async def ask_media(self, command: m.MediaCommand) -> m.MediaReply:
        """A command to the media side; failures come back as ``Refused``.

        (``self.media`` is the raw request callable given at construction.)
        """
        return await self._media(command)

    async def _media(self, command: m.MediaCommand) -> m.MediaReply:
        try:
            reply = await self.media(command)
        except Exception:
            logger.exception("media command %r failed", command)
            return m.Refused("media_error", "the media service failed")
        if isinstance(reply, m.Refused):
            logger.debug("media refused %r: %s", command, reply.message)
        return reply

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- startup -------------------------------------------------------------------

    async def recover(self) -> None:
        """After a restart nobody is connected any more: close what was left open.

        Legs still open were cut when the process died: they end at the last heartbeat
        (the last moment the service is known to have been alive), marked
        ``server-died``; a conference that was running ends then too.
        """
        now = self.now()
        last_alive = await self.store.last_beat()
        ids = dict.fromkeys(
            [*await self.store.unended_conference_ids(),
             *await self.store.conferences_with_open_legs()]
        )
        for conference_id in ids:
            live = await self._load(conference_id)
            conf = live.conference
            events: list[d.Event] = []
            for p in conf.present:
                joined = p.joined_at or now
                cut = min(max(last_alive or now, joined), now)
                events += conf.leave(p.id, cut, reason="server-died")
            if conf.state is d.ConferenceState.ACTIVE:
                ended = max(
                    (p.left_at for p in conf.participants.values() if p.left_at), default=now
                )
                events += conf.end(ended)
            elif conf.state is d.ConferenceState.WAITING:
                conf.state = d.ConferenceState.SCHEDULED
                await self.store.save_conference(conf)
            await self._persist(live, events)
            if conf.state is not d.ConferenceState.ENDED:
                await self._media(m.OpenConference(conf.id, conf.language))

    # -- creating ------------------------------------------------------------------

    async def create(
        self,
        *,
        title: str,
        organizer: d.Contact,
        invitees: list[d.Contact],
        starts_at: datetime | None,
        language: str,
        owner_user_id: str | None = None,
        duration_minutes: int | None = None,
        time_zone: str | None = None,
        invitee_languages: Sequence[str | None] = (),
        hide_phone_numbers: bool = True,
    ) -> tuple[dict[str, Any], str]:
        """A new conference; returns its organiser view and the organiser token."""
        conf = d.Conference(
            id=new_id(),
            title=title,
            organizer=organizer,
            language=language,
            created_at=self.now(),
            starts_at=starts_at,
            owner_user_id=owner_user_id,
            duration_minutes=duration_minutes,
            time_zone=time_zone,
            hide_phone_numbers=hide_phone_numbers,
        )
        languages = list(invitee_languages) + [None] * (len(invitees) - len(invitee_languages))
        for invitee, invitee_language in zip(invitees, languages, strict=True):
            conf.invite(
                d.Participant(new_id(), invitee.name, email=invitee.email, phone=invitee.phone,
                              language=invitee_language)
            )
        for _ in range(20):
            pin = generate_pin(PARTICIPANT_PIN_DIGITS)
            moderator_pin = generate_pin(MODERATOR_PIN_DIGITS)
            try:
                await self.store.create_conference(conf, pin, moderator_pin)
                break
            except PinTaken:
                continue
        else:  # pragma: no cover - needs ~10^7 live conferences
            raise ServiceError(503, "no_pin", "no free PIN could be found; try again")
        token = generate_token()
        await self.store.add_token(token_hash(token), TokenRecord("organizer", conf.id, None, None))
        live = _Live(conf, pin, moderator_pin, account_id=await self.account_of(conf))
        self._live[conf.id] = live
        if self.outbox is not None:
            # Stored (committed) before the answer; the sender delivers them.
            await self.outbox.enqueue(
                build_invitations(
                    conf, pin=pin, moderator_pin=moderator_pin, join_url=self.join_url(pin),
                    organizer_url=self.organizer_url(conf.id, token),
                    numbers=self.access_numbers, base_url=self.settings.base_url,
                    now=self.now(),
                )
            )
        await self._media(m.OpenConference(conf.id, language))
        return self._view(live, organizer=True), token

    # -- authentication ------------------------------------------------------------

    async def authenticate(self, token: str) -> Principal:
        record = await self.store.get_token(token_hash(token)) if token else None
        if record is None:
            raise ServiceError(401, "invalid_token", "the token is not valid")
        if record.expires_at is not None and record.expires_at < self.now():
            raise ServiceError(401, "token_expired", "the token has expired")
        principal = Principal(record.kind, record.conference_id, record.participant_id)
        if not principal.is_organizer:
            live = await self._load(record.conference_id)
            if live.conference.state is d.ConferenceState.ENDED:
                raise ServiceError(401, "token_expired", "the conference has ended")
        return principal

    @staticmethod
    def require_organizer(principal: Principal, conference_id: str) -> None:
        if principal.conference_id != conference_id:
            raise ServiceError(404, "not_found", "no such conference")
        if not principal.is_organizer:
            raise ServiceError(403, "forbidden", "only the organiser may do this")

    # -- views -----------------------------------------------------------------------

    def _view(self, live: _Live, organizer: bool) -> dict[str, Any]:
        return conference_view(
            live.conference,
            for_organizer=organizer,
            pin=live.pin,
            moderator_pin=live.moderator_pin,
            join_url=self.join_url(live.pin),
        )

    async def view(self, principal: Principal, conference_id: str) -> dict[str, Any]:
        if principal.conference_id != conference_id:
            raise ServiceError(404, "not_found", "no such conference")
        live = await self._load(conference_id)
        return self._view(live, organizer=principal.is_organizer)

    async def report(self, principal: Principal, conference_id: str) -> dict[str, Any]:
        self.require_organizer(principal, conference_id)
        live = await self._load(conference_id)
        if self.reporter is not None:
            return dict(await self.reporter.report(live.conference))
        return report_view(live.conference, await self.store.roster(conference_id))

    async def notifications(
        self, principal: Principal, conference_id: str
    ) -> list[dict[str, Any]]:
        """What was sent to whom, per recipient and channel (organiser only)."""
        self.require_organizer(principal, conference_id)
        await self._load(conference_id)
        return [
            notification_view(e) for e in await self.store.outbox_for_conference(conference_id)
        ]

    # -- joining ---------------------------------------------------------------------

    async def _open_by_pin(self, pin: str, clients: Sequence[str]) -> tuple[_Live, d.Role]:
        """The conference a PIN opens, counting wrong PINs against every client key.

        A browser is one key (its address); a phone call is two (the calling
        number and the signalling source address), so a guesser gains nothing by
        hanging up and calling again, nor by spoofing another caller ID.
        """
        now = self.monotonic()
        verdict = self.throttle.check_all(clients, now)
        if not verdict.allowed:
            raise too_many(
                verdict.retry_after, "too_many_attempts", "too many wrong PINs; try again later"
            )
        found = await self.store.find_pin(pin) if pin.isdigit() else None
        live = await self._load(found[0]) if found else None
        if found is None or live is None or live.conference.state is d.ConferenceState.ENDED:
            delay = self.throttle.failed_all(clients, now)
            if delay:
                await asyncio.sleep(delay)
            raise ServiceError(403, "wrong_pin", "this PIN does not open any conference")
        return live, d.Role(found[1])

    async def join(self, pin: str, name: str, client: str) -> dict[str, Any]:
        """Find the conference by PIN (as a phone caller will) and issue a token."""
        live, role = await self._open_by_pin(pin, [client])
        self._check_not_locked(live.conference, role)
        conference_id = live.conference.id
        participant_id = new_id()
        token = generate_token()
        await self.store.add_token(
            token_hash(token),
            TokenRecord(
                "participant", conference_id, participant_id,
                self.now() + PARTICIPANT_TOKEN_LIFETIME,
            ),
        )
        live.pending[participant_id] = (name, role)
        return {
            "conference_id": conference_id,
            "participant_id": participant_id,
            "participant_token": token,
            "role": role.value,
            "language": live.conference.language,
            "title": live.conference.title,
        }

    async def connect_webrtc(self, principal: Principal, offer_sdp: str) -> tuple[str, str]:
        """A WHIP offer from a participant: returns (answer SDP, session id)."""
        if principal.participant_id is None:
            raise ServiceError(403, "forbidden", "join with a PIN first")
        live = await self._load(principal.conference_id)
        pid = principal.participant_id
        async with live.lock:
            conf = live.conference
            existing = conf.participants.get(pid)
            if existing is not None and existing.joined_at is not None:
                if existing.present:
                    raise ServiceError(409, "already_connected", "this session is connected")
                raise ServiceError(401, "token_expired", "this session has ended; join again")
            pending = live.pending.get(pid)
            if pending is None:
                raise ServiceError(401, "token_expired", "this session has ended; join again")
            if conf.state is d.ConferenceState.ENDED:
                raise ServiceError(401, "token_expired", "the conference has ended")
            name, role = pending
            self._check_not_locked(conf, role)
            reply = await self._media(m.AddWebRtcLeg(conf.id, pid, offer_sdp))
            if isinstance(reply, m.Refused):
                status = {"bad_sdp": 400, "leg_exists": 409}.get(reply.reason, 503)
                raise ServiceError(status, reply.reason, reply.message)
            assert isinstance(reply, m.SdpAnswer)
            del live.pending[pid]
            await self._admit(live, pid, name, role, d.Mode.WEB)
            return reply.sdp, pid

    @staticmethod
    def _check_not_locked(conf: d.Conference, role: d.Role) -> None:
        if conf.locked and role is not d.Role.ORGANIZER:
            raise ServiceError(403, "conference_locked", "the conference is locked")

    async def _admit(
        self, live: _Live, pid: str, name: str, role: d.Role, mode: d.Mode, **details: Any
    ) -> None:
        """Someone's media is in the conference: record it, greet them, start mixing."""
        conf = live.conference
        was_active = conf.state is d.ConferenceState.ACTIVE
        events = conf.admit(pid, name, role, mode, self.now(), **details)
        self._conference_of_leg[pid] = conf.id
        await self._persist(live, events)
        greeting: tuple[str, ...] = ("welcome", "beep")
        if conf.state is not d.ConferenceState.ACTIVE:
            greeting += ("waiting",)
        await self._media(m.PlayPrompts(conf.id, greeting, leg_ids=(pid,), exclusive=True))
        await self._media(m.PlayPrompts(conf.id, ("entry_tone",), except_leg_id=pid))
        if conf.state is d.ConferenceState.ACTIVE and not was_active:
            await self._media(m.SetMixing(conf.id, True))

    # -- phones (the SIP gateway's side of a call) ---------------------------------------

    async def check_pin(self, pin: str, clients: Sequence[str]) -> PinCheck:
        """A caller's PIN: which conference and role, or why not."""
        try:
            live, role = await self._open_by_pin(pin, clients)
        except ServiceError as exc:
            return PinCheck("throttled" if exc.status == 429 else "wrong")
        conf = live.conference
        if conf.locked and role is not d.Role.ORGANIZER:
            return PinCheck("locked", conf.id)
        return PinCheck("ok", conf.id, role.value, conf.language)

    async def admit_phone(
        self,
        conference_id: str,
        leg_id: str,
        role: str,
        *,
        name: str,
        phone: str | None,
        mode: d.Mode = d.Mode.DIAL_IN,
        access_number: str | None = None,
        access_mode: str | None = None,
    ) -> bool:
        """Move a phone leg (already in media, e.g. at the PIN prompt) into its conference."""
        live = await self._load(conference_id)
        async with live.lock:
            conf = live.conference
            if conf.state is d.ConferenceState.ENDED:
                return False
            reply = await self._media(m.MoveLeg(leg_id, conf.id))
            if isinstance(reply, m.Refused):
                return False
            await self._admit(
                live, leg_id, name, d.Role(role), mode,
                phone=phone, access_number=access_number, access_mode=access_mode,
            )
            self._dialling.pop(leg_id, None)
            if live.call_everyone and role == d.Role.ORGANIZER.value:
                live.call_everyone = False
                for p in list(conf.participants.values()):
                    if p.phone and p.joined_at is None and p.id not in self._dialling:
                        try:
                            number = self._fence(live, p.phone)
                        except ServiceError as exc:
                            p.failure = "refused"
                            logger.info("not calling %s: %s", p.phone, exc.message)
                            await self._persist(live, [d.ParticipantChanged(p.id)])
                            continue
                        p.phone = number
                        p.mode = d.Mode.DIAL_OUT
                        self._spawn(self._dial(live, p))
            return True

    async def phone_left(self, leg_id: str, reason: str) -> None:
        """The phone hung up (BYE) or its call failed."""
        live = self._find_live_by_participant(leg_id)
        if live is None:
            return
        async with live.lock:
            await self._leave(live, leg_id, reason)

    async def keypad(self, leg_id: str, command: str) -> None:
        """A keypad command of a caller in a conference (*6, *1, *5, *7, *9)."""
        live = self._find_live_by_participant(leg_id)
        if live is None:
            return
        async with live.lock:
            conf = live.conference
            me = conf.participants.get(leg_id)
            if me is None or not me.present:
                return
            say: tuple[str, ...] = ()
            if command == "mute":
                await self._persist(live, conf.set_muted(leg_id, not me.muted))
                await self._media(m.SetMuted(leg_id, me.muted))
                say = ("muted",) if me.muted else ("unmuted",)
            elif command == "help":
                say = ("help",)
            elif me.role is not d.Role.ORGANIZER:
                return
            elif command == "mute_all":
                others = [p for p in conf.present if p.role is not d.Role.ORGANIZER]
                mute = not all(p.muted for p in others) if others else True
                events = conf.mute_all(mute)
                await self._persist(live, events)
                for event in events:
                    assert isinstance(event, d.ParticipantChanged)
                    await self._media(m.SetMuted(event.participant_id, mute))
                say = ("all_muted",) if mute else ("all_unmuted",)
            elif command == "lock":
                await self._persist(live, conf.set_locked(not conf.locked))
                say = ("locked",) if conf.locked else ("unlocked",)
            elif command == "count":
                say = ("participants_count", f"number:{len(conf.present)}")
            if say:
                await self._media(m.PlayPrompts(conf.id, say, leg_ids=(leg_id,)))

    # -- dial-out ------------------------------------------------------------------------

    async def dial_out(
        self, principal: Principal, conference_id: str, name: str, phone: str
    ) -> dict[str, Any]:
        """Call someone into the conference (the organiser's "Add participant")."""
        self.require_organizer(principal, conference_id)
        live = await self._load(conference_id)
        async with live.lock:
            conf = live.conference
            if conf.state is d.ConferenceState.ENDED:
                raise ServiceError(409, "conference_ended", "the conference has ended")
            number = self._fence(live, phone)
            participant = d.Participant(new_id(), name, mode=d.Mode.DIAL_OUT, phone=number)
            await self._persist(live, conf.invite(participant))
            self._spawn(self._dial(live, participant))
            return participant_view(participant, conf)

    async def call_again(
        self, principal: Principal, conference_id: str, pid: str
    ) -> dict[str, Any]:
        self.require_organizer(principal, conference_id)
        live = await self._load(conference_id)
        async with live.lock:
            conf = live.conference
            participant = conf.participants.get(pid)
            if participant is None:
                raise ServiceError(404, "not_found", "no such participant")
            busy = [
                p for p in conf.participants.values()
                if p.phone == participant.phone and (p.present or p.id in self._dialling)
            ]
            if participant.present or pid in self._dialling or busy:
                raise ServiceError(409, "in_call", "this number is in a call already")
            if conf.state is d.ConferenceState.ENDED:
                raise ServiceError(409, "conference_ended", "the conference has ended")
            if not participant.phone:
                raise ServiceError(409, "no_phone", "this participant has no phone number")
            self._fence(live, participant.phone)
            # A new leg: the earlier session stays in the report as it was.
            again = d.Participant(
                new_id(), participant.name, role=participant.role, mode=d.Mode.DIAL_OUT,
                email=participant.email, phone=participant.phone,
            )
            if participant.joined_at is None:
                # Never connected: the new call replaces the invitation.
                conf.participants.pop(pid)
                await self.store.delete_participant(pid)
                self._conference_of_leg.pop(pid, None)
                self._publish("participant_removed", conf.id, {"id": pid})
            await self._persist(live, conf.invite(again))
            self._spawn(self._dial(live, again))
            return participant_view(again, conf)

    async def start(self, principal: Principal, conference_id: str, dial_out: bool) -> None:
        """Start a conference by calling the organiser, then (once answered) everyone."""
        self.require_organizer(principal, conference_id)
        live = await self._load(conference_id)
        async with live.lock:
            conf = live.conference
            if conf.state is not d.ConferenceState.SCHEDULED:
                raise ServiceError(409, "already_started", "the conference has started already")
            if not dial_out:
                return
            if not conf.organizer.phone:
                raise ServiceError(409, "no_phone", "the organiser has no phone number to call")
            number = self._fence(live, conf.organizer.phone)
            organizer = d.Participant(
                new_id(), conf.organizer.name, role=d.Role.ORGANIZER, mode=d.Mode.DIAL_OUT,
                email=conf.organizer.email, phone=number,
            )
            live.call_everyone = True
            await self._persist(live, conf.invite(organizer))
            self._spawn(self._dial(live, organizer))

    def _fence(self, live: _Live, phone: str) -> str:
        """The toll-fraud fence and the caps on simultaneous calls; the E.164 number."""
        try:
            number = check_destination(phone, self.settings.dial_out_countries)
        except DialOutRefused as exc:
            raise ServiceError(403, "dial_out_refused", str(exc)) from None
        if self.dialer is None:
            raise ServiceError(503, "no_trunk", "dial-out is not configured on this bridge")
        ours = sum(1 for pid in self._dialling.values() if pid == live.conference.id)
        if ours >= self.settings.dial_out_max_per_conference:
            raise ServiceError(429, "too_many_calls", "too many calls are being placed at once")
        if live.account_id is not None:
            account = live.account_id
            calls = sum(
                1 for cid in self._dialling.values()
                if (other := self._live.get(cid)) is not None and other.account_id == account
            )
            if calls >= self.settings.dial_out_max_per_account:
                raise ServiceError(
                    429, "too_many_calls", "your account places too many calls at once"
                )
        if len(self._dialling) >= self.settings.dial_out_max_total:
            raise ServiceError(429, "too_many_calls", "the bridge places too many calls now")
        return number

    async def _dial(self, live: _Live, participant: d.Participant) -> None:
        assert self.dialer is not None and participant.phone is not None
        self._dialling[participant.id] = live.conference.id
        self._conference_of_leg[participant.id] = live.conference.id
        try:
            await self.dialer.dial(
                live.conference.id, participant.id, participant.phone,
                name=participant.name, role=participant.role.value,
                press_one=self.settings.dial_out_press_one,
            )
        except Exception:
            logger.exception("dial-out to %s failed", participant.phone)
            await self.dial_progress(participant.id, "failed")

    async def dial_progress(self, leg_id: str, status: str) -> None:
        """From the gateway: a call we place rings, or did not connect (busy, …)."""
        live = self._find_live_by_participant(leg_id)
        if live is None:
            return
        async with live.lock:
            p = live.conference.participants.get(leg_id)
            if p is None or p.present:
                return
            if status == "ringing":
                p.ringing = True
            else:
                self._dialling.pop(leg_id, None)
                p.ringing = False
                p.failure = status
            await self._persist(live, [d.ParticipantChanged(leg_id)])

    async def set_locked(self, principal: Principal, conference_id: str, locked: bool) -> bool:
        self.require_organizer(principal, conference_id)
        live = await self._load(conference_id)
        async with live.lock:
            await self._persist(live, live.conference.set_locked(locked))
            return live.conference.locked

    async def hang_up(self, principal: Principal, session_id: str) -> None:
        """DELETE of a WHIP session: the participant leaves."""
        if principal.participant_id != session_id:
            raise ServiceError(404, "not_found", "no such session")
        live = await self._load(principal.conference_id)
        async with live.lock:
            participant = live.conference.participants.get(session_id)
            if participant is None or not participant.present:
                raise ServiceError(404, "not_found", "no such session")
            await self._media(m.CloseLeg(session_id))
            await self._leave(live, session_id, "left")

    # -- moderation --------------------------------------------------------------------

    async def set_muted(
        self, principal: Principal, conference_id: str, participant_id: str, muted: bool
    ) -> dict[str, Any]:
        if principal.participant_id != participant_id or principal.conference_id != conference_id:
            self.require_organizer(principal, conference_id)
        live = await self._load(conference_id)
        async with live.lock:
            conf = live.conference
            if participant_id not in conf.participants:
                raise ServiceError(404, "not_found", "no such participant")
            events = conf.set_muted(participant_id, muted)
            await self._persist(live, events)
            await self._media(m.SetMuted(participant_id, muted))
            return participant_view(
                conf.participants[participant_id], conf, for_organizer=principal.is_organizer
            )

    async def mute_all(self, principal: Principal, conference_id: str, muted: bool) -> int:
        self.require_organizer(principal, conference_id)
        live = await self._load(conference_id)
        async with live.lock:
            events = live.conference.mute_all(muted)
            await self._persist(live, events)
            for event in events:
                assert isinstance(event, d.ParticipantChanged)
                await self._media(m.SetMuted(event.participant_id, muted))
            return len(events)

    async def remove(self, principal: Principal, conference_id: str, participant_id: str) -> None:
        self.require_organizer(principal, conference_id)
        live = await self._load(conference_id)
        async with live.lock:
            participant = live.conference.participants.get(participant_id)
            if participant is None:
                raise ServiceError(404, "not_found", "no such participant")
            if not participant.present:
                raise ServiceError(409, "not_present", "this participant is not in the conference")
            await self._media(m.CloseLeg(participant_id, farewell=("removed",)))
            await self._leave(live, participant_id, "removed")

    async def end(self, principal: Principal, conference_id: str) -> dict[str, Any]:
        self.require_organizer(principal, conference_id)
        live = await self._load(conference_id)
        async with live.lock:
            events = live.conference.end(self.now())
            await self._persist(live, events)
            return self._view(live, organizer=True)

    # -- media events --------------------------------------------------------------------

    def on_media_event(self, event: m.MediaEvent) -> None:
        """Called by the media side (synchronously); handled in order per conference."""
        self._spawn(self._handle_media_event(event))

    async def _handle_media_event(self, event: m.MediaEvent) -> None:
        live = self._find_live_by_participant(event.leg_id)
        if live is None:
            return
        async with live.lock:
            conf = live.conference
            if isinstance(event, m.LegTalking):
                for e in conf.set_talking(event.leg_id, event.talking):
                    self._publish_event(live, e)
            elif isinstance(event, m.LegClosed):
                reason = {"farewell": "ended", "closed": "left"}.get(event.reason, event.reason)
                await self._leave(live, event.leg_id, reason)

    def _find_live_by_participant(self, participant_id: str) -> _Live | None:
        conference_id = self._conference_of_leg.get(participant_id)
        return self._live.get(conference_id) if conference_id else None

    # -- internals -------------------------------------------------------------------------

    async def _leave(self, live: _Live, participant_id: str, reason: str) -> None:
        conf = live.conference
        events = conf.leave(participant_id, self.now(), reason)
        if events and conf.state is not d.ConferenceState.ENDED:
            await self._media(m.PlayPrompts(conf.id, ("leave_tone",), except_leg_id=participant_id))
        await self._persist(live, events)

    async def _persist(self, live: _Live, events: list[d.Event]) -> None:
        """Store, then act on and announce, each domain event."""
        conf = live.conference
        for event in events:
            match event:
                case d.ParticipantJoined(pid):
                    p = conf.participants[pid]
                    await self.store.save_participant(conf.id, p)
                    await self.store.add_roster_event(
                        RosterEvent(conf.id, pid, "join", p.joined_at or self.now(),
                                    p.mode.value if p.mode else None, None)
                    )
                case d.ParticipantLeft(pid, reason):
                    self._conference_of_leg.pop(pid, None)
                    p = conf.participants[pid]
                    await self.store.save_participant(conf.id, p)
                    await self.store.add_roster_event(
                        RosterEvent(conf.id, pid, "leave", p.left_at or self.now(),
                                    p.mode.value if p.mode else None, reason)
                    )
                case d.ParticipantChanged(pid):
                    await self.store.save_participant(conf.id, conf.participants[pid])
                case d.LockChanged():
                    await self.store.save_conference(conf)
                case d.StateChanged(_, new):
                    await self.store.save_conference(conf)
                    if new is d.ConferenceState.ENDED:
                        await self._conclude(live)
            self._publish_event(live, event)
        if events:
            await self._finished(live)

    async def _finished(self, live: _Live) -> None:
        """Ended and everyone gone: the report and the charges can be made now."""
        conf = live.conference
        if conf.state is not d.ConferenceState.ENDED or conf.present or live.emptied.is_set():
            return
        live.emptied.set()
        for hook in self.finished_hooks:
            self._spawn(hook(conf.id))

    async def _conclude(self, live: _Live) -> None:
        conf = live.conference
        for hook in self.closing_hooks:
            try:
                await hook(conf.id)
            except Exception:
                logger.exception("a closing hook of %s failed", conf.id)
        await self.store.release_pins(conf.id)
        live.pending.clear()
        await self._media(m.CloseConference(conf.id, farewell=("closing",)))
        self._spawn(self._force_leave_after_farewell(live))

    async def _force_leave_after_farewell(self, live: _Live) -> None:
        # Whoever is still connected once the farewell had time to play is cut off.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(FAREWELL_GRACE_SECONDS):
                await live.emptied.wait()
        async with live.lock:
            for p in live.conference.present:
                await self._media(m.CloseLeg(p.id))
                await self._leave(live, p.id, "ended")

    def _publish_event(self, live: _Live, event: d.Event) -> None:
        conf = live.conference
        if isinstance(event, d.LockChanged):
            self._publish("conference", conf.id, conference_notice(conf))
        elif isinstance(event, d.StateChanged):
            self._publish("conference", conf.id, conference_notice(conf))
            # Everyone's displayed state depends on the conference's (waiting -> connected).
            for p in conf.participants.values():
                self._publish("participant", conf.id, participant_view(p, conf))
        else:
            p = conf.participants[event.participant_id]
            self._publish("participant", conf.id, participant_view(p, conf))
