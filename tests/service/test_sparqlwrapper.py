"""SPARQLWrapper, the client most Python users will point at us, in every result format.

SPARQLWrapper sends both an Accept header and ``format``/``output``/``results``
parameters (sometimes ``format`` twice, once as a name and once as a media type),
so these tests also show the endpoint reads those the way the client means them.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any
from xml.dom.minidom import Document

import pytest
from rdflib import Graph
from rdflib.compare import isomorphic
from SPARQLWrapper import (
    CSV,
    JSON,
    JSONLD,
    POST,
    RDFXML,
    TSV,
    TURTLE,
    XML,
    SPARQLWrapper,
)
from SPARQLWrapper.SPARQLExceptions import Unauthorized

from tests.conftest import BACKENDS, Server, start_server_on, stop_server

TOKEN = "sparqlwrapper-test-token-0123456"  # noqa: S105 - a token for a test server only
KG = "PREFIX kg: <https://w3id.org/kommunegraf/ontology#> "
SELECT = KG + (
    "SELECT ?m ?number WHERE { ?m a kg:Municipality ; kg:municipalityNumber ?number } "
    "ORDER BY ?number LIMIT 5"
)
ASK = KG + "ASK { ?m kg:municipalityNumber '4203' }"
CONSTRUCT = KG + (
    "CONSTRUCT { ?m kg:county ?c ; kg:municipalityNumber ?n } "
    "WHERE { ?m kg:municipalityNumber ?n ; kg:county ?c FILTER(STRSTARTS(?n, '42')) }"
)
SERVED = {
    TURTLE: "text/turtle",
    RDFXML: "application/rdf+xml",
    XML: "application/rdf+xml",
    JSONLD: "application/ld+json",
}
"""The media type each SPARQLWrapper format should get for a CONSTRUCT."""


def wrapper(server: Server, query: str, result_format: str) -> SPARQLWrapper:
    client = SPARQLWrapper(server.url + "/sparql")
    client.setQuery(query)
    client.setReturnFormat(result_format)
    return client


@pytest.fixture(scope="module", params=BACKENDS)
def writable(request: pytest.FixtureRequest) -> Iterator[Server]:
    running = start_server_on(request.param, env={"KOMMUNEGRAF_TOKEN": TOKEN})
    yield running
    stop_server(running)


@pytest.mark.parametrize("method", ["GET", POST])
def test_select_as_json(server: Server, method: str) -> None:
    client = wrapper(server, SELECT, JSON)
    client.setMethod(method)
    result: Any = client.queryAndConvert()
    numbers = [row["number"]["value"] for row in result["results"]["bindings"]]
    assert numbers == sorted(numbers) and len(numbers) == 5


def test_select_as_xml(server: Server) -> None:
    document = wrapper(server, SELECT, XML).queryAndConvert()
    assert isinstance(document, Document)
    assert len(document.getElementsByTagName("result")) == 5


@pytest.mark.parametrize(("result_format", "delimiter"), [(CSV, ","), (TSV, "\t")])
def test_select_as_csv_and_tsv(server: Server, result_format: str, delimiter: str) -> None:
    response = wrapper(server, SELECT, result_format).query()
    content_type = response.info()["content-type"]
    assert content_type.startswith("text/csv" if result_format == CSV else "text/tab-separated")
    body = response.convert()
    assert isinstance(body, bytes)
    rows = list(csv.reader(io.StringIO(body.decode()), delimiter=delimiter))
    assert [name.lstrip("?") for name in rows[0]] == ["m", "number"]
    assert len(rows) == 6


@pytest.mark.parametrize("result_format", [JSON, XML])
def test_ask(server: Server, result_format: str) -> None:
    result: Any = wrapper(server, ASK, result_format).queryAndConvert()
    if result_format == JSON:
        assert result["boolean"] is True
    else:
        assert result.getElementsByTagName("boolean")[0].firstChild.data == "true"


def _construct(server: Server, result_format: str, accept: str | None = None) -> Graph:
    client = wrapper(server, CONSTRUCT, result_format)
    if accept is not None:
        client.setOnlyConneg(True)
        client.addCustomHttpHeader("Accept", accept)
    response = client.query()
    media = response.info()["content-type"].split(";")[0]
    assert media == (accept or SERVED[result_format])
    converted = response.convert()
    if isinstance(converted, Graph):
        return converted
    assert isinstance(converted, bytes)
    rdflib_format = {"text/turtle": "turtle", "application/n-triples": "nt"}[media]
    return Graph().parse(data=converted, format=rdflib_format)


@pytest.fixture(scope="module")
def constructed_as_turtle(server: Server) -> Graph:
    graph = _construct(server, TURTLE)
    assert len(graph) > 0
    return graph


@pytest.mark.parametrize(
    ("result_format", "accept"),
    [(RDFXML, None), (JSONLD, None), (XML, None), (TURTLE, "application/n-triples")],
    ids=["rdfxml", "jsonld", "xml-means-rdfxml", "n-triples"],
)
def test_construct_in_every_rdf_format_parses_back_the_same(
    server: Server, constructed_as_turtle: Graph, result_format: str, accept: str | None
) -> None:
    graph = _construct(server, result_format, accept)
    assert isomorphic(graph, constructed_as_turtle)


def test_construct_as_turtle_has_the_counties(constructed_as_turtle: Graph) -> None:
    # 42 is Agder: every municipality whose number starts with 42 lies in one county.
    counties = {str(o) for o in constructed_as_turtle.objects() if str(o).endswith("/fylke/42")}
    assert len(counties) == 1


def test_update_with_the_token(writable: Server) -> None:
    triple = "<http://example.org/sw/s> <http://example.org/sw/p> 'via SPARQLWrapper'"
    client = SPARQLWrapper(writable.url + "/sparql")
    client.setMethod(POST)
    client.setQuery(f"INSERT DATA {{ GRAPH <http://example.org/sw/g> {{ {triple} }} }}")
    client.addCustomHttpHeader("Authorization", f"Bearer {TOKEN}")
    response = client.query()
    assert response.response.status == 200

    check = wrapper(writable, f"ASK {{ GRAPH ?g {{ {triple} }} }}", JSON)
    result: Any = check.queryAndConvert()
    assert result["boolean"] is True


def test_update_without_the_token_is_unauthorized(writable: Server) -> None:
    client = SPARQLWrapper(writable.url + "/sparql")
    client.setMethod(POST)
    client.setQuery("CLEAR ALL")
    with pytest.raises(Unauthorized):
        client.query()
    still: Any = wrapper(writable, "ASK { ?s ?p ?o }", JSON).queryAndConvert()
    assert still["boolean"] is True
