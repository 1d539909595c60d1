"""A load killed with SIGKILL leaves the old graph or the new one, never a mix."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyoxigraph as ox
import pytest

from service.loading import source_graph_iri
from service.store import KnowledgeStore

BASE = "http://127.0.0.1:8000/"
OLD_TRIPLES = 500
NEW_TRIPLES = 30_000


def _write_source(path: Path, label: str, count: int) -> None:
    with path.open("w", encoding="utf-8") as handle:
        handle.write("@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n")
        for i in range(count):
            handle.write(f'<id/test/{i}> rdfs:label "{label} {i}"@nb .\n')


def _load(source: Path, store: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "service", "load", str(source), "--store", str(store)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
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


@pytest.mark.parametrize("fraction", [0.5, 0.85])
def test_sigkill_during_a_load_leaves_old_or_new_graph(tmp_path: Path, fraction: float) -> None:
    source = tmp_path / "kilde.ttl"
    store = tmp_path / "store"
    graph = source_graph_iri(source, BASE)
    _write_source(source, "old", OLD_TRIPLES)
    assert _load(source, store).wait(timeout=300) == 0
    _write_source(source, "new", NEW_TRIPLES)

    # Time a full load of the new file into a copy, to aim the kill into the load.
    copy = tmp_path / "copy"
    shutil.copytree(store, copy)
    started = time.monotonic()
    assert _load(source, copy).wait(timeout=300) == 0
    duration = time.monotonic() - started
    assert _state(copy, graph) == (NEW_TRIPLES, {"new"})

    loading = _load(source, store)
    time.sleep(duration * fraction)
    if loading.poll() is not None:
        pytest.skip(f"the load finished before {fraction:.0%} of its measured time")
    loading.send_signal(signal.SIGKILL)
    loading.wait(timeout=30)

    # The store opens cleanly and holds exactly one generation of the graph.
    assert _state(store, graph) in [(OLD_TRIPLES, {"old"}), (NEW_TRIPLES, {"new"})]
