"""PROV-O metadata describing where a named graph came from.

The metadata is stored inside the graph it describes, so replacing a source's
graph replaces its metadata in the same transaction, and the two can never
disagree.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version

from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, PROV, RDF, RDFS, XSD

VOID = Namespace("http://rdfs.org/ns/void#")


def tool_version() -> str:
    """The installed kommunegraf version, recorded with every load."""
    try:
        return version("kommunegraf")
    except PackageNotFoundError:
        return "0+unknown"


def content_iri(data: bytes) -> URIRef:
    """A Named Information IRI (RFC 6920) for the exact bytes of a source file.

    >>> str(content_iri(b""))
    'ni:///sha-256;47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU'
    """
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return URIRef(f"ni:///sha-256;{digest}")


def source_metadata(
    graph_iri: str,
    file_name: str,
    data: bytes,
    triple_count: int,
    when: datetime | None = None,
    row_counts: dict[str, int] | None = None,
) -> Graph:
    """Describe the named graph ``graph_iri`` loaded from ``file_name``.

    For a spreadsheet, ``row_counts`` gives the rows read from each sheet; each
    sheet becomes a VoID subset with its number of entities.
    """
    when = when or datetime.now(UTC)
    graph = Graph()
    subject = URIRef(graph_iri)
    source = content_iri(data)
    activity = BNode()
    agent = BNode()
    graph.add((subject, RDF.type, PROV.Entity))
    graph.add((subject, DCTERMS.title, Literal(file_name)))
    graph.add((subject, PROV.wasDerivedFrom, source))
    graph.add((subject, PROV.generatedAtTime, Literal(when.isoformat(), datatype=XSD.dateTime)))
    graph.add((subject, VOID.triples, Literal(triple_count, datatype=XSD.integer)))
    graph.add((subject, PROV.wasGeneratedBy, activity))
    graph.add((source, DCTERMS.title, Literal(file_name)))
    graph.add((source, DCTERMS.extent, Literal(len(data), datatype=XSD.integer)))
    graph.add((activity, RDF.type, PROV.Activity))
    graph.add((activity, PROV.used, source))
    graph.add((activity, PROV.endedAtTime, Literal(when.isoformat(), datatype=XSD.dateTime)))
    graph.add((activity, PROV.wasAssociatedWith, agent))
    graph.add((agent, RDF.type, PROV.SoftwareAgent))
    graph.add((agent, RDFS.label, Literal(f"kommunegraf {tool_version()}")))
    for index, (sheet, rows) in enumerate(sorted((row_counts or {}).items()), start=1):
        subset = URIRef(f"{graph_iri}#sheet-{index}")
        graph.add((subject, VOID.subset, subset))
        graph.add((subset, DCTERMS.title, Literal(sheet)))
        graph.add((subset, VOID.entities, Literal(rows, datatype=XSD.integer)))
    return graph


def not_graph_description(graph_iri: str, subject: str = "?s") -> str:
    """SPARQL to put inside ``GRAPH <graph_iri> { ?s ?p ?o … }`` that leaves out the
    graph's description of itself, what ``source_metadata`` writes: the graph's own node,
    its sheets (``<graph>#sheet-N``), the source file's content IRI (``ni:``) and the
    load's activity and agent (blank nodes the graph's node leads to).

    Why: it is written anew by every load (time, file hash, software version), so it is
    never a change of the data; what a load would change leaves it out (``loaders.changes``
    through ``service.access.uploads.plan_changes`` and ``kommunegraf validate
    --endpoint``), and one definition here keeps the two equal to what this module writes.
    The graph is named, not a variable, and the blank nodes go by ``MINUS``: a ``NOT
    EXISTS`` under ``GRAPH ?g`` took oxigraph a minute for one municipality's graph of the
    national demo (it tried every graph), under ``GRAPH <…>`` 0.7 s; ``MINUS`` 0.1 s.

    >>> import pyoxigraph as ox
    >>> g = "http://x.test/graph/source/a"
    >>> described = source_metadata(g, "a.xlsx", b"x", 1, row_counts={"Ark": 1})
    >>> data = '<http://x.test/id/a> <http://x.test/p> "1" .\\n'
    >>> store = ox.Store()
    >>> store.load((data + described.serialize(format="nt")).encode(),
    ...            ox.RdfFormat.N_TRIPLES, to_graph=ox.NamedNode(g))
    >>> query = f"SELECT ?s {{ GRAPH <{g}> {{ ?s ?p ?o {not_graph_description(g)} }} }}"
    >>> [row["s"].value for row in store.query(query)]
    ['http://x.test/id/a']
    """
    graph = f"<{graph_iri}>"
    activity = f"<{PROV.wasGeneratedBy}>"
    return (
        f"FILTER({subject} != {graph} "
        f'&& !STRSTARTS(STR({subject}), "{graph_iri}#") '
        f'&& !STRSTARTS(STR({subject}), "ni:")) '
        f"MINUS {{ {graph} {activity} {subject} }} "
        f"MINUS {{ {graph} {activity}/<{PROV.wasAssociatedWith}> {subject} }}"
    )
