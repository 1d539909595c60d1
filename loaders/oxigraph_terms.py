"""rdflib terms as pyoxigraph terms: the loaders build rdflib graphs, the store is oxigraph.

One converter for every place that hands rdflib data to pyoxigraph (the compiled
SHACL checks, the catalogue exports), so a literal keeps its language or datatype
the same way everywhere.
"""

from __future__ import annotations

import pyoxigraph as ox
from rdflib import BNode, Literal, URIRef
from rdflib.term import Node

OxTerm = ox.NamedNode | ox.BlankNode | ox.Literal


def ox_term(node: Node) -> OxTerm:
    """The pyoxigraph term for an rdflib IRI, blank node or literal (ids and lexical forms kept).

    >>> ox_term(Literal("Bærum", lang="nb"))
    <Literal value=Bærum language=nb>
    """
    if isinstance(node, URIRef):
        return ox.NamedNode(str(node))
    if isinstance(node, BNode):
        return ox.BlankNode(str(node))
    if isinstance(node, Literal):
        if node.language:
            return ox.Literal(str(node), language=node.language)
        if node.datatype is not None:
            return ox.Literal(str(node), datatype=ox.NamedNode(str(node.datatype)))
        return ox.Literal(str(node))
    raise TypeError(f"not an RDF term: {node!r}")
