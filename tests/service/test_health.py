"""Health probes on a real server: live, ready, and not ready with a reason.

Embedded store only where the test is about query worker processes (a remote store
has none); the plain probes run on both backends through the shared fixture.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator

import pytest

from tests.conftest import Server, start_server, stop_server
from tests.service.client import call

RUNAWAY = "SELECT (COUNT(*) AS ?c) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"


def test_live_and_ready_on_each_backend(server: Server) -> None:
    live = call(server.url, "GET", "/health/live")
    assert live.status == 200 and json.loads(live.body) == {"status": "live"}
    ready = call(server.url, "GET", "/health/ready")
    assert ready.status == 200, ready.text
    body = json.loads(ready.body)
    assert body["status"] == "ready"
    assert body["checks"]["store"] == "ok" and body["checks"]["query"] == "ok"


@pytest.fixture
def one_worker() -> Iterator[Server]:
    running = start_server(":memory:", "--query-workers", "1", "--query-timeout", "8")
    yield running
    stop_server(running)


def _dead(pid: int) -> bool:
    """Gone, or a zombie its parent has not reaped yet."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_not_ready_when_a_query_worker_died_and_ready_again_once_replaced(
    one_worker: Server,
) -> None:
    assert (
        json.loads(call(one_worker.url, "GET", "/health/ready").body)["checks"]["query_workers"]
        == "1/1"
    )
    # Done first, so that no build meets the killed worker and replaces it before
    # readiness is asked.
    one_worker.wait_for_the_catalogues()
    (worker,) = one_worker.query_workers()
    os.kill(worker, signal.SIGKILL)  # as the kernel's out-of-memory killer would
    deadline = time.monotonic() + 10
    while not _dead(worker) and time.monotonic() < deadline:
        time.sleep(0.05)
    for _ in range(100):  # /metrics counts live workers without sending them a query
        if b"kommunegraf_query_workers 0.0" in call(one_worker.url, "GET", "/metrics").body:
            break
        time.sleep(0.1)
    answer = call(one_worker.url, "GET", "/health/ready")
    assert answer.status == 503
    body = json.loads(answer.body)
    assert body["status"] == "not ready" and body["checks"]["query_workers"] == "0/1"
    assert "spørreprosesser" in body["reason"]["nb"] and "query workers" in body["reason"]["en"]
    assert call(one_worker.url, "GET", "/health/live").status == 200

    # The next query meets the dead worker; the pool replaces it and readiness returns.
    # (no-cache: the start-up probe's ASK {} may be answered from the answer cache.)
    fresh = {"Cache-Control": "no-cache"}
    call(one_worker.url, "GET", "/sparql", params={"query": "ASK {}"}, headers=fresh)
    answer = call(one_worker.url, "GET", "/sparql", params={"query": "ASK {}"}, headers=fresh)
    assert answer.status == 200
    assert call(one_worker.url, "GET", "/health/ready").status == 200


def test_not_ready_while_every_worker_is_busy(one_worker: Server) -> None:
    outcome: dict[str, int] = {}

    def runaway() -> None:
        outcome["status"] = call(one_worker.url, "GET", "/sparql", params={"query": RUNAWAY}).status

    # Until the server has the runaway (a sleep of 0.5 s asked readiness before it
    # arrived on a busy machine, and the probe's query took the free worker).
    one_worker.idle()
    thread = threading.Thread(target=runaway)
    thread.start()
    one_worker.wait_until_held(1)
    answer = call(one_worker.url, "GET", "/health/ready")
    assert answer.status == 503
    body = json.loads(answer.body)
    assert body["checks"]["query"] == "timeout"
    assert "opptatt" in body["reason"]["nb"] and "busy" in body["reason"]["en"]
    thread.join(timeout=30)
    assert outcome["status"] == 503  # the runaway met its own deadline
    # Its worker is replaced in the background (the 503 does not wait for that): ready
    # again once the new worker runs.
    deadline = time.monotonic() + 60
    while call(one_worker.url, "GET", "/health/ready").status != 200:
        assert time.monotonic() < deadline, "not ready again after the worker was replaced"
        time.sleep(0.2)
