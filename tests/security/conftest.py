"""One guarded server for the security tests: a write token, the default limits.

Embedded backend only: what these tests attack (authentication, body limits, the
parsers in front of the store, the pages) is the same code on both backends, and
``tests/service`` already runs the protocol on both.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.conftest import Server, start_server, stop_server
from tests.service.client import call

TOKEN = "security-test-token-0123456789ab"  # noqa: S105 - a token for a test server only


@pytest.fixture(scope="session")
def guarded() -> Iterator[Server]:
    running = start_server(":memory:", env={"KOMMUNEGRAF_TOKEN": TOKEN})
    yield running
    stop_server(running)


def quad_count(server: Server) -> int:
    """How many quads the store holds: what a refused write must leave unchanged."""
    answer = call(
        server.url,
        "GET",
        "/sparql",
        params={"query": "SELECT (COUNT(*) AS ?n) { GRAPH ?g { ?s ?p ?o } }"},
        headers={"Accept": "application/sparql-results+json"},
    )
    assert answer.status == 200, answer.text
    return int(json.loads(answer.body)["results"]["bindings"][0]["n"]["value"])


def alive(server: Server) -> bool:
    """Whether the server still answers a query (after an attack)."""
    answer = call(server.url, "GET", "/sparql", params={"query": "ASK {}"}, timeout=30)
    return answer.status == 200
