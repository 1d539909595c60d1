"""The namespaces kommunegraf mints or reuses, bound once for every graph.

>>> str(KG.Municipality)
'https://w3id.org/kommunegraf/ontology#Municipality'
"""

from __future__ import annotations

from rdflib import Graph, Namespace
from rdflib.namespace import DCAT, DCTERMS, FOAF, ORG, OWL, PROV, RDF, RDFS, SKOS, XSD

KG = Namespace("https://w3id.org/kommunegraf/ontology#")
KGSH = Namespace("https://w3id.org/kommunegraf/shapes#")
CV = Namespace("http://data.europa.eu/m8g/")
CPSV = Namespace("http://purl.org/vocab/cpsv#")
CPSVNO = Namespace("https://data.norge.no/vocabulary/cpsvno#")
ELI = Namespace("http://data.europa.eu/eli/ontology#")
SCHEMA = Namespace("https://schema.org/")
VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
LOS = Namespace("https://psi.norge.no/los/tema/")
LRT = Namespace("https://data.norge.no/vocabulary/legal-resource-type#")
ACCESS_RIGHT = Namespace("http://publications.europa.eu/resource/authority/access-right/")
DPV = Namespace("https://w3id.org/dpv#")

DEFAULT_BASE_IRI = "http://127.0.0.1:8000/"

PREFIXES: dict[str, str] = {
    "kg": str(KG),
    "kgsh": str(KGSH),
    "cv": str(CV),
    "cpsv": str(CPSV),
    "cpsvno": str(CPSVNO),
    "eli": str(ELI),
    "schema": str(SCHEMA),
    "vcard": str(VCARD),
    "los": str(LOS),
    "lrt": str(LRT),
    "dpv": str(DPV),
    "dcat": str(DCAT._NS),
    "dct": str(DCTERMS._NS),
    "foaf": str(FOAF._NS),
    "org": str(ORG._NS),
    "owl": str(OWL._NS),
    "prov": str(PROV._NS),
    "rdf": str(RDF._NS),
    "rdfs": str(RDFS._NS),
    "skos": str(SKOS._NS),
    "xsd": str(XSD._NS),
}


def bind_prefixes(graph: Graph) -> Graph:
    """Bind the project's prefixes so serialisations read the same everywhere."""
    for prefix, namespace in PREFIXES.items():
        graph.bind(prefix, namespace, override=True)
    return graph


def sparql_prologue() -> str:
    """PREFIX lines for every namespace above, for queries written in code.

    >>> "PREFIX kg: <https://w3id.org/kommunegraf/ontology#>" in sparql_prologue()
    True
    """
    return "\n".join(f"PREFIX {p}: <{ns}>" for p, ns in PREFIXES.items()) + "\n"
