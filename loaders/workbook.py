"""Spreadsheet files in, raw cells out: safely, and with exact positions.

Why a module of its own: uploads come from people we do not know, so every way a
file can hurt the service (zip bombs, XML entity bombs, external entities, cell
counts that exhaust memory or time) has to be refused here, before any library
expands anything. And every later error (a bad kommunenummer, a SHACL violation)
must name the sheet, row and column the user sees, so positions are recorded here
and nothing is interpreted yet: columns and types belong to other modules.

Choices, and why:

- The file type is decided by the content, not the name: a zip with an Office
  content type is xlsx/xlsm, a zip with the ODF spreadsheet mimetype is ods, text
  is CSV. The extension only breaks ties and improves messages ("named .xlsx but
  contains text").
- xlsx/xlsm values come from openpyxl in read-only mode with ``data_only=True``:
  cached formula results, streamed row by row. The normal mode would give merged
  ranges, but it keeps every cell as an object (about 50 times the file size in
  memory), which a service that must stay under 1 GB cannot afford. What
  read-only mode lacks (merged ranges, which formulas have no cached value, and
  where the sheet's data really ends) comes from a streaming pre-scan of the same
  sheet XML through defusedxml, which also enforces the row and cell limits before
  openpyxl allocates anything. openpyxl itself parses through defusedxml once that
  is installed (``openpyxl.xml.DEFUSEDXML``), so no entity is ever expanded.
- ods is read by a streaming parser of ``content.xml`` here, on defusedxml. The
  alternatives fall short: python-calamine (0.9) reports no merged ranges for ods,
  turns error cells (#DIV/0!, #REF!) into empty strings, in xlsx too, and cannot
  tell a formula without a cached value from an empty cell; odfpy builds a DOM of
  the whole document before anything can be counted. ODF's repeated rows and
  columns (LibreOffice writes a million empty rows as one element) are counted,
  never materialised.
- CSV delimiters are detected by parsing a sample with each candidate and taking
  the most consistent field count, ties going to ``;``. ``csv.Sniffer`` prefers
  ``,`` on ties and so reads ``Bærum;1,5`` as split at the decimal comma.
"""

from __future__ import annotations

import codecs
import csv
import io
import posixpath
import re
import warnings
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import IO, Any, Literal
from xml.etree.ElementTree import Element, ParseError

import defusedxml
from defusedxml.ElementTree import fromstring as _safe_fromstring
from defusedxml.ElementTree import iterparse as _safe_iterparse
from openpyxl import load_workbook
from openpyxl.utils.cell import coordinate_to_tuple, get_column_letter, range_boundaries

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


@dataclass(frozen=True, slots=True)
class RawCell:
    """One cell as the file holds it, at the place the user sees it."""

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


def read_workbook(path: Path, limits: Limits = DEFAULT_LIMITS) -> RawWorkbook:
    """Read ``path`` into raw sheets, or raise ``WorkbookError`` saying why not."""
    try:
        size = path.stat().st_size
    except OSError as error:
        raise WorkbookError(
            path,
            f"filen kan ikke leses: {error.strerror}",
            f"the file cannot be read: {error.strerror}",
        ) from error
    if size > limits.max_file_bytes:
        raise WorkbookError(
            path,
            f"filen er på {_nb_int(size)} byte, mer enn grensen på "
            f"{_nb_int(limits.max_file_bytes)} byte",
            f"the file is {size:,} bytes, more than the limit of {limits.max_file_bytes:,} bytes",
        )
    if size == 0:
        raise WorkbookError(path, "filen er tom", "the file is empty")
    try:
        with path.open("rb") as handle:
            head = handle.read(8192)
    except OSError as error:
        raise WorkbookError(
            path,
            f"filen kan ikke leses: {error.strerror}",
            f"the file cannot be read: {error.strerror}",
        ) from error

    extension = path.suffix.lower()
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _read_zip(path, extension, limits)
    if head.startswith(_CFB_SIGNATURE):
        _refuse_cfb(path)
    kind = _known_kind(head)
    if kind is not None:
        raise WorkbookError(
            path,
            f"filen er {kind[0]}, ikke et regneark; {ACCEPTED_NB}",
            f"the file is {kind[1]}, not a spreadsheet; {ACCEPTED_EN}",
        )
    if extension in _BINARY_EXTENSIONS:
        if _looks_like_text(head):
            raise WorkbookError(
                path,
                f"filen heter {extension}, men inneholder tekst; er den CSV, gi den endelsen .csv",
                f"the file is named {extension} but contains text; if it is CSV, "
                "give it the extension .csv",
            )
        raise WorkbookError(
            path,
            f"filen heter {extension}, men innholdet er ikke et regneark av den typen "
            f"(filen kan være skadet eller ha feil endelse); {ACCEPTED_NB}",
            f"the file is named {extension}, but its content is not a spreadsheet of that "
            f"type (it may be damaged or have the wrong extension); {ACCEPTED_EN}",
        )
    return _read_csv(path, extension, limits)


# --- small helpers ------------------------------------------------------------


def _nb_int(number: int) -> str:
    """Norwegian digit grouping (space), so nb messages read naturally."""
    return f"{number:,}".replace(",", " ")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _attribute(element: Element, local_name: str) -> str | None:
    """An attribute by local name, whatever namespace (transitional or strict) it is in."""
    for key, value in element.attrib.items():
        if _local(key) == local_name:
            return value
    return None


# --- sheets under construction, with the limits -------------------------------


class _Budget:
    """The cell limit spans every sheet of a workbook, so it is shared."""

    def __init__(self, path: Path, limits: Limits) -> None:
        self.path = path
        self.limits = limits
        self.cells = 0
        self.merged = 0

    def take(self, count: int, sheet: str, row: int) -> None:
        self.cells += count
        if self.cells > self.limits.max_cells:
            raise _too_many_cells(self.path, self.limits, sheet, row)


def _too_many_cells(path: Path, limits: Limits, sheet: str, row: int) -> WorkbookError:
    return WorkbookError(
        path,
        f"arbeidsboken har mer enn {_nb_int(limits.max_cells)} celler "
        f"(grensen ble nådd i arket «{sheet}», rad {row})",
        f"the workbook has more than {limits.max_cells:,} cells "
        f"(the limit was reached in sheet '{sheet}', row {row})",
        sheet=sheet,
        row=row,
    )


def _too_many_rows(path: Path, limits: Limits, sheet: str, row: int) -> WorkbookError:
    return WorkbookError(
        path,
        f"arket «{sheet}» har data i rad {_nb_int(row)}, forbi grensen på "
        f"{_nb_int(limits.max_rows)} rader",
        f"sheet '{sheet}' has data in row {row:,}, beyond the limit of {limits.max_rows:,} rows",
        sheet=sheet,
        row=row,
    )


def _too_many_columns(path: Path, sheet: str, row: int, column: int) -> WorkbookError:
    return WorkbookError(
        path,
        f"arket «{sheet}» har data i kolonne nummer {_nb_int(column)} i rad {row}, "
        f"forbi den siste kolonnen XFD ({_nb_int(MAX_COLUMNS)})",
        f"sheet '{sheet}' has data in column number {column:,} of row {row}, "
        f"beyond the last column XFD ({MAX_COLUMNS:,})",
        sheet=sheet,
        row=row,
        column=column,
    )


def _too_many_sheets(path: Path, limits: Limits, count: int) -> WorkbookError:
    return WorkbookError(
        path,
        f"arbeidsboken har {count} ark, mer enn grensen på {limits.max_sheets}",
        f"the workbook has {count} sheets, more than the limit of {limits.max_sheets}",
    )


_Entry = tuple[CellValue, str | None, str | None]  # value, error, merged_from


class _SheetBuilder:
    """Collects non-empty cells sparsely and counts what the dense rows will cost.

    Sparse while reading because merged ranges are filled in afterwards; every
    addition is checked against the limits at once, so a hostile file stops
    being read as soon as it crosses one, not after it has been held in memory.
    """

    def __init__(self, name: str, hidden: bool, budget: _Budget) -> None:
        self.name = name
        self.hidden = hidden
        self._budget = budget
        self._cells: dict[int, dict[int, _Entry]] = {}
        self._widths: dict[int, int] = {}
        self._merges: list[tuple[int, int, int, int]] = []

    def add(
        self,
        row: int,
        column: int,
        value: CellValue,
        error: str | None = None,
        merged_from: str | None = None,
    ) -> None:
        if value == "":
            value = None
        if value is None and error is None:
            return
        self._put(row, column, (value, error, merged_from))

    def _put(self, row: int, column: int, entry: _Entry) -> None:
        """Store one cell; one tuple may serve a whole merged range, so it is passed whole."""
        limits = self._budget.limits
        if row > limits.max_rows:
            raise _too_many_rows(self._budget.path, limits, self.name, row)
        if column > MAX_COLUMNS:
            raise _too_many_columns(self._budget.path, self.name, row, column)
        width = self._widths.get(row, 0)
        if column > width:
            self._budget.take(column - width, self.name, row)
            self._widths[row] = column
        self._cells.setdefault(row, {})[column] = entry

    def merge(self, first_row: int, first_column: int, last_row: int, last_column: int) -> None:
        self._merges.append((first_row, first_column, last_row, last_column))

    def build(self) -> RawSheet:
        self._fill_merges()
        rows: list[list[RawCell]] = []
        for row_number in sorted(self._cells):
            cells = self._cells[row_number]
            dense: list[RawCell] = []
            for column in range(1, self._widths[row_number] + 1):
                letter = get_column_letter(column)
                value, error, merged_from = cells.get(column, (None, None, None))
                dense.append(RawCell(value, row_number, column, letter, error, merged_from))
            rows.append(dense)
        return RawSheet(self.name, self.hidden, rows)

    def _fill_merges(self) -> None:
        """The top-left value of a merged range applies to every cell of it.

        Anchors are read before any filling so overlapping ranges in a damaged
        file cannot copy copies; a range with an empty anchor fills nothing, and
        every filled cell passes the limits, so a range of a billion cells costs
        at most the cell limit.
        """
        anchors = [(merge, self._cells.get(merge[0], {}).get(merge[1])) for merge in self._merges]
        for (first_row, first_column, last_row, last_column), anchor in anchors:
            if anchor is None:
                continue
            value, error, _ = anchor
            if value is None and error is None:
                continue
            # Cells already counted cost no budget when filled again, so overlapping
            # ranges are bounded by their total area instead.
            self._budget.merged += (last_row - first_row + 1) * (last_column - first_column + 1)
            if self._budget.merged > self._budget.limits.max_cells:
                limits = self._budget.limits
                raise _too_many_cells(self._budget.path, limits, self.name, first_row)
            copy: _Entry = (value, error, f"{get_column_letter(first_column)}{first_row}")
            for row in range(first_row, last_row + 1):
                for column in range(first_column, last_column + 1):
                    if (row, column) != (first_row, first_column):
                        self._put(row, column, copy)


# --- type detection -----------------------------------------------------------

_CFB_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_BINARY_EXTENSIONS = {".xlsx", ".xlsm", ".xltx", ".xltm", ".xls", ".xlsb", ".ods", ".ots"}

_SIGNATURES: list[tuple[bytes, str, str]] = [
    (b"%PDF", "en PDF", "a PDF"),
    (b"\x89PNG", "et PNG-bilde", "a PNG image"),
    (b"\xff\xd8\xff", "et JPEG-bilde", "a JPEG image"),
    (b"GIF8", "et GIF-bilde", "a GIF image"),
    (b"\x1f\x8b", "en gzip-fil", "a gzip file"),
    (b"Rar!", "et RAR-arkiv", "a RAR archive"),
    (b"7z\xbc\xaf", "et 7-Zip-arkiv", "a 7-Zip archive"),
    (b"{\\rtf", "et RTF-dokument", "an RTF document"),
]


def _known_kind(head: bytes) -> tuple[str, str] | None:
    """Name what a non-spreadsheet file is, so the user knows what they uploaded."""
    for signature, nb, en in _SIGNATURES:
        if head.startswith(signature):
            return nb, en
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<!doctype html", b"<html")):
        return "en HTML-side", "an HTML page"
    if text.startswith(b"<?xml"):
        if b"excel.sheet" in text or b"urn:schemas-microsoft-com:office:spreadsheet" in text:
            return "et Excel 2003 XML-regneark", "an Excel 2003 XML spreadsheet"
        return "et XML-dokument", "an XML document"
    return None


def _looks_like_text(head: bytes) -> bool:
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return True
    if b"\x00" in head:
        return False
    controls = sum(1 for byte in head if byte < 32 and byte not in b"\t\r\n\f")
    return controls <= len(head) // 100


def _refuse_cfb(path: Path) -> None:
    """An OLE compound file is legacy .xls, or an encrypted xlsx: both are refused.

    Office encrypts an xlsx by wrapping it in a compound file with an
    ``EncryptedPackage`` stream, so the directory names tell the two apart.
    """
    data = path.read_bytes()  # no larger than max_file_bytes, checked before
    if any(name.encode("utf-16-le") in data for name in ("EncryptedPackage", "EncryptionInfo")):
        raise WorkbookError(
            path,
            "filen er kryptert eller passordbeskyttet; lagre den uten passord og prøv igjen",
            "the file is encrypted or password-protected; save it without a password and try again",
        )
    raise WorkbookError(
        path,
        "filen er i det gamle Excel-formatet (.xls), som ikke støttes; lagre den som "
        f".xlsx og prøv igjen ({ACCEPTED_NB})",
        "the file is in the old Excel format (.xls), which is not supported; save it as "
        f".xlsx and try again ({ACCEPTED_EN})",
    )


# --- zip containers -----------------------------------------------------------

_ODS_MIMETYPES = {
    "application/vnd.oasis.opendocument.spreadsheet",
    "application/vnd.oasis.opendocument.spreadsheet-template",
}
_XLSX_TYPES: dict[str, FileType] = {
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml": "xlsx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.template.main+xml": "xlsx",
    "application/vnd.ms-excel.sheet.macroEnabled.main+xml": "xlsm",
    "application/vnd.ms-excel.template.macroEnabled.main+xml": "xlsm",
}
_OTHER_OFFICE_TYPES = {
    "application/vnd.ms-excel.sheet.binary.macroEnabled.main": (
        "en binær Excel-arbeidsbok (.xlsb)",
        "a binary Excel workbook (.xlsb)",
    ),
    "wordprocessingml": ("et Word-dokument", "a Word document"),
    "ms-word": ("et Word-dokument", "a Word document"),
    "presentationml": ("en PowerPoint-presentasjon", "a PowerPoint presentation"),
    "ms-powerpoint": ("en PowerPoint-presentasjon", "a PowerPoint presentation"),
}
_SMALL_PART = 4 * 1024 * 1024
"""Largest size accepted for the parts read whole: manifests, content types, workbook.xml."""


def _read_zip(path: Path, extension: str, limits: Limits) -> RawWorkbook:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise WorkbookError(
            path,
            f"filen er et skadet zip-arkiv og kan ikke leses ({error})",
            f"the file is a damaged zip archive and cannot be read ({error})",
        ) from error
    with archive:
        _check_zip(path, archive, limits)
        names = set(archive.namelist())
        if "mimetype" in names:
            mimetype = _read_part(path, archive, "mimetype", 200).decode("ascii", "replace")
            mimetype = mimetype.strip()
            if mimetype in _ODS_MIMETYPES:
                return _read_ods(path, archive, limits)
            if mimetype.startswith("application/vnd.oasis.opendocument."):
                raise WorkbookError(
                    path,
                    f"filen er et OpenDocument-dokument av typen {mimetype}, ikke et "
                    f"regneark; {ACCEPTED_NB}",
                    f"the file is an OpenDocument file of type {mimetype}, not a spreadsheet; "
                    f"{ACCEPTED_EN}",
                )
        if "content.xml" in names and "META-INF/manifest.xml" in names:
            manifest = _read_part(path, archive, "META-INF/manifest.xml")
            if b"opendocument.spreadsheet" in manifest and "[Content_Types].xml" not in names:
                return _read_ods(path, archive, limits)
        if "[Content_Types].xml" in names:
            file_type, workbook_part = _office_main_part(path, archive)
            return _read_xlsx(path, archive, file_type, workbook_part, limits)
        raise WorkbookError(
            path,
            f"filen er et zip-arkiv, men ikke et regneark; {ACCEPTED_NB}",
            f"the file is a zip archive, but not a spreadsheet; {ACCEPTED_EN}",
        )


def _check_zip(path: Path, archive: zipfile.ZipFile, limits: Limits) -> None:
    """Refuse zip bombs from the central directory alone, before anything is unpacked.

    The declared sizes can be trusted as upper bounds: ``zipfile`` never returns
    more than a member's declared size and fails the CRC check on a lie.
    """
    members = archive.infolist()
    if len(members) > limits.max_zip_members:
        raise WorkbookError(
            path,
            f"filen har {_nb_int(len(members))} deler, mer enn grensen på "
            f"{_nb_int(limits.max_zip_members)} (mulig zip-bombe)",
            f"the file has {len(members):,} parts, more than the limit of "
            f"{limits.max_zip_members:,} (possible zip bomb)",
        )
    total = sum(member.file_size for member in members)
    if total > limits.max_uncompressed_bytes:
        raise WorkbookError(
            path,
            f"filen pakkes ut til {_nb_int(total)} byte, mer enn grensen på "
            f"{_nb_int(limits.max_uncompressed_bytes)} byte (mulig zip-bombe)",
            f"the file unpacks to {total:,} bytes, more than the limit of "
            f"{limits.max_uncompressed_bytes:,} bytes (possible zip bomb)",
        )
    for member in members:
        if member.flag_bits & 0x1:
            raise WorkbookError(
                path,
                "filen er kryptert eller passordbeskyttet; lagre den uten passord og prøv igjen",
                "the file is encrypted or password-protected; save it without a password "
                "and try again",
            )
        if member.file_size <= limits.ratio_floor_bytes:
            continue
        ratio = member.file_size / max(member.compress_size, 1)
        if ratio > limits.max_compression_ratio:
            raise WorkbookError(
                path,
                f"delen {member.filename} er pakket {ratio:.0f}:1, mer enn grensen på "
                f"{limits.max_compression_ratio:.0f}:1 (mulig zip-bombe)",
                f"the part {member.filename} is compressed {ratio:.0f}:1, more than the "
                f"limit of {limits.max_compression_ratio:.0f}:1 (possible zip bomb)",
            )


def _read_part(path: Path, archive: zipfile.ZipFile, name: str, limit: int = _SMALL_PART) -> bytes:
    info = archive.getinfo(name)
    if info.file_size > limit:
        raise WorkbookError(
            path,
            f"delen {name} er uventet stor ({_nb_int(info.file_size)} byte)",
            f"the part {name} is unexpectedly large ({info.file_size:,} bytes)",
        )
    with archive.open(info) as member:
        return member.read(limit + 1)


def _xml(path: Path, data: bytes, file_type: str) -> Element:
    try:
        root: Element = _safe_fromstring(data)
    except defusedxml.DefusedXmlException as error:
        raise _xml_bomb(path) from error
    except ParseError as error:
        raise _unreadable(path, file_type, f"XML: {error}") from error
    return root


def _xml_bomb(path: Path) -> WorkbookError:
    return WorkbookError(
        path,
        "filen inneholder XML-entitetsdeklarasjoner eller eksterne referanser, som et "
        "regneark aldri har (mulig XML-bombe); filen er avvist",
        "the file contains XML entity declarations or external references, which a "
        "spreadsheet never has (possible XML bomb); the file is refused",
    )


def _unreadable(path: Path, file_type: str, detail: str) -> WorkbookError:
    return WorkbookError(
        path,
        f"filen kan ikke leses som {file_type}: {detail}",
        f"the file cannot be read as {file_type}: {detail}",
    )


def _office_main_part(path: Path, archive: zipfile.ZipFile) -> tuple[FileType, str]:
    """The file type and the workbook part, from ``[Content_Types].xml``."""
    root = _xml(path, _read_part(path, archive, "[Content_Types].xml"), "xlsx")
    for element in root:
        content_type = element.get("ContentType", "")
        part = element.get("PartName", "")
        if _local(element.tag) != "Override":
            continue
        if content_type in _XLSX_TYPES:
            return _XLSX_TYPES[content_type], part.lstrip("/")
        for marker, (nb, en) in _OTHER_OFFICE_TYPES.items():
            if marker in content_type and content_type.endswith(("main+xml", "main")):
                raise WorkbookError(
                    path,
                    f"filen er {nb}, ikke et regneark; {ACCEPTED_NB}",
                    f"the file is {en}, not a spreadsheet; {ACCEPTED_EN}",
                )
    raise WorkbookError(
        path,
        f"filen er en Office-pakke uten arbeidsbok; {ACCEPTED_NB}",
        f"the file is an Office package without a workbook; {ACCEPTED_EN}",
    )


# --- xlsx / xlsm --------------------------------------------------------------

_WORKSHEET_RELATIONSHIP = "/worksheet"
_SPREADSHEETML = (
    "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}",
    "{http://purl.oclc.org/ooxml/spreadsheetml/main}",  # "strict" Office Open XML
)


def _sml(name: str) -> frozenset[str]:
    return frozenset(namespace + name for namespace in _SPREADSHEETML)


_ROW, _SHEET_DATA, _C, _V, _F, _IS, _MERGE_CELL = (
    _sml(name) for name in ("row", "sheetData", "c", "v", "f", "is", "mergeCell")
)
_TEXT_RESULTS = ("str", "inlineStr")
"""Cell types whose empty ``<v/>`` is a cached empty string, not a missing value."""


@dataclass
class _XlsxSheet:
    name: str
    hidden: bool
    part: str | None
    """The worksheet XML in the zip; None for chart and dialog sheets, which hold no cells."""


@dataclass
class _SheetScan:
    """What openpyxl's read-only mode does not tell, from one pass over the sheet XML."""

    last_row: int = 0
    merges: list[tuple[int, int, int, int]] = field(default_factory=list)
    uncached: list[tuple[int, int]] = field(default_factory=list)


def _xlsx_sheets(
    path: Path, archive: zipfile.ZipFile, file_type: str, workbook_part: str
) -> list[_XlsxSheet]:
    """Sheet names, visibility and parts from workbook.xml and its relationships."""
    folder, name = posixpath.split(workbook_part)
    rels_name = posixpath.join(folder, "_rels", f"{name}.rels")
    names = set(archive.namelist())
    if workbook_part not in names or rels_name not in names:
        raise _unreadable(path, file_type, f"{workbook_part} / {rels_name} mangler (missing)")
    targets: dict[str, str] = {}
    for relation in _xml(path, _read_part(path, archive, rels_name), file_type):
        if not relation.get("Type", "").endswith(_WORKSHEET_RELATIONSHIP):
            continue
        target = relation.get("Target", "")
        if target.startswith("/"):
            resolved = target.lstrip("/")
        else:
            resolved = posixpath.normpath(posixpath.join(folder, target))
        targets[relation.get("Id", "")] = resolved
    sheets: list[_XlsxSheet] = []
    for element in _xml(path, _read_part(path, archive, workbook_part), file_type).iter():
        if _local(element.tag) != "sheet":
            continue
        state = element.get("state", "visible")
        part = targets.get(_attribute(element, "id") or "")
        sheets.append(_XlsxSheet(element.get("name", ""), state != "visible", part))
    return sheets


def _scan_sheet(
    path: Path, archive: zipfile.ZipFile, part: str, sheet: str, limits: Limits, scanned: list[int]
) -> _SheetScan:
    """Stream the sheet XML: merges, formulas without cached values, and the limits.

    openpyxl allocates every position from column A to the last ``<c>`` of each
    row, empty or not; counting those here (in ``scanned``, shared by all sheets)
    stops a sheet of sparse cells at column XFD before openpyxl builds it.
    """
    scan = _SheetScan()
    row_number = 0
    column = 0
    row_width = 0
    row_cells = 0
    sheet_data: Element | None = None
    current_row: Element | None = None
    try:
        with archive.open(part) as source:
            for event, element in _safe_iterparse(source, events=("start", "end")):
                tag = element.tag
                if event == "start":
                    if tag in _ROW:
                        number = element.get("r")
                        row_number = int(number) if number else row_number + 1
                        column = row_width = row_cells = 0
                        current_row = element
                    elif tag in _SHEET_DATA:
                        sheet_data = element
                    continue
                if tag in _C:
                    reference = element.get("r")
                    if reference:
                        row_number, column = coordinate_to_tuple(reference)
                    else:
                        column += 1
                    if column > MAX_COLUMNS:
                        raise _too_many_columns(path, sheet, row_number, column)
                    row_width = max(row_width, column)
                    row_cells += 1
                    # openpyxl holds every <c> of a row, and pads it to its last column
                    if scanned[0] + max(row_width, row_cells) > limits.max_cells:
                        raise _too_many_cells(path, limits, sheet, row_number)
                    has_formula = has_value = False
                    for child in element:
                        if child.tag in _V:
                            has_value = bool(child.text) or element.get("t") in _TEXT_RESULTS
                        elif child.tag in _F:
                            has_formula = True
                        elif child.tag in _IS:
                            has_value = True
                    if has_formula and not has_value:
                        scan.uncached.append((row_number, column))
                    if has_value or has_formula:
                        if row_number > limits.max_rows:
                            raise _too_many_rows(path, limits, sheet, row_number)
                        scan.last_row = max(scan.last_row, row_number)
                    if current_row is not None and len(current_row) and current_row[-1] is element:
                        del current_row[-1]
                elif tag in _ROW:
                    scanned[0] += max(row_width, row_cells)
                    if sheet_data is not None and len(sheet_data) and sheet_data[-1] is element:
                        del sheet_data[-1]
                elif tag in _MERGE_CELL:
                    first_column, first_row, last_column, last_row = range_boundaries(
                        element.get("ref", "")
                    )
                    scan.merges.append((first_row, first_column, last_row, last_column))
    except WorkbookError:
        raise
    except defusedxml.DefusedXmlException as error:
        raise _xml_bomb(path) from error
    except (ParseError, ValueError, TypeError) as error:
        raise _unreadable(path, "xlsx", f"{part}: {error}") from error
    return scan


_TIME_TOKENS = re.compile(r"[hs]", re.IGNORECASE)
_FORMAT_LITERALS = re.compile(r'"[^"]*"|\[[^\]]*\]|\\.')


def _date_or_datetime(value: datetime, number_format: object) -> date | datetime:
    """A midnight datetime in a format without hours or seconds is a date.

    openpyxl turns every date-formatted serial into a datetime; the format says
    whether the user meant a day ("15.01.2024") or a moment.
    """
    if value.time() != time(0) or not isinstance(number_format, str):
        return value
    if _TIME_TOKENS.search(_FORMAT_LITERALS.sub("", number_format)):
        return value
    return value.date()


def _read_xlsx(
    path: Path, archive: zipfile.ZipFile, file_type: FileType, workbook_part: str, limits: Limits
) -> RawWorkbook:
    sheets = _xlsx_sheets(path, archive, file_type, workbook_part)
    if len(sheets) > limits.max_sheets:
        raise _too_many_sheets(path, limits, len(sheets))
    names = set(archive.namelist())
    scanned = [0]
    scans: dict[str, _SheetScan] = {}
    for sheet in sheets:
        if sheet.part is None:
            continue
        if sheet.part not in names:
            raise _unreadable(path, file_type, f"{sheet.part} mangler (is missing)")
        scans[sheet.name] = _scan_sheet(path, archive, sheet.part, sheet.name, limits, scanned)
    budget = _Budget(path, limits)
    result: list[RawSheet] = []
    try:
        with path.open("rb") as handle, warnings.catch_warnings():
            # openpyxl warns about every extension it does not keep (data validation,
            # conditional formats); irrelevant for reading values.
            warnings.simplefilter("ignore")
            workbook = load_workbook(
                handle, read_only=True, data_only=True, keep_vba=False, keep_links=False
            )
            try:
                for sheet in sheets:
                    scan = scans.get(sheet.name)
                    if scan is None:
                        continue
                    builder = _SheetBuilder(sheet.name, sheet.hidden, budget)
                    _xlsx_values(workbook[sheet.name], scan, builder)
                    for first_row, first_column, last_row, last_column in scan.merges:
                        builder.merge(first_row, first_column, last_row, last_column)
                    result.append(builder.build())
            finally:
                workbook.close()
    except WorkbookError:
        raise
    except MemoryError:
        raise
    except Exception as error:  # openpyxl raises many unrelated types for damaged files
        if _caused_by_defusedxml(error):
            raise _xml_bomb(path) from error
        detail = f"{type(error).__name__}: {error}".replace(str(path), path.name)
        raise _unreadable(path, file_type, detail) from error
    return RawWorkbook(result, file_type)


def _caused_by_defusedxml(error: BaseException | None) -> bool:
    """openpyxl rewraps parse errors ("could not read strings"); look down the chain."""
    seen = 0
    while error is not None and seen < 20:
        if isinstance(error, defusedxml.DefusedXmlException):
            return True
        error = error.__cause__ or error.__context__
        seen += 1
    return False


def _xlsx_values(worksheet: Any, scan: _SheetScan, builder: _SheetBuilder) -> None:
    uncached = set(scan.uncached)
    for row, column in scan.uncached:
        builder.add(row, column, None, NO_CACHED_VALUE)
    if scan.last_row == 0:
        return
    worksheet.reset_dimensions()  # the declared dimension may be wrong or hostile
    for row_number, cells in enumerate(worksheet.iter_rows(max_row=scan.last_row), start=1):
        for column, cell in enumerate(cells, start=1):
            value = cell.value
            if value is None or (row_number, column) in uncached:
                continue
            if getattr(cell, "data_type", None) == "e":
                builder.add(row_number, column, None, str(value))
                continue
            if isinstance(value, datetime):
                value = _date_or_datetime(value, getattr(cell, "number_format", None))
            builder.add(row_number, column, value)


# --- ods ----------------------------------------------------------------------

_TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
_OFFICE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
_STYLE = "{urn:oasis:names:tc:opendocument:xmlns:style:1.0}"
_TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
_CALCEXT = "{urn:org:documentfoundation:names:experimental:calc:xmlns:calcext:1.0}"
_ODS_TIME = re.compile(
    r"(-)?P(?:(\d+)D)?T?(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?", re.IGNORECASE
)
_INTEGER = re.compile(r"[+-]?\d+")
_ODS_DONE = {
    _TABLE + "table-cell",
    _TABLE + "covered-table-cell",
    _TABLE + "table-row",
    _TABLE + "table",
    _STYLE + "style",
}
"""Elements removed from the tree once read; the rest (a cell's paragraphs) is kept until then."""


def _repeat(element: Element, attribute: str) -> int:
    text = element.get(_TABLE + attribute)
    try:
        return max(int(text), 1) if text else 1
    except ValueError:
        return 1


def _odf_text(element: Element) -> str:
    """The text of a cell: paragraphs on lines, ``text:s`` spaces, no annotations."""
    paragraphs: list[str] = []
    for child in element:
        if child.tag in (_TEXT + "p", _TEXT + "h"):
            parts: list[str] = []
            _odf_inline(child, parts)
            paragraphs.append("".join(parts))
    return "\n".join(paragraphs)


def _odf_inline(element: Element, parts: list[str]) -> None:
    if element.text:
        parts.append(element.text)
    for child in element:
        tag = child.tag
        if tag == _TEXT + "s":
            count = child.get(_TEXT + "c")
            parts.append(" " * (int(count) if count and count.isdigit() else 1))
        elif tag == _TEXT + "tab":
            parts.append("\t")
        elif tag == _TEXT + "line-break":
            parts.append("\n")
        elif tag != _OFFICE + "annotation" and not tag.endswith("}frame"):
            _odf_inline(child, parts)
        if child.tail:
            parts.append(child.tail)


def _ods_number(text: str) -> int | float:
    return int(text) if _INTEGER.fullmatch(text) else float(text)


def _ods_date(text: str) -> date | datetime:
    return datetime.fromisoformat(text) if "T" in text else date.fromisoformat(text)


def _ods_time(text: str) -> time | timedelta:
    match = _ODS_TIME.fullmatch(text.strip())
    if not match:
        raise ValueError(text)
    negative, days, hours, minutes, seconds = match.groups()
    span = timedelta(
        days=int(days or 0),
        hours=int(hours or 0),
        minutes=int(minutes or 0),
        seconds=float(seconds or 0),
    )
    if negative:
        return -span
    if span < timedelta(days=1):
        return (datetime.min + span).time()
    return span


def _ods_cell(element: Element) -> tuple[CellValue, str | None]:
    """Value and error of an ODF cell, from its typed attributes (no styles needed)."""
    value_type = element.get(_OFFICE + "value-type")
    formula = element.get(_TABLE + "formula")
    if element.get(_CALCEXT + "value-type") == "error":
        return None, _odf_text(element) or "#ERR"
    if value_type is None:
        if formula:
            return None, NO_CACHED_VALUE
        return _odf_text(element) or None, None
    try:
        if value_type in ("float", "percentage", "currency"):
            return _ods_number(element.get(_OFFICE + "value", "")), None
        if value_type == "date":
            return _ods_date(element.get(_OFFICE + "date-value", "")), None
        if value_type == "time":
            return _ods_time(element.get(_OFFICE + "time-value", "")), None
        if value_type == "boolean":
            return element.get(_OFFICE + "boolean-value") == "true", None
    except ValueError:
        pass  # a damaged typed value: the displayed text is the best we have
    string_value = element.get(_OFFICE + "string-value")
    return (string_value if string_value is not None else _odf_text(element)) or None, None


class _OdsRow:
    """One ``table:table-row`` being read; empty cells are counted, not kept."""

    def __init__(self) -> None:
        self.column = 0
        self.cells: list[tuple[int, CellValue, str | None]] = []
        self.spans: list[tuple[int, int, int]] = []  # column, rows spanned, columns spanned


def _read_ods(path: Path, archive: zipfile.ZipFile, limits: Limits) -> RawWorkbook:
    names = set(archive.namelist())
    if "META-INF/manifest.xml" in names:
        manifest = _read_part(path, archive, "META-INF/manifest.xml")
        if b"encryption-data" in manifest:
            raise WorkbookError(
                path,
                "filen er kryptert eller passordbeskyttet; lagre den uten passord og prøv igjen",
                "the file is encrypted or password-protected; save it without a password "
                "and try again",
            )
    if "content.xml" not in names:
        raise _unreadable(path, "ods", "content.xml mangler (is missing)")
    budget = _Budget(path, limits)
    try:
        with archive.open("content.xml") as source:
            sheets = _ods_sheets(path, source, limits, budget)
    except defusedxml.DefusedXmlException as error:
        raise _xml_bomb(path) from error
    except (ParseError, RecursionError) as error:
        raise _unreadable(path, "ods", f"content.xml: {error}") from error
    return RawWorkbook(sheets, "ods")


def _ods_sheets(path: Path, source: IO[bytes], limits: Limits, budget: _Budget) -> list[RawSheet]:
    """Stream ``content.xml``, freeing each cell and row once it is read.

    Elements are removed from their parent as soon as they are done, so memory
    stays that of one row however long the document is.
    """
    hidden_styles: set[str] = set()
    sheets: list[RawSheet] = []
    stack: list[Element] = []
    builder: _SheetBuilder | None = None
    row: _OdsRow | None = None
    row_number = 0
    for event, element in _safe_iterparse(source, events=("start", "end")):
        tag = element.tag
        if event == "start":
            stack.append(element)
            if tag == _TABLE + "table" and builder is None:
                if len(sheets) + 1 > limits.max_sheets:
                    raise _too_many_sheets(path, limits, len(sheets) + 1)
                name = element.get(_TABLE + "name", f"Ark{len(sheets) + 1}")
                hidden = element.get(_TABLE + "style-name") in hidden_styles
                builder = _SheetBuilder(name, hidden, budget)
                row_number = 0
            elif tag == _TABLE + "table-row" and builder is not None:
                row = _OdsRow()
            continue
        stack.pop()
        parent = stack[-1] if stack else None
        if tag in (_TABLE + "table-cell", _TABLE + "covered-table-cell") and row is not None:
            _ods_add_cell(path, element, row, builder, row_number)
        elif tag == _TABLE + "table-row" and builder is not None and row is not None:
            repeat = _repeat(element, "number-rows-repeated")
            if not row.cells:
                row_number += repeat  # empty rows, however many, cost nothing
            else:
                for _ in range(repeat):
                    row_number += 1
                    for column, value, error in row.cells:
                        builder.add(row_number, column, value, error)
                    for column, rows_spanned, columns_spanned in row.spans:
                        builder.merge(
                            row_number,
                            column,
                            row_number + rows_spanned - 1,
                            column + columns_spanned - 1,
                        )
            row = None
        elif (
            tag == _TABLE + "table"
            and builder is not None
            and not any(ancestor.tag == _TABLE + "table" for ancestor in stack)
        ):
            sheets.append(builder.build())
            builder = None
        elif tag == _STYLE + "style" and element.get(_STYLE + "family") == "table":
            for properties in element:
                if properties.get(_TABLE + "display") == "false":
                    hidden_styles.add(element.get(_STYLE + "name", ""))
        if tag in _ODS_DONE and parent is not None and len(parent) and parent[-1] is element:
            del parent[-1]
    return sheets


def _ods_add_cell(
    path: Path, element: Element, row: _OdsRow, builder: _SheetBuilder | None, row_number: int
) -> None:
    repeat = _repeat(element, "number-columns-repeated")
    value, error = _ods_cell(element)
    if value is None and error is None:
        row.column += repeat
        return
    if row.column + repeat > MAX_COLUMNS:
        sheet = builder.name if builder else ""
        raise _too_many_columns(path, sheet, row_number + 1, row.column + repeat)
    rows_spanned = _repeat(element, "number-rows-spanned")
    columns_spanned = _repeat(element, "number-columns-spanned")
    for _ in range(repeat):
        row.column += 1
        row.cells.append((row.column, value, error))
        if rows_spanned > 1 or columns_spanned > 1:
            row.spans.append((row.column, rows_spanned, columns_spanned))


# --- csv ----------------------------------------------------------------------

_DELIMITERS = (";", ",", "\t", "|")
_SAMPLE_CHARS = 64 * 1024
_SAMPLE_RECORDS = 200


def _decode(path: Path, data: bytes) -> tuple[str, str]:
    """Text and the encoding it was in: UTF-16 or UTF-8 by BOM, UTF-8, cp1252, latin-1.

    UTF-8 is tried before cp1252 because a cp1252 file with æøå is almost never
    valid UTF-8, while the reverse guess would turn "Bærum" into "BÃ¦rum".
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text, encoding = data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as error:
            raise WorkbookError(
                path,
                f"filen begynner som UTF-16, men er ikke gyldig UTF-16 ({error.reason})",
                f"the file starts as UTF-16 but is not valid UTF-16 ({error.reason})",
            ) from error
        if "\x00" in text:
            raise _nul_bytes(path)
        return text, encoding
    if b"\x00" in data:
        raise _nul_bytes(path)
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data.decode("utf-8-sig"), "utf-8-sig"
        except UnicodeDecodeError:
            data = data[len(codecs.BOM_UTF8) :]
    for encoding in ("utf-8", "cp1252"):
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1"), "latin-1"


def _nul_bytes(path: Path) -> WorkbookError:
    return WorkbookError(
        path,
        "filen inneholder NUL-byte; den er trolig ikke en CSV-fil",
        "the file contains NUL bytes; it is probably not a CSV file",
    )


def _detect_delimiter(text: str, prefer_tab: bool) -> str:
    """The candidate that splits the sample's records most consistently into ≥ 2 fields.

    Ties go to ``;`` (Norwegian Excel's choice, and the one that survives decimal
    commas), or to TAB for a .tsv file. A file with one column gets ``;``.
    """
    order = ("\t", ";", ",", "|") if prefer_tab else _DELIMITERS
    sample = text[:_SAMPLE_CHARS]
    truncated = len(text) > len(sample)
    best: tuple[float, int] = (0.0, 0)
    chosen = order[0] if prefer_tab else ";"
    for rank, delimiter in enumerate(order):
        counts: list[int] = []
        try:
            for record in csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter):
                if any(field.strip() for field in record):
                    counts.append(len(record))
                if len(counts) > _SAMPLE_RECORDS:
                    break
        except csv.Error:
            continue
        if truncated and len(counts) > 1:
            counts.pop()  # the sample may end in the middle of a record
        if not counts:
            continue
        width, frequency = Counter(counts).most_common(1)[0]
        if width < 2:
            continue
        score = (frequency / len(counts), -rank)
        if score > best:
            best, chosen = score, delimiter
    return chosen


def _guard_row_width(path: Path, text: str, delimiter: str, sheet: str, limits: Limits) -> None:
    """Refuse a line with more fields than the cell limit before ``csv`` builds it.

    Only needed when the whole file holds that many delimiters; the count per line
    ignores quotes, so it can only overestimate.
    """
    if text.count(delimiter) < limits.max_cells:
        return
    for number, line in enumerate(text.splitlines(), start=1):
        if line.count(delimiter) >= limits.max_cells:
            raise _too_many_cells(path, limits, sheet, number)


def _read_csv(path: Path, extension: str, limits: Limits) -> RawWorkbook:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise WorkbookError(
            path,
            f"filen kan ikke leses: {error.strerror}",
            f"the file cannot be read: {error.strerror}",
        ) from error
    text, encoding = _decode(path, data)
    del data
    delimiter = _detect_delimiter(text, prefer_tab=extension == ".tsv")
    sheet = path.stem
    _guard_row_width(path, text, delimiter, sheet, limits)
    budget = _Budget(path, limits)
    builder = _SheetBuilder(sheet, False, budget)
    row_number = 0
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for row_number, record in enumerate(reader, start=1):
            for column, value in enumerate(record, start=1):
                if value:
                    builder.add(row_number, column, value)
    except csv.Error as error:
        raise WorkbookError(
            path,
            f"CSV-filen kan ikke leses etter rad {row_number}: {error}",
            f"the CSV file cannot be read after row {row_number}: {error}",
            sheet=sheet,
            row=row_number + 1,
        ) from error
    return RawWorkbook([builder.build()], "csv", encoding=encoding, delimiter=delimiter)
