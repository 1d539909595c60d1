"""The xlsx sheet scan (guard and pre-scan in one expat pass) and the reading path's imports.

Cheap: small limits make small hostile files; the conversions that replaced openpyxl's
are checked against openpyxl's own on every column.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl.utils.cell import coordinate_to_tuple, get_column_letter, range_boundaries

from loaders.workbook import Limits, RawCell, WorkbookError, read_workbook
from loaders.workbook.raw import column_letter
from loaders.workbook.xlsx import _coordinate, _merged_range
from tests.loaders.test_workbook import (
    SHEET1,
    folder,
    replace_once,
    rewrite_zip,
    xlsx,
)

__all__ = ["folder", "xlsx"]  # fixtures, shared with test_workbook

SMALL = Limits(max_cell_chars=500, max_token_bytes=10_000)
"""Small enough for small hostile files; the fixture's longest own text of an element
(in its theme) has 295 characters."""


def test_column_letters_are_openpyxls_for_every_column() -> None:
    for column in range(1, 18_279):
        assert column_letter(column) == get_column_letter(column)
    for outside in (0, 18_279):
        with pytest.raises(ValueError):
            column_letter(outside)


@pytest.mark.parametrize(
    "reference", ["A1", "Z9", "AA10", "XFD1048576", "ZZZ1", "ab12", "Bc7", "A0999"]
)
def test_cell_references_read_as_openpyxl_reads_them(reference: str) -> None:
    assert _coordinate(reference) == coordinate_to_tuple(reference)


@pytest.mark.parametrize(
    "reference", ["A", "12", "AAAA1", "A-1", "A 1", "1A", "A1B", "$C$3", "D$4"]
)
def test_cell_references_openpyxl_refuses_are_refused(reference: str) -> None:
    with pytest.raises(ValueError):
        coordinate_to_tuple(reference)
    with pytest.raises(ValueError):
        _coordinate(reference)


def test_row_zero_is_refused() -> None:
    """openpyxl read "A0" as row 0, which no sheet has; python-calamine would place it in
    row 1, so the scan and the reader would disagree: refused instead."""
    with pytest.raises(ValueError, match="there is no row 0"):
        _coordinate("A0")


@pytest.mark.parametrize("reference", ["A3:A5", "G6:H6", "B2", "$A$1:$XFD$1048576", "b2:c3"])
def test_merged_ranges_read_as_openpyxl_reads_them(reference: str) -> None:
    first_column, first_row, last_column, last_row = range_boundaries(reference)
    assert _merged_range(reference) == (first_row, first_column, last_row, last_column)


def test_regression_a_raw_cell_stays_immutable() -> None:
    """RawCell became a named tuple (a third of the cost of a frozen dataclass)."""
    cell = RawCell("x", 2, 3, "C")
    with pytest.raises(AttributeError):
        cell.value = "y"  # type: ignore[misc]
    assert cell == RawCell("x", 2, 3, "C", None, None)
    assert cell.coordinate == "C2"


def test_regression_reading_a_workbook_imports_no_openpyxl() -> None:
    """openpyxl imports numpy: a third of a second at each start of ``kommunegraf validate``."""
    code = (
        "import sys, loaders.spreadsheet; print(sorted({'openpyxl', 'numpy'} & set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


RICH_RUNS = "".join(f"<r><t>{letter * 300}</t></r>" for letter in "xy")
FOOTER = "<headerFooter><oddFooter>" + "z" * 501 + "</oddFooter></headerFooter>"


@pytest.mark.parametrize(
    ("old", "new", "length"),
    [
        # a cell's text is counted across its runs
        ("<is><t>Tokke</t></is>", f"<is>{RICH_RUNS}</is>", 600),
        # text in no cell (a header or footer) is counted element by element
        ("</worksheet>", f"{FOOTER}</worksheet>", 501),
    ],
    ids=["rich-text-runs", "footer"],
)
def test_regression_sheet_text_is_limited_in_the_one_pass_scan(
    xlsx: Path, folder: Path, old: str, new: str, length: int
) -> None:
    """The guard's counts ride on the sheet's pre-scan callbacks (``xlsx._scan_sheet``)."""
    path = rewrite_zip(xlsx, folder / f"tekst-{length}.xlsx", {SHEET1: replace_once(old, new)})
    with pytest.raises(WorkbookError) as caught:
        read_workbook(path, SMALL)
    assert f"the part {SHEET1} has a cell or text of more than 500 characters (at least" in (
        caught.value.message_en
    )
    assert read_workbook(path, Limits(max_cell_chars=length)).sheets[0].rows[2][0].value == (
        "x" * 300 + "y" * 300 if length == 600 else "Tokke"
    )


@pytest.mark.parametrize("part", [SHEET1, "xl/styles.xml"])
def test_regression_a_giant_comment_is_a_token_too(xlsx: Path, folder: Path, part: str) -> None:
    """A comment arrives in no callback; the bytes expat holds unparsed after each chunk
    are bounded (``xml_guard.feed``), in the sheets' scan and the other parts' alike."""
    comment = "<!--" + "c" * 100_000 + "-->"
    path = rewrite_zip(
        xlsx, folder / "kommentar.xlsx", {part: lambda text: text.replace("><", f">{comment}<", 1)}
    )
    with pytest.raises(WorkbookError) as caught:
        read_workbook(path, SMALL)
    assert f"the part {part} has an XML element or attribute of more than 10,000 bytes" in (
        caught.value.message_en
    )
    read_workbook(path, Limits(max_token_bytes=200_000))


@pytest.mark.parametrize(
    ("reference", "row", "place"),
    [("A13", "3", "A13"), ("e3", "3", "E3"), ("F3", "03", "F3"), ("A3", "3", "A3")],
)
def test_a_cell_is_placed_by_its_own_reference_whatever_its_row_says(
    xlsx: Path, folder: Path, reference: str, row: str, place: str
) -> None:
    """The scan's fast path takes the column from the letters before the row's digits;
    a reference that disagrees with its row is parsed in full, as python-calamine does."""
    edit = replace_once(
        '<row r="3"><c r="A3" t="inlineStr">', f'<row r="{row}"><c r="{reference}" t="inlineStr">'
    )
    path = rewrite_zip(xlsx, folder / f"plass-{reference}-{row}.xlsx", {SHEET1: edit})
    sheet = read_workbook(path).sheets[0]
    tokke = [
        c.coordinate for r in sheet.rows for c in r if c.value == "Tokke" and not c.merged_from
    ]
    assert tokke == [place]


def test_row_zero_in_a_row_element_is_refused(xlsx: Path, folder: Path) -> None:
    edit = replace_once('<row r="3"><c r="A3"', '<row r="0"><c r="A0"')
    path = rewrite_zip(xlsx, folder / "rad-null.xlsx", {SHEET1: edit})
    with pytest.raises(WorkbookError, match="there is no row 0"):
        read_workbook(path)
