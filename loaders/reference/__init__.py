"""The reference data every load is checked against.

Real, public data only: municipalities and counties (Kartverket), former
municipality numbers and their successors, LOS themes and legal-resource types
(Digdir), the acts and sections that make services statutory (Lovdata ELI
identifiers), statutory services and national components. Sources and licences
are in README.md beside this file.

The files use relative IRIs (``<id/kommune/4203>``) so one copy serves any
deployment: they are resolved against the configured base IRI when parsed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox
from rdflib import Graph
from rdflib.term import Node

from loaders.namespaces import DEFAULT_BASE_IRI, bind_prefixes
from loaders.oxigraph_terms import _Twin, rdflib_terms
from loaders.paths import reference_dir


@dataclass(frozen=True)
class ReferenceSource:
    """One reference file and the named graph it is loaded into."""

    name: str
    path: Path
    rdf_format: str

    def graph_iri(self, base_iri: str = DEFAULT_BASE_IRI) -> str:
        """The named graph of this source: one graph per source, as for uploads.

        >>> ReferenceSource("los", Path("los.rdf"), "xml").graph_iri()
        'http://127.0.0.1:8000/graph/reference/los'
        """
        return f"{base_iri}graph/reference/{self.name}"

    def triples(self, base_iri: str = DEFAULT_BASE_IRI) -> set[ox.Quad]:
        """The file's triples, parsed by pyoxigraph (each blank node a fresh one): the
        same triples rdflib reads, 30 times faster (tests/loaders/test_reference.py)."""
        return set(
            ox.parse(
                path=self.path,
                format=_OX_FORMATS[self.rdf_format],
                base_iri=base_iri,
                without_named_graphs=True,
                rename_blank_nodes=True,
            )
        )


_FORMATS = {".ttl": "turtle", ".rdf": "xml"}
_OX_FORMATS = {"turtle": ox.RdfFormat.TURTLE, "xml": ox.RdfFormat.RDF_XML}


def reference_sources() -> list[ReferenceSource]:
    """Every bundled reference file, in a stable order."""
    return [
        ReferenceSource(path.stem, path, _FORMATS[path.suffix])
        for path in sorted(reference_dir().iterdir())
        if path.suffix in _FORMATS
    ]


def reference_graph(base_iri: str = DEFAULT_BASE_IRI) -> Graph:
    """All reference data in one rdflib graph, relative IRIs resolved against base_iri."""
    graph = bind_prefixes(Graph())
    term = rdflib_terms()
    twin = _Twin()

    def kept(q: ox.Quad) -> Node:
        subject = term(q.subject)  # type: ignore[arg-type]
        twin.add(subject, q)
        return subject

    for source in reference_sources():
        graph.addN(
            (kept(q), term(q.predicate), term(q.object), graph)  # type: ignore[arg-type]
            for q in source.triples(base_iri)
        )
    return twin.keep(graph)  # the checks read the referenced nodes' triples from there
