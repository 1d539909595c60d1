"""xlsx and xlsm: python-calamine for the values, a streaming pre-scan for what it does not tell."""

from __future__ import annotations

import posixpath
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from xml.parsers import expat

import python_calamine

from loaders.workbook.builder import (
    Budget,
    SheetBuilder,
    too_many_cells,
    too_many_columns,
    too_many_rows,
    too_many_sheets,
)
from loaders.workbook.raw import (
    MAX_COLUMNS,
    NO_CACHED_VALUE,
    CellValue,
    FileType,
    Limits,
    RawSheet,
    RawWorkbook,
    WorkbookError,
    attribute,
    local_name,
)
from loaders.workbook.xml_guard import (
    CELL_TAGS,
    STRING_TAGS,
    RefusedError,
    feed,
    scan_xml_parts,
    too_long_cell,
    too_many_strings,
)
from loaders.workbook.zipped import member_key, parse_xml, read_part, unreadable

# --- xlsx / xlsm --------------------------------------------------------------

_WORKSHEET_RELATIONSHIP = "/worksheet"
_SPREADSHEETML = (
    "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}",
    "{http://purl.oclc.org/ooxml/spreadsheetml/main}",  # "strict" Office Open XML
)


_TEXT_RESULTS = ("str", "inlineStr")
"""Cell types whose empty ``<v/>`` is a cached empty string, not a missing value."""


@dataclass
class _XlsxSheet:
    name: str
    hidden: bool
    part: str | None
    """The worksheet XML in the zip; None for chart and dialog sheets, which hold no cells."""
    calamine_part: str | None = None
    """The part python-calamine reads for this sheet (``_calamine_part``)."""


_CALAMINE_WORKBOOK = "xl/workbook.xml"
"""Where python-calamine reads the sheets from, whatever ``[Content_Types].xml`` says."""


def _calamine_part(target: str) -> str:
    """The part python-calamine reads for a sheet's relationship target (its
    ``read_workbook``: "/xl/a" and "xl/a" as they are, anything else under "xl/")."""
    if target.startswith("/xl/"):
        return target[1:]
    if target.startswith("xl/"):
        return target
    return f"xl/{target}"


@dataclass
class _SheetScan:
    """What python-calamine does not tell, from one pass over the sheet XML."""

    last_row: int = 0
    first_row: int = 0
    first_column: int = 0
    last_column: int = 0
    """The box around every cell with a value or a formula: calamine holds it densely."""
    merges: list[tuple[int, int, int, int]] = field(default_factory=list)
    uncached: list[tuple[int, int]] = field(default_factory=list)
    errors: dict[tuple[int, int], str] = field(default_factory=dict)
    """(row, column) → the cached error ("#REF!"), which calamine turns into an empty string."""

    @property
    def area(self) -> int:
        if not self.last_row:
            return 0
        rows = self.last_row - self.first_row + 1
        return rows * (self.last_column - self.first_column + 1)


def _xlsx_sheets(
    path: Path, archive: zipfile.ZipFile, file_type: str, workbook_part: str
) -> list[_XlsxSheet]:
    """Sheet names, visibility and parts from workbook.xml and its relationships."""
    folder, name = posixpath.split(workbook_part)
    rels_name = posixpath.join(folder, "_rels", f"{name}.rels")
    names = set(archive.namelist())
    if workbook_part not in names or rels_name not in names:
        raise unreadable(path, file_type, f"{workbook_part} / {rels_name} mangler (missing)")
    targets: dict[str, tuple[str, str]] = {}
    for relation in parse_xml(path, read_part(path, archive, rels_name), file_type):
        if not relation.get("Type", "").endswith(_WORKSHEET_RELATIONSHIP):
            continue
        target = relation.get("Target", "")
        if target.startswith("/"):
            resolved = target.lstrip("/")
        else:
            resolved = posixpath.normpath(posixpath.join(folder, target))
        targets[relation.get("Id", "")] = (resolved, _calamine_part(target))
    sheets: list[_XlsxSheet] = []
    for element in parse_xml(path, read_part(path, archive, workbook_part), file_type).iter():
        if local_name(element.tag) != "sheet":
            continue
        state = element.get("state", "visible")
        part, calamine_part = targets.get(attribute(element, "id") or "", (None, None))
        sheets.append(_XlsxSheet(element.get("name", ""), state != "visible", part, calamine_part))
    return sheets


def _same_parts_as_calamine(
    path: Path,
    archive: zipfile.ZipFile,
    file_type: FileType,
    workbook_part: str,
    sheets: list[_XlsxSheet],
) -> None:
    """Refuse a file whose sheets python-calamine would read from other parts than
    those the guard scans: a check must see exactly what the reader reads.

    calamine reads xl/workbook.xml whatever ``[Content_Types].xml`` names, resolves a
    sheet's target its own way (``_calamine_part``) and finds parts by ``member_key``;
    files written by Excel, LibreOffice or openpyxl agree on all three.
    """
    if member_key(workbook_part) != _CALAMINE_WORKBOOK:
        raise unreadable(
            path,
            file_type,
            f"arbeidsboken ligger i {workbook_part}, ikke i {_CALAMINE_WORKBOOK} der "
            f"leseren finner den (the workbook is in {workbook_part}, not in "
            f"{_CALAMINE_WORKBOOK} where the reader finds it)",
        )
    members: dict[str, str] = {}
    for name in archive.namelist():
        members.setdefault(member_key(name), name)
    for sheet in sheets:
        if sheet.part is None or sheet.calamine_part is None:
            continue
        read = members.get(member_key(sheet.calamine_part), sheet.calamine_part)
        if read != sheet.part:
            raise unreadable(
                path,
                file_type,
                f"arket «{sheet.name}» peker på {sheet.part}, men leseren ville lest {read} "
                f"(sheet '{sheet.name}' points to {sheet.part}, but the reader would read "
                f"{read})",
            )


_NAMESPACES = tuple(namespace.strip("{}") + " " for namespace in _SPREADSHEETML)

# What each element of a worksheet means to the scan, by its expat name.
_ROW, _C, _V, _F, _IS, _MERGE_CELL, _OTHER_CELL, _STRING = range(8)
_KINDS: dict[str, int] = {
    namespace + name: kind
    for namespace in _NAMESPACES
    for name, kind in (
        ("row", _ROW),
        ("c", _C),
        ("v", _V),
        ("f", _F),
        ("is", _IS),
        ("mergeCell", _MERGE_CELL),
    )
}
# The guard's other cell elements (a shared string, an ODF cell) count as cells for the
# text limit wherever they are, as in ``xml_guard.scan_part``, and a shared string counts
# against their limit too (a sheet's target may be the shared strings part).
_KINDS.update({name: _OTHER_CELL for name in CELL_TAGS if name not in _KINDS})
_KINDS.update({name: _STRING for name in STRING_TAGS})


_REFERENCE = re.compile(r"([A-Za-z]{1,3})([0-9]+)")
"""A cell reference as openpyxl's ``coordinate_to_tuple`` (the reader before this one)
took it: one to three letters of either case, then the row."""


def _column_number(letters: str) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + ord(letter) - 64
    return number


class _Columns(dict[str, int]):
    """Column letters ("AB") to numbers (28), computed once each; only letters that
    ``_REFERENCE`` matched, upper case, are ever keys (the scan's fast path relies on it)."""

    def __missing__(self, letters: str) -> int:
        self[letters] = number = _column_number(letters)
        return number


_COLUMNS = _Columns()


def _coordinate(reference: str) -> tuple[int, int]:
    """(row, column) of a cell reference like "AB12".

    Why not openpyxl's ``coordinate_to_tuple``: importing openpyxl imports numpy,
    a third of a second at every start of the command line, for a conversion the
    tests check against openpyxl's (tests/loaders/test_workbook_scan.py).
    """
    match = _REFERENCE.fullmatch(reference)
    if match is None:
        raise ValueError(f"ugyldig cellereferanse (invalid cell reference) {reference!r}")
    row = int(match[2])
    if row == 0:
        raise ValueError(f"rad 0 finnes ikke (there is no row 0) i {reference!r}")
    return row, _COLUMNS[match[1].upper()]


def _merged_range(reference: str) -> tuple[int, int, int, int]:
    """(first row, first column, last row, last column) of a ``<mergeCell ref="B2:D3">``.

    A single cell ("B2") is a range of one, and either end may be absolute ("$B$2"), as
    openpyxl's ``range_boundaries`` had it.
    """
    first, _, last = reference.replace("$", "").partition(":")
    first_row, first_column = _coordinate(first)
    last_row, last_column = _coordinate(last) if last else (first_row, first_column)
    return first_row, first_column, last_row, last_column


def _scan_sheet(
    path: Path,
    archive: zipfile.ZipFile,
    file_type: FileType,
    part: str,
    sheet: str,
    limits: Limits,
    scanned: list[int],
) -> _SheetScan:
    """The guard's limits and what python-calamine does not tell, in one expat pass.

    The guard's counts (``xml_guard.scan_part``: each text node's and each cell's
    characters; ``xml_guard.feed``: DTDs and the bytes of a token) and the pre-scan
    of the sheet (merges, errors, formulas without cached values, the row and cell
    limits, the box) ride on the same callbacks. Why one set of callbacks and not the
    guard's calling an observer's: the calls themselves were most of the reading of
    a workbook (Oslo's: 28 of 43 ms; 13 now).

    The rows are counted as they will be handed over, from column A to the last
    ``<c>`` of each row, empty or not (in ``scanned``, shared by all sheets), so a
    sheet of sparse cells at column XFD is stopped here; python-calamine holds the
    box around the cells densely, which ``read_xlsx`` bounds from this scan too.
    """
    scan = _SheetScan()
    max_chars, max_rows, max_cells = limits.max_cell_chars, limits.max_rows, limits.max_cells
    kinds, columns = _KINDS, _COLUMNS
    cells: list[int] = []  # characters so far in each open cell element
    texts: list[int] = [0]  # characters so far in the own text of each open element outside cells
    value: list[str] = []
    strings = 0  # shared strings' entries, should the sheet's part be the shared strings
    row = column = row_width = row_cells = 0
    row_number, row_digits = 0, ""  # the current <row>'s number, and as written if plain digits
    first_row = first_column = MAX_COLUMNS + max_rows + 1  # the box, until a cell is in it
    last_row = last_column = 0
    cell_type: str | None = None
    has_formula = has_value = in_value = False

    def start(name: str, attributes: dict[str, str]) -> None:
        nonlocal row, column, row_width, row_cells, cell_type, has_formula, has_value, in_value
        nonlocal row_number, row_digits, strings
        if not cells:
            texts.append(0)
        kind = kinds.get(name)
        if kind is None:
            return
        if kind == _C:
            cells.append(0)
            reference = attributes.get("r")
            if reference:
                # "AB12" in row 12, as every program writes it: the letters before the
                # row's own digits, if known column letters, are the column (a quarter
                # of the cost of parsing it); anything else is parsed in full.
                known = None
                if row_digits and reference.endswith(row_digits):
                    known = columns.get(reference[: -len(row_digits)])
                if known is not None:
                    row, column = row_number, known
                else:
                    try:
                        row, column = _coordinate(reference)
                    except ValueError as error:
                        message = f"{part}: {error}"
                        raise RefusedError(unreadable(path, "xlsx", message)) from error
            else:
                column += 1
            if column > MAX_COLUMNS:
                raise RefusedError(too_many_columns(path, sheet, row, column))
            if column > row_width:
                row_width = column
            row_cells += 1
            if scanned[0] + (row_width if row_width > row_cells else row_cells) > max_cells:
                raise RefusedError(too_many_cells(path, limits, sheet, row))
            cell_type = attributes.get("t")
            has_formula = has_value = False
        elif kind == _V:
            in_value = True
            value.clear()
        elif kind == _IS:
            has_value = True
        elif kind == _F:
            has_formula = True
        elif kind == _ROW:
            number = attributes.get("r")
            try:
                row = row_number = int(number) if number else row + 1
            except ValueError as error:
                raise RefusedError(unreadable(path, "xlsx", f"{part}: {error}")) from error
            row_digits = ""
            if number and row_number and number.isascii() and number.isdigit():
                row_digits = number
            column = row_width = row_cells = 0
        elif kind == _MERGE_CELL:
            try:
                scan.merges.append(_merged_range(attributes.get("ref", "")))
            except ValueError as error:
                raise RefusedError(unreadable(path, "xlsx", f"{part}: {error}")) from error
        else:
            cells.append(0)
            if kind == _STRING:
                strings += 1
                if strings > limits.max_shared_strings:
                    raise RefusedError(too_many_strings(path, part, limits))

    def end(name: str) -> None:
        nonlocal has_value, in_value, first_row, first_column, last_row, last_column
        kind = kinds.get(name)
        if kind is None:
            pass
        elif kind == _V:
            in_value = False
            text = "".join(value)
            has_value = bool(text) or cell_type in _TEXT_RESULTS
            if text and cell_type == "e":
                scan.errors[(row, column)] = text
        elif kind == _C:
            cells.pop()
            if has_formula and not has_value:
                scan.uncached.append((row, column))
            if has_value or has_formula:
                if row > max_rows:
                    raise RefusedError(too_many_rows(path, limits, sheet, row))
                if row < first_row:
                    first_row = row
                if row > last_row:
                    last_row = row
                if column < first_column:
                    first_column = column
                if column > last_column:
                    last_column = column
        elif kind == _ROW:
            scanned[0] += row_width if row_width > row_cells else row_cells
        elif kind in (_OTHER_CELL, _STRING):
            cells.pop()
        if not cells:
            texts.pop()

    def text(data: str) -> None:
        # Text inside a cell is counted for the innermost cell, which holds at least the
        # own text of every element in it; other text for its element.
        if cells:
            cells[-1] += len(data)
            if cells[-1] > max_chars:
                raise RefusedError(too_long_cell(path, part, limits, cells[-1]))
        else:
            texts[-1] += len(data)
            if texts[-1] > max_chars:
                raise RefusedError(too_long_cell(path, part, limits, texts[-1]))
        if in_value:
            value.append(data)

    parser = expat.ParserCreate(namespace_separator=" ")
    parser.buffer_text = True  # pieces of at most ``buffer_size`` characters: memory stays bounded
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    if not feed(path, archive, part, limits, parser):
        raise unreadable(path, file_type, f"{part}: ikke gyldig XML (not well-formed)")
    if last_row:
        scan.first_row, scan.first_column = first_row, first_column
        scan.last_row, scan.last_column = last_row, last_column
    return scan


def read_xlsx(
    path: Path, archive: zipfile.ZipFile, file_type: FileType, workbook_part: str, limits: Limits
) -> RawWorkbook:
    sheets = _xlsx_sheets(path, archive, file_type, workbook_part)
    if len(sheets) > limits.max_sheets:
        raise too_many_sheets(path, limits, len(sheets))
    names = set(archive.namelist())
    for sheet in sheets:
        if sheet.part is not None and sheet.part not in names:
            raise unreadable(path, file_type, f"{sheet.part} mangler (is missing)")
    _same_parts_as_calamine(path, archive, file_type, workbook_part, sheets)
    parts = frozenset(sheet.part for sheet in sheets if sheet.part is not None)
    # Every other part is scanned as it is; the sheets below, with their pre-scan.
    scan_xml_parts(path, archive, limits, skip=parts)
    scanned = [0]
    scans: list[_SheetScan | None] = [
        None
        if sheet.part is None
        else _scan_sheet(path, archive, file_type, sheet.part, sheet.name, limits, scanned)
        for sheet in sheets
    ]
    budget = Budget(path, limits)
    result: list[RawSheet] = []
    try:
        workbook = python_calamine.CalamineWorkbook.from_path(str(path))
        try:
            if workbook.sheet_names != [sheet.name for sheet in sheets]:
                detail = f"{workbook.sheet_names} ≠ {[sheet.name for sheet in sheets]}"
                raise unreadable(path, file_type, f"arkene (the sheets): {detail}")
            for index, (sheet, scan) in enumerate(zip(sheets, scans, strict=True)):
                if scan is None:
                    continue
                builder = SheetBuilder(sheet.name, sheet.hidden, budget)
                _xlsx_values(path, workbook, index, scan, builder, limits)
                for first_row, first_column, last_row, last_column in scan.merges:
                    builder.merge(first_row, first_column, last_row, last_column)
                result.append(builder.build())
        finally:
            workbook.close()
    except WorkbookError:
        raise
    except MemoryError:
        raise
    except Exception as error:  # calamine raises its own types, and others, for damaged files
        detail = f"{type(error).__name__}: {error}".replace(str(path), path.name)
        raise unreadable(path, file_type, detail) from error
    return RawWorkbook(result, file_type)


def _number(value: float) -> int | float:
    """A whole number as an int, as the cell shows it (calamine reads every number as a float).

    Excel writes a whole number without a decimal point ("45000"), which openpyxl,
    the reader before this one, returned as an int: text columns read "45000", not
    "45000.0".
    """
    if value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def _xlsx_values(
    path: Path,
    workbook: python_calamine.CalamineWorkbook,
    index: int,
    scan: _SheetScan,
    builder: SheetBuilder,
    limits: Limits,
) -> None:
    for row, column in scan.uncached:
        builder.add(row, column, None, NO_CACHED_VALUE)
    for (row, column), error in scan.errors.items():
        builder.add(row, column, None, error)
    if scan.last_row == 0:
        return
    # calamine holds the box around the cells densely: a cell at A1 and one at XFD100000
    # would be 1.6 billion cells, though each row alone is within the limits.
    if scan.area > limits.max_cells:
        raise too_many_cells(path, limits, builder.name, scan.last_row)
    skip = set(scan.uncached) | scan.errors.keys()
    sheet = workbook.get_sheet_by_index(index)  # only now: calamine builds the box here
    first_row, first_column = sheet.start or (0, 0)
    # The rows of the box, from its first row and column (``iter_rows`` pads the rows
    # above it but not the columns to its left, so the box is read whole instead).
    for offset, cells in enumerate(sheet.to_python(skip_empty_area=True)):
        row = first_row + offset + 1
        if row > scan.last_row:
            break
        entries: dict[int, tuple[CellValue, str | None, str | None]] = {}
        for index, value in enumerate(cells, first_column + 1):
            if value == "" or value is None:
                continue
            if skip and (row, index) in skip:
                continue
            if type(value) is float:
                value = _number(value)
            entries[index] = (value, None, None)
        builder.add_row(row, entries)
