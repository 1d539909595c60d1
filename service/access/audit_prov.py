"""The audit trail as PROV-O: what ``<base>graph/audit`` holds for every event.

Apart from ``service.access.audit`` (the events, the file, the writes) because it is the
one place that says how an event reads as RDF: an activity, its agent, one entity per
graph it changed, and the file it used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, FOAF, PROV, RDF, RDFS, XSD

from loaders.namespaces import KG

if TYPE_CHECKING:
    from service.access.audit import AuditEvent


def event_graph(event: AuditEvent, base: str) -> Graph:
    """The event as PROV-O: an activity, its agent, one entity per graph changed."""
    graph = Graph()
    activity = URIRef(f"{base}audit/{event.id}")
    agent = URIRef(f"{activity}#agent")
    moment = Literal(event.time, datatype=XSD.dateTime)
    graph.add((activity, RDF.type, PROV.Activity))
    graph.add((activity, KG.action, Literal(event.action)))
    graph.add((activity, PROV.startedAtTime, moment))
    graph.add((activity, PROV.endedAtTime, moment))
    graph.add((activity, PROV.wasAssociatedWith, agent))
    graph.add((agent, RDF.type, PROV.Agent))
    graph.add((agent, FOAF.name, Literal(event.actor)))
    graph.add((agent, KG.role, Literal(event.role)))
    if event.detail:
        graph.add((activity, RDFS.comment, Literal(event.detail)))
    for number in event.municipalities:
        graph.add((activity, DCTERMS.spatial, URIRef(f"{base}id/kommune/{number}")))
    for index, item in enumerate(event.changes, start=1):
        entity = URIRef(f"{activity}#graph-{index}")
        graph.add((entity, RDF.type, PROV.Entity))
        graph.add((entity, PROV.specializationOf, URIRef(item.graph)))
        graph.add((entity, PROV.wasGeneratedBy, activity))
        graph.add((entity, KG.triplesAdded, Literal(item.added, datatype=XSD.integer)))
        graph.add((entity, KG.triplesRemoved, Literal(item.removed, datatype=XSD.integer)))
    if event.file_sha256 is not None:
        source = URIRef(content_iri_from_hex(event.file_sha256))
        graph.add((activity, PROV.used, source))
        if event.file_name:
            graph.add((source, DCTERMS.title, Literal(event.file_name)))
    return graph


def content_iri_from_hex(hex_digest: str) -> str:
    """The ``ni:`` IRI ``loaders.provenance.content_iri`` gives the same bytes.

    >>> import hashlib
    >>> from loaders.provenance import content_iri
    >>> content_iri_from_hex(hashlib.sha256(b"").hexdigest()) == str(content_iri(b""))
    True
    """
    import base64

    digest = base64.urlsafe_b64encode(bytes.fromhex(hex_digest)).rstrip(b"=").decode()
    return f"ni:///sha-256;{digest}"
