"""The compiled SHACL engine against pySHACL, the reference: the same problems at the same cells.

Differential tests: the default engine (``loaders.shacl_sparql`` run by
``loaders.shacl_store``) and ``--engine pyshacl`` must report the same problems,
pinned to the same sheets, rows and columns, on

- a fixed sample of the national demo (the catalogue and every 25th workbook), all
  of it when ``KOMMUNEGRAF_DIFFERENTIAL_FULL=1`` (``python -m bench.demo`` compares the
  whole demo too, and records the result);
- a few hundred workbooks mutated by hypothesis (fixed seed): blank required cells,
  wrong codes, bad dates, unknown names, duplicate rows, wrong check digits and
  values of the wrong class, in the catalogue and in a municipality's workbook.
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from dataclasses import astuple, replace
from functools import cache
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import SH

from loaders.demo import DATA_DIR, demo_sources
from loaders.demo.generate import CATALOGUE_FILE
from loaders.namespaces import DEFAULT_BASE_IRI, KGSH
from loaders.problems import Problem
from loaders.reference import reference_graph
from loaders.report import Report
from loaders.shacl_sparql import compile_shapes
from loaders.spreadsheet import CheckedSpreadsheet, read_spreadsheet
from loaders.validation import shapes_graph, validate, validate_batch
from service.store.sources import names_of

BASE = DEFAULT_BASE_IRI
MUNICIPALITY = "kommune-0301-oslo.xlsx"


@cache
def _catalogue() -> CheckedSpreadsheet:
    return read_spreadsheet(DATA_DIR / CATALOGUE_FILE, BASE, reference_graph(BASE))


@cache
def _context() -> Graph:
    """Reference data and the names of the whole catalogue, as a batch load sees them."""
    return reference_graph(BASE) + names_of(_catalogue().graph)


def _cells(checked: CheckedSpreadsheet, problems: list[Problem]) -> Counter[tuple[object, ...]]:
    """The issues ``problems`` become in ``checked``'s report: sheet, row, column, text."""
    copy = replace(checked, report=Report(checked.report.source))
    copy.add_problems(problems)
    return Counter(astuple(issue) for issue in copy.report.issues)


def _problems(problems: list[Problem]) -> Counter[Problem]:
    return Counter(problems)


def test_every_shape_compiles() -> None:
    """Nothing of the project's shapes is left to pySHACL today (a fallback is logged)."""
    compiled = compile_shapes(shapes_graph())
    assert compiled.fallback == {}
    assert len(compiled.checks) > 200


def test_a_shape_the_compiler_does_not_know_falls_back_to_pyshacl(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """sh:hasValue is not compiled: that shape alone runs on pySHACL, and says so in the log."""
    shapes = Graph()
    shapes += shapes_graph()
    extra = KGSH["TestHasValueShape"]
    label = URIRef("http://www.w3.org/2000/01/rdf-schema#label")
    shapes.add((KGSH.VendorShape, SH.property, extra))
    shapes.add((extra, SH.path, label))
    shapes.add((extra, SH.hasValue, Literal("Visma")))
    shapes.add((extra, SH.message, Literal("Må hete Visma.", lang="nb")))
    shapes.add((extra, SH.message, Literal("Must be called Visma.", lang="en")))
    data = Graph().parse(
        data="@prefix kg: <https://w3id.org/kommunegraf/ontology#> .\n"
        '<http://127.0.0.1:8000/id/leverandor/x> a kg:Vendor ; <{label}> "Tieto" .'.replace(
            "{label}", str(label)
        ),
        format="turtle",
    )
    with caplog.at_level("INFO", logger="loaders.validation"):
        report = validate(data, reference_graph(BASE), shapes=shapes)
    assert [p.message_en for p in report.problems] == ["Must be called Visma."]
    assert any("TestHasValueShape" in record.getMessage() for record in caplog.records)


def _demo_sample() -> list[Path]:
    sources = [p for p in demo_sources() if p.name != CATALOGUE_FILE]
    if os.environ.get("KOMMUNEGRAF_DIFFERENTIAL_FULL") == "1":
        return sources
    return sources[::25]


def test_both_engines_agree_on_the_demo() -> None:
    """The catalogue, then municipalities' workbooks in one batch.

    The workbooks are read without the catalogue's names, so that SHACL has
    something to find: every row naming an application lacks its application.
    """
    catalogue = _catalogue()
    for engine in ("sparql", "pyshacl"):
        assert validate(catalogue.graph, reference_graph(BASE), engine).problems == []
    context = reference_graph(BASE)
    checked = [read_spreadsheet(path, BASE, context) for path in _demo_sample()]
    graphs = [c.graph for c in checked]
    fast = validate_batch(graphs, context)
    reference = validate_batch(graphs, context, "pyshacl")
    assert sum(len(r.problems) for r in reference) >= 50
    for source, ours, theirs in zip(checked, fast, reference, strict=True):
        assert _problems(ours.problems) == _problems(theirs.problems), source.path.name
        assert _cells(source, ours.problems) == _cells(source, theirs.problems)


def test_a_blank_required_cell_is_found_by_both_engines(bases: list[Path], tmp_path: Path) -> None:
    """The mutations below are not all caught by the cell parsers: SHACL sees this one."""
    workbook = openpyxl.load_workbook(bases[1])
    workbook["Systemportefølje"]["D3"].value = None  # Drift * (hosting), required
    path = tmp_path / MUNICIPALITY
    workbook.save(path)
    checked = read_spreadsheet(path, BASE, _context())
    for engine in ("sparql", "pyshacl"):
        cells = _cells(checked, validate(checked.graph, _context(), engine).problems)
        assert [(c[3], c[4], c[5]) for c in cells] == [("Systemportefølje", 3, "D")], engine


# --- mutated workbooks ----------------------------------------------------------

KEEP_ROWS = {"Systemportefølje": 8, "Applikasjoner": 6, "Leverandører": 6}
"""Data rows kept per sheet of the base workbooks (3 for the other sheets): small
workbooks keep pySHACL's share of the test short; the catalogue's names stay in the
context, so references to rows left out still resolve."""

BAD_VALUES: dict[str, list[object]] = {
    "blank": [None],
    "code": ["Ukjent kode", "SaaS/skyy", "Ja takk"],
    "date": ["31.02.2024", "2024-13-01", "i fjor", "00.00.0000", "1.1.1"],
    "name": ["Finnes Ikke AS", "Oslo Kommune X", "Ukjent system"],
    "check digit": ["974760674", "123456789", "98765432"],
    "number": ["-5", "fem", "1,2,3", "-0,5 kr"],
    "wrong class": ["Bergen", "Visma Flyt Skole", "Oslo", "Personalsystem", "Altinn"],
    "address": ["ftp://x", "www.ex", "post@", "mailto:a@b@c", "http://"],
}


def _trimmed(source: Path, target: Path) -> Path:
    workbook = openpyxl.load_workbook(source)
    for sheet in workbook.worksheets:
        keep = 2 + KEEP_ROWS.get(sheet.title, 3)
        if sheet.max_row > keep:
            sheet.delete_rows(keep + 1, sheet.max_row - keep)
    workbook.save(target)
    return target


@pytest.fixture(scope="module")
def bases(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("bases")
    return [_trimmed(DATA_DIR / name, folder / name) for name in (CATALOGUE_FILE, MUNICIPALITY)]


_mutation = st.tuples(
    st.integers(0, 20),  # sheet (modulo the sheets)
    st.integers(0, 20),  # data row (modulo the rows)
    st.integers(0, 30),  # column (modulo the columns)
    st.sampled_from(sorted(BAD_VALUES)),
    st.integers(0, 10),  # which bad value
    st.booleans(),  # also duplicate the row
)


@settings(
    max_examples=150,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(base=st.integers(0, 1), mutations=st.lists(_mutation, min_size=1, max_size=4))
def test_both_engines_agree_on_mutated_workbooks(
    bases: list[Path], base: int, mutations: list[tuple[int, int, int, str, int, bool]]
) -> None:
    workbook = openpyxl.load_workbook(bases[base])
    sheets = workbook.worksheets
    for sheet_index, row, column, kind, which, duplicate in mutations:
        sheet = sheets[sheet_index % len(sheets)]
        rows = sheet.max_row - 2
        if rows < 1:
            continue
        target = 3 + row % rows
        values = BAD_VALUES[kind]
        sheet.cell(target, 1 + column % sheet.max_column).value = values[which % len(values)]
        if duplicate:
            sheet.append([cell.value for cell in sheet[target]])
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, bases[base].name)
        workbook.save(path)
        checked = read_spreadsheet(path, BASE, _context())
    if checked.mapped is None or not checked.mapped.rows:
        return
    ours = validate(checked.graph, _context()).problems
    theirs = validate(checked.graph, _context(), "pyshacl").problems
    assert _problems(ours) == _problems(theirs)
    assert _cells(checked, ours) == _cells(checked, theirs)
