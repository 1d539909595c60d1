"""Spreadsheets through the real loader: template → filled → validated → loaded."""

from __future__ import annotations

import datetime
import json
from functools import cache
from pathlib import Path

import openpyxl
import pyoxigraph as ox
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import RDF, RDFS

from loaders.context import layered_context
from loaders.namespaces import DEFAULT_BASE_IRI, KG, SCHEMA
from loaders.reference import reference_graph
from loaders.spreadsheet import check_spreadsheet
from loaders.template import write_municipality_workbook, write_template
from service.store.embedded import KnowledgeStore
from service.store.names import names_of
from tests.cli import kommunegraf

BASE = DEFAULT_BASE_IRI


@cache
def _reference() -> Graph:
    return reference_graph(BASE)


VENDOR: list[object] = ["Visma Software AS", "974760673", "https://www.visma.no"]
APPLICATION: list[object] = [
    "Visma Flyt Skole",
    "Visma Software AS",
    "Skoleadministrasjon",
    "Skoleadministrativt system",
    "https://www.visma.no/flyt-skole",
]
USAGE: list[object] = [
    "3303 Kongsberg",
    "Visma Flyt Skole",
    "2024.3",
    "SaaS / sky",
    "I bruk",
    "Kommunalsjef oppvekst",
    "1 234",
    "1.234,50 kr",
    "Grunnskole; Skolefritidsordning",
    "ID-porten",
    "Norge",
    "Kjøpt 2019",
]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "mal.xlsx"
    write_template(path)
    return path


def _filled(template: Path, target: Path, usage_rows: list[list[object]]) -> Path:
    workbook = openpyxl.load_workbook(template)
    workbook["Leverandører"].append(VENDOR)
    workbook["Applikasjoner"].append(APPLICATION)
    for row in usage_rows:
        workbook["Systemportefølje"].append(row)
    workbook.save(target)
    return target


def _quads(store: Path) -> int:
    """Quads outside the audit graph, which records every load by design, and outside the
    reference graphs, which opening a new store for a load writes before any workbook."""
    knowledge = KnowledgeStore(store)
    try:
        counted = knowledge.query(
            "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } "
            'FILTER(!STRENDS(STR(?g), "/graph/audit") && !CONTAINS(STR(?g), "/graph/reference/")) }'
        )
        assert isinstance(counted, ox.QuerySolutions)
        (row,) = list(counted)
        return int(row["n"].value)
    finally:
        knowledge.close()


def test_round_trip_every_value_is_found_with_sparql(template: Path, tmp_path: Path) -> None:
    source = _filled(template, tmp_path / "kongsberg.xlsx", [USAGE])
    store = tmp_path / "store"
    done = kommunegraf("load", str(source), "--store", str(store))
    assert done.returncode == 0, done.stdout + done.stderr
    query = """
    PREFIX kg: <https://w3id.org/kommunegraf/ontology#>
    PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
    PREFIX schema: <https://schema.org/>
    PREFIX dct: <http://purl.org/dc/terms/>
    SELECT ?nr ?app ?vendor ?orgnr ?version ?hosting ?status ?owner ?users ?cost
           (GROUP_CONCAT(DISTINCT ?service; separator="|") AS ?services) ?component ?where ?note
    WHERE {
      ?usage a kg:ApplicationUsage ; kg:usedBy/kg:municipalityNumber ?nr ;
        kg:application ?a ; schema:softwareVersion ?version ; kg:hosting/kg:notation? ?hosting ;
        kg:lifecycleStatus ?status ; kg:systemOwner ?owner ; kg:numberOfUsers ?users ;
        kg:annualCost ?cost ; kg:supportsService/dct:identifier ?service ;
        kg:usesNationalComponent/rdfs:label ?component ; kg:dataLocation ?where ;
        dct:description ?note .
      ?a rdfs:label ?app ; kg:vendor ?v . ?v rdfs:label ?vendor ; kg:organisationNumber ?orgnr .
      FILTER(LANG(?component) = "nb")
    } GROUP BY ?nr ?app ?vendor ?orgnr ?version ?hosting ?status ?owner ?users ?cost
               ?component ?where ?note
    """
    result = kommunegraf("query", query, "--store", str(store), "--format", "json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)["results"]["bindings"]
    assert len(rows) == 1
    row = {k: v["value"] for k, v in rows[0].items()}
    assert row["nr"] == "3303"
    assert (row["app"], row["vendor"], row["orgnr"]) == (
        "Visma Flyt Skole",
        "Visma Software AS",
        "974760673",
    )
    assert row["version"] == "2024.3" and row["owner"] == "Kommunalsjef oppvekst"
    assert row["hosting"].endswith("HostingSaaS") and row["status"].endswith("LifecycleInUse")
    assert (row["users"], row["cost"]) == ("1234", "1234.5")
    assert set(row["services"].split("|")) == {"grunnskole", "skolefritidsordning"}
    assert row["component"] == "ID-porten" and row["where"].endswith("LocationNorway")
    assert row["note"] == "Kjøpt 2019"
    # Loading the same file again leaves the same store.
    before = _quads(store)
    assert kommunegraf("load", str(source), "--store", str(store)).returncode == 0
    assert _quads(store) == before


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("D", "Skyen", "ikke et gyldig valg"),
        ("B", "Visma Flyt Skol", "Mente du: Visma Flyt Skole?"),
        ("H", "abc", "ikke et tall"),
        ("M", "31.02.2027", "finnes ikke"),
        ("A", "9999", "9999"),
        ("J", "Feide", "ikke kjent som Nasjonal felleskomponent"),
    ],
)
def test_a_bad_cell_is_reported_at_its_place_and_nothing_is_loaded(
    template: Path, tmp_path: Path, column: str, value: str, message: str
) -> None:
    row = [*USAGE, None, None]
    row[ord(column) - ord("A")] = value
    source = _filled(template, tmp_path / "feil.xlsx", [row])
    store = tmp_path / "store"
    KnowledgeStore(store).close()
    before = _quads(store)
    report_path = tmp_path / "rapport.json"
    done = kommunegraf("load", str(source), "--store", str(store), "--report", str(report_path))
    assert done.returncode == 1, done.stdout
    issues = json.loads(report_path.read_text(encoding="utf-8"))[0]["issues"]
    here = [i for i in issues if i["severity"] == "error" and i["sheet"] == "Systemportefølje"]
    assert any(
        i["row"] == 3 and i.get("column") in (column, None) and message in i["message_nb"]
        for i in here
    ), issues
    assert all(i["message_en"] for i in issues)
    assert _quads(store) == before


def test_a_formula_error_is_a_cell_error(template: Path, tmp_path: Path) -> None:
    row: list[object] = list(USAGE)
    row[6] = "=1/0"
    source = _filled(template, tmp_path / "formel.xlsx", [row])
    report = check_spreadsheet(source, BASE, Graph()).report
    assert any(i.row == 3 and i.column == "G" for i in report.errors), report.to_text()


def test_a_duplicate_row_names_the_first(template: Path, tmp_path: Path) -> None:
    source = _filled(template, tmp_path / "dobbel.xlsx", [USAGE, USAGE])
    report = check_spreadsheet(source, BASE, _reference()).report
    assert any(i.row == 4 and "rad 3" in i.message_nb for i in report.errors), report.to_text()


def test_an_old_workbooks_contract_end_column_becomes_contracts(
    template: Path, tmp_path: Path
) -> None:
    """Issue 22: the usage sheet's "Avtalen utløper" left the template. A workbook with it
    still loads and loses nothing: the cell is a contract covering the usage (the
    application's vendor, no start made up), with a warning in both languages on the
    cell; the municipality's pre-filled template has the contract in its own sheet and
    gives the same triples back."""
    path = _filled(template, tmp_path / "gammel.xlsx", [])
    book = openpyxl.load_workbook(path)
    usages = book["Systemportefølje"]
    usages.insert_cols(9)
    usages["I1"], usages["I2"] = "Avtalen utløper", "Contract end date"
    usages.append([*USAGE[:8], "31.12.2027", *USAGE[8:]])
    book.save(path)
    checked = check_spreadsheet(path, BASE, _reference())
    report = checked.report
    assert not report.errors, report.to_text()
    moved = [i for i in report.issues if i.severity == "warning" and "Kontrakter" in i.message_nb]
    assert [(i.sheet, i.row, i.column) for i in moved] == [("Systemportefølje", 3, "I")]
    assert "Contracts sheet" in moved[0].message_en and "2027-12-31" in moved[0].message_nb
    graph = checked.graph
    contract = URIRef(f"{BASE}id/kontrakt/3303/avtale-visma-flyt-skole")
    assert set(graph.predicate_objects(contract)) >= {
        (RDF.type, KG.Contract),
        (KG.contractingAuthority, URIRef(f"{BASE}id/kommune/3303")),
        (KG.covers, URIRef(f"{BASE}id/applikasjon/visma-flyt-skole")),
        (KG.contractor, URIRef(f"{BASE}id/leverandor/visma-software-as")),
        (SCHEMA.endDate, Literal(datetime.date(2027, 12, 31))),
    }
    assert (contract, SCHEMA.startDate, None) not in graph
    assert (None, KG.contractEndDate, None) not in graph
    prefilled = tmp_path / "3303.xlsx"
    write_municipality_workbook(prefilled, "3303", graph, graph, BASE, _reference())
    assert openpyxl.load_workbook(prefilled)["Kontrakter"].max_row == 3
    stored = layered_context(_reference(), names_of(graph))  # what an upload sees of the store
    again = check_spreadsheet(prefilled, BASE, stored)
    assert not again.report.errors, again.report.to_text()
    assert not [
        i for i in again.report.issues if i.severity == "warning" and "Kontrakter" in i.message_nb
    ]
    municipal = {t for t in graph if str(t[0]).startswith(f"{BASE}id/kontrakt/")}
    assert {t for t in again.graph if str(t[0]).startswith(f"{BASE}id/kontrakt/")} == municipal
    # The application only in the store: its vendor still comes with the contract.
    usages.delete_rows(3)
    book["Applikasjoner"].delete_rows(3)
    book["Leverandører"].delete_rows(3)
    usages.append([*USAGE[:8], "31.12.2027", *USAGE[8:]])
    book.save(path)
    alone = check_spreadsheet(path, BASE, stored)
    assert not alone.report.errors, alone.report.to_text()
    assert {t for t in alone.graph if str(t[0]).startswith(f"{BASE}id/kontrakt/")} == municipal


def test_an_unreadable_file_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "ikke.xlsx"
    bad.write_bytes(b"this is not a workbook")
    done = kommunegraf("validate", str(bad))
    assert done.returncode == 2


@settings(max_examples=40, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.lists(
        st.one_of(st.none(), st.text(max_size=30), st.integers(), st.floats()),
        min_size=13,
        max_size=13,
    )
)
def test_random_cells_always_give_a_report(row: list[object]) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        workbook = openpyxl.Workbook()
        sheet = workbook.active
        assert sheet is not None
        sheet.title = "Systemportefølje"
        sheet.append(["Kommune", "Applikasjon", "Versjon", "Drift", "Livsløpsstatus"])
        cleaned = [
            v if not isinstance(v, str) else "".join(c for c in v if c.isprintable()) for v in row
        ]
        sheet.append(cleaned)
        path = Path(folder) / "tilfeldig.xlsx"
        workbook.save(path)
        report = check_spreadsheet(path, BASE, _reference()).report
        assert report.source == "tilfeldig.xlsx"


def test_report_as_annotated_workbook_and_html(template: Path, tmp_path: Path) -> None:
    row = list(USAGE)
    row[3] = "<script>alert(1)</script>"
    source = _filled(template, tmp_path / "merket.xlsx", [row])
    annotated, page = tmp_path / "rapport.xlsx", tmp_path / "rapport.html"
    assert kommunegraf("validate", str(source), "--report", str(annotated)).returncode == 1
    assert kommunegraf("validate", str(source), "--report", str(page)).returncode == 1
    workbook = openpyxl.load_workbook(annotated)
    assert workbook.sheetnames[0] == "Rapport"
    cell = workbook["Systemportefølje"]["D3"]
    assert cell.fill.fgColor.rgb.endswith("FF9999")
    assert cell.comment is not None and "ikke et gyldig valg" in cell.comment.text
    listing = [r[1] for r in workbook["Rapport"].iter_rows(min_row=2, values_only=True)]
    assert "Systemportefølje!D3 (Drift)" in listing
    text = page.read_text(encoding="utf-8")
    assert "<script>alert" not in text and "&lt;script&gt;" in text
    assert "http" not in text  # nothing fetched from elsewhere


# -- unknown names (issue 19): one error, names to choose from, own rows still resolve

OWN_USAGE: list[object] = ["4211", "Public 360", "24.1", "SaaS / sky", "I bruk"]
ACTIVITY: list[object] = [
    "4211",
    "Saksbehandling og arkiv",
    "Journalføre og arkivere saker.",
    "Innbyggere",
    "Identitet",
    None,
    None,
    "Art. 6 nr. 1 c – rettslig forpliktelse",
    None,
    "arkivlova",
    None,
    None,
    None,
    None,
    "4211 Public 360",
    None,
    "nei",
]


def _with_activity(template: Path, target: Path, usage: list[object]) -> Path:
    """A usage and a processing activity in that usage (a GDPR sheet's reference)."""
    book = openpyxl.load_workbook(template)
    book["Systemportefølje"].append(usage)
    book["Behandlingsprotokoll"].append(ACTIVITY)
    book.save(target)
    return target


def test_regression_unknown_application_gave_a_second_false_row_error(
    template: Path, tmp_path: Path
) -> None:
    """«Gerika» was an unknown name *and* a row "lacking" its Application."""
    source = _with_activity(
        template, tmp_path / "gerika.xlsx", ["4211", "Gerika", None, "SaaS", "I bruk"]
    )
    report = check_spreadsheet(source, BASE, _reference()).report
    usage_errors = [i for i in report.errors if i.sheet == "Systemportefølje"]
    assert len(usage_errors) == 1, report.to_text()
    assert usage_errors[0].column == "B" and "Gerika" in usage_errors[0].message_nb
    assert not any("identifisere" in i.message_nb for i in report.errors), report.to_text()


def test_regression_references_to_own_usages_failed_without_the_catalogue(
    template: Path, tmp_path: Path
) -> None:
    """The GDPR sheet's "4211 Public 360" was "not a known Application usage" when the
    application itself was not known to the check; the usage is in the same workbook."""
    source = _with_activity(template, tmp_path / "egen.xlsx", OWN_USAGE)
    report = check_spreadsheet(source, BASE, _reference()).report
    assert not [i for i in report.errors if i.sheet == "Behandlingsprotokoll"], report.to_text()
    assert [i.column for i in report.errors] == ["B"], report.to_text()


def test_regression_suggestions_mixed_ids_with_names(template: Path, tmp_path: Path) -> None:
    """A misspelt service was offered "helsetjenester-i-hjemmet, Ergoterapitjeneste"."""
    row = [*OWN_USAGE, None, None, None, "Helsetjenester i hjemme"]  # I: Støtter tjenester
    context = _reference() + Graph().parse(
        data=f"<{BASE}id/applikasjon/public-360> a <https://w3id.org/kommunegraf/ontology#"
        'Application> ; <http://www.w3.org/2000/01/rdf-schema#label> "Public 360" .',
        format="turtle",
    )
    source = _with_activity(template, tmp_path / "tjeneste.xlsx", row)
    report = check_spreadsheet(source, BASE, context).report
    (error,) = [i for i in report.errors if i.column == "I"]
    suggested = error.message_nb.split("Mente du:", 1)[1]
    assert "Helsetjenester i hjemmet" in suggested, error.message_nb
    assert not any(part.strip().count("-") >= 2 for part in suggested.split(",")), suggested


def test_regression_a_repeated_value_is_reported_at_every_cell(
    template: Path, tmp_path: Path
) -> None:
    """Mapping remembers a workbook's values per column (``loaders.mapping``'s ``_term``
    and ``_add``): a value repeated in several rows must still be reported at each cell,
    a replaced municipality number's warning as much as a wrong choice's error."""
    workbook = openpyxl.load_workbook(template)
    workbook["Leverandører"].append(VENDOR)
    workbook["Applikasjoner"].append(APPLICATION)
    workbook["Applikasjoner"].append(["Visma Flyt Barnehage", *APPLICATION[1:4]])
    for application in ("Visma Flyt Skole", "Visma Flyt Barnehage"):
        row = list(USAGE)
        row[0], row[1], row[3] = "3005", application, "Skyen"
        workbook["Systemportefølje"].append(row)
    source = tmp_path / "gjentatt.xlsx"
    workbook.save(source)
    report = check_spreadsheet(source, BASE, _reference()).report
    replaced = {(i.row, i.column) for i in report.issues if "3301" in i.message_en}
    choice = {(i.row, i.column) for i in report.errors if "gyldig valg" in i.message_nb}
    assert replaced == {(3, "A"), (4, "A")}, report.to_text()
    assert choice == {(3, "D"), (4, "D")}, report.to_text()


def test_regression_header_keys_remembered_after_the_ontology_changed() -> None:
    """A column's headers are made once per column and ontology (``column_use.header_keys``):
    an ontology that grew a label must give the header too."""
    from loaders.column_use import header_keys
    from loaders.columns import sheets

    column = sheets()[0].columns[0]
    predicate = column.path if isinstance(column.path, URIRef) else column.path[-1]
    ontology = Graph()
    before = header_keys(column, ontology)
    ontology.add((predicate, RDFS.label, Literal("Et helt nytt navn", lang="nb")))
    assert header_keys(column, ontology) == before | {"etheltnyttnavn"}
