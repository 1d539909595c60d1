"""kommunegraf's datasets as DCAT-AP-NO 2.2: one dcat:Catalog per municipality.

Why these choices (each is what Felles datakatalog expects or what the data allows):

- The publisher is the municipality as a legal entity,
  ``https://data.brreg.no/enhetsregisteret/api/enheter/{organisasjonsnummer}``, the form
  data.norge.no resolves to an organisation. A municipality without an organisation
  number has no publishable catalogue; its datasets are listed with that reason.
- ``rdfs:label`` becomes ``dct:title`` (DCAT-AP-NO has no other title); the dataset's
  own ``dct:identifier`` is kept, and its IRI is the identifier when it has none.
- Legal bases become ``cpsv:follows`` → ``cpsv:Rule`` (``dct:type``
  ``cpsvno:ruleForDataProcessing`` / ``ruleForNonDisclosure`` / ``ruleForDisclosure``)
  → ``cpsv:implements`` → the act or regulation as ``eli:LegalResource`` with its
  Lovdata ELI IRI. A section is named in the rule's title and description and the
  rule implements the act it belongs to: the shapes require a ``dct:type`` on every
  legal resource, and the type vocabulary has acts and regulations, not sections.
- Access rights are the EU authority table's concepts, stated with their scheme
  (the shapes check ``skos:inScheme``); their labels come from the ontology.
- Contact points and distributions keep the IRIs the loader gave them
  (``<dataset>#contactPoint-1``, ``#distribution-1``) and rules get IRIs like them
  (``#rule-processing-1``), so that a re-harvest sees the same resources, not new
  blank nodes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF, RDFS, SKOS
from rdflib.term import Node

from loaders.namespaces import ACCESS_RIGHT, CPSV, CPSVNO, ELI, KG, VCARD, bind_prefixes
from loaders.validation import ontology_graph
from service.exports.extract import Blocker

BRREG = "https://data.brreg.no/enhetsregisteret/api/enheter/"
PUBLISHER_TYPE_LOCAL_AUTHORITY = URIRef("http://purl.org/adms/publishertype/LocalAuthority")
ACCESS_RIGHT_SCHEME = URIRef("http://publications.europa.eu/resource/authority/access-right")


@dataclass(frozen=True)
class RuleKind:
    """One of the three legal-basis properties and the rule type it maps to."""

    prop: URIRef
    rule_type: URIRef
    slug: str
    nb: str
    en: str


RULE_KINDS = (
    RuleKind(
        KG.legalBasisForProcessing,
        CPSVNO.ruleForDataProcessing,
        "processing",
        "Behandlingsgrunnlag",
        "Legal basis for processing",
    ),
    RuleKind(
        KG.legalBasisForRestriction,
        CPSVNO.ruleForNonDisclosure,
        "restriction",
        "Skjermingshjemmel",
        "Legal basis for restriction",
    ),
    RuleKind(
        KG.legalBasisForAccess,
        CPSVNO.ruleForDisclosure,
        "access",
        "Utleveringshjemmel",
        "Legal basis for access",
    ),
)


def publisher_iri(organisation_number: str) -> URIRef:
    """The publisher IRI Felles datakatalog expects.

    >>> str(publisher_iri("964965226"))
    'https://data.brreg.no/enhetsregisteret/api/enheter/964965226'
    """
    return URIRef(BRREG + organisation_number)


def catalogue_iri(base_iri: str, kommunenummer: str) -> URIRef:
    return URIRef(f"{base_iri}catalog/{kommunenummer}")


def label(graph: Graph, node: Node, lang: str = "nb") -> str | None:
    """The node's rdfs:label in ``lang``, else a plain one, else any."""
    fallback = None
    for value in graph.objects(node, RDFS.label):
        if isinstance(value, Literal):
            if value.language == lang:
                return str(value)
            if value.language is None or fallback is None:
                fallback = str(value)
    return fallback


FILE_TYPE_SCHEME = URIRef("http://publications.europa.eu/resource/authority/file-type")
LICENCE_SCHEME = URIRef("http://publications.europa.eu/resource/authority/licence")
IANA = "https://www.iana.org/assignments/media-types/"
MEDIA_TYPES = {
    "CSV": "text/csv",
    "JSON": "application/json",
    "GEOJSON": "application/geo+json",
    "XML": "application/xml",
    "GML": "application/gml+xml",
    "RDF_TURTLE": "text/turtle",
    "XLSX": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ODS": "application/vnd.oasis.opendocument.spreadsheet",
    "PDF": "application/pdf",
    "HTML": "text/html",
}
"""The IANA media type of each EU file type the template offers (dcat:mediaType).

Why derived: the media type follows from the format, so the template asks only for the
format; DCAT-AP-NO wants both (data.norge.no's quality check scores each)."""


@cache
def _vocabulary() -> Graph:
    """The EU file types and licences (type, labels, scheme) from the ontology, once."""
    ontology = ontology_graph()
    found = Graph()
    for scheme in (FILE_TYPE_SCHEME, LICENCE_SCHEME):
        for concept in ontology.subjects(SKOS.inScheme, scheme):
            found.add((concept, RDF.type, SKOS.Concept))
            found.add((concept, SKOS.inScheme, scheme))
            for value in ontology.objects(concept, SKOS.prefLabel):
                found.add((concept, SKOS.prefLabel, value))
    return found


@cache
def _access_right_labels() -> Graph:
    """prefLabels of the EU access-right concepts, from the ontology (one source)."""
    ontology = ontology_graph()
    labels = Graph()
    for concept in ontology.subjects(SKOS.inScheme, ACCESS_RIGHT_SCHEME):
        for value in ontology.objects(concept, SKOS.prefLabel):
            labels.add((concept, SKOS.prefLabel, value))
    return labels


def _own(node: Node, dataset: URIRef, local: str) -> URIRef:
    """The node's own IRI (the loader mints ``<dataset>#contactPoint-1``), else one like it."""
    return node if isinstance(node, URIRef) else URIRef(f"{dataset}#{local}")


def described(out: Graph, source: Graph, subject: Node, identifier: bool = True) -> None:
    """``subject``'s names as DCAT-AP-NO and CPSV-AP-NO write them: rdfs:label as
    dct:title, dct:description as it is and, with ``identifier``, a dct:identifier (the
    one given, else the IRI)."""
    for value in source.objects(subject, RDFS.label):
        out.add((subject, DCTERMS.title, value))
    for value in source.objects(subject, DCTERMS.description):
        out.add((subject, DCTERMS.description, value))
    if identifier:
        given = source.value(subject, DCTERMS.identifier)
        out.add((subject, DCTERMS.identifier, Literal(str(given or subject))))


def themes(out: Graph, source: Graph, subject: Node, link: URIRef) -> None:
    """``subject``'s themes (``link``: dcat:theme, cv:thematicArea) as SKOS concepts with
    their labels and scheme, which both profiles ask for."""
    for theme in source.objects(subject, link):
        out.add((subject, link, theme))
        out.add((theme, RDF.type, SKOS.Concept))
        for prop in (SKOS.prefLabel, SKOS.inScheme):
            for value in source.objects(theme, prop):
                out.add((theme, prop, value))


def _parts(
    out: Graph, source: Graph, dataset: URIRef, link: URIRef, kind: URIRef, needed: URIRef
) -> Iterator[tuple[Node, URIRef]]:
    """Each of ``dataset``'s ``link`` nodes that has a ``needed`` value, written as a node
    of its own (``kind``, its ``needed`` values); yields the given node and ours."""
    local = str(link).rsplit("#", 1)[-1]
    for number, given in enumerate(sorted(source.objects(dataset, link), key=str), start=1):
        values = sorted(source.objects(given, needed), key=str)
        if not values:
            continue
        node = _own(given, dataset, f"{local}-{number}")
        out.add((dataset, link, node))
        out.add((node, RDF.type, kind))
        for value in values:
            out.add((node, needed, value))
        yield given, node


def _act_of(source: Graph, basis: Node) -> Node | None:
    """The act or regulation a legal basis is, or belongs to; None if it has no type."""
    act = source.value(basis, ELI.is_part_of) or basis
    return act if source.value(act, DCTERMS.type) is not None else None


def _describe_act(out: Graph, source: Graph, act: Node) -> None:
    out.add((act, RDF.type, ELI.LegalResource))
    for kind in source.objects(act, DCTERMS.type):
        out.add((act, DCTERMS.type, kind))
        out.add((kind, RDF.type, SKOS.Concept))
        for value in source.objects(kind, SKOS.prefLabel):
            out.add((kind, SKOS.prefLabel, value))
    for value in source.objects(act, RDFS.label):
        out.add((act, DCTERMS.title, value))
    local_id = source.value(act, ELI.id_local)
    if local_id is not None:
        out.add((act, DCTERMS.identifier, Literal(str(local_id))))


def _rules(out: Graph, source: Graph, dataset: URIRef, title_nb: str) -> None:
    for kind in RULE_KINDS:
        bases = sorted(source.objects(dataset, kind.prop), key=str)
        for number, basis in enumerate(bases, start=1):
            rule = URIRef(f"{dataset}#rule-{kind.slug}-{number}")
            basis_nb = label(source, basis, "nb") or str(basis)
            basis_en = label(source, basis, "en") or basis_nb
            out.add((dataset, CPSV.follows, rule))
            out.add((rule, RDF.type, CPSV.Rule))
            out.add((rule, DCTERMS.type, kind.rule_type))
            out.add((rule, DCTERMS.identifier, Literal(str(rule))))
            out.add((rule, DCTERMS.title, Literal(f"{kind.nb}: {basis_nb}", lang="nb")))
            out.add((rule, DCTERMS.title, Literal(f"{kind.en}: {basis_en}", lang="en")))
            out.add(
                (
                    rule,
                    DCTERMS.description,
                    Literal(f"{kind.nb} for datasettet «{title_nb}»: {basis_nb}.", lang="nb"),
                )
            )
            out.add(
                (
                    rule,
                    DCTERMS.description,
                    Literal(f"{kind.en} of the dataset '{title_nb}': {basis_en}.", lang="en"),
                )
            )
            act = _act_of(source, basis)
            if act is not None:
                out.add((rule, CPSV.implements, act))
                _describe_act(out, source, act)


def _dataset(out: Graph, source: Graph, dataset: URIRef, publisher: URIRef) -> None:
    out.add((dataset, RDF.type, DCAT.Dataset))
    out.add((dataset, DCTERMS.publisher, publisher))
    described(out, source, dataset)
    for value in source.objects(dataset, DCAT.keyword):
        out.add((dataset, DCAT.keyword, value))
    for page in source.objects(dataset, DCAT.landingPage):
        out.add((dataset, DCAT.landingPage, page))
    themes(out, source, dataset, DCAT.theme)
    for rights in source.objects(dataset, DCTERMS.accessRights):
        out.add((dataset, DCTERMS.accessRights, rights))
        out.add((rights, RDF.type, SKOS.Concept))
        if str(rights).startswith(str(ACCESS_RIGHT)):
            out.add((rights, SKOS.inScheme, ACCESS_RIGHT_SCHEME))
        out += _access_right_labels().triples((rights, None, None))
    for _ in _parts(out, source, dataset, DCAT.contactPoint, VCARD.Organization, VCARD.hasEmail):
        pass  # a contact point is its e-mail addresses
    for given, distribution in _parts(
        out, source, dataset, DCAT.distribution, DCAT.Distribution, DCAT.accessURL
    ):
        for url in source.objects(given, DCAT.downloadURL):
            out.add((distribution, DCAT.downloadURL, url))
        for file_type in source.objects(given, DCTERMS.format):
            out.add((distribution, DCTERMS.format, file_type))
            out += _vocabulary().triples((file_type, None, None))
            media_type = MEDIA_TYPES.get(str(file_type).rsplit("/", 1)[-1])
            if media_type is not None:
                out.add((distribution, DCAT.mediaType, URIRef(IANA + media_type)))
        for licence in source.objects(given, DCTERMS.license):
            out.add((distribution, DCTERMS.license, licence))
            out += _vocabulary().triples((licence, None, None))
    _rules(out, source, dataset, label(source, dataset, "nb") or str(dataset))


def build_catalogue_parts(
    source: Graph,
    blockers: Iterable[Blocker],
    base_iri: str,
    *,
    keep_empty: bool = False,
) -> dict[str, Graph]:
    """One dcat:Catalog per municipality that has an organisation number, by kommunenummer.

    Datasets named in ``blockers`` are left out. A municipality whose datasets are
    all left out gets no catalogue unless ``keep_empty`` (one municipality asked for
    by number: an empty catalogue is still a valid, truthful answer). Each catalogue
    names the service's SPARQL endpoint and query API as the data services that serve
    its datasets.
    """
    blocked = {URIRef(b.dataset) for b in blockers}
    by_publisher: dict[Node, list[URIRef]] = {}
    for dataset in source.subjects(RDF.type, KG.Dataset):
        kommune = source.value(dataset, DCTERMS.publisher)
        if isinstance(dataset, URIRef) and kommune is not None and dataset not in blocked:
            by_publisher.setdefault(kommune, []).append(dataset)
    parts: dict[str, Graph] = {}
    for kommune in sorted(source.subjects(RDF.type, KG.Municipality), key=str):
        number = source.value(kommune, KG.municipalityNumber)
        orgnr = source.value(kommune, KG.organisationNumber)
        if number is None or orgnr is None:
            continue
        datasets = sorted(by_publisher.get(kommune, []), key=str)
        if not datasets and not keep_empty:
            continue
        out = bind_prefixes(Graph())
        out.bind("cpsvno", str(CPSVNO))
        name = label(source, kommune) or str(number)
        publisher = publisher_iri(str(orgnr))
        out.add((publisher, RDF.type, FOAF.Agent))
        out.add((publisher, FOAF.name, Literal(name)))
        out.add((publisher, DCTERMS.identifier, Literal(str(orgnr))))
        out.add((publisher, DCTERMS.type, PUBLISHER_TYPE_LOCAL_AUTHORITY))
        catalogue = catalogue_iri(base_iri, str(number))
        out.add((catalogue, RDF.type, DCAT.Catalog))
        out.add((catalogue, DCTERMS.identifier, Literal(str(catalogue))))
        out.add((catalogue, DCTERMS.publisher, publisher))
        out.add((catalogue, DCTERMS.title, Literal(f"Datakatalog for {name} kommune", lang="nb")))
        out.add(
            (catalogue, DCTERMS.title, Literal(f"Data catalogue of {name} municipality", lang="en"))
        )
        out.add(
            (
                catalogue,
                DCTERMS.description,
                Literal(
                    f"Datasett som {name} kommune (kommunenummer {number}) forvalter, "
                    "beskrevet i kommunegraf.",
                    lang="nb",
                ),
            )
        )
        out.add(
            (
                catalogue,
                DCTERMS.description,
                Literal(
                    f"Datasets held by the municipality of {name} (municipality number "
                    f"{number}), as described in kommunegraf.",
                    lang="en",
                ),
            )
        )
        for dataset in datasets:
            out.add((catalogue, DCAT.dataset, dataset))
            _dataset(out, source, dataset, publisher)
        if datasets:
            for service in data_services(out, base_iri, datasets):
                out.add((catalogue, DCAT.service, service))
        parts[str(number)] = out
    return parts


def build_catalogues(
    source: Graph,
    blockers: Iterable[Blocker],
    base_iri: str,
    *,
    keep_empty: bool = False,
) -> Graph:
    """Every municipality's catalogue (``build_catalogue_parts``) in one graph."""
    out = bind_prefixes(Graph())
    out.bind("cpsvno", str(CPSVNO))
    for part in build_catalogue_parts(source, blockers, base_iri, keep_empty=keep_empty).values():
        out += part
    return out


@dataclass(frozen=True)
class DataServiceKind:
    """One of the service's own interfaces, described as a dcat:DataService."""

    fragment: str
    endpoint: str
    description: str
    conforms_to: str
    standard: str
    title_nb: str
    title_en: str
    text_nb: str
    text_en: str


DATA_SERVICES = (
    DataServiceKind(
        "sparql-endpoint",
        "sparql",
        "sparql",
        "https://www.w3.org/TR/sparql11-protocol/",
        "SPARQL 1.1 Protocol",
        "SPARQL-endepunkt for kommunegraf",
        "kommunegraf SPARQL endpoint",
        "SPARQL 1.1-endepunkt over hele kunnskapsgrafen; tjenestebeskrivelsen (SPARQL 1.1 "
        "Service Description) ligger på samme adresse.",
        "SPARQL 1.1 endpoint over the whole knowledge graph; its SPARQL 1.1 Service "
        "Description is at the same address.",
    ),
    DataServiceKind(
        "query-api",
        "queries",
        "openapi.json",
        "https://spec.openapis.org/oas/v3.1.0",
        "OpenAPI Specification 3.1.0",
        "Ferdige spørringer i kommunegraf (API)",
        "kommunegraf canned-query API",
        "Ferdige SPARQL-spørringer med typede parametre, som JSON, XML, CSV eller TSV; "
        "beskrevet i OpenAPI.",
        "Canned SPARQL queries with typed parameters, answered as JSON, XML, CSV or TSV; "
        "described in OpenAPI.",
    ),
)


def data_services(out: Graph, base_iri: str, datasets: Iterable[URIRef]) -> list[URIRef]:
    """Describe the SPARQL endpoint and the query API in ``out``, serving ``datasets``.

    Why in every catalogue: Felles datakatalog harvests data services through a
    catalogue's ``dcat:service``, and both serve every published dataset. The same IRI
    in each catalogue is the same service; each catalogue lists its own datasets.
    """
    public = URIRef(str(ACCESS_RIGHT) + "PUBLIC")
    served = list(datasets)
    services = []
    for kind in DATA_SERVICES:
        service = URIRef(f"{base_iri}catalog#{kind.fragment}")
        out.add((service, RDF.type, DCAT.DataService))
        out.add((service, DCTERMS.identifier, Literal(str(service))))
        out.add((service, DCTERMS.title, Literal(kind.title_nb, lang="nb")))
        out.add((service, DCTERMS.title, Literal(kind.title_en, lang="en")))
        out.add((service, DCTERMS.description, Literal(kind.text_nb, lang="nb")))
        out.add((service, DCTERMS.description, Literal(kind.text_en, lang="en")))
        out.add((service, DCAT.endpointURL, URIRef(base_iri + kind.endpoint)))
        out.add((service, DCAT.endpointDescription, URIRef(base_iri + kind.description)))
        standard = URIRef(kind.conforms_to)
        out.add((service, DCTERMS.conformsTo, standard))
        out.add((standard, RDF.type, DCTERMS.Standard))
        out.add((standard, DCTERMS.title, Literal(kind.standard, lang="en")))
        out.add((service, DCTERMS.accessRights, public))
        out.add((public, RDF.type, SKOS.Concept))
        out.add((public, SKOS.inScheme, ACCESS_RIGHT_SCHEME))
        out += _access_right_labels().triples((public, None, None))
        for dataset in served:
            out.add((service, DCAT.servesDataset, dataset))
        services.append(service)
    return services
