"""What a joiner hears (welcome, beep, the waiting prompt) and what the others hear."""

from __future__ import annotations

import numpy as np

from ..conftest import InProcess
from ..support.audio import rms_db, tone_level
from ..support.client import Participant, wait_until

WINDOW = 4800  # 100 ms


def windows(samples: np.ndarray) -> list[np.ndarray]:
    return [samples[i : i + WINDOW] for i in range(0, samples.size - WINDOW, WINDOW // 2)]


def beep_at(samples: np.ndarray) -> int | None:
    """Index of the first 100 ms window dominated by the 1 kHz beep."""
    for i, w in enumerate(windows(samples)):
        if tone_level(w, 1000) > -25 and tone_level(w, 1000) > rms_db(w) - 3:
            return i
    return None


def heard(p: Participant) -> np.ndarray:
    return np.concatenate(p.heard) if p.heard else np.zeros(0, dtype=np.int16)


async def test_welcome_beep_waiting_and_entry_tone(service: InProcess) -> None:
    conf = await service.create_conference(language="sl")
    first = Participant(service.http, service.url, None)
    second = Participant(service.http, service.url, None)
    try:
        await first.join(conf["pin"], "Ana")
        # Speech first (the welcome), then the beep, then speech again (the
        # waiting prompt: the organiser is not in yet), then silence.
        await wait_until(lambda: beep_at(heard(first)) is not None, within=15)
        audio = heard(first)
        beep = beep_at(audio)
        assert beep is not None
        before = audio[: beep * WINDOW // 2]
        assert rms_db(before) > -40, "no welcome before the beep"
        await wait_until(lambda: heard(first).size > audio.size + 48000 * 3, within=10)
        after = heard(first)[(beep + 4) * WINDOW // 2 :]
        assert rms_db(after[: 48000 * 2]) > -40, "no waiting prompt after the beep"

        await wait_until(lambda: rms_db(first.last(0.5)) < -60, within=15)
        mark = heard(first).size
        await second.join(conf["pin"], "Bor")
        # The one already in hears the entry chime (659 Hz then 880 Hz).
        await wait_until(
            lambda: tone_level(heard(first)[mark:], 659) > -30
            and tone_level(heard(first)[mark:], 880) > -30,
            within=10,
        )
    finally:
        await first.close()
        await second.close()
