"""RemoteBackend against a real ``oxigraph serve`` process on a loopback port."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import RDFS

from loaders.namespaces import DEFAULT_BASE_IRI
from loaders.reference import reference_sources
from service.errors import QuerySyntaxError, QueryTimeoutError, RemoteStoreError
from service.settings import Settings, SettingsError
from service.store.remote import RemoteBackend
from service.store.sources import load_reference
from service.store.worker_tasks import QueryAnswer
from tests.conftest import (
    OxigraphServer,
    Server,
    VirtuosoServer,
    free_port,
    start_oxigraph_server,
)

KG = "https://w3id.org/kommunegraf/ontology#"
COUNT = f"SELECT (COUNT(?m) AS ?n) WHERE {{ ?m a <{KG}Municipality> ; <{KG}county> ?c }}"
ONE_COUNTY = (
    f"CONSTRUCT {{ ?m <{KG}county> ?c }} WHERE {{ ?m <{KG}municipalityNumber> '4203' ; "
    f"<{KG}county> ?c }}"
)
RUNAWAY = "SELECT (COUNT(*) AS ?c) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
TEST_GRAPH = "http://127.0.0.1/graph/source/test"
JSON = "application/sparql-results+json"


def _backend(remote: OxigraphServer, **settings: object) -> RemoteBackend:
    values: dict[str, object] = {
        "store": None,
        "store_url": remote.query_url,
        "update_url": remote.update_url,
        **settings,
    }
    return RemoteBackend(Settings(**values))  # type: ignore[arg-type]


def _run(
    backend: RemoteBackend,
    query: str,
    solutions: str | None = JSON,
    graph: str | None = "text/turtle",
    **options: object,
) -> QueryAnswer:
    return asyncio.run(
        backend.execute(query, solutions_media=solutions, graph_media=graph, **options)  # type: ignore[arg-type]
    )


def _direct(remote: OxigraphServer | VirtuosoServer, query: str, accept: str) -> bytes:
    """What the remote server itself answers, for byte-for-byte comparison."""
    request = urllib.request.Request(
        remote.query_url,
        data=urllib.parse.urlencode({"query": query}).encode(),
        headers={"Accept": accept, "Content-Type": "application/x-www-form-urlencoded"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        body: bytes = response.read()
        return body


def _labels(backend: RemoteBackend, graph: str) -> list[str]:
    answer = _run(
        backend, f"SELECT ?l WHERE {{ GRAPH <{graph}> {{ ?s <{RDFS.label}> ?l }} }} ORDER BY ?l"
    )
    return [row["l"]["value"] for row in json.loads(answer.body)["results"]["bindings"]]


def _graph(label: str, count: int) -> Graph:
    graph = Graph()
    for i in range(count):
        graph.add((URIRef(f"http://127.0.0.1/id/x/{i}"), RDFS.label, Literal(f"{label} {i}")))
    return graph


@pytest.fixture(scope="module")
def remote(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OxigraphServer]:
    """An oxigraph serve with the reference data, loaded through the backend itself."""
    running = start_oxigraph_server(tmp_path_factory.mktemp("oxigraph"))
    backend = _backend(running)
    assert backend.is_empty()
    load_reference(backend, DEFAULT_BASE_IRI)
    assert not backend.is_empty()
    backend.close()
    yield running
    running.stop()


@pytest.fixture
def backend(remote: OxigraphServer) -> Iterator[RemoteBackend]:
    running = _backend(remote)
    asyncio.run(running.start())
    yield running
    running.close()


@pytest.mark.parametrize(
    "media",
    [
        "application/sparql-results+json",
        "application/json",
        "application/sparql-results+xml",
        "text/csv",
        "text/tab-separated-values",
    ],
)
def test_select_in_each_results_format_is_the_remote_bytes(
    remote: OxigraphServer, backend: RemoteBackend, media: str
) -> None:
    answer = _run(backend, COUNT, solutions=media)
    assert (answer.kind, answer.media) == ("solutions", media)
    assert b"357" in answer.body
    assert answer.body == _direct(remote, COUNT, media)


def test_ask_is_a_boolean(backend: RemoteBackend) -> None:
    answer = _run(backend, f"ASK {{ ?m a <{KG}Municipality> }}")
    assert answer.kind == "boolean"
    assert json.loads(answer.body)["boolean"] is True


@pytest.mark.parametrize(
    ("media", "rdf_format"),
    [
        ("text/turtle", "turtle"),
        ("application/n-triples", "nt"),
        ("application/ld+json", "json-ld"),
        ("application/rdf+xml", "xml"),
    ],
)
def test_construct_in_each_rdf_format_parses_back(
    remote: OxigraphServer, backend: RemoteBackend, media: str, rdf_format: str
) -> None:
    answer = _run(backend, ONE_COUNTY, graph=media)
    assert (answer.kind, answer.media) == ("graph", media)
    assert answer.body == _direct(remote, ONE_COUNTY, media)
    graph = Graph().parse(data=answer.body, format=rdf_format)
    assert len(graph) == 1
    assert str(next(iter(graph.objects()))).endswith("/id/fylke/42")


def test_a_kind_the_client_cannot_accept_gives_no_media(backend: RemoteBackend) -> None:
    assert _run(backend, COUNT, solutions=None).media is None
    assert _run(backend, ONE_COUNTY, graph=None).media is None


def test_a_syntax_error_carries_the_remote_servers_message(
    remote: OxigraphServer, backend: RemoteBackend
) -> None:
    with pytest.raises(QuerySyntaxError) as raised:
        _run(backend, "SELECT ?x WHERE { ?x ")
    request = urllib.request.Request(
        remote.query_url + "?" + urllib.parse.urlencode({"query": "SELECT ?x WHERE { ?x "})
    )
    try:
        urllib.request.urlopen(request, timeout=30)
    except urllib.error.HTTPError as error:
        expected = error.read().decode().strip()
    assert str(raised.value) == expected
    assert "1:" in str(raised.value)


def test_an_update_sent_as_a_query_is_refused_and_changes_nothing(
    backend: RemoteBackend,
) -> None:
    update = f"INSERT DATA {{ GRAPH <{TEST_GRAPH}-sneaky> {{ <http://a> <{RDFS.label}> 'x' }} }}"
    with pytest.raises(QuerySyntaxError):
        _run(backend, update)
    assert _labels(backend, TEST_GRAPH + "-sneaky") == []


def test_a_select_whose_prefix_iri_contains_an_update_keyword_is_a_select(
    backend: RemoteBackend,
) -> None:
    # SPARQLWrapper's own detection calls this an ADD update (it finds "add" in "address").
    query = f"PREFIX : <http://example.org/address#> PREFIX kg: <{KG}> " + COUNT
    answer = _run(backend, query)
    assert answer.kind == "solutions" and b"357" in answer.body


def test_default_and_named_graph_uri_reach_the_remote(backend: RemoteBackend) -> None:
    municipalities = next(
        s.graph_iri(DEFAULT_BASE_IRI)
        for s in reference_sources()
        if s.path.name == "municipalities.ttl"
    )
    only_los = next(
        s.graph_iri(DEFAULT_BASE_IRI) for s in reference_sources() if s.path.name == "los.rdf"
    )
    counted = _run(backend, COUNT, default_graphs=(municipalities,))
    assert b'"357"' in counted.body
    assert b'"0"' in _run(backend, COUNT, default_graphs=(only_los,)).body
    named = _run(
        backend, "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }", named_graphs=(only_los,)
    )
    graphs = [row["g"]["value"] for row in json.loads(named.body)["results"]["bindings"]]
    assert graphs == [only_los]


def test_replace_graph_leaves_only_the_new_triples_and_other_graphs_alone(
    backend: RemoteBackend,
) -> None:
    backend.replace_graph(TEST_GRAPH + "-other", _graph("annen", 2))
    backend.replace_graph(TEST_GRAPH, _graph("gammel", 3))
    backend.replace_graph(TEST_GRAPH, _graph("ny", 2))
    assert _labels(backend, TEST_GRAPH) == ["ny 0", "ny 1"]
    assert _labels(backend, TEST_GRAPH + "-other") == ["annen 0", "annen 1"]
    assert b"357" in _run(backend, COUNT).body


def test_tricky_literals_survive_replace_graph(backend: RemoteBackend) -> None:
    tricky = 'Ærlig "system" <script>alert(1)</script> \\ } ; DROP ALL'
    graph = Graph()
    graph.add((URIRef("http://127.0.0.1/id/x/tricky"), RDFS.label, Literal(tricky, lang="nb")))
    backend.replace_graph(TEST_GRAPH + "-tricky", graph)
    assert _labels(backend, TEST_GRAPH + "-tricky") == [tricky]
    assert b"357" in _run(backend, COUNT).body


def test_replace_graph_refuses_an_iri_that_would_break_out_of_the_update(
    backend: RemoteBackend,
) -> None:
    with pytest.raises(ValueError, match="invalid graph IRI"):
        backend.replace_graph("http://x> } } ; DROP ALL ; INSERT DATA { GRAPH <http://y", Graph())
    assert b"357" in _run(backend, COUNT).body


def test_readers_never_see_a_half_replaced_graph(backend: RemoteBackend) -> None:
    sizes = {"a": 800, "b": 1200}
    backend.replace_graph(TEST_GRAPH + "-atomic", _graph("a", sizes["a"]))
    count = f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{TEST_GRAPH}-atomic> {{ ?s ?p ?o }} }}"
    seen: list[int] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            answer = _run(backend, count)
            seen.append(int(json.loads(answer.body)["results"]["bindings"][0]["n"]["value"]))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for round_ in range(8):
            label = "b" if round_ % 2 == 0 else "a"
            backend.replace_graph(TEST_GRAPH + "-atomic", _graph(label, sizes[label]))
    finally:
        stop.set()
        reader.join(timeout=30)
    assert seen and set(seen) <= set(sizes.values()), sorted(set(seen))


def test_replace_graph_through_the_graph_store_protocol(remote: OxigraphServer) -> None:
    backend = _backend(remote, graph_store_url=remote.graph_store_url)
    try:
        backend.replace_graph(TEST_GRAPH + "-gsp", _graph("gammel", 3))
        backend.replace_graph(TEST_GRAPH + "-gsp", _graph("ny", 1))
        assert _labels(backend, TEST_GRAPH + "-gsp") == ["ny 0"]
        assert b"357" in _run(backend, COUNT).body
    finally:
        backend.close()


def test_update_is_applied_and_a_malformed_one_is_a_syntax_error(
    backend: RemoteBackend,
) -> None:
    graph = TEST_GRAPH + "-update"
    asyncio.run(
        backend.update(f"INSERT DATA {{ GRAPH <{graph}> {{ <http://a> <{RDFS.label}> 'én' }} }}")
    )
    assert _labels(backend, graph) == ["én"]
    asyncio.run(backend.update(f"DROP GRAPH <{graph}>"))
    assert _labels(backend, graph) == []
    with pytest.raises(QuerySyntaxError, match="1:"):
        asyncio.run(backend.update("INSERT DATA { <http://a> <http://b> "))


def test_deadline_bounds_the_client_wait_not_the_remote_cpu(tmp_path: Path) -> None:
    """The client gets QueryTimeoutError in time; the remote query may keep running.

    Stopping it is the remote server's own timeout (see docs/remote-store.md), so this
    test uses its own oxigraph serve and kills it afterwards.
    """
    runaway_server = start_oxigraph_server(tmp_path / "oxigraph")
    backend = _backend(runaway_server, query_timeout=1.0)
    try:
        load_reference(backend, DEFAULT_BASE_IRI)
        started = time.monotonic()
        with pytest.raises(QueryTimeoutError) as raised:
            _run(backend, RUNAWAY)
        elapsed = time.monotonic() - started
        assert raised.value.seconds == 1.0
        # The runaway alone would take hours: a wait this short is the deadline's, on
        # a busy machine too (2 s, the bound before, was not).
        assert elapsed < 30.0, elapsed
        # The backend still answers other queries meanwhile.
        assert _run(backend, "ASK { ?s ?p ?o }", timeout=5.0).kind == "boolean"
    finally:
        backend.close()
        runaway_server.stop()


def test_an_unreachable_remote_store_is_a_clear_error() -> None:
    nobody = f"http://127.0.0.1:{free_port()}/query"
    backend = RemoteBackend(Settings(store=None, store_url=nobody))
    try:
        with pytest.raises(RemoteStoreError, match="cannot be reached"):
            backend.is_empty()
        with pytest.raises(RemoteStoreError):
            _run(backend, COUNT)
    finally:
        backend.close()


def test_store_urls_must_be_http() -> None:
    with pytest.raises(SettingsError, match="KOMMUNEGRAF_UPDATE_URL"):
        RemoteBackend(
            Settings(store=None, store_url="http://127.0.0.1:1/q", update_url="file:///etc")
        )


class _Recorder(BaseHTTPRequestHandler):
    """A stand-in SPARQL server that only records what it was sent."""

    seen: list[tuple[str, str, str | None]] = []  # noqa: RUF012 - shared by design

    def _record(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.seen.append((self.command, self.path, self.headers.get("Authorization")))

    def do_POST(self) -> None:
        self._record()
        if self.path.startswith("/html"):
            self._send(200, "text/html", b"<html>proxy login</html>")
        elif self.path.startswith("/broken"):
            self._send(500, "text/plain", b"internal details")
        elif self.path.startswith("/query"):
            body = b'{"head":{},"boolean":true}'
            self.send_response(200)
            self.send_header("Content-Type", "application/sparql-results+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            self.send_response(204)
            self.end_headers()

    def _send(self, status: int, media: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", media)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_PUT(self) -> None:
        self._record()
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Keep test output quiet."""


@pytest.fixture
def recorder() -> Iterator[str]:
    _Recorder.seen = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_credentials_are_sent_as_basic_auth_on_every_request(recorder: str) -> None:
    settings = Settings(
        store=None,
        store_url=recorder + "/query",
        update_url=recorder + "/update",
        graph_store_url=recorder + "/store",
        store_user="kari",
        store_password="hemmelig-ø",  # noqa: S106 - a test credential
    )
    backend = RemoteBackend(settings)
    try:
        assert backend.is_empty() is False
        _run(backend, "ASK {}")
        asyncio.run(backend.update("CLEAR SILENT GRAPH <http://127.0.0.1/g>"))
        backend.replace_graph("http://127.0.0.1/g", _graph("x", 1))
    finally:
        backend.close()
    expected = "Basic " + base64.b64encode("kari:hemmelig-ø".encode()).decode()
    assert [(method, path.split("?")[0]) for method, path, _ in _Recorder.seen] == [
        ("POST", "/query"),  # ASK {}: the Server header tells the dialect
        ("POST", "/query"),
        ("POST", "/query"),
        ("POST", "/update"),
        ("PUT", "/store"),
    ]
    assert {auth for _, _, auth in _Recorder.seen} == {expected}
    assert "hemmelig" not in repr(settings)


@pytest.mark.parametrize("path", ["/html", "/broken"])
def test_a_failing_or_foreign_answer_is_a_remote_store_error_not_a_result(
    recorder: str, path: str
) -> None:
    backend = RemoteBackend(Settings(store=None, store_url=recorder + path))
    try:
        with pytest.raises(RemoteStoreError) as raised:
            _run(backend, COUNT)
    finally:
        backend.close()
    assert "internal details" not in str(raised.value)  # logged, not shown to clients


def test_start_warns_when_the_remote_store_hides_its_named_graphs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    plain = start_oxigraph_server(tmp_path / "oxigraph", union_default_graph=False)
    backend = _backend(plain)
    try:
        backend.replace_graph(TEST_GRAPH, _graph("x", 1))
        with caplog.at_level(logging.WARNING, logger="service.remote_store"):
            asyncio.run(backend.start())
        assert "union" in caplog.text
    finally:
        backend.close()
        plain.stop()


def test_the_remote_server_fixture_really_stores_in_oxigraph(server: Server) -> None:
    if server.remote is None:
        pytest.skip("embedded backend: no remote store to look into")
    body = _direct(server.remote, COUNT, JSON)
    assert json.loads(body)["results"]["bindings"][0]["n"]["value"] == "357"
