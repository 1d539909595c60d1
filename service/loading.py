"""Validate sources and, only when every one is valid, load each into its graph."""

from __future__ import annotations

import re
import time
import unicodedata
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Protocol

import pyoxigraph as ox
from rdflib import Graph

from loaders.paths import ontology_dir
from loaders.provenance import source_metadata
from loaders.rdf_source import read_rdf
from loaders.reference import ReferenceSource, reference_graph, reference_sources
from loaders.report import Issue, Report
from loaders.resolver import KEY_PROPERTIES
from loaders.spreadsheet import SPREADSHEET_SUFFIXES, check_spreadsheet
from loaders.validation import Problem, validate
from service.metrics import record_load, record_rejected_load
from service.store import KnowledgeStore


class GraphWriter(Protocol):
    """Anything that can replace a named graph atomically: a store or a backend."""

    def replace_graph(self, graph_iri: str, data: Graph) -> None: ...


@dataclass(frozen=True)
class SourceResult:
    path: Path
    graph_iri: str
    triples: int
    report: Report
    data: bytes
    graph: Graph
    row_counts: dict[str, int] = field(default_factory=dict)


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


def _rdf_report(path: Path, problems: list[Problem]) -> Report:
    return Report(
        path.name,
        [
            Issue(
                p.severity,
                p.message_nb,
                p.message_en,
                value=p.value,
                node=p.focus_node,
                path=p.path,
            )
            for p in problems
        ],
    )


def check_sources(
    paths: list[Path], base_iri: str, stored: Graph | None = None
) -> list[SourceResult]:
    """Read and validate every source; load nothing.

    Spreadsheets and RDF files are checked against the reference data and, when
    given, what is already ``stored`` (names in a sheet may refer to either).
    """
    context = _reference(base_iri)
    if stored is not None:
        context = context + stored
    results = []
    for path in paths:
        iri = source_graph_iri(path, base_iri)
        if path.suffix.lower() in SPREADSHEET_SUFFIXES:
            checked = check_spreadsheet(path, base_iri, context)
            data = path.read_bytes() if checked.report.readable else b""
            results.append(
                SourceResult(
                    path,
                    iri,
                    len(checked.graph),
                    checked.report,
                    data,
                    checked.graph,
                    checked.row_counts,
                )
            )
            continue
        graph, data = read_rdf(path, base_iri)
        report = _rdf_report(path, validate(graph, context).problems)
        results.append(SourceResult(path, iri, len(graph), report, data, graph))
    return results


def load_reference(store: GraphWriter, base_iri: str) -> list[str]:
    """Load every bundled reference file into its own named graph, with provenance."""
    loaded = []
    # The ontology goes in too, so that queries can show the labels of the controlled
    # values (hosting, lifecycle ...) that the data refers to.
    ontology = ReferenceSource("ontology", ontology_dir() / "kommunegraf.ttl", "turtle")
    for source in [*reference_sources(), ontology]:
        raw = source.path.read_bytes()
        graph = Graph().parse(data=raw, format=source.rdf_format, publicID=base_iri)
        iri = source.graph_iri(base_iri)
        started = time.perf_counter()
        store.replace_graph(iri, graph + source_metadata(iri, source.path.name, raw, len(graph)))
        record_load("reference", rows=0, triples=len(graph), seconds=time.perf_counter() - started)
        loaded.append(iri)
    return loaded


def load_sources(store: GraphWriter, results: list[SourceResult]) -> None:
    """Replace each source's graph; the caller has checked that all conform."""
    if not all(result.report.conforms for result in results):
        for result in results:
            if not result.report.conforms:
                record_rejected_load(_source_kind(result))
        raise ValueError("refusing to load sources with errors")
    for result in results:
        started = time.perf_counter()
        metadata = source_metadata(
            result.graph_iri,
            result.path.name,
            result.data,
            result.triples,
            row_counts=result.row_counts,
        )
        store.replace_graph(result.graph_iri, result.graph + metadata)
        record_load(
            _source_kind(result),
            rows=sum(result.row_counts.values()),
            triples=result.triples,
            seconds=time.perf_counter() - started,
        )


def _source_kind(result: SourceResult) -> str:
    """The ``source`` label of the load metrics: spreadsheet or rdf."""
    return "spreadsheet" if result.path.suffix.lower() in SPREADSHEET_SUFFIXES else "rdf"


def stored_context(store: KnowledgeStore, base_iri: str) -> Graph:
    """What uploads may refer to in the store: typed nodes with their names and ids.

    Reference data is left out (the loaders have it already); only the types,
    labels and identifiers are taken, which is what name resolution and the
    shapes' class checks need, not whole graphs.
    """
    keys = " ".join(f"<{p}>" for p in KEY_PROPERTIES)
    results = store.query(
        f"""CONSTRUCT {{ ?s a ?type . ?s ?p ?o }} WHERE {{
          GRAPH ?g {{ ?s a ?type . OPTIONAL {{ ?s ?p ?o . VALUES ?p {{ {keys} }} }} }}
          FILTER(!STRSTARTS(STR(?g), "{base_iri}graph/reference/"))
        }}"""
    )
    assert isinstance(results, ox.QueryTriples)
    return Graph().parse(data=results.serialize(format=ox.RdfFormat.N_TRIPLES) or b"", format="nt")
