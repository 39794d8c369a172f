"""DTMF: RFC 4733 events, SIP INFO bodies, in-band tones."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.dtmf import (
    DIGITS,
    InbandDtmfDetector,
    Rfc4733Receiver,
    build_event,
    parse_dtmf_info,
    parse_event,
)
from gateway.resample import Downsampler

PROMPTS = Path(__file__).resolve().parents[2] / "server" / "media" / "prompts"

# --- RFC 4733 payloads ----------------------------------------------------------------------


def test_parse_event_known_bytes() -> None:
    # Key 5, not ended, -10 dBm0, 400 units (50 ms at 8 kHz).
    assert parse_event(bytes([5, 0x0A, 0x01, 0x90])) == (5, False, 10, 400)
    # '#' ended; the reserved R bit is ignored.
    assert parse_event(bytes([11, 0xC0 | 7, 0x03, 0x20])) == (11, True, 7, 800)
    assert parse_event(bytes([1, 0x80, 0, 0]) + b"junk") == (1, True, 0, 0)
    with pytest.raises(ValueError, match="too short"):
        parse_event(b"\x01\x80\x00")


@given(st.integers(0, 255), st.booleans(), st.integers(0, 63), st.integers(0, 0xFFFF))
def test_event_round_trip(event: int, end: bool, volume: int, duration: int) -> None:
    assert parse_event(build_event(event, end, volume, duration)) == (event, end, volume, duration)


@settings(max_examples=300)
@given(st.binary(max_size=12))
def test_parse_event_fuzz(payload: bytes) -> None:
    try:
        event, end, volume, duration = parse_event(payload)
    except ValueError:
        assert len(payload) < 4
        return
    assert 0 <= event <= 255 and 0 <= volume <= 63 and 0 <= duration <= 0xFFFF
    assert isinstance(end, bool)


# --- the RFC 4733 receiver ------------------------------------------------------------------


def press(
    event: int, timestamp: int, *, updates: int = 3, ends: int = 3
) -> list[tuple[int, bytes]]:
    """The packets a phone sends for one key press: start, updates, 3 end packets."""
    packets = [(timestamp, build_event(event, False, 10, 160 * (i + 1))) for i in range(updates)]
    packets += [(timestamp, build_event(event, True, 10, 160 * (updates + 1)))] * ends
    return packets


def feed_all(receiver: Rfc4733Receiver, packets: list[tuple[int, bytes]], ssrc: int = 7) -> str:
    return "".join(d for ts, payload in packets if (d := receiver.feed(ts, payload, ssrc)))


def test_one_press_one_digit() -> None:
    assert feed_all(Rfc4733Receiver(), press(5, 1000)) == "5"


def test_retransmitted_start_and_redundant_ends() -> None:
    packets = press(9, 1000)
    packets = [packets[0], packets[0], packets[0], *packets[1:], packets[-1]]
    assert feed_all(Rfc4733Receiver(), packets) == "9"


def test_same_key_twice_is_two_digits() -> None:
    packets = press(1, 1000) + press(1, 3000)
    assert feed_all(Rfc4733Receiver(), packets) == "11"


def test_lost_start_and_lost_ends() -> None:
    # Only end packets of the first press; only a start of the second, no ends; then a third.
    packets = press(2, 1000)[-2:] + press(3, 2000)[:1] + press(3, 4000)
    assert feed_all(Rfc4733Receiver(), packets) == "233"


def test_all_keys_and_flash() -> None:
    packets = [p for event in range(17) for p in press(event, 1000 + 2000 * event)]
    assert feed_all(Rfc4733Receiver(), packets) == DIGITS  # 16 (flash) gives nothing


def test_timestamp_wrap_and_late_stragglers() -> None:
    receiver = Rfc4733Receiver()
    first = press(4, 0xFFFFFF00)
    second = press(5, 0x00000200)  # after the wrap: a later event
    # The last end packet of the first press arrives after the second press began.
    packets = first[:-1] + second[:2] + [first[-1]] + second[2:]
    assert feed_all(receiver, packets) == "45"
    # An old event never seen before, from before the newest: ignored, not reordered.
    assert receiver.feed(0xFFFFF000, build_event(8, True, 10, 800), 7) is None
    # A jump far back: the sender restarted its timestamps (e.g. re-anchored media).
    assert feed_all(receiver, press(8, 0x80000000)) == "8"
    assert feed_all(receiver, press(9, 0x80000000 + 1600)) == "9"


def test_ssrcs_are_tracked_separately() -> None:
    receiver = Rfc4733Receiver()
    # Same timestamp from two sources (e.g. the events' SSRC differs from the audio's).
    assert feed_all(receiver, press(6, 5000), ssrc=1) == "6"
    assert feed_all(receiver, press(7, 5000), ssrc=2) == "7"
    assert feed_all(receiver, press(6, 5000), ssrc=1) == ""  # a replay


def test_long_press_continues_under_a_new_timestamp() -> None:
    receiver = Rfc4733Receiver()
    # Duration reaches 0xFFFF; the sender starts a new segment at ts + 0xFFFF, no end between.
    packets = [(1000, build_event(0, False, 10, d)) for d in (160, 0x9000, 0xFFFF)]
    packets += [(1000 + 0xFFFF, build_event(0, False, 10, d)) for d in (160, 800)]
    packets += [(1000 + 0xFFFF, build_event(0, True, 10, 960))] * 3
    assert feed_all(receiver, packets) == "0"
    assert feed_all(receiver, press(0, 1000 + 0xFFFF + 3000)) == "0"  # a real new press


def test_malformed_payloads_are_counted() -> None:
    receiver = Rfc4733Receiver()
    assert receiver.feed(1, b"\x01", 7) is None
    assert receiver.malformed == 1
    assert feed_all(receiver, press(1, 100)) == "1"


# --- SIP INFO -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "body", "key"),
    [
        ("application/dtmf-relay", "Signal=5\r\nDuration=160\r\n", "5"),
        ("Application/DTMF-Relay; charset=utf-8", b"signal= #\r\nduration=100", "#"),
        ("application/dtmf-relay", "Duration=160\nSignal=*\n", "*"),
        ("application/dtmf-relay", "Signal=11\r\nDuration=160", "#"),
        ("application/dtmf-relay", "Signal=10", "*"),
        ("application/dtmf-relay", "Signal: 7", "7"),
        ("application/dtmf-relay", "Signal=a", "A"),
        ("application/dtmf-relay", "Signal=16\r\nDuration=160", None),  # flash
        ("application/dtmf-relay", "Duration=160", None),
        ("application/dtmf-relay", "Signal=x", None),
        ("application/dtmf", "5", "5"),
        ("application/dtmf", " 0\r\n", "0"),
        ("application/dtmf", "", None),
        ("text/plain", "Signal=5", None),
    ],
)
def test_parse_dtmf_info(content_type: str, body: str | bytes, key: str | None) -> None:
    assert parse_dtmf_info(content_type, body) == key


# --- in-band --------------------------------------------------------------------------------

RATE = 8000
ROWS = (697.0, 770.0, 852.0, 941.0)
COLS = (1209.0, 1336.0, 1477.0, 1633.0)
KEYPAD = ("123A", "456B", "789C", "*0#D")
DBM0 = 22_651.0  # 16-bit peak of a 0 dBm0 sine (µ-law digital milliwatt)


def tone(
    key: str,
    ms: float,
    rng: np.random.Generator,
    *,
    dbm0: float = -10.0,
    twist_db: float = 0.0,
    deviation: float = 1.0,
) -> np.ndarray:
    """One key's dual tone (per-tone level ``dbm0``; column tone ``twist_db`` louder)."""
    row = next(i for i, keys in enumerate(KEYPAD) if key in keys)
    col = KEYPAD[row].index(key)
    t = np.arange(int(ms * RATE / 1000)) / RATE
    amplitude = DBM0 * 10 ** (dbm0 / 20)
    low, high = rng.uniform(0, 2 * np.pi, 2)
    return amplitude * (
        np.sin(2 * np.pi * ROWS[row] * deviation * t + low)
        + 10 ** (twist_db / 20) * np.sin(2 * np.pi * COLS[col] * deviation * t + high)
    )


def dialled(
    keys: str, rng: np.random.Generator, on_ms: float = 50, off_ms: float = 50, **kw: float
) -> np.ndarray:
    parts = [np.zeros(int(rng.integers(0, 400)))]  # random alignment to the 10 ms hops
    for key in keys:
        parts += [tone(key, on_ms, rng, **kw), np.zeros(int(off_ms * RATE / 1000))]
    return np.concatenate([*parts, np.zeros(800)])


def to_int16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x), -32768, 32767).astype(np.int16)


def detect(signals: list[np.ndarray], block: int = 160, **options: float) -> list[str]:
    """Run every signal as one leg of one detector, ``block`` samples per call."""
    length = max(len(s) for s in signals)
    length += -length % block
    frames = np.zeros((len(signals), length), dtype=np.int16)
    for leg, signal in enumerate(signals):
        frames[leg, : len(signal)] = to_int16(signal)
    detector = InbandDtmfDetector(len(signals), **options)
    found = [""] * len(signals)
    for start in range(0, length, block):
        for leg, keys in enumerate(detector.feed(frames[:, start : start + block])):
            found[leg] += "".join(keys)
    return found


def test_every_key_with_noise_level_twist_and_frequency_error() -> None:
    rng = np.random.default_rng(11)
    signals, expected = [], []
    for _ in range(24):
        keys = "".join(rng.permutation(list(DIGITS)))
        level = rng.uniform(-25, -3)
        signal = dialled(
            keys,
            rng,
            dbm0=level,
            twist_db=rng.uniform(-6, 6),
            deviation=1 + rng.uniform(-0.015, 0.015),
        )
        snr = rng.uniform(15, 30)  # white noise, relative to one tone
        signal += rng.standard_normal(signal.size) * DBM0 * 10 ** ((level - snr) / 20)
        signals.append(signal)
        expected.append(keys)
    assert detect(signals) == expected


def test_1234_hash_at_50_ms_on_50_ms_off_in_any_block_size() -> None:
    rng = np.random.default_rng(12)
    signals = [dialled("1234#", rng) for _ in range(6)]
    for block in (160, 80, 37, 400):
        assert detect(signals, block=block) == ["1234#"] * 6


def test_repeated_key_needs_the_pause_and_short_blips_are_ignored() -> None:
    rng = np.random.default_rng(13)
    repeated = dialled("1111", rng, on_ms=45, off_ms=45)
    short = dialled("5555", rng, on_ms=20, off_ms=60)
    # A 10 ms gap inside one key press is not a pause: still one "9".
    interrupted = np.concatenate(
        [tone("9", 60, rng), np.zeros(80), tone("9", 60, rng), np.zeros(800)]
    )
    too_quiet = dialled("7", rng, dbm0=-40)
    too_much_twist = dialled("7", rng, twist_db=12)
    found = detect([repeated, short, interrupted, too_quiet, too_much_twist])
    assert found == ["1111", "", "9", "", ""]


def vibrato_voice(seconds: float, f0: float, rng: np.random.Generator) -> np.ndarray:
    """Speech-like: a harmonic-rich buzz with vibrato and drifting pitch."""
    t = np.arange(int(seconds * RATE)) / RATE
    pitch = f0 * (1 + 0.03 * np.sin(2 * np.pi * 5.5 * t) + 0.08 * np.sin(2 * np.pi * 0.7 * t))
    phase = 2 * np.pi * np.cumsum(pitch) / RATE
    harmonics = range(1, int(3600 / (f0 * 1.1)))
    voice = sum(np.sin(k * phase + rng.uniform(0, 6)) / k for k in harmonics)
    return voice / np.abs(voice).max() * 12000


def test_speech_like_signals_give_no_digits() -> None:
    rng = np.random.default_rng(14)
    voices = [vibrato_voice(1.5, f0, rng) for f0 in np.linspace(80, 320, 16)]
    # Two-tone chords that are not DTMF pairs (both rows, or off by 5 %).
    chords = [
        tone("1", 500, rng) + tone("4", 500, rng),
        tone("5", 500, rng, deviation=1.05),
    ]
    assert detect(voices + chords) == [""] * len(voices + chords)


def decode_prompt(path: Path) -> np.ndarray:
    """A prompt via PyAV at 48 kHz mono int16, then our own resampler to 8 kHz."""
    resampler = av.AudioResampler(format="s16", layout="mono", rate=48000)
    chunks = []
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
    pcm = np.concatenate(chunks).astype(np.int16)
    return Downsampler(8000).process(pcm[: pcm.size // 6 * 6])


def test_spoken_prompt_gives_no_digits() -> None:
    speech = decode_prompt(PROMPTS / "en" / "help.ogg")
    assert speech.size > 8000  # seconds of speech
    louder = to_int16(speech.astype(np.float64) * 3)  # and hot, clipping speech
    assert detect([speech.astype(np.float64), louder.astype(np.float64)]) == ["", ""]
    # Speech and a key press on the same leg: the key is still found.
    mixed = speech.astype(np.float64) * 0.3
    mixed[8000 : 8000 + 480] += tone("#", 60, np.random.default_rng(15), dbm0=-6)
    assert detect([mixed]) == ["#"]


def test_legs_come_and_go() -> None:
    rng = np.random.default_rng(16)
    three, six = to_int16(dialled("3", rng)), to_int16(dialled("6", rng))
    length = max(three.size, six.size) // 160 * 160
    detector = InbandDtmfDetector(legs=1)
    assert detector.add_legs(2) == range(1, 3)
    frames = np.zeros((3, length), np.int16)
    frames[2] = three[:length]
    assert detector.feed(frames) == [[], [], ["3"]]
    detector.remove_legs([0])  # rows 1 and 2 become 0 and 1
    frames = np.zeros((2, length), np.int16)
    frames[1] = six[:length]
    assert detector.feed(frames) == [[], ["6"]]
    # Slot 1 is reused while a tone plays: the new leg's press is its own.
    frames = np.zeros((2, 2400), np.int16)
    frames[1] = to_int16(tone("9", 300, rng))
    assert detector.feed(frames[:, :1600]) == [[], ["9"]]
    assert detector.feed(frames[:, 1600:1920]) == [[], []]  # still the same press
    detector.reset(1)
    assert detector.feed(frames[:, 1920:]) == [[], ["9"]]
    with pytest.raises(ValueError):
        detector.feed(np.zeros((3, 160), np.int16))


def test_one_dimensional_frames() -> None:
    detector = InbandDtmfDetector()
    signal = to_int16(dialled("8", np.random.default_rng(17)))
    keys = [
        k for i in range(0, signal.size - 160, 160) for k in detector.feed(signal[i : i + 160])[0]
    ]
    assert keys == ["8"]
