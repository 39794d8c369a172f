"""The conference as a pure state machine: commands in, events out.

No transport, no storage, no clock: times are passed in. The organiser must be
in before the conference starts (others wait), and the conference ends when the
last organiser leaves or it is ended; later issues add invited, ringing and
failed calls, which already have their states here.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class ConferenceState(enum.StrEnum):
    SCHEDULED = "scheduled"
    WAITING = "waiting"
    ACTIVE = "active"
    ENDED = "ended"


class Role(enum.StrEnum):
    ORGANIZER = "organizer"
    PARTICIPANT = "participant"


class Mode(enum.StrEnum):
    WEB = "web"
    DIAL_IN = "dial-in"
    DIAL_OUT = "dial-out"


class ParticipantState(enum.StrEnum):
    INVITED = "invited"
    RINGING = "ringing"
    WAITING = "waiting"
    CONNECTED = "connected"
    TALKING = "talking"
    MUTED = "muted"
    LEFT = "left"
    FAILED = "failed"


class ConferenceError(Exception):
    """A command that the conference's state does not allow."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Contact:
    name: str
    email: str | None = None
    phone: str | None = None  # E.164


@dataclass(slots=True)
class Participant:
    id: str
    name: str
    role: Role = Role.PARTICIPANT
    mode: Mode | None = None
    email: str | None = None
    phone: str | None = None
    joined_at: datetime | None = None
    left_at: datetime | None = None
    left_reason: str | None = None
    muted: bool = False
    talking: bool = False
    ringing: bool = False
    failure: str | None = None
    #: for dial-in legs: the access number dialled (E.164) and its access mode
    access_number: str | None = None
    access_mode: str | None = None
    #: for mail and SMS to this person (None: the conference's language)
    language: str | None = None

    @property
    def present(self) -> bool:
        return self.joined_at is not None and self.left_at is None

    def state_in(self, conference: ConferenceState) -> ParticipantState:
        if self.failure is not None:
            return ParticipantState.FAILED
        if self.left_at is not None:
            return ParticipantState.LEFT
        if self.joined_at is None:
            return ParticipantState.RINGING if self.ringing else ParticipantState.INVITED
        if self.muted:
            return ParticipantState.MUTED
        if conference in (ConferenceState.SCHEDULED, ConferenceState.WAITING):
            return ParticipantState.WAITING
        if conference is ConferenceState.ENDED:
            # Hearing the closing announcement, about to be disconnected.
            return ParticipantState.CONNECTED
        return ParticipantState.TALKING if self.talking else ParticipantState.CONNECTED


# Events ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ParticipantJoined:
    participant_id: str


@dataclass(frozen=True, slots=True)
class ParticipantLeft:
    participant_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class ParticipantChanged:
    participant_id: str


@dataclass(frozen=True, slots=True)
class StateChanged:
    old: ConferenceState
    new: ConferenceState


@dataclass(frozen=True, slots=True)
class LockChanged:
    locked: bool


Event = ParticipantJoined | ParticipantLeft | ParticipantChanged | StateChanged | LockChanged


@dataclass(slots=True)
class Conference:
    id: str
    title: str
    organizer: Contact
    language: str
    created_at: datetime
    starts_at: datetime | None = None
    state: ConferenceState = ConferenceState.SCHEDULED
    started_at: datetime | None = None
    ended_at: datetime | None = None
    participants: dict[str, Participant] = field(default_factory=dict)
    #: a locked conference admits nobody new (the organiser's *7)
    locked: bool = False
    #: the registered organiser (user id) who owns it; None for an ad-hoc conference
    owner_user_id: str | None = None
    duration_minutes: int | None = None
    #: the organiser's IANA time zone, for showing times in mail
    time_zone: str | None = None
    #: RFC 5545 SEQUENCE of the invitation: raised by every update or cancellation
    ics_sequence: int = 0
    #: participants do not see each other's phone numbers (the organiser always does)
    hide_phone_numbers: bool = True
    #: add-ons: the organiser's own greeting (a file name under the data directory),
    #: the recording's file, and how many seconds were recorded (charged per minute)
    greeting_file: str | None = None
    recording_file: str | None = None
    recorded_seconds: float = 0.0
    #: being recorded right now (not stored: a restart stops any recording)
    recording: bool = False

    # -- queries ---------------------------------------------------------------

    @property
    def organizer_present(self) -> bool:
        return any(p.present and p.role is Role.ORGANIZER for p in self.participants.values())

    @property
    def present(self) -> list[Participant]:
        return [p for p in self.participants.values() if p.present]

    def participant(self, participant_id: str) -> Participant:
        try:
            return self.participants[participant_id]
        except KeyError:
            raise ConferenceError("unknown_participant", "no such participant") from None

    # -- commands --------------------------------------------------------------

    def invite(self, participant: Participant) -> list[Event]:
        self._require_open()
        self.participants[participant.id] = participant
        return [ParticipantChanged(participant.id)]

    def admit(
        self,
        participant_id: str,
        name: str,
        role: Role,
        mode: Mode,
        now: datetime,
        phone: str | None = None,
        access_number: str | None = None,
        access_mode: str | None = None,
    ) -> list[Event]:
        """Someone is in (their media is about to start)."""
        self._require_open()
        if self.locked and role is not Role.ORGANIZER:
            raise ConferenceError("conference_locked", "the conference is locked")
        existing = self.participants.get(participant_id)
        if existing is not None and existing.joined_at is not None:
            raise ConferenceError("already_joined", "this participant has already joined")
        participant = existing or Participant(participant_id, name)
        participant.name = name
        participant.role = role
        participant.mode = mode
        participant.phone = phone or participant.phone
        participant.access_number = access_number
        participant.access_mode = access_mode
        participant.joined_at = now
        participant.ringing = False
        participant.failure = None
        self.participants[participant_id] = participant
        events: list[Event] = [ParticipantJoined(participant_id)]
        events += self._settle(now)
        return events

    def leave(self, participant_id: str, now: datetime, reason: str = "left") -> list[Event]:
        participant = self.participant(participant_id)
        if not participant.present:
            return []
        participant.left_at = now
        participant.left_reason = reason
        participant.talking = False
        events: list[Event] = [ParticipantLeft(participant_id, reason)]
        if participant.role is Role.ORGANIZER and self.state is ConferenceState.ACTIVE:
            if not self.organizer_present:
                events += self.end(now)
        return events

    def set_muted(self, participant_id: str, muted: bool) -> list[Event]:
        participant = self.participant(participant_id)
        if participant.muted == muted:
            return []
        participant.muted = muted
        return [ParticipantChanged(participant_id)]

    def mute_all(self, muted: bool) -> list[Event]:
        """Mute or unmute everyone present but the organisers."""
        events: list[Event] = []
        for p in self.participants.values():
            if p.present and p.role is not Role.ORGANIZER:
                events += self.set_muted(p.id, muted)
        return events

    def set_talking(self, participant_id: str, talking: bool) -> list[Event]:
        participant = self.participants.get(participant_id)
        if participant is None or not participant.present or participant.talking == talking:
            return []
        participant.talking = talking
        return [ParticipantChanged(participant_id)]

    def set_locked(self, locked: bool) -> list[Event]:
        if self.locked == locked:
            return []
        self.locked = locked
        return [LockChanged(locked)]

    def end(self, now: datetime) -> list[Event]:
        """End the conference; everyone still present is about to be disconnected."""
        if self.state is ConferenceState.ENDED:
            return []
        old = self.state
        self.state = ConferenceState.ENDED
        self.ended_at = now
        return [StateChanged(old, ConferenceState.ENDED)]

    # -- internals -----------------------------------------------------------------

    def _require_open(self) -> None:
        if self.state is ConferenceState.ENDED:
            raise ConferenceError("conference_ended", "the conference has ended")

    def _settle(self, now: datetime) -> list[Event]:
        """Move to waiting or active according to who is present."""
        if self.state is ConferenceState.ENDED:
            return []
        if self.organizer_present:
            new = ConferenceState.ACTIVE
        elif self.present:
            new = ConferenceState.WAITING
        else:
            return []
        if new is self.state or self.state is ConferenceState.ACTIVE:
            return []
        old = self.state
        self.state = new
        if new is ConferenceState.ACTIVE and self.started_at is None:
            self.started_at = now
        return [StateChanged(old, new)]
