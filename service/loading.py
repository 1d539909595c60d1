"""Validate sources and, only when every one is valid, load each into its graph."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Protocol

from rdflib import Graph

from loaders.provenance import source_metadata
from loaders.rdf_source import read_rdf
from loaders.reference import reference_graph, reference_sources
from loaders.validation import ValidationReport, validate


class GraphWriter(Protocol):
    """Anything that can replace a named graph atomically: a store or a backend."""

    def replace_graph(self, graph_iri: str, data: Graph) -> None: ...


@dataclass(frozen=True)
class SourceResult:
    path: Path
    graph_iri: str
    triples: int
    report: ValidationReport
    data: bytes
    graph: Graph


def source_graph_iri(path: Path, base_iri: str) -> str:
    """The named graph of an uploaded source, from its file name.

    >>> source_graph_iri(Path("/tmp/Vest-Telemark Økonomi.ttl"), "http://x.test/")
    'http://x.test/graph/source/vest-telemark-okonomi'
    """
    name = path.stem.casefold().replace("æ", "ae").replace("ø", "o").replace("å", "a")
    name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return f"{base_iri}graph/source/{re.sub(r'[^a-z0-9]+', '-', name).strip('-')}"


@cache
def _reference(base_iri: str) -> Graph:
    return reference_graph(base_iri)


def check_sources(paths: list[Path], base_iri: str) -> list[SourceResult]:
    """Read and validate every source against the reference data; load nothing."""
    results = []
    context = _reference(base_iri)
    for path in paths:
        graph, data = read_rdf(path, base_iri)
        results.append(
            SourceResult(
                path,
                source_graph_iri(path, base_iri),
                len(graph),
                validate(graph, context),
                data,
                graph,
            )
        )
    return results


def load_reference(store: GraphWriter, base_iri: str) -> list[str]:
    """Load every bundled reference file into its own named graph, with provenance."""
    loaded = []
    for source in reference_sources():
        raw = source.path.read_bytes()
        graph = Graph().parse(data=raw, format=source.rdf_format, publicID=base_iri)
        iri = source.graph_iri(base_iri)
        store.replace_graph(iri, graph + source_metadata(iri, source.path.name, raw, len(graph)))
        loaded.append(iri)
    return loaded


def load_sources(store: GraphWriter, results: list[SourceResult]) -> None:
    """Replace each source's graph; the caller has checked that all conform."""
    if not all(result.report.conforms for result in results):
        raise ValueError("refusing to load sources with errors")
    for result in results:
        metadata = source_metadata(result.graph_iri, result.path.name, result.data, result.triples)
        store.replace_graph(result.graph_iri, result.graph + metadata)
