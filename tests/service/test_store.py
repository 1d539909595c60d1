"""The embedded store: graph replacement, locking, dump and restore."""

from __future__ import annotations

from pathlib import Path

import pyoxigraph as ox
import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import RDFS

from loaders.report import Report
from service.access.audit import marker_sparql
from service.store.embedded import WRITE_PREAMBLE, KnowledgeStore, StoreLockedError, restore
from service.store.sources import SourceResult

G = "http://127.0.0.1:8000/graph/source/test"
AUDIT = "http://127.0.0.1:8000/graph/audit"


def _graph(*labels: str) -> Graph:
    graph = Graph()
    for i, label in enumerate(labels):
        graph.add(
            (URIRef(f"http://127.0.0.1:8000/id/x/{i}"), RDFS.label, Literal(label, lang="nb"))
        )
    return graph


def _labels(store: KnowledgeStore) -> set[str]:
    results = store.query("SELECT ?l WHERE { ?s <http://www.w3.org/2000/01/rdf-schema#label> ?l }")
    assert isinstance(results, ox.QuerySolutions)
    return {s["l"].value for s in results if s["l"] is not None}


def test_replacing_a_graph_leaves_only_the_new_content() -> None:
    store = KnowledgeStore(None)
    store.replace_graph(G, _graph("gammel", "old"))
    store.replace_graph(G, _graph("ny"))
    assert _labels(store) == {"ny"}
    assert store.graphs() == [G]


def test_queries_see_the_union_of_named_graphs() -> None:
    store = KnowledgeStore(None)
    store.replace_graph(G + "1", _graph("en"))
    store.replace_graph(G + "2", _graph("to"))
    assert _labels(store) == {"en", "to"}


def test_labels_with_quotes_and_markup_survive_a_load() -> None:
    store = KnowledgeStore(None)
    tricky = 'Ærlig "system" <script>alert(1)</script> \\ }'
    store.replace_graph(G, _graph(tricky))
    assert _labels(store) == {tricky}


def test_a_second_process_cannot_open_the_store(tmp_path: Path) -> None:
    import subprocess
    import sys

    store = KnowledgeStore(tmp_path / "store")
    code = (
        "import sys\nfrom pathlib import Path\n"
        "from service.store.embedded import KnowledgeStore, StoreLockedError\n"
        "try:\n    KnowledgeStore(Path(sys.argv[1]))\nexcept StoreLockedError as e:\n"
        "    print(e); sys.exit(3)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "store")], capture_output=True, text=True
    )
    assert done.returncode == 3, done.stderr
    assert "locked" in done.stdout
    store.close()


def test_dump_and_restore_round_trip(tmp_path: Path) -> None:
    source = KnowledgeStore(tmp_path / "a")
    source.replace_graph(G, _graph("én", "to"))
    with (tmp_path / "dump.nq").open("wb") as handle:
        source.dump(handle, ox.RdfFormat.N_QUADS)
    source.close()
    target = tmp_path / "b"
    old = KnowledgeStore(target)
    old.replace_graph(G + "-old", _graph("gone"))
    old.close()
    assert restore(tmp_path / "dump.nq", target, ox.RdfFormat.N_QUADS) == 2
    restored = KnowledgeStore(target)
    assert _labels(restored) == {"én", "to"}
    assert restored.graphs() == [G]


def test_restore_of_a_broken_dump_keeps_the_old_store(tmp_path: Path) -> None:
    target = tmp_path / "store"
    old = KnowledgeStore(target)
    old.replace_graph(G, _graph("kept"))
    old.close()
    (tmp_path / "bad.nq").write_text("<http://a> <http://b> .\n", encoding="utf-8")
    with pytest.raises(SyntaxError):
        restore(tmp_path / "bad.nq", target, ox.RdfFormat.N_QUADS)
    assert _labels(KnowledgeStore(target)) == {"kept"}


def test_restore_interrupted_between_renames_is_recovered_on_open(tmp_path: Path) -> None:
    target = tmp_path / "store"
    old = KnowledgeStore(target)
    old.replace_graph(G, _graph("kept"))
    old.close()
    target.rename(tmp_path / "store.previous")  # as if killed after the first rename
    assert _labels(KnowledgeStore(target)) == {"kept"}


def test_restore_refuses_a_store_in_use(tmp_path: Path) -> None:
    target = tmp_path / "store"
    in_use = KnowledgeStore(target)
    (tmp_path / "d.nq").write_text(
        "<http://a> <http://b> <http://c> <http://g> .\n", encoding="utf-8"
    )
    with pytest.raises(StoreLockedError):
        restore(tmp_path / "d.nq", target, ox.RdfFormat.N_QUADS)
    in_use.close()


def test_blank_node_label_cannot_inject_an_update_into_replace_graph() -> None:
    """Regression: rdflib keeps JSON-LD blank-node labels as given, and they were
    written unchecked into the INSERT DATA text of replace_graph."""
    store = KnowledgeStore(None)
    try:
        store.replace_graph(G + "-keep", _graph("behold"))
        hostile = Graph().parse(
            data='{"@id": "_:a <urn:p> <urn:o> } } ; DROP ALL ; INSERT DATA { GRAPH <urn:g> { _:x",'
            ' "http://www.w3.org/2000/01/rdf-schema#label": "x"}',
            format="json-ld",
        )
        store.replace_graph(G, hostile)
        assert "behold" in _labels(store)
        assert len(store.graphs()) == 2
    finally:
        store.close()


def test_new_graphs_report_each_graph_as_it_is_written() -> None:
    """A first start's "writing" counter moves graph by graph, in order (it jumped from 0 to
    all at the end), and every graph holds exactly its own triples."""
    from service.store import embedded

    store = KnowledgeStore(None)
    written: list[tuple[int, int]] = []
    graphs: list[tuple[str, bytes | tuple[bytes, ...]]] = []
    for number in range(40):
        lines = [f'<urn:s{number}-{i}> <urn:p> "{"x" * 200}" .\n' for i in range(number + 1)]
        data = "".join(lines).encode()
        # in parts too (a source's triples, then its provenance), joined graph by graph
        parts = (data[: len(lines[0])], data[len(lines[0]) :])
        graphs.append((f"urn:g{number}", parts if number % 2 else data))
    original = embedded.TRANSACTION_BYTES
    embedded.TRANSACTION_BYTES = 20_000  # several transactions for 40 small graphs
    try:
        assert store.add_new_graphs(graphs, lambda index: written.append((index, len(store))))
    finally:
        embedded.TRANSACTION_BYTES = original
    assert [index for index, _ in written] == list(range(40))
    # a graph counts once it is in the store, and the count moves along with the writing
    assert all(size >= sum(range(1, i + 2)) for i, size in written)
    assert len({size for _, size in written}) > 3
    for number in range(40):
        found = store.query(f"SELECT (COUNT(*) AS ?n) {{ GRAPH <urn:g{number}> {{ ?s ?p ?o }} }}")
        assert isinstance(found, ox.QuerySolutions)
        assert int(next(iter(found))["n"].value) == number + 1
    assert not store.add_new_graphs(graphs[:1])  # the graph exists: nothing written


def test_a_compact_result_leaves_out_triples_about_its_own_graph(tmp_path: Path) -> None:
    """``SourceResult.compact`` looks for the source's graph IRI among the subjects before
    filtering: that node's description is the provenance the load writes, not the source's."""
    own = "http://x.test/graph/source/a"
    graph = Graph()
    graph.add((URIRef(own), RDFS.label, Literal("x")))
    graph.add((URIRef("urn:s"), RDFS.label, Literal("y")))
    result = SourceResult(tmp_path / "a.ttl", own, 2, Report("a.ttl"), b"", graph)
    label = "<http://www.w3.org/2000/01/rdf-schema#label>"
    assert result.compact().ntriples == f'<urn:s> {label} "y" .\n'.encode()
    graph.remove((URIRef(own), None, None))
    assert result.compact().ntriples == f'<urn:s> {label} "y" .\n'.encode()


def _last(store: KnowledgeStore) -> tuple[str, tuple[str, ...] | None]:
    return store.history[-1]


def test_regression_the_history_names_the_graphs_each_snapshot_changed() -> None:
    """An upload's check keeps the stored names between uploads and reads again only the
    graphs written since (``service.store.names.stored_names``): a write that did not
    say which graphs it changed must say None (read everything), never nothing."""
    store = KnowledgeStore(None)
    assert _last(store) == (store.snapshot, None)  # opened: anything may differ
    store.replace_graph(G, _graph("en"))
    assert _last(store) == (store.snapshot, (G,))
    marking = WRITE_PREAMBLE.set(marker_sparql("history", "http://127.0.0.1:8000/"))
    try:
        store.replace_graph_ntriples(G + "2", b'<urn:s> <urn:p> "x" .\n')
    finally:
        WRITE_PREAMBLE.reset(marking)
    assert _last(store) == (store.snapshot, tuple(sorted([AUDIT, G + "2"])))
    store.update(f"INSERT DATA {{ GRAPH <{G}3> {{ <urn:s> <urn:p> 1 }} }}", graphs=(G + "3",))
    assert _last(store) == (store.snapshot, (G + "3",))
    store.update("DELETE WHERE { GRAPH ?g { <urn:s> ?p ?o } }")
    assert _last(store) == (store.snapshot, None)
    with store.deferred_publish():
        store.replace_graph(G + "4", _graph("fire"))
        store.replace_graph(G + "5", _graph("fem"))
    assert _last(store) == (store.snapshot, (G + "4", G + "5"))
    snapshots = [snapshot for snapshot, _ in store.history]
    assert len(set(snapshots)) == len(snapshots) == 6


def test_new_sources_without_a_last_line_break_are_written_whole(tmp_path: Path) -> None:
    """A batch of new sources goes in as N-Quads joined with each one's provenance: N-Triples
    that end without a line break still give every triple its graph (none lost, none
    joined to the provenance's first line)."""
    from service.store.sources import load_sources

    label = "<http://www.w3.org/2000/01/rdf-schema#label>"
    results = [
        SourceResult(
            tmp_path / f"{name}.ttl",
            f"http://x.test/graph/source/{name}",
            2,
            Report(f"{name}.ttl"),
            b"",
            Graph(),
            ntriples=f'<urn:{name}> {label} "x" .\n<urn:{name}> {label} "y" .{end}'.encode(),
        )
        for name, end in (("a", ""), ("b", "\n"))
    ]
    store = KnowledgeStore(None)
    load_sources(store, results)
    for name in "ab":
        found = store.query(
            f"SELECT ?l {{ GRAPH <http://x.test/graph/source/{name}> {{ <urn:{name}> ?p ?l }} }}"
        )
        assert isinstance(found, ox.QuerySolutions)
        assert sorted(str(row["l"].value) for row in found) == ["x", "y"]
