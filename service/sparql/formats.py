"""The formats the service reads and writes, built on pyoxigraph's format objects.

Why one registry: the SPARQL endpoint, the Graph Store, resource pages, the ontology and
the service description all offer the same RDF and result formats; each kept its own
table before. The media types come from ``pyoxigraph.RdfFormat`` and
``QueryResultsFormat`` (the store serialises with those objects); what is written here
is only the order we prefer and the short names people type in ``format=``.

>>> GRAPH_TYPES
['text/turtle', 'application/n-triples', 'application/ld+json', 'application/rdf+xml']
>>> SOLUTION_FORMATS["tsv"]
'text/tab-separated-values'
"""

from __future__ import annotations

import pyoxigraph as ox


def media_type(fmt: ox.RdfFormat | ox.QueryResultsFormat) -> str:
    """The format's media type without parameters (pyoxigraph adds ``charset`` to CSV)."""
    return fmt.media_type.split(";")[0].strip()


GRAPH = (ox.RdfFormat.TURTLE, ox.RdfFormat.N_TRIPLES, ox.RdfFormat.JSON_LD, ox.RdfFormat.RDF_XML)
"""RDF we write for a graph, in the order offered when a client accepts any."""
SOLUTIONS = (
    ox.QueryResultsFormat.JSON,
    ox.QueryResultsFormat.XML,
    ox.QueryResultsFormat.CSV,
    ox.QueryResultsFormat.TSV,
)
"""SPARQL results we write for SELECT and ASK, in the order offered."""

GRAPH_TYPES = [media_type(f) for f in GRAPH]
SOLUTION_TYPES = [*(media_type(f) for f in SOLUTIONS), "application/json"]
"""``application/json`` is answered as SPARQL results JSON, for clients that ask for it."""

SOLUTION_FORMATS = {
    name: media_type(f)
    for name, f in (
        ("json", ox.QueryResultsFormat.JSON),
        ("xml", ox.QueryResultsFormat.XML),
        ("csv", ox.QueryResultsFormat.CSV),
        ("tsv", ox.QueryResultsFormat.TSV),
    )
}
"""``format=`` names of result formats."""

_GRAPH_NAMES = {
    ox.RdfFormat.TURTLE: ("turtle", "ttl"),
    ox.RdfFormat.N_TRIPLES: ("nt", "ntriples", "n-triples"),
    ox.RdfFormat.JSON_LD: ("jsonld", "json-ld", "json"),
    ox.RdfFormat.RDF_XML: ("rdfxml", "rdf+xml", "rdf", "xml"),
}
GRAPH_FORMATS = {name: media_type(f) for f, names in _GRAPH_NAMES.items() for name in names}
"""``format=`` names of RDF formats."""

RDF_MEDIA = {
    media_type(f): name
    for f, name in (
        (ox.RdfFormat.TURTLE, "turtle"),
        (ox.RdfFormat.N_TRIPLES, "nt"),
        (ox.RdfFormat.JSON_LD, "json-ld"),
        (ox.RdfFormat.RDF_XML, "xml"),
    )
}
"""The RDF media types we write with rdflib (service description, ontology), to rdflib's
format names."""
