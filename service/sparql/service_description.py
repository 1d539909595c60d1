"""The SPARQL 1.1 Service Description of /sparql, for clients that dereference it.

Generic SPARQL clients (and people) need to learn one thing about this endpoint
that is not the standard default: a query without FROM sees the union of all
named graphs, because every source file is loaded into a named graph of its own.
The description says so with ``sd:UnionDefaultGraph`` and in words; it also lists
the result formats, whether updates are accepted, and the named graphs.
"""

from __future__ import annotations

from collections.abc import Sequence

from rdflib import RDF, RDFS, BNode, Graph, Literal, Namespace, URIRef

from service.settings import Settings

SD = Namespace("http://www.w3.org/ns/sparql-service-description#")
FORMATS = Namespace("http://www.w3.org/ns/formats/")
ENTAILMENT = Namespace("http://www.w3.org/ns/entailment/")


_RESULT_FORMATS = (
    "SPARQL_Results_JSON",
    "SPARQL_Results_XML",
    "SPARQL_Results_CSV",
    "SPARQL_Results_TSV",
    "Turtle",
    "N-Triples",
    "JSON-LD",
    "RDF_XML",
)
_INPUT_FORMATS = ("Turtle", "N-Triples", "JSON-LD", "RDF_XML")


def describe(endpoint: str, store: str, settings: Settings, named_graphs: Sequence[str]) -> Graph:
    """The description of the endpoint at ``endpoint``, whose graph store is ``store``."""
    graph = Graph()
    graph.bind("sd", SD)
    graph.bind("formats", FORMATS)
    service = URIRef(endpoint)
    graph.add((service, RDF.type, SD.Service))
    graph.add((service, SD.endpoint, service))
    graph.add((service, SD.supportedLanguage, SD.SPARQL11Query))
    if settings.token or settings.tokens:
        graph.add((service, SD.supportedLanguage, SD.SPARQL11Update))
    graph.add((service, SD.feature, SD.UnionDefaultGraph))
    if settings.service_allow:
        graph.add((service, SD.feature, SD.BasicFederatedQuery))
    graph.add((service, SD.defaultEntailmentRegime, ENTAILMENT.Simple))
    for name in _RESULT_FORMATS:
        graph.add((service, SD.resultFormat, FORMATS[name]))
    for name in _INPUT_FORMATS:
        graph.add((service, SD.inputFormat, FORMATS[name]))
    graph.add((service, RDFS.label, Literal("kommunegraf SPARQL-endepunkt", lang="nb")))
    graph.add((service, RDFS.label, Literal("kommunegraf SPARQL endpoint", lang="en")))
    writes_nb, writes_en = (
        (
            "Oppdateringer (SPARQL Update, og Graph Store Protocol på {store}) krever "
            "Authorization: Bearer <nøkkel>.",
            "Updates (SPARQL Update, and the Graph Store Protocol at {store}) need "
            "Authorization: Bearer <token>.",
        )
        if settings.token or settings.tokens
        else (
            "Tjenesten er skrivebeskyttet; grafene kan leses med Graph Store Protocol på {store}.",
            "The service is read-only; graphs can be read with the Graph Store Protocol "
            "at {store}.",
        )
    )
    graph.add((service, RDFS.comment, Literal(writes_nb.format(store=store), lang="nb")))
    graph.add((service, RDFS.comment, Literal(writes_en.format(store=store), lang="en")))
    graph.add((service, RDFS.seeAlso, URIRef(store)))
    if settings.service_allow:
        allowed = ", ".join(settings.service_allow)
        graph.add((service, RDFS.comment, Literal(f"SERVICE er tillatt mot: {allowed}", lang="nb")))
        graph.add((service, RDFS.comment, Literal(f"SERVICE may reach: {allowed}", lang="en")))

    dataset = BNode()
    default = BNode()
    own = f"{settings.base_iri}graph/default"  # graph_store.default_graph
    graph.add((service, SD.defaultDataset, dataset))
    graph.add((dataset, RDF.type, SD.Dataset))
    graph.add((dataset, SD.defaultGraph, default))
    graph.add((default, RDF.type, SD.Graph))
    graph.add(
        (
            default,
            RDFS.comment,
            Literal(
                "Standardgrafen er unionen av alle navngitte grafer: en spørring uten FROM "
                "ser alt som er lastet. Hver kildefil ligger i sin egen navngitte graf. "
                "I Graph Store Protocol er ?default den samme unionen når den leses; det som "
                "skrives til ?default (PUT, POST, DELETE), er standardgrafens eget innhold, "
                f"grafen <{own}>, som er en del av unionen.",
                lang="nb",
            ),
        )
    )
    graph.add(
        (
            default,
            RDFS.comment,
            Literal(
                "The default graph is the union of all named graphs: a query without FROM "
                "sees everything loaded. Each source file is a named graph of its own. "
                "In the Graph Store Protocol, ?default reads as the same union; what is "
                "written to ?default (PUT, POST, DELETE) is the default graph's own content, "
                f"the graph <{own}>, which is part of the union.",
                lang="en",
            ),
        )
    )
    for name in named_graphs:
        named = BNode()
        graph.add((dataset, SD.namedGraph, named))
        graph.add((named, RDF.type, SD.NamedGraph))
        graph.add((named, SD.name, URIRef(name)))
    return graph
