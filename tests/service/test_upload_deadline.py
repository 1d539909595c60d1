"""An upload's check has a deadline of its own, waiting for a worker included (issue 16).

The load test's reload of one workbook (50 clients, a national store) never answered
within 300 s: the check read every named node of the store with a query in the
clients' lanes, then indexed them in the server process, with no deadline at all,
competing with every request for the interpreter. Now the check runs in a query
worker, and the whole of it, waiting for that worker included, is bounded by
``upload_timeout``: the upload is loaded, or refused with a clear 503, in time.

A real server with two workers, one kept for cheap queries: a runaway query from
another client holds the general worker until its own deadline, a second waits behind
it, and the upload's deadline is far shorter than theirs.
"""

from __future__ import annotations

import contextlib
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.access.audit import AuditLog
from service.web.startup import FIRST_START
from tests.conftest import Server, start_server
from tests.service.access import ADMIN, HASVIK, usage, workbook
from tests.service.client import bearer, call
from tests.service.test_admission import RUNAWAY, _ask

QUERY_DEADLINE = 30.0
"""The runaways' deadline: far past the upload's, so a busy machine cannot blur which one
ended the upload's wait; no test waits for it (the server stops under the runaways)."""
UPLOAD_DEADLINE = 2.0


@pytest.fixture(scope="module")
def busy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Path]]:
    folder = tmp_path_factory.mktemp("upload-deadline")
    running = start_server(
        ":memory:",
        "--query-timeout",
        str(QUERY_DEADLINE),
        "--query-workers",
        "2",
        "--query-reserved",
        "1",
        "--shutdown-timeout",
        "1",
        env={
            "KOMMUNEGRAF_TOKEN": ADMIN,
            "KOMMUNEGRAF_AUDIT_LOG": str(folder / "audit.jsonl"),
            "KOMMUNEGRAF_UPLOAD_TIMEOUT": str(UPLOAD_DEADLINE),
        },
    )
    yield running, folder
    running.process.terminate()
    running.process.wait(timeout=30)


def _hold(server: Server, source: str) -> None:
    """A runaway query from ``source``; the server may stop before it answers."""
    with contextlib.suppress(OSError):
        _ask(server, RUNAWAY, source)


def test_regression_reload_under_load_never_answered(busy: tuple[Server, Path]) -> None:
    server, folder = busy
    book = workbook(folder, "portefolje.xlsx", [usage(HASVIK)])
    runaways = [
        threading.Thread(target=_hold, args=(server, source), daemon=True)
        for source in ("127.0.0.3", "127.0.0.4")
    ]
    server.idle()
    for held, runaway in enumerate(runaways, 1):
        runaway.start()
        server.wait_until_held(held)  # the first holds the general worker, the second waits

    started = time.monotonic()
    answer = call(
        server.url,
        "POST",
        "/upload?" + urllib.parse.urlencode({"name": book.name}),
        body=book.read_bytes(),
        headers=bearer(ADMIN),
    )
    elapsed = time.monotonic() - started

    # Refused with a clear error at its own deadline, not after the clients' queries.
    assert answer.status == 503, answer.text
    assert "ble ikke ferdig innen 2 sekunder" in answer.text
    assert "did not finish within 2 seconds" in answer.text
    assert answer.headers.get("retry-after")
    assert elapsed < QUERY_DEADLINE, f"the upload waited {elapsed:.1f} s for the runaway"
    # Nothing loaded, nothing announced.
    # (The only events: the first start's own load of the reference data.)
    trail = folder / "audit.jsonl"
    assert {e.actor for e in AuditLog(trail).events()} <= {FIRST_START.name}
    assert AuditLog(trail).pending() == []
    graph = f"{server.url}/graph/source/portefolje"
    seen = _ask(server, f"ASK {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}", "127.0.0.5")
    assert seen.status == 200 and '"boolean":false' in seen.body.replace(" ", "")
