"""The list of classes, as the shapes declare it: searched, counted, shared.

Why here: each class's node shape says, beside its ``kgsh:iriTemplate``, whether search
finds it (``kgsh:searchOrder``), whether the front page counts it (``kgsh:homeOrder``,
``kgsh:pluralLabel``) and whether every municipality shares its rows (``kgsh:sharing``).
Search, the home page, write scope and loading read this instead of lists of their own,
so adding a class touches the ontology and its shape file, not code
(docs/developers.md, "add a class").

>>> [c.name for c in searched()][:3]
['Municipality', 'Application', 'Vendor']
>>> sorted(c.name for c in classes() if c.sharing == "catalogue")
['Application', 'Vendor']
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Literal

from rdflib import Graph, URIRef
from rdflib import Literal as RdfLiteral

from loaders.columns import targeted_shapes
from loaders.namespaces import KG, KGSH
from loaders.validation import shapes_graph

Sharing = Literal["catalogue", "reference"] | None

_SHARING: dict[URIRef, Sharing] = {KGSH.Catalogue: "catalogue", KGSH.SharedReference: "reference"}


@dataclass(frozen=True)
class DeclaredClass:
    iri: URIRef
    search_order: int | None
    """Its group's place in search results; None: search does not find it."""
    home_order: int | None
    """Its place in the front page's counts; None: not counted there."""
    plural_nb: str
    plural_en: str
    sharing: Sharing
    """"catalogue" (shared catalogue), "reference" (shared reference data), or None: each
    municipality's own rows."""

    @property
    def name(self) -> str:
        """The local name, e.g. ``Municipality``."""
        return self.iri.removeprefix(str(KG))

    @property
    def shared(self) -> bool:
        """Whether other sources refer to its rows by name (a shared catalogue or reference)."""
        return self.sharing is not None


def _integer(graph: Graph, shape: URIRef, predicate: URIRef) -> int | None:
    value = graph.value(shape, predicate)
    return int(value) if isinstance(value, RdfLiteral) else None


def _text(graph: Graph, shape: URIRef, lang: str) -> str:
    for value in graph.objects(shape, KGSH.pluralLabel):
        if isinstance(value, RdfLiteral) and value.language == lang:
            return str(value)
    return ""


def read_classes(graph: Graph) -> list[DeclaredClass]:
    """The classes of ``graph``'s node shapes that have a ``kgsh:iriTemplate``."""
    found = []
    for shape, target in targeted_shapes(graph):
        if graph.value(shape, KGSH.iriTemplate) is None:
            continue
        sharing = graph.value(shape, KGSH.sharing)
        found.append(
            DeclaredClass(
                target,
                _integer(graph, shape, KGSH.searchOrder),
                _integer(graph, shape, KGSH.homeOrder),
                _text(graph, shape, "nb"),
                _text(graph, shape, "en"),
                _SHARING.get(sharing) if isinstance(sharing, URIRef) else None,
            )
        )
    return sorted(found, key=lambda c: str(c.iri))


@cache
def classes() -> tuple[DeclaredClass, ...]:
    """The project's classes, read from its shapes once per process."""
    return tuple(read_classes(shapes_graph()))


def searched() -> list[DeclaredClass]:
    """What search finds, in the order results are grouped."""
    return sorted((c for c in classes() if c.search_order is not None), key=_search_key)


def counted() -> list[DeclaredClass]:
    """What the front page counts, in its order."""
    return sorted((c for c in classes() if c.home_order is not None), key=_home_key)


def _search_key(c: DeclaredClass) -> int:
    return c.search_order or 0


def _home_key(c: DeclaredClass) -> int:
    return c.home_order or 0
