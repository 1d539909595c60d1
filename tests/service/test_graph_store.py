"""The Graph Store Protocol at /store, over real HTTP.

Reads run against the shared read-only ``server``; writes against a server of this
module's own, with a write token and a small body limit.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator

import pytest
from rdflib import Graph, URIRef
from rdflib.compare import isomorphic

from tests.conftest import BACKENDS, Server, start_server_on, stop_server
from tests.service.client import Answer, bearer, call

TOKEN = "graph-store-test-token-012345678"  # noqa: S105 - a token for a test server only
LIMIT = 64 * 1024
PARSERS = {
    "text/turtle": "turtle",
    "application/n-triples": "nt",
    "application/ld+json": "json-ld",
    "application/rdf+xml": "xml",
}
DATA = """
@prefix ex: <http://example.org/gsp/> .
ex:oslo ex:name "Oslo"@nb ; ex:number 301 ; ex:neighbour ex:baerum , [ ex:name "blank" ] .
"""


@pytest.fixture(scope="module", params=BACKENDS)
def writable(request: pytest.FixtureRequest) -> Iterator[Server]:
    running = start_server_on(
        request.param,
        env={"KOMMUNEGRAF_TOKEN": TOKEN, "KOMMUNEGRAF_MAX_BODY_BYTES": str(LIMIT)},
    )
    yield running
    stop_server(running)


def store(
    server: Server,
    method: str,
    graph: str | None,
    *,
    body: bytes | None = None,
    media: str | None = None,
    accept: str | None = None,
    token: str | None = TOKEN,
) -> Answer:
    headers = bearer(token) if token is not None else {}
    if media is not None:
        headers["Content-Type"] = media
    if accept is not None:
        headers["Accept"] = accept
    query = "default" if graph is None else urllib.parse.urlencode({"graph": graph})
    return call(server.url, method, f"/store?{query}", body=body, headers=headers)


def parsed(answer: Answer) -> Graph:
    assert answer.status == 200, answer.text
    return Graph().parse(data=answer.body, format=PARSERS[answer.media])


def reference_graph_name(server: Server) -> str:
    answer = call(
        server.url,
        "GET",
        "/sparql",
        params={"query": "SELECT ?g (COUNT(*) AS ?n) { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g"},
        headers={"Accept": "application/sparql-results+json"},
    )
    rows = json.loads(answer.body)["results"]["bindings"]
    biggest = max(rows, key=lambda row: int(row["n"]["value"]))
    name: str = biggest["g"]["value"]
    return name


def expected_graph() -> Graph:
    return Graph().parse(data=DATA, format="turtle")


# --- reading ---------------------------------------------------------------------------


@pytest.mark.parametrize("accept", list(PARSERS))
def test_get_a_graph_in_every_rdf_format(server: Server, accept: str) -> None:
    name = reference_graph_name(server)
    answer = store(server, "GET", name, accept=accept, token=None)
    assert answer.media == accept
    assert answer.headers["access-control-allow-origin"] == "*"
    graph = parsed(answer)
    count = call(
        server.url,
        "GET",
        "/sparql",
        params={"query": f"SELECT (COUNT(*) AS ?n) {{ GRAPH <{name}> {{ ?s ?p ?o }} }}"},
        headers={"Accept": "text/csv"},
    )
    assert len(graph) == int(count.text.split()[1]) > 0


def test_get_the_default_graph_is_the_union(server: Server) -> None:
    name = reference_graph_name(server)
    union = parsed(store(server, "GET", None, accept="application/n-triples", token=None))
    one = parsed(store(server, "GET", name, accept="application/n-triples", token=None))
    assert len(union) > len(one) > 0


def test_unknown_graph_is_404(server: Server) -> None:
    answer = store(server, "GET", "http://example.org/no-such-graph", token=None)
    assert answer.status == 404
    assert "finnes ikke" in answer.text and "No such graph" in answer.text
    assert store(server, "HEAD", "http://example.org/no-such-graph", token=None).status == 404


def test_head_says_whether_a_graph_exists_without_a_body(server: Server) -> None:
    answer = store(server, "HEAD", reference_graph_name(server), accept="text/turtle", token=None)
    assert answer.status == 200
    assert answer.media == "text/turtle"
    assert answer.body == b""


@pytest.mark.parametrize(
    "query", ["", "graph=a&graph=b", "graph=http%3A%2F%2Fx&default", "graph=not%20an%20iri"]
)
def test_the_graph_must_be_named_once_and_be_an_iri(server: Server, query: str) -> None:
    answer = call(server.url, "GET", f"/store?{query}")
    assert answer.status == 400
    assert "IRI" in answer.text


def test_unacceptable_accept_is_406(server: Server) -> None:
    assert store(server, "GET", None, accept="image/png", token=None).status == 406


def test_cross_origin_preflight_allows_reads_only(server: Server) -> None:
    answer = call(
        server.url,
        "OPTIONS",
        "/store?default",
        headers={
            "Origin": "https://elsewhere.example",
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert answer.headers["access-control-allow-origin"] == "*"
    methods = answer.headers["access-control-allow-methods"]
    assert "GET" in methods and not {"PUT", "POST", "DELETE"} & set(
        methods.replace(",", " ").split()
    )
    assert "authorization" not in answer.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-credentials" not in answer.headers


# --- writing ---------------------------------------------------------------------------


def test_put_creates_then_replaces_post_merges_delete_removes(writable: Server) -> None:
    name = "http://example.org/gsp/lifecycle"
    store(writable, "DELETE", name)
    created = store(writable, "PUT", name, body=DATA.encode(), media="text/turtle")
    assert created.status == 201, created.text
    assert isomorphic(parsed(store(writable, "GET", name, accept="text/turtle")), expected_graph())

    replacement = (
        b"<http://example.org/gsp/a> <http://example.org/gsp/b> <http://example.org/gsp/c> ."
    )
    replaced = store(writable, "PUT", name, body=replacement, media="application/n-triples")
    assert replaced.status == 204
    assert len(parsed(store(writable, "GET", name, accept="application/n-triples"))) == 1

    merged = store(writable, "POST", name, body=DATA.encode(), media="text/turtle")
    assert merged.status == 204
    assert len(parsed(store(writable, "GET", name, accept="application/n-triples"))) == 1 + len(
        expected_graph()
    )

    assert store(writable, "DELETE", name).status == 204
    assert store(writable, "GET", name).status == 404
    assert store(writable, "DELETE", name).status == 404


def test_post_to_a_new_graph_creates_it(writable: Server) -> None:
    name = "http://example.org/gsp/posted"
    store(writable, "DELETE", name)
    answer = store(writable, "POST", name, body=DATA.encode(), media="text/turtle")
    assert answer.status == 201
    assert isomorphic(parsed(store(writable, "GET", name, accept="text/turtle")), expected_graph())


@pytest.mark.parametrize("media", list(PARSERS))
def test_put_accepts_every_rdf_format(writable: Server, media: str) -> None:
    name = f"http://example.org/gsp/format/{PARSERS[media]}"
    body = expected_graph().serialize(format=PARSERS[media], encoding="utf-8")
    answer = store(writable, "PUT", name, body=body, media=media)
    assert answer.status in (201, 204), answer.text
    assert isomorphic(parsed(store(writable, "GET", name, accept=media)), expected_graph())


def test_relative_iris_in_the_body_resolve_against_the_graph(writable: Server) -> None:
    name = "http://example.org/gsp/relative/"
    body = b"<thing> <http://example.org/gsp/p> <other> ."
    assert store(writable, "PUT", name, body=body, media="text/turtle").status in (201, 204)
    graph = parsed(store(writable, "GET", name, accept="application/n-triples"))
    assert (URIRef(name + "thing"), None, URIRef(name + "other")) in graph


@pytest.mark.parametrize("media", [None, "text/plain", "application/sparql-update"])
def test_unknown_body_type_is_415(writable: Server, media: str | None) -> None:
    answer = store(writable, "PUT", "http://example.org/gsp/x", body=DATA.encode(), media=media)
    assert answer.status == 415
    assert "RDF" in answer.text


def test_bad_rdf_is_400_with_the_parsers_message(writable: Server) -> None:
    body = b"@prefix ex: <http://example.org/> .\nex:a ex:b .\n"
    answer = store(writable, "PUT", "http://example.org/gsp/bad", body=body, media="text/turtle")
    assert answer.status == 400
    assert "kunne ikke leses som RDF" in answer.text and "could not be read as RDF" in answer.text
    assert "line 2" in answer.text or "2:" in answer.text


def test_json_ld_cannot_fetch_a_remote_context(writable: Server) -> None:
    body = json.dumps({"@context": "http://169.254.169.254/context.jsonld", "@id": "x"}).encode()
    answer = store(
        writable, "PUT", "http://example.org/gsp/ld", body=body, media="application/ld+json"
    )
    assert answer.status == 400
    assert "kontekst" in answer.text.lower() and "context" in answer.text


BREAK_OUT = (
    "http://example.org/a> <http://example.org/p> <http://example.org/o> } } ; "
    "DROP ALL ; INSERT DATA { GRAPH <http://example.org/g> { <http://example.org/a"
)


def _escaped(text: str) -> str:
    return "".join(c if c.isalnum() or c in ":/." else f"\\u{ord(c):04X}" for c in text)


@pytest.mark.parametrize(
    ("media", "body"),
    [
        ("text/turtle", f"<{_escaped(BREAK_OUT)}> <http://example.org/p> 1 ."),
        ("application/n-triples", f'<{_escaped(BREAK_OUT)}> <http://example.org/p> "1" .'),
        (
            "application/rdf+xml",
            '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
            'xmlns:ex="http://example.org/"><rdf:Description rdf:about="'
            + BREAK_OUT.replace("<", "&lt;").replace(">", "&gt;")
            + '"><ex:p>v</ex:p></rdf:Description></rdf:RDF>',
        ),
    ],
    ids=["turtle-escapes", "n-triples-escapes", "rdf-xml"],
)
def test_an_iri_that_would_break_out_of_sparql_is_400(
    writable: Server, media: str, body: str
) -> None:
    keep = "http://example.org/gsp/keep"
    store(writable, "PUT", keep, body=DATA.encode(), media="text/turtle")
    for method in ("PUT", "POST"):
        answer = store(
            writable, method, "http://example.org/gsp/evil", body=body.encode(), media=media
        )
        assert answer.status == 400, answer.text
        assert "invalid IRI" in answer.text
    assert store(writable, "GET", keep).status == 200


def test_a_blank_node_label_cannot_break_out_into_sparql(writable: Server) -> None:
    # rdflib keeps JSON-LD blank node labels as given and writes them after "_:"
    # unchecked; the graph store gives every blank node a fresh label.
    keep = "http://example.org/gsp/keep"
    store(writable, "PUT", keep, body=DATA.encode(), media="text/turtle")
    label = "_:a <http://p> <http://o> } } ; DROP ALL ; INSERT DATA { GRAPH <http://g> { _:b"
    body = json.dumps({"@id": label, "http://example.org/p": "v"}).encode()
    name = "http://example.org/gsp/blank"
    for method in ("PUT", "POST"):
        answer = store(writable, method, name, body=body, media="application/ld+json")
        assert answer.status in (201, 204), answer.text
    assert store(writable, "GET", keep).status == 200
    assert len(parsed(store(writable, "GET", name, accept="application/n-triples"))) == 2


def test_default_graph_writes_replace_merge_and_empty_its_own_content(writable: Server) -> None:
    """PUT, POST and DELETE on ?default act on the default graph's own content (the
    graph <base>graph/default, part of the union), as the protocol says; the named
    graphs in the union are left alone."""
    own = writable.url + "/graph/default"
    other = "http://example.org/gsp/beside-default"
    store(writable, "PUT", other, body=DATA.encode(), media="text/turtle")
    first = b'<http://example.org/gsp/d> <http://example.org/gsp/p> "first" .'
    second = b'<http://example.org/gsp/d> <http://example.org/gsp/p> "second" .'
    assert store(writable, "PUT", None, body=first, media="application/n-triples").status in (
        201,
        204,
    )
    assert store(writable, "PUT", None, body=second, media="application/n-triples").status == 204
    assert isomorphic(
        parsed(store(writable, "GET", own, accept="application/n-triples")),
        Graph().parse(data=second, format="nt"),
    )
    union = parsed(store(writable, "GET", None, accept="application/n-triples"))
    assert (URIRef("http://example.org/gsp/d"), None, None) in union
    assert (URIRef("http://example.org/gsp/oslo"), None, None) in union
    assert store(writable, "POST", None, body=first, media="application/n-triples").status == 204
    assert len(parsed(store(writable, "GET", own, accept="application/n-triples"))) == 2
    assert store(writable, "HEAD", None).status == 200
    assert store(writable, "DELETE", None).status == 204
    assert store(writable, "GET", own).status == 404
    assert store(writable, "DELETE", None).status == 204  # the default graph is always there
    assert isomorphic(parsed(store(writable, "GET", other, accept="text/turtle")), expected_graph())


def test_post_to_the_store_itself_makes_a_new_graph(writable: Server) -> None:
    body = b'<http://example.org/gsp/new> <http://example.org/gsp/p> "ny" .'
    headers = {**bearer(TOKEN), "Content-Type": "application/n-triples"}
    answer = call(writable.url, "POST", "/store", body=body, headers=headers)
    assert answer.status == 201, answer.text
    location = answer.headers["location"]
    assert location.startswith(writable.url + "/graph/store/")
    got = parsed(store(writable, "GET", location, accept="application/n-triples"))
    assert isomorphic(got, Graph().parse(data=body, format="nt"))
    again = call(writable.url, "POST", "/store", body=body, headers=headers)
    assert again.headers["location"] != location


def test_a_multipart_post_merges_every_part(writable: Server) -> None:
    name = "http://example.org/gsp/multipart"
    boundary = "kommunegraf-boundary-7"
    parts = [
        ("Content-Type: text/turtle", DATA.encode()),
        (
            'Content-Disposition: form-data; name="file"; filename="more.nt"\r\n'
            "Content-Type: application/octet-stream",
            b'<http://example.org/gsp/more> <http://example.org/gsp/p> "fra fil" .\n',
        ),
    ]
    body = (
        b"".join(
            f"--{boundary}\r\n".encode()
            + (
                f'Content-Disposition: form-data; name="part{i}"\r\n'
                if "Disposition" not in h
                else ""
            ).encode()
            + h.encode()
            + b"\r\n\r\n"
            + payload
            + b"\r\n"
            for i, (h, payload) in enumerate(parts)
        )
        + f"--{boundary}--\r\n".encode()
    )
    media = f"multipart/form-data; boundary={boundary}"
    answer = store(writable, "POST", name, body=body, media=media)
    assert answer.status == 201, answer.text
    got = parsed(store(writable, "GET", name, accept="application/n-triples"))
    assert len(got) == len(expected_graph()) + 1
    bad = body.replace(b"text/turtle", b"text/html")
    refused = store(writable, "POST", name, body=bad, media=media)
    assert refused.status == 415 and "part 1" in refused.text


def test_a_body_over_the_limit_is_413(writable: Server) -> None:
    body = b"# padding\n" * (LIMIT // 10 + 1)
    answer = store(writable, "PUT", "http://example.org/gsp/big", body=body, media="text/turtle")
    assert answer.status == 413


@pytest.mark.parametrize("method", ["PUT", "POST", "DELETE"])
def test_writes_need_the_token(writable: Server, method: str) -> None:
    name = "http://example.org/gsp/guarded"
    store(writable, "PUT", name, body=DATA.encode(), media="text/turtle")
    body = b"<http://example.org/gsp/x> <http://example.org/gsp/y> 1 ."
    missing = store(writable, method, name, body=body, media="application/n-triples", token=None)
    assert missing.status == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    wrong_token = "nope"  # noqa: S105
    wrong = store(
        writable, method, name, body=body, media="application/n-triples", token=wrong_token
    )
    assert wrong.status == 403
    assert isomorphic(parsed(store(writable, "GET", name, accept="text/turtle")), expected_graph())


@pytest.mark.parametrize("method", ["PUT", "POST", "DELETE"])
def test_a_read_only_service_refuses_writes(server: Server, method: str) -> None:
    name = reference_graph_name(server)
    body = b"<http://example.org/gsp/x> <http://example.org/gsp/y> 1 ."
    answer = store(server, method, name, body=body, media="application/n-triples")
    assert answer.status == 403
    assert "skrivebeskyttet" in answer.text and "read-only" in answer.text
    assert store(server, "GET", name, token=None).status == 200
