"""The /sparql endpoint over real HTTP, against a running ``kommunegraf serve``."""

from __future__ import annotations

import csv
import io
import json
import urllib.error
import urllib.parse
import urllib.request

import pytest
from rdflib import Graph

from tests.conftest import Server

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
    status, _, _ = _get(server.url + "/docs")
    assert status == 404
