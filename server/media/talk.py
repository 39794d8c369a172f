"""Who is talking: an energy detector with hangover, vectorised over legs."""

from __future__ import annotations

import numpy as np

from .mixer import BoolArray, FloatArray


class TalkDetector:
    """Per-slot talking flags from frame levels (dBFS), one update per tick.

    A frame louder than ``start_db`` starts talking; frames louder than the lower
    ``continue_db`` keep it going; after ``hangover_frames`` quieter frames it
    stops, so the pauses between words don't flicker the indicator.
    """

    def __init__(
        self,
        capacity: int = 0,
        *,
        start_db: float = -42.0,
        continue_db: float = -50.0,
        hangover_frames: int = 20,
    ) -> None:
        self.start_db = start_db
        self.continue_db = continue_db
        self.hangover_frames = hangover_frames
        self._hang = np.zeros(capacity, dtype=np.int32)

    @property
    def talking(self) -> BoolArray:
        return self._hang > 0

    def resize(self, capacity: int) -> None:
        if capacity > self._hang.size:
            self._hang = np.concatenate(
                [self._hang, np.zeros(capacity - self._hang.size, dtype=np.int32)]
            )

    def reset(self, slot: int) -> None:
        self._hang[slot] = 0

    def update(self, levels: FloatArray, slots: np.ndarray | None = None) -> BoolArray:
        """Feed one frame's levels; returns the slots whose talking flag changed.

        ``slots`` selects which slots ``levels`` belongs to (all when omitted).
        """
        hang = self._hang if slots is None else self._hang[slots]
        before = hang > 0
        loud = levels > self.start_db
        sustained = before & (levels > self.continue_db)
        hang = np.where(loud | sustained, self.hangover_frames, np.maximum(hang - 1, 0))
        if slots is None:
            self._hang[:] = hang
        else:
            self._hang[slots] = hang
        return before != (hang > 0)
