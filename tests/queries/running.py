"""Running canned queries in-process on a hand-built fixture, as the tests here do."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyoxigraph as ox
from rdflib import Graph

from loaders.namespaces import DEFAULT_BASE_IRI
from service.sparql.canned import canned_queries
from service.store.embedded import KnowledgeStore
from service.store.sources import load_reference

BASE = DEFAULT_BASE_IRI
Row = dict[str, str]


@contextmanager
def fixture_store(fixture: Path) -> Iterator[KnowledgeStore]:
    """The reference data (with the ontology's labels) and ``fixture``, as the service loads."""
    knowledge = KnowledgeStore(None)
    load_reference(knowledge, BASE)
    knowledge.replace_graph(
        f"{BASE}graph/test/{fixture.stem}", Graph().parse(fixture, format="turtle", publicID=BASE)
    )
    try:
        yield knowledge
    finally:
        knowledge.close()


def run(store: KnowledgeStore, name: str, **params: str) -> list[Row]:
    """Bind the parameters as the service does and return rows of plain values."""
    text = canned_queries()[name].bind(params, BASE)
    solutions = store.query(text, base_iri=BASE)
    assert isinstance(solutions, ox.QuerySolutions)
    names = [v.value for v in solutions.variables]
    return [{n: s[n].value for n in names if s[n] is not None} for s in solutions]


def column(rows: list[Row], name: str) -> list[str]:
    return [row.get(name, "") for row in rows]
