"""What a query worker does: the requests it takes, its answers, and its loop.

Apart from the pool (``service.store.workers``) because this is the code that runs
inside the worker processes. Every worker imports this module at start, so it imports
only pyoxigraph, the errors and the text checks (and the standard library); a check of
an upload imports ``service.access.uploads`` (rdflib, the loaders) only when one comes.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass
from functools import lru_cache
from multiprocessing.connection import Connection
from typing import Literal, NamedTuple

import pyoxigraph as ox

from service.errors import (
    QueryError,
    QueryFailedError,
    QuerySyntaxError,
    UpdateFailedError,
    UpdateSyntaxError,
)
from service.sparql.text_checks import CheckedText, RefusedTextError, check_text
from service.store.snapshots import Snapshots
from service.store.warm_up import WARMING, WarmUp


@dataclass(frozen=True)
class QueryRequest:
    """What a worker needs to run one query; it must pickle cheaply."""

    query: str
    snapshot: str
    solutions_media: str | None
    """Media type for SELECT/ASK results, or None if the client accepts none."""
    graph_media: str | None
    """Media type for CONSTRUCT/DESCRIBE results, or None if the client accepts none."""
    base_iri: str | None = None
    default_graphs: tuple[str, ...] | None = None
    named_graphs: tuple[str, ...] | None = None
    allow: tuple[str, ...] | None = None
    """When given, the query is a client's: the worker reads it with ``check_text``
    (SERVICE only to these prefixes) and runs the text that check writes. The reading
    costs about a second per MB, which belongs in a worker with a deadline."""
    bounded: bool = False
    """See ``Read.bounded``."""


@dataclass(frozen=True)
class Read:
    """One query as ``Reader.execute`` is asked for it, in one value: every reader
    (embedded, remote, a test's in-process one) implements ``Reader.read`` on it, so the
    call's signature and its defaults are written once."""

    query: str
    solutions_media: str | None
    graph_media: str | None
    default_graphs: tuple[str, ...] | None = None
    named_graphs: tuple[str, ...] | None = None
    timeout: float | None = None
    allow: tuple[str, ...] | None = None
    fresh: bool = False
    """Computed again even if an answer is cached (``Cache-Control: no-cache``)."""
    bounded: bool = False
    """A lookup of the service's own that is cheap by construction
    (``service.store.reads.Bounded``): never seen before, it is tried in the cheap lane
    (``service.store.admission``) rather than queued behind heavy queries."""

    def for_worker(self, snapshot: str, base_iri: str | None) -> QueryRequest:
        """What a worker runs for this read on ``snapshot``."""
        return QueryRequest(
            self.query,
            snapshot,
            self.solutions_media,
            self.graph_media,
            base_iri,
            self.default_graphs,
            self.named_graphs,
            self.allow,
            self.bounded,
        )


@dataclass(frozen=True)
class UpdateRehearsal:
    """An update to parse and plan in a worker before the writer runs it.

    Why: the writer runs updates in the server process, where a crash of oxigraph's
    parser or evaluator (a segmentation fault on a deep tree) takes the whole
    service down; in a worker it costs one worker. ``evaluate`` runs the update on an
    empty in-memory store (parse, optimiser and evaluator); without it the update is
    only parsed (a read-only store refuses it after parsing), for updates whose
    SERVICE or LOAD would fetch again.
    """

    update: str
    snapshot: str
    evaluate: bool
    base_iri: str | None = None


@dataclass(frozen=True)
class UpdateTrial:
    """A municipality token's update, run first on a copy of the graphs it names.

    Why: the scope check reads the update's text, and a variable in a template can bind
    anything at run time (an object under a non-owner property could be another
    municipality's IRI). The trial says exactly which triples the update adds; they are
    checked, and then exactly the trial's result is written, so the check sees what
    the store gets. The update sees only the graphs it names (a municipality token's
    update may name only its own).
    """

    update: str
    snapshot: str
    """The snapshot to copy the graphs from; empty when ``data`` carries them."""
    graphs: tuple[str, ...]
    base_iri: str | None = None
    data: tuple[tuple[str, bytes], ...] | None = None
    """Each graph's triples as N-Triples, when there is no snapshot (a remote store)."""


@dataclass(frozen=True)
class TrialResult:
    """What an update would change, as the trial run found it."""

    added: bytes
    """The quads it adds, as N-Quads (the default graph's as triples)."""
    graphs: tuple[tuple[str, bytes | None], ...]
    """Every graph whose content changed, with its new content as N-Triples (None: it is
    gone); the default graph is named ``""``."""

    def as_update(self) -> str:
        """The update that makes the store hold what the trial ended with: each changed
        graph replaced by its content (blank nodes get fresh labels), in one request."""
        drops: list[str] = []
        inserts: list[str] = []
        for graph, content in self.graphs:
            if not graph:
                raise ValueError("the trial changed the default graph")
            name = ox.NamedNode(graph)
            drops.append(f"DROP SILENT GRAPH {name} ;\n")
            if content is not None:
                inserts.append(f"GRAPH {name} {{\n{content.decode('utf-8')}}}\n")
        return "".join(drops) + "INSERT DATA {\n" + "".join(inserts) + "}"


@dataclass(frozen=True)
class UploadCheck:
    """A workbook to check against the store before it is loaded (``POST /upload``).

    Why in a worker: the check reads every named node of the store (the names a cell
    may refer to: about 100,000 triples for the national demo) and indexes them, about
    a minute of CPU on a busy machine. In the server process that competed for the
    interpreter with every request (the load test's reload of one workbook had not
    answered after 300 s); here it reads the snapshot directly, has a deadline, and a
    kill frees its CPU. Plain values only: workers import ``service.access.uploads``
    (rdflib, the loaders) only when a check comes.
    """

    name: str
    data: bytes
    writer: tuple[str, str, tuple[str, ...]]
    """The writer's name, role and municipalities (``Principal``)."""
    base_iri: str
    engine: str
    snapshot: str
    history: tuple[tuple[str, tuple[str, ...] | None], ...] = ()
    """The store's last snapshots and the graphs written for each
    (``KnowledgeStore.history``): the worker reads again only the names of those graphs
    (``service.store.names.stored_names``)."""


@dataclass(frozen=True)
class OpenSnapshot:
    """Open a snapshot before the first query comes (a fresh worker, warmed up)."""

    snapshot: str


@dataclass(frozen=True)
class FreeOld:
    """Free the copies in memory of snapshots no longer current (``Reply.holding``)."""

    snapshot: str = ""


@dataclass(frozen=True)
class QueryAnswer:
    kind: Literal["solutions", "boolean", "graph"]
    media: str | None
    """None when the client accepts no format for this kind of result (HTTP 406)."""
    body: bytes
    cache: str = ""
    """How the answer cache served it, as a ``Cache-Status`` value (``service.store.answers``);
    empty when it is not asked (the service's own queries, a remote store)."""
    volatile: bool = False
    """A client's query that calls NOW, RAND, UUID, STRUUID or BNODE
    (``text_checks.VOLATILE``), as the text it ran reads: its answer is never reused."""


class Reply(NamedTuple):
    """A worker's reply to one request."""

    status: Literal["ok", "error"]
    payload: object
    cpu: float
    """The CPU seconds of the worker's main thread so far (``time.thread_time``), the
    clock the pool reads from /proc while it waits (``worker_connection.cpu_seconds``)."""
    in_memory: bool
    """Whether its snapshot is answered from the copy in memory (for metrics)."""
    cost: float
    """The request's own CPU seconds: not opening its snapshot, not dropping the copy of
    the one before, not the thread that copies. Before, a query was charged all the
    worker spent since its last reply: the first query after a write paid for freeing
    the old copy (1.3 s for the national demo), and its shape was learnt as heavy."""
    holding: bool = False
    """The worker still holds the copy in memory of a snapshot no longer current, which
    it frees when asked (``FreeOld``)."""
    checks_warm: bool = False
    """The worker has done a first check's one-off work (``service.store.warm_up``)."""


_CHECKED_TEXT_LIMIT = 16_384
"""Client texts up to this many characters have their checked form remembered."""


@lru_cache(maxsize=512)
def _checked_query(text: str, base: str, allow: tuple[str, ...]) -> CheckedText:
    """``check_text``'s reading of a query, remembered: applications send the same few
    texts over and over, and reading one again costs a tenth of a light query. A
    refusal is not remembered (it raises), so it is read, and refused, every time."""
    return check_text(text, update=False, base=base, allow=allow)


def run_query(store: ox.Store, request: QueryRequest) -> QueryAnswer:
    """Run one query and serialise its results; used by workers and in-process alike."""
    text = request.query
    volatile = False
    if request.allow is not None:
        base = request.base_iri or ""
        checked = (
            _checked_query(text, base, request.allow)
            if len(text) <= _CHECKED_TEXT_LIMIT
            else check_text(text, update=False, base=base, allow=request.allow)
        )
        text, volatile = checked.text, checked.volatile
    options: dict[str, object] = {"base_iri": request.base_iri}
    if request.default_graphs is None:
        options["use_default_graph_as_union"] = True
    else:
        options["default_graph"] = [ox.NamedNode(g) for g in request.default_graphs]
    if request.named_graphs is not None:
        options["named_graphs"] = [ox.NamedNode(g) for g in request.named_graphs]
    try:
        results = store.query(text, **options)  # type: ignore[arg-type]
    except SyntaxError as error:
        raise QuerySyntaxError(str(error)) from None
    if isinstance(results, ox.QueryTriples):
        if request.graph_media is None:
            return QueryAnswer("graph", None, b"", volatile=volatile)
        fmt = ox.RdfFormat.from_media_type(request.graph_media)
        body = results.serialize(format=fmt) or b""
        return QueryAnswer("graph", request.graph_media, body, volatile=volatile)
    kind: Literal["solutions", "boolean"] = (
        "boolean" if isinstance(results, ox.QueryBoolean) else "solutions"
    )
    if request.solutions_media is None:
        return QueryAnswer(kind, None, b"", volatile=volatile)
    served = request.solutions_media
    if served == "application/json":
        served = "application/sparql-results+json"
    fmt_results = ox.QueryResultsFormat.from_media_type(served)
    body = results.serialize(format=fmt_results) or b""
    return QueryAnswer(kind, request.solutions_media, body, volatile=volatile)


def rehearse(store: ox.Store, request: UpdateRehearsal) -> None:
    """Parse (and plan) an update without changing ``store``; raises UpdateSyntaxError."""
    try:
        if request.evaluate:
            ox.Store().update(request.update, base_iri=request.base_iri)
        else:
            store.update(request.update, base_iri=request.base_iri)
    except SyntaxError as error:
        raise UpdateSyntaxError(str(error)) from None
    except (RuntimeError, OSError, ValueError):
        pass  # the read-only store refused the write, or evaluation failed: it parsed


def run_trial(store: ox.Store | None, request: UpdateTrial) -> TrialResult:
    """Run ``request``'s update on an in-memory copy of its graphs; what it changed."""
    scratch = ox.Store()
    if request.data is None:
        assert store is not None
        for graph in request.graphs:
            scratch.extend(store.quads_for_pattern(None, None, None, ox.NamedNode(graph)))
    else:
        for graph, triples in request.data:
            scratch.load(triples, format=ox.RdfFormat.N_TRIPLES, to_graph=ox.NamedNode(graph))
    before = set(scratch)
    try:
        scratch.update(request.update, base_iri=request.base_iri)
    except SyntaxError as error:
        raise UpdateSyntaxError(str(error)) from None
    except (ValueError, LookupError, RuntimeError, OSError) as error:
        raise UpdateFailedError(str(error)) from None
    after = set(scratch)
    added = after - before
    changed = {q.graph_name for q in added | (before - after)}
    graphs: list[tuple[str, bytes | None]] = []
    for graph in sorted(changed, key=str):
        content = [q.triple for q in after if q.graph_name == graph]
        name = graph.value if isinstance(graph, ox.NamedNode) else ""
        if (
            not content
            and isinstance(graph, ox.NamedNode)
            and not scratch.contains_named_graph(graph)
        ):
            graphs.append((name, None))
        else:
            graphs.append((name, ox.serialize(content, format=ox.RdfFormat.N_TRIPLES) or b""))
    added_quads = ox.serialize(sorted(added, key=str), format=ox.RdfFormat.N_QUADS) or b""
    return TrialResult(added_quads, tuple(graphs))


def worker_main(connection: Connection, share: float = 0.0, warm: WarmUp | None = None) -> None:
    """Loop of a worker process: receive a request, answer it, repeat until EOF.

    ``share``: see ``Snapshots``. ``warm``: warm the checks of uploads up while idle
    (``service.store.warm_up``); None when the service takes none."""
    # The parent decides when workers stop: a SIGINT or SIGTERM sent to the whole process
    # group (Ctrl-C, systemd) must not kill a query the server is still finishing.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # SCHED_BATCH: a worker woken by a request does not preempt the server process that
    # sent it. The server's one event loop is what every request passes through; with
    # the worker preempting it on the same core, the server's write of each request
    # took 0.7 ms of its time (measured on the 2-core machine under load), 0.3-0.4 ms
    # with this. A batch worker still gets its fair share of the CPU.
    with contextlib.suppress(AttributeError, OSError):  # not Linux
        os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
    snapshots = Snapshots(share)
    stale: list[ox.Store] = []
    """Copies of snapshots no longer current: freeing one takes a second of CPU with the
    GIL held, so the pool asks for it when the worker can be spared (one at a time)."""
    if warm is not None:
        WARMING.start(warm, lambda: snapshots.path)
    while True:
        WARMING.idle()
        try:
            request: Request = connection.recv()
        except (EOFError, OSError):
            return
        WARMING.busy()
        # Every reply carries the main thread's CPU seconds so far and the request's own,
        # so the server learns what a request cost without reading /proc twice per
        # query, and whether its queries run in memory (for metrics and the benchmark).
        began = time.thread_time()
        try:
            if request.snapshot and request.snapshot != snapshots.path:
                old = snapshots.open(request.snapshot)
                if old is not None:
                    stale.append(old)  # freed when the pool asks (``FreeOld``)
            if isinstance(request, FreeOld):
                stale.clear()
            began = time.thread_time()
            answer = _answer(snapshots, request)
            now = time.thread_time()
            if isinstance(request, QueryRequest):
                snapshots.answered(now - began)
            reply = Reply(
                "ok",
                answer,
                now,
                snapshots.in_memory(),
                now - began,
                bool(stale),
                WARMING.done.is_set(),
            )
        except Exception as error:
            # The error itself crosses to the server: one the user is told about as it
            # is, anything else as an evaluation failure naming its type.
            failure = (
                error
                if isinstance(error, (QueryError, RefusedTextError))
                else QueryFailedError(f"{type(error).__name__}: {error}")
            )
            now = time.thread_time()
            reply = Reply(
                "error",
                failure,
                now,
                snapshots.in_memory(),
                now - began,
                bool(stale),
                WARMING.done.is_set(),
            )
        try:
            connection.send(reply)
        except (BrokenPipeError, ConnectionResetError):
            # The server closed its end while this worker answered: it is stopping (or it
            # gave up on the request and kills this worker). Nobody is left to tell; a
            # traceback from here was logged on every such stop.
            return


Request = QueryRequest | UpdateRehearsal | UpdateTrial | UploadCheck | OpenSnapshot | FreeOld
"""What a worker is asked."""


def _answer(snapshots: Snapshots, request: Request) -> object:
    """What the worker sends back for ``request`` (raises what the server is told of)."""
    if isinstance(request, (OpenSnapshot, FreeOld)):
        return None
    if isinstance(request, UpdateRehearsal):
        # Always on disk: a read-only store refuses the update after parsing it; the
        # copy in memory would run it.
        assert snapshots.disk is not None
        rehearse(snapshots.disk, request)
        return None
    store = snapshots.store()
    if isinstance(request, UpdateTrial):
        return run_trial(store, request)
    assert store is not None
    if isinstance(request, UploadCheck):
        from service.access.uploads import check_in_worker

        with WARMING.lock:  # never beside a step of the warm-up: it waits for the step
            return check_in_worker(store, request)
    return run_query(store, request)
