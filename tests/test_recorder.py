"""Recording a conference: real tones through the engine, a real Ogg/Opus file decoded back."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from server.media import messages as m
from server.media.engine import MediaEngine
from server.media.mixer import FRAME_SAMPLES, SAMPLE_RATE
from server.media.prompts import PromptLibrary, decode_file
from server.media.recorder import OggOpusWriter, Recorder

from .support.audio import rms_db, sine, tone_level
from .test_engine import TonePort, conference


@pytest.fixture(scope="module")
def prompts() -> PromptLibrary:
    return PromptLibrary.load()


def run(engine: MediaEngine, first: int, count: int) -> int:
    """Tick the clock by hand; the number of the next tick."""
    for n in range(first, first + count):
        engine.tick(n)
    return first + count


def complete(path: Path) -> bool:
    """The file is there under its own name, and no ``.part`` is left beside it."""
    return path.exists() and not Path(f"{path}.part").exists()


def in_progress(path: Path) -> bool:
    return Path(f"{path}.part").exists() and not path.exists()


def frames(audio: np.ndarray, first: int, count: int) -> np.ndarray:
    return audio[first * FRAME_SAMPLES : (first + count) * FRAME_SAMPLES]


async def test_recording_holds_what_a_silent_listener_hears(
    prompts: PromptLibrary, tmp_path: Path
) -> None:
    engine, ports = await conference(prompts, {"listener": 0})
    for leg_id, freq in (("a", 440), ("b", 880), ("muted", 1320)):
        engine.add_leg("c", leg_id, TonePort(freq))
    assert await engine.request(m.SetMuted("muted", True)) == m.Done()
    path = tmp_path / "weekly.ogg"
    assert await engine.request(m.StartRecording("c", str(path))) == m.Done()
    assert in_progress(path)

    n = run(engine, 0, 10)
    # A room-wide beep is recorded; a prompt for one leg alone (its welcome) is not.
    assert await engine.request(m.PlayPrompts("c", ("beep",))) == m.Done()
    assert await engine.request(m.SetGreeting("c", sine(2000, 0.5, 0.5))) == m.Done()
    welcome = m.PlayPrompts("c", ("welcome",), leg_ids=("listener",), exclusive=True)
    assert await engine.request(welcome) == m.Done()
    n = run(engine, n, 40)
    assert ports["listener"].last().any()  # the listener did hear the 2 kHz greeting

    reply = await engine.request(m.StopRecording("c"))
    assert reply == m.RecordingStopped("c", 1.0, str(path))
    assert complete(path)

    audio = decode_file(path)
    assert audio.size == pytest.approx(n * FRAME_SAMPLES, abs=FRAME_SAMPLES)
    steady = audio[FRAME_SAMPLES * 20 :]  # after the beep
    for freq in (440, 880):
        assert tone_level(steady, freq) == pytest.approx(-12.0, abs=2.0)  # sent at -12 dBFS
    assert tone_level(steady, 1320) < -50  # muted
    assert tone_level(audio, 2000) < -50  # one leg's exclusive prompt
    assert tone_level(frames(audio, 10, 7), 1000) > -20  # the room's beep...
    assert tone_level(frames(audio, 0, 9), 1000) < -50  # ...only when it played
    await engine.stop()


async def test_an_empty_room_records_silence_on_the_clock(
    prompts: PromptLibrary, tmp_path: Path
) -> None:
    engine, _ = await conference(prompts, {})
    path = tmp_path / "quiet.ogg"
    assert await engine.request(m.StartRecording("c", str(path))) == m.Done()
    run(engine, 0, 25)
    assert await engine.request(m.StopRecording("c")) == m.RecordingStopped("c", 0.5, str(path))
    audio = decode_file(path)
    assert audio.size == pytest.approx(25 * FRAME_SAMPLES, abs=FRAME_SAMPLES)
    assert rms_db(audio) < -80


async def test_closing_the_conference_finishes_the_file(
    prompts: PromptLibrary, tmp_path: Path
) -> None:
    engine, ports = await conference(prompts, {"listener": 0})
    engine.add_leg("c", "a", TonePort(440))
    path = tmp_path / "closed.ogg"
    assert await engine.request(m.StartRecording("c", str(path))) == m.Done()
    n = run(engine, 0, 20)
    # The reply comes once the file is complete, while the farewell still plays.
    assert await engine.request(m.CloseConference("c", farewell=("closing",))) == m.Done()
    assert complete(path)
    audio = decode_file(path)
    assert audio.size == pytest.approx(20 * FRAME_SAMPLES, abs=FRAME_SAMPLES)
    assert tone_level(audio, 440) == pytest.approx(-12.0, abs=2.0)
    refused = await engine.request(m.StopRecording("c"))
    assert isinstance(refused, m.Refused) and refused.reason == "not_recording"
    run(engine, n, 5)  # the farewell goes on; the recording does not
    assert decode_file(path).size == audio.size
    assert not ports["listener"].closed
    await engine.stop()


async def test_stopping_the_engine_finishes_recordings(
    prompts: PromptLibrary, tmp_path: Path
) -> None:
    engine, _ = await conference(prompts, {"a": 3000})
    path = tmp_path / "shutdown.ogg"
    assert await engine.request(m.StartRecording("c", str(path))) == m.Done()
    run(engine, 0, 10)
    await engine.stop()
    assert decode_file(path).size == pytest.approx(10 * FRAME_SAMPLES, abs=FRAME_SAMPLES)


async def test_recording_refusals(prompts: PromptLibrary, tmp_path: Path) -> None:
    engine, _ = await conference(prompts, {"a": 0})
    path = str(tmp_path / "r.ogg")
    refused = await engine.request(m.StopRecording("c"))
    assert isinstance(refused, m.Refused) and refused.reason == "not_recording"
    refused = await engine.request(m.StartRecording("nope", path))
    assert isinstance(refused, m.Refused) and refused.reason == "unknown_conference"
    refused = await engine.request(m.StartRecording("c", str(tmp_path / "no" / "dir.ogg")))
    assert isinstance(refused, m.Refused) and refused.reason == "recording_failed"

    assert await engine.request(m.StartRecording("c", path)) == m.Done()
    refused = await engine.request(m.StartRecording("c", str(tmp_path / "other.ogg")))
    assert isinstance(refused, m.Refused) and refused.reason == "already_recording"
    run(engine, 0, 3)
    assert isinstance(await engine.request(m.StopRecording("c")), m.RecordingStopped)
    refused = await engine.request(m.StopRecording("c"))
    assert isinstance(refused, m.Refused) and refused.reason == "not_recording"
    await engine.stop()


class StalledWriter(OggOpusWriter):
    """A real writer on a disk that hangs until released."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.release = threading.Event()

    def write(self, frame: np.ndarray) -> None:
        self.release.wait()
        super().write(frame)


async def test_a_stalled_writer_drops_frames_but_never_blocks_the_clock(tmp_path: Path) -> None:
    writers: list[StalledWriter] = []

    def factory(path: str) -> StalledWriter:
        writers.append(StalledWriter(path))
        return writers[-1]

    recorder = Recorder(tmp_path / "slow.ogg", max_queued=10, writer_factory=factory)
    await recorder.start()
    frame = np.zeros(FRAME_SAMPLES, dtype=np.int16)
    began = time.perf_counter()
    for _ in range(100):
        recorder.offer(frame)
    assert time.perf_counter() - began < 0.05
    assert 100 - 11 <= recorder.dropped <= 100 - 10  # the writer may hold one
    writers[0].release.set()
    seconds = await recorder.stop()
    assert seconds * SAMPLE_RATE / FRAME_SAMPLES == 100 - recorder.dropped
    assert decode_file(tmp_path / "slow.ogg").size == pytest.approx(
        seconds * SAMPLE_RATE, abs=FRAME_SAMPLES
    )


class FullDiskWriter(OggOpusWriter):
    """A real writer whose disk fills up after a few frames."""

    def write(self, frame: np.ndarray) -> None:
        if self.frames == 5:
            raise OSError(28, "No space left on device")
        super().write(frame)


async def test_a_failed_recording_never_looks_complete(tmp_path: Path) -> None:
    path = tmp_path / "full.ogg"
    recorder = Recorder(path, writer_factory=FullDiskWriter)
    await recorder.start()
    for _ in range(20):
        recorder.offer(np.zeros(FRAME_SAMPLES, dtype=np.int16))
    with pytest.raises(OSError, match="No space left"):
        await recorder.stop()
    assert in_progress(path)  # only the .part, for whoever wants to salvage it
