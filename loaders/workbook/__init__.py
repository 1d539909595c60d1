"""Spreadsheet files in, raw cells out: safely, and with exact positions.

Why a module of its own: uploads come from people we do not know, so every way a
file can hurt the service (zip bombs, XML entity bombs, external entities, cell
counts that exhaust memory or time) has to be refused here, before any library
expands anything. And every later error (a bad kommunenummer, a SHACL violation)
must name the sheet, row and column the user sees, so positions are recorded here
and nothing is interpreted yet: columns and types belong to other modules.

One module per format and per concern: ``raw`` (the cells handed over, the limits,
the error), ``builder`` (sheets under construction, the cell limits), ``detect``
(what a file is from its first bytes), ``zipped`` (zip bombs, bounded parts),
``xml_guard`` (a streaming pre-scan of every XML part: each cell's and each shared
string's length, each tag's size, no DTD), ``xlsx``, ``ods`` and ``csv_text``.

Choices, and why:

- The file type is decided by the content, not the name: a zip with an Office
  content type is xlsx/xlsm, a zip with the ODF spreadsheet mimetype is ods, text
  is CSV. The extension only breaks ties and improves messages ("named .xlsx but
  contains text").
- xlsx/xlsm values come from python-calamine (Rust): cached formula results, with
  dates, times and booleans typed as the cell's format says, about 30 times faster
  than openpyxl's read-only mode, which read them before (issue 20). What calamine
  does not tell (which cells hold a formula error, which formulas have no cached
  value: it turns both into empty strings) comes from the guard's streaming scan
  of the same sheet XML (one expat pass per sheet, whose callbacks do the guard's
  counts and this pre-scan together: ``xlsx._scan_sheet``), which also enforces the
  row and cell limits and reads the merged ranges before calamine allocates
  anything. calamine holds the box around a sheet's cells densely, so the box's
  area is held to the cell limit too. A whole number comes back as an
  int, as the cell shows it (calamine reads every number as a float).
  python-calamine 0.9.1 reports merged ranges for xlsx (``merged_cell_ranges``)
  but nothing else the pre-scan gives, and only after it has built the box, so
  the pre-scan stays. The guard must scan the parts calamine reads, which finds
  them its own way (xl/workbook.xml always, its own resolution of a sheet's
  target, member names in any letter case and with "\\" for "/"): a file where
  the two would differ is refused (``zipped.member_key``, ``xlsx._same_parts_as_calamine``).
  So is a zip whose directory python-calamine's zip crate could read otherwise than
  ``zipfile`` (end records, zip64 records and fields, Unicode Path names, names not
  in UTF-8: ``zipped._check_end``, ``zipped._check_member``), found by building each
  such file and reading it with both (tests/loaders/test_workbook_zip.py).
- ods is read by a streaming parser of ``content.xml`` here, on defusedxml. The
  alternatives fall short: python-calamine (0.9.1, the newest release, checked again
  on 2026-12-06) reports no merged ranges for ods (``merged_cell_ranges`` is None)
  and turns error cells (#DIV/0!) into empty strings, so a scan of ``content.xml``
  would have to do what this reader does anyway (covered cells, errors, formulas
  without values, repeated rows and columns counted against the limits); odfpy builds a DOM of
  the whole document before anything can be counted. ODF's repeated rows and
  columns (LibreOffice writes a million empty rows as one element) are counted,
  never materialised.
- CSV delimiters are detected by parsing a sample with each candidate and taking
  the most consistent field count, ties going to ``;``. ``csv.Sniffer`` prefers
  ``,`` on ties and so reads ``Bærum;1,5`` as split at the decimal comma.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

from loaders.workbook.csv_text import read_csv
from loaders.workbook.detect import (
    BINARY_EXTENSIONS,
    CFB_SIGNATURE,
    known_kind,
    looks_like_text,
    refuse_cfb,
)
from loaders.workbook.ods import read_ods
from loaders.workbook.raw import (
    ACCEPTED_EN,
    ACCEPTED_NB,
    DEFAULT_LIMITS,
    MAX_COLUMNS,
    NO_CACHED_VALUE,
    CellValue,
    FileType,
    Limits,
    RawCell,
    RawSheet,
    RawWorkbook,
    WorkbookError,
    cell_error_messages,
    nb_int,
)
from loaders.workbook.xlsx import read_xlsx
from loaders.workbook.xml_guard import scan_xml_parts
from loaders.workbook.zipped import ODS_MIMETYPES, check_zip, office_main_part, read_part

__all__ = [
    "ACCEPTED_EN",
    "ACCEPTED_NB",
    "DEFAULT_LIMITS",
    "MAX_COLUMNS",
    "NO_CACHED_VALUE",
    "CellValue",
    "FileType",
    "Limits",
    "RawCell",
    "RawSheet",
    "RawWorkbook",
    "WorkbookError",
    "cell_error_messages",
    "read_workbook",
]


def read_workbook(path: Path, limits: Limits = DEFAULT_LIMITS) -> RawWorkbook:
    """Read ``path`` into raw sheets, or raise ``WorkbookError`` saying why not."""
    try:
        size = path.stat().st_size
    except OSError as error:
        raise WorkbookError.unreadable(path, error) from error
    if size > limits.max_file_bytes:
        raise WorkbookError(
            path,
            f"filen er på {nb_int(size)} byte, mer enn grensen på "
            f"{nb_int(limits.max_file_bytes)} byte",
            f"the file is {size:,} bytes, more than the limit of {limits.max_file_bytes:,} bytes",
        )
    if size == 0:
        raise WorkbookError(path, "filen er tom", "the file is empty")
    try:
        with path.open("rb") as handle:
            head = handle.read(8192)
    except OSError as error:
        raise WorkbookError.unreadable(path, error) from error

    extension = path.suffix.lower()
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return read_zip(path, extension, limits)
    if head.startswith(CFB_SIGNATURE):
        refuse_cfb(path)
    kind = known_kind(head)
    if kind is not None:
        raise WorkbookError(
            path,
            f"filen er {kind[0]}, ikke et regneark; {ACCEPTED_NB}",
            f"the file is {kind[1]}, not a spreadsheet; {ACCEPTED_EN}",
        )
    if extension in BINARY_EXTENSIONS:
        if looks_like_text(head):
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
    return read_csv(path, extension, limits)


def read_zip(path: Path, extension: str, limits: Limits) -> RawWorkbook:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise WorkbookError(
            path,
            f"filen er et skadet zip-arkiv og kan ikke leses ({error})",
            f"the file is a damaged zip archive and cannot be read ({error})",
        ) from error
    with archive:
        try:
            return _read_archive(path, archive, limits)
        except (zipfile.BadZipFile, EOFError, NotImplementedError, zlib.error) as error:
            # A member that does not unpack as its directory entry says (a name other
            # than its local header's, a damaged stream, a wrong CRC): refused with
            # the words of a damaged archive, never an error the user cannot read.
            raise WorkbookError(
                path,
                f"filen er et skadet zip-arkiv og kan ikke leses ({error})",
                f"the file is a damaged zip archive and cannot be read ({error})",
            ) from error


def _read_archive(path: Path, archive: zipfile.ZipFile, limits: Limits) -> RawWorkbook:
    check_zip(path, archive, limits)
    names = set(archive.namelist())
    if "mimetype" in names:
        mimetype = read_part(path, archive, "mimetype", 200).decode("ascii", "replace")
        mimetype = mimetype.strip()
        if mimetype in ODS_MIMETYPES:
            scan_xml_parts(path, archive, limits)
            return read_ods(path, archive, limits)
        if mimetype.startswith("application/vnd.oasis.opendocument."):
            raise WorkbookError(
                path,
                f"filen er et OpenDocument-dokument av typen {mimetype}, ikke et "
                f"regneark; {ACCEPTED_NB}",
                f"the file is an OpenDocument file of type {mimetype}, not a spreadsheet; "
                f"{ACCEPTED_EN}",
            )
    if "content.xml" in names and "META-INF/manifest.xml" in names:
        manifest = read_part(path, archive, "META-INF/manifest.xml")
        if b"opendocument.spreadsheet" in manifest and "[Content_Types].xml" not in names:
            scan_xml_parts(path, archive, limits)
            return read_ods(path, archive, limits)
    if "[Content_Types].xml" in names:
        # Read whole but bounded (zipped.SMALL_PART) and without entities; the
        # reader scans every part before anything else is read (xml_guard).
        file_type, workbook_part = office_main_part(path, archive)
        return read_xlsx(path, archive, file_type, workbook_part, limits)
    raise WorkbookError(
        path,
        f"filen er et zip-arkiv, men ikke et regneark; {ACCEPTED_NB}",
        f"the file is a zip archive, but not a spreadsheet; {ACCEPTED_EN}",
    )
