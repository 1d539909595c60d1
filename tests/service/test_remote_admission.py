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

import queue
import threading
from collections.abc import Iterator

import pytest

from tests.conftest import Server, start_server_on, stop_server
from tests.service.test_admission import RUNAWAY, SIMPLE, Answer, _ask

DEADLINE = 30.0
"""The client's wait for a runaway query. Long, and it costs no time: no test waits for
it (the held queries are answered after the test), it only orders what the test sees:
a refusal or another client's answer comes before any held query's deadline, however
busy the machine."""


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


def test_regression_remote_store_had_no_admission_control(remote_server: Server) -> None:
    """Three runaway queries of one client at once: one runs at the remote server, one
    waits its turn, one is refused, whichever comes when (before: slept 0.5 s between
    them and hoped each had arrived, which a busy machine broke)."""
    flood = "127.0.0.3"
    answers: queue.Queue[Answer] = queue.Queue()
    for _ in range(3):
        threading.Thread(
            target=lambda: answers.put(_ask(remote_server, RUNAWAY, flood)), daemon=True
        ).start()

    third = answers.get(timeout=DEADLINE)
    assert third.status == 429, third.body  # refused at once, not answered at a deadline
    assert third.retry_after is not None and int(third.retry_after) >= 1
    assert "Retry after" in third.body

    # Another client is served meanwhile, while the flood's two are still held.
    other = _ask(remote_server, SIMPLE, "127.0.0.4")
    assert other.status == 200, other.body
    assert answers.empty(), "the other client was served only after a held query ended"
