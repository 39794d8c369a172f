"""A text as the ``short_message`` payloads of SMPP submit_sm PDUs.

GSM-7 goes as data_coding 0 (the SMSC default alphabet, unpacked septets), anything
else as data_coding 8 (UCS-2, UTF-16-BE). A text longer than one SMS is split by
``split_segments`` (which never cuts an escape or surrogate pair, unlike a split of
the encoded bytes) and each part is prefixed with the concatenation header
``05 00 03 ref total seq`` (esm_class 0x40: UDH indicator).
"""

from __future__ import annotations

from dataclasses import dataclass

from . import gsm7
from .segments import GSM7, count_segments, split_segments

DATA_CODING_DEFAULT = 0x00
DATA_CODING_UCS2 = 0x08
ESM_CLASS_DEFAULT = 0x00
ESM_CLASS_UDHI = 0x40
#: a concatenated message has at most 255 parts (one octet counts them)
MAX_PARTS = 255


@dataclass(frozen=True)
class Submission:
    data_coding: int
    esm_class: int
    payloads: list[bytes]


def concat_header(reference: int, total: int, sequence: int) -> bytes:
    """The 8-bit-reference concatenation UDH (IEI 0x00), length octet included."""
    return bytes((0x05, 0x00, 0x03, reference & 0xFF, total, sequence))


def submission(text: str, reference: int) -> Submission:
    """The payloads of ``text``; ``reference`` ties the parts of one long message together.

    Raises ``ValueError`` when the text needs more than 255 parts.
    """
    gsm = count_segments(text).encoding == GSM7
    data_coding = DATA_CODING_DEFAULT if gsm else DATA_CODING_UCS2
    parts = split_segments(text)
    if len(parts) > MAX_PARTS:
        raise ValueError(f"the text needs {len(parts)} SMS; at most {MAX_PARTS} can be joined")

    def encode(part: str) -> bytes:
        return gsm7.encode(part) if gsm else part.encode("utf-16-be")

    if len(parts) == 1:
        return Submission(data_coding, ESM_CLASS_DEFAULT, [encode(parts[0])])
    total = len(parts)
    payloads = [
        concat_header(reference, total, seq) + encode(part)
        for seq, part in enumerate(parts, start=1)
    ]
    return Submission(data_coding, ESM_CLASS_UDHI, payloads)
