"""A load or a Graph Store PUT killed with SIGKILL leaves the old graph or the new
one, never a mix, and the server starts cleanly on the store afterwards."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyoxigraph as ox
import pytest

from service.access.audit import FAULT_ENV, FAULT_POINTS, AuditLog, new_event
from service.access.scope import Principal
from service.store.embedded import KnowledgeStore, open_store
from service.store.sources import source_graph_iri
from service.web.startup import FIRST_START
from tests.conftest import Server, start_server, stop_server
from tests.service.client import bearer, call

BASE = "http://127.0.0.1:8000/"
OLD_TRIPLES = 500
NEW_TRIPLES = 5_000

KILL_POINTS = {
    "kill-before-write": "old",
    "kill-before-audit": "new",
}
"""Each fault point of an audited write (``service.access.audit.FAULT_POINTS``) and the
generation a kill there must leave. The process kills itself at the point (SIGKILL), so
every point is reached on every run, however fast or slow the machine; a kill timed
from outside missed the write when the load finished first, and skipped. A kill inside
pyoxigraph's transaction cannot be aimed from Python; RocksDB commits it whole."""


def test_every_fault_point_has_a_kill_test() -> None:
    assert set(KILL_POINTS) == set(FAULT_POINTS)


def _write_source(path: Path, label: str, count: int) -> None:
    with path.open("w", encoding="utf-8") as handle:
        handle.write("@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n")
        for i in range(count):
            handle.write(f'<id/test/{i}> rdfs:label "{label} {i}"@nb .\n')


def _load(source: Path, store: Path, fault: str = "") -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "service", "load", str(source), "--store", str(store)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, FAULT_ENV: fault},
    )


def _state(store_path: Path, graph: str) -> tuple[int, set[str]]:
    """How many triples the graph holds and which generation their labels belong to."""
    store = KnowledgeStore(store_path)
    try:
        results = store.query(
            "PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\n"
            f"SELECT ?l WHERE {{ GRAPH <{graph}> {{ ?s rdfs:label ?l "
            f'FILTER(STRSTARTS(STR(?s), "{BASE}id/test/")) }} }}'
        )
        assert isinstance(results, ox.QuerySolutions)
        generations = set()
        count = 0
        for solution in results:
            label = solution["l"]
            assert isinstance(label, ox.Literal)
            generations.add(label.value.split()[0])
            count += 1
        return count, generations
    finally:
        store.close()


@pytest.fixture(scope="module")
def loaded_old(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store holding the old generation of the source, made once for every kill point
    (each kill works on a copy of it; its audit log is beside it)."""
    folder = tmp_path_factory.mktemp("crash-load")
    source = folder / "kilde.ttl"
    _write_source(source, "old", OLD_TRIPLES)
    assert _load(source, folder / "store").wait(timeout=300) == 0
    return folder / "store"


def _trail(store: Path) -> Path:
    """The audit log beside ``store``."""
    return store.with_name(store.name + "-audit.jsonl")


def _copy_store(store: Path, target: Path) -> None:
    """``store`` and its audit log (beside it) as ``target``."""
    shutil.copytree(store, target)
    shutil.copy(_trail(store), _trail(target))


@pytest.mark.parametrize("point", KILL_POINTS)
def test_sigkill_during_a_load_leaves_old_or_new_graph(
    loaded_old: Path, tmp_path: Path, point: str
) -> None:
    source = tmp_path / "kilde.ttl"  # the same name, so the same graph as the old one
    store = tmp_path / "store"
    graph = source_graph_iri(source, BASE)
    _copy_store(loaded_old, store)
    _write_source(source, "new", NEW_TRIPLES)

    loading = _load(source, store, fault=point)
    _, errors = loading.communicate(timeout=300)
    assert loading.returncode == -signal.SIGKILL, errors.decode()

    # The store opens cleanly and holds exactly the generation the point leaves ...
    generation = KILL_POINTS[point]
    count = OLD_TRIPLES if generation == "old" else NEW_TRIPLES
    assert _state(store, graph) == (count, {generation})
    # ... and the kill came inside the write: announced, not recorded (the next start
    # settles it, as the server tests below show).
    (intent,) = AuditLog(_trail(store)).pending()
    assert [c.graph for c in intent.event.changes] == [graph]


# --- the server killed during a Graph Store PUT -----------------------------------

TOKEN = "crash-test-token-0123456789abcde"  # noqa: S105 - a token for a test server only
PUT_GRAPH = "http://example.org/crash/graph"
PUT_NEW_TRIPLES = 2_000
"""Fewer than a load: a PUT parses with rdflib, which is slower per triple."""


def _turtle(label: str, count: int) -> bytes:
    lines = ["@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> ."]
    lines += [f'<http://example.org/crash/{i}> rdfs:label "{label} {i}"@nb .' for i in range(count)]
    return "\n".join(lines).encode()


def _put(server: Server, graph: str, body: bytes) -> int:
    headers = {"Content-Type": "text/turtle", **bearer(TOKEN)}
    answer = call(server.url, "PUT", f"/store?graph={graph}", body=body, headers=headers)
    return answer.status


def _served_state(server: Server, graph: str) -> tuple[int, set[str]]:
    answer = call(
        server.url,
        "GET",
        "/sparql",
        params={
            "query": "PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\n"
            f"SELECT ?l WHERE {{ GRAPH <{graph}> {{ ?s rdfs:label ?l }} }}"
        },
        headers={"Accept": "application/sparql-results+json"},
    )
    assert answer.status == 200, answer.text
    labels = [row["l"]["value"] for row in json.loads(answer.body)["results"]["bindings"]]
    return len(labels), {label.split()[0] for label in labels}


@pytest.fixture(scope="module")
def put_old(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A server's store with the old generation PUT into ``PUT_GRAPH``, made once for
    every kill point (each works on a copy; the audit log is beside it)."""
    store = tmp_path_factory.mktemp("crash-put") / "store"
    server = start_server(str(store), env={"KOMMUNEGRAF_TOKEN": TOKEN})
    try:
        assert _put(server, PUT_GRAPH, _turtle("old", OLD_TRIPLES)) == 201
    finally:
        stop_server(server)
    return store


@pytest.mark.parametrize("point", KILL_POINTS)
def test_sigkill_during_a_graph_store_put_leaves_old_or_new_graph(
    put_old: Path, tmp_path: Path, point: str
) -> None:
    store = tmp_path / "store"
    _copy_store(put_old, store)
    env = {"KOMMUNEGRAF_TOKEN": TOKEN}
    server = start_server(str(store), env={**env, FAULT_ENV: point})
    try:
        with contextlib.suppress(OSError):  # the server kills itself under the request
            _put(server, PUT_GRAPH, _turtle("new", PUT_NEW_TRIPLES))
        assert server.process.wait(timeout=60) == -signal.SIGKILL
    finally:
        stop_server(server)

    # The server starts cleanly on the same store, serves exactly the generation the
    # point leaves and has settled the announced write.
    restarted = start_server(str(store), env=env)
    try:
        generation = KILL_POINTS[point]
        count = OLD_TRIPLES if generation == "old" else PUT_NEW_TRIPLES
        assert _served_state(restarted, PUT_GRAPH) == (count, {generation})
        assert AuditLog(_trail(store)).pending() == []
        # And it still writes.
        assert _put(restarted, PUT_GRAPH, _turtle("after", 3)) == 204
        assert _served_state(restarted, PUT_GRAPH) == (3, {"after"})
    finally:
        stop_server(restarted)


# --- the server killed between a write and its audit event --------------------------------

AUDITED_GRAPH = "http://example.org/crash/audited"
AUDIT_BASE = "http://kommunegraf.example/"
"""Fixed across the restart (the servers' ports differ): the audit graph is under it."""


def _audit_activities(server: Server) -> list[str]:
    """Every graph-store write the audit graph records."""
    answer = call(
        server.url,
        "GET",
        "/sparql",
        params={
            "query": "PREFIX prov: <http://www.w3.org/ns/prov#>\n"
            "PREFIX kg: <https://w3id.org/kommunegraf/ontology#>\n"
            f"SELECT ?a WHERE {{ GRAPH <{AUDIT_BASE}graph/audit> {{\n"
            '  ?a a prov:Activity ; kg:action "graph-store" ; prov:wasAssociatedWith ?who } }'
        },
        headers={"Accept": "application/sparql-results+json"},
    )
    assert answer.status == 200, answer.text
    rows = json.loads(answer.body)["results"]["bindings"]
    return [row["a"]["value"] for row in rows]


def test_regression_write_without_audit_entry(tmp_path: Path) -> None:
    """SIGKILL after the store write and before the audit append: after a restart the
    audit trail and the store agree (the write is there, and so is its event).

    The kill comes from the server itself (``KG_FAULT=kill-before-audit``, a test-only
    fault point between the two), so it lands exactly there: a real process, a real
    SIGKILL. Before the fix the store kept the graph and the trail had no entry.
    """
    store = tmp_path / "store"
    log = tmp_path / "audit.jsonl"
    env = {
        "KOMMUNEGRAF_TOKEN": TOKEN,
        "KOMMUNEGRAF_AUDIT_LOG": str(log),
        "KOMMUNEGRAF_BASE_IRI": AUDIT_BASE,
    }
    # The first start's own load of the reference data is an audited write too: made
    # before the fault is armed, so the kill comes under the request, not at start.
    stop_server(start_server(str(store), env=env))
    server = start_server(str(store), env={**env, FAULT_ENV: "kill-before-audit"})
    try:
        with contextlib.suppress(OSError):  # the server kills itself under the request
            _put(server, AUDITED_GRAPH, _turtle("written", 5))
        assert server.process.wait(timeout=60) == -signal.SIGKILL
    finally:
        stop_server(server)

    restarted = start_server(str(store), env=env)
    try:
        # The write was made (the kill came after it) ...
        assert _served_state(restarted, AUDITED_GRAPH) == (5, {"written"})
        # ... and it is in the trail: in the file and in the audit graph, with the graph.
        (event,) = [e for e in AuditLog(log).events() if e.action == "graph-store"]
        assert [c.graph for c in event.changes] == [AUDITED_GRAPH]
        assert "recovered after a crash" in event.detail
        assert f"{AUDIT_BASE}audit/{event.id}" in _audit_activities(restarted)
        # A write after the restart is audited as usual, with its counts.
        assert _put(restarted, AUDITED_GRAPH, _turtle("after", 3)) == 204
        later = [e for e in AuditLog(log).events() if e.action == "graph-store"][-1]
        assert (later.added, later.removed) == (3, 5)
        assert AuditLog(log).pending() == []
    finally:
        stop_server(restarted)


def test_an_announced_write_that_was_not_made_is_recorded_as_not_done(tmp_path: Path) -> None:
    """The other side: an intent whose write never reached the store is settled as not
    done at the next start, and nothing is added to the trail's events."""
    log = tmp_path / "audit.jsonl"
    event = new_event(Principal("KOMMUNEGRAF_TOKEN", "admin"), "graph-store", "http://x/")
    AuditLog(log).announce(event)
    env = {"KOMMUNEGRAF_TOKEN": TOKEN, "KOMMUNEGRAF_AUDIT_LOG": str(log)}
    server = start_server(str(tmp_path / "store"), env=env)
    try:
        assert AuditLog(log).pending() == []
        # The only event is the first start's own load of the reference data.
        assert [e.actor for e in AuditLog(log).events()] == [FIRST_START.name]
        assert '"state": "not-done"' in log.read_text(encoding="utf-8")
    finally:
        stop_server(server)


def test_a_first_start_cut_short_is_emptied_and_its_load_recorded_as_not_done(
    tmp_path: Path,
) -> None:
    """A first start killed mid-load leaves its marker graph and its announced load; the
    next start empties the store, loads again (one new event) and settles the first
    one as not done, since its writes were dropped with the rest."""
    log = tmp_path / "audit.jsonl"
    with open_store(tmp_path / "store") as store:
        store.update(
            "INSERT DATA { GRAPH <http://x/graph/first-start-incomplete> { <http://x/a> "
            "<http://x/b> 1 } GRAPH <http://x/graph/source/half> { <http://x/a> <http://x/b> 2 } }"
        )
    cut = new_event(FIRST_START, "load", "http://x/")
    AuditLog(log).announce(cut)
    server = start_server(str(tmp_path / "store"), env={"KOMMUNEGRAF_AUDIT_LOG": str(log)})
    try:
        assert "tømmes" in server.log_text()
    finally:
        stop_server(server)
    (event,) = AuditLog(log).events()
    assert event.id != cut.id and event.added > 0
    assert not any("/graph/source/half" in c.graph for c in event.changes)
    assert AuditLog(log).pending() == []
    assert f'{{"id": "{cut.id}", "state": "not-done"}}' in log.read_text(encoding="utf-8")


# --- a new graph's bulk write killed (``KnowledgeStore._bulk_write``) ---------------------

BULK_TRIPLES = 3_000
_BULK_WRITER = """
import sys
from pathlib import Path
from service.store.embedded import WRITE_PREAMBLE, KnowledgeStore
store = KnowledgeStore(Path(sys.argv[1]))
lines = "".join(f'<urn:s{i}> <urn:p> "{i}" .\\n' for i in range(int(sys.argv[2]))).encode()
for n in range(10_000):
    if n % 2:  # an audited upload of a new source: its marker in the same write
        mark = f"<urn:e{n}> <urn:p> <urn:o>"
        WRITE_PREAMBLE.set(f"INSERT DATA {{ GRAPH <urn:audit> {{ {mark} }} }} ; ")
        store.replace_graph_ntriples(f"urn:g{n}", lines)
    else:  # a batch of new sources (a first start, a load of new workbooks)
        WRITE_PREAMBLE.set("")
        store.add_new_graphs([(f"urn:g{n}", lines)])
    print(n, flush=True)
"""


@pytest.mark.parametrize("delay", [0.05, 0.2, 0.45])
def test_sigkill_during_bulk_writes_of_new_graphs_leaves_each_whole_or_absent(
    tmp_path: Path, delay: float
) -> None:
    """New graphs go in with the bulk loader, which RocksDB ingests at once: killed at any
    moment, every graph is whole or absent, an audited one has its marker exactly when
    it is there, and the files of a write cut short are gone once the store is opened."""
    path = tmp_path / "store"
    writer = subprocess.Popen(
        [sys.executable, "-c", _BULK_WRITER, str(path), str(BULK_TRIPLES)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout is not None
    assert writer.stdout.readline().strip() == "0"  # a write made: the kill comes in later ones
    time.sleep(delay)  # into the writes that follow without a pause, each a few tens of ms
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=30)

    store = KnowledgeStore(path)
    try:
        assert not list(path.glob("bulk-*.sst"))
        counts: dict[str, int] = {}
        marked: set[int] = set()
        for quad in store._store.quads_for_pattern(None, None, None, None):
            graph = str(quad.graph_name)[1:-1]  # <urn:g1>
            counts[graph] = counts.get(graph, 0) + 1
            if graph == "urn:audit":
                marked.add(int(str(quad.subject)[len("<urn:e") : -1]))
        graphs = {int(g[len("urn:g") :]): c for g, c in counts.items() if g.startswith("urn:g")}
        assert set(graphs.values()) == {BULK_TRIPLES}
        assert marked == {n for n in graphs if n % 2}
    finally:
        store.close()
