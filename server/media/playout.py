"""A playout buffer for one incoming RTP stream: packets in, one frame per tick out.

Pure data structure (no clock, no I/O). The mixer asks for exactly one frame
per 20 ms tick; the answer is the next packet, ``LOST`` when a later packet
shows the next one is missing (the caller conceals it, 20 ms, and moves on),
or ``EMPTY`` when nothing is buffered (a late or silent sender: the caller
plays silence and the others carry on).

Unlike aiortc's fixed buffer, a single loss costs one concealed frame and no
added delay; the delay grows only after a real underrun (it re-buffers to the
target depth) and shrinks again when packets pile up beyond what is needed.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Pull(enum.Enum):
    FRAME = "frame"
    LOST = "lost"
    EMPTY = "empty"


@dataclass(slots=True)
class PlayoutStats:
    received: int = 0
    played: int = 0
    concealed: int = 0
    underruns: int = 0
    late: int = 0
    duplicates: int = 0
    dropped: int = 0
    resets: int = 0


class PlayoutBuffer:
    def __init__(
        self,
        *,
        target_depth: int = 2,
        max_depth: int = 8,
        drift_window: int = 50,
        reset_gap: int = 500,
    ) -> None:
        if not 1 <= target_depth < max_depth:
            raise ValueError("need 1 <= target_depth < max_depth")
        self.target_depth = target_depth
        self.max_depth = max_depth
        self.drift_window = drift_window
        self.reset_gap = reset_gap
        self.stats = PlayoutStats()
        self._packets: dict[int, bytes] = {}
        self._highest: int | None = None  # highest extended sequence number seen
        self._next: int | None = None  # next extended sequence number to play
        self._floor: int | None = None  # first sequence number not yet handed out
        self._playing = False
        self._surplus_ticks = 0

    def __len__(self) -> int:
        return len(self._packets)

    @property
    def playing(self) -> bool:
        return self._playing

    def reset(self) -> None:
        self._packets.clear()
        self._highest = None
        self._next = None
        self._floor = None
        self._playing = False
        self._surplus_ticks = 0
        self.stats.resets += 1

    def _extend(self, seq: int) -> int:
        """Unwrap a 16-bit sequence number next to the highest one seen."""
        highest = self._highest
        if highest is None:
            return seq
        # The nearest number with these low 16 bits: at most half the range away.
        delta = (seq - highest) & 0xFFFF
        if delta >= 0x8000:
            delta -= 0x10000
        return highest + delta

    def push(self, seq: int, payload: bytes) -> bool:
        """Store a packet; False when it was a duplicate or came too late to play."""
        if not 0 <= seq <= 0xFFFF:
            raise ValueError(f"RTP sequence number out of range: {seq}")
        ext = self._extend(seq)
        if self._highest is not None and abs(ext - self._highest) > self.reset_gap:
            # The sender restarted or jumped far: start over rather than wait.
            self.reset()
            ext = seq
        self.stats.received += 1
        if self._floor is not None and ext < self._floor:
            self.stats.late += 1
            return False
        if ext in self._packets:
            self.stats.duplicates += 1
            return False
        self._packets[ext] = payload
        if self._highest is None or ext > self._highest:
            self._highest = ext
        if self._next is None or (not self._playing and ext < self._next):
            self._next = ext
        if len(self._packets) > self.max_depth:
            self._skip_to_depth(self.target_depth)
        return True

    def pop(self) -> tuple[Pull, bytes | None]:
        """The frame for this tick."""
        if not self._playing:
            if len(self._packets) < self.target_depth:
                return Pull.EMPTY, None
            self._playing = True
            # (Re)start at the oldest packet held: ticks that already played
            # silence for missing packets are not played again as losses.
            self._next = min(self._packets)
        assert self._next is not None and self._highest is not None
        self._track_drift()
        payload = self._packets.pop(self._next, None)
        if payload is not None:
            self._next += 1
            self._floor = self._next
            self.stats.played += 1
            return Pull.FRAME, payload
        if self._next < self._highest:
            self._next += 1
            self._floor = self._next
            self.stats.concealed += 1
            return Pull.LOST, None
        # Nothing left: re-buffer to the target depth before playing on.
        self._playing = False
        self._next = self._floor = self._highest + 1
        self.stats.underruns += 1
        return Pull.EMPTY, None

    def _track_drift(self) -> None:
        """Drop one frame when the buffer has stayed deeper than needed for a while."""
        if len(self._packets) > self.target_depth + 1:
            self._surplus_ticks += 1
            if self._surplus_ticks >= self.drift_window:
                self._surplus_ticks = 0
                self._skip_to_depth(len(self._packets) - 1)
        else:
            self._surplus_ticks = 0

    def _skip_to_depth(self, depth: int) -> None:
        assert self._highest is not None
        first_kept = self._highest - depth + 1
        for ext in [e for e in self._packets if e < first_kept]:
            del self._packets[ext]
            self.stats.dropped += 1
        if self._next is None or self._next < first_kept:
            self._next = first_kept
        if self._floor is not None and self._floor < first_kept:
            self._floor = first_kept
