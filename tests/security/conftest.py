"""One guarded server for the security tests: a write token, the default limits.

Embedded backend only: what these tests attack (authentication, body limits, the
parsers in front of the store, the pages) is the same code on both backends, and
``tests/service`` already runs the protocol on both.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import urllib.parse
from collections.abc import Iterator

import pytest

from tests.canary import Canary, listening
from tests.conftest import Server, start_server, stop_server
from tests.service.access import Access, start_access_server
from tests.service.client import call

TOKEN = "security-test-token-0123456789ab"  # noqa: S105 - a token for a test server only


ENTITY_BOMB = (
    '<?xml version="1.0"?>\n<!DOCTYPE rdf:RDF [\n<!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">\n'
    + "".join(
        f'<!ENTITY {name} "{("&" + previous + ";") * 10}">\n'
        for previous, name in zip("abcdefgh", "bcdefghi", strict=True)
    )
    + ']>\n<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
    'xmlns:ex="http://example.org/">\n'
    '<rdf:Description rdf:about="http://example.org/s"><ex:p>&i;</ex:p></rdf:Description>\n'
    "</rdf:RDF>\n"
).encode()
"""Under 1 KB; expands to 32 x 10^8 characters."""


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


def stream_body(
    server: Server,
    method: str,
    target: str,
    headers: dict[str, str],
    size: int,
    chunked: bool,
    prefix: bytes = b"",
) -> tuple[int, bytes, int]:
    """Send ``prefix`` and ``size`` bytes of body while reading the answer, which may
    come early; returns the status, the answer's body, and how many of the ``size``
    bytes had been sent when the answer began.

    The body is sent from a thread, so a server that answers (413, 403) before it has
    read everything is heard; the sender stops at the first error (the server
    closing the connection is the expected end).
    """
    address = urllib.parse.urlsplit(server.url)
    assert address.hostname is not None and address.port is not None
    length = {"Content-Length": str(len(prefix) + size)}
    framing = {"Transfer-Encoding": "chunked"} if chunked else length
    head = f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n" + "".join(
        f"{key}: {value}\r\n" for key, value in {**headers, **framing}.items()
    )
    piece = b"#" * (256 * 1024)
    sent = 0

    def frame(data: bytes) -> bytes:
        return b"%x\r\n%s\r\n" % (len(data), data) if chunked else data

    with socket.create_connection((address.hostname, address.port), timeout=120) as sock:
        sock.sendall(head.encode() + b"\r\n" + (frame(prefix) if prefix else b""))

        def send() -> None:
            nonlocal sent
            try:
                while sent < size:
                    data = piece[: size - sent]
                    sock.sendall(frame(data))
                    sent += len(data)
                if chunked:
                    sock.sendall(b"0\r\n\r\n")
            except OSError:
                pass

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        response = http.client.HTTPResponse(sock)
        response.begin()
        answered_at = sent
        body = response.read()
        return response.status, body, answered_at


@pytest.fixture(scope="module")
def canary() -> Iterator[Canary]:
    """A loopback listener that records every request (tests/canary.py), per test module."""
    with listening() as running:
        yield running


@pytest.fixture(scope="module")
def access(tmp_path_factory: pytest.TempPathFactory, canary: Canary) -> Iterator[Access]:
    """A server with admin and municipality tokens, SERVICE allowed under the canary's
    ``/allowed/`` only; one per test module, so each starts from an empty store."""
    folder = tmp_path_factory.mktemp("sparql-access")
    running = start_access_server(
        "embedded", folder, {"KOMMUNEGRAF_SERVICE_ALLOW": f"{canary.url}/allowed/"}
    )
    yield running
    stop_server(running.server)
