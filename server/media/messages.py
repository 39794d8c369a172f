"""What crosses the boundary between the front (HTTP, Socket.IO, SIP signalling)
and the media side: plain, immutable messages carrying ids, never objects.

Today both sides live in one process; the boundary keeps it possible to move a
conference's media to another process or machine by carrying these messages
over a queue or socket instead of a function call.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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
class AddRtpLeg:
    """A phone leg (SIP gateway): plain RTP to ``remote_host:remote_port``.

    The media side picks the local port and answers ``RtpLegReady``; RTP is sent
    to wherever the phone's RTP really comes from once it arrives (symmetric RTP).
    """

    conference_id: str
    leg_id: str
    remote_host: str
    remote_port: int
    codec: str  # "PCMU" or "PCMA"
    payload_type: int
    dtmf_payload_type: int | None = None
    ptime: int = 20


@dataclass(frozen=True, slots=True)
class UpdateRtpLeg:
    """A re-INVITE changed the remote address or put the call on (or off) hold."""

    leg_id: str
    remote_host: str
    remote_port: int
    on_hold: bool
    #: set when the codec is settled only now (the answer to our dial-out offer)
    codec: str | None = None
    payload_type: int | None = None
    dtmf_payload_type: int | None = None


@dataclass(frozen=True, slots=True)
class MoveLeg:
    """Take a leg from where it is (e.g. the PIN prompt) into a conference."""

    leg_id: str
    conference_id: str


@dataclass(frozen=True, slots=True)
class StopPrompts:
    """Barge-in: the caller typed during a prompt."""

    leg_id: str


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


@dataclass(frozen=True, slots=True, eq=False)
class SetGreeting:
    """The conference's own greeting, played wherever the prompt "welcome" would be.

    ``samples`` are int16 mono 48 kHz (the media side keeps a read-only copy);
    ``None`` brings the standard welcome back. Compared by identity: arrays have
    no single truth value to compare by.
    """

    conference_id: str
    samples: np.ndarray | None


@dataclass(frozen=True, slots=True)
class StartRecording:
    """Record what a silent listener hears (the whole mix, room-wide tones included).

    The media side writes Ogg/Opus to ``path + ".part"`` and renames it to ``path``
    when the recording stops cleanly, so a file under ``path`` is always complete.
    """

    conference_id: str
    path: str


@dataclass(frozen=True, slots=True)
class StopRecording:
    """Finish the file; the reply is ``RecordingStopped`` once it is complete."""

    conference_id: str


MediaCommand = (
    OpenConference
    | SetMixing
    | AddWebRtcLeg
    | AddRtpLeg
    | UpdateRtpLeg
    | MoveLeg
    | StopPrompts
    | SetMuted
    | PlayPrompts
    | CloseLeg
    | CloseConference
    | SetGreeting
    | StartRecording
    | StopRecording
)

# Replies ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Done:
    pass


@dataclass(frozen=True, slots=True)
class SdpAnswer:
    sdp: str


@dataclass(frozen=True, slots=True)
class RtpLegReady:
    local_host: str
    local_port: int


@dataclass(frozen=True, slots=True)
class Refused:
    """The media side cannot do it; ``reason`` is a stable code, ``message`` for people."""

    reason: str
    message: str


@dataclass(frozen=True, slots=True)
class RecordingStopped:
    """The recording is complete and playable at ``path``.

    ``seconds`` is what the file holds (frames lost to a stalled disk are not in it).
    """

    conference_id: str
    seconds: float
    path: str


MediaReply = Done | SdpAnswer | RtpLegReady | Refused | RecordingStopped

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


@dataclass(frozen=True, slots=True)
class LegDigit:
    """A keypad digit from the leg's media (RFC 4733 or in-band)."""

    leg_id: str
    digit: str


MediaEvent = LegConnected | LegTalking | LegClosed | LegDigit
