"""The guard scans exactly the parts python-calamine reads (a check must see what the
executor reads): zip names, the workbook part and sheet targets that the two would
resolve differently are refused. Small files, no network, well under a second."""

from __future__ import annotations

import warnings
import zipfile
from pathlib import Path

import pytest

from loaders.workbook import Limits, WorkbookError, read_workbook
from tests.loaders.test_workbook import (
    CONTENT_TYPES,
    SHEET1,
    SST,
    folder,
    replace_once,
    rewrite_zip,
    xlsx,
)

__all__ = ["folder", "xlsx"]  # fixtures, shared with test_workbook

RELS = "xl/_rels/workbook.xml.rels"


def with_member(source: Path, target: Path, name: str, data: bytes) -> Path:
    """A copy of ``source`` with one more member, even of a name it already has."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for info in old.infolist():
            new.writestr(info, old.read(info))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Duplicate name": the point of some tests
            new.writestr(name, data)
    return target


@pytest.mark.parametrize("name", [SHEET1, "XL/Worksheets/Sheet1.xml", "xl\\worksheets\\sheet1.xml"])
def test_regression_two_parts_of_one_name_are_refused(xlsx: Path, folder: Path, name: str) -> None:
    """``zipfile`` opens the last of two members named alike, python-calamine may open
    the first (and compares names in any case, with "\\" as "/"): the guard would scan one
    sheet and the reader read the other."""
    evil = b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"/>'
    path = with_member(xlsx, folder / "to-deler.xlsx", name, evil)
    with pytest.raises(WorkbookError) as caught:
        read_workbook(path)
    assert caught.value.message_en.startswith("the file has more than one part named")


def test_regression_a_workbook_part_the_reader_does_not_read_is_refused(
    xlsx: Path, folder: Path
) -> None:
    """python-calamine reads xl/workbook.xml whatever [Content_Types].xml names; the
    guard followed the content types, so its sheets and the reader's could differ."""
    with zipfile.ZipFile(xlsx) as archive:
        workbook, rels = archive.read("xl/workbook.xml"), archive.read(RELS)
    path = rewrite_zip(
        xlsx,
        folder / "annen-arbeidsbok.xlsx",
        {CONTENT_TYPES: replace_once("/xl/workbook.xml", "/xl/book2.xml")},
        {"xl/book2.xml": workbook, "xl/_rels/book2.xml.rels": rels},
    )
    with pytest.raises(WorkbookError) as caught:
        read_workbook(path)
    assert "the workbook is in xl/book2.xml, not in xl/workbook.xml" in caught.value.message_en


def test_regression_a_sheet_target_the_reader_resolves_elsewhere_is_refused(
    xlsx: Path, folder: Path
) -> None:
    """A target of "../xl/worksheets/sheet1.xml" is that sheet to the guard, but python-calamine
    looks for a member named "xl/../xl/worksheets/sheet1.xml", which a hostile file may hold."""
    sheet1 = "xl/worksheets/sheet1.xml"
    edit = replace_once(f'Target="/{sheet1}"', f'Target="../{sheet1}"')
    path = rewrite_zip(xlsx, folder / "annet-mål.xlsx", {RELS: edit})
    with pytest.raises(WorkbookError) as caught:
        read_workbook(path)
    assert caught.value.message_en.endswith(
        "(sheet 'Applikasjoner' points to xl/worksheets/sheet1.xml, but the reader would read "
        "xl/../xl/worksheets/sheet1.xml)"
    )


def test_regression_shared_strings_named_in_upper_case_are_scanned(
    xlsx: Path, folder: Path
) -> None:
    """python-calamine opens xl/sharedStrings.XML as the shared strings; the guard skipped
    every part not ending in lower-case ".xml", so its strings went unmeasured."""
    table = f"{SST}><si><t>{'s' * 600}</t></si></sst>"
    path = rewrite_zip(
        xlsx,
        folder / "store-bokstaver.xlsx",
        {
            SHEET1: replace_once(
                '<c r="A2" t="inlineStr"><is><t>Bærum</t></is></c>', '<c r="A2" t="s"><v>0</v></c>'
            )
        },
        {"xl/sharedStrings.XML": table.encode("utf-8")},
    )
    assert read_workbook(path).sheets[0].rows[1][0].value == "s" * 600  # the reader reads it
    with pytest.raises(WorkbookError) as caught:
        read_workbook(path, Limits(max_cell_chars=500))
    assert "the part xl/sharedStrings.XML has a cell or text of more than 500" in (
        caught.value.message_en
    )
