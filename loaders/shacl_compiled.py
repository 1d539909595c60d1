"""What compiling the shapes gives (checks, the queries that run them) and the SPARQL text
of the shapes' constants and paths.

Why a module of its own: ``loaders.shacl_sparql`` writes the queries and
``loaders.shacl_store`` runs them; both, and ``loaders.validation`` (a result's path as
text), need these forms, which hold no compiling logic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal as TypingLiteral

from rdflib import Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.namespace import RDF, XSD
from rdflib.term import Node

Severity = TypingLiteral["error", "warning", "info"]


class UnsupportedShapeError(ValueError):
    """A shape uses something the compiler does not translate; pySHACL checks it."""


@dataclass(frozen=True)
class Check:
    """One constraint of one shape as a query; every row it returns is a violation.

    The query selects ``?this`` and, where the component reports one, ``?value``.
    ``python_pattern`` is set for an ``sh:pattern`` the store cannot run: the query
    then returns every value and Python keeps the non-matching ones.
    """

    query: str
    shape: Node
    path: str | None
    severity: Severity
    message_nb: str
    message_en: str
    python_pattern: re.Pattern[str] | None = None
    focus: str = ""
    """The key of the check's focus nodes in :attr:`CompiledShapes.focus`. Every check's
    query joins them, so when a batch has none the check cannot find anything and is not
    run: a municipality's workbook has none of the catalogue's classes, and each query
    costs its parsing and planning even on no data (``shacl_store``)."""


@dataclass(frozen=True)
class Run:
    """One query of a batch, and the checks whose violations its rows are.

    The checks of a shape that look at the same values share one: the path is followed
    once for all of them (a check's cost was mostly finding the values, the same for each
    of a shape's datatype, class, pattern, list ... checks). ``flags``: for each check, the
    variable that is true in a row violating it; none when the run is one check's own
    query, every row of which is a violation.
    """

    query: str
    focus: str
    checks: tuple[Check, ...]
    flags: tuple[str, ...] = ()


@dataclass
class CompiledShapes:
    """Every check, the queries that run them, and the top-level shapes left to pySHACL."""

    checks: list[Check] = field(default_factory=list)
    runs: list[Run] = field(default_factory=list)
    """The queries of a batch: every check is in one of them."""
    fallback: dict[Node, tuple[Node, str]] = field(default_factory=dict)
    """Shape → (the node shape with targets it belongs to, why it is not compiled)."""
    focus: dict[str, str] = field(default_factory=dict)
    """Key (an IRI) → a pattern binding ``?this`` once to each focus node of a node shape
    among the new data; the checks of that shape read those nodes from
    :data:`FOCUS_GRAPH` (``?this <FOCUS_OF> <key>``)."""
    focus_query: str = ""
    """One SELECT of every node shape's focus nodes among the new data: ``?this ?key``."""


def iri(node: Node) -> str:
    if not isinstance(node, URIRef):
        raise UnsupportedShapeError(f"expected an IRI, got {node!r}")
    return f"<{node}>"


def term(node: Node) -> str:
    """A constant in SPARQL syntax."""
    if isinstance(node, URIRef):
        return f"<{node}>"
    if isinstance(node, Literal):
        text = (
            str(node)
            .replace("\\", "\\\\")
            .replace('"', '\\"')
            .replace("\n", "\\n")
            .replace("\r", "\\r")
        )
        if node.language:
            return f'"{text}"@{node.language}'
        return f'"{text}"^^<{node.datatype or XSD.string}>'
    raise UnsupportedShapeError(f"blank node constant {node!r}")


def rdf_list(shapes: Graph, head: Node) -> list[Node]:
    return list(Collection(shapes, head))


def path_text(shapes: Graph, path: Node) -> str:
    """The path as a result names it: its IRI, or the IRIs of a sequence joined by " / "."""
    if isinstance(path, URIRef):
        return str(path)
    return " / ".join(str(step) for step in rdf_list(shapes, path))


def path_sparql(shapes: Graph, path: Node) -> str:
    if isinstance(path, URIRef):
        return iri(path)
    if (path, RDF.first, None) in shapes:
        steps = rdf_list(shapes, path)
        if all(isinstance(step, URIRef) for step in steps):
            return "/".join(iri(step) for step in steps)
    raise UnsupportedShapeError("only predicate and sequence paths are compiled")
