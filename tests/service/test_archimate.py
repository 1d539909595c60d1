"""ArchiMate: the exchange file and Archi's CSV of a portfolio, and the way back to a workbook.

On the hand-built query fixture (``tests/queries/fixture.ttl``), where Alta's portfolio is
known element by element, and on the national demo (one municipality, the whole
portfolio), every exchange file is validated against The Open Group's
``archimate3_Diagram.xsd``.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
import zipfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import openpyxl
import pyoxigraph as ox
import pytest
from lxml import etree
from rdflib import Graph
from rdflib.namespace import RDF

from loaders.context import layered_context
from loaders.namespaces import KG, SCHEMA
from loaders.reference import reference_graph
from loaders.spreadsheet import check_spreadsheet
from service.exports.archi_csv import (
    ELEMENTS_HEADER,
    PROPERTIES_HEADER,
    RELATIONS_HEADER,
    csv_files,
    to_csv_zip,
)
from service.exports.archimate import (
    NS,
    Model,
    export_model,
    identifier,
    municipality_scope,
    region_scope,
)
from service.exports.archimate_import import ExchangeFileError, read_exchange, workbook_bytes
from service.exports.archimate_xml import to_exchange_xml
from service.exports.records_of_processing import XLSX_MEDIA
from service.store.embedded import KnowledgeStore
from service.store.reads import select
from service.store.sources import load_reference
from tests.cli import kommunegraf
from tests.conftest import Server, start_server, stop_server
from tests.queries.running import BASE, fixture_store
from tests.service.archimate_schema import schema_errors
from tests.service.client import bearer, call
from tests.service.in_process import InProcess, rows

FIXTURE = Path(__file__).parents[1] / "queries" / "fixture.ttl"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
TOKEN = "archimate-test-token-0123456789ab"  # noqa: S105 (a test token)


def _model(knowledge: KnowledgeStore | ox.Store, kommunenummer: str, base: str = BASE) -> Model:
    reader = InProcess(knowledge, base)

    async def in_process(query: str) -> list[dict[str, str]]:
        return await select(reader, query)

    async def read() -> Model:
        return await export_model(
            in_process, await municipality_scope(in_process, kommunenummer, base)
        )

    return asyncio.run(read())


@pytest.fixture(scope="module")
def store() -> Iterator[KnowledgeStore]:
    with fixture_store(FIXTURE) as knowledge:
        yield knowledge


@pytest.fixture(scope="module")
def alta(store: KnowledgeStore) -> Model:
    return _model(store, "5601")


def _by_name(model: Model) -> dict[tuple[str, str], str]:
    return {(e.type, e.name): e.id for e in model.elements.values()}


def test_alta_is_mapped_element_by_element(alta: Model) -> None:
    named = _by_name(alta)
    # U1 WebSak and U5 Flyt Skole are Alta's; nothing of Hammerfest's or Hasvik's.
    assert {e.name for e in alta.applications()} == {"Acos WebSak", "Visma Flyt Skole"}
    assert ("BusinessActor", "Alta") in named
    assert ("BusinessActor", "Acos AS") in named and ("BusinessActor", "Visma Software AS") in named
    for service in (
        "Arkiv og dokumentasjonsforvaltning",
        "Byggesaksbehandling",
        "Grunnskoleopplæring",
        "Skolefritidsordning (SFO)",
    ):
        assert ("BusinessService", service) in named, service
    websak = alta.elements[identifier(f"{BASE}id/bruk/5601/websak")]
    assert websak.properties["version"] == "2024.1"
    assert websak.properties["hosting"] == "SaaS / sky"
    assert websak.properties["lifecycle"] == "I bruk"
    assert websak.properties["contract"] == "2027-03-31"
    assert float(websak.properties["cost"]) == 100000
    kinds = {(r.type, r.source, r.target) for r in alta.relationships.values()}
    svarut = named[("ApplicationComponent", "KS SvarUt og SvarInn")]
    school = named[("ApplicationComponent", "Visma Flyt Skole")]
    archive = named[("BusinessService", "Arkiv og dokumentasjonsforvaltning")]
    assert ("Serving", websak.id, archive) in kinds
    assert ("Serving", svarut, websak.id) in kinds  # kg:usesNationalComponent
    assert ("Flow", websak.id, svarut) in kinds  # the integration to SvarUt
    assert ("Flow", school, websak.id) in kinds  # archiving from the school system
    archive_data = named[("DataObject", "Byggesaksarkiv")]
    assert ("Access", websak.id, archive_data) in kinds
    # Each service realises the requirement of its legal basis.
    requirements = [e for e in alta.elements.values() if e.type == "Requirement"]
    assert requirements
    realised = {r.target for r in alta.relationships.values() if r.type == "Realization"}
    assert {e.id for e in requirements} <= realised


def test_the_exchange_file_is_valid_and_has_a_laid_out_view(alta: Model) -> None:
    document = to_exchange_xml(alta)
    assert schema_errors(document) == []
    root = etree.fromstring(document)
    views = root.findall(f".//{{{NS}}}view")
    assert len(views) == 1
    nodes = views[0].findall(f"{{{NS}}}node")
    assert {n.get("elementRef") for n in nodes} == set(alta.elements)
    boxes = [(int(n.get("x")), int(n.get("y")), int(n.get("w")), int(n.get("h"))) for n in nodes]
    for index, (x, y, w, h) in enumerate(boxes):  # no two boxes overlap
        for other in boxes[index + 1 :]:
            ox_, oy, ow, oh = other
            assert x + w <= ox_ or ox_ + ow <= x or y + h <= oy or oy + oh <= y
    # Motivation above business above application: the layers are bands, top to bottom.
    position = {n.get("elementRef"): int(n.get("y")) for n in nodes}
    by_type: dict[str, list[int]] = {}
    for element in alta.elements.values():
        by_type.setdefault(element.type, []).append(position[element.id])
    assert max(by_type["Requirement"]) < min(by_type["BusinessService"])
    assert max(by_type["BusinessService"]) < min(position[e.id] for e in alta.applications())
    assert len(views[0].findall(f"{{{NS}}}connection")) == len(alta.relationships)


def test_a_re_export_has_the_same_identifiers(store: KnowledgeStore, alta: Model) -> None:
    again = _model(store, "5601")
    assert to_exchange_xml(again) == to_exchange_xml(alta)
    # An identifier is the IRI's, whatever else is exported: Hammerfest's WebSak is
    # the same element in a region export as in Hammerfest's own.
    hammerfest = _model(store, "5603")

    reader = InProcess(store, BASE)

    async def in_process(query: str) -> list[dict[str, str]]:
        return await select(reader, query)

    async def read_region() -> Model:
        return await export_model(in_process, await region_scope(in_process, "testregion", BASE))

    region = asyncio.run(read_region())
    usage = identifier(f"{BASE}id/bruk/5603/websak")
    assert usage in hammerfest.elements and usage in region.elements
    assert schema_errors(to_exchange_xml(region)) == []
    assert {e.name for e in region.applications()} >= {
        "Acos WebSak (Alta)",
        "Elements (Hasvik)",
    }


def test_archi_csv_has_the_same_content(alta: Model) -> None:
    files = csv_files(alta)
    elements = list(csv.reader(io.StringIO(files["elements.csv"].decode("utf-8"))))
    relations = list(csv.reader(io.StringIO(files["relations.csv"].decode("utf-8"))))
    properties = list(csv.reader(io.StringIO(files["properties.csv"].decode("utf-8"))))
    assert tuple(elements[0]) == ELEMENTS_HEADER
    assert tuple(relations[0]) == RELATIONS_HEADER
    assert tuple(properties[0]) == PROPERTIES_HEADER
    assert elements[1][1] == "ArchimateModel"
    ids = {row[0] for row in elements[2:]}
    assert ids == set(alta.elements)
    assert all(re.fullmatch(r"[A-Za-z0-9_-]+", row[0]) for row in elements + relations)
    for row in relations[1:]:
        assert row[1].endswith("Relationship") and row[4] in ids and row[5] in ids
    websak = identifier(f"{BASE}id/bruk/5601/websak")
    assert [websak, "Versjon / Version", "2024.1"] in properties
    with zipfile.ZipFile(io.BytesIO(to_csv_zip(alta))) as archive:
        assert sorted(archive.namelist()) == ["elements.csv", "properties.csv", "relations.csv"]


def test_an_exchange_file_becomes_a_prefilled_workbook(alta: Model, tmp_path: Path) -> None:
    applications = read_exchange(to_exchange_xml(alta))
    assert [a.name for a in applications] == ["Acos WebSak", "Visma Flyt Skole"]
    websak = applications[0]
    assert set(websak.services) == {"Arkiv og dokumentasjonsforvaltning", "Byggesaksbehandling"}
    assert websak.national == ["KS SvarUt og SvarInn"]
    book = openpyxl.load_workbook(io.BytesIO(workbook_bytes(applications, "5601")))
    rows = list(book["Systemportefølje"].iter_rows(min_row=3, values_only=True))
    assert [(r[0], r[1], r[2], r[3], r[4]) for r in rows] == [
        ("5601", "Acos WebSak", "2024.1", "SaaS / sky", "I bruk"),
        ("5601", "Visma Flyt Skole", None, "SaaS / sky", "Under utfasing"),
    ]
    names = [r[0] for r in book["Applikasjoner"].iter_rows(min_row=3, values_only=True)]
    assert names == ["Acos WebSak", "Visma Flyt Skole"]
    # A contract end date property is a row of the contract sheet, not a usage column.
    contracts = list(book["Kontrakter"].iter_rows(min_row=3, values_only=True))
    assert [(r[0], r[1], r[2], r[3], r[4], r[5]) for r in contracts] == [
        ("5601", "Avtale Acos WebSak", "Acos AS", "Acos WebSak", None, datetime(2027, 3, 31)),
        (
            "5601",
            "Avtale Visma Flyt Skole",
            "Visma Software AS",
            "Visma Flyt Skole",
            None,
            datetime(2030, 1, 1),
        ),
    ]
    # ... and the workbook loads: the contracts are valid without a start (a warning).
    path = tmp_path / "alta.xlsx"
    book.save(path)
    fixture = Graph().parse(FIXTURE, format="turtle", publicID=BASE)
    vendors = Graph()  # the stored vendors the workbook names; its applications are its own
    for vendor in fixture.subjects(RDF.type, KG.Vendor):
        vendors += fixture.triples((vendor, None, None))
    checked = check_spreadsheet(path, BASE, layered_context(reference_graph(BASE), vendors))
    assert not checked.report.errors, checked.report.to_text()
    ends = {str(o) for o in checked.graph.objects(None, SCHEMA.endDate)}
    assert ends == {"2027-03-31", "2030-01-01"}


@pytest.mark.parametrize(
    ("document", "says"),
    [
        (b"not xml", "not well-formed"),
        (
            b'<?xml version="1.0"?><!DOCTYPE m [<!ENTITY a "aaaa">]><m>&a;</m>',
            "DTD",
        ),
        (b"<model/>", "not an ArchiMate exchange model"),
        (f'<model xmlns="{NS}" identifier="m"/>'.encode(), "no application components"),
    ],
)
def test_a_file_that_is_not_an_exchange_model_is_refused(document: bytes, says: str) -> None:
    with pytest.raises(ExchangeFileError, match=says):
        read_exchange(document)


def test_the_demo_portfolio_exports_whole_and_comes_back(demo_store: Path) -> None:
    """Done when: a demo municipality's file validates, has every application of its
    portfolio as an Application Component with relationships and a view, and imports
    back to a workbook with the same applications."""
    store = ox.Store.read_only(str(demo_store))
    reference = next(
        str(g.value)
        for g in store.named_graphs()
        if isinstance(g, ox.NamedNode) and g.value.endswith("graph/reference/municipalities")
    )
    base = reference[: -len("graph/reference/municipalities")]  # the demo's own base IRI
    kommunenummer = "4203"  # Arendal
    portfolio = {
        row["name"]
        for row in rows(
            store,
            f"""PREFIX kg: <https://w3id.org/kommunegraf/ontology#>
            PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
            SELECT ?name WHERE {{ ?usage kg:usedBy <{base}id/kommune/{kommunenummer}> ;
                kg:application/rdfs:label ?name }}""",
            base,
        )
    }
    assert len(portfolio) > 20
    model = _model(store, kommunenummer, base)
    document = to_exchange_xml(model)
    assert schema_errors(document) == []
    root = etree.fromstring(document)
    components = {
        e.get("identifier"): e.findtext(f"{{{NS}}}name")
        for e in root.iter(f"{{{NS}}}element")
        if e.get(XSI_TYPE) == "ApplicationComponent"
    }
    assert portfolio <= set(components.values())
    related = {r.get("source") for r in root.iter(f"{{{NS}}}relationship")}
    assert all(c in related for c, name in components.items() if name in portfolio)
    assert root.find(f".//{{{NS}}}view") is not None
    book = openpyxl.load_workbook(
        io.BytesIO(workbook_bytes(read_exchange(document), kommunenummer))
    )
    back = {r[1] for r in book["Systemportefølje"].iter_rows(min_row=3, values_only=True)}
    assert back == portfolio


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    running = start_server(":memory:", env={"KOMMUNEGRAF_TOKEN": TOKEN})
    data = Graph().parse(FIXTURE, format="turtle", publicID=running.url + "/")
    answer = call(
        running.url,
        "PUT",
        "/store",
        params={"graph": running.url + "/graph/test/fixture"},
        body=data.serialize(format="nt").encode(),
        headers={"Content-Type": "application/n-triples", **bearer(TOKEN)},
    )
    assert answer.status in (201, 204), answer.text
    yield running
    stop_server(running)


def test_http_exports_and_import(server: Server) -> None:
    xml = call(server.url, "GET", "/kommune/5601/archimate.xml")
    assert xml.status == 200 and xml.media == "application/xml"
    assert 'filename="archimate-5601.xml"' in xml.headers["content-disposition"]
    assert schema_errors(xml.body) == []
    zipped = call(server.url, "GET", "/region/testregion/archimate-csv.zip")
    assert zipped.status == 200
    with zipfile.ZipFile(io.BytesIO(zipped.body)) as archive:
        assert "Elements (Hasvik)" in archive.read("elements.csv").decode("utf-8")
    assert call(server.url, "GET", "/kommune/9999/archimate.xml").status == 404
    assert call(server.url, "GET", "/region/nowhere/archimate.xml").status == 404
    workbook = call(
        server.url, "POST", "/archimate/arbeidsbok", params={"kommune": "5601"}, body=xml.body
    )
    assert workbook.status == 200 and workbook.media == XLSX_MEDIA
    book = openpyxl.load_workbook(io.BytesIO(workbook.body))
    assert book["Systemportefølje"]["B3"].value == "Acos WebSak"
    refused = call(server.url, "POST", "/archimate/arbeidsbok", body=b"<x/>")
    assert refused.status == 422 and "ArchiMate" in refused.text


def test_cli_export_and_import(tmp_path: Path) -> None:
    folder = tmp_path / "store"
    knowledge = KnowledgeStore(folder)
    try:
        load_reference(knowledge, BASE)
        knowledge.replace_graph(
            f"{BASE}graph/test/fixture", Graph().parse(FIXTURE, format="turtle", publicID=BASE)
        )
    finally:
        knowledge.close()
    exported = tmp_path / "alta.xml"
    done = kommunegraf(
        "export",
        "archimate",
        "--kommune",
        "5601",
        "-o",
        str(exported),
        "--store",
        str(folder),
        env={"KOMMUNEGRAF_BASE_IRI": BASE},
    )
    assert done.returncode == 0, done.stderr
    assert "2 applikasjoner" in done.stdout
    assert schema_errors(exported.read_bytes()) == []
    workbook = tmp_path / "arbeidsbok.xlsx"
    back = kommunegraf("import-archimate", str(exported), "-o", str(workbook), "--kommune", "5601")
    assert back.returncode == 0, back.stderr
    assert openpyxl.load_workbook(workbook)["Systemportefølje"]["B4"].value == "Visma Flyt Skole"
    wrong = kommunegraf("export", "archimate", "-o", str(tmp_path / "x.ttl"))
    assert wrong.returncode == 2 and ".xml" in wrong.stderr
