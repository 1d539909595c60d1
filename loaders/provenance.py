"""PROV-O metadata describing where a named graph came from.

The metadata is stored inside the graph it describes, so replacing a source's
graph replaces its metadata in the same transaction, and the two can never
disagree.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from typing import ParamSpec

from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, PROV, RDF, RDFS, XSD

VOID = Namespace("http://rdfs.org/ns/void#")
P = ParamSpec("P")


@cache
def tool_version() -> str:
    """The installed kommunegraf version, recorded with every load.

    Read once per process: importlib.metadata parses the package's metadata file on every
    call (11 ms, four CPU seconds of a national first start's 358 sources)."""
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


Triple = tuple[URIRef | BNode, URIRef, URIRef | BNode | Literal]


def metadata_triples(
    graph_iri: str,
    file_name: str,
    data: bytes,
    triple_count: int,
    when: datetime | None = None,
    row_counts: dict[str, int] | None = None,
) -> list[Triple]:
    """Describe the named graph ``graph_iri`` loaded from ``file_name``.

    For a spreadsheet, ``row_counts`` gives the rows read from each sheet; each
    sheet becomes a VoID subset with its number of entities. As triples, not in an
    rdflib graph (``source_metadata`` makes one): a load writes them as N-Triples
    straight away (``service.store.sources``), and indexing 20 triples in a graph and
    reading them back out cost more than the rest of a source's provenance.
    """
    when = when or datetime.now(UTC)
    subject = URIRef(graph_iri)
    source = content_iri(data)
    activity = BNode()
    agent = BNode()
    stamp = Literal(when.isoformat(), datatype=XSD.dateTime)
    title = Literal(file_name)
    triples: list[Triple] = [
        (subject, RDF.type, PROV.Entity),
        (subject, DCTERMS.title, title),
        (subject, PROV.wasDerivedFrom, source),
        (subject, PROV.generatedAtTime, stamp),
        (subject, VOID.triples, Literal(triple_count, datatype=XSD.integer)),
        (subject, PROV.wasGeneratedBy, activity),
        (source, DCTERMS.title, title),
        (source, DCTERMS.extent, Literal(len(data), datatype=XSD.integer)),
        (activity, RDF.type, PROV.Activity),
        (activity, PROV.used, source),
        (activity, PROV.endedAtTime, stamp),
        (activity, PROV.wasAssociatedWith, agent),
        (agent, RDF.type, PROV.SoftwareAgent),
        (agent, RDFS.label, Literal(f"kommunegraf {tool_version()}")),
    ]
    for index, (sheet, rows) in enumerate(sorted((row_counts or {}).items()), start=1):
        subset = URIRef(f"{graph_iri}#sheet-{index}")
        triples.append((subject, VOID.subset, subset))
        triples.append((subset, DCTERMS.title, Literal(sheet)))
        triples.append((subset, VOID.entities, Literal(rows, datatype=XSD.integer)))
    return triples


def _in_a_graph(make: Callable[P, list[Triple]]) -> Callable[P, Graph]:
    def graph(*args: P.args, **kwargs: P.kwargs) -> Graph:
        found = Graph()
        found.addN((s, p, o, found) for s, p, o in make(*args, **kwargs))
        return found

    return graph


source_metadata = _in_a_graph(metadata_triples)
"""``metadata_triples`` in an rdflib graph: the description of a named graph loaded from a file."""


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
