"""The W3C SPARQL 1.1 Protocol test suite, replayed over real HTTP.

The manifest (../shared/reference/w3c-sparql-protocol/manifest.ttl) describes each
test as HTTP requests in the ``ht:`` vocabulary and the responses expected. This
runner reads it, loads the data files a test names (``ut:graphData``) into the
named graphs it names through the Graph Store Protocol, sends every request as
written (method, path, headers, body bytes in the stated encoding) with
``http.client`` (which, unlike urllib, adds no Content-Type of its own, as the
"missing media type" tests need), and checks status codes, result formats and
booleans.

The server is started by this module, with a write token, because the update
tests run ``DROP ALL``: they must not wipe the data other test modules share.
Update requests carry ``Authorization: Bearer``; the manifest leaves
authentication to the endpoint.
"""

from __future__ import annotations

import csv
import http.client
import io
import json
import urllib.parse
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from rdflib import RDF, RDFS, Graph, Literal, Namespace, URIRef
from rdflib.collection import Collection
from rdflib.term import Node

from tests.conftest import BACKENDS, SHARED, Server, start_server_on, stop_server

SUITE = SHARED / "reference" / "w3c-sparql-protocol"
if not (SUITE / "manifest.ttl").is_file():
    pytest.skip(
        f"the W3C protocol manifest is not at {SUITE}/manifest.ttl", allow_module_level=True
    )

MF = Namespace("http://www.w3.org/2001/sw/DataAccess/tests/test-manifest#")
HT = Namespace("http://www.w3.org/2011/http#")
CNT = Namespace("http://www.w3.org/2011/content#")
UT = Namespace("http://www.w3.org/2009/sparql/tests/test-update#")

TOKEN = "w3c-protocol-token-0123456789abc"  # noqa: S105 - a token for a test server only
ENDPOINT = "/sparql"
RESULTS = "http://www.w3.org/2005/sparql-results#"
BOOLEAN_TYPES = ("application/sparql-results+json", "application/sparql-results+xml")
TABULAR_TYPES = (*BOOLEAN_TYPES, "text/csv", "text/tab-separated-values")
RDF_TYPES = {
    "application/rdf+xml": "xml",
    "text/turtle": "turtle",
    "application/n-triples": "nt",
}
"""What the manifest accepts for "RDF" (it names RDFa too; we do not serve it)."""


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes | None
    statuses: frozenset[str]
    """Accepted status classes, like {"2", "3"} for hts:StatusCode2xx and 3xx."""
    result_format: str | None
    boolean: bool | None

    @property
    def is_update(self) -> bool:
        """Whether the request asks for an update (and so carries the write token)."""
        media = self.headers.get("content-type", "").split(";")[0].strip()
        if media == "application/sparql-update":
            return True
        query = urllib.parse.urlsplit(self.path).query
        form = self.body.decode("utf-8", errors="replace") if self.body else ""
        return any("update" in urllib.parse.parse_qs(text) for text in (query, form))


@dataclass(frozen=True)
class ProtocolTest:
    name: str
    title: str
    graph_data: tuple[tuple[str, Path], ...]
    requests: tuple[HttpRequest, ...]


def _items(graph: Graph, head: Node | None) -> list[Node]:
    return list(Collection(graph, head)) if head is not None else []


def _string(graph: Graph, subject: Node, predicate: URIRef) -> str | None:
    value = graph.value(subject, predicate)
    return None if value is None else str(value)


def _request(graph: Graph, node: Node) -> HttpRequest:
    path = _string(graph, node, HT.absolutePath)
    method = _string(graph, node, HT.methodName)
    assert path is not None and path.startswith("/sparql/") and method
    headers = {
        str(graph.value(h, HT.fieldName)).lower(): str(graph.value(h, HT.fieldValue))
        for h in _items(graph, graph.value(node, HT.headers))
    }
    body = None
    content = graph.value(node, HT.body)
    if content is not None:
        chars = _string(graph, content, CNT.chars) or ""
        body = chars.encode(_string(graph, content, CNT.characterEncoding) or "UTF-8")
    response = graph.value(node, HT.resp)
    assert response is not None
    statuses = frozenset(
        str(status).rsplit("StatusCode", 1)[1][0]
        for status in graph.objects(response, MF.expectedStatus)
    )
    boolean = graph.value(response, MF.expectedBoolean)
    return HttpRequest(
        method=method,
        # The manifest's endpoint is /sparql/; ours is /sparql.
        path=ENDPOINT + path.removeprefix("/sparql/").removeprefix("/sparql"),
        headers=headers,
        body=body,
        statuses=statuses,
        result_format=_string(graph, response, MF.expectedFormat),
        boolean=boolean.toPython() if isinstance(boolean, Literal) else None,
    )


def load_manifest() -> list[ProtocolTest]:
    graph = Graph().parse(SUITE / "manifest.ttl", format="turtle")
    manifest = next(graph.subjects(RDF.type, MF.Manifest))
    tests = []
    for entry in _items(graph, graph.value(manifest, MF.entries)):
        data = []
        for graph_data in graph.objects(entry, UT.graphData):
            file = graph.value(graph_data, UT.graph)
            label = graph.value(graph_data, RDFS.label)
            assert isinstance(file, URIRef) and label is not None
            data.append((str(label), Path(urllib.parse.urlsplit(str(file)).path)))
        action = graph.value(entry, MF.action)
        tests.append(
            ProtocolTest(
                name=str(entry).rsplit("#", 1)[1],
                title=_string(graph, entry, MF.name) or "",
                graph_data=tuple(sorted(data)),
                requests=tuple(
                    _request(graph, node)
                    for node in _items(graph, graph.value(action, HT.requests))
                ),
            )
        )
    return tests


TESTS = load_manifest()
SKIPS: dict[str, str] = {}
"""Tests we cannot pass, each with its reason. Empty: all 34 pass."""
REMOTE_REFUSES_USING = b"using-union-graph must not be used with a SPARQL UPDATE containing USING"
"""What ``oxigraph serve --union-default-graph`` answers to an update with USING."""


@pytest.fixture(scope="module", params=BACKENDS)
def endpoint(request: pytest.FixtureRequest) -> Iterator[Server]:
    running = start_server_on(request.param, env={"KOMMUNEGRAF_TOKEN": TOKEN})
    yield running
    stop_server(running)


@dataclass(frozen=True)
class HttpResponse:
    status: int
    media: str
    body: bytes


def send(
    server: Server, method: str, path: str, headers: dict[str, str], body: bytes | None
) -> HttpResponse:
    address = urllib.parse.urlsplit(server.url)
    assert address.hostname is not None
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=60)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        media = (response.getheader("Content-Type") or "").split(";")[0].strip()
        return HttpResponse(response.status, media, response.read())
    finally:
        connection.close()


def load_graph_data(server: Server, test: ProtocolTest) -> None:
    for label, file in test.graph_data:
        path = "/store?" + urllib.parse.urlencode({"graph": label})
        headers = {"Content-Type": "application/n-triples", "Authorization": f"Bearer {TOKEN}"}
        response = send(server, "PUT", path, headers, (SUITE / file.name).read_bytes())
        assert response.status in (201, 204), response.body.decode()


def boolean_of(response: HttpResponse) -> bool:
    if response.media == "application/sparql-results+json":
        value = json.loads(response.body)["boolean"]
        assert isinstance(value, bool)
        return value
    root = ET.fromstring(response.body)  # noqa: S314 - our own server's answer
    element = root.find(f"{{{RESULTS}}}boolean")
    assert element is not None and element.text in ("true", "false"), response.body
    return element.text == "true"


def check_format(response: HttpResponse, expected: str) -> None:
    if expected == "boolean":
        assert response.media in BOOLEAN_TYPES, response.media
        boolean_of(response)
    elif expected == "tabular":
        assert response.media in TABULAR_TYPES, response.media
        if response.media == "application/sparql-results+json":
            assert "vars" in json.loads(response.body)["head"]
        elif response.media == "application/sparql-results+xml":
            root = ET.fromstring(response.body)  # noqa: S314 - our own server's answer
            assert root.find(f"{{{RESULTS}}}results") is not None
        else:
            delimiter = "\t" if response.media == "text/tab-separated-values" else ","
            rows = list(csv.reader(io.StringIO(response.body.decode()), delimiter=delimiter))
            assert rows and rows[0], response.body
    elif expected == "RDF":
        assert response.media in RDF_TYPES, response.media
        Graph().parse(data=response.body, format=RDF_TYPES[response.media])
    else:
        raise AssertionError(f"unknown mf:expectedFormat {expected!r}")


def test_the_manifest_has_all_34_tests() -> None:
    assert len(TESTS) == 34
    assert len({t.name for t in TESTS}) == 34
    assert all(t.requests for t in TESTS)


@pytest.mark.parametrize("test", TESTS, ids=[t.name for t in TESTS])
def test_protocol(endpoint: Server, test: ProtocolTest) -> None:
    if test.name in SKIPS:
        pytest.skip(SKIPS[test.name])
    load_graph_data(endpoint, test)
    for number, request in enumerate(test.requests, start=1):
        headers = dict(request.headers)
        if request.is_update:
            headers["Authorization"] = f"Bearer {TOKEN}"
        response = send(endpoint, request.method, request.path, headers, request.body)
        if endpoint.remote is not None and REMOTE_REFUSES_USING in response.body:
            pytest.skip(
                "remote backend: the test's oxigraph serve runs with --union-default-graph "
                "(see tests/conftest.py), and then refuses USING in updates "
                f"({REMOTE_REFUSES_USING.decode()!r}), so using-graph-uri cannot be applied"
            )
        where = f"{test.title}, request {number}: {request.method} {request.path}"
        assert str(response.status)[0] in request.statuses, (
            f"{where}: status {response.status}, expected "
            f"{'/'.join(s + 'xx' for s in sorted(request.statuses))}\n{response.body.decode()}"
        )
        if request.result_format is not None:
            check_format(response, request.result_format)
        if request.boolean is not None:
            assert boolean_of(response) is request.boolean, f"{where}: {response.body!r}"
