"""Which sheet of the template a raw sheet is, and which column each of its headers names.

The first step of mapping a workbook (``loaders.mapping``): sheets are found by name (a
lone CSV by its headers), headers by any of a column's names (``loaders.column_use``),
with a warning and a "did you mean" for one the template does not know. What it finds
goes to the caller's ``issue`` (the mapper pins it to its cell like any other).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import NamedTuple

from rdflib import Graph, URIRef
from rdflib.term import Node

from loaders.column_use import header_key, header_keys
from loaders.columns import Column, Sheet, sheets
from loaders.namespaces import KG, PREFIXES
from loaders.old_contract_end import HEADER_KEYS as OLD_CONTRACT_END
from loaders.workbook import RawCell, RawSheet, RawWorkbook

_IGNORED_SHEETS = {"veiledning", "guide", "lister", "lists"}

Report = Callable[..., None]
"""The mapper's ``issue(severity, nb, en, where, value=None, suggestion=None)``."""


@lru_cache(maxsize=1024)
def expand(curie: str) -> URIRef:
    """``kg:name`` as its IRI (the prefixes kommunegraf binds)."""
    prefix, _, local = curie.partition(":")
    return URIRef(PREFIXES[prefix] + local)


TEMPLATE_NAME = re.compile(r"\{([^}]+)\}")
"""Columns whose values name their row: another sheet of the workbook may use them."""


def text_of(cell: RawCell) -> str:
    """A cell's value as text, empty for an empty cell."""
    value = cell.value
    return "" if value is None else str(value)


class CellRef(NamedTuple):
    """Where a value came from: sheet, row, column letter and the column's header.

    A named tuple: one is made for every mapped cell (hundreds of thousands on the
    national demo), and a frozen dataclass took 2.5 times as long to make."""

    sheet: str
    row: int
    column: str
    column_name: str


@dataclass
class SheetReading:
    """One sheet as the template reads it: its columns by position, its data rows."""

    sheet: Sheet
    raw: RawSheet
    columns: dict[int, Column]
    """Position in the raw row (0-based) → column."""
    letters: dict[Column, str]
    rows: list[list[RawCell]]
    key_paths: dict[Node, str] = field(default_factory=dict)
    """The path of each column the IRI template names → its name in the template."""
    cells: dict[int, list[tuple[Column, RawCell, CellRef]]] = field(default_factory=dict)
    """A row's (by ``id``) mapped cells, made once: every pass reads them."""
    old_contract_end: tuple[int, str] | None = None
    """The position and header of an old workbook's contract end column (usage sheet)."""

    def __post_init__(self) -> None:
        for name in set(TEMPLATE_NAME.findall(self.sheet.iri_template)):
            self.key_paths[expand(name)] = name


def read_sheets(workbook: RawWorkbook, ontology: Graph, issue: Report) -> list[SheetReading]:
    """The sheets of ``workbook`` the template knows, each with its columns by position."""
    by_name: dict[str, Sheet] = {}
    for known in sheets():
        by_name[header_key(known.name_nb)] = known
        by_name[header_key(known.name_en)] = known
    readings = []
    single_csv = workbook.file_type == "csv" and len(workbook.sheets) == 1
    for raw in workbook.sheets:
        key = header_key(raw.name)
        if key in _IGNORED_SHEETS:
            continue
        sheet: Sheet | None = by_name.get(key)
        if sheet is None and single_csv:
            sheet = _sheet_by_headers(raw, ontology)
        if sheet is None:
            names = ", ".join(s.name_nb for s in sheets())
            issue(
                "warning",
                f"Arket «{raw.name}» er ikke en del av malen og blir ikke lest. "
                f"Kjente ark: {names}.",
                f"Sheet '{raw.name}' is not part of the template and is not read. "
                f"Known sheets: {names}.",
                raw.name,
            )
            continue
        if raw.hidden:
            issue(
                "warning",
                f"Arket «{raw.name}» er skjult, men blir lest.",
                f"Sheet '{raw.name}' is hidden, but is read.",
                raw.name,
            )
        reading = _read_headers(sheet, raw, ontology, issue)
        if reading is not None:
            readings.append(reading)
    return readings


def _sheet_by_headers(raw: RawSheet, ontology: Graph) -> Sheet | None:
    """A lone CSV is one sheet; which one, its headers tell."""
    if not raw.rows:
        return None
    found = {header_key(text_of(c)) for c in raw.rows[0]}
    best = max(
        sheets(),
        key=lambda s: len(found & set().union(*(header_keys(c, ontology) for c in s.columns))),
    )
    matched = found & set().union(*(header_keys(c, ontology) for c in best.columns))
    return best if len(matched) >= 2 else None


def _read_headers(
    sheet: Sheet, raw: RawSheet, ontology: Graph, issue: Report
) -> SheetReading | None:
    if not raw.rows:
        return None
    header_row = raw.rows[0]
    keys = {c: header_keys(c, ontology) for c in sheet.columns}
    columns: dict[int, Column] = {}
    letters: dict[Column, str] = {}
    old_contract_end = None
    for position, cell in enumerate(header_row):
        text = text_of(cell).strip()
        if not text:
            continue
        key = header_key(text)
        column = next((c for c, k in keys.items() if key in k), None)
        if column is None and sheet.target_class == KG.ApplicationUsage and key in OLD_CONTRACT_END:
            old_contract_end = (position, text)  # read into contracts, after the rows
            continue
        if column is None:
            known = {c.name_nb: c for c in sheet.columns}
            close = difflib.get_close_matches(text, list(known), n=1, cutoff=0.6)
            issue(
                "warning",
                f"Ukjent kolonne «{text}» blir ikke lest."
                + (f" Mente du «{close[0]}»?" if close else ""),
                f"Unknown column '{text}' is not read."
                + (f" Did you mean '{close[0]}'?" if close else ""),
                CellRef(raw.name, cell.row, cell.column_letter, text),
                suggestion=close[0] if close else None,
            )
            continue
        if column in letters:
            issue(
                "error",
                f"Kolonnen «{column.name_nb}» står to ganger.",
                f"Column '{column.name_en}' appears twice.",
                CellRef(raw.name, cell.row, cell.column_letter, column.name_nb),
            )
            continue
        columns[position] = column
        letters[column] = cell.column_letter
    for column in sheet.columns:
        if column.required and column not in letters:
            issue(
                "error",
                f"Den påkrevde kolonnen «{column.name_nb}» mangler i arket.",
                f"The required column '{column.name_en}' is missing from the sheet.",
                (raw.name, header_row[0].row if header_row else 1),
            )
    data = raw.rows[1:]
    if data and _is_english_header(data[0], sheet):
        data = data[1:]
    reading = SheetReading(sheet, raw, columns, letters, data)
    reading.old_contract_end = old_contract_end
    return reading


def _is_english_header(row: list[RawCell], sheet: Sheet) -> bool:
    english = {header_key(c.name_en) for c in sheet.columns}
    texts = [header_key(text_of(c)) for c in row if text_of(c).strip()]
    return bool(texts) and sum(t in english for t in texts) >= max(1, len(texts) // 2)
