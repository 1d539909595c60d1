"""The DCAT-AP-NO catalogue and CPSV-AP-NO services, checked against Digdir's shapes.

The data goes through the project's own shapes first (so it is data a municipality
could load), then into a real store, out through the export's own queries, and into
pyshacl with the local copy of the official shapes. "Conforms" means no
sh:Violation; warnings are listed in service/exports/shapes/README.md.
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache
from pathlib import Path

import pytest
from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, PROV, RDF

from loaders.namespaces import CPSV, CPSVNO, CV, DEFAULT_BASE_IRI, ELI, KG
from loaders.reference import reference_graph
from loaders.validation import validate
from service.exports.cpsv import build_services
from service.exports.dcat import build_catalogues, publisher_iri
from service.exports.import_dcat import (
    OURS_QUERY,
    import_graph_iri,
    link,
    ours_from_rows,
    read_catalogue,
)
from service.exports.official_shapes import (
    CPSV_AP_NO,
    DCAT_AP_NO,
    SHAPES_DIR,
    check,
    violations,
)
from service.store.embedded import KnowledgeStore
from service.store.sources import load_reference
from tests.conftest import SHARED
from tests.service.in_process import datasets, rows
from tests.service.in_process import services as read_services

BASE = DEFAULT_BASE_IRI
DCAT = Namespace("http://www.w3.org/ns/dcat#")
"""A plain namespace: pytest's collection probes module attributes, which rdflib's
closed DCAT namespace answers with a warning."""
DATA = Path(__file__).parent / "catalog_data"
EXAMPLE = DATA / "DCAT-AP-NO2.0-examples.ttl"
ARENDAL = URIRef(f"{BASE}id/kommune/4203")
KINDERGARTENS = URIRef(f"{BASE}id/datasett/4203/barnehageregister")
JOURNAL = URIRef(f"{BASE}id/datasett/4203/postjournal")
ROADS = URIRef(f"{BASE}id/datasett/4203/vegregister")
LENDING = URIRef(f"{BASE}id/datasett/1580/bibliotek")
PUBLISHER = publisher_iri("940493021")


def fixture_graph(base_iri: str = BASE) -> Graph:
    return Graph().parse(DATA / "fixture.ttl", format="turtle", publicID=base_iri)


@cache
def _store() -> KnowledgeStore:
    store = KnowledgeStore(None)
    load_reference(store, BASE)
    store.replace_graph(f"{BASE}graph/source/fixture", fixture_graph())
    return store


@pytest.fixture(scope="module")
def store() -> KnowledgeStore:
    return _store()


@pytest.fixture(scope="module")
def catalogue(store: KnowledgeStore) -> Graph:
    source = datasets(store, None, BASE)
    return build_catalogues(source.graph, source.blockers, BASE)


def test_the_fixture_is_data_the_project_accepts() -> None:
    report = validate(fixture_graph(), reference_graph(BASE))
    assert report.conforms, [p.message_en for p in report.errors]


@pytest.mark.parametrize("inference", ["none", "rdfs"])
def test_the_catalogue_conforms_to_dcat_ap_no(catalogue: Graph, inference: str) -> None:
    assert (None, RDF.type, DCAT.Catalog) in catalogue
    assert violations(catalogue, DCAT_AP_NO, inference) == []  # type: ignore[arg-type]


def test_the_catalogue_carries_what_the_data_allows(catalogue: Graph) -> None:
    dataset = KINDERGARTENS
    assert catalogue.value(dataset, DCTERMS.publisher) == PUBLISHER
    assert str(PUBLISHER) == "https://data.brreg.no/enhetsregisteret/api/enheter/940493021"
    assert Literal("Barnehageregister", lang="nb") in set(catalogue.objects(dataset, DCTERMS.title))
    assert Literal("Kindergarten register", lang="en") in set(
        catalogue.objects(dataset, DCTERMS.title)
    )
    assert catalogue.value(dataset, DCTERMS.identifier) == Literal("ARENDAL-BHG-1")
    assert catalogue.value(dataset, DCAT.theme) == URIRef("https://psi.norge.no/los/tema/barnehage")
    assert len(set(catalogue.objects(dataset, DCAT.keyword))) == 2
    assert catalogue.value(dataset, DCTERMS.accessRights) == URIRef(
        "http://publications.europa.eu/resource/authority/access-right/NON_PUBLIC"
    )
    point = catalogue.value(dataset, DCAT.contactPoint)
    assert point is not None
    assert catalogue.value(point, URIRef("http://www.w3.org/2006/vcard/ns#hasEmail")) == URIRef(
        "mailto:postmottak@kommune.example"
    )
    distribution = catalogue.value(dataset, DCAT.distribution)
    assert catalogue.value(distribution, DCAT.accessURL) == URIRef(
        "https://data.kommune.example/barnehage"
    )
    # A dataset without an identifier of its own is identified by its IRI.
    assert catalogue.value(JOURNAL, DCTERMS.identifier) == Literal(str(JOURNAL))


def test_legal_bases_become_rules_implementing_the_lovdata_act(catalogue: Graph) -> None:
    rules = {
        catalogue.value(rule, DCTERMS.type): rule
        for rule in catalogue.objects(KINDERGARTENS, CPSV.follows)
    }
    assert set(rules) == {
        CPSVNO.ruleForDataProcessing,
        CPSVNO.ruleForNonDisclosure,
        CPSVNO.ruleForDisclosure,
    }
    processing = rules[CPSVNO.ruleForDataProcessing]
    assert (processing, RDF.type, CPSV.Rule) in catalogue
    # Barnehageloven § 10: the rule names the section and implements the act.
    act = URIRef("https://lovdata.no/eli/lov/2005/06/17/64")
    assert catalogue.value(processing, CPSV.implements) == act
    assert (act, RDF.type, ELI.LegalResource) in catalogue
    titles = {
        t.language: str(t)
        for t in catalogue.objects(processing, DCTERMS.title)
        if isinstance(t, Literal)
    }
    assert "§ 10" in titles["nb"] and "section 10" in titles["en"]
    restriction = rules[CPSVNO.ruleForNonDisclosure]
    assert catalogue.value(restriction, CPSV.implements) == URIRef(
        "https://lovdata.no/eli/lov/2006/05/19/16"
    )


def test_a_dataset_missing_a_mandatory_property_is_listed_and_left_out(
    store: KnowledgeStore, catalogue: Graph
) -> None:
    source = datasets(store, "4203", BASE)
    reasons = {(b.dataset, b.missing): b for b in source.blockers}
    assert set(reasons) == {(str(ROADS), str(DCAT.theme))}
    blocker = reasons[(str(ROADS), str(DCAT.theme))]
    assert "tema" in blocker.reason_nb and "theme" in blocker.reason_en
    assert blocker.dataset_name == "Vegregister"
    assert (ROADS, None, None) not in catalogue
    assert (None, DCAT.dataset, ROADS) not in catalogue
    assert (None, DCAT.dataset, KINDERGARTENS) in catalogue


def test_a_municipality_without_organisation_number_has_no_catalogue(
    store: KnowledgeStore, catalogue: Graph
) -> None:
    source = datasets(store, "1580", BASE)
    assert [(b.dataset, b.missing) for b in source.blockers] == [
        (str(LENDING), str(DCTERMS.publisher))
    ]
    assert (LENDING, None, None) not in catalogue
    one = build_catalogues(source.graph, source.blockers, BASE, keep_empty=True)
    assert len(one) == 0


def test_an_empty_catalogue_of_one_municipality_still_conforms(store: KnowledgeStore) -> None:
    source = datasets(store, "4203", BASE)
    everything_blocked = [
        replace(source.blockers[0], dataset=str(dataset))
        for dataset in source.graph.subjects(RDF.type, KG.Dataset)
    ]
    graph = build_catalogues(source.graph, everything_blocked, BASE, keep_empty=True)
    assert (None, RDF.type, DCAT.Catalog) in graph
    assert (None, DCAT.dataset, None) not in graph
    assert violations(graph, DCAT_AP_NO) == []


@pytest.mark.parametrize("kommunenummer", ["4203", None])
def test_the_services_conform_to_cpsv_ap_no(
    store: KnowledgeStore, kommunenummer: str | None
) -> None:
    services = build_services(read_services(store, kommunenummer, BASE))
    kindergarten = URIRef(f"{BASE}id/tjeneste/barnehage")
    assert (kindergarten, RDF.type, CPSV.PublicService) in services
    # The LOS theme and the Kommune-LOS words (issue 19).
    assert set(services.objects(kindergarten, CV.thematicArea)) == {
        URIRef("https://psi.norge.no/los/tema/barnehage"),
        URIRef("https://psi.norge.no/los/ord/barnehageplass"),
        URIRef("https://psi.norge.no/los/ord/barnehage-innhold-og-kvalitet"),
    }
    assert services.value(kindergarten, CV.hasLegalResource) == URIRef(
        f"{BASE}id/hjemmel/barnehageloven-10"
    )
    authorities = set(services.objects(kindergarten, CV.hasCompetentAuthority))
    assert PUBLISHER in authorities
    if kommunenummer is None:
        assert len(authorities) == 357  # every current municipality
        return  # the national export is large; one municipality is validated below
    assert authorities == {PUBLISHER}
    assert violations(services, CPSV_AP_NO) == []


def test_the_official_example_conforms_to_the_fixed_shapes() -> None:
    """The copy still accepts Digdir's own example (with inference none, see README)."""
    example = Graph().parse(EXAMPLE, format="turtle")
    assert violations(example, DCAT_AP_NO, "none") == []


def test_the_fixes_make_the_documented_constraints_run() -> None:
    """Fix 2: cv:hasLegalResource on a public service is now checked."""
    data = Graph().parse(
        data="""
        @prefix cpsv: <http://purl.org/vocab/cpsv#> .
        @prefix cv: <http://data.europa.eu/m8g/> .
        <http://x.test/s> a cpsv:PublicService ; cv:hasLegalResource <http://x.test/not-a-law> .
        """,
        format="turtle",
    )
    paths = {r.path for r in check(data, DCAT_AP_NO)}
    assert str(CV.hasLegalResource) in paths


@pytest.mark.skipif(
    not (SHARED / "reference" / "dcat-ap-no").is_dir(), reason="../shared/reference is absent"
)
@pytest.mark.parametrize(
    ("original", "copy", "changed"),
    [
        ("dcat-ap-no/DCAT-AP-NO-shacl_shapes_2.00.ttl", "DCAT-AP-NO-shacl_shapes_2.00.ttl", 2),
        ("cpsv-ap-no/CPSV-AP-NO_shacl_shapes_v1.ttl", "CPSV-AP-NO_shacl_shapes_v1.ttl", 0),
    ],
)
def test_the_local_copy_differs_only_in_the_documented_lines(
    original: str, copy: str, changed: int
) -> None:
    theirs = (SHARED / "reference" / original).read_text(encoding="utf-8").splitlines()
    ours = (SHAPES_DIR / copy).read_text(encoding="utf-8").splitlines()
    assert len(theirs) == len(ours)
    different = [(a, b) for a, b in zip(theirs, ours, strict=True) if a != b]
    assert len(different) == changed
    assert all("# kommunegraf fix" in b for _, b in different)


def test_the_official_example_imports_without_error(store: KnowledgeStore) -> None:
    harvested, _ = read_catalogue(str(EXAMPLE))
    ours = ours_from_rows(rows(store, OURS_QUERY, BASE))
    result = link(harvested, ours, import_graph_iri(str(EXAMPLE), BASE))
    assert result.harvested == 1
    assert result.links == []
    assert result.unmatched == ["https://examples.org/dcatno_Examples#dsBuildings"]


def test_import_links_by_identifier_and_by_publisher_and_title(
    store: KnowledgeStore, catalogue: Graph
) -> None:
    harvested = Graph() + catalogue
    # A record harvested under another IRI and identifier: matched on publisher + title.
    other = URIRef("https://data.norge.no/datasets/0b1c")
    harvested.add((other, RDF.type, DCAT.Dataset))
    harvested.add((other, DCTERMS.identifier, Literal("https://data.norge.no/datasets/0b1c")))
    harvested.add((other, DCTERMS.title, Literal("  vegregister ", lang="nb")))
    harvested.add((other, DCTERMS.publisher, PUBLISHER))
    # Same title, another publisher: no match.
    stranger = URIRef("https://data.norge.no/datasets/ffff")
    harvested.add((stranger, RDF.type, DCAT.Dataset))
    harvested.add((stranger, DCTERMS.title, Literal("Vegregister", lang="nb")))
    harvested.add((stranger, DCTERMS.publisher, publisher_iri("974760673")))
    ours = ours_from_rows(rows(store, OURS_QUERY, BASE))
    result = link(harvested, ours, f"{BASE}graph/felles-datakatalog/test")
    links = {(mine, theirs): how for mine, theirs, how in result.links}
    assert links == {
        (str(KINDERGARTENS), str(KINDERGARTENS)): "identifier",
        (str(JOURNAL), str(JOURNAL)): "identifier",
        (str(ROADS), str(other)): "publisher+title",
    }
    assert result.unmatched == [str(stranger)]
    assert (ROADS, PROV.alternateOf, other) in result.graph
    assert (ROADS, KG.inFellesDatakatalog, Literal(True)) in result.graph
