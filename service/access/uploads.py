"""Checking an uploaded workbook against its writer's scope, and loading it, audited.

Why apart from the routes: the API (``POST /upload``) and the browser form
(``/upload/form``) take the same steps, and the steps are not about HTTP: validate
the workbook (``loaders``) against the reference data and what is stored; check the
rows against the token's scope (``service.access.scope``), where a row for another
municipality or for shared reference data is an error naming its sheet and row and
application and vendor rows become a proposal (``service.access.proposals``); load
only a report without errors, into the writer's graph, and record it in the audit
trail with the file's SHA-256.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pyoxigraph as ox
from fastapi import Request
from rdflib import BNode, Graph, URIRef
from rdflib.term import Node

from loaders.changes import change_lines, compare_lines
from loaders.context import context_index, forget_context_index, layered_context
from loaders.engines import Engine
from loaders.mapping import Triple
from loaders.oxigraph_terms import Line, comparable_lines, ox_term, rdflib_triples
from loaders.provenance import not_graph_description
from loaders.report import Issue, Report
from loaders.shacl_sparql import compile_shapes
from loaders.spreadsheet import SPREADSHEET_SUFFIXES, check_spreadsheet
from loaders.validation import ontology_graph, shapes_graph
from service.access.audit import AuditEvent, GraphChange, auditor, new_event
from service.access.auth import write_lock
from service.access.proposals import new_proposal
from service.access.scope import Principal, municipality_graph, statement_problems, subject_kind
from service.access.takeover import takeover
from service.errors import UploadCheckTimeoutError
from service.metrics import UPLOAD_CHECKS
from service.settings import Settings
from service.store.backend import Backend, construct_ntriples
from service.store.embedded import WRITE_PREAMBLE, ntriples, safe_ntriples
from service.store.names import stored_context, stored_names
from service.store.sources import (
    SourceResult,
    load_sources,
    reference_context,
    source_description,
)
from service.store.worker_tasks import UploadCheck
from service.web.timing import phase


@dataclass
class UploadPlan:
    """A checked workbook: what would be written where, and the report."""

    name: str
    data: bytes
    report: Report
    graph_iri: str = ""
    triples: list[Triple] = field(default_factory=list)
    """What the load writes into ``graph_iri``: the mapped triples themselves. An rdflib
    graph of them cost Oslo's check 39 ms to build in the worker, and the server 11 ms to
    pickle and 27 ms to unpickle (this list: 4 and 11); no step needs the graph."""
    ntriples: bytes | None = None
    """``triples`` as pyoxigraph's N-Triples, when the check wrote them (for its SHACL)."""
    proposal: Graph = field(default_factory=Graph)
    row_counts: dict[str, int] = field(default_factory=dict)
    rows: dict[Any, tuple[str, int]] = field(default_factory=dict)
    """Each subject's (sheet, row) in the file, for the changes' rows."""
    supersedes: tuple[str, ...] = ()
    """Graphs the load drops whole, in its transaction, because it takes over their
    records (``service.access.takeover``)."""
    cold: bool = False
    """The check compiled the shapes: it was the first in its process, not warmed up
    (``warm_steps``); counted in the metrics."""

    def summary(self) -> dict[str, Any]:
        """The upload's answer. ``triples`` is the data the load writes, the number the
        check (``kommunegraf validate``) prints; ``provenance_triples`` the graph's
        description of itself the load writes beside it (``loaders.provenance``), so the
        audit event's count for the graph is their sum."""
        return {
            "file": self.name,
            "conforms": self.report.conforms,
            "graph": self.graph_iri or None,
            "triples": len(self.triples),
            "provenance_triples": len(self.description()) if self.graph_iri else 0,
            "proposed_triples": len(self.proposal),
            "supersedes": list(self.supersedes),
            "report": json.loads(self.report.to_json()),
        }

    @property
    def graph(self) -> Graph:
        """``triples`` as an rdflib graph, built on every call (for tools and tests)."""
        graph = Graph()
        graph.addN((s, p, o, graph) for s, p, o in self.triples)
        return graph

    def source(self) -> SourceResult:
        """The plan as the source ``load_sources`` writes: its triples as pyoxigraph's
        N-Triples, which the embedded store writes as they are (a new graph in one bulk
        write, a graph it holds by what differs) where an rdflib graph was dropped and
        inserted whole in one update (Oslo's: 0.18 s). CPU work: on a thread."""
        own = URIRef(self.graph_iri)
        data = self.ntriples
        if data is None or own in {s for s, _, _ in self.triples}:
            data = ntriples([t for t in self.triples if t[0] != own])
        return replace(self._described(), ntriples=data)

    def _described(self) -> SourceResult:
        """The plan as a source without its triples: enough for its description."""
        path = Path(_safe_name(self.name))
        return SourceResult(
            path,
            self.graph_iri,
            len(self.triples),
            self.report,
            self.data,
            Graph(),
            self.row_counts,
        )

    def description(self) -> Graph:
        """What the load writes about the graph itself (``load_sources``' metadata)."""
        return source_description(self._described())


_WRITTEN: dict[Node, str] = {}
"""The N-Triples text of the IRIs and literals this process's checks wrote (``ntriples``'
``written``): the next upload repeats most of them (its municipality, names, choices)."""
_MOST_WRITTEN = 200_000


def _ntriples(triples: list[Triple]) -> bytes:
    if len(_WRITTEN) > _MOST_WRITTEN:
        _WRITTEN.clear()
    return ntriples(triples, _WRITTEN)


def _safe_name(name: str) -> str:
    """A file name for the temporary copy: its suffix decides how it is read."""
    stem = "".join(c if c.isalnum() or c in "-_ ." else "-" for c in Path(name).stem)[:80]
    return (stem.strip(". ") or "upload") + Path(name).suffix.lower()


def _scope_issues(
    principal: Principal, base: str, rows: dict[Any, tuple[str, int]]
) -> tuple[list[Issue], dict[str, tuple[str, int]]]:
    """Errors for rows outside ``principal``'s scope, and the municipalities it writes."""
    issues: list[Issue] = []
    owners: dict[str, tuple[str, int]] = {}
    numbers = ", ".join(sorted(principal.municipalities))
    for subject, (sheet, row) in sorted(rows.items(), key=lambda item: item[1]):
        if not isinstance(subject, URIRef) or "#" in subject:
            continue  # helper nodes go with their row's subject
        kind, owner = subject_kind(base, str(subject))
        if kind == "catalogue":
            continue
        if kind == "municipal" and owner in principal.municipalities:
            assert owner is not None
            owners.setdefault(owner, (sheet, row))
        elif kind == "municipal":
            issues.append(
                Issue(
                    "error",
                    f"Raden gjelder kommune {owner}, men nøkkelen «{principal.name}» gir bare "
                    f"skrivetilgang for kommune {numbers}.",
                    f"The row is about municipality {owner}, but the token '{principal.name}' "
                    f"only grants writing for municipality {numbers}.",
                    sheet,
                    row,
                    value=str(subject),
                )
            )
        else:
            issues.append(
                Issue(
                    "error",
                    "Raden endrer felles referansedata, som bare en administrator kan endre.",
                    "The row changes shared reference data, which only an administrator "
                    "may change.",
                    sheet,
                    row,
                    value=str(subject),
                )
            )
    if len(owners) > 1:
        for number, (sheet, row) in sorted(owners.items())[1:]:
            first = sorted(owners)[0]
            issues.append(
                Issue(
                    "error",
                    f"Ett regneark gjelder én kommune: raden gjelder {number}, tidligere rader "
                    f"{first}. Last opp ett regneark per kommune.",
                    f"One workbook is about one municipality: the row is about {number}, "
                    f"earlier rows about {first}. Upload one workbook per municipality.",
                    sheet,
                    row,
                )
            )
    return issues, owners


def plan_upload(
    principal: Principal,
    name: str,
    data: bytes,
    base: str,
    stored: Graph,
    engine: Engine = "sparql",
) -> UploadPlan:
    """Validate the workbook and check it against the token's scope; writes nothing to the
    store. ``stored`` is what the store holds (``stored_context``); it is not changed."""
    safe = _safe_name(name)
    report = Report(name)
    if Path(safe).suffix not in SPREADSHEET_SUFFIXES:
        report.readable = False
        known = ", ".join(sorted(SPREADSHEET_SUFFIXES))
        report.issues.append(
            Issue(
                "error",
                f"Filtypen støttes ikke her; last opp et regneark ({known}).",
                f"The file type is not supported here; upload a spreadsheet ({known}).",
            )
        )
        return UploadPlan(name, data, report)
    with tempfile.TemporaryDirectory(prefix="kommunegraf-upload-") as folder:
        path = Path(folder, safe)
        path.write_bytes(data)
        # The stored names over the reference data, neither copied: copying both into a
        # new graph cost 10 s for the national demo on a busy machine, and the reference
        # data's index is made once per process (``loaders.context.context_index``).
        context = layered_context(reference_context(base), stored)
        # pySHACL reads rdflib's terms (the oracle's path stays as it was).
        write = _ntriples if engine == "sparql" else None
        checked = check_spreadsheet(path, base, context, engine=engine, write=write)
    checked.report.source = name
    plan = UploadPlan(name, data, checked.report, row_counts=checked.row_counts, rows=checked.rows)
    if not checked.report.readable:
        return plan
    if principal.is_admin:
        from service.store.sources import source_graph_iri

        plan.graph_iri = source_graph_iri(Path(safe), base)
        plan.triples, plan.ntriples = checked.triples, checked.ntriples
        return plan
    issues, owners = _scope_issues(principal, base, checked.rows)
    plan.report.issues.extend(issues)
    number = min(owners) if owners else min(principal.municipalities)
    plan.graph_iri = municipality_graph(base, number, Path(safe).stem)
    for triple in checked.triples:
        subject = triple[0]
        kind = "own" if isinstance(subject, BNode) else subject_kind(base, str(subject))[0]
        if kind == "catalogue":
            plan.proposal.add(triple)
        else:
            plan.triples.append(triple)
    if not len(plan.proposal):
        plan.ntriples = checked.ntriples  # the same triples
    # What goes into the municipality's graph is checked like any other write, not
    # trusted because the loader made it: whom each triple speaks about, blank nodes
    # included (before, a blank node's triples went in unchecked). Rows already refused
    # above are not reported twice.
    problems = [] if issues else statement_problems(principal, base, plan.graph_iri, plan.triples)
    for problem in problems:
        plan.report.issues.append(
            Issue(
                "error",
                f"Regnearket ville skrive {problem}, som nøkkelen «{principal.name}» ikke gir "
                "tilgang til.",
                f"The workbook would write {problem}, which the token '{principal.name}' does "
                "not grant.",
                value=problem,
            )
        )
    return plan


async def check_upload(
    backend: Backend, settings: Settings, principal: Principal, name: str, data: bytes
) -> UploadPlan:
    """``plan_upload`` against what the store holds now.

    On the embedded store the whole check runs in a query worker with a deadline
    (``EmbeddedBackend.check_upload``, ``upload_timeout``): it reads every named node of
    the store, about a minute of CPU for the national demo on a busy machine, which in
    the server process slowed every request and had no deadline (issue 16: a reload
    under load never answered). On a remote store the names are fetched with a query
    and the check runs on a thread here, within the same deadline.
    """
    in_worker = getattr(backend, "check_upload", None)
    if in_worker is not None:
        writer = (principal.name, principal.role, tuple(sorted(principal.municipalities)))
        check = UploadCheck(name, data, writer, settings.base_iri, settings.engine, "")
        with phase("check"):
            checked = await in_worker(check)
        assert isinstance(checked, UploadPlan)
        plan = checked
        UPLOAD_CHECKS.labels("true" if plan.cold else "false").inc()
    else:
        try:
            async with asyncio.timeout(settings.upload_timeout):
                with phase("check"):
                    stored = await stored_context(backend, settings.base_iri)
                    plan = await asyncio.to_thread(
                        plan_upload,
                        principal,
                        name,
                        data,
                        settings.base_iri,
                        stored,
                        settings.engine,
                    )
        except TimeoutError:
            raise UploadCheckTimeoutError(settings.upload_timeout) from None
    if plan.report.conforms and plan.graph_iri:
        # Which graphs hold the records now: a few indexed lookups, in this process.
        with phase("takeover"):
            issues, plan.supersedes = await takeover(
                backend, settings.base_iri, principal, plan.graph_iri, plan.triples
            )
        plan.report.issues.extend(issues)
    return plan


def check_in_worker(store: ox.Store, check: UploadCheck) -> UploadPlan:
    """``plan_upload`` in a query worker, against the snapshot the worker has open."""
    stored = stored_names(store, check.base_iri, check.snapshot, check.history)
    name, role, municipalities = check.writer
    writer = Principal(name, role, frozenset(municipalities))
    engine: Engine = "pyshacl" if check.engine == "pyshacl" else "sparql"
    compiled = compile_shapes.cache_info().misses
    try:
        plan = plan_upload(writer, check.name, check.data, check.base_iri, stored, engine)
    finally:
        forget_context_index()  # the worker goes back to answering queries
    plan.cold = compile_shapes.cache_info().misses > compiled
    return plan


_WARM_UP_FILE = "Leverandører.csv"
_WARM_UP_DATA = b"Navn;Organisasjonsnummer;Nettside\nKommunegraf oppvarming;;\n"
"""A one-row workbook (a vendor) whose check goes every step a real one does."""


def warm_steps(
    base_iri: str, engine: str, snapshot: Callable[[], str | None] = lambda: None
) -> list[Callable[[], object]]:
    """What a process's first check of an upload computes once and later checks reuse, in
    steps a query worker runs before the first upload comes (``service.store.warm_up``):
    the shapes parsed and compiled, the ontology and the reference data read and indexed,
    then a check of a one-row workbook against no stored names (the rest: the columns,
    the reader's and the mapping's tables, the checks' context); last, the stored names
    of the worker's ``snapshot`` (``stored_names``: a worker's first upload into the
    national demo read them, 1-1.5 CPU s; later ones read only what writes changed)."""
    admin = Principal("warm-up", "admin")
    checked: Engine = "pyshacl" if engine == "pyshacl" else "sparql"

    def shapes() -> object:
        return compile_shapes(shapes_graph())

    def reference() -> object:
        return context_index(ontology_graph(), reference_context(base_iri))

    def check() -> object:
        try:
            return plan_upload(admin, _WARM_UP_FILE, _WARM_UP_DATA, base_iri, Graph(), checked)
        finally:
            forget_context_index()

    def names() -> object:
        path = snapshot()
        if not path:
            return None
        try:
            return stored_names(ox.Store.read_only(path), base_iri, path)
        except OSError:  # the snapshot went away meanwhile: the first check reads them
            return None

    return [shapes, reference, check, names]


async def load_upload(
    request: Request, backend: Backend, principal: Principal, plan: UploadPlan
) -> AuditEvent:
    """Write a conforming plan and its proposal, and record it; returns the audit event."""
    base = request.app.state.settings.base_iri
    audit = auditor(request)
    proposal = None
    if len(plan.proposal):
        proposal = new_proposal(principal, base, plan.graph_iri, plan.proposal)
    planned = [GraphChange(plan.graph_iri, 0, 0)]
    planned += [GraphChange(graph, 0, 0) for graph in plan.supersedes]
    if proposal is not None:
        planned.append(GraphChange(proposal[0], len(proposal[1]), 0))

    async def write() -> None:
        # The graphs taken over are dropped in the new graph's own transaction (the
        # preamble goes before its DROP and INSERT): readers see them or it, never both.
        drops = "".join(f"DROP SILENT GRAPH {ox.NamedNode(g)} ;\n" for g in plan.supersedes)
        marking = WRITE_PREAMBLE.set(WRITE_PREAMBLE.get() + drops)
        try:
            with phase("write"):
                await asyncio.to_thread(lambda: load_sources(backend, [plan.source()]))
        finally:
            WRITE_PREAMBLE.reset(marking)
        if proposal is not None:
            await asyncio.to_thread(backend.replace_graph, *proposal)

    async with write_lock(request):
        # What the load changes, row by row, goes with its audit event: the history on
        # each resource's page and the change feeds read it from there.
        with phase("changes"):
            rows = (await plan_changes(backend, plan))["rows"]
        event = new_event(
            principal,
            "load",
            base,
            planned,
            data=plan.data,
            file_name=plan.name,
            detail=change_lines(rows),
            municipalities={
                owner
                for row in rows
                if (owner := subject_kind(base, str(row["subject"]))[1]) is not None
            },
        )
        # One snapshot for the queries after the write and its audit event, not one
        # after each (a RocksDB checkpoint each: 0.05-0.2 s on a busy disk), published on
        # a thread, never on the event loop. The store's commits are as before: the
        # snapshot is only what the query workers read; readers see the new data with
        # its audit event, no longer a moment before it.
        with ExitStack() as publish:
            deferred = getattr(backend, "deferred_publish", None)
            if deferred is not None:
                publish.enter_context(deferred())
            try:
                with phase("audited"):
                    return await audit.audited(event, plan.graph_iri, write, also=plan.supersedes)
            finally:
                with phase("publish"):
                    await asyncio.to_thread(publish.close)


async def _triples(backend: Backend, query: str) -> set[Line]:
    """A CONSTRUCT's triples, read by pyoxigraph's parser on a thread (``construct`` reads
    with rdflib's, on the event loop when small: Oslo's 4,400 triples 151 ms, this 33),
    as N-Triples terms that compare as rdflib's would (``compare_lines``)."""
    return await asyncio.to_thread(_parsed, await construct_ntriples(backend, query))


def _parsed(body: bytes) -> set[Line]:
    # lenient: a store's answer (a remote one's too), compared, never written
    return comparable_lines(ox.parse(body, ox.RdfFormat.N_TRIPLES, lenient=True))


def as_stored(triples: set[tuple[Any, Any, Any]]) -> set[tuple[Any, Any, Any]]:
    """The triples as the store gives them back: literals in canonical form
    ("872000" as an xsd:decimal comes back "872000.0"), so equal values compare equal."""
    staging = Graph()
    for triple in triples:
        staging.add(triple)
    store = ox.Store()
    store.load(safe_ntriples(staging).encode("utf-8"), ox.RdfFormat.N_TRIPLES)
    dumped = store.dump(format=ox.RdfFormat.N_QUADS) or b""
    return set(Graph().parse(data=dumped, format="nt"))


def ntriples_as_stored(data: bytes) -> set[Triple]:
    """``as_stored`` of N-Triples written by pyoxigraph (``UploadPlan.ntriples``): read by
    the store and taken back from it term by term, without an rdflib graph, its writing
    and rdflib's parser (Oslo's 4,384 triples: 0.30-0.40 -> 0.05 CPU s, on a thread of
    the server process, at every upload and dry run; the same set)."""
    store = ox.Store()
    store.load(data, ox.RdfFormat.N_TRIPLES, lenient=True)  # pyoxigraph's own writing
    return rdflib_triples(store)


async def plan_changes(backend: Backend, plan: UploadPlan) -> dict[str, Any]:
    """What loading ``plan`` would change in what queries see (the union of the graphs).

    Per record and column (``loaders.changes``): ``added`` records the store does not
    hold yet, ``removed`` records of the graph it replaces that the new file no longer
    has, ``changed`` columns of a record with other values, each in ``rows`` with its
    sheet, row, column and old and new values; ``triples`` the same in triples. A
    workbook downloaded with ``/template?kommune=NNNN`` and uploaded unchanged changes
    nothing. The graphs' descriptions of themselves (``loaders.provenance``: file hash,
    time, the load's activity and agent) are left out on both sides, the new graph's and
    those it replaces, the taken-over source graph's included: they are rewritten by
    every load by design. ``triples`` counts the data only, as the check's ``triples``
    (and ``kommunegraf validate``'s count) does; the audit event counts each graph's
    triples as stored, its description included.
    """
    # The reading and comparing are CPU work of seconds for a large workbook: on threads,
    # never on the event loop (issue 16, the load test's probe waited for them).
    new = await asyncio.to_thread(_written, plan)
    graphs = " UNION ".join(
        f"{{ GRAPH <{g}> {{ ?s ?p ?o {not_graph_description(g)} }} }}"
        for g in (plan.graph_iri, *plan.supersedes)
    )
    subjects = sorted({s[1:-1] for s, _, _ in new if s[0] == "<"})
    current: set[Line] = set()
    for start in range(0, len(subjects), 200):
        values = " ".join(f"<{s}>" for s in subjects[start : start + 200])
        current |= await _triples(
            backend, f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ VALUES ?s {{ {values} }} ?s ?p ?o }}"
        )
    replaced = await _triples(backend, f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ {graphs} }}")
    return await asyncio.to_thread(_compared, current, new, replaced, plan.rows)


def _written(plan: UploadPlan) -> set[Line]:
    """What the load writes into the plan's graph as the store keeps it, the graph's
    description left out, as N-Triples terms that compare as rdflib's would (the set
    ``ntriples_as_stored`` gives, without converting it to rdflib terms)."""
    graph = f"<{plan.graph_iri}>"
    if plan.ntriples is not None:
        store = ox.Store()
        store.load(plan.ntriples, ox.RdfFormat.N_TRIPLES, lenient=True)  # pyoxigraph's own
        return {t for t in comparable_lines(store) if t[0] != graph}
    own = URIRef(plan.graph_iri)
    stored = as_stored({t for t in plan.triples if t[0] != own})
    # rdflib's subjects and predicates are pyoxigraph's too: no literal among them
    triples = (ox.Triple(ox_term(s), ox_term(p), ox_term(o)) for s, p, o in stored)  # type: ignore[arg-type]
    return comparable_lines(triples)


def _compared(
    current: set[Line],
    new: set[Line],
    replaced: set[Line],
    rows: dict[Any, tuple[str, int]],
) -> dict[str, Any]:
    return compare_lines(current, new, replaced, rows).as_json()
