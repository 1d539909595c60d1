"""What a source may refer to of what others hold: names, for the resolver and the checks.

Why a module of its own: an upload, ``kommunegraf validate --store/--endpoint``, the
pre-filled workbook and a national batch's shared catalogue all read the same names (typed
nodes, their keys, an application's vendor), from the store or from a checked graph; the
loading pipeline in ``service.store.sources`` is only one of their users.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

import pyoxigraph as ox
from rdflib import Graph, URIRef
from rdflib.namespace import RDF, SH
from rdflib.term import Node

from loaders.context import NamesGraph
from loaders.namespaces import KG
from loaders.oxigraph_terms import rdflib_terms
from loaders.resolver import KEY_PROPERTIES, referable_classes

if TYPE_CHECKING:
    from service.store.backend import Backend

CONTEXT_PROPERTIES = (*KEY_PROPERTIES, KG.vendor)
"""What uploads see of a stored or shared node: its keys, and an application's vendor
(an old workbook's contract end column becomes contracts with that vendor,
``loaders.old_contract_end``)."""


def names_of(graph: Graph) -> Graph:
    """What other sources need of a shared source: its typed nodes and their keys."""
    names = Graph()
    for subject, _, cls in graph.triples((None, RDF.type, None)):
        if isinstance(subject, URIRef):
            names.add((subject, RDF.type, cls))
            for key in CONTEXT_PROPERTIES:
                for value in graph.objects(subject, key):
                    names.add((subject, key, value))
    return names


async def stored_context(backend: Backend, base_iri: str) -> Graph:
    """What uploads may refer to in the store: typed nodes with their names and ids.

    Reference data is left out (the loaders have it already); only the types,
    labels and identifiers are taken, which is what name resolution and the
    shapes' class checks need, not whole graphs. Read through the backend like every
    other read, so an upload, ``kommunegraf load`` and ``validate --store`` see the same.
    """
    from service.store.reads import construct

    return await construct(backend, stored_context_query(base_iri))


@cache
def _referable_types() -> str:
    """The ``referable_classes`` of the shapes, as a SPARQL ``VALUES`` list."""
    from loaders.validation import ontology_graph, shapes_graph

    targets = {o for o in shapes_graph().objects(None, SH["class"]) if isinstance(o, URIRef)}
    return " ".join(f"<{c}>" for c in sorted(referable_classes(ontology_graph(), targets)))


def stored_context_query(base_iri: str) -> str:
    """The CONSTRUCT behind ``stored_context``; also sent to a running service
    (``kommunegraf validate --endpoint``), so a check there sees what an upload sees.

    Only nodes a cell may refer to (``referable_classes``): the contracts, integrations,
    processing activities and agreements of every municipality were more than half of
    the national demo's 100,000 triples here, and every upload read and indexed them.
    Their keys and an application's vendor (``CONTEXT_PROPERTIES``)."""
    keys = " ".join(f"<{p}>" for p in CONTEXT_PROPERTIES)
    types = _referable_types()
    return f"""CONSTRUCT {{ ?s a ?type . ?s ?p ?o }} WHERE {{
          GRAPH ?g {{ VALUES ?type {{ {types} }} ?s a ?type .
            OPTIONAL {{ ?s ?p ?o . VALUES ?p {{ {keys} }} }} }}
          FILTER(!STRSTARTS(STR(?g), "{base_iri}graph/reference/"))
        }}"""


_RDF_TYPE = ox.NamedNode(str(RDF.type))


@cache
def _referable() -> tuple[ox.NamedNode, ...]:
    """``_referable_types`` as pyoxigraph terms, for the index scans of ``graph_names``."""
    return tuple(ox.NamedNode(iri) for iri in re.findall(r"<([^<>]*)>", _referable_types()))


@cache
def _keys() -> tuple[ox.NamedNode, ...]:
    return tuple(ox.NamedNode(str(p)) for p in CONTEXT_PROPERTIES)


def graph_names(store: ox.Store, graph: ox.NamedNode) -> tuple[ox.Triple, ...]:
    """What ``stored_context_query`` finds in one named graph: its nodes of a referable
    class, typed, and their keys in that graph, read by index scans of that graph only
    (``quads_for_pattern`` with the graph given: the store's graph-first indexes).

    Why not the CONSTRUCT: it matched every typed node of the reference data and filtered
    them out afterwards (75 ms on a store of the reference data and the catalogue, these
    scans 10 ms with the rdflib terms made), and on the national demo the CONSTRUCT and its
    rdflib graph took 4.4 CPU s for 29,237 triples, these scans 1.2 (``bench.names``, a
    loaded machine)."""
    typed: list[ox.Triple] = []
    subjects: set[ox.NamedNode | ox.BlankNode | ox.Triple] = set()
    for cls in _referable():
        for quad in store.quads_for_pattern(None, _RDF_TYPE, cls, graph):
            typed.append(quad.triple)
            subjects.add(quad.subject)
    if not subjects:
        return ()
    keyed = [
        quad.triple
        for key in _keys()
        for quad in store.quads_for_pattern(None, key, None, graph)
        if quad.subject in subjects
    ]
    return (*typed, *keyed)


def _referable_graph(graph: str, base_iri: str) -> bool:
    """Whether ``stored_context_query`` reads names from the named graph ``graph``: any
    that is not reference data (the loaders have that already)."""
    return not graph.startswith(f"{base_iri}graph/reference/")


def store_names(store: ox.Store, base_iri: str) -> dict[str, tuple[ox.Triple, ...]]:
    """``graph_names`` of every graph ``stored_context_query`` reads, by graph IRI (graphs
    without names left out); the reference data's graphs are skipped without a scan (the
    CONSTRUCT matched their typed nodes, then dropped them)."""
    found: dict[str, tuple[ox.Triple, ...]] = {}
    for graph in store.named_graphs():
        if isinstance(graph, ox.NamedNode) and _referable_graph(graph.value, base_iri):
            names = graph_names(store, graph)
            if names:
                found[graph.value] = names
    return found


def _graph_names(store: ox.Store, graph: str, base_iri: str) -> tuple[ox.Triple, ...]:
    """``graph_names`` of the graph ``graph`` names, none for one it does not read (the
    reference data) or that cannot be in the store (not an IRI)."""
    if not _referable_graph(graph, base_iri):
        return ()
    try:
        return graph_names(store, ox.NamedNode(graph))
    except ValueError:
        return ()


History = Sequence[tuple[str, tuple[str, ...] | None]]
"""The embedded store's last snapshots, oldest first, each with the named graphs written
since the one before it (None: not known, any may have changed):
``KnowledgeStore.history``."""


def changed_since(old: str, new: str, history: History) -> set[str] | None:
    """The graphs that may differ between snapshot ``old`` and snapshot ``new``; None when
    ``history`` cannot tell (``old`` too old or unknown, a write that did not say which
    graphs it changed): then everything is read again.

    >>> history = [("1", None), ("2", ("urn:a",)), ("3", ("urn:b",))]
    >>> sorted(changed_since("1", "3", history)), changed_since("3", "3", history)
    (['urn:a', 'urn:b'], set())
    >>> changed_since("0", "3", history), changed_since("2", "4", history)
    (None, None)
    """
    if old == new:
        return set()
    snapshots = [snapshot for snapshot, _ in history]
    if old not in snapshots or new not in snapshots[snapshots.index(old) + 1 :]:
        return None
    changed: set[str] = set()
    for _, graphs in history[snapshots.index(old) + 1 : snapshots.index(new) + 1]:
        if graphs is None:
            return None
        changed.update(graphs)
    return changed


Triple = tuple[Node, Node, Node]


def _rdflib(triples: tuple[ox.Triple, ...]) -> tuple[Triple, ...]:
    term = rdflib_terms()
    return tuple((term(t.subject), term(t.predicate), term(t.object)) for t in triples)  # type: ignore[arg-type]


@dataclass
class _Kept:
    """The names a query worker read last (``stored_names``), per graph, and their graph."""

    base_iri: str
    snapshot: str
    graphs: dict[str, tuple[Triple, ...]]
    context: NamesGraph


_KEPT: _Kept | None = None


def stored_names(
    store: ox.Store, base_iri: str, snapshot: str = "", history: History = ()
) -> NamesGraph:
    """What ``stored_context_query`` gives on ``store`` (the snapshot ``snapshot``), as a
    ``NamesGraph``: for an upload's check in a query worker.

    Why kept between uploads, per graph: an upload into the national demo read its 29,237
    names again (the CONSTRUCT 1.7-1.9 s, an rdflib graph of them 0.8 s) and indexed them
    again (0.4 s): most of the 3.6 s a system owner waited. A worker keeps the names of
    the snapshot it read last (its warm-up reads them: ``uploads.warm_steps``), and for a
    newer one reads again only the graphs the writes in between changed, as the store's
    ``history`` says; when it cannot say (a SPARQL update, a Graph Store DELETE, a
    snapshot too old), everything is read again. When the names changed (an upload that
    writes what its graph had changes none), a new graph is made from the old one
    (``NamesGraph.changed``: a new object, so the memos kept per graph object,
    ``loaders.graph_memo``, stay right) and the old one's resolver layer is changed for the
    nodes that changed. A snapshot's path names one state for the life of a worker (a
    worker serves one store). The price: the names in each worker's memory between
    uploads (about 75 MB with their resolver layer for the national demo).
    """
    global _KEPT
    kept = _KEPT if _KEPT is not None and _KEPT.base_iri == base_iri and snapshot else None
    changed = None if kept is None else changed_since(kept.snapshot, snapshot, history)
    if kept is not None and changed is not None:
        graphs = dict(kept.graphs)
        for iri in changed:
            names = _rdflib(_graph_names(store, iri, base_iri))
            if names:
                graphs[iri] = names
            else:
                graphs.pop(iri, None)
        if graphs == kept.graphs:
            kept.snapshot = snapshot
            return kept.context
        subjects = {
            t[0]
            for iri in changed
            for names in (kept.graphs.get(iri, ()), graphs.get(iri, ()))
            for t in names
        }
        every = (t for names in graphs.values() for t in names)
        context = NamesGraph.changed(kept.context, subjects, every)
    else:
        graphs = {iri: _rdflib(found) for iri, found in store_names(store, base_iri).items()}
        context = NamesGraph(t for names in graphs.values() for t in names)
    _KEPT = _Kept(base_iri, snapshot, graphs, context) if snapshot else None
    return context
