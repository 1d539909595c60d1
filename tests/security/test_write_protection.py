"""Every route that writes: 401 without a token, 403 with a wrong one, nothing written.

The routes are read from the service's own OpenAPI document, so a new route that
writes cannot arrive without a test here: every operation that is not a GET or
HEAD must be listed in ``WRITES`` (``test_every_write_route_is_listed`` fails
otherwise). Routes kept out of the document (the upload page's form) are listed
by hand.
"""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass

import pytest

from tests.conftest import REPOSITORY, Server
from tests.security.conftest import TOKEN, quad_count
from tests.service.client import Answer, call

NT = b"<http://example.org/sec/s> <http://example.org/sec/p> <http://example.org/sec/o> .\n"
GRAPH = "http://example.org/sec/graph"


@dataclass(frozen=True)
class Write:
    method: str
    path: str
    """As in the OpenAPI document."""
    target: str
    """What is requested: the path with its parameters filled in."""
    body: bytes
    content_type: str


WRITES = [
    Write(
        "POST",
        "/sparql",
        "/sparql",
        f"INSERT DATA {{ GRAPH <{GRAPH}> {{ <urn:a> <urn:b> <urn:c> }} }}".encode(),
        "application/sparql-update",
    ),
    Write(
        "POST",
        "/sparql",
        "/sparql",
        urllib.parse.urlencode(
            {"update": f"INSERT DATA {{ GRAPH <{GRAPH}> {{ <urn:a> <urn:b> <urn:c> }} }}"}
        ).encode(),
        "application/x-www-form-urlencoded",
    ),
    Write("PUT", "/store", f"/store?graph={GRAPH}", NT, "application/n-triples"),
    Write("POST", "/store", f"/store?graph={GRAPH}", NT, "application/n-triples"),
    Write(
        "DELETE",
        "/store",
        "/store?graph=" + urllib.parse.quote("http://127.0.0.1/graph/reference/municipalities"),
        b"",
        "text/plain",
    ),
    Write(
        "POST", "/upload", "/upload?name=kommune.csv", b"Kommune;System\n4203;Acos\n", "text/csv"
    ),
    Write("POST", "/proposals/{identifier}/{decision}", "/proposals/abc123/approve", b"", ""),
]
IDS = [f"{w.method} {w.target.split('?')[0]} ({w.content_type or 'no body'})" for w in WRITES]

ARCHIMATE = (REPOSITORY.parent / "shared/reference/archimate/Sample1.xml").read_bytes()
CONVERSIONS = [
    Write("POST", "/archimate/arbeidsbok", "/archimate/arbeidsbok", ARCHIMATE, "application/xml"),
]
"""POSTs that only turn a body into another document and write nothing: open to all,
and proven to write nothing by ``test_a_conversion_writes_nothing``."""


def _send(server: Server, write: Write, authorization: str | None) -> Answer:
    headers = {"Content-Type": write.content_type} if write.content_type else {}
    if authorization is not None:
        headers["Authorization"] = authorization
    return call(server.url, write.method, write.target, body=write.body, headers=headers)


def test_every_write_route_is_listed(guarded: Server) -> None:
    document = json.loads(call(guarded.url, "GET", "/openapi.json").body)
    operations = {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method.upper() not in ("GET", "HEAD", "OPTIONS")
    }
    listed = {(w.method, w.path) for w in [*WRITES, *CONVERSIONS]}
    assert operations <= listed, f"writes without a test: {sorted(operations - listed)}"


@pytest.mark.parametrize("conversion", CONVERSIONS, ids=lambda w: w.path)
def test_a_conversion_writes_nothing(guarded: Server, conversion: Write) -> None:
    before = quad_count(guarded)
    answer = _send(guarded, conversion, None)
    # Archi's sample holds no application components: answered (422 saying so), not refused.
    assert answer.status == 422 and "ApplicationComponent" in answer.text, answer.text
    assert quad_count(guarded) == before


@pytest.mark.parametrize("write", WRITES, ids=IDS)
def test_a_write_without_a_token_is_401(guarded: Server, write: Write) -> None:
    before = quad_count(guarded)
    answer = _send(guarded, write, None)
    assert answer.status == 401, answer.text
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert "nøkkel" in answer.text and "token" in answer.text
    assert quad_count(guarded) == before


@pytest.mark.parametrize("write", WRITES, ids=IDS)
def test_a_write_with_a_wrong_token_is_403(guarded: Server, write: Write) -> None:
    before = quad_count(guarded)
    answer = _send(guarded, write, "Bearer " + TOKEN[:-1] + "x")
    assert answer.status == 403, answer.text
    assert "access-control-allow-origin" not in answer.headers
    assert quad_count(guarded) == before


@pytest.mark.parametrize(
    "authorization",
    [
        "",
        "Bearer",
        "Bearer    ",
        f"Basic {TOKEN}",
        f"Token {TOKEN}",
        f"{TOKEN}",
    ],
    ids=["empty", "bearer-alone", "bearer-blank", "basic", "other-scheme", "no-scheme"],
)
def test_a_token_not_sent_as_bearer_is_no_token(guarded: Server, authorization: str) -> None:
    answer = _send(guarded, WRITES[2], authorization)
    assert answer.status == 401, answer.text


@pytest.mark.parametrize(
    "offered",
    [TOKEN + "x", TOKEN.upper(), TOKEN[:-1], TOKEN + ",x", "x" + TOKEN, TOKEN + "\x00"],
    ids=["longer", "upper-case", "shorter", "list", "prefixed", "nul"],
)
def test_only_the_exact_token_writes(guarded: Server, offered: str) -> None:
    before = quad_count(guarded)
    answer = _send(guarded, WRITES[2], "Bearer " + offered)
    # A NUL byte is not allowed in a header at all: the HTTP layer refuses it (400).
    assert answer.status == (400 if "\x00" in offered else 403), answer.text
    assert quad_count(guarded) == before


@pytest.mark.parametrize("padding", [" ", "\t", "\u00a0"], ids=["space", "tab", "nbsp"])
def test_whitespace_around_the_token_is_not_part_of_it(guarded: Server, padding: str) -> None:
    answer = _send(guarded, WRITES[2], "Bearer " + TOKEN + padding)
    assert answer.status in (201, 204), answer.text


def test_a_token_in_the_url_is_not_a_token(guarded: Server) -> None:
    write = WRITES[2]
    answer = call(
        guarded.url,
        write.method,
        write.target + "&" + urllib.parse.urlencode({"token": TOKEN, "access_token": TOKEN}),
        body=write.body,
        headers={"Content-Type": write.content_type},
    )
    assert answer.status == 401


def test_the_upload_form_checks_the_token_it_is_given(guarded: Server) -> None:
    boundary = "grense"

    def form(token: str) -> bytes:
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="token"\r\n\r\n{token}\r\n',
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            'filename="kommune.csv"\r\nContent-Type: text/csv\r\n\r\nKommune;System\r\n'
            "4203;Acos\r\n",
            f"--{boundary}--\r\n",
        ]
        return "".join(parts).encode()

    before = quad_count(guarded)
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    missing = call(guarded.url, "POST", "/upload/form", body=form(""), headers=headers)
    assert missing.status == 401
    wrong = call(guarded.url, "POST", "/upload/form", body=form("feil"), headers=headers)
    assert wrong.status == 403
    assert quad_count(guarded) == before
