"""xlsx and xlsm: openpyxl in read-only mode, and a streaming pre-scan for what it does not tell."""

from __future__ import annotations

import posixpath
import re
import warnings
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element, ParseError

import defusedxml
from defusedxml.ElementTree import iterparse as _safe_iterparse
from openpyxl import load_workbook
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
from loaders.workbook.zipped import (
    parse_xml,
    read_part,
    unreadable,
    xml_bomb,
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
                        raise too_many_columns(path, sheet, row_number, column)
                    row_width = max(row_width, column)
                    row_cells += 1
                    # openpyxl holds every <c> of a row, and pads it to its last column
                    if scanned[0] + max(row_width, row_cells) > limits.max_cells:
                        raise too_many_cells(path, limits, sheet, row_number)
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
                            raise too_many_rows(path, limits, sheet, row_number)
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
        raise xml_bomb(path) from error
    except (ParseError, ValueError, TypeError) as error:
        raise unreadable(path, "xlsx", f"{part}: {error}") from error
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


def read_xlsx(
    path: Path, archive: zipfile.ZipFile, file_type: FileType, workbook_part: str, limits: Limits
) -> RawWorkbook:
    sheets = _xlsx_sheets(path, archive, file_type, workbook_part)
    if len(sheets) > limits.max_sheets:
        raise too_many_sheets(path, limits, len(sheets))
    names = set(archive.namelist())
    scanned = [0]
    scans: dict[str, _SheetScan] = {}
    for sheet in sheets:
        if sheet.part is None:
            continue
        if sheet.part not in names:
            raise unreadable(path, file_type, f"{sheet.part} mangler (is missing)")
        scans[sheet.name] = _scan_sheet(path, archive, sheet.part, sheet.name, limits, scanned)
    budget = Budget(path, limits)
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
                    builder = SheetBuilder(sheet.name, sheet.hidden, budget)
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
            raise xml_bomb(path) from error
        detail = f"{type(error).__name__}: {error}".replace(str(path), path.name)
        raise unreadable(path, file_type, detail) from error
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


def _xlsx_values(worksheet: Any, scan: _SheetScan, builder: SheetBuilder) -> None:
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
