"""A value kept per rdflib graph, while that graph lives and keeps its size.

Why a module of its own: the indexes and conversions every check reads (a graph's
triples by subject, its nodes as context quads, the pyoxigraph triples it was parsed
from, a context layer's resolver) are each made once per graph object, and the rule for
when such a value is still good was written out beside each of them.
"""

from __future__ import annotations

import weakref
from typing import Generic, TypeVar

from rdflib import Graph

T = TypeVar("T")


class GraphMemo(Generic[T]):
    """``graph`` → a value made from it, good while ``graph`` is the same object and has
    as many triples as when the value was made.

    The size stands in for a change: nothing in the loaders edits such a graph in place
    by removing as many triples as it adds. ``most``: past that many graphs the memo
    starts again (0: one graph at a time); None: no bound, each entry goes with its graph.

    >>> memo: GraphMemo[str] = GraphMemo()
    >>> graph = Graph()
    >>> memo.put(graph, "made")
    'made'
    >>> memo.get(graph)
    'made'
    >>> from rdflib import URIRef
    >>> _ = graph.add((URIRef("urn:s"), URIRef("urn:p"), URIRef("urn:o")))
    >>> memo.get(graph) is None
    True
    """

    def __init__(self, most: int | None = 8) -> None:
        self._entries: dict[int, tuple[weakref.ref[Graph], int, T]] = {}
        self._most = most

    def get(self, graph: Graph) -> T | None:
        """The value made from ``graph``, None if none was or the graph changed size."""
        entry = self._entries.get(id(graph))
        if entry is None or entry[0]() is not graph or entry[1] != len(graph):
            return None
        return entry[2]

    def put(self, graph: Graph, value: T) -> T:
        """Keep ``value`` as ``graph``'s, at its size now; returns ``value``."""
        if self._most is not None and len(self._entries) > self._most:
            self._entries.clear()
        self._entries[id(graph)] = (weakref.ref(graph), len(graph), value)
        if self._most is None:
            weakref.finalize(graph, self._entries.pop, id(graph), None)
        return value
