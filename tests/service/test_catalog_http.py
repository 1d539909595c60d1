"""/catalog and /services over real HTTP, on the embedded and the remote store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from rdflib import Graph, Namespace, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import RDF

from service.exports.official_shapes import CPSV_AP_NO, DCAT_AP_NO, violations
from tests.conftest import BACKENDS, Server, start_server_on, stop_server
from tests.service.client import Answer, bearer, call

TOKEN = "catalogue-test-token-0123456789a"  # noqa: S105 - a token for a test server only
FIXTURE = Path(__file__).parent / "catalog_data" / "fixture.ttl"
DCAT = Namespace("http://www.w3.org/ns/dcat#")
PARSERS = {"text/turtle": "turtle", "application/rdf+xml": "xml", "application/ld+json": "json-ld"}


@pytest.fixture(scope="module", params=BACKENDS)
def loaded(request: pytest.FixtureRequest) -> Iterator[Server]:
    """A server whose store holds the reference data and the made-up fixture."""
    running = start_server_on(request.param, env={"KOMMUNEGRAF_TOKEN": TOKEN})
    try:
        data = Graph().parse(FIXTURE, format="turtle", publicID=running.url + "/")
        answer = call(
            running.url,
            "PUT",
            "/store?graph=" + running.url + "/graph/source/fixture",
            body=data.serialize(format="nt", encoding="utf-8"),
            headers={**bearer(TOKEN), "Content-Type": "application/n-triples"},
        )
        assert answer.status in (200, 201, 204), answer.text
        yield running
    finally:
        stop_server(running)


def get(server: Server, path: str, accept: str | None = None) -> Answer:
    return call(server.url, "GET", path, headers={"Accept": accept} if accept else {})


def parsed(answer: Answer) -> Graph:
    assert answer.status == 200, answer.text
    return Graph().parse(data=answer.body, format=PARSERS[answer.media])


def iri(server: Server, path: str) -> URIRef:
    return URIRef(f"{server.url}/{path}")


def test_a_municipality_catalogue_conforms_and_leaves_out_what_is_incomplete(
    loaded: Server,
) -> None:
    catalogue = parsed(get(loaded, "/catalog/4203", "text/turtle"))
    assert violations(catalogue, DCAT_AP_NO) == []
    assert set(catalogue.objects(iri(loaded, "catalog/4203"), DCAT.dataset)) == {
        iri(loaded, "id/datasett/4203/barnehageregister"),
        iri(loaded, "id/datasett/4203/postjournal"),
    }
    assert (iri(loaded, "id/datasett/4203/vegregister"), None, None) not in catalogue


@pytest.mark.parametrize("media", ["application/rdf+xml", "application/ld+json"])
def test_every_rdf_format_carries_the_same_catalogue(loaded: Server, media: str) -> None:
    turtle = parsed(get(loaded, "/catalog/4203", "text/turtle"))
    other = parsed(get(loaded, "/catalog/4203", media))
    assert isomorphic(turtle, other)
    fmt = {"application/rdf+xml": "rdfxml", "application/ld+json": "jsonld"}[media]
    assert get(loaded, f"/catalog/4203?format={fmt}").media == media


def test_no_accept_gets_turtle_a_browser_gets_the_to_do_list(loaded: Server) -> None:
    assert get(loaded, "/catalog/4203").media == "text/turtle"
    page = get(loaded, "/catalog/4203", "text/html,application/xhtml+xml,*/*;q=0.8")
    assert page.status == 200 and page.media == "text/html"
    assert "Vegregister" in page.text
    assert "Mangler tema" in page.text and "The theme is missing" in page.text
    assert "Barnehageregister" in page.text
    assert "940493021" in page.text


def test_the_whole_catalogue_has_only_municipalities_that_can_publish(loaded: Server) -> None:
    catalogue = parsed(get(loaded, "/catalog", "text/turtle"))
    assert violations(catalogue, DCAT_AP_NO) == []
    assert set(catalogue.subjects(RDF.type, DCAT.Catalog)) == {iri(loaded, "catalog/4203")}
    overview = get(loaded, "/catalog", "text/html")
    assert "4203 Arendal" in overview.text and "1580 Haram" in overview.text


def test_without_organisation_number_rdf_is_404_and_the_page_says_why(loaded: Server) -> None:
    answer = get(loaded, "/catalog/1580", "text/turtle")
    assert answer.status == 404
    assert "organisasjonsnummer" in answer.text and "organisation number" in answer.text
    page = get(loaded, "/catalog/1580", "text/html")
    assert page.status == 200
    assert "Utlån" in page.text and "Kommunen mangler organisasjonsnummer" in page.text


@pytest.mark.parametrize("path", ["/catalog/12ab", "/catalog/9999", "/services/9999"])
def test_unknown_municipalities_are_404_in_both_languages(loaded: Server, path: str) -> None:
    answer = get(loaded, path, "text/turtle")
    assert answer.status == 404
    assert "Ukjent kommunenummer" in answer.text and "Unknown municipality" in answer.text


def test_an_unacceptable_format_is_406(loaded: Server) -> None:
    assert get(loaded, "/catalog/4203", "image/png").status == 406
    assert get(loaded, "/services/4203", "image/png").status == 406
    assert get(loaded, "/catalog/4203?format=csv").status == 406


@pytest.mark.parametrize("path", ["/services", "/services/4203"])
def test_regression_services_in_a_browser_was_a_plain_text_406(loaded: Server, path: str) -> None:
    page = get(loaded, path, "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8")
    assert page.status == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "Lovpålagte tjenester" in page.text and "Statutory services" in page.text


def test_the_services_of_a_municipality_conform_to_cpsv_ap_no(loaded: Server) -> None:
    services = parsed(get(loaded, "/services/4203", "text/turtle"))
    assert violations(services, CPSV_AP_NO) == []
    public_service = URIRef("http://purl.org/vocab/cpsv#PublicService")
    assert len(set(services.subjects(RDF.type, public_service))) > 50


def test_the_to_do_list_is_a_canned_query(loaded: Server) -> None:
    answer = get(
        loaded,
        "/queries/datasets-not-exportable?kommune=4203",
        "application/sparql-results+json",
    )
    assert answer.status == 200, answer.text
    assert "vegregister" in answer.text and "barnehageregister" not in answer.text
