"""The conference state machine: commands in, events out, no I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from server.conference import (
    Conference,
    ConferenceError,
    ConferenceState,
    Contact,
    Mode,
    Participant,
    ParticipantChanged,
    ParticipantJoined,
    ParticipantLeft,
    ParticipantState,
    Role,
    StateChanged,
)

T0 = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)
ORG = Role.ORGANIZER
PART = Role.PARTICIPANT
S = ConferenceState
P = ParticipantState


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def new_conference() -> Conference:
    return Conference(
        id="c1",
        title="Weekly sync",
        organizer=Contact("Ana", "ana@example.org"),
        language="en",
        created_at=T0 - timedelta(days=1),
    )


def admit(conf: Conference, pid: str, role: Role = PART, minute: int = 0, **kw: object) -> list:
    return conf.admit(pid, pid.title(), role, Mode.WEB, at(minute), **kw)  # type: ignore[arg-type]


def state(conf: Conference, pid: str) -> ParticipantState:
    return conf.participants[pid].state_in(conf.state)


# -- starting ---------------------------------------------------------------------------------


def test_new_conference_is_scheduled_and_empty() -> None:
    conf = new_conference()
    assert conf.state is S.SCHEDULED
    assert conf.started_at is None and conf.ended_at is None
    assert conf.present == []
    assert not conf.organizer_present


def test_participants_wait_for_the_organiser() -> None:
    conf = new_conference()
    events = admit(conf, "bob", minute=1)
    assert events == [ParticipantJoined("bob"), StateChanged(S.SCHEDULED, S.WAITING)]
    assert conf.state is S.WAITING
    assert conf.started_at is None
    assert state(conf, "bob") is P.WAITING

    events = admit(conf, "cid", minute=2)
    assert events == [ParticipantJoined("cid")]  # already waiting: no state change
    assert state(conf, "cid") is P.WAITING
    assert [p.id for p in conf.present] == ["bob", "cid"]


def test_organiser_joining_activates_the_waiting_conference() -> None:
    conf = new_conference()
    admit(conf, "bob", minute=1)
    events = admit(conf, "ana", ORG, minute=3)
    assert events == [ParticipantJoined("ana"), StateChanged(S.WAITING, S.ACTIVE)]
    assert conf.state is S.ACTIVE
    assert conf.started_at == at(3)
    assert conf.organizer_present
    # Whoever was waiting is now connected.
    assert state(conf, "bob") is P.CONNECTED
    assert state(conf, "ana") is P.CONNECTED


def test_organiser_joining_first_activates_directly() -> None:
    conf = new_conference()
    events = admit(conf, "ana", ORG, minute=0)
    assert events == [ParticipantJoined("ana"), StateChanged(S.SCHEDULED, S.ACTIVE)]
    assert conf.started_at == at(0)
    events = admit(conf, "bob", minute=5)
    assert events == [ParticipantJoined("bob")]
    assert state(conf, "bob") is P.CONNECTED
    assert conf.started_at == at(0)


def test_second_organiser_changes_nothing_about_the_state() -> None:
    conf = new_conference()
    admit(conf, "ana", ORG, minute=0)
    events = admit(conf, "zoe", ORG, minute=1)
    assert events == [ParticipantJoined("zoe")]
    assert conf.started_at == at(0)


def test_admit_records_the_join() -> None:
    conf = new_conference()
    admit(conf, "bob", minute=4, phone="+38640123456")
    bob = conf.participants["bob"]
    assert bob.name == "Bob"
    assert bob.role is PART
    assert bob.mode is Mode.WEB
    assert bob.joined_at == at(4)
    assert bob.phone == "+38640123456"
    assert bob.present


def test_admitting_twice_is_refused() -> None:
    conf = new_conference()
    admit(conf, "bob")
    with pytest.raises(ConferenceError) as info:
        admit(conf, "bob", minute=1)
    assert info.value.code == "already_joined"
    assert conf.participants["bob"].joined_at == at(0)


def test_admitting_an_invited_participant_keeps_their_details() -> None:
    conf = new_conference()
    invited = Participant("bob", "Bob Invited", email="bob@example.org", phone="+4930123456")
    invited.ringing = True
    invited.failure = "busy"
    assert conf.invite(invited) == [ParticipantChanged("bob")]
    events = conf.admit("bob", "Bob", PART, Mode.DIAL_OUT, at(1))
    assert events == [ParticipantJoined("bob"), StateChanged(S.SCHEDULED, S.WAITING)]
    bob = conf.participants["bob"]
    assert bob is invited
    assert bob.name == "Bob"
    assert bob.email == "bob@example.org"
    assert bob.phone == "+4930123456"  # kept when none is given
    assert bob.mode is Mode.DIAL_OUT
    assert not bob.ringing
    assert bob.failure is None


def test_unknown_participant_is_an_error() -> None:
    conf = new_conference()
    with pytest.raises(ConferenceError) as info:
        conf.participant("nobody")
    assert info.value.code == "unknown_participant"
    with pytest.raises(ConferenceError):
        conf.set_muted("nobody", True)
    with pytest.raises(ConferenceError):
        conf.leave("nobody", at(1))


# -- ending ---------------------------------------------------------------------------------


def test_conference_ends_when_the_organiser_leaves() -> None:
    conf = new_conference()
    admit(conf, "ana", ORG, minute=0)
    admit(conf, "bob", minute=1)
    events = conf.leave("ana", at(30))
    assert events == [ParticipantLeft("ana", "left"), StateChanged(S.ACTIVE, S.ENDED)]
    assert conf.state is S.ENDED
    assert conf.ended_at == at(30)
    assert state(conf, "ana") is P.LEFT
    assert conf.participants["ana"].left_reason == "left"


def test_conference_ends_only_when_the_last_organiser_leaves() -> None:
    conf = new_conference()
    admit(conf, "ana", ORG, minute=0)
    admit(conf, "zoe", ORG, minute=1)
    admit(conf, "bob", minute=2)
    assert conf.leave("ana", at(10)) == [ParticipantLeft("ana", "left")]
    assert conf.state is S.ACTIVE
    assert conf.leave("zoe", at(20), "removed") == [
        ParticipantLeft("zoe", "removed"),
        StateChanged(S.ACTIVE, S.ENDED),
    ]
    assert conf.ended_at == at(20)


def test_participant_leaving_does_not_end_the_conference() -> None:
    conf = new_conference()
    admit(conf, "ana", ORG)
    admit(conf, "bob", minute=1)
    assert conf.leave("bob", at(5)) == [ParticipantLeft("bob", "left")]
    assert conf.state is S.ACTIVE
    assert state(conf, "bob") is P.LEFT


def test_last_waiting_participant_leaving_does_not_end_it() -> None:
    conf = new_conference()
    admit(conf, "bob")
    assert conf.leave("bob", at(1)) == [ParticipantLeft("bob", "left")]
    assert conf.state is S.WAITING
    assert conf.ended_at is None


def test_leaving_twice_or_without_joining_emits_nothing() -> None:
    conf = new_conference()
    conf.invite(Participant("inv", "Invited"))
    assert conf.leave("inv", at(1)) == []
    assert conf.participants["inv"].left_at is None
    admit(conf, "bob")
    conf.leave("bob", at(2))
    assert conf.leave("bob", at(3)) == []
    assert conf.participants["bob"].left_at == at(2)


def test_leave_clears_talking() -> None:
    conf = new_conference()
    admit(conf, "ana", ORG)
    admit(conf, "bob")
    conf.set_talking("bob", True)
    conf.leave("bob", at(1))
    assert conf.participants["bob"].talking is False


def test_explicit_end() -> None:
    conf = new_conference()
    admit(conf, "ana", ORG)
    admit(conf, "bob")
    assert conf.end(at(45)) == [StateChanged(S.ACTIVE, S.ENDED)]
    assert conf.state is S.ENDED
    assert conf.ended_at == at(45)
    assert conf.end(at(50)) == []  # ending twice: nothing
    assert conf.ended_at == at(45)


@pytest.mark.parametrize("before", ["scheduled", "waiting"])
def test_end_before_it_started(before: str) -> None:
    conf = new_conference()
    if before == "waiting":
        admit(conf, "bob")
    old = conf.state
    assert conf.end(at(1)) == [StateChanged(old, S.ENDED)]
    assert conf.started_at is None


def test_organiser_leaving_after_end_emits_only_the_leave() -> None:
    conf = new_conference()
    admit(conf, "ana", ORG)
    conf.end(at(10))
    assert conf.leave("ana", at(11), "ended") == [ParticipantLeft("ana", "ended")]
    assert conf.ended_at == at(10)


def test_nobody_can_be_admitted_or_invited_after_the_end() -> None:
    conf = new_conference()
    admit(conf, "ana", ORG)
    conf.leave("ana", at(5))
    with pytest.raises(ConferenceError) as info:
        admit(conf, "bob", minute=6)
    assert info.value.code == "conference_ended"
    assert info.value.message == "the conference has ended"
    assert "bob" not in conf.participants
    with pytest.raises(ConferenceError) as info:
        conf.invite(Participant("cid", "Cid"))
    assert info.value.code == "conference_ended"
    # Not even the organiser brings it back.
    with pytest.raises(ConferenceError):
        admit(conf, "ana2", ORG, minute=7)
    assert conf.state is S.ENDED


# -- muting -----------------------------------------------------------------------------------


def test_set_muted_emits_only_on_change() -> None:
    conf = new_conference()
    admit(conf, "ana", ORG)
    admit(conf, "bob")
    assert conf.set_muted("bob", True) == [ParticipantChanged("bob")]
    assert state(conf, "bob") is P.MUTED
    assert conf.set_muted("bob", True) == []
    assert conf.set_muted("bob", False) == [ParticipantChanged("bob")]
    assert state(conf, "bob") is P.CONNECTED


def test_organiser_may_be_muted_individually() -> None:
    conf = new_conference()
    admit(conf, "ana", ORG)
    assert conf.set_muted("ana", True) == [ParticipantChanged("ana")]
    assert state(conf, "ana") is P.MUTED


def test_mute_all_leaves_organisers_and_absent_people_alone() -> None:
    conf = new_conference()
    admit(conf, "ana", ORG)
    admit(conf, "bob", minute=1)
    admit(conf, "cid", minute=2)
    admit(conf, "dan", minute=3)
    conf.set_muted("cid", True)  # already muted: no event for cid
    admit(conf, "eve", minute=4)
    conf.leave("eve", at(5))  # gone: untouched
    conf.invite(Participant("fay", "Fay"))  # not present: untouched
    events = conf.mute_all(True)
    assert events == [ParticipantChanged("bob"), ParticipantChanged("dan")]
    muted = {pid for pid, p in conf.participants.items() if p.muted}
    assert muted == {"bob", "cid", "dan"}
    assert conf.mute_all(True) == []

    events = conf.mute_all(False)
    assert events == [
        ParticipantChanged("bob"), ParticipantChanged("cid"), ParticipantChanged("dan"),
    ]
    assert not any(p.muted for p in conf.participants.values())


def test_mute_all_does_not_unmute_a_muted_organiser() -> None:
    conf = new_conference()
    admit(conf, "ana", ORG)
    conf.set_muted("ana", True)
    admit(conf, "bob")
    assert conf.mute_all(False) == []
    assert conf.participants["ana"].muted


# -- talking ----------------------------------------------------------------------------------


def test_talking_only_for_present_participants() -> None:
    conf = new_conference()
    admit(conf, "ana", ORG)
    admit(conf, "bob")
    assert conf.set_talking("bob", True) == [ParticipantChanged("bob")]
    assert state(conf, "bob") is P.TALKING
    assert conf.set_talking("bob", True) == []
    assert conf.set_talking("bob", False) == [ParticipantChanged("bob")]
    assert state(conf, "bob") is P.CONNECTED

    conf.invite(Participant("inv", "Invited"))
    assert conf.set_talking("inv", True) == []
    assert conf.participants["inv"].talking is False
    conf.leave("bob", at(3))
    assert conf.set_talking("bob", True) == []
    assert conf.participants["bob"].talking is False
    assert conf.set_talking("ghost", True) == []  # unknown: ignored, not an error


# -- participant state derivation ---------------------------------------------------------


def test_every_participant_state() -> None:
    conf = new_conference()
    conf.invite(Participant("inv", "Invited"))
    ringing = Participant("rng", "Ringing")
    ringing.ringing = True
    conf.invite(ringing)
    failed = Participant("fal", "Failed")
    failed.ringing = True
    failed.failure = "no answer"
    conf.invite(failed)
    admit(conf, "wai")
    assert state(conf, "wai") is P.WAITING
    admit(conf, "ana", ORG)
    admit(conf, "con")
    admit(conf, "tlk")
    conf.set_talking("tlk", True)
    admit(conf, "mut")
    conf.set_muted("mut", True)
    conf.set_talking("mut", True)  # muted wins over talking
    admit(conf, "lft")
    conf.leave("lft", at(9))

    got = {pid: state(conf, pid) for pid in conf.participants}
    assert got == {
        "inv": P.INVITED,
        "rng": P.RINGING,
        "fal": P.FAILED,
        "wai": P.CONNECTED,  # the organiser is in now
        "ana": P.CONNECTED,
        "con": P.CONNECTED,
        "tlk": P.TALKING,
        "mut": P.MUTED,
        "lft": P.LEFT,
    }
    assert set(got.values()) == set(P) - {P.WAITING}


@pytest.mark.parametrize(
    "fields, conference_state, expected",
    [
        ({}, S.ACTIVE, P.INVITED),
        ({"ringing": True}, S.ACTIVE, P.RINGING),
        ({"failure": "busy"}, S.ACTIVE, P.FAILED),
        ({"failure": "busy", "joined_at": T0, "left_at": T0}, S.ACTIVE, P.FAILED),
        ({"joined_at": T0}, S.WAITING, P.WAITING),
        ({"joined_at": T0}, S.SCHEDULED, P.WAITING),
        ({"joined_at": T0, "talking": True}, S.WAITING, P.WAITING),
        ({"joined_at": T0}, S.ACTIVE, P.CONNECTED),
        ({"joined_at": T0, "talking": True}, S.ACTIVE, P.TALKING),
        ({"joined_at": T0, "muted": True}, S.ACTIVE, P.MUTED),
        ({"joined_at": T0, "muted": True}, S.WAITING, P.MUTED),
        ({"joined_at": T0, "muted": True, "talking": True}, S.ACTIVE, P.MUTED),
        ({"joined_at": T0, "left_at": T0}, S.ACTIVE, P.LEFT),
        ({"joined_at": T0, "left_at": T0, "muted": True}, S.ENDED, P.LEFT),
        ({"joined_at": T0, "talking": True}, S.ENDED, P.CONNECTED),
        ({"muted": True}, S.ACTIVE, P.INVITED),
    ],
)
def test_state_in(fields: dict, conference_state: ConferenceState, expected: P) -> None:
    p = Participant("p", "P", **fields)
    assert p.state_in(conference_state) is expected


def test_present_means_joined_and_not_left() -> None:
    assert not Participant("p", "P").present
    assert Participant("p", "P", joined_at=T0).present
    assert not Participant("p", "P", joined_at=T0, left_at=T0).present


def test_enum_values_are_the_wire_strings() -> None:
    assert [s.value for s in S] == ["scheduled", "waiting", "active", "ended"]
    assert [m.value for m in Mode] == ["web", "dial-in", "dial-out"]
    assert [r.value for r in Role] == ["organizer", "participant"]
    assert [p.value for p in P] == [
        "invited", "ringing", "waiting", "connected", "talking", "muted", "left", "failed",
    ]


# -- a whole session ----------------------------------------------------------------------------


def test_whole_session_event_log() -> None:
    conf = new_conference()
    log = []
    log += admit(conf, "bob", minute=1)
    log += admit(conf, "ana", ORG, minute=2)
    log += conf.set_talking("bob", True)
    log += conf.mute_all(True)
    log += conf.set_talking("bob", False)
    log += conf.leave("bob", at(20))
    log += conf.leave("ana", at(30))
    assert log == [
        ParticipantJoined("bob"),
        StateChanged(S.SCHEDULED, S.WAITING),
        ParticipantJoined("ana"),
        StateChanged(S.WAITING, S.ACTIVE),
        ParticipantChanged("bob"),  # talking
        ParticipantChanged("bob"),  # muted
        ParticipantChanged("bob"),  # not talking
        ParticipantLeft("bob", "left"),
        ParticipantLeft("ana", "left"),
        StateChanged(S.ACTIVE, S.ENDED),
    ]
    assert (conf.started_at, conf.ended_at) == (at(2), at(30))
