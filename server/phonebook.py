"""The organiser's phonebook: checking contacts, CSV import and export, search.

Pure functions only (no I/O, no database): the API layer reads the upload, the store keeps the
result. Import is all or nothing by the caller's rule, so `parse_csv` reports every broken row
instead of stopping at the first one.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

import phonenumbers

LANGUAGES = ("en", "de", "sl")
FIELDS = ("name", "email", "phone", "language", "organisation")

NAME_MAX = 100
EMAIL_MAX = 254
PHONE_MAX = 40
ORGANISATION_MAX = 200

# Same rule as server.api.validation._EMAIL, so a contact accepted there is accepted here. Copied
# rather than imported: this domain module should not depend on the HTTP layer.
_EMAIL = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+$")
# [0-9], not \d: \d also matches other scripts' digits, which a spreadsheet does not treat as a
# number, but the point of this pattern is "nothing but ASCII digits after the +".
_E164 = re.compile(r"\+[1-9][0-9]{1,14}")


@dataclass(frozen=True, slots=True)
class ContactData:
    name: str
    email: str | None
    phone: str | None  # E.164
    language: str  # one of LANGUAGES
    organisation: str | None


class ContactError(ValueError):
    """One field of a contact is wrong; `field` is one of FIELDS."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class RowError:
    """A problem in a CSV file; `row` as a spreadsheet numbers it (a header on line 1 is row 1)."""

    row: int
    field: str | None  # one of FIELDS, or None for the file or the row as a whole
    message: str


@dataclass(slots=True)
class CsvImport:
    contacts: list[ContactData] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


# -- one contact --------------------------------------------------------------------------------


def clean_text(value: str) -> str:
    """Control characters out, runs of whitespace (line breaks too) to one space, NFC.

    Controls are removed before NFC so that the result is stable: cleaning twice changes nothing,
    which is what makes the CSV round trip exact. Lone surrogates go too (they cannot be encoded).
    """
    kept = "".join(
        " " if ch.isspace() else ch
        for ch in value
        if ch.isspace() or unicodedata.category(ch) not in ("Cc", "Cs")
    )
    return unicodedata.normalize("NFC", " ".join(kept.split()))


# Letters with a stroke have no decomposition, so NFKD alone would not fold them.
_STROKES = str.maketrans({"đ": "d", "ł": "l", "ø": "o", "ħ": "h", "ŧ": "t", "\u0131": "i"})


def fold(text: str) -> str:
    """For comparing what people type: case and accents ignored ("Šola" ~ "sola", ß ~ ss)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().translate(_STROKES))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def clean_contact(
    raw: Mapping[str, object], *, region: str | None, default_language: str = "en"
) -> ContactData:
    """A checked contact from untrusted input (keys as in FIELDS); raises the first ContactError.

    `region` is the organiser's country (ISO 3166 code) for phone numbers written without +.
    """
    _check_default_language(default_language)
    attempt = _attempt(raw, region, default_language)
    if attempt.errors:
        raise attempt.errors[0]
    assert attempt.contact is not None
    return attempt.contact


@dataclass(slots=True)
class _Attempt:
    """Every field checked, not just up to the first failure: a CSV row reports all of them."""

    contact: ContactData | None
    email: str | None  # valid, even when another field is not (duplicates are still found)
    phone: str | None
    errors: list[ContactError]


def _attempt(raw: Mapping[str, object], region: str | None, default_language: str) -> _Attempt:
    errors: list[ContactError] = []

    def checked(check: Callable[[str | None], str | None], name: str) -> str | None:
        try:
            return check(_text(raw, name))
        except ContactError as error:
            errors.append(error)
            return None

    name = checked(_name, "name")
    email = checked(_email, "email")
    phone = checked(lambda value: _phone(value, region), "phone")
    language = checked(lambda value: _language(value, default_language), "language")
    organisation = checked(_organisation, "organisation")
    if email is None and phone is None and not _given(raw, "email") and not _given(raw, "phone"):
        errors.append(ContactError("email", "an e-mail address or a phone number is required"))
    contact = None
    if not errors:
        assert name is not None and language is not None
        contact = ContactData(name, email, phone, language, organisation)
    return _Attempt(contact, email, phone, errors)


def _text(raw: Mapping[str, object], name: str) -> str | None:
    """The cleaned value, None when absent or blank."""
    value = raw.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ContactError(name, "must be text")
    return clean_text(value) or None


def _given(raw: Mapping[str, object], name: str) -> bool:
    value = raw.get(name)
    return value is not None and (not isinstance(value, str) or bool(clean_text(value)))


def _limited(value: str, name: str, limit: int) -> str:
    if len(value) > limit:
        raise ContactError(name, f"is longer than {limit} characters")
    return value


def _name(value: str | None) -> str:
    # Anything printable is a name, "<b>" included: escaping is the job of pages and e-mails.
    if value is None:
        raise ContactError("name", "is required")
    return _limited(value, "name", NAME_MAX)


def _email(value: str | None) -> str | None:
    if value is None:
        return None
    _limited(value, "email", EMAIL_MAX)
    if not _EMAIL.match(value):
        raise ContactError("email", "is not a valid e-mail address")
    return value


def _phone(value: str | None, region: str | None) -> str | None:
    """Any form phonenumbers understands, stored as E.164."""
    if value is None:
        return None
    _limited(value, "phone", PHONE_MAX)
    try:
        number = phonenumbers.parse(value, region.upper() if region else None)
    except phonenumbers.NumberParseException as exc:
        if exc.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE:
            raise ContactError("phone", "needs a country code, e.g. +386 or +49") from None
        raise ContactError("phone", "is not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise ContactError("phone", "is not a valid phone number")
    if number.extension:
        # E.164 has no extensions: dropping it silently would dial the wrong person.
        raise ContactError("phone", "has an extension, which cannot be dialled")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _language(value: str | None, default: str) -> str:
    if value is None:
        return default
    # "de-AT" or "sl_SI" as a spreadsheet or a browser writes it: the language is what counts.
    code = re.split(r"[-_]", value.casefold(), maxsplit=1)[0]
    if code not in LANGUAGES:
        raise ContactError("language", f"must be one of {', '.join(LANGUAGES)}")
    return code


def _organisation(value: str | None) -> str | None:
    return None if value is None else _limited(value, "organisation", ORGANISATION_MAX)


def _check_default_language(default_language: str) -> None:
    if default_language not in LANGUAGES:
        raise ValueError(f"default_language must be one of {', '.join(LANGUAGES)}")


# -- formula injection --------------------------------------------------------------------------

# A spreadsheet runs a cell that starts with one of these as a formula (=HYPERLINK(...) and
# friends), so export puts an apostrophe in front, the usual "this is text" mark. Leading
# apostrophes count too, so that a name that really starts with "'=" survives the round trip:
# export adds exactly one apostrophe where the pattern matches, import removes exactly one.
_NEEDS_APOSTROPHE = re.compile(r"'*[=+\-@\t\r]")
_HAS_APOSTROPHE = re.compile(r"'+[=+\-@\t\r]")


def _protect(cell: str) -> str:
    return "'" + cell if _NEEDS_APOSTROPHE.match(cell) else cell


def _unprotect(cell: str) -> str:
    return cell[1:] if _HAS_APOSTROPHE.match(cell) else cell


# -- CSV export ---------------------------------------------------------------------------------

EXPORT_HEADER = FIELDS


def export_csv(contacts: Iterable[ContactData]) -> str:
    """RFC 4180 CSV (comma, CRLF) that parse_csv reads back to the same contacts.

    Encode it as UTF-8 with a BOM (utf-8-sig) for Excel, which otherwise guesses the code page.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(EXPORT_HEADER)
    for contact in contacts:
        writer.writerow([
            _protect(contact.name),
            _protect(contact.email or ""),
            _phone_cell(contact.phone),
            _protect(contact.language),
            _protect(contact.organisation or ""),
        ])
    return out.getvalue()


def _phone_cell(phone: str | None) -> str:
    # A checked E.164 number is "+" and nothing but ASCII digits: a spreadsheet reads that as a
    # plain number, never a formula, so it goes out as is. Anything else is protected as text.
    if phone is None:
        return ""
    return phone if _E164.fullmatch(phone) else _protect(phone)


# -- CSV import ---------------------------------------------------------------------------------

NOT_TEXT = "not a CSV text file"

# Header names, compared after _header_key (accents, case, spaces and punctuation ignored).
_ALIASES: dict[str, tuple[str, ...]] = {
    "name": (
        "name", "full name", "display name", "ime", "ime in priimek", "priimek in ime",
        "polno ime", "vollständiger name", "vor- und nachname",
    ),
    "given": ("first name", "given name", "forename", "vorname"),
    "family": ("last name", "surname", "family name", "nachname", "familienname", "priimek"),
    "email": (
        "email", "e-mail", "mail", "e-mail address", "email address", "e-mail-adresse",
        "mailadresse", "e-pošta", "e-naslov", "elektronska pošta", "e-poštni naslov",
    ),
    "phone": (
        "phone", "phone number", "telephone", "tel", "mobile", "mobile phone", "cell", "telefon",
        "telefonnummer", "handy", "mobil", "mobiltelefon", "mobilni", "mobilni telefon",
        "mobitel", "gsm", "telefonska številka",
    ),
    "language": ("language", "lang", "sprache", "jezik"),
    "organisation": (
        "organisation", "organization", "company", "firma", "unternehmen", "institution",
        "podjetje", "organizacija", "ustanova",
    ),
}

# Where Windows "Save as CSV" writes the legacy code page rather than UTF-8, the organiser's
# region tells which one: Central European Windows uses cp1250 (č is 0xE8 there, è in cp1252).
_CP1250_REGIONS = frozenset({"AL", "BA", "CZ", "HR", "HU", "ME", "PL", "RO", "RS", "SI", "SK"})


def parse_csv(
    data: bytes, *, region: str | None, default_language: str = "en", max_rows: int = 5000
) -> CsvImport:
    """Contacts from a spreadsheet's CSV export, and every problem found, by row.

    Rows are spreadsheet rows: one per CSV record (a quoted line break stays inside its row),
    empty lines counted because a spreadsheet shows them, the header normally being row 1.
    """
    _check_default_language(default_language)
    text = _decode(data, region)
    if text is None:
        return CsvImport(errors=[RowError(1, None, NOT_TEXT)])
    header_at = _header_line(text)
    if header_at is None:
        return CsvImport(errors=[RowError(1, None, "the file is empty")])
    return _Reader(text, header_at, region, default_language, max_rows).read()


def _decode(data: bytes, region: str | None) -> str | None:
    """The file's text, or None when it is not text at all."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = _decoded(data, "utf-16")  # Excel's "Unicode text" export
    elif b"\x00" in data:
        return None
    elif data.startswith(codecs.BOM_UTF8):
        # The BOM says UTF-8: one bad byte should not turn the whole file into cp1252 mojibake.
        text = data.decode("utf-8-sig", errors="replace")
    else:
        text = _decoded(data, "utf-8")
        if text is None:
            legacy = "cp1250" if region and region.upper() in _CP1250_REGIONS else "cp1252"
            text = _decoded(data, legacy)
    return None if text is None or _looks_binary(text) else text


def _decoded(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec)
    except UnicodeDecodeError:
        return None


_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # all but tab, CR and LF


def _looks_binary(text: str) -> bool:
    # Text files have next to no control characters; random bytes that happen to decode as
    # cp1252 have about one in nine. A stray one in a cell is tolerated (clean_text drops it).
    return "\x00" in text or len(_CONTROLS.findall(text)) > len(text) / 20


def _header_line(text: str) -> str | None:
    """The first line with anything in it besides delimiters and quotes."""
    for line in io.StringIO(text, newline=""):
        if line.strip().strip(',;\t"').strip():
            return line
    return None


def _sniff_delimiter(line: str) -> str:
    """`,`, `;` or tab, whichever the header uses most outside quotes (comma if none)."""
    counts = {",": 0, ";": 0, "\t": 0}
    quoted = False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(counts.values())
    return "," if best == 0 else next(d for d in ("\t", ";", ",") if counts[d] == best)


def _header_key(header: str) -> str:
    return "".join(ch for ch in fold(header) if ch.isalnum())


_ROLES = {_header_key(alias): role for role, aliases in _ALIASES.items() for alias in aliases}


def _roles(header: list[str]) -> list[str | None]:
    """Each column's role (a key of _ALIASES) or None for columns that are ignored."""
    keys = [_header_key(cell) for cell in header]
    roles = [_ROLES.get(key) for key in keys]
    given, family = "given" in roles, "family" in roles
    for index, key in enumerate(keys):
        # "Name" next to "Vorname" is the surname on German forms; "Ime" next to "Priimek" is
        # the first name in Slovenian. Alone, each is the whole name.
        if key == "name" and given and not family:
            roles[index] = "family"
        elif key == "ime" and family and not given:
            roles[index] = "given"
    return roles


def _header_errors(roles: list[str | None], row: int) -> list[RowError]:
    errors = []
    if not {"name", "given", "family"} & set(roles):
        errors.append(RowError(row, None, "has no name column; the first row must name the "
                                          f"columns, e.g. {','.join(EXPORT_HEADER)}"))
    if not {"email", "phone"} & set(roles):
        errors.append(RowError(row, None, "has no e-mail or phone column"))
    return errors


class _Reader:
    """One pass over the records; keeps the row count, the errors and the keys seen so far."""

    def __init__(self, text: str, header_line: str, region: str | None, default_language: str,
                 max_rows: int) -> None:
        self.records = csv.reader(
            io.StringIO(text, newline=""),
            delimiter=_sniff_delimiter(header_line),
            skipinitialspace=True,  # "name, email" as typed by hand
            strict=True,  # a missing quote is reported, not left to swallow the rows after it
        )
        self.region = region
        self.default_language = default_language
        self.max_rows = max_rows
        self.result = CsvImport()
        self.emails: dict[str, int] = {}
        self.phones: dict[str, int] = {}

    def read(self) -> CsvImport:
        roles: list[str | None] | None = None
        rows = 0
        for row, cells in self._records():
            if cells is None or not any(cell.strip() for cell in cells):
                continue  # an empty line, ";;;" included, or a record csv could not read
            if roles is None:
                roles = _roles(cells)
                header_errors = _header_errors(roles, row)
                if header_errors:
                    self.result.errors.extend(header_errors)
                    break
                continue
            rows += 1
            if rows > self.max_rows:
                self._error(row, None, f"more than {self.max_rows} contacts; split the file")
                break
            self._contact(row, roles, cells)
        return self.result

    def _records(self) -> Iterator[tuple[int, list[str] | None]]:
        """(row, cells) for every record; a record csv cannot read is reported and skipped."""
        row = 0
        while True:
            row += 1
            try:
                cells = next(self.records)
            except StopIteration:
                return
            except csv.Error as exc:
                self._error(row, None, _csv_problem(exc))
                cells = None
            yield row, cells

    def _contact(self, row: int, roles: list[str | None], cells: list[str]) -> None:
        attempt = _attempt(_raw(roles, cells), self.region, self.default_language)
        for error in attempt.errors:
            self._error(row, error.field, error.message)
        duplicate = self._duplicate(row, attempt)
        if attempt.contact is not None and not duplicate:
            self.result.contacts.append(attempt.contact)

    def _duplicate(self, row: int, attempt: _Attempt) -> bool:
        """Reported on the later row. Keys of broken rows count too: they will be fixed."""
        email = attempt.email.casefold() if attempt.email else None
        found = False
        if email is not None and email in self.emails:
            self._error(row, "email", f"same e-mail address as row {self.emails[email]}")
            found = True
        elif attempt.phone is not None and attempt.phone in self.phones:
            self._error(row, "phone", f"same phone number as row {self.phones[attempt.phone]}")
            found = True
        if email is not None:
            self.emails.setdefault(email, row)
        if attempt.phone is not None:
            self.phones.setdefault(attempt.phone, row)
        return found

    def _error(self, row: int, field: str | None, message: str) -> None:
        self.result.errors.append(RowError(row, field, message))


def _csv_problem(exc: csv.Error) -> str:
    if "unexpected end of data" in str(exc):
        return 'a quoted cell is never closed (a " is missing)'
    return f"cannot read this row: {exc}"


def _raw(roles: list[str | None], cells: list[str]) -> dict[str, object]:
    """The row as clean_contact input: per role the first non-blank cell, in column order."""
    values: dict[str, str] = {}
    for role, cell in zip(roles, cells, strict=False):  # short and long rows are fine
        value = _unprotect(cell.strip())
        if role is not None and role not in values and clean_text(value):
            values[role] = value
    if "name" not in values:
        parts = [values[role] for role in ("given", "family") if role in values]
        if parts:
            values["name"] = " ".join(parts)
    return {name: values.get(name) for name in FIELDS}


# -- search -------------------------------------------------------------------------------------

_PHONEISH = re.compile(r"[0-9+\s()./-]*[0-9][0-9+\s()./-]*")


def matches(contact: ContactData, query: str) -> bool:
    """Whether a search box entry finds the contact; every word of the query must be found.

    Words are looked for in the name, e-mail and organisation; a number ("040 123 456",
    "+386 40", "0038640") is looked for, as digits, in the phone as well, written
    internationally or nationally.
    """
    words = fold(query).split()
    if not words:
        return True
    if contact.phone and _PHONEISH.fullmatch(query.strip()) and _in_phone(query, contact.phone):
        return True
    haystack = "\n".join(fold(text) for text in (contact.name, contact.email,
                                                 contact.organisation) if text)
    return all(
        word in haystack
        or (contact.phone is not None and _PHONEISH.fullmatch(word) is not None
            and _in_phone(word, contact.phone))
        for word in words
    )


def _in_phone(query: str, phone: str) -> bool:
    digits = re.sub(r"[^0-9]", "", query)
    forms = _phone_digits(phone)
    if query.strip().startswith("00"):
        digits = digits[2:]  # 00 is the international prefix in most of Europe: same as +
        forms = forms[:1]
    return bool(digits) and any(digits in form for form in forms)


@lru_cache(maxsize=8192)
def _phone_digits(phone: str) -> tuple[str, ...]:
    """The E.164 digits and the national ones with trunk prefix ("386401…" and "0401…")."""
    international = re.sub(r"[^0-9]", "", phone)
    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return (international,)
    national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return (international, re.sub(r"[^0-9]", "", national))
