"""The front page's counts, read in this process from a store built here (no server)."""

from __future__ import annotations

import asyncio

import pyoxigraph as ox

from service.web.routes.home import counts
from tests.service.in_process import InProcess

KG = "https://w3id.org/kommunegraf/ontology#"
REPLACED_BY = "http://purl.org/dc/terms/isReplacedBy"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"


def test_counts_current_instances_and_former_municipalities() -> None:
    """Current = all − replaced (a split one, with two successors, is one former), each
    resource once however many graphs type it: what the old ``FILTER NOT EXISTS``
    query counted, through the indexes only."""
    store = ox.Store()

    def add(subject: str, predicate: str, obj: str, graph: str = "urn:g:a") -> None:
        store.add(
            ox.Quad(
                ox.NamedNode(subject),
                ox.NamedNode(predicate),
                ox.NamedNode(obj),
                ox.NamedNode(graph),
            )
        )

    for number in ("1", "2", "3", "4"):
        add(f"urn:m:{number}", RDF_TYPE, KG + "Municipality")
    add("urn:m:1", RDF_TYPE, KG + "Municipality", "urn:g:b")  # typed in two graphs
    add("urn:m:3", REPLACED_BY, "urn:m:1")  # merged
    add("urn:m:4", REPLACED_BY, "urn:m:1")  # split
    add("urn:m:4", REPLACED_BY, "urn:m:2")
    add("urn:app:1", RDF_TYPE, KG + "Application")
    add("urn:app:1", RDF_TYPE, KG + "Application", "urn:g:b")
    found = {c.cls: c.count for c in asyncio.run(counts(InProcess(store, "http://x.test/")))}
    assert found["Municipality"] == 2
    assert found["FormerMunicipality"] == 2
    assert found["Application"] == 1
    assert found["Vendor"] == 0
