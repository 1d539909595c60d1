"""Two ``kommunegraf serve`` instances on one remote store (a real ``oxigraph serve``).

The web tier keeps no data of its own: each instance answers from the shared store, so a
write through one is seen by the other at once, and what an instance builds from the data
(the search index behind "did you mean") is rebuilt when the store's audit marks change
(``RemoteBackend.marks``). docs/remote-store.md shows the deployment.
"""

from __future__ import annotations

import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import OxigraphServer, Server, start_oxigraph_server, start_server, stop_server
from tests.service.client import ask, bearer, call

TOKEN = "stateless-test-token-0123456789ab"  # noqa: S105 - a token for a test server only
BASE = "http://kommunegraf.test/"
"""One public base IRI for both instances, as behind one reverse proxy."""
APP = f"{BASE}id/applikasjon/tilstandslos"
LABEL = "Tilstandsløs testapp"


def _ready(server: Server, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(server.url + "/health/ready", timeout=5):
                return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError("the instance did not become ready")


@pytest.fixture(scope="module")
def instances(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    folder: Path = tmp_path_factory.mktemp("stateless")
    remote: OxigraphServer = start_oxigraph_server()
    started: list[Server] = []
    try:
        for name in ("a", "b"):
            env = {
                **remote.env(),
                "KOMMUNEGRAF_BASE_IRI": BASE,
                "KOMMUNEGRAF_TOKEN": TOKEN,
                "KOMMUNEGRAF_AUDIT_LOG": str(folder / f"audit-{name}.jsonl"),
            }
            started.append(start_server(":memory:", env=env))
            _ready(started[-1])  # the first loads the reference data; the second finds it
        yield started[0], started[1]
    finally:
        for server in started:
            stop_server(server)
        remote.stop()


def _suggested(server: Server) -> bool:
    page = call(server.url, "GET", "/sok?" + urllib.parse.urlencode({"q": "Tilstandslos testap"}))
    assert page.status == 200, page.text[:300]
    return LABEL in page.text


def test_two_instances_on_one_store_see_each_others_writes(
    instances: tuple[Server, Server], tmp_path: Path
) -> None:
    first, second = instances
    assert not _suggested(second)  # the second instance has built its index without it
    body = (
        f"<{APP}> a <https://w3id.org/kommunegraf/ontology#Application> ; "
        f'<http://www.w3.org/2000/01/rdf-schema#label> "{LABEL}"@nb .'
    ).encode()
    target = "/store?" + urllib.parse.urlencode({"graph": f"{BASE}graph/test/stateless"})
    headers = {**bearer(TOKEN), "Content-Type": "text/turtle"}
    assert call(first.url, "PUT", target, body=body, headers=headers).status == 201
    # At once: every request reads the shared store.
    assert ask(second, f"ASK {{ <{APP}> ?p ?o }}")
    assert call(second.url, "GET", target, headers={"Accept": "text/turtle"}).status == 200
    # What the second instance built from the data follows within seconds (marks are
    # read every second; without them it waits for its 60 s time slot; 20 s leaves room
    # for a loaded machine).
    deadline = time.monotonic() + 20
    while not _suggested(second):
        assert time.monotonic() < deadline, "the second instance kept its stale index"
        time.sleep(0.5)
    # And the other way round: a delete through the second is seen by the first.
    assert call(second.url, "DELETE", target, headers=bearer(TOKEN)).status == 204
    assert not ask(first, f"ASK {{ <{APP}> ?p ?o }}")
