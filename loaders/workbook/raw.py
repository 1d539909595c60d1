"""The raw cells a reader hands over, the limits it enforces, and the error it raises."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal, NamedTuple
from xml.etree.ElementTree import Element

CellValue = str | int | float | bool | datetime | date | time | timedelta | None
"""A raw cell value. ``timedelta`` comes from duration formats such as ``[h]:mm``."""

FileType = Literal["xlsx", "xlsm", "ods", "csv"]

MAX_COLUMNS = 16_384
"""Column XFD, the last one Excel and LibreOffice have."""

NO_CACHED_VALUE = "formel uten lagret verdi (formula without a cached value)"
"""``RawCell.error`` for a formula whose result the file does not hold.

Such files were saved by a program that never calculated them (openpyxl,
pandas, many export tools); the value cannot be guessed without evaluating the
formula, which this loader deliberately never does.
"""

ACCEPTED_NB = "godtatte typer er xlsx, xlsm, ods og csv"
ACCEPTED_EN = "accepted types are xlsx, xlsm, ods and csv"

_EXCEL_ERRORS = {
    "#NULL!": ("tomt snitt mellom områder", "empty intersection of ranges"),
    "#DIV/0!": ("deling på null", "division by zero"),
    "#VALUE!": ("feil type verdi", "wrong type of value"),
    "#REF!": ("ugyldig cellereferanse", "invalid cell reference"),
    "#NAME?": ("ukjent navn eller funksjon", "unknown name or function"),
    "#NUM!": ("ugyldig tall", "invalid number"),
    "#N/A": ("verdien finnes ikke", "value not available"),
}


@dataclass(frozen=True)
class Limits:
    """How much a file may make the reader do; every limit refuses the whole file."""

    max_file_bytes: int = 20 * 1024 * 1024
    max_uncompressed_bytes: int = 200 * 1024 * 1024
    """Sum of the declared sizes of a zip container's members."""
    max_compression_ratio: float = 100.0
    """Per member of more than ``ratio_floor_bytes``; ordinary XML packs 5-20:1."""
    ratio_floor_bytes: int = 1024 * 1024
    """Small members may pack very well without being dangerous."""
    max_zip_members: int = 10_000
    max_rows: int = 100_000
    """Highest row number that may hold data, per sheet."""
    max_cells: int = 2_000_000
    """Cells read in the whole workbook, counting the empty ones before the last
    non-empty cell of each row (they are allocated too)."""
    max_sheets: int = 50
    max_cell_chars: int = 32_767
    """Characters in one cell or shared string (Excel's own maximum), checked while
    streaming, before any parser holds the text (issue 16, item 5)."""
    max_token_bytes: int = 1024 * 1024
    """Bytes of one XML tag with its attributes, or of one comment: a sheet's are short."""
    max_shared_strings: int = 2_000_000
    """Entries of an xlsx's shared strings table, counted while streaming: python-calamine
    holds every one (a million empty ``<si/>``, 5 MB of XML, cost it 2-3 times that), and
    a workbook within ``max_cells`` never uses more."""


DEFAULT_LIMITS = Limits()


class WorkbookError(ValueError):
    """A file cannot be read as a workbook; the message says why in nb and en.

    ``sheet``, ``row`` and ``column`` are set when the problem has a place, so a
    report can point at it like at any cell problem.
    """

    def __init__(
        self,
        path: Path,
        message_nb: str,
        message_en: str,
        *,
        sheet: str | None = None,
        row: int | None = None,
        column: int | None = None,
    ) -> None:
        super().__init__(f"{path.name}: {message_nb} ({message_en})")
        self.path = path
        self.message_nb = message_nb
        self.message_en = message_en
        self.sheet = sheet
        self.row = row
        self.column = column

    def __reduce__(self) -> tuple[Any, ...]:
        # Loads may run in a worker process; the error must survive the trip back.
        return (type(self), (self.path, self.message_nb, self.message_en), self.__dict__)

    @classmethod
    def unreadable(cls, path: Path, error: OSError) -> WorkbookError:
        """The file cannot be read at all (missing, no permission, a disk error)."""
        return cls(
            path,
            f"filen kan ikke leses: {error.strerror}",
            f"the file cannot be read: {error.strerror}",
        )


class RawCell(NamedTuple):
    """One cell as the file holds it, at the place the user sees it.

    A named tuple, not a frozen dataclass: immutable all the same, and made a third
    as fast (a frozen dataclass sets each field through ``object.__setattr__``), which
    was a tenth of reading a workbook, every cell of every row being one (issue 20).
    """

    value: CellValue
    row: int
    column: int
    column_letter: str
    error: str | None = None
    """"#REF!", "#DIV/0!", … or ``NO_CACHED_VALUE``; ``value`` is then None."""
    merged_from: str | None = None
    """Top-left coordinate ("B3") when the value is copied from a merged range."""

    @property
    def coordinate(self) -> str:
        return f"{self.column_letter}{self.row}"


@dataclass
class RawSheet:
    """A sheet's non-empty rows; each row runs from column A to its last non-empty cell."""

    name: str
    hidden: bool
    rows: list[list[RawCell]] = field(default_factory=list)


@dataclass
class RawWorkbook:
    sheets: list[RawSheet]
    file_type: FileType
    encoding: str | None = None
    """Only for csv: "utf-8", "utf-8-sig", "utf-16", "cp1252" or "latin-1"."""
    delimiter: str | None = None
    """Only for csv."""


def cell_error_messages(error: str) -> tuple[str, str]:
    """The nb and en explanation of a ``RawCell.error``, for reports.

    >>> cell_error_messages("#REF!")
    ('formelfeil #REF! (ugyldig cellereferanse)', 'formula error #REF! (invalid cell reference)')
    """
    if error == NO_CACHED_VALUE:
        return (
            "formelen har ingen lagret verdi; åpne og lagre filen i Excel eller LibreOffice",
            "the formula has no cached value; open and save the file in Excel or LibreOffice",
        )
    nb, en = _EXCEL_ERRORS.get(error, ("", ""))
    if not nb:
        return f"formelfeil {error}", f"formula error {error}"
    return f"formelfeil {error} ({nb})", f"formula error {error} ({en})"


# --- small helpers ------------------------------------------------------------


_LETTERS: list[str] = [""]
"""Column letters by number, grown as far as asked ("A" is 1, "XFD" 16,384)."""


def column_letter(column: int) -> str:
    """The letters of a column number, as a spreadsheet shows them (28 is "AB").

    Why not openpyxl's ``get_column_letter``: importing openpyxl imports numpy, a third
    of a second at every start of the command line, which reads workbooks but never
    writes one; tests/loaders/test_workbook_scan.py checks every column against openpyxl's.

    >>> column_letter(1), column_letter(28), column_letter(16_384)
    ('A', 'AB', 'XFD')
    """
    if not 1 <= column <= 18_278:
        raise ValueError(f"column {column} has no letters of at most three (A to ZZZ)")
    return column_letters(column)[column]


def column_letters(width: int) -> list[str]:
    """Column letters by number (index 0 is ""), at least up to ``width``: a row's worth
    at a time for those who name every cell of it."""
    while len(_LETTERS) <= width:
        number, letters = len(_LETTERS), ""
        while number:
            number, remainder = divmod(number - 1, 26)
            letters = chr(65 + remainder) + letters
        _LETTERS.append(letters)
    return _LETTERS


def nb_int(number: int) -> str:
    """Norwegian digit grouping (space), so nb messages read naturally."""
    return f"{number:,}".replace(",", " ")


def local_name(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def attribute(element: Element, name: str) -> str | None:
    """An attribute by local name, whatever namespace (transitional or strict) it is in."""
    for key, value in element.attrib.items():
        if local_name(key) == name:
            return value
    return None
