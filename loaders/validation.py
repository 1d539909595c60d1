"""SHACL validation of new triples against the project's shapes.

Why a module of its own: the same check runs on uploads, on reference data and in
the tests, and its results must come back as plain records (focus node, path,
value, message in nb and en) that a report can map to sheets, rows and columns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Literal as TypingLiteral

import pyoxigraph as ox
from pyshacl import validate as shacl_validate
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import RDF, SH
from rdflib.term import Node

from loaders import pyshacl_focus_fix
from loaders.namespaces import KGSH, bind_prefixes
from loaders.paths import ontology_dir, shapes_dir

pyshacl_focus_fix.apply()

Severity = TypingLiteral["error", "warning", "info"]

_SEVERITIES: dict[Node, Severity] = {
    SH.Violation: "error",
    SH.Warning: "warning",
    SH.Info: "info",
}


@dataclass(frozen=True)
class Problem:
    """One SHACL result, in the terms a report needs."""

    severity: Severity
    focus_node: str
    path: str | None
    value: str | None
    message_nb: str
    message_en: str
    shape: str | None = None


@dataclass
class ValidationReport:
    """All problems of one validation; the data is loadable when there is no error."""

    problems: list[Problem] = field(default_factory=list)

    @property
    def conforms(self) -> bool:
        return not any(p.severity == "error" for p in self.problems)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]


@cache
def shapes_graph() -> Graph:
    """The union of every shape file, parsed once per process."""
    graph = bind_prefixes(Graph())
    for path in sorted(shapes_dir().glob("*.ttl")):
        graph.parse(path, format="turtle")
    return graph


@cache
def ontology_graph() -> Graph:
    """The ontology, which also holds the SKOS concept schemes the shapes list."""
    graph = bind_prefixes(Graph())
    for path in sorted(ontology_dir().glob("*.ttl")):
        graph.parse(path, format="turtle")
    return graph


@cache
def _sparql_checked_paths() -> frozenset[Node]:
    """Paths whose shapes use the SPARQL-based modulus-11 constraint component."""
    shapes = shapes_graph()
    return frozenset(
        path
        for shape in shapes.subjects(KGSH.modulus11, Literal(True))
        if (path := shapes.value(shape, SH.path)) is not None
    )


def _as_store(data: Graph) -> ox.Store:
    """``data`` and the ontology in a pyoxigraph Store, for pyshacl's SPARQL constraints.

    On an rdflib graph pyshacl parses a SPARQL-based constraint's query again for
    every value (about 0.2 s each: 10 s for a catalogue of 50 vendors); on a Store
    it does not. For everything else the rdflib graph is faster, so only data with
    such values goes this way.
    """
    store = ox.Store()
    for graph in (data, ontology_graph()):
        store.load(graph.serialize(format="nt", encoding="utf-8"), ox.RdfFormat.N_TRIPLES)
    return store


def _text(node: Node | None) -> str | None:
    return None if node is None else str(node)


def _messages(results: Graph, result: Node) -> tuple[str, str]:
    by_lang: dict[str | None, str] = {}
    for message in results.objects(result, SH.resultMessage):
        if isinstance(message, Literal):
            by_lang.setdefault(message.language, str(message))
    fallback = by_lang.get(None) or next(iter(by_lang.values()), "")
    return by_lang.get("nb", fallback), by_lang.get("en", fallback)


def _focusable(node: Node) -> bool:
    return isinstance(node, URIRef) and str(node).lower().startswith(
        ("http:", "https:", "urn:", "file:")
    )


def validate(data: Graph, context: Graph | None = None) -> ValidationReport:
    """Validate ``data``; ``context`` holds what it references (reference data, the store).

    Only problems whose focus node is a subject of ``data`` are reported: the
    context was checked when it was loaded, and its problems are not the
    uploader's. The concept schemes of the ontology are part of every context, so
    a value like ``kg:HostingSaaS`` is known to be a ``skos:Concept``.
    """
    subjects = set(data.subjects())
    combined = Graph()
    combined += data
    # Of the context, only what the new triples reference: the shapes look one
    # step from a focus node (sh:class on a referenced node), so the referenced
    # nodes' own triples are enough, and copying whole graphs would dominate.
    lookups = [ontology_graph()] + ([context] if context is not None else [])
    for node in set(data.objects()) - subjects:
        if isinstance(node, URIRef):
            for graph in lookups:
                for triple in graph.triples((node, None, None)):
                    combined.add(triple)
    target: Graph | ox.Store = combined
    # Blank nodes get new identities in a Store, so focus nodes could not be found there.
    if any(next(data.triples((None, p, None)), None) for p in _sparql_checked_paths()) and not any(
        isinstance(node, BNode) for node in subjects
    ):
        target = _as_store(combined)
    _, results, _ = shacl_validate(
        target,  # type: ignore[arg-type]  # pyshacl accepts a Store; its hints do not say so
        shacl_graph=shapes_graph(),
        inference="none",
        advanced=True,
        allow_warnings=True,
        inplace=True,
        # Only the new nodes are checked; the context is there to be referenced.
        # pySHACL takes only IRIs of the schemes it knows as focus nodes (a blank node
        # makes it raise TypeError), so with any other subject everything is checked
        # and the results are filtered below instead.
        focus_nodes=(
            [node for node in subjects if isinstance(node, URIRef)]
            if all(_focusable(node) for node in subjects)
            else None
        ),
    )
    assert isinstance(results, Graph)
    report = ValidationReport()
    for result in results.subjects(RDF.type, SH.ValidationResult):
        focus = results.value(result, SH.focusNode)
        if focus not in subjects:
            continue
        nb, en = _messages(results, result)
        path = results.value(result, SH.resultPath)
        report.problems.append(
            Problem(
                severity=_SEVERITIES.get(
                    results.value(result, SH.resultSeverity) or SH.Violation, "error"
                ),
                focus_node=str(focus),
                path=str(path) if isinstance(path, URIRef) else _text(path),
                value=_text(results.value(result, SH.value)),
                message_nb=nb,
                message_en=en,
                shape=_text(results.value(result, SH.sourceShape)),
            )
        )
    report.problems.sort(key=lambda p: (p.focus_node, p.path or "", p.message_en))
    return report
