"""The art. 30 record over real HTTP, on both backends: page, spreadsheet, refusals.

The data is the hand-built GDPR query fixture (``tests/queries/gdpr_fixture.ttl``),
so the record of Alta (5601) is known field by field.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest
from rdflib import Graph

from loaders.demo import CATALOGUE_FILE
from loaders.demo import DATA_DIR as DEMO_DATA
from loaders.namespaces import DEFAULT_BASE_IRI
from service.exports.records_of_processing import (
    ARTICLE_30,
    XLSX_MEDIA,
    agreement_fields,
    record_fields,
)
from service.store.embedded import KnowledgeStore
from service.store.sources import load_reference
from tests.cli import kommunegraf
from tests.conftest import BACKENDS, Server, start_server, start_server_on, stop_server
from tests.queries.test_gdpr_queries import FIXTURE
from tests.service.client import Answer, bearer, call

BASE = DEFAULT_BASE_IRI
TOKEN = "gdpr-test-token-0123456789abcdef"  # noqa: S105 (a test token)
PATH = "/kommune/5601/behandlingsprotokoll"
HOSTILE = """
@prefix kg: <https://w3id.org/kommunegraf/ontology#> .
@prefix dpv: <https://w3id.org/dpv#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
<id/behandling/5601/x> a kg:ProcessingActivity ; dpv:hasDataController <id/kommune/5601> ;
    rdfs:label "<script>alert(1)</script>"@nb ; kg:purpose "=HYPERLINK(\\"http://x\\")"@nb .
"""


def _put(server: Server, graph: str, data: Graph) -> None:
    answer = call(
        server.url,
        "PUT",
        "/store",
        params={"graph": server.url + "/graph/test/" + graph},
        body=data.serialize(format="nt").encode(),
        headers={"Content-Type": "application/n-triples", **bearer(TOKEN)},
    )
    assert answer.status in (201, 204), answer.text


@pytest.fixture(scope="module", params=BACKENDS)
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    running = start_server_on(request.param, env={"KOMMUNEGRAF_TOKEN": TOKEN})
    base = running.url + "/"
    _put(running, "gdpr", Graph().parse(FIXTURE, format="turtle", publicID=base))
    _put(running, "hostile", Graph().parse(data=HOSTILE, format="turtle", publicID=base))
    yield running
    stop_server(running)


def get(server: Server, path: str, accept: str | None = None, **params: str) -> Answer:
    return call(
        server.url, "GET", path, params=params, headers={"Accept": accept} if accept else {}
    )


def test_the_page_lists_every_art_30_field(server: Server) -> None:
    answer = get(server, PATH, accept="text/html")
    assert answer.status == 200 and answer.media == "text/html"
    page = answer.text
    assert "Protokoll over behandlingsaktiviteter – Alta" in page
    for field in record_fields()[1:]:  # the first, the activity's name, heads each section
        assert field.nb in page, field
        assert field.en in page, field
    for paragraph in {*ARTICLE_30.values(), "1 a"}:
        assert f"art. 30 nr. {paragraph}" in page
    # the values of Alta's processing of pupils' data, from the fixture
    for value in (
        "Elevadministrasjon",
        "Føre elevopplysninger og vurdering i grunnskolen.",
        "Helseopplysninger",
        "Art. 9 nr. 2 g – viktige allmenne interesser",
        "Opplæringslova § 2-1",
        "Statistisk sentralbyrå",
        "Standard personvernbestemmelser (art. 46 nr. 2 c)",
        "Til eleven slutter, deretter arkiv.",
        "Tilgangsstyring og logging.",
        "Visma Flyt Skole",
        "2025-02-01",
        "personvernombud@alta.kommune.no",
        "Politiattest for ansatte",
        "Saksbehandling",
    ):
        assert value in page, value
    # the agreement and its sub-processor; Hammerfest's are not Alta's
    assert "Databehandleravtale Acos" in page and "Eksempel Sky Ltd" in page
    assert "Databehandleravtale Visma" not in page
    assert "Helsestasjon" not in page


def test_labels_are_escaped(server: Server) -> None:
    page = get(server, PATH).text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_the_spreadsheet_has_the_same_record(server: Server) -> None:
    answer = get(server, PATH, format="xlsx")
    assert answer.status == 200 and answer.media == XLSX_MEDIA
    assert 'filename="behandlingsprotokoll-5601.xlsx"' in answer.headers["content-disposition"]
    book = openpyxl.load_workbook(io.BytesIO(answer.body))
    sheet = book["Behandlingsprotokoll"]
    rows = [[c if c is not None else "" for c in row] for row in sheet.iter_rows(values_only=True)]
    header = rows.index([f.nb for f in record_fields()])
    assert rows[header + 1] == [f.en for f in record_fields()]
    records = {
        row[0]: dict(zip([f.name for f in record_fields()], row, strict=True))
        for row in rows[header + 2 :]
    }
    assert set(records) == {
        "<script>alert(1)</script>",
        "Elevadministrasjon",
        "Politiattest for ansatte",
        "Saksbehandling",
    }
    pupils = records["Elevadministrasjon"]
    assert pupils["thirdCountries"] == "US"
    assert pupils["dpiaConducted"] == "Nei"
    assert records["Politiattest for ansatte"]["criminalOffenceData"] == "Ja"
    # a value that looks like a formula stays text
    assert records["<script>alert(1)</script>"]["purpose"] == '=HYPERLINK("http://x")'
    cell = next(c for c in sheet["B"] if c.value == '=HYPERLINK("http://x")')
    assert cell.data_type == "s"
    agreements = [list(r) for r in book["Databehandleravtaler"].iter_rows(values_only=True)]
    assert [f.nb for f in agreement_fields()] in agreements
    assert any(r[0] == "Databehandleravtale Acos" and r[3] == "2023-04-01" for r in agreements)


def test_accept_chooses_the_spreadsheet(server: Server) -> None:
    assert get(server, PATH, accept=XLSX_MEDIA).media == XLSX_MEDIA


@pytest.mark.parametrize("number", ["9999", "abc", "42031", "4203%20OR%201"])
def test_unknown_or_malformed_numbers_are_404_in_both_languages(
    server: Server, number: str
) -> None:
    answer = get(server, f"/kommune/{number}/behandlingsprotokoll")
    assert answer.status == 404
    assert "Ukjent kommunenummer" in answer.text and "Unknown municipality number" in answer.text


def test_an_unknown_format_is_406(server: Server) -> None:
    answer = get(server, PATH, format="pdf")
    assert answer.status == 406
    assert "html" in answer.text and "xlsx" in answer.text


def test_a_municipality_without_records_gets_an_empty_record(server: Server) -> None:
    answer = get(server, "/kommune/3303/behandlingsprotokoll")
    assert answer.status == 200
    assert "Ingen behandlingsaktiviteter er registrert" in answer.text


def test_export_gdpr_writes_the_same_record(tmp_path: Path) -> None:
    store = tmp_path / "store"
    knowledge = KnowledgeStore(store)
    try:
        load_reference(knowledge, BASE)
        knowledge.replace_graph(
            f"{BASE}graph/test/gdpr", Graph().parse(FIXTURE, format="turtle", publicID=BASE)
        )
    finally:
        knowledge.close()
    output = tmp_path / "alta.xlsx"
    done = kommunegraf(
        "export", "gdpr", "--kommune", "5601", "-o", str(output), "--store", str(store)
    )
    assert done.returncode == 0, done.stderr
    assert "3 behandlingsaktiviteter og 1 databehandleravtaler" in done.stdout
    sheet = openpyxl.load_workbook(output)["Behandlingsprotokoll"]
    names = [row[0] for row in sheet.iter_rows(values_only=True)]
    assert {"Elevadministrasjon", "Politiattest for ansatte", "Saksbehandling"} <= set(names)


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["--kommune", "9999", "-o", "x.xlsx"], 1, "Ukjent kommunenummer"),
        (["--kommune", "abc", "-o", "x.xlsx"], 1, "Ukjent kommunenummer"),
        (["-o", "x.xlsx"], 2, "--kommune"),
        (["--kommune", "5601", "-o", "x.ttl"], 2, ".xlsx"),
    ],
)
def test_export_gdpr_refuses_bad_input(
    tmp_path: Path, args: list[str], code: int, words: str
) -> None:
    args = [a if a not in ("x.xlsx", "x.ttl") else str(tmp_path / a) for a in args]
    done = kommunegraf("export", "gdpr", *args, "--store", ":memory:")
    assert done.returncode == code, done.stderr
    assert words in done.stderr


def test_the_record_of_a_demo_municipality_fills_every_art_30_field(tmp_path: Path) -> None:
    """Oslo in the national demo (made-up records): every field has a value somewhere."""
    store = tmp_path / "store"
    sources = [DEMO_DATA / CATALOGUE_FILE, DEMO_DATA / "kommune-0301-oslo.xlsx"]
    done = kommunegraf("load", *map(str, sources), "--store", str(store))
    assert done.returncode == 0, done.stdout + done.stderr
    running = start_server(str(store), env={"KOMMUNEGRAF_BASE_IRI": BASE})
    try:
        page = get(running, "/kommune/0301/behandlingsprotokoll")
        sheet = get(running, "/kommune/0301/behandlingsprotokoll", format="xlsx")
    finally:
        stop_server(running)
    assert page.status == 200 and "Oslo" in page.text
    for field in record_fields()[1:]:
        assert field.nb in page.text, field
    rows = list(openpyxl.load_workbook(io.BytesIO(sheet.body))["Behandlingsprotokoll"].values)
    header = rows.index(tuple(f.nb for f in record_fields()))
    activities = rows[header + 2 :]
    assert len(activities) >= 8
    for position, field in enumerate(record_fields()):
        assert any(row[position] for row in activities), f"{field.name} is empty everywhere"
    names = [f.name for f in record_fields()]
    for flag in ("criminalOffenceData", "dpiaConducted"):  # both answers occur
        assert {row[names.index(flag)] for row in activities} == {"Ja", "Nei"}, flag
