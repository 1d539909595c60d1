"""xlsx and xlsm: python-calamine for the values, a streaming pre-scan for what it does not tell."""

from __future__ import annotations

import posixpath
import re
import zipfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import python_calamine
from openpyxl.utils.cell import coordinate_to_tuple, range_boundaries

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
    FileType,
    Limits,
    RawSheet,
    RawWorkbook,
    WorkbookError,
    attribute,
    local_name,
)
from loaders.workbook.xml_guard import scan_part, scan_xml_parts
from loaders.workbook.zipped import parse_xml, read_part, unreadable

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

    def include(self, row: int, column: int) -> None:
        self.first_row = min(self.first_row or row, row)
        self.first_column = min(self.first_column or column, column)
        self.last_row = max(self.last_row, row)
        self.last_column = max(self.last_column, column)

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
    targets: dict[str, str] = {}
    for relation in parse_xml(path, read_part(path, archive, rels_name), file_type):
        if not relation.get("Type", "").endswith(_WORKSHEET_RELATIONSHIP):
            continue
        target = relation.get("Target", "")
        if target.startswith("/"):
            resolved = target.lstrip("/")
        else:
            resolved = posixpath.normpath(posixpath.join(folder, target))
        targets[relation.get("Id", "")] = resolved
    sheets: list[_XlsxSheet] = []
    for element in parse_xml(path, read_part(path, archive, workbook_part), file_type).iter():
        if local_name(element.tag) != "sheet":
            continue
        state = element.get("state", "visible")
        part = targets.get(attribute(element, "id") or "")
        sheets.append(_XlsxSheet(element.get("name", ""), state != "visible", part))
    return sheets


_NAMESPACES = tuple(namespace.strip("{}") + " " for namespace in _SPREADSHEETML)


def _expat(name: str) -> frozenset[str]:
    return frozenset(namespace + name for namespace in _NAMESPACES)


_X_ROW, _X_C, _X_V, _X_F, _X_IS, _X_MERGE_CELL = (
    _expat(name) for name in ("row", "c", "v", "f", "is", "mergeCell")
)


_REFERENCE = re.compile(r"([A-Z]{1,3})([1-9][0-9]{0,6})")


@lru_cache(maxsize=32_768)
def _column_number(letters: str) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + ord(letter) - 64
    return number


def _coordinate(reference: str) -> tuple[int, int]:
    """(row, column) of a cell reference like "AB12": openpyxl's ``coordinate_to_tuple``
    (which stays the judge of anything unusual), without its cost for every cell."""
    match = _REFERENCE.fullmatch(reference)
    if match is None:
        row, column = coordinate_to_tuple(reference)
        return int(row), int(column)
    return int(match[2]), _column_number(match[1])


class _SheetObserver:
    """The sheet XML as the guard streams it: merges, errors, formulas without cached
    values, and the row and cell limits, before anything is built.

    The rows are counted as they will be handed over, from column A to the last
    ``<c>`` of each row, empty or not (in ``scanned``, shared by all sheets), so a
    sheet of sparse cells at column XFD is stopped here; python-calamine holds the
    box around the cells densely, which ``read_xlsx`` bounds from this scan too.
    """

    def __init__(
        self, path: Path, part: str, sheet: str, limits: Limits, scanned: list[int]
    ) -> None:
        self.path, self.part, self.sheet, self.limits = path, part, sheet, limits
        self.scanned = scanned
        self.scan = _SheetScan()
        self.row = self.column = self.row_width = self.row_cells = 0
        self.cell_type: str | None = None
        self.has_formula = self.has_value = self.in_value = False
        self.value: list[str] = []

    def start(self, name: str, attributes: dict[str, str]) -> None:
        if name in _X_C:
            reference = attributes.get("r")
            if reference:
                try:
                    self.row, self.column = _coordinate(reference)
                except (ValueError, TypeError) as error:
                    raise unreadable(self.path, "xlsx", f"{self.part}: {error}") from error
            else:
                self.column += 1
            if self.column > MAX_COLUMNS:
                raise too_many_columns(self.path, self.sheet, self.row, self.column)
            self.row_width = max(self.row_width, self.column)
            self.row_cells += 1
            if self.scanned[0] + max(self.row_width, self.row_cells) > self.limits.max_cells:
                raise too_many_cells(self.path, self.limits, self.sheet, self.row)
            self.cell_type = attributes.get("t")
            self.has_formula = self.has_value = False
        elif name in _X_V:
            self.in_value = True
            self.value = []
        elif name in _X_F:
            self.has_formula = True
        elif name in _X_IS:
            self.has_value = True
        elif name in _X_ROW:
            number = attributes.get("r")
            try:
                self.row = int(number) if number else self.row + 1
            except ValueError as error:
                raise unreadable(self.path, "xlsx", f"{self.part}: {error}") from error
            self.column = self.row_width = self.row_cells = 0
        elif name in _X_MERGE_CELL:
            try:
                first_column, first_row, last_column, last_row = range_boundaries(
                    attributes.get("ref", "")
                )
            except (ValueError, TypeError) as error:
                raise unreadable(self.path, "xlsx", f"{self.part}: {error}") from error
            self.scan.merges.append((first_row, first_column, last_row, last_column))

    def text(self, data: str) -> None:
        if self.in_value:
            self.value.append(data)

    def end(self, name: str) -> None:
        if name in _X_V:
            self.in_value = False
            text = "".join(self.value)
            self.has_value = bool(text) or self.cell_type in _TEXT_RESULTS
            if text and self.cell_type == "e":
                self.scan.errors[(self.row, self.column)] = text
        elif name in _X_C:
            if self.has_formula and not self.has_value:
                self.scan.uncached.append((self.row, self.column))
            if self.has_value or self.has_formula:
                if self.row > self.limits.max_rows:
                    raise too_many_rows(self.path, self.limits, self.sheet, self.row)
                self.scan.include(self.row, self.column)
        elif name in _X_ROW:
            self.scanned[0] += max(self.row_width, self.row_cells)


def read_xlsx(
    path: Path, archive: zipfile.ZipFile, file_type: FileType, workbook_part: str, limits: Limits
) -> RawWorkbook:
    sheets = _xlsx_sheets(path, archive, file_type, workbook_part)
    if len(sheets) > limits.max_sheets:
        raise too_many_sheets(path, limits, len(sheets))
    names = set(archive.namelist())
    parts = frozenset(sheet.part for sheet in sheets if sheet.part is not None)
    # Every other part is scanned as it is; the sheets below, with their observers.
    scan_xml_parts(path, archive, limits, skip=parts)
    scanned = [0]
    scans: dict[str, _SheetScan] = {}
    for sheet in sheets:
        if sheet.part is None:
            continue
        if sheet.part not in names:
            raise unreadable(path, file_type, f"{sheet.part} mangler (is missing)")
        observer = _SheetObserver(path, sheet.part, sheet.name, limits, scanned)
        if not scan_part(path, archive, sheet.part, limits, observer):
            raise unreadable(path, file_type, f"{sheet.part}: ikke gyldig XML (not well-formed)")
        scans[sheet.name] = observer.scan
    budget = Budget(path, limits)
    result: list[RawSheet] = []
    try:
        workbook = python_calamine.CalamineWorkbook.from_path(str(path))
        try:
            for sheet in sheets:
                scan = scans.get(sheet.name)
                if scan is None:
                    continue
                builder = SheetBuilder(sheet.name, sheet.hidden, budget)
                _xlsx_values(path, workbook, sheet.name, scan, builder, limits)
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
    name: str,
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
        raise too_many_cells(path, limits, name, scan.last_row)
    skip = set(scan.uncached) | scan.errors.keys()
    sheet = workbook.get_sheet_by_name(name)
    first_row, first_column = sheet.start or (0, 0)
    # The rows of the box, from its first row and column (``iter_rows`` pads the rows
    # above it but not the columns to its left, so the box is read whole instead).
    for offset, cells in enumerate(sheet.to_python(skip_empty_area=True)):
        row = first_row + offset + 1
        if row > scan.last_row:
            break
        for index, value in enumerate(cells):
            if value == "" or value is None:
                continue
            column = first_column + index + 1
            if (row, column) in skip:
                continue
            if type(value) is float:
                value = _number(value)
            builder.add(row, column, value)
