"""Run the compiled shapes (``loaders.shacl_sparql``) in a pyoxigraph store.

Why a module of its own: this is the half of the engine that touches data. The new
triples go into the named graph ``DATA_GRAPH`` (the checks take their focus nodes
from there), what they reference into another, and every check is one query over
the union of the two. Each node shape's focus nodes are found first, in one query, and
written into a third graph where its checks look them up. The queries run one after the
other: on two threads they took 7-25 % more CPU for the same wall time (measured on
batches of 16 workbooks), so the pool of two threads they once had was let go.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from typing import ClassVar

import pyoxigraph as ox
from rdflib.term import Node

from loaders.oxigraph_terms import OxTerm, ox_term
from loaders.problems import Problem
from loaders.shacl_compiled import Check, CompiledShapes, Run
from loaders.shacl_sparql import DATA_GRAPH, FOCUS_GRAPH, FOCUS_OF

log = logging.getLogger(__name__)

CONTEXT_GRAPH = ox.NamedNode("urn:x-kommunegraf:validation:context")
_DATA = ox.NamedNode(DATA_GRAPH)
_TRUE = ox.Literal("true", datatype=ox.NamedNode("http://www.w3.org/2001/XMLSchema#boolean"))
_CHECKED: list[ox.NamedNode | ox.BlankNode | ox.DefaultGraph] = [_DATA, CONTEXT_GRAPH]
"""The checks' default graph: the new data and its context (not the focus nodes' graph)."""


_KNOWN_TERMS = 500_000
"""Terms remembered across batches: the reference data's (municipalities, LOS, laws) come
back in every batch's context, and an upload's check is short enough for their
conversion to matter (a sixth of Oslo's)."""


class _Terms:
    """rdflib terms as pyoxigraph terms, each converted once per process (up to a bound)."""

    cache: ClassVar[dict[Node, OxTerm]] = {}

    def __call__(self, node: Node) -> OxTerm:
        term = self.cache.get(node)
        if term is None:
            if len(self.cache) >= _KNOWN_TERMS:
                self.cache.clear()
            term = self.cache[node] = ox_term(node)
        return term


def _quads(
    graphs: Iterable[Iterable[tuple[Node, Node, Node]]], graph: ox.NamedNode, terms: _Terms
) -> list[ox.Quad]:
    return [
        ox.Quad(terms(s), terms(p), terms(o), graph)  # type: ignore[arg-type]
        for triples in graphs
        for s, p, o in triples
    ]


def context_quads(triples: Iterable[tuple[Node, Node, Node]]) -> list[ox.Quad]:
    """``triples`` as quads of the checks' context graph, for ``evaluate``'s ``known``."""
    return _quads([triples], CONTEXT_GRAPH, _Terms())


def _text(term: object) -> str | None:
    if term is None:
        return None
    value = getattr(term, "value", None)
    return str(value) if value is not None else str(term)


def _matches(pattern: re.Pattern[str] | None, value: object) -> bool:
    """Whether a value passes a pattern checked in Python (blank nodes never do)."""
    if pattern is None or isinstance(value, ox.BlankNode):
        return False
    return pattern.search(_text(value) or "") is not None


def _problem(check: Check, this: object, value: object) -> Problem:
    return Problem(
        check.severity,
        _text(this) or "",
        check.path,
        _text(value),
        check.message_nb,
        check.message_en,
        str(check.shape),
    )


def _run(store: ox.Store, run: Run) -> list[Problem]:
    solutions = store.query(run.query, use_default_graph_as_union=True)
    assert isinstance(solutions, ox.QuerySolutions)
    with_value = any(variable.value == "value" for variable in solutions.variables)
    problems = []
    if run.flags:
        for solution in solutions:
            value = solution["value"] if with_value else None
            for check, flag in zip(run.checks, run.flags, strict=True):
                if solution[flag] == _TRUE:
                    problems.append(_problem(check, solution["this"], value))
        return problems
    (check,) = run.checks
    for solution in solutions:
        value = solution["value"] if with_value else None
        if not _matches(check.python_pattern, value):
            problems.append(_problem(check, solution["this"], value))
    return problems


def evaluate(
    graphs: Sequence[Iterable[tuple[Node, Node, Node]]],
    referenced: Iterable[tuple[Node, Node, Node]],
    compiled: CompiledShapes,
    data: bytes | None = None,
    known: Sequence[ox.Quad] = (),
) -> list[Problem]:
    """Every violation of the compiled checks whose focus node is a subject of ``graphs``.

    ``graphs`` are the sources' triples (rdflib graphs, or their triples in lists);
    ``referenced`` is the context the data may point at (types of referenced nodes,
    the ontology's classes). The subjects of ``graphs`` must not overlap: the
    store holds them as one graph. ``data``: the same triples as N-Triples without
    blank nodes, parsed instead of converted term by term. ``known``: more of the context,
    already in the context graph (``context_quads``).
    """
    terms = _Terms()
    store = ox.Store()
    if data is not None:
        # lenient: the text is ``embedded.ntriples``'s, every IRI of it already checked by
        # pyoxigraph when written; checking them again was a third of this load (Oslo's 4,384
        # triples: 9.5 -> 6.8 ms).
        store.load(data, ox.RdfFormat.N_TRIPLES, to_graph=_DATA, lenient=True)
    else:
        store.extend(_quads(graphs, _DATA, terms))
    store.extend(_quads([referenced], CONTEXT_GRAPH, terms))
    store.extend(known)
    found_for = _find_focus_nodes(store, compiled)
    runs = [run for run in compiled.runs if run.focus in found_for]
    return [problem for run in runs for problem in _run(store, run)]


def _find_focus_nodes(store: ox.Store, compiled: CompiledShapes) -> set[str]:
    """Every node shape's focus nodes among the new data, written into ``FOCUS_GRAPH``
    for its checks to look up; the keys of the shapes that have any (the checks of the
    others cannot find anything, and are not run)."""
    solutions = store.query(compiled.focus_query, default_graph=_CHECKED)
    assert isinstance(solutions, ox.QuerySolutions)
    graph, focus_of = ox.NamedNode(FOCUS_GRAPH), ox.NamedNode(FOCUS_OF)
    quads, keys = [], set()
    for row in solutions:
        this, key = row[0], row[1]
        quads.append(ox.Quad(this, focus_of, key, graph))
        keys.add(key.value)
    store.extend(quads)
    return keys
