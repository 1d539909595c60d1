"""Validate sources and, only when every one is valid, load each into its graph."""

from __future__ import annotations

import atexit
import logging
import math
import multiprocessing
import os
import re
import sys
import time
import unicodedata
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import pyoxigraph as ox
from defusedxml.ElementTree import fromstring as safe_xml
from rdflib import Graph, URIRef
from rdflib.term import Node

from loaders.classes import classes
from loaders.column_use import header_key
from loaders.columns import sheets
from loaders.context import layered_context
from loaders.engines import Engine
from loaders.oxigraph_terms import parse_ntriples
from loaders.paths import ontology_dir
from loaders.problems import Problem
from loaders.provenance import Triple, metadata_triples, source_metadata
from loaders.rdf_source import read_rdf
from loaders.reference import ReferenceSource, reference_graph, reference_sources
from loaders.report import Issue, Report
from loaders.spreadsheet import SPREADSHEET_SUFFIXES, CheckedSpreadsheet, read_spreadsheet
from loaders.validation import validate_batch
from service.metrics import record_load, record_rejected_load
from service.store.embedded import NewGraphs, ntriples, safe_ntriples
from service.store.names import names_of

if TYPE_CHECKING:
    # Only named in annotations: ``kommunegraf validate`` imports this module, and the
    # backend brings the query workers and the SPARQL lexer.
    pass


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
    rdf: Graph | None
    """The source's triples as an rdflib graph, when it was read as one (an RDF file, an
    upload's plan); None for a spreadsheet, whose triples are in ``checked``; empty once
    ``ntriples`` holds them instead."""
    row_counts: dict[str, int] = field(default_factory=dict)
    checked: CheckedSpreadsheet | None = None
    """For a spreadsheet: its rows and cells, where SHACL problems are pinned."""
    ntriples: bytes | None = None
    """The triples as N-Triples written by pyoxigraph, when the graph was not kept.

    A batch's workers check their sources whole (read, map, validate) and send back
    only this and the report: a tenth of the memory of rdflib graphs, cheap to send
    between processes, and loaded by the store without parsing it in Python.
    """

    @property
    def graph(self) -> Graph:
        """The source's triples as an rdflib graph (built from the mapped triples if need be)."""
        if self.rdf is not None:
            return self.rdf
        return Graph() if self.checked is None else self.checked.graph

    def source_triples(self) -> list[tuple[Node, Node, Node]]:
        """The source's triples, without building an rdflib graph for a spreadsheet's."""
        if self.rdf is None and self.checked is not None:
            return self.checked.triples
        return list(self.graph)

    def compact(self, written: dict[Node, str] | None = None) -> SourceResult:
        """This result once checked: its triples as N-Triples, the graph and cells let go.

        Triples about the source's own graph IRI are left out, as ``load_sources``
        leaves them out: that node's description is the provenance written there.
        ``written``: the text of terms already written (``embedded.ntriples``), for a batch.
        The report is the same object, so problems added to this one show in both.
        """
        if self.ntriples is not None:
            return self
        own = URIRef(self.graph_iri)
        triples = self.source_triples()
        # Almost never about its own graph IRI: a set of the subjects (hashed in C) tells,
        # where comparing each subject (rdflib compares in Python) cost a tenth of this.
        if own in {s for s, _, _ in triples}:
            triples = [t for t in triples if t[0] != own]
        data = ntriples(triples, written)
        return replace(self, rdf=Graph(), checked=None, ntriples=data)

    def complete_ntriples(self) -> bytes | None:
        """``ntriples`` when they hold every triple of the source (nothing was about its own
        graph IRI): then SHACL may read them instead of converting the triples again."""
        if self.ntriples is None or self.ntriples.count(b"\n") != self.triples:
            return None
        return self.ntriples

    def rdf_graph(self) -> Graph:
        """The triples as an rdflib graph, parsed again from ``ntriples`` if need be."""
        if self.ntriples is None:
            return self.graph
        return parse_ntriples(self.ntriples)

    @property
    def needs_validation(self) -> bool:
        """Whether SHACL has anything to check (an unreadable or empty file has not)."""
        if self.checked is None:
            return True
        return self.checked.mapped is not None and bool(self.checked.mapped.rows)

    def add_problems(self, problems: list[Problem]) -> None:
        """Add SHACL's problems to the report: at cells for a spreadsheet, at nodes for RDF."""
        if self.checked is not None:
            self.checked.add_problems(problems)
        else:
            self.report.issues.extend(_rdf_report(self.path, problems).issues)


def source_graph_iri(path: Path, base_iri: str) -> str:
    """The named graph of an uploaded source, from its file name.

    >>> source_graph_iri(Path("/tmp/Vest-Telemark Økonomi.ttl"), "http://x.test/")
    'http://x.test/graph/source/vest-telemark-okonomi'
    """
    name = path.stem.casefold().replace("æ", "ae").replace("ø", "o").replace("å", "a")
    name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return f"{base_iri}graph/source/{re.sub(r'[^a-z0-9]+', '-', name).strip('-')}"


@cache
def reference_context(base_iri: str) -> Graph:
    """The reference data (municipalities, laws, LOS) a source's references resolve against."""
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


def _read_one(path: Path, base_iri: str, context: Graph) -> SourceResult:
    """Read (and map, for a spreadsheet) one source; SHACL comes after."""
    iri = source_graph_iri(path, base_iri)
    if path.suffix.lower() in SPREADSHEET_SUFFIXES:
        checked = read_spreadsheet(path, base_iri, context)
        data = path.read_bytes() if checked.report.readable else b""
        return SourceResult(
            path,
            iri,
            len(checked.mapped.triples) if checked.mapped is not None else 0,
            checked.report,
            data,
            None,
            checked.row_counts,
            checked,
        )
    graph, data = read_rdf(path, base_iri)
    return SourceResult(path, iri, len(graph), Report(path.name), data, graph)


def _check_one(path: Path, base_iri: str, context: Graph, engine: Engine) -> SourceResult:
    result = _read_one(path, base_iri, context)
    if result.needs_validation:
        result.add_problems(validate_batch([result.source_triples()], context, engine)[0].problems)
    return result


def shared_classes() -> frozenset[URIRef]:
    """Classes whose rows other sources of a batch refer to by name (``kgsh:sharing``)."""
    return frozenset(c.iri for c in classes() if c.shared)


def _shared_sheet_names() -> set[str]:
    return {
        header_key(name)
        for sheet in sheets()
        if sheet.target_class in shared_classes()
        for name in (sheet.name_nb, sheet.name_en)
    }


def defines_shared_names(path: Path) -> bool:
    """Whether other sources may refer to rows of ``path``, so it is checked before them.

    Only an xlsx workbook can be told apart cheaply (its sheet names, from the
    workbook part alone, parsed without entity expansion); any other source, and
    any workbook that cannot be peeked into, counts as shared: that only makes it
    be checked earlier and alone, never wrongly.
    """
    if path.suffix.lower() not in {".xlsx", ".xlsm"}:
        return True
    try:
        with zipfile.ZipFile(path) as archive:
            info = archive.getinfo("xl/workbook.xml")
            if info.file_size > 1_000_000:
                return True
            root = safe_xml(archive.read(info))
    except Exception:  # the full check reports what is wrong with it
        return True
    names = {header_key(e.get("name", "")) for e in root.iter() if e.tag.endswith("}sheet")}
    return bool(names & _shared_sheet_names())


class _WorkerState:
    """What a check process keeps between its batches: the reference data as a context
    (built once, when the process starts) and that context with the names of the batch's
    shared sources on top (built again only when those change)."""

    base_iri = ""
    engine: Engine = "sparql"
    reference: Graph | None = None
    names: bytes | None = None
    context: Graph | None = None


def _start_worker(base_iri: str, engine: Engine) -> None:
    _WorkerState.base_iri, _WorkerState.engine = base_iri, engine
    _WorkerState.reference = reference_context(base_iri)
    if multiprocessing.parent_process() is not None:  # only ever a pool's own process
        atexit.register(_exit_at_once)


def _exit_at_once() -> None:
    """End a check process without tearing its interpreter down object by object.

    Registered last, so run first at exit: once the pool tells a worker to stop, its
    results are sent (the pool writes them synchronously), and freeing its graphs one
    by one took 0.3-0.6 s that the pool's shutdown waited for, after the national
    demo's last check, with a core idle. Log handlers and output are flushed first.
    """
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _ready() -> None:
    """A task that only makes the pool start a process (its initializer does the work)."""


def _check_batch(
    paths: list[Path], base_iri: str, context: Graph, engine: Engine
) -> list[SourceResult]:
    """Read, map and validate ``paths`` together (one pass of the compiled checks over
    the batch), and hand back compact results: nothing of a batch outlives it."""
    read = [_read_one(path, base_iri, context) for path in paths]
    written: dict[Node, str] = {}
    compact = [result.compact(written) for result in read]
    pending = [(r, c) for r, c in zip(read, compact, strict=True) if r.needs_validation]
    reports = validate_batch(
        [r.source_triples() for r, _ in pending],
        context,
        engine,
        ntriples=[c.complete_ntriples() for _, c in pending],
    )
    for (result, _), report in zip(pending, reports, strict=True):
        result.add_problems(report.problems)  # the compact result shares the report
    return compact


def _worker_context(names: bytes) -> Graph:
    """A worker's reference data with ``names`` (N-Triples) on top, built again only when
    they change."""
    state = _WorkerState
    assert state.reference is not None
    if state.context is None or names != state.names:
        extra = Graph().parse(data=names, format="nt")
        state.context, state.names = layered_context(state.reference, extra), names
    return state.context


def _check_in_worker(paths: list[Path], names: bytes) -> list[SourceResult]:
    """Check a batch in a worker process; ``names``: the shared sources' names (N-Triples),
    sent with every batch because the processes start before the shared sources are checked."""
    state = _WorkerState
    return _check_batch(paths, state.base_iri, _worker_context(names), state.engine)


def _check_shared_in_worker(path: Path, names: bytes) -> tuple[SourceResult, bytes]:
    """Check a shared source in a worker process, seeing ``names`` (of the stored data and
    the shared sources before it): its compact result, and what the sources after it
    need of it (``names_of``, as N-Triples; nothing when it does not conform).

    Why in a worker: it has the reference data as a graph anyway, which the process
    writing the store then never builds (0.6 CPU s and 60 MB of a first start)."""
    state = _WorkerState
    result = _check_one(path, state.base_iri, _worker_context(names), state.engine)
    found = names_of(result.graph) if result.report.conforms else Graph()
    return result.compact(), found.serialize(format="nt", encoding="utf-8")


def _warm_up(path: Path) -> None:
    """Check ``path`` (the smallest source) against the reference data alone and forget
    the result: what a process's first check costs once (the reference data's indexes,
    the ontology, the shapes compiled: about 0.75 of the catalogue's 0.8 CPU s) is then
    paid by the second worker while the first checks the shared sources, and it would
    wait, instead of in its first batch."""
    state = _WorkerState
    _check_one(path, state.base_iri, _worker_context(b""), state.engine)


def _worker_count(sources: int, workers: int | None) -> int:
    if workers is not None:
        return max(1, min(workers, sources))
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    # A pool costs each worker a start (imports, reference data): worth it for many sources.
    return max(1, min(cpus or 1, sources // 4))


BATCH = 16
"""Sources validated together in one pass. Each compiled check costs a query per pass,
so a pass should hold many sources; held in memory at once as rdflib graphs, and
reported only when done, it should hold few. 16 of the demo's workbooks are about
20,000 triples (measured: the checks' fixed cost is then a small share)."""


def _batches(paths: list[Path], workers: int) -> list[list[Path]]:
    """``paths`` in batches of at most ``BATCH``, at least two per worker, in order.

    The batches shrink towards the end (each at most a ``2 * workers``-th of what is
    left, down to a quarter of ``BATCH``), so that the workers finish close together:
    with batches of 16 to the end, one core checked the national demo's last batch alone
    for about a second while the other waited.

    >>> [len(b) for b in _batches([Path(str(i)) for i in range(100)], 2)]
    [16, 16, 16, 13, 10, 8, 6, 4, 4, 4, 3]
    """
    smallest = max(1, min(BATCH // 4, math.ceil(len(paths) / (2 * workers))))
    batches, start = [], 0
    while start < len(paths):
        left = len(paths) - start
        size = max(smallest, min(BATCH, math.ceil(left / (2 * workers))))
        batches.append(paths[start : start + size])
        start += size
    return batches


def check_sources(
    paths: list[Path],
    base_iri: str,
    stored: Graph | None = None,
    workers: int | None = None,
    progress: Callable[[SourceResult], None] | None = None,
    engine: Engine = "sparql",
) -> list[SourceResult]:
    """Read and validate every source; load nothing.

    Spreadsheets and RDF files are checked against the reference data, what is
    already ``stored`` when given, and the shared sources of the same batch (a
    catalogue of vendors and applications that municipality workbooks name): those
    are checked first, in the given order, each seeing the ones before it. The
    other sources are independent of each other, so they are checked in batches
    (``BATCH``: read, mapped and validated in one pass of the compiled checks) in
    parallel processes (``workers``; default: the CPUs, for batches large enough to
    pay for starting them). Results come back in the order of ``paths``, compact
    (``SourceResult.compact``); ``progress`` is called with each one as its batch
    is done.
    """
    done = progress or (lambda result: None)
    shared = [path for path in paths if defines_shared_names(path)]
    rest = [path for path in paths if path not in shared]
    count = _worker_count(len(rest), workers)
    with _pool(count, base_iri, engine) as pool:
        # The worker processes start (imports, reference data) while this one looks for
        # the shared sources; the first one ready checks those, in turn, and both the rest.
        results: dict[Path, SourceResult] = {}
        batches = _batches(rest, count)
        checked: Iterator[list[SourceResult]]
        if pool is None:
            context = reference_context(base_iri)
            if stored is not None:
                context = layered_context(context, stored)
            for path in shared:
                result = _check_one(path, base_iri, context, engine)
                results[path] = result
                done(result)
                if result.report.conforms and len(paths) > 1:
                    context = layered_context(context, names_of(result.graph))
            checked = (_check_batch(batch, base_iri, context, engine) for batch in batches)
        else:
            names = b"" if stored is None else stored.serialize(format="nt", encoding="utf-8")
            for index, path in enumerate(shared):
                checking = pool.submit(_check_shared_in_worker, path, names)
                if index == 0 and rest:
                    pool.submit(_warm_up, min(rest, key=lambda p: p.stat().st_size))
                result, more = checking.result()
                results[path] = result
                done(result)
                names += more if len(paths) > 1 else b""
            checked = pool.map(_check_in_worker, batches, [names] * len(batches))
        for batch_results in checked:
            for result in batch_results:
                results[result.path] = result
                done(result)
    return [results[path].compact() for path in paths]


@contextmanager
def _pool(count: int, base_iri: str, engine: Engine) -> Iterator[ProcessPoolExecutor | None]:
    """``count`` worker processes, started now (None for one: the caller checks in-process).

    "spawn": the caller may be a threaded server, which must not be forked. A worker that
    dies (killed, out of memory) breaks the pool with an error, where
    multiprocessing.Pool would wait for its batch forever.
    """
    if count == 1:
        yield None
        return
    with ProcessPoolExecutor(
        count,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_worker,
        initargs=(base_iri, engine),
    ) as pool:
        for _ in range(count):  # the pool starts a process per task until it has ``count``
            pool.submit(_ready)
        yield pool


def load_reference(store: GraphWriter, base_iri: str) -> list[str]:
    """Load every bundled reference file into its own named graph, with provenance."""
    loaded = []
    # The ontology goes in too, so that queries can show the labels of the controlled
    # values (hosting, lifecycle ...) that the data refers to.
    ontology = ReferenceSource("ontology", ontology_dir() / "kommunegraf.ttl", "turtle")
    direct = getattr(store, "replace_graph_ntriples", None)
    for source in [*reference_sources(), ontology]:
        raw = source.path.read_bytes()
        iri = source.graph_iri(base_iri)
        started = time.perf_counter()
        if direct is not None:
            # pyoxigraph parses and writes the same triples 30 times faster than rdflib
            # (4 CPU seconds of every first start, before any workbook was checked).
            triples = source.triples(base_iri)
            count = len(triples)
            data = ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES) or b""
            metadata = source_metadata(iri, source.path.name, raw, count)
            direct(iri, data + safe_ntriples(metadata).encode())
        else:
            graph = Graph().parse(data=raw, format=source.rdf_format, publicID=base_iri)
            count = len(graph)
            store.replace_graph(iri, graph + source_metadata(iri, source.path.name, raw, count))
        record_load("reference", rows=0, triples=count, seconds=time.perf_counter() - started)
        loaded.append(iri)
    return loaded


def load_sources(
    store: GraphWriter,
    results: list[SourceResult],
    written: Callable[[], None] | None = None,
) -> None:
    """Replace each source's graph; the caller has checked that all conform.

    ``written`` is called after each source (a progress bar). New graphs go in a few
    large writes (``KnowledgeStore.add_new_graphs``) where the store can."""
    if not all(result.report.conforms for result in results):
        for result in results:
            if not result.report.conforms:
                record_rejected_load(_source_kind(result))
        raise ValueError("refusing to load sources with errors")
    if _add_new_graphs(store, results, written):
        return
    deferred = getattr(store, "deferred_publish", None)
    with deferred() if deferred is not None else nullcontext():
        for result in results:
            started = time.perf_counter()
            metadata = source_description(result)
            direct = getattr(store, "replace_graph_ntriples", None)
            if result.ntriples is not None and direct is not None:
                direct(result.graph_iri, result.ntriples + safe_ntriples(metadata).encode())
            else:
                graph = result.rdf_graph()
                # Added in place: copying a large graph (graph + metadata) costs more than
                # writing it.
                graph.remove((URIRef(result.graph_iri), None, None))
                for triple in metadata:
                    graph.add(triple)
                store.replace_graph(result.graph_iri, graph)
            record_load(
                _source_kind(result),
                rows=sum(result.row_counts.values()),
                triples=result.triples,
                seconds=time.perf_counter() - started,
            )
            if written is not None:
                written()


def source_description(result: SourceResult) -> Graph:
    """The graph's description of itself that a load writes beside the source's triples."""
    graph = Graph()
    graph.addN((s, p, o, graph) for s, p, o in _description(result))
    return graph


def _description(result: SourceResult) -> list[Triple]:
    return metadata_triples(
        result.graph_iri,
        result.path.name,
        result.data,
        result.triples,
        row_counts=result.row_counts,
    )


def _add_new_graphs(
    store: GraphWriter,
    results: list[SourceResult],
    written: Callable[[], None] | None,
) -> bool:
    """All of ``results`` in a few large writes, when the store can and
    none of their graphs exists yet (a first start, a new batch); False when they must be
    replaced one by one. ``written`` is called as each source's graph is written, so
    that a progress bar moves with the writing rather than jumping at its end."""
    add = getattr(store, "add_new_graphs", None)
    if add is None or not results or any(r.ntriples is None for r in results):
        return False
    # The descriptions written as text straight from their terms (the terms they share
    # written once): through an rdflib graph and ``safe_ntriples`` they cost a first start
    # more CPU than the rest of its provenance.
    terms: dict[Node, str] = {}
    graphs: NewGraphs = [
        (r.graph_iri, (*_lines(r.ntriples or b""), ntriples(_description(r), terms)))
        for r in results
    ]
    last = [time.perf_counter()]

    def done(index: int) -> None:
        now = time.perf_counter()
        result = results[index]
        record_load(
            _source_kind(result),
            rows=sum(result.row_counts.values()),
            triples=result.triples,
            seconds=now - last[0],
        )
        last[0] = now
        if written is not None:
            written()

    return bool(add(graphs, done))


def _lines(text: bytes) -> tuple[bytes, ...]:
    """``text`` with a line break after its last line, joined to the next N-Triples
    (``nquads`` checks every line). Without copying it, and without a blank line: an
    empty line made ``nquads`` copy a first start's every N-Triples once more."""
    return (text,) if not text or text.endswith(b"\n") else (text, b"\n")


def _source_kind(result: SourceResult) -> str:
    """The ``source`` label of the load metrics: spreadsheet or rdf."""
    return "spreadsheet" if result.path.suffix.lower() in SPREADSHEET_SUFFIXES else "rdf"
