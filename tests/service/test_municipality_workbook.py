"""The pre-filled workbook's file name decides which graph its upload replaces."""

from __future__ import annotations

import asyncio

import pyoxigraph as ox
from rdflib import Graph

from loaders.namespaces import KG
from service.exports.municipality_workbook import file_name

BASE = "http://x.test/"
USAGE = str(KG.ApplicationUsage)


def _name(quads: list[tuple[str, str]], number: str = "5616") -> str:
    """``file_name`` over a store holding each (graph, usage record) pair."""
    store = ox.Store()
    for graph, record in quads:
        store.add(
            ox.Quad(
                ox.NamedNode(BASE + record),
                ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type"),
                ox.NamedNode(USAGE),
                ox.NamedNode(BASE + graph),
            )
        )

    async def construct(query: str) -> Graph:
        found = store.query(query, use_default_graph_as_union=True)
        assert isinstance(found, ox.QueryTriples)
        return Graph().parse(data=found.serialize(format=ox.RdfFormat.N_TRIPLES), format="nt")

    return asyncio.run(file_name(construct, BASE, number))


def test_named_after_the_graph_holding_the_municipalitys_rows() -> None:
    own = "graph/source/kommune-5616-hasvik"
    assert _name([(own, "id/bruk/5616/a"), (own, "id/bruk/5616/b")]) == "kommune-5616-hasvik.xlsx"


def test_regression_a_regions_graph_named_a_members_workbook() -> None:
    """An administrator's graph of a whole region named the member's workbook, so the
    workbook sent back unchanged by an administrator replaced the region's graph with
    one member's rows: the other members' records were gone."""
    region = "graph/source/vest-finnmark"
    mixed = [(region, "id/bruk/5616/a"), (region, "id/bruk/5616/b"), (region, "id/bruk/5603/c")]
    assert _name(mixed) == "kommune-5616.xlsx"
    # A graph of the municipality's own beside it is the one to replace, if fewer rows.
    assert _name([*mixed, ("graph/kommune/5616/hasvik", "id/bruk/5616/a")]) == "hasvik.xlsx"
    assert _name(mixed, "5603") == "kommune-5603.xlsx"
