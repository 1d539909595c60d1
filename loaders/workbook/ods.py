"""ods: a streaming parser of content.xml; repeated rows and columns are counted, not built."""

from __future__ import annotations

import re
import zipfile
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import IO
from xml.etree.ElementTree import Element, ParseError

import defusedxml
from defusedxml.ElementTree import iterparse as _safe_iterparse

from loaders.workbook.builder import (
    Budget,
    SheetBuilder,
    too_many_columns,
    too_many_sheets,
)
from loaders.workbook.raw import (
    MAX_COLUMNS,
    NO_CACHED_VALUE,
    CellValue,
    Limits,
    RawSheet,
    RawWorkbook,
    WorkbookError,
)
from loaders.workbook.zipped import (
    read_part,
    unreadable,
    xml_bomb,
)

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


def read_ods(path: Path, archive: zipfile.ZipFile, limits: Limits) -> RawWorkbook:
    names = set(archive.namelist())
    if "META-INF/manifest.xml" in names:
        manifest = read_part(path, archive, "META-INF/manifest.xml")
        if b"encryption-data" in manifest:
            raise WorkbookError(
                path,
                "filen er kryptert eller passordbeskyttet; lagre den uten passord og prøv igjen",
                "the file is encrypted or password-protected; save it without a password "
                "and try again",
            )
    if "content.xml" not in names:
        raise unreadable(path, "ods", "content.xml mangler (is missing)")
    budget = Budget(path, limits)
    try:
        with archive.open("content.xml") as source:
            sheets = _ods_sheets(path, source, limits, budget)
    except defusedxml.DefusedXmlException as error:
        raise xml_bomb(path) from error
    except (ParseError, RecursionError) as error:
        raise unreadable(path, "ods", f"content.xml: {error}") from error
    return RawWorkbook(sheets, "ods")


def _ods_sheets(path: Path, source: IO[bytes], limits: Limits, budget: Budget) -> list[RawSheet]:
    """Stream ``content.xml``, freeing each cell and row once it is read.

    Elements are removed from their parent as soon as they are done, so memory
    stays that of one row however long the document is.
    """
    hidden_styles: set[str] = set()
    sheets: list[RawSheet] = []
    stack: list[Element] = []
    builder: SheetBuilder | None = None
    row: _OdsRow | None = None
    row_number = 0
    for event, element in _safe_iterparse(source, events=("start", "end")):
        tag = element.tag
        if event == "start":
            stack.append(element)
            if tag == _TABLE + "table" and builder is None:
                if len(sheets) + 1 > limits.max_sheets:
                    raise too_many_sheets(path, limits, len(sheets) + 1)
                name = element.get(_TABLE + "name", f"Ark{len(sheets) + 1}")
                hidden = element.get(_TABLE + "style-name") in hidden_styles
                builder = SheetBuilder(name, hidden, budget)
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
    path: Path, element: Element, row: _OdsRow, builder: SheetBuilder | None, row_number: int
) -> None:
    repeat = _repeat(element, "number-columns-repeated")
    value, error = _ods_cell(element)
    if value is None and error is None:
        row.column += repeat
        return
    if row.column + repeat > MAX_COLUMNS:
        sheet = builder.name if builder else ""
        raise too_many_columns(path, sheet, row_number + 1, row.column + repeat)
    rows_spanned = _repeat(element, "number-rows-spanned")
    columns_spanned = _repeat(element, "number-columns-spanned")
    for _ in range(repeat):
        row.column += 1
        row.cells.append((row.column, value, error))
        if rows_spanned > 1 or columns_spanned > 1:
            row.spans.append((row.column, rows_spanned, columns_spanned))
