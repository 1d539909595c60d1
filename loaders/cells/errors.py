"""What a cell parser returns when a value cannot be read, and how values are shown in messages."""

from __future__ import annotations

import datetime
import unicodedata
from dataclasses import dataclass
from typing import TypeAlias

Raw: TypeAlias = str | int | float | bool | datetime.datetime | datetime.date | datetime.time | None
"""What a spreadsheet reader hands over for one cell."""


class CellError(ValueError):
    """A cell value that cannot be read, in words a system owner can act on.

    The constructor's arguments are the exception's ``args``, so an error pickles and
    can come back from a worker process.

    >>> error = CellError("Ugyldig.", "Invalid.", "42")
    >>> str(error), error.suggestion
    ('Ugyldig. / Invalid.', '42')
    """

    def __init__(self, message_nb: str, message_en: str, suggestion: str | None = None) -> None:
        super().__init__(message_nb, message_en, suggestion)
        self.message_nb = message_nb
        self.message_en = message_en
        self.suggestion = suggestion
        """The corrected value, or the values the user may have meant; None if unknown."""

    def __str__(self) -> str:
        return f"{self.message_nb} / {self.message_en}"


# Its public name: tracebacks, doctests and pickles say loaders.cells.CellError.
CellError.__module__ = "loaders.cells"


@dataclass(frozen=True)
class CellWarning:
    """A value that was accepted but should be changed in the spreadsheet."""

    message_nb: str
    message_en: str


# ---------------------------------------------------------------------------------
# Showing values in messages

SHOWN_MAX = 60
_ESCAPES = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _shown(raw: object) -> str:
    """The value as the user would recognise it: control characters made visible."""
    if isinstance(raw, datetime.date | datetime.time):
        text = raw.isoformat()
    elif isinstance(raw, int) and not isinstance(raw, bool) and abs(raw) >= 10**SHOWN_MAX:
        text = f"(et tall med mer enn {SHOWN_MAX} sifre / a number of more than {SHOWN_MAX} digits)"
    elif isinstance(raw, float) and raw.is_integer():
        text = str(int(raw))
    else:
        text = str(raw)
    text = "".join(
        _ESCAPES.get(ch) or (f"\\u{ord(ch):04x}" if is_control(ch) else ch) for ch in text
    )
    return text if len(text) <= SHOWN_MAX else text[: SHOWN_MAX - 1] + "…"


def is_control(ch: str) -> bool:
    return unicodedata.category(ch) in {"Cc", "Cs"}


def cell_error(raw: object, nb: str, en: str, suggestion: str | None = None) -> CellError:
    """An error whose messages quote the value where they say ``{v}``."""
    return CellError(
        nb.replace("{v}", f"«{_shown(raw)}»"),
        en.replace("{v}", f'"{_shown(raw)}"'),
        suggestion,
    )


_INVISIBLE = "\u200b\u2060\ufeff"
"""Zero-width space, word joiner and byte order mark: invisible, but not whitespace."""


def strip_cell(text: str) -> str:
    """Whitespace and the invisible characters web pages and CSV exports leave behind.

    String methods rather than a regular expression: a regex anchored at the end
    backtracks quadratically over a long run of inner spaces.
    """
    while True:
        stripped = text.strip().strip(_INVISIBLE)
        if stripped == text:
            return text
        text = stripped


def text_of(raw: object, what_nb: str, what_en: str) -> str | None:
    """The trimmed text of a cell where only text belongs; None when it is empty."""
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise type_error(raw, what_nb, what_en)
    return strip_cell(raw) or None


def number_or_text(raw: object, what_nb: str, what_en: str) -> int | float | str | None:
    """A cell where a number belongs: a number as it is, text trimmed, None when empty."""
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise type_error(raw, what_nb, what_en)
    if isinstance(raw, str):
        return strip_cell(raw) or None
    return raw


def type_error(raw: object, what_nb: str, what_en: str) -> CellError:
    """A cell of the wrong kind: a number, date or boolean where something else belongs."""
    if isinstance(raw, bool):
        kind_nb, kind_en = "en sannhetsverdi (SANN/USANN)", "a boolean (TRUE/FALSE)"
    elif isinstance(raw, datetime.datetime | datetime.date):
        kind_nb, kind_en = "en dato", "a date"
    elif isinstance(raw, datetime.time):
        kind_nb, kind_en = "et klokkeslett", "a time of day"
    elif isinstance(raw, int | float):
        kind_nb, kind_en = "et tall", "a number"
    else:
        kind_nb, kind_en = f"en verdi av typen {type(raw).__name__}", f"a {type(raw).__name__}"
    return cell_error(
        raw,
        f"Cellen {{v}} inneholder {kind_nb}, men her skal det stå {what_nb}. "
        "Sjekk cellens format (Format celler) og skriv verdien på nytt.",
        f"The cell {{v}} holds {kind_en}, but {what_en} belongs here. "
        "Check the cell's number format and type the value again.",
    )
