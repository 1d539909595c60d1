"""The statutory services as CPSV-AP-NO public services.

Why one resource per service rather than one per municipality: a statutory service
is one duty laid on every municipality by the same section of law, so the service
keeps its own IRI and each current municipality is a competent authority for it.
``/services/{kommunenummer}`` is the same description with one competent authority.

The competent authority is the municipality as a cv:PublicOrganisation, identified
by its organisation number (the Enhetsregisteret IRI, as in the catalogue) when one
is recorded, else by its own kommunegraf IRI and its municipality number. Its
coverage (``dct:spatial``, mandatory) is the municipality's area, minted as
``<municipality>#area``; its contact point is ``<municipality>#contact-point`` with
the municipality's home page as contact page when one is recorded.
"""

from __future__ import annotations

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, FOAF, RDF, RDFS, SKOS
from rdflib.term import Node

from loaders.namespaces import CPSV, CV, ELI, KG, bind_prefixes
from service.exports.dcat import described, label, publisher_iri, themes


def _authority(out: Graph, source: Graph, kommune: Node) -> tuple[URIRef, URIRef]:
    """Describe the municipality as competent authority; return it and its contact point."""
    number = str(source.value(kommune, KG.municipalityNumber) or "")
    orgnr = source.value(kommune, KG.organisationNumber)
    authority = publisher_iri(str(orgnr)) if orgnr is not None else URIRef(str(kommune))
    name = label(source, kommune) or number
    area = URIRef(f"{kommune}#area")
    contact = URIRef(f"{kommune}#contact-point")
    out.add((authority, RDF.type, CV.PublicOrganisation))
    out.add((authority, SKOS.prefLabel, Literal(name, lang="nb")))
    out.add((authority, DCTERMS.identifier, Literal(str(orgnr) if orgnr else number)))
    out.add((authority, DCTERMS.spatial, area))
    out.add((area, RDF.type, DCTERMS.Location))
    out.add((area, SKOS.prefLabel, Literal(name, lang="nb")))
    out.add((area, DCTERMS.identifier, Literal(number)))
    out.add((contact, RDF.type, CV.ContactPoint))
    for homepage in source.objects(kommune, FOAF.homepage):
        out.add((authority, FOAF.homepage, homepage))
        out.add((contact, CV.contactPage, homepage))
    return authority, contact


def _legal_resource(out: Graph, source: Graph, resource: Node) -> None:
    out.add((resource, RDF.type, ELI.LegalResource))
    for value in source.objects(resource, RDFS.label):
        out.add((resource, DCTERMS.title, value))
    local_id = source.value(resource, ELI.id_local)
    if local_id is not None:
        out.add((resource, DCTERMS.identifier, Literal(str(local_id))))
    for kind in source.objects(resource, DCTERMS.type):
        out.add((resource, DCTERMS.type, kind))
    act = source.value(resource, ELI.is_part_of)
    if act is not None:
        out.add((resource, DCTERMS.relation, act))
        out.add((resource, ELI.is_part_of, act))
        _legal_resource(out, source, act)


def build_services(source: Graph) -> Graph:
    """Every statutory service in ``source``, with the municipalities in it as authorities."""
    out = bind_prefixes(Graph())
    authorities = [
        _authority(out, source, kommune)
        for kommune in sorted(source.subjects(RDF.type, KG.Municipality), key=str)
        if source.value(kommune, KG.county) is not None
    ]
    for service in sorted(source.subjects(RDF.type, KG.StatutoryService), key=str):
        out.add((service, RDF.type, CPSV.PublicService))
        described(out, source, service)
        for authority, contact in authorities:
            out.add((service, CV.hasCompetentAuthority, authority))
            out.add((service, CV.contactPoint, contact))
        for resource in source.objects(service, CV.hasLegalResource):
            out.add((service, CV.hasLegalResource, resource))
            _legal_resource(out, source, resource)
        themes(out, source, service, CV.thematicArea)
    return out
