"""The template is generated from the shapes: every sheet, column and list."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
from rdflib.namespace import RDFS

from loaders.columns import sheets
from loaders.namespaces import KG
from loaders.template import FIRST_DATA_ROW, header, label
from loaders.validation import ontology_graph


@pytest.fixture(scope="module")
def workbook(tmp_path_factory: pytest.TempPathFactory) -> openpyxl.Workbook:
    path = tmp_path_factory.mktemp("template") / "mal.xlsx"
    done = subprocess.run(
        [sys.executable, "-m", "service", "template", str(path)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return openpyxl.load_workbook(path)


def test_one_sheet_per_group_after_the_guide(workbook: openpyxl.Workbook) -> None:
    names = [s.name_nb for s in sheets()]
    assert workbook.sheetnames == ["Veiledning", *names, "Lister"]
    assert workbook["Lister"].sheet_state == "hidden"
    assert "Slik fyller du ut malen" in str(workbook["Veiledning"]["A1"].value)


def test_headers_in_nb_and_en_with_required_marked(workbook: openpyxl.Workbook) -> None:
    for sheet in sheets():
        worksheet = workbook[sheet.name_nb]
        nb = [c.value for c in worksheet[1]]
        en = [c.value for c in worksheet[2]]
        assert nb == [header(c, "nb") for c in sheet.columns]
        assert en == [c.name_en for c in sheet.columns]
        for cell, column in zip(worksheet[1], sheet.columns, strict=True):
            assert cell.value.endswith(" *") == column.required
            assert cell.comment is not None and column.description_en in cell.comment.text
        assert worksheet.freeze_panes == f"A{FIRST_DATA_ROW}"


def _validation_for(worksheet: openpyxl.worksheet.worksheet.Worksheet, letter: str) -> str | None:
    for validation in worksheet.data_validations.dataValidation:
        if any(str(r).startswith(f"{letter}{FIRST_DATA_ROW}") for r in validation.sqref.ranges):
            return str(validation.formula1)
    return None


def _list_values(workbook: openpyxl.Workbook, formula: str) -> list[str]:
    sheet_part, cells = formula.lstrip("=").split("!")
    start, end = cells.replace("$", "").split(":")
    worksheet = workbook[sheet_part.strip("'")]
    return [str(row[0].value) for row in worksheet[f"{start}:{end}"]]


def test_controlled_columns_offer_the_concept_labels(workbook: openpyxl.Workbook) -> None:
    usage = next(s for s in sheets() if s.target_class == KG.ApplicationUsage)
    hosting = next(i for i, c in enumerate(usage.columns) if c.path == KG.hosting)
    formula = _validation_for(workbook[usage.name_nb], chr(ord("A") + hosting))
    assert formula is not None
    expected = [label(ontology_graph(), v) for v in usage.columns[hosting].values]
    assert _list_values(workbook, formula) == expected
    assert "Egen serverpark" in expected or any("server" in e.lower() for e in expected)


def test_reference_columns_offer_the_reference_lists(workbook: openpyxl.Workbook) -> None:
    usage = next(s for s in sheets() if s.target_class == KG.ApplicationUsage)
    formula = _validation_for(workbook[usage.name_nb], "A")  # Kommune
    assert formula is not None
    municipalities = _list_values(workbook, formula)
    assert len(municipalities) == 357
    assert "3303 Kongsberg" in municipalities
    application = _validation_for(workbook[usage.name_nb], "B")
    assert application is not None and "Applikasjoner" in application


def test_every_column_of_the_shapes_is_in_the_template(workbook: openpyxl.Workbook) -> None:
    columns = {(s.name_nb, c.name_nb) for s in sheets() for c in s.columns}
    found = {
        (name, str(cell.value).removesuffix(" *"))
        for name in workbook.sheetnames[1:-1]
        for cell in workbook[name][1]
    }
    assert columns == found
    assert any(c.path == RDFS.label for s in sheets() for c in s.columns)


def test_csv_format_writes_one_file_per_sheet(tmp_path: Path) -> None:
    out = tmp_path / "mal"
    done = subprocess.run(
        [sys.executable, "-m", "service", "template", str(out), "--format", "csv"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    files = sorted(p.name for p in out.iterdir())
    assert files == sorted(f"{s.name_nb}.csv" for s in sheets())
    raw = (out / "Systemportefølje.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(raw.decode("utf-8-sig").splitlines(), delimiter=";"))
    assert rows[0][0] == "Kommune *" and rows[1][0] == "Municipality"
