"""SPARQL Update through /sparql, write protection, body limits and SERVICE/LOAD safety.

Runs against a server of its own with a write token, a small body limit and a
SERVICE allow-list. The allow-list points at a "canary" HTTP server in this test
process, which records every request it gets: a refused SERVICE or LOAD must not
reach it at all, an allowed one must.
"""

from __future__ import annotations

import http.client
import json
import socket
import time
import urllib.parse
from collections.abc import Iterator

import pytest

from tests.canary import Canary, listening
from tests.conftest import BACKENDS, Server, start_server_on, stop_server
from tests.service.client import Answer, ask, bearer, call, select

TOKEN = "update-test-token-0123456789abcd"  # noqa: S105 - a token for a test server only
LIMIT = 8192
G1 = "http://example.org/update-test/g1"
G2 = "http://example.org/update-test/g2"
OUT = "http://example.org/update-test/out"
REMOTE_REFUSES_USING = b"using-union-graph must not be used with a SPARQL UPDATE containing USING"


@pytest.fixture(scope="module")
def canary() -> Iterator[Canary]:
    with listening() as running:
        yield running


@pytest.fixture(scope="module", params=BACKENDS)
def writable(request: pytest.FixtureRequest, canary: Canary) -> Iterator[Server]:
    running = start_server_on(
        request.param,
        env={
            "KOMMUNEGRAF_TOKEN": TOKEN,
            "KOMMUNEGRAF_MAX_BODY_BYTES": str(LIMIT),
            "KOMMUNEGRAF_SERVICE_ALLOW": f"{canary.url}/allowed/",
        },
    )
    yield running
    stop_server(running)


def update(
    server: Server,
    text: str,
    *,
    form: bool = False,
    token: str | None = TOKEN,
    params: dict[str, str] | None = None,
) -> Answer:
    headers = bearer(token) if token is not None else {}
    if form:
        body = urllib.parse.urlencode({"update": text, **(params or {})}).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        return call(server.url, "POST", "/sparql", body=body, headers=headers)
    headers["Content-Type"] = "application/sparql-update"
    return call(server.url, "POST", "/sparql", body=text.encode(), headers=headers, params=params)


def test_update_direct_and_by_form_with_the_token(writable: Server) -> None:
    triple = f"GRAPH <{G1}> {{ <http://example.org/a> <http://example.org/p> 'x' }}"
    answer = update(writable, f"INSERT DATA {{ {triple} }}")
    assert answer.status == 200, answer.text
    assert "utført" in answer.text and "done" in answer.text
    assert ask(writable, f"ASK {{ {triple} }}")
    assert update(writable, f"DELETE DATA {{ {triple} }}", form=True).status == 200
    assert not ask(writable, f"ASK {{ {triple} }}")


def test_using_graph_uri_and_using_named_graph_uri_set_the_update_dataset(
    writable: Server,
) -> None:
    assert (
        update(
            writable,
            f"DROP SILENT GRAPH <{OUT}> ; INSERT DATA {{ "
            f"GRAPH <{G1}> {{ <http://example.org/one> a <http://example.org/T> }} "
            f"GRAPH <{G2}> {{ <http://example.org/two> a <http://example.org/T> }} }}",
        ).status
        == 200
    )
    copy = f"INSERT {{ GRAPH <{OUT}> {{ ?s a <http://example.org/Copied> }} }} WHERE {{ ?s a ?t }}"
    answer = update(writable, copy, params={"using-graph-uri": G1})
    if writable.remote is not None and REMOTE_REFUSES_USING in answer.body:
        pytest.skip(
            "remote backend: oxigraph serve --union-default-graph (tests/conftest.py) "
            "refuses USING in updates"
        )
    assert answer.status == 200, answer.text
    assert ask(writable, f"ASK {{ GRAPH <{OUT}> {{ <http://example.org/one> a ?c }} }}")
    assert not ask(writable, f"ASK {{ GRAPH <{OUT}> {{ <http://example.org/two> a ?c }} }}")
    # The form carries them too; DELETE WHERE gets them through its long form.
    delete = "DELETE WHERE { GRAPH ?g { ?s a <http://example.org/T> } }"
    assert update(writable, delete, form=True, params={"using-named-graph-uri": G2}).status == 200
    assert ask(writable, f"ASK {{ GRAPH <{G1}> {{ <http://example.org/one> a ?t }} }}")
    assert not ask(writable, f"ASK {{ GRAPH <{G2}> {{ <http://example.org/two> a ?t }} }}")


def test_using_graph_uri_with_using_in_the_update_is_400(writable: Server) -> None:
    text = f"INSERT {{ GRAPH <{OUT}> {{ ?s ?p ?o }} }} USING <{G1}> WHERE {{ ?s ?p ?o }}"
    answer = update(writable, text, params={"using-graph-uri": G2})
    assert answer.status == 400
    assert "USING" in answer.text


def test_graph_iri_parameters_must_be_iris(writable: Server) -> None:
    answer = update(writable, "CLEAR DEFAULT", params={"using-graph-uri": "not an iri>"})
    assert answer.status == 400


def test_malformed_update_is_400_with_the_parser_position(writable: Server) -> None:
    answer = update(writable, "INSERT DATA { <http://a> <http://b> }")
    assert answer.status == 400
    assert "Ugyldig SPARQL-oppdatering" in answer.text and "Malformed SPARQL update" in answer.text
    assert "1:" in answer.text


def test_failing_update_is_refused(writable: Server) -> None:
    answer = update(writable, "DROP GRAPH <http://example.org/never-there>")
    if writable.remote is None:
        assert answer.status == 400
        assert "kunne ikke utføres" in answer.text and "failed" in answer.text
    else:
        # oxigraph serve answers an evaluation error with 500, which the remote
        # backend cannot tell from a broken store: 503.
        assert answer.status in (400, 503)


@pytest.mark.parametrize("form", [False, True], ids=["direct", "form"])
def test_update_without_a_token_is_401_with_a_bearer_challenge(
    writable: Server, form: bool
) -> None:
    triple = f"GRAPH <{G1}> {{ <http://example.org/intruder> <http://example.org/p> 1 }}"
    answer = update(writable, f"INSERT DATA {{ {triple} }}", form=form, token=None)
    assert answer.status == 401
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert "Bearer" in answer.text and "nøkkel" in answer.text and "token" in answer.text
    assert "access-control-allow-origin" not in answer.headers
    assert not ask(writable, f"ASK {{ {triple} }}")


@pytest.mark.parametrize("form", [False, True], ids=["direct", "form"])
def test_update_with_a_wrong_token_is_403(writable: Server, form: bool) -> None:
    triple = f"GRAPH <{G1}> {{ <http://example.org/intruder> <http://example.org/p> 2 }}"
    for token in ("wrong", TOKEN + "x", TOKEN[:-1], TOKEN.upper()):
        answer = update(writable, f"INSERT DATA {{ {triple} }}", form=form, token=token)
        assert answer.status == 403
        assert "skrivetilgang" in answer.text and "write access" in answer.text
    assert not ask(writable, f"ASK {{ {triple} }}")


def test_update_by_get_is_400(writable: Server) -> None:
    answer = call(writable.url, "GET", "/sparql", params={"update": "CLEAR ALL"})
    assert answer.status == 400
    assert "POST" in answer.text


def test_the_read_only_service_says_so(server: Server) -> None:
    for form in (False, True):
        answer = update(server, "CLEAR ALL", form=form)
        assert answer.status == 403
        assert "skrivebeskyttet" in answer.text and "read-only" in answer.text
    assert ask(server, "ASK { ?s ?p ?o }")


def test_service_description_announces_updates_when_writable(writable: Server) -> None:
    answer = call(writable.url, "GET", "/sparql", headers={"Accept": "application/n-triples"})
    assert answer.status == 200
    assert "<http://www.w3.org/ns/sparql-service-description#SPARQL11Update>" in answer.text


# --- request body limit ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/sparql-query", b"ASK {}" + b" " * LIMIT),
        ("application/sparql-update", b"CLEAR SILENT GRAPH <http://x/>" + b" " * LIMIT),
        ("application/x-www-form-urlencoded", b"query=ASK+%7B%7D" + b"+" * LIMIT),
    ],
    ids=["query", "update", "form"],
)
def test_a_body_over_the_limit_is_413(writable: Server, content_type: str, body: bytes) -> None:
    headers = {"Content-Type": content_type, **bearer(TOKEN)}
    answer = call(writable.url, "POST", "/sparql", body=body, headers=headers)
    assert answer.status == 413
    assert "for stor" in answer.text and "too large" in answer.text


def test_a_body_at_the_limit_is_accepted(writable: Server) -> None:
    body = b"ASK {}" + b" " * (LIMIT - 6)
    answer = call(
        writable.url,
        "POST",
        "/sparql",
        body=body,
        headers={"Content-Type": "application/sparql-query"},
    )
    assert answer.status == 200


def _raw_post(server: Server, headers: dict[str, str], parts: list[bytes]) -> tuple[int, bytes]:
    """Send headers and body parts, then read the answer (without finishing the body)."""
    address = urllib.parse.urlsplit(server.url)
    assert address.hostname is not None and address.port is not None
    with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
        head = "POST /sparql HTTP/1.1\r\nHost: test\r\n" + "".join(
            f"{key}: {value}\r\n" for key, value in headers.items()
        )
        sock.sendall(head.encode() + b"\r\n")
        for part in parts:
            sock.sendall(part)
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, response.read()


def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_sent(
    writable: Server,
) -> None:
    started = time.monotonic()
    status, _ = _raw_post(
        writable,
        {"Content-Type": "application/sparql-query", "Content-Length": str(10**9)},
        [b"ASK {"],
    )
    assert status == 413
    assert time.monotonic() - started < 5


def test_a_chunked_body_is_counted_while_it_streams_in(writable: Server) -> None:
    # More than the limit, in 1 KiB chunks, and the body never finished: the answer
    # can only come if the server stops reading at the limit.
    chunk = b"#" * 1024
    parts = [b"%x\r\n%s\r\n" % (len(chunk), chunk)] * (LIMIT // 1024 + 2)
    status, body = _raw_post(
        writable,
        {"Content-Type": "application/sparql-query", "Transfer-Encoding": "chunked"},
        parts,
    )
    assert status == 413
    assert b"too large" in body


# --- SERVICE and LOAD -----------------------------------------------------------------


def _refused_queries(canary: Canary) -> dict[str, str]:
    secret = f"{canary.url}/secret/sparql"
    return {
        "upper": f"SELECT * {{ SERVICE <{secret}> {{ ?s ?p ?o }} }}",
        "lower": f"select * {{ service <{secret}> {{ ?s ?p ?o }} }}",
        "silent": f"SELECT * {{ SERVICE SILENT <{secret}> {{ ?s ?p ?o }} }}",
        "variable": f"SELECT * {{ VALUES ?where {{ <{secret}> }} SERVICE ?where {{ ?s ?p ?o }} }}",
        "prefixed": (
            f"PREFIX c: <{canary.url}/secret/> SELECT * {{ SERVICE c:sparql {{ ?s ?p ?o }} }}"
        ),
        "relative": f"BASE <{canary.url}/secret/> SELECT * {{ SERVICE <sparql> {{ ?s ?p ?o }} }}",
        "glued": f"SELECT * {{ SERVICESILENT<{secret}>{{ ?s ?p ?o }} }}",
        "escaped": f"SELECT * {{ \\u0053ERVICE <{secret}> {{ ?s ?p ?o }} }}",
        "after-comment-trick": (
            f"SELECT * {{ ?s ?p ?o FILTER(?o<?s)SERVICE#>\n<{secret}> {{ ?s ?p ?o }} }}"
        ),
        "look-alike-host": (f"SELECT * {{ SERVICE <{canary.url}/allowed.evil/x> {{ ?s ?p ?o }} }}"),
        "in-a-subquery": (f"SELECT * {{ {{ SELECT * {{ SERVICE <{secret}> {{ ?s ?p ?o }} }} }} }}"),
    }


@pytest.mark.parametrize(
    "variant",
    [
        "upper",
        "lower",
        "silent",
        "variable",
        "prefixed",
        "relative",
        "glued",
        "escaped",
        "after-comment-trick",
        "look-alike-host",
        "in-a-subquery",
    ],
)
def test_service_to_a_host_not_allowed_is_refused(
    writable: Server, canary: Canary, variant: str
) -> None:
    query = _refused_queries(canary)[variant]
    before = len(canary.paths)
    answer = select(writable, query)
    assert answer.status in (400, 403), answer.text
    expected = "SERVICE" if answer.status == 403 else "Malformed SPARQL"
    assert expected in answer.text and ("tillatt" in answer.text or "Ugyldig" in answer.text)
    time.sleep(0.1)
    assert canary.paths[before:] == []


@pytest.mark.parametrize(
    "query",
    [
        'SELECT ?x { BIND("SERVICE <http://169.254.169.254/> { ?s ?p ?o }" AS ?x) }',
        "SELECT ?x { BIND('''service silent <http://169.254.169.254/>''' AS ?x) }",
        "# SERVICE <http://169.254.169.254/> { }\nSELECT * { ?s a <http://example.org/service> }",
        "PREFIX kg: <https://w3id.org/kommunegraf/ontology#> "
        "SELECT * { ?s a kg:StatutoryService } LIMIT 1",
        "PREFIX sd: <http://www.w3.org/ns/sparql-service-description#> "
        "SELECT * { ?s a sd:Service ; ?service ?o }",
    ],
    ids=["in-a-string", "in-a-long-string", "in-a-comment-and-an-iri", "in-a-name", "in-vars"],
)
def test_the_word_service_elsewhere_is_allowed(writable: Server, query: str) -> None:
    answer = select(writable, query)
    assert answer.status == 200, answer.text


def test_service_to_an_allowed_prefix_runs(writable: Server, canary: Canary) -> None:
    before = len(canary.paths)
    query = f"SELECT ?x {{ SERVICE <{canary.url}/allowed/sparql> {{ ?x ?p ?o }} }}"
    answer = select(writable, query)
    assert answer.status == 200, answer.text
    values = [b["x"]["value"] for b in json.loads(answer.body)["results"]["bindings"]]
    assert values == ["canary"]
    assert canary.paths[before:] == ["/allowed/sparql"]


@pytest.mark.parametrize(
    "text",
    [
        "LOAD <{secret}/data.nt>",
        "load silent <{secret}/data.nt> INTO GRAPH <http://example.org/loaded>",
        "INSERT {{ GRAPH <http://example.org/o> {{ ?s ?p ?o }} }} "
        "WHERE {{ SERVICE <{secret}/sparql> {{ ?s ?p ?o }} }}",
    ],
    ids=["load", "load-silent", "service-in-update"],
)
def test_updates_cannot_reach_other_hosts_either(
    writable: Server, canary: Canary, text: str
) -> None:
    before = len(canary.paths)
    answer = update(writable, text.format(secret=f"{canary.url}/secret"))
    assert answer.status == 403, answer.text
    time.sleep(0.1)
    assert canary.paths[before:] == []


def test_service_is_refused_without_an_allow_list(server: Server) -> None:
    answer = select(server, "SELECT * { SERVICE <http://169.254.169.254/latest/> { ?s ?p ?o } }")
    assert answer.status == 403
    assert "SERVICE" in answer.text and "(ingen / none)" in answer.text


# --- The answer cache (service.store.answers) -------------------------------------------


def test_regression_answer_cache_sees_every_write_at_once(writable: Server, canary: Canary) -> None:
    """On the embedded store the same text on the same snapshot is answered from memory
    (``Cache-Status``); a write publishes a new snapshot, so the very next answer is
    computed again and shows it; ``Cache-Control: no-cache`` asks for a computed one; a
    refusal is met again every time. A remote store, which others may write to, has no
    cache: every answer is computed, and no ``Cache-Status`` is sent."""
    graph = "http://example.org/update-test/cached"
    query = f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}"

    def count(headers: dict[str, str] | None = None) -> tuple[str, str | None]:
        answer = select(writable, query, headers)
        assert answer.status == 200, answer.body
        rows = json.loads(answer.body)["results"]["bindings"]
        return rows[0]["n"]["value"], answer.headers.get("cache-status")

    first, second = count(), count()
    inserted = update(writable, f"INSERT DATA {{ GRAPH <{graph}> {{ <urn:a> <urn:b> <urn:c> }} }}")
    assert inserted.status == 200
    after_write, again = count(), count()
    forced = count({"Cache-Control": "no-cache"})
    refused = [select(writable, _refused_queries(canary)["upper"]) for _ in range(2)]
    assert [answer.status for answer in refused] == [403, 403]
    assert all("cache-status" not in answer.headers for answer in refused)
    if writable.remote is not None:
        assert [first, second, after_write, again, forced] == [("0", None)] * 2 + [("1", None)] * 3
        return
    assert [first, second] == [("0", "kommunegraf; fwd=miss; stored"), ("0", "kommunegraf; hit")]
    assert after_write == ("1", "kommunegraf; fwd=miss; stored")
    assert again == ("1", "kommunegraf; hit")
    assert forced == ("1", "kommunegraf; fwd=request; stored")
