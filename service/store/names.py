"""What a source may refer to of what others hold: names, for the resolver and the checks.

Why a module of its own: an upload, ``kommunegraf validate --store/--endpoint``, the
pre-filled workbook and a national batch's shared catalogue all read the same names (typed
nodes, their keys, an application's vendor), from the store or from a checked graph; the
loading pipeline in ``service.store.sources`` is only one of their users.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from rdflib import Graph, URIRef
from rdflib.namespace import RDF, SH

from loaders.namespaces import KG
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
