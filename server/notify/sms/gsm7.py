"""The GSM 03.38 default alphabet (7-bit) and its basic extension table.

SMS over SMPP with ``data_coding`` 0 carries these septets unpacked, one per octet;
an extension character is sent as the escape 0x1B followed by its code, so it costs
two septets. Anything outside these two tables needs UCS-2.

The table is the standard one, not the "close enough" variants some libraries
ship: position 0x09 is Ç (capital), 0x5F is §, 0x60 is ¿, and there is no backtick.
"""

from __future__ import annotations

ESCAPE = 0x1B

#: the 128 code points of the default alphabet, in order; 0x1B (the escape) is
#: a placeholder here and never matches text (see ``_BASIC`` below)
DEFAULT_ALPHABET = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)

#: the basic extension table: character → code after the escape
EXTENSION = {
    "\f": 0x0A,
    "^": 0x14,
    "{": 0x28,
    "}": 0x29,
    "\\": 0x2F,
    "[": 0x3C,
    "~": 0x3D,
    "]": 0x3E,
    "|": 0x40,
    "€": 0x65,
}

_BASIC = {ch: code for code, ch in enumerate(DEFAULT_ALPHABET) if code != ESCAPE}


def septets(ch: str) -> int:
    """The septets one character costs: 1 (default alphabet), 2 (extension), 0 (not GSM-7)."""
    if ch in _BASIC:
        return 1
    if ch in EXTENSION:
        return 2
    return 0


def is_gsm7(text: str) -> bool:
    """True when every character of ``text`` can be sent in the GSM 7-bit alphabet."""
    return all(ch in _BASIC or ch in EXTENSION for ch in text)


def encode(text: str) -> bytes:
    """The unpacked septets of ``text`` (one per octet), as SMPP data_coding 0 carries them.

    Raises ``ValueError`` for a character outside the alphabet.
    """
    out = bytearray()
    for ch in text:
        code = _BASIC.get(ch)
        if code is not None:
            out.append(code)
        elif ch in EXTENSION:
            out += bytes((ESCAPE, EXTENSION[ch]))
        else:
            raise ValueError(f"{ch!r} (U+{ord(ch):04X}) is not in the GSM 7-bit alphabet")
    return bytes(out)


def decode(data: bytes) -> str:
    """The inverse of ``encode`` (for tests and diagnostics)."""
    reverse_ext = {code: ch for ch, code in EXTENSION.items()}
    out: list[str] = []
    escaped = False
    for octet in data:
        if escaped:
            # an unknown extension code reads as the default-alphabet character (23.038)
            out.append(reverse_ext.get(octet, DEFAULT_ALPHABET[octet & 0x7F]))
            escaped = False
        elif octet == ESCAPE:
            escaped = True
        else:
            out.append(DEFAULT_ALPHABET[octet & 0x7F])
    return "".join(out)
