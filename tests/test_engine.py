"""The media engine with fake ports: exact samples in, exact samples out."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from server.media import messages as m
from server.media.codecs import EncodedFrame
from server.media.engine import MediaEngine
from server.media.mixer import FRAME_SAMPLES, SAMPLE_RATE
from server.media.prompts import PromptLibrary, beep, entry_tone

from .support.audio import dominant_frequency, sine


class RawEncoder:
    """Encodes nothing away: the payload is the int16 samples, so tests read them back."""

    name = "raw"
    calls = 0

    def encode(self, pcm: np.ndarray) -> bytes:
        RawEncoder.calls += 1
        return pcm.astype("<i2").tobytes()


class FakePort:
    codec = "raw"

    def __init__(self, level: int = 0) -> None:
        self.connected = True
        self.level = level
        self.sent: list[EncodedFrame] = []
        self.closed = False

    def read_frame(self) -> np.ndarray | None:
        if self.level == 0:
            return None
        return np.full(FRAME_SAMPLES, self.level, dtype=np.int16)

    def new_encoder(self) -> RawEncoder:
        return RawEncoder()

    def write(self, frame: EncodedFrame) -> None:
        self.sent.append(frame)

    async def close(self) -> None:
        self.closed = True

    def last(self) -> np.ndarray:
        return np.frombuffer(self.sent[-1].payload, dtype="<i2")


class TonePort(FakePort):
    """A caller holding a note: a continuous sine, its phase carried across frames."""

    def __init__(self, freq: float, amplitude: float = 0.25) -> None:
        super().__init__(level=1)
        self.freq = freq
        self.amplitude = amplitude
        self._sample = 0

    def read_frame(self) -> np.ndarray | None:
        t = (self._sample + np.arange(FRAME_SAMPLES)) / SAMPLE_RATE
        self._sample += FRAME_SAMPLES
        return (np.sin(2 * np.pi * self.freq * t) * self.amplitude * 32767).astype(np.int16)


def heard(port: FakePort, frames: int) -> np.ndarray:
    """The last ``frames`` frames the leg was sent, as one signal."""
    payloads = [np.frombuffer(f.payload, dtype="<i2") for f in port.sent[-frames:]]
    return np.concatenate(payloads)


@pytest.fixture(scope="module")
def prompts() -> PromptLibrary:
    return PromptLibrary.load()


async def conference(
    prompts: PromptLibrary, levels: dict[str, int], events: list[m.MediaEvent] | None = None
) -> tuple[MediaEngine, dict[str, FakePort]]:
    sink = events.append if events is not None else None
    engine = MediaEngine(prompts, max_speakers=8, on_event=sink)
    assert await engine.request(m.OpenConference("c", "en")) == m.Done()
    assert await engine.request(m.SetMixing("c", True)) == m.Done()
    ports = {name: FakePort(level) for name, level in levels.items()}
    for name, port in ports.items():
        engine.add_leg("c", name, port)
    return engine, ports


async def test_mix_minus_through_the_engine(prompts: PromptLibrary) -> None:
    engine, ports = await conference(prompts, {"a": 3000, "b": 5000, "quiet": 0, "d": 0})
    engine.tick(0)
    assert ports["a"].last().tolist() == [5000] * FRAME_SAMPLES
    assert ports["b"].last().tolist() == [3000] * FRAME_SAMPLES
    # Listeners share one stream: the same encoded frame object.
    assert ports["quiet"].sent[-1] is ports["d"].sent[-1]
    assert ports["quiet"].last().tolist() == [8000] * FRAME_SAMPLES
    assert all(p.sent[-1].pts == 0 for p in ports.values())
    engine.tick(1)
    assert all(p.sent[-1].pts == FRAME_SAMPLES for p in ports.values())


async def test_muted_and_waiting(prompts: PromptLibrary) -> None:
    engine, ports = await conference(prompts, {"a": 3000, "b": 5000, "c": 0})
    assert await engine.request(m.SetMuted("b", True)) == m.Done()
    engine.tick(0)
    assert ports["c"].last().max() == 3000
    assert ports["a"].last().max() == 0  # a hears nobody: b is muted
    assert await engine.request(m.SetMixing("c", False)) == m.Done()
    engine.tick(1)
    assert all(p.last().max() == 0 for p in ports.values())


async def test_talking_events(prompts: PromptLibrary) -> None:
    events: list[m.MediaEvent] = []
    engine, ports = await conference(prompts, {"a": 3000, "b": 0}, events)
    engine.tick(0)
    assert events == [m.LegTalking("a", True)]
    ports["a"].level = 0
    for n in range(1, 40):
        engine.tick(n)
    assert events[-1] == m.LegTalking("a", False)


async def test_room_tone_is_encoded_once_per_stream(prompts: PromptLibrary) -> None:
    levels = {f"p{i}": 0 for i in range(50)} | {"talker": 4000, "new": 0}
    engine, ports = await conference(prompts, levels)
    engine.tick(0)
    tone = entry_tone()
    await engine.request(m.PlayPrompts("c", ("entry_tone",), except_leg_id="new"))
    before = RawEncoder.calls
    engine.tick(1)
    # One shared stream, the talker's own, and the spared newcomer's: three encodes.
    assert RawEncoder.calls - before == 3
    expected = np.clip(tone[:FRAME_SAMPLES].astype(np.int32) + 4000, -32768, 32767)
    assert ports["p7"].last().tolist() == expected.tolist()
    assert ports["talker"].last().tolist() == tone[:FRAME_SAMPLES].tolist()
    assert ports["new"].last().tolist() == [4000] * FRAME_SAMPLES


async def test_exclusive_prompt_then_farewell_closes(prompts: PromptLibrary) -> None:
    events: list[m.MediaEvent] = []
    engine, ports = await conference(prompts, {"a": 3000, "b": 0}, events)
    welcome = prompts.get("en", "welcome")
    await engine.request(m.PlayPrompts("c", ("welcome",), leg_ids=("a",), exclusive=True))
    engine.tick(0)
    # a hears the prompt alone and is kept out of the mix while it plays.
    assert ports["a"].last().tolist() == welcome[:FRAME_SAMPLES].tolist()
    assert ports["b"].last().max() == 0
    await engine.request(m.CloseConference("c", farewell=("closing",)))
    ticks = 1
    while not ports["a"].closed and ticks < 2000:
        engine.tick(ticks)
        ticks += 1
        await asyncio.sleep(0)
    closing = prompts.get("en", "closing")
    assert ticks - 1 == pytest.approx(closing.size / FRAME_SAMPLES, abs=1)
    assert {e for e in events if isinstance(e, m.LegClosed)} == {
        m.LegClosed("a", "farewell"),
        m.LegClosed("b", "farewell"),
    }
    assert engine.stats()["conferences"] == 0


async def test_refusals(prompts: PromptLibrary) -> None:
    engine, _ = await conference(prompts, {"a": 0})
    assert isinstance(await engine.request(m.SetMuted("nobody", True)), m.Refused)
    assert isinstance(await engine.request(m.SetMixing("nope", True)), m.Refused)
    refused = await engine.request(m.PlayPrompts("c", ("no_such_prompt",)))
    assert isinstance(refused, m.Refused) and refused.reason == "unknown_prompt"


async def join_and_listen(
    engine: MediaEngine, leg_id: str, first_tick: int, ticks: int
) -> tuple[FakePort, np.ndarray]:
    """A listener joins the way the service greets one, and hears ``ticks`` frames."""
    port = FakePort()
    engine.add_leg("c", leg_id, port)
    greet = m.PlayPrompts("c", ("welcome", "beep"), leg_ids=(leg_id,), exclusive=True)
    assert await engine.request(greet) == m.Done()
    for n in range(first_tick, first_tick + ticks):
        engine.tick(n)
    return port, heard(port, ticks)


async def test_custom_greeting_stands_in_for_welcome(prompts: PromptLibrary) -> None:
    engine, _ = await conference(prompts, {"talker": 3000})
    greeting = sine(660, 0.5, 0.3)
    assert await engine.request(m.SetGreeting("c", greeting)) == m.Done()
    expected = greeting.copy()
    greeting[:] = 0  # the sender's array changes afterwards: the engine kept its own

    ticks = 40  # 0.5 s of greeting, 0.15 s of beep, then the room
    _, audio = await join_and_listen(engine, "new", 0, ticks)
    assert audio[: expected.size].tolist() == expected.tolist()
    assert dominant_frequency(audio[: expected.size]) == pytest.approx(660, abs=5)
    tone = beep()
    after = audio[expected.size : expected.size + tone.size]
    assert after.tolist() == tone.tolist()  # the beep still follows
    assert audio[-FRAME_SAMPLES:].tolist() == [3000] * FRAME_SAMPLES  # then the talker

    # None brings the standard welcome back, for the next one to join.
    assert await engine.request(m.SetGreeting("c", None)) == m.Done()
    welcome = prompts.get("en", "welcome")
    _, audio = await join_and_listen(engine, "later", ticks, 10)
    assert audio.tolist() == welcome[: 10 * FRAME_SAMPLES].tolist()
    assert dominant_frequency(audio) != pytest.approx(660, abs=20)


async def test_greeting_refusals(prompts: PromptLibrary) -> None:
    engine, _ = await conference(prompts, {"a": 0})
    refused = await engine.request(m.SetGreeting("nope", sine(660, 0.1)))
    assert isinstance(refused, m.Refused) and refused.reason == "unknown_conference"
    for bad in (np.zeros(0, np.int16), np.zeros((2, 960), np.int16), np.zeros(960)):
        refused = await engine.request(m.SetGreeting("c", bad))
        assert isinstance(refused, m.Refused) and refused.reason == "bad_greeting"
