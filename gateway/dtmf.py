"""DTMF from phones, whichever way it arrives.

Pure logic, no I/O and no clock (time is passed in):

- RFC 4733 telephone-events: :func:`parse_event` / :func:`build_event` for one
  payload and :class:`Rfc4733Receiver`, which turns the redundant packet
  stream of a key press into exactly one digit;
- SIP INFO bodies (``application/dtmf-relay`` and ``application/dtmf``):
  :func:`parse_dtmf_info`;
- in-band tones as the fallback: :class:`InbandDtmfDetector`, a Goertzel-style
  detector vectorised over all legs at once.

Assembling digits into a PIN (barge-in, tries, keypad commands) is the IVR's
job: ``gateway.ivr``.
"""

from __future__ import annotations

import struct
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

__all__ = [
    "DIGITS",
    "InbandDtmfDetector",
    "Rfc4733Receiver",
    "build_event",
    "parse_dtmf_info",
    "parse_event",
]

DIGITS: Final = "0123456789*#ABCD"
"""The key of each RFC 4733 DTMF event code 0..15 (event 16 is flash)."""

_EVENT = struct.Struct("!BBH")

# --- RFC 4733 -------------------------------------------------------------------------------


def parse_event(payload: bytes) -> tuple[int, bool, int, int]:
    """One telephone-event payload as ``(event, end, volume, duration)``.

    ``volume`` is the power level in -dBm0 (0..63), ``duration`` is in RTP
    timestamp units since the event's timestamp.  Bytes beyond the first 4 are
    ignored (RFC 4733 has no use for them, but some senders pad).
    """
    if len(payload) < 4:
        raise ValueError(f"telephone-event payload too short: {len(payload)} bytes, need 4")
    event, flags, duration = _EVENT.unpack_from(payload)
    return event, bool(flags & 0x80), flags & 0x3F, duration


def build_event(event: int, end: bool, volume: int, duration: int) -> bytes:
    """The 4-byte telephone-event payload (the R bit is always 0, as RFC 4733 says)."""
    if not 0 <= event <= 255 or not 0 <= volume <= 63 or not 0 <= duration <= 0xFFFF:
        raise ValueError("event 0..255, volume 0..63, duration 0..65535 required")
    return _EVENT.pack(event, (0x80 if end else 0) | volume, duration)


@dataclass(slots=True)
class _EventState:
    """What one SSRC's telephone-event stream last did."""

    timestamp: int
    event: int
    ended: bool
    duration: int
    recent: list[int]  # timestamps of the last few events, to ignore stragglers


class Rfc4733Receiver:
    """Telephone-event packets in, each key press out exactly once.

    An event is identified by its SSRC and RTP timestamp (every packet of one
    key press repeats the timestamp of its start), so the digit is reported by
    the first packet seen of a new timestamp, whether that is the start, an
    update or already one of the end packets (start lost).  Retransmitted
    starts, updates and the three redundant end packets share the timestamp and
    are ignored; the same key pressed again gets a new timestamp and is
    reported again ("11").

    A long press whose duration field would overflow is continued by the
    sender under a new timestamp (RFC 4733 section 2.5.1.3) without an end
    packet in between: a not-yet-ended event of the same key that already ran
    for more than half the duration range, followed by a new timestamp no later
    than its duration, is treated as that continuation, not as a new digit.

    Packets of an unknown event from shortly behind the newest one (32-bit
    timestamp arithmetic, so wrap-around is fine) are late stragglers and
    ignored: reporting them would put digits out of order.  A timestamp far
    behind means the sender restarted its clock and is a new press.  Each SSRC is
    tracked on its own; the caller passes every packet with the negotiated
    telephone-event payload type (whatever its SSRC and PT number).
    """

    _RECENT = 16  # timestamps remembered per SSRC
    _SSRCS = 8  # SSRCs remembered
    # How far behind the newest event a timestamp counts as a late straggler
    # (32 s at 8 kHz, 5 s at 48 kHz); further back, the sender restarted its clock.
    _STRAGGLERS = 0x40000

    def __init__(self) -> None:
        self._streams: OrderedDict[int, _EventState] = OrderedDict()
        self.malformed = 0

    def reset(self) -> None:
        self._streams.clear()

    def feed(self, timestamp: int, payload: bytes, ssrc: int = 0) -> str | None:
        """One telephone-event packet; the key (``"0"``..``"D"``) when it is a new press."""
        try:
            event, end, _volume, duration = parse_event(payload)
        except ValueError:
            self.malformed += 1  # junk from the network is counted, not raised
            return None
        timestamp &= 0xFFFFFFFF
        state = self._streams.get(ssrc)
        if state is None:
            self._streams[ssrc] = _EventState(timestamp, event, end, duration, [timestamp])
            while len(self._streams) > self._SSRCS:
                self._streams.popitem(last=False)
            return _digit(event)
        self._streams.move_to_end(ssrc)
        if timestamp == state.timestamp:
            # Another packet of the current event: only remember how far it got.
            state.duration = max(state.duration, duration)
            state.ended = state.ended or end
            return None
        behind = (state.timestamp - timestamp) & 0xFFFFFFFF
        if timestamp in state.recent or behind <= self._STRAGGLERS:
            return None
        continuation = (
            event == state.event
            and not state.ended
            and state.duration >= 0x8000
            and (timestamp - state.timestamp) & 0xFFFFFFFF <= state.duration
        )
        state.timestamp, state.event, state.ended, state.duration = (
            timestamp,
            event,
            end,
            duration,
        )
        state.recent.append(timestamp)
        del state.recent[: -self._RECENT]
        return None if continuation else _digit(event)


def _digit(event: int) -> str | None:
    return DIGITS[event] if event < len(DIGITS) else None  # 16 = flash, others: not keys


# --- SIP INFO -------------------------------------------------------------------------------


def parse_dtmf_info(content_type: str, body: str | bytes) -> str | None:
    """The key in a SIP INFO body, or None when there is no (valid) key.

    ``application/dtmf-relay`` carries ``Signal=5`` and ``Duration=160`` lines;
    ``application/dtmf`` carries just the key.  Keys may be ``0-9 * # A-D``
    (any case) or, as some phones send, the event codes 10..15 for ``*#A-D``.
    """
    media_type = content_type.split(";", 1)[0].strip().lower()
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    if media_type == "application/dtmf-relay":
        for line in text.splitlines():
            key, sep, value = line.partition("=")
            if not sep:
                key, sep, value = line.partition(":")
            if sep and key.strip().lower() == "signal":
                return _info_key(value)
        return None
    if media_type == "application/dtmf":
        return _info_key(text)
    return None


def _info_key(value: str) -> str | None:
    value = value.strip().upper()
    if len(value) == 1 and value in DIGITS:
        return value
    if value.isdigit() and int(value) < len(DIGITS):
        return DIGITS[int(value)]
    return None


# --- in-band detection ----------------------------------------------------------------------

_RATE: Final = 8000
_HALF: Final = 80  # samples per hop (10 ms); a window is two hops (20 ms)
_WINDOW: Final = 2 * _HALF
_ROWS: Final = (697.0, 770.0, 852.0, 941.0)
_COLS: Final = (1209.0, 1336.0, 1477.0, 1633.0)
_KEYPAD: Final = ("123A", "456B", "789C", "*0#D")
# Digit index (into DIGITS) of each (row, column) pair.
_KEY_INDEX: Final = np.array([[DIGITS.index(k) for k in row] for row in _KEYPAD], dtype=np.int8)
# Each tone is looked for on its nominal frequency and 1.5 % either side (Q.24's
# tolerance), taking the strongest: with 20 ms windows a tone 1.5 % off would
# otherwise lose up to 3 dB.  Then the column tones' second harmonics.
_OFFSETS: Final = (1.0, 0.985, 0.9925, 1.0075, 1.015)
_TONES: Final = np.array(_ROWS + _COLS)
_FREQS: Final = np.concatenate([np.outer(_OFFSETS, _TONES).ravel(), 2 * np.array(_COLS)])
_GEMM_ROWS: Final = 64  # hops per matrix product (see _project)
_DBM0_AMPLITUDE: Final = 22_651.0  # peak of a 0 dBm0 sine: the µ-law digital milliwatt's


class InbandDtmfDetector:
    """DTMF tones in 8 kHz audio, for many legs at once: ``(legs, samples)`` per call.

    Every 10 ms each leg's last 20 ms are analysed at the 8 DTMF frequencies
    and the second harmonics of the column tones (a DFT at those frequencies,
    i.e. what a Goertzel filter computes, done for all legs and frequencies as
    one matrix product).  A window holds a key when

    - each of its two tones (nominal frequency ±1.5 %) is at least
      ``min_level_dbm0`` (default -32 dBm0),
    - the tones differ by at most ``max_twist_db`` (8 dB) either way,
    - each tone is ``min_peak_db`` (6 dB) above the other tones of its group,
    - the two tones carry at least ``min_purity`` (70 %) of the window's
      energy (speech and music spread theirs over many frequencies), and
    - the column tone's second harmonic is ``min_harmonic_db`` (12 dB) below it
      (voice has harmonics; a DTMF generator does not).  The rows' second
      harmonics are not checked: they fall next to the column tones.

    A key is reported once it holds for 3 consecutive windows (30 ms of tone at
    the least: Q.24 wants 40 ms accepted and blips rejected; 25 ms ones are) and
    again only after 3 windows without it (a pause of about 40 ms; a 10 ms
    interruption does not split a key) or when a different key is held.
    Frequencies within Q.24's ±1.5 % are accepted; this detector is more
    lenient than Q.24 about rejecting tones 3.5 % off.
    """

    MIN_ON: Final = 3
    MIN_OFF: Final = 3

    def __init__(
        self,
        legs: int = 1,
        *,
        min_level_dbm0: float = -32.0,
        max_twist_db: float = 8.0,
        min_peak_db: float = 6.0,
        min_purity: float = 0.7,
        min_harmonic_db: float = 12.0,
    ) -> None:
        amplitude = _DBM0_AMPLITUDE * 10 ** (min_level_dbm0 / 20)
        self._min_power = amplitude**2 / 2 * _WINDOW  # energy of such a sine over a window
        self._twist = 10 ** (max_twist_db / 10)
        self._peak = 10 ** (min_peak_db / 10)
        self._purity = min_purity
        self._harmonic = 10 ** (min_harmonic_db / 10)
        # e^{-jωn} over a window, as [re | im] for its first hop and for its second
        # hop: a window's DFT is the first-hop projection of the earlier hop plus
        # the second-hop projection of the later one, so each hop is projected
        # once (one real GEMM for all legs) and windows are sums.
        n = np.arange(_WINDOW)[:, np.newaxis]
        omega = 2 * np.pi * _FREQS[np.newaxis, :] / _RATE
        both = np.concatenate([np.cos(omega * n), -np.sin(omega * n)], axis=1)
        self._basis = np.concatenate([both[:_HALF], both[_HALF:]], axis=1).astype(np.float32)
        self._fresh_rows = {
            "pending": lambda k: np.zeros((k, 0), dtype=np.float32),
            "earlier": lambda k: np.zeros((k, 2 * _FREQS.size), dtype=np.float32),
            "earlier_energy": lambda k: np.zeros(k, dtype=np.float32),
            "primed": lambda k: np.zeros(k, dtype=bool),  # has an earlier hop
            "candidate": lambda k: np.full(k, -1, dtype=np.int8),
            "run": lambda k: np.zeros(k, dtype=np.int32),
            "held": lambda k: np.full(k, -1, dtype=np.int8),
            "absent": lambda k: np.zeros(k, dtype=np.int32),
        }
        self._state: dict[str, np.ndarray] = {
            name: fresh(legs) for name, fresh in self._fresh_rows.items()
        }

    @property
    def legs(self) -> int:
        return self._state["held"].shape[0]

    def add_legs(self, count: int = 1) -> range:
        """Append ``count`` fresh legs; returns their row indices."""
        first = self.legs
        for name, fresh in self._fresh_rows.items():
            rows = fresh(count)
            if name == "pending":
                rows = np.zeros((count, self._state[name].shape[1]), dtype=np.float32)
            self._state[name] = np.concatenate([self._state[name], rows])
        return range(first, first + count)

    def remove_legs(self, rows: int | Sequence[int] | npt.NDArray[np.intp]) -> None:
        """Drop rows; later rows move up (as ``np.delete`` does to the frames)."""
        for name, array in self._state.items():
            self._state[name] = np.delete(array, rows, axis=0)

    def reset(self, rows: int | Sequence[int] | npt.NDArray[np.intp] | None = None) -> None:
        """Forget the state of ``rows`` (all when None), e.g. for a slot reused by a new leg."""
        index = np.arange(self.legs) if rows is None else np.atleast_1d(rows)
        for name, fresh in self._fresh_rows.items():
            if name != "pending":
                self._state[name][index] = fresh(index.size)
        self._state["pending"][index] = 0.0  # a fresh leg's partial hop counts as silence

    def feed(self, frames_8k: npt.ArrayLike) -> list[list[str]]:
        """Analyse the next samples of every leg; the keys newly pressed, per leg."""
        frames = np.asarray(frames_8k)
        if frames.ndim == 1:
            frames = frames[np.newaxis, :]
        legs = self.legs
        if frames.ndim != 2 or frames.shape[0] != legs:
            raise ValueError(f"expected ({legs}, samples), got {np.shape(frames_8k)}")
        state = self._state
        found: list[list[str]] = [[] for _ in range(legs)]
        pending = state["pending"]
        if pending.shape[1]:
            samples = np.concatenate([pending, frames.astype(np.float32)], axis=1)
        else:
            samples = frames.astype(np.float32)
        hops = samples.shape[1] // _HALF
        state["pending"] = samples[:, hops * _HALF :].copy()
        if hops == 0:
            return found
        blocks = samples[:, : hops * _HALF].reshape(legs * hops, _HALF)
        projected = _project(blocks, self._basis).reshape(legs, hops, 2, -1)
        energies = np.einsum("bn,bn->b", blocks, blocks).reshape(legs, hops)
        # Window h = hop h-1 (the previous call's last hop for h = 0) + hop h.
        earlier = np.concatenate([state["earlier"][:, np.newaxis], projected[:, :-1, 0]], axis=1)
        earlier_energy = np.concatenate(
            [state["earlier_energy"][:, np.newaxis], energies[:, :-1]], axis=1
        )
        windows = (earlier + projected[:, :, 1]).reshape(legs * hops, -1)
        keys = self._classify(windows, (earlier_energy + energies).reshape(-1)).reshape(legs, hops)
        keys[~state["primed"], 0] = -1  # a fresh leg's first hop has no predecessor
        state["earlier"] = projected[:, -1, 0].copy()
        state["earlier_energy"] = energies[:, -1].copy()
        state["primed"][:] = True
        if not (keys >= 0).any() and not (state["held"] >= 0).any():
            # Nothing heard and nothing held anywhere (the usual case): the state
            # machines would only count windows of "no key", which nothing reads.
            state["candidate"][:] = -1
            return found
        for hop in range(hops):
            for leg in np.flatnonzero(self._step(keys[:, hop])):
                found[leg].append(DIGITS[state["held"][leg]])
        return found

    def _classify(
        self, windows: npt.NDArray[np.float32], energy: npt.NDArray[np.float32]
    ) -> npt.NDArray[np.int8]:
        """The key in each window (digit index, -1 for none); ``windows`` is [re | im]."""
        count = _FREQS.size
        # 2|X|^2/N is the energy over the window of a sine sitting on that frequency.
        power = np.square(windows)
        power = (power[:, :count] + power[:, count:]) * (2.0 / _WINDOW)
        tones = power[:, : _TONES.size * len(_OFFSETS)].reshape(-1, len(_OFFSETS), _TONES.size)
        tones = tones.max(axis=1)
        harmonics = power[:, _TONES.size * len(_OFFSETS) :]
        ranked = np.sort(tones.reshape(-1, 2, 4), axis=2)  # rows, columns: ascending
        best, runner_up = ranked[:, :, -1], ranked[:, :, -2]
        row_power, col_power = best[:, 0], best[:, 1]
        row = tones[:, :4].argmax(axis=1)
        col = tones[:, 4:].argmax(axis=1)
        col_harmonic = harmonics[np.arange(col.size), col]
        ok = (
            (best.min(axis=1) >= self._min_power)
            & (col_power <= row_power * self._twist)
            & (row_power <= col_power * self._twist)
            & (best >= runner_up * self._peak).all(axis=1)
            & (row_power + col_power >= self._purity * energy)
            & (col_power >= col_harmonic * self._harmonic)
        )
        return np.where(ok, _KEY_INDEX[row, col], -1).astype(np.int8)

    def _step(self, keys: npt.NDArray[np.int8]) -> npt.NDArray[np.bool_]:
        """Advance every leg's key state machine by one window; True where a key is new."""
        state = self._state
        # (Counts stop at what the decisions need, so they never overflow.)
        state["run"] = np.where(
            keys == state["candidate"], np.minimum(state["run"] + 1, self.MIN_ON), 1
        )
        state["candidate"] = keys
        absent = np.where(keys == state["held"], 0, np.minimum(state["absent"] + 1, self.MIN_OFF))
        held = np.where(absent >= self.MIN_OFF, -1, state["held"])
        new = (keys >= 0) & (state["run"] >= self.MIN_ON) & (keys != held)
        state["held"] = np.where(new, keys, held).astype(np.int8)
        absent[new] = 0
        state["absent"] = absent
        return new


def _project(blocks: npt.NDArray[np.float32], basis: npt.NDArray[np.float32]) -> np.ndarray:
    """``blocks @ basis`` as a batch of products of at most ``_GEMM_ROWS`` rows each.

    OpenBLAS runs a product this small on the calling thread; a bigger one fans
    out to threads that cost more CPU than they save here (and stall when the
    cores are busy with the rest of the bridge).
    """
    count = blocks.shape[0]
    out = np.empty((count, basis.shape[1]), dtype=np.float32)
    whole = count - count % _GEMM_ROWS
    if whole:
        np.matmul(
            blocks[:whole].reshape(-1, _GEMM_ROWS, blocks.shape[1]),
            basis,
            out=out[:whole].reshape(-1, _GEMM_ROWS, basis.shape[1]),
        )
    if whole < count:
        np.matmul(blocks[whole:], basis, out=out[whole:])
    return out
