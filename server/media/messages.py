"""What crosses the boundary between the front (HTTP, Socket.IO, SIP signalling)
and the media side: plain, immutable messages carrying ids, never objects.

Today both sides live in one process; the boundary keeps it possible to move a
conference's media to another process or machine by carrying these messages
over a queue or socket instead of a function call.
"""

from __future__ import annotations

from dataclasses import dataclass

# Commands: front -> media ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class OpenConference:
    conference_id: str
    language: str


@dataclass(frozen=True, slots=True)
class SetMixing:
    """Mix the conference (active) or keep everyone apart (waiting for the organiser)."""

    conference_id: str
    mixing: bool


@dataclass(frozen=True, slots=True)
class AddWebRtcLeg:
    conference_id: str
    leg_id: str
    offer_sdp: str


@dataclass(frozen=True, slots=True)
class SetMuted:
    leg_id: str
    muted: bool


@dataclass(frozen=True, slots=True)
class PlayPrompts:
    """Play prompts (names of the prompt library, or tones) to legs.

    ``exclusive`` prompts replace the conference audio for the listener and keep
    the listener out of the mix while they play (a welcome); others are laid over
    the conference audio (an entry tone). Without ``leg_ids`` every leg of the
    conference hears them, except ``except_leg_id``.
    """

    conference_id: str
    prompts: tuple[str, ...]
    leg_ids: tuple[str, ...] = ()
    except_leg_id: str | None = None
    exclusive: bool = False


@dataclass(frozen=True, slots=True)
class CloseLeg:
    """Disconnect a leg, after exclusive farewell prompts if any."""

    leg_id: str
    farewell: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CloseConference:
    """Everyone hears the farewell, then every leg is disconnected."""

    conference_id: str
    farewell: tuple[str, ...] = ()


MediaCommand = (
    OpenConference | SetMixing | AddWebRtcLeg | SetMuted | PlayPrompts | CloseLeg | CloseConference
)

# Replies ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Done:
    pass


@dataclass(frozen=True, slots=True)
class SdpAnswer:
    sdp: str


@dataclass(frozen=True, slots=True)
class Refused:
    """The media side cannot do it; ``reason`` is a stable code, ``message`` for people."""

    reason: str
    message: str


MediaReply = Done | SdpAnswer | Refused

# Events: media -> front ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LegConnected:
    leg_id: str


@dataclass(frozen=True, slots=True)
class LegTalking:
    leg_id: str
    talking: bool


@dataclass(frozen=True, slots=True)
class LegClosed:
    leg_id: str
    reason: str  # "hangup", "closed", "failed", "farewell"


MediaEvent = LegConnected | LegTalking | LegClosed
