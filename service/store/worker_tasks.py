"""What a query worker does: the requests it takes, its answers, and its loop.

Apart from the pool (``service.store.workers``) because this is the code that runs
inside the worker processes. Every worker imports this module at start, so it imports
only pyoxigraph, the errors and the text checks (and the standard library); a check of
an upload imports ``service.access.uploads`` (rdflib, the loaders) only when one comes.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Literal

import pyoxigraph as ox

from service.errors import (
    QueryError,
    QueryFailedError,
    QuerySyntaxError,
    UpdateFailedError,
    UpdateSyntaxError,
)
from service.sparql.text_checks import CheckedText, RefusedTextError, check_text

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer


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


@dataclass(frozen=True)
class OpenSnapshot:
    """Open a snapshot before the first query comes (a fresh worker, warmed up)."""

    snapshot: str


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


MEMORY_PER_DISK_BYTE = 2.0
"""Bytes of memory a snapshot's copy takes per byte of the snapshot on disk (measured:
544,133 quads, 98 MB on disk, about 190 MB in memory), rounded up: the estimate that
``query_store = "auto"`` compares with the memory available."""
BUILD_NICE = 5
"""The niceness of the thread that copies a snapshot into memory: the copy (seconds of
CPU for a large store) gets about a third of a query's share of a busy core, so the
queries of every worker go first, and the copy still ends under a sustained load (at
nice 10 it got next to nothing with other processes on both cores: queries stayed on
disk, the slow way, for minutes)."""
COPY_CPU_PER_DISK_BYTE = 7.5e-8
"""CPU seconds a copy into memory costs per byte of the snapshot on disk (measured: 7.2 s
for 544,133 quads, 98 MB). A worker begins the copy once its queries on the snapshot on
disk have used that much CPU, so the copy never costs more than the queries did (the
rent-or-buy rule: at most twice the CPU of the better choice known in hindsight): a
snapshot few queries read (a burst of writes, a test's server, a quiet service) is not
copied, one under load is (the bench store after about 5,000 light queries per worker)."""


def _snapshot_bytes(path: str) -> int:
    """The size of the snapshot's files (``os.scandir``: no reading)."""
    try:
        return sum(e.stat().st_size for e in os.scandir(path) if e.is_file())
    except OSError:
        return 0


def _memory_available() -> int:
    """Bytes of memory the system can give without swapping (Linux), else 0."""
    try:
        with open("/proc/meminfo", "rb") as handle:
            for line in handle:
                if line.startswith(b"MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


class Snapshots:
    """A worker's view of the store: the snapshot on disk, opened read-only, and, once a
    background thread has copied it, the same snapshot in memory.

    Why: pyoxigraph answers a light query about three times faster from an in-memory
    store than from RocksDB (0.41 against 1.4 ms, issue 21), and a worker is most of
    the CPU a light query costs. Why a copy per snapshot and not writes applied to it:
    the copy is exactly the snapshot's content (a write applied twice could differ:
    fresh blank nodes, NOW(), UUID()), so every query sees one committed state, whole.

    Atomic by construction: a query runs on one ``ox.Store``, chosen as it starts, that
    holds exactly one snapshot (the disk one, or its finished copy); a new snapshot is
    opened on disk at once (milliseconds), so the first query after a write sees the
    write, and its copy (begun after ``COPY_CPU_PER_DISK_BYTE``) takes over when it is
    finished. Memory: one copy at a time (the
    old one is dropped when a new snapshot comes), about ``MEMORY_PER_DISK_BYTE`` times
    the snapshot's size on disk.

    ``share``: the part of the available memory one worker's copy may take (0: never
    copy, ``inf``: always); see ``query_store`` in ``service.settings``.
    """

    def __init__(self, share: float = 0.0) -> None:
        self.share = share
        self.path: str | None = None
        self.disk: ox.Store | None = None
        self._memory: tuple[str, ox.Store] | None = None
        self._spent = 0.0
        """CPU seconds the queries on ``path`` have used so far."""
        self._copy_after = math.inf
        """... when its copy is begun (``COPY_CPU_PER_DISK_BYTE``)."""
        self._begun = False
        self._due: str | None = None
        """The snapshot to copy next (set by ``answered``, taken by the thread)."""
        self._wanted = threading.Condition()
        self._builder: threading.Thread | None = None

    def open(self, path: str) -> None:
        """Make ``path`` the snapshot queries see from now on."""
        # Forget the old store first: if opening the new one fails, the next request
        # for the old snapshot must open it again, not find None.
        self.disk = self.path = None
        self._memory = None  # frees the old copy before the new one is made
        self._spent = 0.0
        self._begun = False
        self.disk = ox.Store.read_only(path)
        self.path = path
        if self.share > 0:
            self._copy_after = _snapshot_bytes(path) * COPY_CPU_PER_DISK_BYTE

    def answered(self, cpu: float) -> None:
        """Count the CPU of a query answered from the current snapshot; the one that
        reaches ``COPY_CPU_PER_DISK_BYTE`` has its copy begun (on a thread of its own,
        started with the first copy)."""
        self._spent += cpu
        if self._begun or self._spent < self._copy_after:
            return
        self._begun = True
        with self._wanted:
            self._due = self.path
            self._wanted.notify()
        if self._builder is None:
            self._builder = threading.Thread(
                target=self._build_loop, name="kommunegraf-memory", daemon=True
            )
            self._builder.start()

    def store(self) -> ox.Store | None:
        """The store a query runs on: the copy in memory when it is the current
        snapshot's, else the snapshot on disk."""
        memory = self._memory
        if memory is not None and memory[0] == self.path:
            return memory[1]
        return self.disk

    def in_memory(self) -> bool:
        memory = self._memory
        return memory is not None and memory[0] == self.path

    def _build_loop(self) -> None:
        with contextlib.suppress(OSError, AttributeError):  # not Linux: no thread niceness
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), BUILD_NICE)
        while True:
            with self._wanted:
                while self._due is None:
                    self._wanted.wait()
                path, self._due = self._due, None
            if path == self.path and self._fits(path):
                self._install(path)

    def _install(self, path: str) -> None:
        """Copy ``path`` and make the copy the one queries use, if it is still current.
        (Its own function so that no local name keeps a copy alive once ``open``
        drops it: the next copy would be made beside it, twice the memory.)"""
        copy = self._copy(path)
        if copy is not None and path == self.path:
            self._memory = (path, copy)
            if path != self.path:  # ``open`` ran in between: never keep a stale copy
                self._memory = None

    def _fits(self, path: str) -> bool:
        if math.isinf(self.share):
            return True
        need = _snapshot_bytes(path) * MEMORY_PER_DISK_BYTE
        return need <= _memory_available() * self.share

    def _copy(self, path: str) -> ox.Store | None:
        """``path``'s content in a new in-memory store; None if a newer snapshot came
        before it was done. pyoxigraph dumps and loads with the GIL released, so the
        worker's queries go on meanwhile (measured: the longest pause of a light query
        0.14 s while 544,133 quads were copied)."""
        try:
            disk = ox.Store.read_only(path)
            source = _Dataset(disk, lambda: path == self.path)
            copy = ox.Store()
            # One load of one document: a blank node in two graphs stays one node (a
            # load per graph gave each its own).
            copy.load(io.BufferedReader(source, 1 << 20), format=ox.RdfFormat.N_QUADS)
            for graph in source.empty:
                copy.add_graph(graph)  # an empty named graph is part of the state
        except (OSError, ValueError, RuntimeError, SyntaxError):
            return None  # a newer snapshot came (or this one went away): stay on disk
        return copy


class _Dataset(io.RawIOBase):
    """A store's quads as N-Quads, read a graph at a time (never all at once in memory:
    the copy of a large store would have needed its whole text besides it)."""

    def __init__(self, store: ox.Store, wanted: Callable[[], bool]) -> None:
        super().__init__()
        self._store = store
        self._graphs = iter([ox.DefaultGraph(), *store.named_graphs()])
        self._wanted = wanted
        self._data = memoryview(b"")
        self.empty: list[ox.NamedNode] = []

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        while not self._data:
            if not self._wanted():
                raise OSError("a newer snapshot came")  # ends the load, which writes nothing
            graph = next(self._graphs, None)
            if graph is None:
                return 0
            data = self._store.dump(format=ox.RdfFormat.N_TRIPLES, from_graph=graph) or b""
            if not data and isinstance(graph, ox.NamedNode):
                self.empty.append(graph)
            elif not isinstance(graph, ox.DefaultGraph):
                # pyoxigraph ends every line in " .\n" (a line break in a literal is
                # escaped), so each line gets its graph name before that end.
                data = data.replace(b" .\n", f" {graph} .\n".encode())
            self._data = memoryview(data)
        view = memoryview(buffer)
        size = min(len(view), len(self._data))
        view[:size] = self._data[:size]
        self._data = self._data[size:]
        return size


def worker_main(connection: Connection, share: float = 0.0) -> None:
    """Loop of a worker process: receive a request, answer it, repeat until EOF.

    ``share``: see ``Snapshots``."""
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
    while True:
        try:
            request: QueryRequest | UpdateRehearsal | UpdateTrial | UploadCheck | OpenSnapshot = (
                connection.recv()
            )
        except (EOFError, OSError):
            return
        # Every reply ends with the worker's CPU seconds so far (``time.process_time``),
        # so the server learns what a request cost without reading /proc twice per query,
        # and whether its queries run in memory (for metrics and the benchmark).
        reply: tuple[str, object, float, bool]
        try:
            if request.snapshot and request.snapshot != snapshots.path:
                snapshots.open(request.snapshot)
            started = time.process_time()
            answer = _answer(snapshots, request)
            now = time.process_time()
            if isinstance(request, QueryRequest):
                snapshots.answered(now - started)
            reply = ("ok", answer, now, snapshots.in_memory())
        except Exception as error:
            # The error itself crosses to the server: one the user is told about as it
            # is, anything else as an evaluation failure naming its type.
            failure = (
                error
                if isinstance(error, (QueryError, RefusedTextError))
                else QueryFailedError(f"{type(error).__name__}: {error}")
            )
            reply = ("error", failure, time.process_time(), snapshots.in_memory())
        try:
            connection.send(reply)
        except (BrokenPipeError, ConnectionResetError):
            # The server closed its end while this worker answered: it is stopping (or it
            # gave up on the request and kills this worker). Nobody is left to tell; a
            # traceback from here was logged on every such stop.
            return


def _answer(
    snapshots: Snapshots,
    request: QueryRequest | UpdateRehearsal | UpdateTrial | UploadCheck | OpenSnapshot,
) -> object:
    """What the worker sends back for ``request`` (raises what the server is told of)."""
    if isinstance(request, OpenSnapshot):
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

        return check_in_worker(store, request)
    return run_query(store, request)
