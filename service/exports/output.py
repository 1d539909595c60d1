"""Writing an export graph as Turtle, RDF/XML or JSON-LD.

Why pyoxigraph rather than rdflib's serialisers: the mapping builds an rdflib graph
(pyshacl validates it as such), but rdflib needs about 9 s to write the 70,000
triples of all statutory services as Turtle, pyoxigraph 0.15 s.
"""

from __future__ import annotations

from collections.abc import Iterable

import pyoxigraph as ox
from rdflib import Graph

from loaders.namespaces import PREFIXES
from loaders.oxigraph_terms import ox_term

MEDIA_FORMATS = {
    "text/turtle": ox.RdfFormat.TURTLE,
    "application/rdf+xml": ox.RdfFormat.RDF_XML,
    "application/ld+json": ox.RdfFormat.JSON_LD,
}
SUFFIX_MEDIA = {
    ".ttl": "text/turtle",
    ".rdf": "application/rdf+xml",
    ".xml": "application/rdf+xml",
    ".jsonld": "application/ld+json",
    ".json": "application/ld+json",
}
_EXPORT_PREFIXES = {**PREFIXES, "cpsvno": "https://data.norge.no/vocabulary/cpsvno#"}


def triples(graph: Graph) -> list[ox.Triple]:
    """The graph's triples as pyoxigraph terms (to serialise, or to combine without rdflib)."""
    found = []
    for s, p, o in graph:
        subject = ox_term(s)
        predicate = ox_term(p)
        assert not isinstance(subject, ox.Literal) and isinstance(predicate, ox.NamedNode)
        found.append(ox.Triple(subject, predicate, ox_term(o)))
    return found


def serialize_triples(found: Iterable[ox.Triple], media: str) -> bytes:
    """Triples in the media type (one of ``MEDIA_FORMATS``), with the project's prefixes."""
    return ox.serialize(found, format=MEDIA_FORMATS[media], prefixes=_EXPORT_PREFIXES) or b""


def serialize(graph: Graph, media: str) -> bytes:
    """The graph in the media type (one of ``MEDIA_FORMATS``), with the project's prefixes."""
    return serialize_triples(triples(graph), media)
