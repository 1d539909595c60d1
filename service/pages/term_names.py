"""Human names (nb, en) of the vocabulary's terms, for pages that list properties.

The ontology labels kommunegraf's own terms; the shapes name every column,
including reused terms (``dct:description``, ``foaf:homepage``), so between them
every property a page shows has a name without a second list to keep in step.
Anything neither knows is shown as its prefixed name (``dct:isReplacedBy``).
"""

from __future__ import annotations

from functools import cache

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import RDFS, SH

from loaders.namespaces import PREFIXES
from loaders.paths import ontology_dir, shapes_dir


@cache
def _names() -> dict[str, dict[str, str]]:
    names: dict[str, dict[str, str]] = {}
    shapes = Graph()
    for path in sorted(shapes_dir().glob("*.ttl")):
        shapes.parse(path, format="turtle")
    for shape, term in shapes.subject_objects(SH.path):
        if not isinstance(term, URIRef):
            continue
        for name in shapes.objects(shape, SH.name):
            if isinstance(name, Literal) and name.language:
                names.setdefault(str(term), {}).setdefault(name.language, str(name))
    ontology = Graph()
    for path in sorted(ontology_dir().glob("*.ttl")):
        ontology.parse(path, format="turtle")
    for term, label in ontology.subject_objects(RDFS.label):
        if isinstance(term, URIRef) and isinstance(label, Literal) and label.language:
            names.setdefault(str(term), {})[label.language] = str(label)
    return names


def compact(iri: str) -> str:
    """The prefixed name of an IRI in a known namespace, else the IRI.

    >>> compact("http://purl.org/dc/terms/isReplacedBy")
    'dct:isReplacedBy'
    >>> compact("http://example.org/x")
    'http://example.org/x'
    """
    best = ""
    for prefix, namespace in PREFIXES.items():
        if iri.startswith(namespace) and len(namespace) > len(best):
            best = namespace
            found = f"{prefix}:{iri[len(namespace) :]}"
    return found if best else iri


def term_name(iri: str, lang: str) -> str | None:
    """The term's name in ``lang`` (falling back to bokmål, then English), if it has one."""
    names = _names().get(iri, {})
    return names.get(lang) or names.get("nb") or names.get("en")
