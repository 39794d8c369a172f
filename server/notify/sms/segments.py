"""How many SMS a text costs, and the parts it is sent in.

GSM-7 when every character is in the default alphabet or its extension table
(extension characters cost two septets), otherwise UCS-2 (UTF-16 code units).
A single SMS carries 160 septets or 70 units; a concatenated one loses room to
its 6-octet header and carries 153 septets or 67 units per part. A part never
ends inside an escape pair or a surrogate pair, so a part may hold one unit less
than the maximum: that is why the counting walks the text instead of dividing.
"""

from __future__ import annotations

from dataclasses import dataclass

from .gsm7 import is_gsm7, septets

__all__ = ["SmsSegments", "count_segments", "is_gsm7", "split_segments"]

GSM7 = "GSM-7"
UCS2 = "UCS-2"

#: (single message, each part of a concatenated message), in units of the encoding
CAPACITY = {GSM7: (160, 153), UCS2: (70, 67)}


@dataclass(frozen=True)
class SmsSegments:
    encoding: str  #: "GSM-7" or "UCS-2"
    units: int  #: septets (GSM-7) or UTF-16 code units (UCS-2) of the whole text
    segments: int  #: SMS sent (at least 1: an empty text is still one message)
    per_segment: int  #: the room of each segment: 160/153 (GSM-7) or 70/67 (UCS-2)


def _ucs2_units(ch: str) -> int:
    return 2 if ord(ch) > 0xFFFF else 1  # outside the BMP: a surrogate pair


def _costs(text: str) -> tuple[str, list[int]]:
    if is_gsm7(text):
        return GSM7, [septets(ch) for ch in text]
    return UCS2, [_ucs2_units(ch) for ch in text]


def _bounds(costs: list[int], room: int) -> list[tuple[int, int]]:
    """(start, end) character indices of each part, filled greedily up to ``room`` units."""
    bounds: list[tuple[int, int]] = []
    start = used = 0
    for index, cost in enumerate(costs):
        if used + cost > room:  # a pair that does not fit moves whole to the next part
            bounds.append((start, index))
            start, used = index, 0
        used += cost
    bounds.append((start, len(costs)))
    return bounds


def _layout(text: str) -> tuple[str, int, int, list[tuple[int, int]]]:
    encoding, costs = _costs(text)
    units = sum(costs)
    single, multi = CAPACITY[encoding]
    if units <= single:
        return encoding, units, single, [(0, len(text))]
    return encoding, units, multi, _bounds(costs, multi)


def count_segments(text: str) -> SmsSegments:
    """The encoding, size and number of SMS of ``text``."""
    encoding, units, room, bounds = _layout(text)
    return SmsSegments(encoding=encoding, units=units, segments=len(bounds), per_segment=room)


def split_segments(text: str) -> list[str]:
    """The parts of ``text`` as they are sent; ``"".join`` of them gives ``text`` back."""
    _, _, _, bounds = _layout(text)
    return [text[start:end] for start, end in bounds]
