"""``KnowledgeStore.replace_graph_ntriples``: a graph the store has is changed by what
differs, and ends up exactly as if it had been dropped and written again, audit marker
and all (the crash half is in test_crash_safety: a CLI load replaces its graph this way)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pyoxigraph as ox
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rdflib import Graph
from rdflib.compare import isomorphic

from service.store.embedded import WRITE_PREAMBLE, KnowledgeStore

G = ox.NamedNode("http://127.0.0.1:8000/graph/source/test")
XSD = "http://www.w3.org/2001/XMLSchema#"
S: list[ox.NamedNode | ox.BlankNode] = [
    ox.NamedNode(f"http://127.0.0.1:8000/id/x/{i}") for i in range(3)
]
P = [ox.NamedNode(f"http://127.0.0.1:8000/p/{i}") for i in range(2)]
B = [ox.BlankNode(f"b{i}") for i in range(2)]
OBJECTS: list[ox.NamedNode | ox.BlankNode | ox.Literal] = [
    S[0],
    *B,
    ox.Literal("Bærum", language="nb"),
    ox.Literal('a _:b0 "quoted" <x>'),  # looks like a blank node, is a literal
    ox.Literal("<< a triple term? >>"),  # no: but replaced by DROP and INSERT, to be sure
    # Three lexical forms the store keeps as one value ("5"^^xsd:integer).
    ox.Literal("5", datatype=ox.NamedNode(XSD + "nonNegativeInteger")),
    ox.Literal("5", datatype=ox.NamedNode(XSD + "integer")),
    ox.Literal("05", datatype=ox.NamedNode(XSD + "integer")),
]
TRIPLES = [ox.Triple(s, p, o) for s in [*S, *B] for p in P for o in OBJECTS]
"""Every triple the examples draw from: blank subjects and objects among them."""

MARKER = (
    "INSERT DATA { GRAPH <http://127.0.0.1:8000/graph/audit> { "
    "<http://127.0.0.1:8000/audit/{id}> "
    "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <http://www.w3.org/ns/prov#Activity> "
    "} } ; "
)


EVENTS = (f"e{number}" for number in itertools.count())


def _ntriples(triples: list[ox.Triple]) -> bytes:
    return ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES) or b""


def _graph(data: bytes) -> Graph:
    return Graph().parse(data=data.decode(), format="nt")


def _as_written_fresh(data: bytes) -> bytes:
    """``data`` as a store that never held the graph keeps it."""
    fresh = ox.Store()
    fresh.load(data, ox.RdfFormat.N_TRIPLES, to_graph=G)
    return fresh.dump(format=ox.RdfFormat.N_TRIPLES, from_graph=G) or b""


def _stored(store: KnowledgeStore) -> bytes:
    return store._store.dump(format=ox.RdfFormat.N_TRIPLES, from_graph=G) or b""


@pytest.fixture(scope="module")
def store() -> Iterator[KnowledgeStore]:
    """One store for every example, unpublished until the end: a snapshot per write cost
    seconds here, and the publishing is tested below."""
    kept = KnowledgeStore(None)
    try:
        with kept.deferred_publish():
            yield kept
    finally:
        kept.close()


@settings(
    max_examples=25,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    st.lists(st.lists(st.sampled_from(TRIPLES), max_size=12), min_size=1, max_size=3),
    st.booleans(),
)
def test_a_replaced_graph_holds_exactly_the_new_triples(
    store: KnowledgeStore, generations: list[list[ox.Triple]], audited: bool
) -> None:
    """Each generation replaces the one before (the first also whatever the previous
    example left): blank nodes, literals that only look like blank nodes, and lexical
    forms the store keeps as one value, added, kept and removed in every order."""
    for triples in generations:
        data = _ntriples(triples)
        event = next(EVENTS)
        marker = MARKER.replace("{id}", event) if audited else ""
        token = WRITE_PREAMBLE.set(marker)
        try:
            store.replace_graph_ntriples(G.value, data)
        finally:
            WRITE_PREAMBLE.reset(token)
        assert isomorphic(_graph(_stored(store)), _graph(_as_written_fresh(data)))
        ask = f"ASK {{ GRAPH ?a {{ <http://127.0.0.1:8000/audit/{event}> ?p ?o }} }}"
        assert bool(store.query(ask)) == audited, "the marker goes in the write's transaction"


def test_replacing_a_graph_with_the_same_triples_writes_nothing() -> None:
    """Not even a snapshot: the workers keep theirs (an upload of the same workbook).
    Literals in other forms than the store keeps them too ("05"^^xsd:integer, an
    xsd:nonNegativeInteger); blank nodes are written again (no text tells them the same),
    and what might be a triple term.
    """
    store = KnowledgeStore(None)
    try:
        data = _ntriples([t for t in TRIPLES if "_:" not in str(t) and "<<" not in str(t)])
        assert set(data.split(b"\n")) != set(_as_written_fresh(data).split(b"\n"))
        store.replace_graph_ntriples(G.value, data)
        snapshot = store.snapshot
        store.replace_graph_ntriples(G.value, data)
        assert store.snapshot == snapshot
        # An audited write of the same triples still records its marker, and publishes it.
        token = WRITE_PREAMBLE.set(MARKER.replace("{id}", "same"))
        try:
            store.replace_graph_ntriples(G.value, data)
        finally:
            WRITE_PREAMBLE.reset(token)
        assert store.snapshot != snapshot
        copy = ox.Store.read_only(store.snapshot)
        assert copy.query("ASK { GRAPH ?a { <http://127.0.0.1:8000/audit/same> ?p ?o } }")
        del copy
    finally:
        store.close()


def _published(store: KnowledgeStore) -> Graph:
    copy = ox.Store.read_only(store.snapshot)
    try:
        return _graph(copy.dump(format=ox.RdfFormat.N_TRIPLES, from_graph=G) or b"")
    finally:
        del copy


def test_a_write_is_published_to_the_snapshot_before_it_returns() -> None:
    """What the query workers read (the snapshot) holds the new triples when the write
    returns: a new graph (a bulk write) and a replaced one (an update)."""
    store = KnowledgeStore(None)
    try:
        store.replace_graph_ntriples(G.value, _ntriples(TRIPLES[:10]))
        assert isomorphic(_published(store), _graph(_as_written_fresh(_ntriples(TRIPLES[:10]))))
        store.replace_graph_ntriples(G.value, _ntriples(TRIPLES[5:15]))
        assert isomorphic(_published(store), _graph(_as_written_fresh(_ntriples(TRIPLES[5:15]))))
    finally:
        store.close()


def test_many_groups_of_blank_nodes_are_deleted_by_one_pattern(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Past ``BLANK_GROUPS`` groups, the stored blank-node triples go by one pattern over
    the graph (a pattern per group would be hundreds of operations)."""
    from service.store import graph_changes

    monkeypatch.setattr(graph_changes, "BLANK_GROUPS", 1)
    store = KnowledgeStore(None)
    try:
        with store.deferred_publish():
            for data in (TRIPLES[::3], TRIPLES[1::3], TRIPLES[::3]):
                store.replace_graph_ntriples(G.value, _ntriples(data))
                assert isomorphic(
                    _graph(_stored(store)), _graph(_as_written_fresh(_ntriples(data)))
                )
    finally:
        store.close()


def test_a_new_graph_taking_over_others_drops_them_in_its_own_write() -> None:
    """A preamble that does more than mark (an upload's DROP of the graphs it takes over)
    cannot go in a bulk write: the new graph, the marker and the drop go in one update."""
    store = KnowledgeStore(None)
    try:
        old = "http://127.0.0.1:8000/graph/source/old"
        store.replace_graph_ntriples(old, _ntriples(TRIPLES[:3]))
        preamble = MARKER.replace("{id}", "takeover") + f"DROP SILENT GRAPH <{old}> ;\n"
        token = WRITE_PREAMBLE.set(preamble)
        try:
            store.replace_graph_ntriples(G.value, _ntriples(TRIPLES[3:9]))
        finally:
            WRITE_PREAMBLE.reset(token)
        assert store.graphs() == ["http://127.0.0.1:8000/graph/audit", G.value]
        assert isomorphic(
            _graph(_stored(store)), _graph(_as_written_fresh(_ntriples(TRIPLES[3:9])))
        )
    finally:
        store.close()
