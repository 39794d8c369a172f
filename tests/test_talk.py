"""The talk detector: onset and continue thresholds, hangover, slot subsets."""

from __future__ import annotations

import numpy as np
import pytest

from server.media.talk import TalkDetector

SILENT = -120.0
LOUD = -20.0
MIDDLE = -46.0  # between continue_db (-50) and start_db (-42)


def levels(*values: float) -> np.ndarray:
    return np.array(values, dtype=np.float64)


def test_defaults() -> None:
    det = TalkDetector(3)
    assert (det.start_db, det.continue_db, det.hangover_frames) == (-42.0, -50.0, 20)
    assert det.talking.tolist() == [False, False, False]


def test_default_capacity_is_zero() -> None:
    assert TalkDetector().talking.shape == (0,)


# -- onset ---------------------------------------------------------------------------------


def test_onset_needs_a_level_above_start_db() -> None:
    det = TalkDetector(4)
    changed = det.update(levels(-41.99, -42.0, MIDDLE, SILENT))
    # Strictly louder than -42 starts; exactly -42 does not.
    assert changed.tolist() == [True, False, False, False]
    assert det.talking.tolist() == [True, False, False, False]


def test_level_between_thresholds_never_starts_talking() -> None:
    det = TalkDetector(1)
    for _ in range(100):
        assert det.update(levels(MIDDLE)).tolist() == [False]
    assert det.talking.tolist() == [False]


def test_custom_thresholds() -> None:
    det = TalkDetector(2, start_db=-30.0, continue_db=-35.0, hangover_frames=1)
    det.update(levels(-31.0, -29.0))
    assert det.talking.tolist() == [False, True]
    det.update(levels(-31.0, -34.0))  # slot 1 kept by the continue threshold
    assert det.talking.tolist() == [False, True]
    det.update(levels(-31.0, -36.0))  # below continue: hangover 1 ends at once
    assert det.talking.tolist() == [False, False]


# -- continue -------------------------------------------------------------------------------


def test_level_above_continue_db_keeps_talking_indefinitely() -> None:
    det = TalkDetector(1, hangover_frames=3)
    det.update(levels(LOUD))
    for _ in range(200):
        assert det.update(levels(MIDDLE)).tolist() == [False]
        assert det.talking.tolist() == [True]


def test_exactly_continue_db_counts_as_quiet() -> None:
    det = TalkDetector(1, hangover_frames=2)
    det.update(levels(LOUD))
    det.update(levels(-50.0))
    assert det.talking.tolist() == [True]  # one quiet frame of two
    assert det.update(levels(-50.0)).tolist() == [True]
    assert det.talking.tolist() == [False]


# -- hangover ---------------------------------------------------------------------------------


@pytest.mark.parametrize("hangover", [1, 2, 5, 20])
def test_stops_after_exactly_hangover_quiet_frames(hangover: int) -> None:
    det = TalkDetector(1, hangover_frames=hangover)
    assert det.update(levels(LOUD)).tolist() == [True]
    for _ in range(hangover - 1):
        assert det.update(levels(SILENT)).tolist() == [False]
        assert det.talking.tolist() == [True]
    assert det.update(levels(SILENT)).tolist() == [True]  # the hangover-th quiet frame
    assert det.talking.tolist() == [False]
    assert det.update(levels(SILENT)).tolist() == [False]


def test_default_hangover_is_400_ms() -> None:
    det = TalkDetector(1)
    det.update(levels(LOUD))
    flags = []
    for _ in range(25):
        det.update(levels(SILENT))
        flags.append(bool(det.talking[0]))
    assert flags == [True] * 19 + [False] * 6


def test_a_short_pause_between_words_does_not_flicker() -> None:
    det = TalkDetector(1, hangover_frames=5)
    changes = []
    pattern = [LOUD] * 3 + [SILENT] * 4 + [LOUD] * 2 + [SILENT] * 6
    for level in pattern:
        changes.append(bool(det.update(levels(level))[0]))
    # Exactly two changes: on at the first frame, off after five quiet frames at the end.
    assert [i for i, c in enumerate(changes) if c] == [0, 13]


def test_middle_level_during_hangover_rearms_it() -> None:
    det = TalkDetector(1, hangover_frames=3)
    det.update(levels(LOUD))
    det.update(levels(SILENT))
    det.update(levels(SILENT))  # one frame of hangover left
    det.update(levels(MIDDLE))  # still talking, above continue: full hangover again
    det.update(levels(SILENT))
    det.update(levels(SILENT))
    assert det.talking.tolist() == [True]
    det.update(levels(SILENT))
    assert det.talking.tolist() == [False]


def test_middle_level_after_hangover_ended_does_not_restart() -> None:
    det = TalkDetector(1, hangover_frames=1)
    det.update(levels(LOUD))
    det.update(levels(SILENT))
    assert det.talking.tolist() == [False]
    det.update(levels(MIDDLE))
    assert det.talking.tolist() == [False]


def test_slots_are_independent() -> None:
    det = TalkDetector(3, hangover_frames=2)
    assert det.update(levels(LOUD, SILENT, LOUD)).tolist() == [True, False, True]
    assert det.update(levels(SILENT, LOUD, MIDDLE)).tolist() == [False, True, False]
    assert det.talking.tolist() == [True, True, True]
    assert det.update(levels(SILENT, SILENT, SILENT)).tolist() == [True, False, False]
    assert det.talking.tolist() == [False, True, True]
    assert det.update(levels(SILENT, SILENT, SILENT)).tolist() == [False, True, True]
    assert det.talking.tolist() == [False, False, False]


# -- slot subsets -------------------------------------------------------------------------------


def test_update_of_a_subset_leaves_other_slots_alone() -> None:
    det = TalkDetector(4, hangover_frames=2)
    det.update(levels(LOUD, LOUD, LOUD, LOUD))
    changed = det.update(levels(SILENT, SILENT), slots=np.array([1, 3]))
    assert changed.shape == (2,)
    assert changed.tolist() == [False, False]
    changed = det.update(levels(SILENT, SILENT), slots=np.array([1, 3]))
    assert changed.tolist() == [True, True]
    # Slots 0 and 2 were not fed: no hangover counted down for them.
    assert det.talking.tolist() == [True, False, True, False]
    det.update(levels(SILENT, SILENT, SILENT, SILENT))
    assert det.talking.tolist() == [True, False, True, False]
    det.update(levels(SILENT, SILENT, SILENT, SILENT))
    assert det.talking.tolist() == [False, False, False, False]


def test_update_of_a_subset_starts_only_those_slots() -> None:
    det = TalkDetector(5)
    changed = det.update(levels(LOUD, SILENT, LOUD), slots=np.array([4, 0, 2]))
    assert changed.tolist() == [True, False, True]
    assert det.talking.tolist() == [False, False, True, False, True]


def test_subset_levels_are_matched_by_position_not_by_slot() -> None:
    det = TalkDetector(3)
    det.update(levels(SILENT, LOUD), slots=np.array([2, 1]))
    assert det.talking.tolist() == [False, True, False]


# -- resize and reset ---------------------------------------------------------------------------


def test_resize_grows_and_keeps_state() -> None:
    det = TalkDetector(2, hangover_frames=3)
    det.update(levels(LOUD, SILENT))
    det.resize(5)
    assert det.talking.tolist() == [True, False, False, False, False]
    det.update(levels(SILENT, SILENT, SILENT, LOUD, SILENT))
    assert det.talking.tolist() == [True, False, False, True, False]
    det.update(levels(SILENT, SILENT, SILENT, SILENT, SILENT))
    det.update(levels(SILENT, SILENT, SILENT, SILENT, SILENT))
    # Slot 0's hangover (3) ran out; slot 3 started a frame later.
    assert det.talking.tolist() == [False, False, False, True, False]


def test_resize_never_shrinks() -> None:
    det = TalkDetector(4)
    det.update(levels(SILENT, SILENT, SILENT, LOUD))
    det.resize(2)
    assert det.talking.tolist() == [False, False, False, True]
    det.resize(4)
    assert det.talking.shape == (4,)


def test_resize_from_zero() -> None:
    det = TalkDetector()
    det.resize(3)
    assert det.update(levels(LOUD, SILENT, LOUD)).tolist() == [True, False, True]


def test_reset_silences_one_slot_at_once() -> None:
    det = TalkDetector(3)
    det.update(levels(LOUD, LOUD, LOUD))
    det.reset(1)
    assert det.talking.tolist() == [True, False, True]
    # A reset slot starts afresh: a middle level does not continue it.
    det.update(levels(SILENT, MIDDLE, SILENT))
    assert det.talking.tolist() == [True, False, True]
    # And the next update reports no change for it (it was already off).
    assert det.update(levels(SILENT, SILENT, SILENT)).tolist() == [False, False, False]


def test_talking_is_a_fresh_array_each_time() -> None:
    det = TalkDetector(2)
    before = det.talking
    det.update(levels(LOUD, LOUD))
    assert before.tolist() == [False, False]
    assert det.talking.dtype == np.bool_
