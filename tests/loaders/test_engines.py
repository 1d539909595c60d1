"""The compiled SHACL engine against pySHACL, the reference: the same problems at the same cells.

Differential tests: the default engine (``loaders.shacl_sparql`` run by
``loaders.shacl_store``) and ``--engine pyshacl`` must report the same problems,
pinned to the same sheets, rows and columns, on

- a fixed sample of the national demo (the catalogue and every 45th workbook), all
  of it when ``KOMMUNEGRAF_DIFFERENTIAL_FULL=1`` (``python -m bench.demo`` compares the
  whole demo too, and records the result);
- 80 workbooks with up to 6 mutations each, by hypothesis (fixed seed): blank required cells,
  wrong codes, bad dates, unknown names, duplicate rows, wrong check digits and
  values of the wrong class, in the catalogue and in a municipality's workbook.
"""

from __future__ import annotations

import copy
import os
from collections import Counter
from dataclasses import astuple, replace
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl.utils.cell import get_column_letter
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import SH

from loaders.demo import CATALOGUE_FILE, DATA_DIR, demo_sources
from loaders.namespaces import DEFAULT_BASE_IRI, KGSH
from loaders.problems import Problem
from loaders.reference import reference_graph
from loaders.report import Report
from loaders.shacl_compiled import Run
from loaders.shacl_sparql import compile_shapes
from loaders.shacl_store import evaluate
from loaders.spreadsheet import CheckedSpreadsheet, map_spreadsheet, read_spreadsheet
from loaders.validation import shapes_graph, validate, validate_batch
from loaders.workbook import RawCell, RawSheet, RawWorkbook, read_workbook
from service.store.names import names_of
from service.store.sources import reference_context

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
    return sources[::45]


def test_a_shapes_checks_find_together_what_each_finds_alone() -> None:
    """The checks of a shape that share a query (value conditions as flags, minCount and
    maxCount as one count, ``loaders.shacl_compiled.Run``) report what each check's own
    query reports: here a municipality's workbook read without the catalogue, so that
    every row naming an application fails its class and cardinality checks."""
    reference = reference_context(BASE)
    triples = read_spreadsheet(DATA_DIR / MUNICIPALITY, BASE, reference).triples
    nodes = {o for _, _, o in triples} - {s for s, _, _ in triples}
    referenced = [t for node in nodes for t in reference.triples((node, None, None))]
    compiled = compile_shapes(shapes_graph())
    alone = replace(compiled, runs=[Run(c.query, c.focus, (c,)) for c in compiled.checks])
    together = Counter(evaluate([triples], referenced, compiled))
    assert sum(together.values()) >= 50
    assert len(compiled.runs) < len(compiled.checks)
    assert together == Counter(evaluate([triples], referenced, alone))


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


def test_a_blank_required_cell_is_found_by_both_engines(bases: list[RawWorkbook]) -> None:
    """The mutations below are not all caught by the cell parsers: SHACL sees this one."""
    workbook = copy.deepcopy(bases[1])
    _set(_sheet(workbook, "Systemportefølje"), 3, 4, None)  # D3, Drift * (hosting), required
    checked = map_spreadsheet(Path(MUNICIPALITY), workbook, BASE, _context())
    for engine in ("sparql", "pyshacl"):
        cells = _cells(checked, validate(checked.graph, _context(), engine).problems)
        assert [(c[3], c[4], c[5]) for c in cells] == [("Systemportefølje", 3, "D")], engine


# --- mutated workbooks ----------------------------------------------------------
# The workbooks are mutated as the reader hands them over (raw cells: what a person
# typed), not through openpyxl and a file each time: the engines see the same graphs,
# and an example costs a mapping and two validations instead of a save and a read too.

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


def _trimmed(workbook: RawWorkbook) -> RawWorkbook:
    for sheet in workbook.sheets:
        sheet.rows = [row for row in sheet.rows if row[0].row <= 2 + KEEP_ROWS.get(sheet.name, 3)]
    return workbook


def _sheet(workbook: RawWorkbook, name: str) -> RawSheet:
    return next(sheet for sheet in workbook.sheets if sheet.name == name)


def _set(sheet: RawSheet, row: int, column: int, value: object) -> None:
    """Write ``value`` at (row, column) as the reader would have read it."""
    cells = next(cells for cells in sheet.rows if cells[0].row == row)
    while len(cells) < column:
        cells.append(RawCell(None, row, len(cells) + 1, get_column_letter(len(cells) + 1)))
    cells[column - 1] = RawCell(value, row, column, get_column_letter(column))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def bases() -> list[RawWorkbook]:
    return [_trimmed(read_workbook(DATA_DIR / name)) for name in (CATALOGUE_FILE, MUNICIPALITY)]


_mutation = st.tuples(
    st.integers(0, 20),  # sheet (modulo the sheets)
    st.integers(0, 20),  # data row (modulo the rows)
    st.integers(0, 30),  # column (modulo the columns)
    st.sampled_from(sorted(BAD_VALUES)),
    st.integers(0, 10),  # which bad value
    st.booleans(),  # also duplicate the row
)


@settings(
    max_examples=80,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(base=st.integers(0, 1), mutations=st.lists(_mutation, min_size=1, max_size=6))
def test_both_engines_agree_on_mutated_workbooks(
    bases: list[RawWorkbook], base: int, mutations: list[tuple[int, int, int, str, int, bool]]
) -> None:
    """80 examples of up to 6 mutations each (150 of up to 4 before: as many mutations,
    fewer pySHACL runs)."""
    workbook = copy.deepcopy(bases[base])
    for sheet_index, row, column, kind, which, duplicate in mutations:
        sheet = workbook.sheets[sheet_index % len(workbook.sheets)]
        data = sheet.rows[2:]
        if not data:
            continue
        target = data[row % len(data)][0].row
        width = max(len(cells) for cells in sheet.rows)
        values = BAD_VALUES[kind]
        _set(sheet, target, 1 + column % width, values[which % len(values)])
        if duplicate:
            source = next(cells for cells in sheet.rows if cells[0].row == target)
            last = sheet.rows[-1][0].row + 1
            sheet.rows.append([cell._replace(row=last) for cell in source])
    name = CATALOGUE_FILE if base == 0 else MUNICIPALITY
    checked = map_spreadsheet(Path(name), workbook, BASE, _context())
    if checked.mapped is None or not checked.mapped.rows:
        return
    ours = validate(checked.graph, _context()).problems
    theirs = validate(checked.graph, _context(), "pyshacl").problems
    assert _problems(ours) == _problems(theirs)
    assert _cells(checked, ours) == _cells(checked, theirs)
