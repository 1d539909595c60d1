"""Backup and restore: ``kommunegraf dump`` while the service serves and writes,
``kommunegraf restore`` into an empty store, and the round trip quad for quad.

Blank nodes get new labels when a dump is loaded again (their labels are local to
the file), so "quad for quad" is checked as isomorphism of the whole dataset:
every quad is written as a triple whose predicate also names its graph, so a blank
node shared between graphs must still be shared after the round trip.
"""

from __future__ import annotations

import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from rdflib import BNode, Dataset, Graph, URIRef
from rdflib.compare import isomorphic
from rdflib.term import Node

from tests.cli import kommunegraf
from tests.conftest import Server, start_server, stop_server
from tests.service.client import Answer, bearer, call

TOKEN = "backup-test-token-0123456789abcd"  # noqa: S105 - a token for a test server only
GRAPH = "http://example.org/backup/churn"
VERSIONS = 60
ROWS = 40


def _version(number: int, *, blank: bool = True) -> bytes:
    """One generation of the churned graph: every triple says which generation it is."""
    lines = ["@prefix ex: <http://example.org/backup/> ."]
    for row in range(ROWS):
        lines.append(f'ex:r{row} ex:generation {number} ; ex:label "rad {row} / row {row}"@nb .')
    if blank:
        lines.append(f'[] ex:note "tom node / blank node {number}" ; ex:about ex:r0 .')
    return "\n".join(lines).encode()


def _as_graph(dataset: Dataset) -> Graph:
    """The dataset as one graph whose predicates carry the graph name, for isomorphism."""
    flat = Graph()
    for s, p, o, g in dataset.quads((None, None, None, None)):
        name = g.identifier if isinstance(g, Graph) else g
        flat.add((s, URIRef("urn:quad:" + urllib.parse.quote(f"{name}\n{p}", safe="")), o))
    return flat


def _same_quads(first: Dataset, second: Dataset) -> bool:
    """Whether the datasets hold the same quads up to blank node labels.

    The quads without a blank node must be equal as they are (no relabelling touches
    them), so only the few with one go through rdflib's isomorphism, which costs seconds
    on the reference data's ~19,000 quads and nothing on a handful.
    """
    flat_first, flat_second = _as_graph(first), _as_graph(second)
    ground_first, blank_first = _split(flat_first)
    ground_second, blank_second = _split(flat_second)
    return ground_first == ground_second and isomorphic(blank_first, blank_second)


def _split(graph: Graph) -> tuple[set[tuple[Node, Node, Node]], Graph]:
    """The triples without a blank node, and a graph of those with one."""
    ground: set[tuple[Node, Node, Node]] = set()
    blank = Graph()
    for triple in graph:
        if any(isinstance(term, BNode) for term in triple):
            blank.add(triple)
        else:
            ground.add(triple)
    return ground, blank


def _read(path: Path) -> Dataset:
    dataset = Dataset()
    dataset.parse(path, format="nquads" if path.suffix == ".nq" else "trig")
    return dataset


def _generations(dataset: Dataset) -> set[int]:
    predicate = URIRef("http://example.org/backup/generation")
    graph = dataset.graph(URIRef(GRAPH))
    return {int(str(o)) for o in graph.objects(None, predicate)}


@pytest.fixture
def serving(tmp_path: Path) -> Iterator[tuple[Server, Path]]:
    store = tmp_path / "store"
    running = start_server(str(store), env={"KOMMUNEGRAF_TOKEN": TOKEN})
    yield running, store
    stop_server(running)
    if running.process.stderr is not None:  # shown when a test fails
        print(running.process.stderr.read().decode(errors="replace")[-6000:])


def _put(server: Server, number: int) -> Answer:
    return call(
        server.url,
        "PUT",
        "/store",
        params={"graph": GRAPH},
        body=_version(number),
        headers={"Content-Type": "text/turtle", **bearer(TOKEN)},
    )


@pytest.mark.parametrize("suffix", [".nq", ".trig"])
def test_dump_while_serving_then_restore_into_an_empty_store_round_trips(
    serving: tuple[Server, Path], tmp_path: Path, suffix: str
) -> None:
    server, store = serving
    assert _put(server, 0).status == 201
    answers: list[Answer] = []
    stop = threading.Event()

    def churn() -> None:
        number = 1
        while not stop.is_set() and number <= VERSIONS:
            answers.append(_put(server, number))
            number += 1

    reads: list[Answer] = []

    def read() -> None:
        # Queries while writes publish snapshots: each write makes a new one and
        # queries discard old ones, which must never touch one still being made
        # (no-cache: every read runs in a worker, none is answered from the cache).
        while not stop.is_set():
            reads.append(
                call(
                    server.url,
                    "GET",
                    "/sparql",
                    params={"query": f"ASK {{ GRAPH <{GRAPH}> {{}} }}"},
                    headers={"Cache-Control": "no-cache"},
                )
            )

    writer = threading.Thread(target=churn)
    readers = [threading.Thread(target=read) for _ in range(3)]
    writer.start()
    for reader in readers:
        reader.start()
    try:
        dump = tmp_path / f"backup{suffix}"
        written_before = len(answers)
        dumped = kommunegraf("dump", "-o", str(dump), "--store", str(store))
        written_during = len(answers) - written_before
        # The service keeps answering while it is being dumped.
        alive = call(server.url, "GET", "/sparql", params={"query": "ASK {}"})
    finally:
        # The churn is needed while the dump runs, not after it (at most VERSIONS).
        stop.set()
        writer.join(timeout=120)
        for reader in readers:
            reader.join(timeout=120)
    assert dumped.returncode == 0, dumped.stderr
    assert alive.status == 200
    failed = [a.text for a in answers if a.status != 204]
    assert answers and not failed, failed
    # The service kept writing while it was being dumped.
    assert written_during > 0 or len(answers) == VERSIONS
    failed_reads = [a.text for a in reads if a.status != 200]
    assert reads and not failed_reads, failed_reads[:3]

    original = _read(dump)
    # The dump is one committed state: the churned graph in exactly one generation.
    assert len(_generations(original)) == 1
    graphs = {str(g.identifier) for g in original.graphs() if len(g)}
    assert GRAPH in graphs
    assert any("/graph/reference/" in name for name in graphs)
    # Provenance travels with the data.
    assert any("prov#" in str(p) for _, p, _, _ in original.quads((None, None, None, None)))

    restored_store = tmp_path / "restored" / "store"
    restored = kommunegraf("restore", str(dump), "--store", str(restored_store))
    assert restored.returncode == 0, restored.stderr
    again = tmp_path / f"again{suffix}"
    assert kommunegraf("dump", "-o", str(again), "--store", str(restored_store)).returncode == 0

    copy = _read(again)
    assert len(copy) == len(original)
    assert _same_quads(copy, original)


def test_the_restored_store_serves_what_was_dumped(
    serving: tuple[Server, Path], tmp_path: Path
) -> None:
    server, store = serving
    assert _put(server, 7).status == 201
    dump = tmp_path / "backup.nq"
    assert kommunegraf("dump", "-o", str(dump), "--store", str(store)).returncode == 0
    stop_server(server)

    restored_store = tmp_path / "restored"
    assert kommunegraf("restore", str(dump), "--store", str(restored_store)).returncode == 0
    # The base IRI of the restored server differs (new port); the data keeps its IRIs.
    second = start_server(str(restored_store))
    try:
        answer = call(
            second.url,
            "GET",
            "/store",
            params={"graph": GRAPH},
            headers={"Accept": "application/n-triples"},
        )
        assert answer.status == 200, answer.text
        served = Graph().parse(data=answer.body, format="nt")
        expected = Graph().parse(data=_version(7), format="turtle")
        assert isomorphic(served, expected)
    finally:
        stop_server(second)


def test_restore_refuses_a_store_a_server_holds_and_leaves_it_intact(
    serving: tuple[Server, Path], tmp_path: Path
) -> None:
    server, store = serving
    assert _put(server, 3).status == 201
    dump = tmp_path / "backup.nq"
    assert kommunegraf("dump", "-o", str(dump), "--store", str(store)).returncode == 0
    other = tmp_path / "other.nq"
    other.write_text("<urn:a> <urn:b> <urn:c> <urn:g> .\n", encoding="utf-8")
    refused = kommunegraf("restore", str(other), "--store", str(store))
    assert refused.returncode == 2
    assert "i bruk" in refused.stderr and "locked" in refused.stderr
    answer = call(
        server.url,
        "GET",
        "/store",
        params={"graph": GRAPH},
        headers={"Accept": "application/n-triples"},
    )
    assert answer.status == 200
    assert isomorphic(
        Graph().parse(data=answer.body, format="nt"),
        Graph().parse(data=_version(3), format="turtle"),
    )


def test_a_damaged_dump_is_refused_and_the_old_store_stays(tmp_path: Path) -> None:
    store = tmp_path / "store"
    source = tmp_path / "kilde.ttl"
    source.write_text(_version(1, blank=False).decode(), encoding="utf-8")
    assert kommunegraf("load", str(source), "--store", str(store)).returncode == 0
    before = tmp_path / "before.nq"
    assert kommunegraf("dump", "-o", str(before), "--store", str(store)).returncode == 0
    damaged = tmp_path / "damaged.nq"
    damaged.write_bytes(before.read_bytes()[:-40] + b"<urn:broken")
    refused = kommunegraf("restore", str(damaged), "--store", str(store))
    assert refused.returncode == 1, refused.stderr
    after = tmp_path / "after.nq"
    assert kommunegraf("dump", "-o", str(after), "--store", str(store)).returncode == 0
    assert _same_quads(_read(after), _read(before))
