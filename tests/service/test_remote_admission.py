"""Admission control in front of a remote store (issue 16): what each client can make
the service pay there is bounded too.

Before, every query went straight to the remote server on one of 16 threads, however
many one client sent; a query the remote server has started runs on there until that
server stops it, whatever the client is told at its deadline. Now the same
``service.store.admission`` sits in front: at most ``query_workers`` queries of one
client at the remote server at once, bounded queues answering 429/503 with
Retry-After, other clients served meanwhile.

A real ``oxigraph serve`` behind a real kommunegraf: one query per client at a time
(``--query-workers 1``), room for one waiting query per client (``--query-queue 2``).
The oxigraph server is this module's own, stopped at the end (it runs the runaway
queries on until then).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

import pytest

from tests.conftest import Server, start_server_on, stop_server
from tests.service.test_admission import RUNAWAY, SIMPLE, _ask

DEADLINE = 4.0


@pytest.fixture(scope="module")
def remote_server() -> Iterator[Server]:
    running = start_server_on(
        "remote",
        "--query-timeout",
        str(DEADLINE),
        "--query-workers",
        "1",
        "--query-queue",
        "2",
        "--shutdown-timeout",
        "1",
    )
    yield running
    stop_server(running)


def _hold(server: Server, source: str) -> None:
    with contextlib.suppress(OSError):
        _ask(server, RUNAWAY, source)


def test_regression_remote_store_had_no_admission_control(remote_server: Server) -> None:
    flood = "127.0.0.3"
    held = threading.Thread(target=_hold, args=(remote_server, flood), daemon=True)
    held.start()
    time.sleep(0.5)  # at the remote server: the client's one query there
    waiting = threading.Thread(target=_hold, args=(remote_server, flood), daemon=True)
    waiting.start()
    time.sleep(0.5)  # waits for that one: the client's one waiting query

    started = time.monotonic()
    third = _ask(remote_server, RUNAWAY, flood)
    assert third.status == 429, third.body
    assert third.retry_after is not None and int(third.retry_after) >= 1
    assert "Retry after" in third.body
    assert time.monotonic() - started < DEADLINE, "refused at once, not after a wait"

    # Another client is served meanwhile, at once.
    other = _ask(remote_server, SIMPLE, "127.0.0.4")
    assert other.status == 200, other.body
    assert time.monotonic() - started < DEADLINE
