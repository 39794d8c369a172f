"""The caller's way in: PIN prompt, barge-in, three tries, keypad commands."""

from __future__ import annotations

from gateway.ivr import (
    FIRST_DIGIT_TIMEOUT,
    INTER_DIGIT_TIMEOUT,
    CallFlow,
    CheckPin,
    Command,
    HangUp,
    Play,
    RunCommand,
    Stage,
    StopPrompts,
    Verdict,
)


def type_digits(flow: CallFlow, digits: str, now: float = 1.0) -> list[object]:
    actions: list[object] = []
    for d in digits:
        actions += flow.digit(d, now)
    return actions


def test_pin_with_barge_in() -> None:
    flow = CallFlow()
    assert flow.start(0.0) == [Play(("enter_pin",))]
    # The first digit interrupts the prompt; the rest just collect.
    actions = type_digits(flow, "1234#")
    assert actions == [StopPrompts(), CheckPin("1234")]
    assert flow.stage is Stage.CHECKING
    assert flow.verdict(Verdict.OK, 2.0, role="organizer") == []
    assert flow.stage is Stage.JOINED and flow.role == "organizer"
    assert flow.next_timer() is None


def test_star_starts_the_pin_over() -> None:
    flow = CallFlow()
    flow.start(0.0)
    assert type_digits(flow, "99*5678#")[-1] == CheckPin("5678")


def test_three_wrong_pins_then_goodbye() -> None:
    flow = CallFlow()
    flow.start(0.0)
    for attempt in (1, 2):
        assert type_digits(flow, "1111#")[-1] == CheckPin("1111")
        assert flow.verdict(Verdict.WRONG, 2.0) == [Play(("wrong_pin", "enter_pin"))]
        assert flow.attempts == attempt and flow.stage is Stage.PIN
    type_digits(flow, "1111#")
    assert flow.verdict(Verdict.WRONG, 3.0) == [HangUp(("wrong_pin", "too_many_attempts"))]
    assert flow.stage is Stage.LEAVING
    assert type_digits(flow, "1234#") == []  # too late


def test_silence_counts_as_a_try_and_a_pause_submits() -> None:
    flow = CallFlow()
    flow.start(0.0)
    assert flow.next_timer() == FIRST_DIGIT_TIMEOUT
    assert flow.timer(FIRST_DIGIT_TIMEOUT - 0.1) == []
    assert flow.timer(FIRST_DIGIT_TIMEOUT) == [Play(("wrong_pin", "enter_pin"))]
    assert flow.attempts == 1
    flow.digit("4", 20.0)
    flow.digit("2", 20.5)
    assert flow.next_timer() == 20.5 + INTER_DIGIT_TIMEOUT
    assert flow.timer(20.5 + INTER_DIGIT_TIMEOUT) == [CheckPin("42")]


def test_throttled_and_locked_callers_hear_why() -> None:
    flow = CallFlow()
    flow.start(0.0)
    type_digits(flow, "1#")
    assert flow.verdict(Verdict.THROTTLED, 1.0) == [HangUp(("too_many_attempts",))]
    locked = CallFlow()
    locked.start(0.0)
    type_digits(locked, "1#")
    assert locked.verdict(Verdict.LOCKED, 1.0) == [HangUp(("conference_locked_join",))]


def joined(role: str) -> CallFlow:
    flow = CallFlow()
    flow.start(0.0)
    type_digits(flow, "1#")
    flow.verdict(Verdict.OK, 1.0, role=role)
    return flow


def test_keypad_commands() -> None:
    guest = joined("participant")
    assert type_digits(guest, "*6") == [RunCommand(Command.TOGGLE_MUTE)]
    assert type_digits(guest, "*1") == [RunCommand(Command.HELP)]
    assert type_digits(guest, "6") == []  # no star, no command
    # Organiser commands are the organiser's.
    assert type_digits(guest, "*5*7*9") == []
    organizer = joined("organizer")
    assert type_digits(organizer, "*5*7*9") == [
        RunCommand(Command.TOGGLE_MUTE_ALL),
        RunCommand(Command.TOGGLE_LOCK),
        RunCommand(Command.COUNT),
    ]
    # A star left alone expires.
    organizer.digit("*", 10.0)
    organizer.timer(10.0 + 5)
    assert organizer.digit("6", 16.0) == []


def test_leaving_from_our_side() -> None:
    flow = joined("participant")
    assert flow.leave(("removed",)) == [HangUp(("removed",))]
    assert flow.leave(("closing",)) == []


def test_press_one_before_joining() -> None:
    from gateway.ivr import Accept

    flow = CallFlow()
    assert flow.ask_to_press_one(0.0) == [Play(("press_one",))]
    assert flow.digit("5", 1.0) == []  # only 1 counts
    assert flow.digit("1", 1.5) == [StopPrompts(), Accept()]
    flow.joined("participant")
    assert flow.stage is Stage.JOINED


def test_nobody_presses_one() -> None:
    flow = CallFlow()
    flow.ask_to_press_one(0.0)
    assert flow.timer(FIRST_DIGIT_TIMEOUT) == [Play(("press_one",))]
    assert flow.timer(2 * FIRST_DIGIT_TIMEOUT) == [HangUp(())]
