"""The made-up architecture the page and browser tests load through the Graph Store."""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import Server, start_server, stop_server
from tests.service.client import bearer, call

FIXTURE = Path(__file__).parent / "fixtures" / "architecture.ttl"
TOKEN = "ui-test-token-0123456789abcdef01"  # noqa: S105 - a token for a test server only
SCRIPT = "<script>alert("
"""The start of every injected script in the fixture's labels."""

RESOURCES = {
    "Municipality": "id/kommune/9999",
    "Application": "id/applikasjon/saksbehandler",
    "Vendor": "id/leverandor/acme",
    "StatutoryService": "id/tjeneste/xss-tjeneste",
    "Dataset": "id/datasett/4203/elevregister",
    "LegalBasis": "id/hjemmel/xss-hjemmel",
    "Region": "id/region/test-region",
    "Integration": "id/integrasjon/4203-saksbehandler/altinn",
    "ApplicationUsage": "id/bruk/4203/saksbehandler",
}
"""One fixture resource of each class, by its path under the base IRI."""


def load_fixture(server: Server) -> None:
    """PUT the fixture into its own named graph, resolved against the server's base."""
    base = server.url + "/"
    body = f"@base <{base}> .\n".encode() + FIXTURE.read_bytes()
    graph = urllib.parse.quote(base + "graph/source/ui-fixture", safe="")
    answer = call(
        server.url,
        "PUT",
        f"/store?graph={graph}",
        body=body,
        headers={**bearer(TOKEN), "Content-Type": "text/turtle"},
    )
    assert answer.status in (200, 201, 204), answer.text


def fixture_site() -> Iterator[Server]:
    """A real server on an in-memory store with the fixture loaded (a module fixture's body)."""
    # A loaded machine (two cores, several test runs) can take over a minute to start it.
    running = start_server(":memory:", env={"KOMMUNEGRAF_TOKEN": TOKEN})
    try:
        load_fixture(running)
        yield running
    finally:
        stop_server(running)
