"""A phone caller's way in (PIN prompt) and keypad commands once in: pure logic.

Inputs are what happened (answered, a digit, prompts finished, the PIN's
verdict, a timer); outputs are actions for the shell to carry out. Time is
passed in. Digits typed while a prompt plays count (barge-in) and stop it.

Keypad in the conference: ``*6`` mute/unmute self, ``*1`` help; organisers also
``*5`` mute/unmute everyone else, ``*7`` lock/unlock, ``*9`` how many are in.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

MAX_PIN_DIGITS = 16
MAX_ATTEMPTS = 3
FIRST_DIGIT_TIMEOUT = 15.0
INTER_DIGIT_TIMEOUT = 6.0
STAR_TIMEOUT = 3.0


class Verdict(enum.Enum):
    OK = "ok"
    WRONG = "wrong"
    #: too many wrong PINs from this caller recently (across calls)
    THROTTLED = "throttled"
    LOCKED = "locked"


class Command(enum.Enum):
    TOGGLE_MUTE = "6"
    HELP = "1"
    TOGGLE_MUTE_ALL = "5"
    TOGGLE_LOCK = "7"
    COUNT = "9"


ORGANIZER_COMMANDS = frozenset({Command.TOGGLE_MUTE_ALL, Command.TOGGLE_LOCK, Command.COUNT})


# Actions ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Play:
    prompts: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class StopPrompts:
    pass


@dataclass(frozen=True, slots=True)
class CheckPin:
    pin: str


@dataclass(frozen=True, slots=True)
class RunCommand:
    command: Command


@dataclass(frozen=True, slots=True)
class HangUp:
    """End the call after the caller has heard ``farewell`` (media plays it, then closes)."""

    farewell: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Accept:
    """The called person pressed 1: put them into the conference."""


Action = Play | StopPrompts | CheckPin | RunCommand | HangUp | Accept


class Stage(enum.Enum):
    ANSWERED = "answered"
    PRESS_ONE = "press_one"
    PIN = "pin"
    CHECKING = "checking"
    JOINED = "joined"
    LEAVING = "leaving"


class CallFlow:
    def __init__(self) -> None:
        self.stage = Stage.ANSWERED
        self.attempts = 0
        self.role: str | None = None
        self._digits = ""
        self._prompting = False
        self._deadline: float | None = None
        self._star = False

    # -- queries -------------------------------------------------------------

    def next_timer(self) -> float | None:
        return self._deadline

    # -- inputs --------------------------------------------------------------

    def start(self, now: float) -> list[Action]:
        """The call is answered and media flows: ask for the PIN."""
        self.stage = Stage.PIN
        return self._ask(now, ("enter_pin",))

    def ask_to_press_one(self, now: float) -> list[Action]:
        """A called phone answered: have a person press 1, so voicemail never joins."""
        self.stage = Stage.PRESS_ONE
        return self._ask(now, ("press_one",))

    def joined(self, role: str) -> None:
        """In the conference without a PIN (a call the bridge placed)."""
        self.stage = Stage.JOINED
        self.role = role
        self._deadline = None

    def digit(self, digit: str, now: float) -> list[Action]:
        if self.stage is Stage.PRESS_ONE:
            if digit != "1":
                return []
            self.stage = Stage.CHECKING
            self._deadline = None
            actions: list[Action] = [StopPrompts()] if self._prompting else []
            self._prompting = False
            return [*actions, Accept()]
        if self.stage is Stage.PIN:
            return self._pin_digit(digit, now)
        if self.stage is Stage.JOINED:
            return self._keypad(digit, now)
        return []

    def timer(self, now: float) -> list[Action]:
        if self._deadline is None or now < self._deadline:
            return []
        self._deadline = None
        if self.stage is Stage.PRESS_ONE:
            self.attempts += 1
            if self.attempts >= 2:
                return self._leave(())  # nobody pressed 1: voicemail, or nobody there
            return self._ask(now, ("press_one",))
        if self.stage is Stage.PIN:
            if self._digits:
                # The caller stopped typing without '#': try what they typed.
                return self._submit(now)
            return self._wrong(now)
        if self.stage is Stage.JOINED:
            self._star = False
        return []

    def verdict(self, verdict: Verdict, now: float, role: str | None = None) -> list[Action]:
        if self.stage is not Stage.CHECKING:
            return []
        if verdict is Verdict.OK:
            self.joined(role or "participant")
            return []
        if verdict is Verdict.THROTTLED:
            return self._leave(("too_many_attempts",))
        if verdict is Verdict.LOCKED:
            return self._leave(("conference_locked_join",))
        return self._wrong(now)

    def leave(self, prompts: tuple[str, ...] = ()) -> list[Action]:
        """End the call from our side (the conference ended, the caller was removed)."""
        return self._leave(prompts)

    # -- internals -------------------------------------------------------------

    def _ask(self, now: float, prompts: tuple[str, ...]) -> list[Action]:
        self._digits = ""
        self._prompting = True
        self._deadline = now + FIRST_DIGIT_TIMEOUT
        return [Play(prompts)]

    def _pin_digit(self, digit: str, now: float) -> list[Action]:
        actions: list[Action] = []
        if self._prompting:
            self._prompting = False
            actions.append(StopPrompts())
        if digit == "#":
            return actions + self._submit(now)
        if digit == "*":
            self._digits = ""  # start over
        elif digit.isdigit() and len(self._digits) < MAX_PIN_DIGITS:
            self._digits += digit
        self._deadline = now + INTER_DIGIT_TIMEOUT
        return actions

    def _submit(self, now: float) -> list[Action]:
        if not self._digits:
            return self._wrong(now)
        self.stage = Stage.CHECKING
        self._deadline = None
        pin, self._digits = self._digits, ""
        return [CheckPin(pin)]

    def _wrong(self, now: float) -> list[Action]:
        self.attempts += 1
        if self.attempts >= MAX_ATTEMPTS:
            return self._leave(("wrong_pin", "too_many_attempts"))
        self.stage = Stage.PIN
        return self._ask(now, ("wrong_pin", "enter_pin"))

    def _leave(self, prompts: tuple[str, ...]) -> list[Action]:
        if self.stage is Stage.LEAVING:
            return []
        self.stage = Stage.LEAVING
        self._deadline = None
        return [HangUp(prompts)]

    def _keypad(self, digit: str, now: float) -> list[Action]:
        if digit == "*":
            self._star = True
            self._deadline = now + STAR_TIMEOUT
            return []
        if not self._star:
            return []
        self._star = False
        self._deadline = None
        try:
            command = Command(digit)
        except ValueError:
            return []
        if command in ORGANIZER_COMMANDS and self.role != "organizer":
            return []
        return [RunCommand(command)]
