"""A query past its deadline is really stopped, and others are answered meanwhile."""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator

import pytest

from tests.conftest import Server, start_server

DEADLINE = 2.0
RUNAWAY = "SELECT (COUNT(*) AS ?c) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
LIGHT = "ASK { ?s ?p ?o }"


@pytest.fixture(scope="module")
def strict_server() -> Iterator[Server]:
    running = start_server(":memory:", "--query-timeout", str(DEADLINE), "--query-workers", "2")
    yield running
    running.process.terminate()
    running.process.wait(timeout=30)


def _ask(server: Server, query: str, timeout: float = 60) -> tuple[int, str]:
    """The query's answer, always from a worker (not the answer cache: these tests are
    about the workers)."""
    url = f"{server.url}/sparql?" + urllib.parse.urlencode({"query": query})
    request = urllib.request.Request(url, headers={"Cache-Control": "no-cache"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def _cpu_seconds(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return None
    return (int(fields[11]) + int(fields[12])) / 100  # utime + stime in clock ticks


def test_runaway_query_stops_within_twice_its_deadline_and_frees_its_cpu(
    strict_server: Server,
) -> None:
    before = strict_server.query_workers()
    outcome: dict[str, object] = {}

    def runaway() -> None:
        started = time.monotonic()
        outcome["status"], outcome["body"] = _ask(strict_server, RUNAWAY)
        outcome["elapsed"] = time.monotonic() - started

    thread = threading.Thread(target=runaway)
    thread.start()
    time.sleep(0.5)
    # The runaway occupies one worker; a light query sent meanwhile is still answered.
    status, body = _ask(strict_server, LIGHT, timeout=DEADLINE)
    assert (status, body.count("true")) == (200, 1)
    # Which worker runs the runaway: the one whose CPU time grows while it runs. Watched
    # until the answer comes, since on a loaded machine a runnable worker may get only a
    # small share of a core in any one moment.
    busy: list[int] = []
    while thread.is_alive() and not busy:
        busy = [pid for pid in before if (_cpu_seconds(pid) or 0) > 0.3]
        time.sleep(0.05)
    thread.join(timeout=DEADLINE * 10)

    assert outcome["status"] == 503
    assert "ble stoppet" in str(outcome["body"]) and "was stopped" in str(outcome["body"])
    assert isinstance(outcome["elapsed"], float) and outcome["elapsed"] < 2 * DEADLINE
    # The worker that ran it is gone (its CPU is freed) and a fresh one took its place.
    assert busy, "no worker was seen running the runaway query"
    deadline = time.monotonic() + 60  # killed at once, reaped in the pool's own time
    while any(_cpu_seconds(pid) is not None for pid in busy):
        assert time.monotonic() < deadline, "the worker that ran the runaway is still there"
        time.sleep(0.05)
    assert len(strict_server.query_workers()) == len(before)
    assert _ask(strict_server, LIGHT)[0] == 200
