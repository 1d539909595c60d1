"""The names an upload's check reads from the store (``service.store.names``): the same as
the CONSTRUCT a remote store is sent, and, kept in a query worker between uploads, the
same as read afresh after every write."""

from __future__ import annotations

from pathlib import Path

import pyoxigraph as ox
import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import RDF, RDFS

from loaders.namespaces import KG
from loaders.oxigraph_terms import rdflib_graph
from loaders.resolver import Resolver
from loaders.validation import ontology_graph
from service.access.uploads import warm_steps
from service.store import names
from service.store.embedded import KnowledgeStore
from service.store.names import store_names, stored_context_query, stored_names

BASE = "http://127.0.0.1:8000/"


def test_regression_stored_names_are_what_the_construct_gives(demo_store: Path) -> None:
    """Read by index scans per graph, not the CONSTRUCT (1.6 s on the national demo):
    every triple the CONSTRUCT gives, and nothing else, the reference data left out."""
    store = ox.Store.read_only(str(demo_store))
    base = next(
        g.value.split("graph/")[0] for g in store.named_graphs() if isinstance(g, ox.NamedNode)
    )
    found = store.query(stored_context_query(base), use_default_graph_as_union=True)
    assert isinstance(found, ox.QueryTriples)
    constructed = set(found)
    read = store_names(store, base)
    assert {t for triples in read.values() for t in triples} == constructed
    assert len(constructed) > 10_000
    assert not [g for g in read if g.startswith(f"{base}graph/reference/")]


def _add(store: ox.Store, graph: str, subject: str, cls: URIRef, label: str) -> None:
    node, name = ox.NamedNode(subject), ox.NamedNode(graph)
    store.add(ox.Quad(node, ox.NamedNode(str(RDF.type)), ox.NamedNode(cls), name))
    store.add(ox.Quad(node, ox.NamedNode(str(RDFS.label)), ox.Literal(label), name))


@pytest.fixture
def forgetting() -> None:
    names._KEPT = None  # what another test's check left in this process


def _index(resolver: Resolver) -> tuple[object, object]:
    """A layer's own index and the keys it shows names under, per class."""
    index = {c: {k: v for k, v in keys.items() if v} for c, keys in resolver._index.items()}
    shown = {c: set(names) for c, names in resolver._display.items() if names}
    return {c: keys for c, keys in index.items() if keys}, shown


def test_regression_kept_names_follow_the_graphs_a_write_changed(forgetting: None) -> None:
    """A worker keeps the names of the snapshot it read last and reads again only the graphs
    the store's history names: after the writes, what it has is what a fresh read gives,
    its resolver layer (changed in place, ``Resolver.remove``) indexes what a new one
    would, and with nothing changed in the names it keeps the same graph."""
    store = ox.Store()
    vendor, application = f"{BASE}id/leverandor/fyr", f"{BASE}id/applikasjon/fyr"
    other = f"{BASE}id/leverandor/fyr-2"
    _add(store, f"{BASE}graph/a", vendor, KG.Vendor, "Fyr Data AS")
    _add(store, f"{BASE}graph/c", other, KG.Vendor, "FYR DATA AS")  # the same name
    _add(store, f"{BASE}graph/reference/x", f"{BASE}id/x", KG.Vendor, "Referanse")
    parent = Resolver(ontology_graph())
    first = stored_names(store, BASE, "1", [("1", None)])
    assert (URIRef(vendor), RDFS.label, Literal("Fyr Data AS")) in first
    assert not list(first.triples((URIRef(f"{BASE}id/x"), None, None)))
    kept = first.resolver_over(parent)

    store.remove_graph(ox.NamedNode(f"{BASE}graph/a"))
    _add(store, f"{BASE}graph/b", application, KG.Application, "Fyrregister")
    history = [("1", None), ("2", (f"{BASE}graph/a",)), ("3", (f"{BASE}graph/b",))]
    second = stored_names(store, BASE, "3", history)
    fresh = {t for triples in store_names(store, BASE).values() for t in triples}
    assert set(second) == set(rdflib_graph(fresh))
    assert (URIRef(application), RDF.type, KG.Application) in second
    assert not list(second.triples((URIRef(vendor), None, None)))
    assert second.resolver_over(parent) is kept
    made = parent.overlay()
    made.add_graph(second)
    assert _index(kept) == _index(made)
    assert kept.resolve((KG.Vendor,), "fyr data as") == URIRef(other)
    assert kept.displays(KG.Vendor)["fyr data as"] == "FYR DATA AS"

    history.append(("4", (f"{BASE}graph/audit",)))
    assert stored_names(store, BASE, "4", history) is second
    # A snapshot the history does not lead to from the kept one: everything read again.
    _add(store, f"{BASE}graph/d", vendor, KG.Vendor, "Fyr Data AS")
    assert (URIRef(vendor), RDF.type, KG.Vendor) in stored_names(store, BASE, "9", history)


def test_the_warm_up_reads_the_names_of_the_open_snapshot(forgetting: None) -> None:
    """A query worker's warm-up (``uploads.warm_steps``) ends with the stored names of the
    snapshot it has open: its first upload then reads only what writes changed since."""
    store = KnowledgeStore(None)
    try:
        vendor = f"{BASE}id/leverandor/varm"
        data = Graph()
        data.add((URIRef(vendor), RDF.type, KG.Vendor))
        data.add((URIRef(vendor), RDFS.label, Literal("Varm Data AS")))
        store.replace_graph(f"{BASE}graph/varm", data)
        warm_steps(BASE, "sparql", lambda: store.snapshot)[-1]()
        assert names._KEPT is not None and names._KEPT.snapshot == store.snapshot
        assert (URIRef(vendor), RDF.type, KG.Vendor) in names._KEPT.context
    finally:
        store.close()
