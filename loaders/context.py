"""The context a workbook is mapped against, and its names indexed once.

A workbook's references (applications, vendors, services, municipalities) resolve
against the reference data, the names already stored and the other sources of its
batch. Indexing that context is the costly part of mapping a small workbook, so the
index is kept per context here, apart from the mapping of cells (``loaders.mapping``).
"""

from __future__ import annotations

import weakref
from collections.abc import Generator, Iterable
from typing import Any, NoReturn

from rdflib import Graph
from rdflib.graph import ReadOnlyGraphAggregate
from rdflib.paths import Path
from rdflib.term import Node, URIRef

from loaders.cells import MunicipalityRegister, municipality_register
from loaders.collector import keep_long_lived
from loaders.graph_memo import GraphMemo
from loaders.namespaces import KG
from loaders.resolver import Resolver, records

Triple = tuple[Node, Node, Node]

_PER_CONTEXT: dict[
    tuple[int, ...],
    tuple[tuple[weakref.ref[Graph], ...], tuple[int, ...], Resolver, MunicipalityRegister],
] = {}
"""Keyed by the context's layers, not by the context: ``validate --endpoint`` reads the
file twice (the check, then the rows its changes name), each time through a new layered
context of the same graphs, and indexed the stored names again for the second."""
_PER_LAYER: GraphMemo[tuple[Resolver, MunicipalityRegister]] = GraphMemo(most=0)
"""The first layer's index (the reference data), one at a time."""


class NamesGraph(Graph):
    """Names of nodes (typed nodes and their keys: ``service.store.names``) as a read-only
    graph, by subject, that keeps the resolver layer made of it (``context_index``).

    Why not an rdflib graph: adding an upload's stored names to one cost 0.5-0.7 s for the
    national demo's 29,237, and indexing them again for every check another 0.4 s; a query
    worker keeps one of these between uploads (``service.store.names.stored_names``). It
    answers what a check asks of a context layer (a subject's triples, a predicate's, all
    of them, its size) and refuses to change: the memos kept per graph object
    (``loaders.graph_memo``) rely on that (its resolver layer goes on, changed, to the
    graph ``changed`` makes of it).
    """

    def __init__(self, triples: Iterable[Triple]) -> None:
        super().__init__()
        self._by_subject = _by_subject(triples)
        self._by_predicate: dict[Node, list[Triple]] | None = None
        self._size = sum(len(found) for found in self._by_subject.values())
        self._layer: tuple[Resolver, Resolver] | None = None
        self._changed: tuple[NamesGraph, set[Node]] | None = None
        """The graph this one was made from and the subjects that differ
        (``changed``), until its resolver layer is taken over (``resolver_over``)."""

    @classmethod
    def changed(
        cls, before: NamesGraph, subjects: set[Node], triples: Iterable[Triple]
    ) -> NamesGraph:
        """``before`` with what it has of ``subjects`` replaced by ``triples`` (all there
        now is about them). Why: a write changes the names of a few hundred nodes of
        tens of thousands; copying the rest and changing ``before``'s resolver layer for
        these only (``Resolver.remove``, then ``add``) took milliseconds where making
        both again took 0.6 s for the national demo. ``before`` gives its layer up."""
        made = cls(())
        made._by_subject = {s: t for s, t in before._by_subject.items() if s not in subjects}
        made._by_subject.update(_by_subject(t for t in triples if t[0] in subjects))
        made._size = sum(len(found) for found in made._by_subject.values())
        if before._layer is not None:  # else there is no layer to take over
            made._changed = (before, subjects)
        return made

    def __len__(self) -> int:
        return self._size

    def triples(self, triple: Any) -> Generator[Any, None, None]:
        subject, predicate, value = triple
        if isinstance(predicate, Path):
            for s, o in predicate.eval(self, subject, value):
                yield s, predicate, o
            return
        found: Iterable[Triple]
        if subject is not None:
            found = self._by_subject.get(subject, ())
        elif predicate is not None:
            found = self._predicates().get(predicate, ())
        else:
            found = (t for triples in self._by_subject.values() for t in triples)
        for t in found:
            if (predicate is None or t[1] == predicate) and (value is None or t[2] == value):
                yield t

    def _predicates(self) -> dict[Node, list[Triple]]:
        if self._by_predicate is None:
            self._by_predicate = {}
            for found in self._by_subject.values():
                for t in found:
                    self._by_predicate.setdefault(t[1], []).append(t)
        return self._by_predicate

    def add(self, triple: Any) -> NoReturn:
        raise TypeError("a NamesGraph is read-only")

    def addN(self, quads: Any) -> NoReturn:  # noqa: N802 (rdflib's name)
        raise TypeError("a NamesGraph is read-only")

    def remove(self, triple: Any) -> NoReturn:
        raise TypeError("a NamesGraph is read-only")

    def resolver_over(self, parent: Resolver) -> Resolver:
        """``parent`` with this graph's names over it, made once per ``parent``: taken over
        from the graph this one was ``changed`` from when that had one over ``parent``."""
        if self._layer is not None and self._layer[0] is parent:
            return self._layer[1]
        before, subjects = self._changed or (None, set())
        self._changed = None
        taken = before._layer if before is not None else None
        if before is not None and taken is not None and taken[0] is parent:
            before._layer = None  # changed below: never again the old names' layer
            layer = taken[1]
            old = records(t for s in subjects for t in before._by_subject.get(s, ()))
            new = records(t for s in subjects for t in self._by_subject.get(s, ()))

            def names_of(node: URIRef) -> list[str]:
                if node in subjects:
                    return []
                return records(self._by_subject.get(node, ())).get(node, ([], [], []))[1]

            for node, (types, names, ids) in old.items():
                layer.remove(node, types, names, ids, names_of)
            for node, (types, names, ids) in new.items():
                layer.add(node, types, names, ids)
        else:
            layer = parent.overlay()
            layer.add_graph(self)
        self._layer = (parent, layer)
        return layer


def _by_subject(triples: Iterable[Triple]) -> dict[Node, list[Triple]]:
    found: dict[Node, dict[Triple, None]] = {}
    for triple in triples:
        found.setdefault(triple[0], {})[triple] = None
    return {subject: list(kept) for subject, kept in found.items()}


def layered_context(*graphs: Graph) -> Graph:
    """``graphs`` read as one context, without copying them.

    The reference data (tens of thousands of triples) is the same for every check,
    the stored names and a batch's shared sources change: copying all of it into a
    new graph, and indexing that, cost each upload about a second. The first graph's
    names are indexed once per process (``context_index``), the others on top.
    """
    layers: list[Graph] = []
    for graph in graphs:
        layers.extend(context_layers(graph))
    return layers[0] if len(layers) == 1 else ReadOnlyGraphAggregate(layers)


def context_layers(context: Graph) -> list[Graph]:
    """The graphs a ``layered_context`` reads as one, the reference data first."""
    if isinstance(context, ReadOnlyGraphAggregate):
        return [layer for graph in context.graphs for layer in context_layers(graph)]
    return [context]


_BY_SUBJECT: GraphMemo[dict[Node, list[Triple]]] = GraphMemo()


def by_subject(graph: Graph) -> dict[Node, list[Triple]]:
    """``graph``'s triples by subject, made once per graph (and again if it grew): for the
    graphs every check reads (the ontology, the reference data), where a validation looks
    up thousands of nodes and rdflib's own lookup cost a tenth of an upload's check."""
    found = _BY_SUBJECT.get(graph)
    if found is not None:
        return found
    index: dict[Node, list[Triple]] = {}
    for triple in graph:
        index.setdefault(triple[0], []).append(triple)
    return _BY_SUBJECT.put(graph, index)


def context_index(ontology: Graph, context: Graph) -> tuple[Resolver, MunicipalityRegister]:
    """The names and municipalities of ``context``, indexed once per context graph.

    A batch maps hundreds of workbooks against one context; indexing it again for
    each cost a national load about a tenth of a second per workbook. A layered
    context (``layered_context``) reuses its first layer's index (the reference
    data, the same for every upload) and indexes only the layers above it.
    """
    layers = context_layers(context)
    key = tuple(id(layer) for layer in layers)
    known = _PER_CONTEXT.get(key)
    if (
        known is not None
        and all(ref() is layer for ref, layer in zip(known[0], layers, strict=True))
        and known[1] == tuple(len(layer) for layer in layers)
    ):
        return known[2], known[3]
    base, *above = layers
    found = _PER_LAYER.get(base)
    if found is None:
        found = _PER_LAYER.put(
            base, (Resolver.from_graphs(ontology, ontology, base), municipality_register(base))
        )
        keep_long_lived()
    resolver, register = found
    if len(above) == 1 and isinstance(above[0], NamesGraph):
        resolver = above[0].resolver_over(resolver)
    elif above:
        resolver = resolver.overlay()
        for layer in above:
            resolver.add_graph(layer)
        if any(next(g.triples((None, KG.municipalityNumber, None)), None) for g in above):
            register = municipality_register(context)
    _PER_CONTEXT.clear()
    _PER_CONTEXT[key] = (
        tuple(weakref.ref(layer) for layer in layers),
        tuple(len(layer) for layer in layers),
        resolver,
        register,
    )
    return resolver, register


def forget_context_index() -> None:
    """Drop the index ``context_index`` keeps: a query worker that checked an upload
    against a national store would otherwise hold its names until the next check. The
    first layer's (the reference data, the same for every check) is kept."""
    _PER_CONTEXT.clear()
