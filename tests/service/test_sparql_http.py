"""The /sparql endpoint over real HTTP, against a running ``kommunegraf serve``."""

from __future__ import annotations

import csv
import io
import json
import urllib.error
import urllib.parse
import urllib.request

import pytest
from rdflib import RDF, RDFS, Graph, URIRef

from tests.conftest import Server
from tests.service.client import call

COUNT = (
    "PREFIX kg: <https://w3id.org/kommunegraf/ontology#> "
    "SELECT (COUNT(?m) AS ?n) WHERE { ?m a kg:Municipality ; kg:county ?c }"
)


def _get(url: str, accept: str | None = None) -> tuple[int, str, bytes]:
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read()


def _post(
    url: str, body: bytes, content_type: str, accept: str | None = None
) -> tuple[int, str, bytes]:
    headers = {"Content-Type": content_type, **({"Accept": accept} if accept else {})}
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read()


def _query_url(server: Server, query: str, **params: str) -> str:
    return f"{server.url}/sparql?" + urllib.parse.urlencode({"query": query, **params})


def test_get_select_as_json_counts_357_municipalities(server: Server) -> None:
    status, media, body = _get(_query_url(server, COUNT), "application/sparql-results+json")
    assert status == 200
    assert media.startswith("application/sparql-results+json")
    assert json.loads(body)["results"]["bindings"][0]["n"]["value"] == "357"


def test_post_form_and_direct_give_the_same_answer(server: Server) -> None:
    form = urllib.parse.urlencode({"query": COUNT}).encode()
    _, _, by_form = _post(
        server.url + "/sparql", form, "application/x-www-form-urlencoded", "text/csv"
    )
    _, _, direct = _post(
        server.url + "/sparql", COUNT.encode(), "application/sparql-query", "text/csv"
    )
    assert by_form == direct
    assert list(csv.reader(io.StringIO(direct.decode()))) == [["n"], ["357"]]


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("text/tab-separated-values", "text/tab-separated-values"),
        ("application/sparql-results+xml", "application/sparql-results+xml"),
        (
            "text/csv;q=0.2, application/sparql-results+json;q=0.9",
            "application/sparql-results+json",
        ),
    ],
)
def test_select_content_negotiation(server: Server, accept: str, expected: str) -> None:
    status, media, _ = _get(_query_url(server, COUNT), accept)
    assert status == 200
    assert media.startswith(expected)


def test_construct_as_turtle_parses_back(server: Server) -> None:
    query = (
        "PREFIX kg: <https://w3id.org/kommunegraf/ontology#> "
        "CONSTRUCT { ?m kg:county ?c } WHERE { ?m kg:municipalityNumber '4203' ; kg:county ?c }"
    )
    status, media, body = _get(_query_url(server, query), "text/turtle")
    assert status == 200 and media.startswith("text/turtle")
    graph = Graph().parse(data=body, format="turtle")
    assert len(graph) == 1
    assert str(next(iter(graph.objects()))).endswith("/id/fylke/42")


def test_format_parameter_overrides_accept(server: Server) -> None:
    _, media, _ = _get(_query_url(server, COUNT, format="csv"), "application/sparql-results+json")
    assert media.startswith("text/csv")


def test_malformed_query_is_400_with_the_parser_position(server: Server) -> None:
    status, _, body = _get(_query_url(server, "SELEC ?x WHERE {}"))
    assert status == 400
    text = body.decode()
    assert "Ugyldig SPARQL" in text and "Malformed SPARQL" in text and "1:" in text


def test_unsupported_media_type_is_415(server: Server) -> None:
    status, _, _ = _post(server.url + "/sparql", COUNT.encode(), "text/plain")
    assert status == 415


def test_unacceptable_accept_is_406(server: Server) -> None:
    status, _, _ = _get(_query_url(server, COUNT), "image/png")
    assert status == 406


def test_browser_without_query_gets_the_editor_and_home_page_counts(server: Server) -> None:
    status, media, body = _get(server.url + "/sparql", "text/html")
    assert status == 200 and media.startswith("text/html")
    assert "<textarea" in body.decode()
    status, _, home = _get(server.url + "/", "text/html")
    assert status == 200
    assert "357" in home.decode()


def test_pages_load_nothing_from_other_hosts(server: Server) -> None:
    for path in ("/", "/sparql"):
        _, _, body = _get(server.url + path, "text/html")
        page = body.decode()
        assert "https://" not in page.replace("https://w3id.org/kommunegraf/ontology#", "")
        assert "//cdn" not in page
    # FastAPI's interactive docs (scripts from a CDN) are off; /docs/ is our own guides.
    for path in ("/docs", "/redoc", "/docs/oauth2-redirect"):
        _, _, body = _get(server.url + path, "text/html")
        assert b"swagger" not in body.lower() and b"redoc" not in body.lower(), path


# --- service description -----------------------------------------------------------

SD = "http://www.w3.org/ns/sparql-service-description#"
DESCRIPTION_FORMATS = {
    "text/turtle": "turtle",
    "application/n-triples": "nt",
    "application/ld+json": "json-ld",
    "application/rdf+xml": "xml",
}


@pytest.mark.parametrize("accept", [*DESCRIPTION_FORMATS, None, "*/*"])
def test_rdf_clients_without_a_query_get_the_service_description(
    server: Server, accept: str | None
) -> None:
    answer = call(server.url, "GET", "/sparql", headers={"Accept": accept} if accept else {})
    assert answer.status == 200
    expected = accept if accept in DESCRIPTION_FORMATS else "text/turtle"
    assert answer.media == expected
    graph = Graph().parse(data=answer.body, format=DESCRIPTION_FORMATS[expected])
    endpoint = URIRef(server.url + "/sparql")
    assert (endpoint, RDF.type, URIRef(SD + "Service")) in graph
    assert (endpoint, URIRef(SD + "endpoint"), endpoint) in graph
    assert (endpoint, URIRef(SD + "feature"), URIRef(SD + "UnionDefaultGraph")) in graph
    assert (endpoint, URIRef(SD + "supportedLanguage"), URIRef(SD + "SPARQL11Query")) in graph
    # The shared server has no token: it does not offer updates.
    assert (endpoint, URIRef(SD + "supportedLanguage"), URIRef(SD + "SPARQL11Update")) not in graph
    formats = {str(o) for o in graph.objects(endpoint, URIRef(SD + "resultFormat"))}
    assert {
        "http://www.w3.org/ns/formats/SPARQL_Results_JSON",
        "http://www.w3.org/ns/formats/SPARQL_Results_XML",
        "http://www.w3.org/ns/formats/SPARQL_Results_CSV",
        "http://www.w3.org/ns/formats/SPARQL_Results_TSV",
        "http://www.w3.org/ns/formats/Turtle",
        "http://www.w3.org/ns/formats/N-Triples",
        "http://www.w3.org/ns/formats/JSON-LD",
        "http://www.w3.org/ns/formats/RDF_XML",
    } <= formats
    dataset = graph.value(endpoint, URIRef(SD + "defaultDataset"))
    default = graph.value(dataset, URIRef(SD + "defaultGraph"))
    notes = {(str(c), c.language) for c in graph.objects(default, RDFS.comment)}  # type: ignore[attr-defined]
    assert any("unionen av alle navngitte grafer" in t and lang == "nb" for t, lang in notes)
    assert any("union of all named graphs" in t and lang == "en" for t, lang in notes)
    names = {
        str(graph.value(named, URIRef(SD + "name")))
        for named in graph.objects(dataset, URIRef(SD + "namedGraph"))
    }
    assert any("/graph/reference/" in name for name in names)
    assert answer.headers["access-control-allow-origin"] == "*"


def test_service_description_in_an_unacceptable_format_is_406(server: Server) -> None:
    assert call(server.url, "GET", "/sparql", headers={"Accept": "image/png"}).status == 406


# --- the rest of the protocol's edges ----------------------------------------------------


def test_post_form_reads_parameters_from_the_url_too(server: Server) -> None:
    name = _first_graph(server)
    body = urllib.parse.urlencode({"query": "SELECT (COUNT(*) AS ?n) { ?s ?p ?o }"}).encode()
    everything = call(
        server.url,
        "POST",
        "/sparql",
        body=body,
        headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/csv"},
    )
    one_graph = call(
        server.url,
        "POST",
        "/sparql?" + urllib.parse.urlencode({"default-graph-uri": name}),
        body=body,
        headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/csv"},
    )
    assert everything.status == one_graph.status == 200
    assert 0 < int(one_graph.text.split()[1]) < int(everything.text.split()[1])


def _first_graph(server: Server) -> str:
    answer = call(
        server.url,
        "GET",
        "/sparql",
        params={"query": "SELECT DISTINCT ?g { GRAPH ?g { ?s ?p ?o } } ORDER BY ?g LIMIT 1"},
        headers={"Accept": "application/sparql-results+json"},
    )
    name: str = json.loads(answer.body)["results"]["bindings"][0]["g"]["value"]
    return name


@pytest.mark.parametrize(
    ("fmt", "media"),
    [
        ("xml", "application/rdf+xml"),
        ("json", "application/ld+json"),
        ("nt", "application/n-triples"),
        ("application/ld+json", "application/ld+json"),
    ],
)
def test_format_parameter_means_the_rdf_kind_for_a_construct(
    server: Server, fmt: str, media: str
) -> None:
    query = "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o } LIMIT 3"
    status, served, _ = _get(_query_url(server, query, format=fmt), "text/turtle")
    assert status == 200 and served.startswith(media)


def test_graph_iri_parameters_must_be_absolute_iris(server: Server) -> None:
    status, _, body = _get(_query_url(server, "ASK {}", **{"default-graph-uri": "no iri"}))
    assert status == 400
    assert b"default-graph-uri" in body


def test_only_utf8_bodies_are_accepted(server: Server) -> None:
    status, _, body = _post(
        server.url + "/sparql",
        "ASK {}".encode("latin-1"),
        "application/sparql-query; charset=latin1",
    )
    assert status == 415
    assert "UTF-8" in body.decode()


def test_invalid_utf8_query_is_400(server: Server) -> None:
    status, _, _ = _post(server.url + "/sparql", b"ASK { \xff }", "application/sparql-query")
    assert status == 400


def test_other_methods_are_405_in_both_languages(server: Server) -> None:
    answer = call(server.url, "PUT", "/sparql?query=ASK%7B%7D", body=b"")
    assert answer.status == 405
    assert "GET og POST" in answer.text and "GET and POST" in answer.text
    assert "POST" in answer.headers["allow"]


def test_head_answers_like_get_without_a_body(server: Server) -> None:
    answer = call(
        server.url, "HEAD", "/sparql?query=ASK%7B%7D", headers={"Accept": "application/json"}
    )
    assert answer.status == 200 and answer.body == b""


# --- CORS -----------------------------------------------------------------------------


def test_queries_are_readable_from_any_origin(server: Server) -> None:
    origin = {"Origin": "https://elsewhere.example"}
    by_get = call(server.url, "GET", "/sparql?query=ASK%7B%7D", headers=origin)
    by_post = call(
        server.url,
        "POST",
        "/sparql",
        body=b"ASK {}",
        headers={**origin, "Content-Type": "application/sparql-query"},
    )
    for answer in (by_get, by_post):
        assert answer.status == 200
        assert answer.headers["access-control-allow-origin"] == "*"
        assert "access-control-allow-credentials" not in answer.headers


def test_preflight_allows_queries_but_not_the_authorization_header(server: Server) -> None:
    answer = call(
        server.url,
        "OPTIONS",
        "/sparql",
        headers={
            "Origin": "https://elsewhere.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, authorization",
        },
    )
    assert answer.status in (200, 204)
    assert answer.headers["access-control-allow-origin"] == "*"
    assert "POST" in answer.headers["access-control-allow-methods"]
    allowed_headers = answer.headers["access-control-allow-headers"].lower()
    assert "content-type" in allowed_headers and "authorization" not in allowed_headers
    assert "access-control-allow-credentials" not in answer.headers


def test_a_cross_origin_update_gets_no_cors_header(server: Server) -> None:
    answer = call(
        server.url,
        "POST",
        "/sparql",
        body=b"update=CLEAR+ALL",
        headers={
            "Origin": "https://elsewhere.example",
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    assert answer.status in (401, 403)
    assert "access-control-allow-origin" not in answer.headers
