"""JSON views of the domain, as the REST API and Socket.IO hand them out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .conference import Conference, ConferenceState, Participant
from .store import OutboxEntry, RosterEvent


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def participant_view(
    p: Participant, conference: Conference, *, for_organizer: bool = True
) -> dict[str, Any]:
    """Phone numbers are the organiser's to see, not the other participants'."""
    return {
        "id": p.id,
        "name": p.name,
        "phone": p.phone if for_organizer or not conference.hide_phone_numbers else None,
        "email": p.email if for_organizer else None,
        "language": p.language,
        "role": p.role.value,
        "mode": p.mode.value if p.mode else None,
        "state": p.state_in(conference.state).value,
        "muted": p.muted,
        "talking": p.talking,
        "failure": p.failure,
        "access_number": p.access_number,
        "access_mode": p.access_mode,
        "joined_at": iso(p.joined_at),
        "left_at": iso(p.left_at),
    }


def conference_view(
    conference: Conference,
    *,
    for_organizer: bool,
    pin: str,
    moderator_pin: str,
    join_url: str,
) -> dict[str, Any]:
    """The moderator PIN and contact details are for the organiser only.

    An ended conference shows no PINs: they are free again for new conferences.
    """
    c = conference
    if c.state is ConferenceState.ENDED:
        pin = moderator_pin = join_url = None  # type: ignore[assignment]
    view: dict[str, Any] = {
        "id": c.id,
        "title": c.title,
        "language": c.language,
        "state": c.state.value,
        "locked": c.locked,
        "organizer": {"name": c.organizer.name},
        "pin": pin,
        "join_url": join_url,
        "created_at": iso(c.created_at),
        "starts_at": iso(c.starts_at),
        "duration_minutes": c.duration_minutes,
        "hide_phone_numbers": c.hide_phone_numbers,
        "recording": c.recording,
        "time_zone": c.time_zone,
        "started_at": iso(c.started_at),
        "ended_at": iso(c.ended_at),
        "participants": [
            participant_view(p, c, for_organizer=for_organizer) for p in c.participants.values()
        ],
    }
    if for_organizer:
        view["greeting"] = c.greeting_file is not None
        view["recorded_seconds"] = round(c.recorded_seconds, 1)
        view["moderator_pin"] = moderator_pin
        view["organizer"] = {
            "name": c.organizer.name,
            "email": c.organizer.email,
            "phone": c.organizer.phone,
        }
    return view


def report_view(conference: Conference, roster: list[RosterEvent]) -> dict[str, Any]:
    """Who was there, how and when each joined and left."""
    c = conference
    sessions: dict[str, list[dict[str, Any]]] = {}
    for event in roster:
        legs = sessions.setdefault(event.participant_id, [])
        if event.kind == "join":
            legs.append(
                {"mode": event.mode, "joined_at": iso(event.at), "left_at": None,
                 "left_reason": None, "seconds": None}
            )
        elif event.kind == "leave" and legs and legs[-1]["left_at"] is None:
            leg = legs[-1]
            leg["left_at"] = iso(event.at)
            leg["left_reason"] = event.detail
            joined = datetime.fromisoformat(leg["joined_at"].replace("Z", "+00:00"))
            leg["seconds"] = round((event.at - joined).total_seconds(), 3)
    participants = []
    for p in c.participants.values():
        legs = sessions.get(p.id, [])
        participants.append(
            {
                "id": p.id,
                "name": p.name,
                "role": p.role.value,
                "phone": p.phone,
                "email": p.email,
                "state": p.state_in(c.state).value,
                "sessions": legs,
                "seconds": round(sum(leg["seconds"] or 0 for leg in legs), 3),
            }
        )
    return {
        "conference": {
            "id": c.id,
            "title": c.title,
            "state": c.state.value,
            "organizer": {"name": c.organizer.name, "email": c.organizer.email,
                          "phone": c.organizer.phone},
            "created_at": iso(c.created_at),
            "started_at": iso(c.started_at),
            "ended_at": iso(c.ended_at),
        },
        "participants": participants,
        "totals": {
            "participants": sum(1 for p in participants if p["sessions"]),
            "sessions": sum(len(p["sessions"]) for p in participants),
            "seconds": round(sum(p["seconds"] for p in participants), 3),
        },
    }


def conference_notice(c: Conference, **extra: Any) -> dict[str, Any]:
    """The live ``conference`` notice: the state everyone's page follows, and what changed."""
    return {"id": c.id, "state": c.state.value, "locked": c.locked, **extra}


def notification_view(e: OutboxEntry) -> dict[str, Any]:
    """A message to one recipient on one channel, and how its delivery went."""
    return {
        "id": e.id,
        "participant_id": e.participant_id,
        "recipient": e.recipient,
        "name": e.recipient_name,
        "channel": e.channel,
        "kind": e.kind,
        "state": e.state,
        "attempts": e.attempts,
        "last_error": e.last_error,
        "created_at": iso(e.created_at),
        "sent_at": iso(e.sent_at),
    }
