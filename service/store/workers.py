"""Query workers: separate processes, one query each at a time, each with a deadline.

Why processes: a pyoxigraph query cannot be cancelled from Python, and neither it
nor ``oxigraph serve --timeout-s`` stops an aggregate over a cartesian product.
The only sure way to stop a query and free its CPU is to kill the process running
it. So every query runs in a worker process over a read-only snapshot of the store
(the single writer makes a new snapshot after each write, see ``service.store.embedded``);
a worker past its deadline is killed with SIGKILL and replaced, and the client
gets a clear error while the other workers keep answering.

The module is imported by every worker at start, so it imports only pyoxigraph
(and the standard library, through the admission rules).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Literal

import pyoxigraph as ox

from service.errors import (
    QueryError,
    QueryFailedError,
    QuerySyntaxError,
    QueryTimeoutError,
    UpdateCrashedError,
    UpdateFailedError,
    UpdateSyntaxError,
    UploadCheckCrashedError,
    UploadCheckTimeoutError,
    WorkerCrashedError,
)
from service.sparql.text_checks import RefusedTextError, check_text
from service.store.admission import CHEAP_BUDGET, CLIENT, Admission


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


_CHECKED_TEXT_LIMIT = 16_384
"""Client texts up to this many characters have their checked form remembered."""


@lru_cache(maxsize=512)
def _checked_query(text: str, base: str, allow: tuple[str, ...]) -> str:
    """``check_text``'s text for a query, remembered: applications send the same few
    texts over and over, and reading one again costs a tenth of a light query. A
    refusal is not remembered (it raises), so it is read, and refused, every time."""
    return check_text(text, update=False, base=base, allow=allow).text


def run_query(store: ox.Store, request: QueryRequest) -> QueryAnswer:
    """Run one query and serialise its results; used by workers and in-process alike."""
    text = request.query
    if request.allow is not None:
        if len(text) <= _CHECKED_TEXT_LIMIT:
            text = _checked_query(text, request.base_iri or "", request.allow)
        else:
            base = request.base_iri or ""
            text = check_text(text, update=False, base=base, allow=request.allow).text
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
            return QueryAnswer("graph", None, b"")
        fmt = ox.RdfFormat.from_media_type(request.graph_media)
        return QueryAnswer("graph", request.graph_media, results.serialize(format=fmt) or b"")
    kind: Literal["solutions", "boolean"] = (
        "boolean" if isinstance(results, ox.QueryBoolean) else "solutions"
    )
    if request.solutions_media is None:
        return QueryAnswer(kind, None, b"")
    served = request.solutions_media
    if served == "application/json":
        served = "application/sparql-results+json"
    fmt_results = ox.QueryResultsFormat.from_media_type(served)
    return QueryAnswer(kind, request.solutions_media, results.serialize(format=fmt_results) or b"")


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


def _worker_main(connection: Connection) -> None:
    """Loop of a worker process: receive a request, answer it, repeat until EOF."""
    # The parent decides when workers stop: a SIGINT or SIGTERM sent to the whole process
    # group (Ctrl-C, systemd) must not kill a query the server is still finishing.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    store: ox.Store | None = None
    opened: str | None = None
    while True:
        try:
            request: QueryRequest | UpdateRehearsal | UpdateTrial | UploadCheck | OpenSnapshot = (
                connection.recv()
            )
        except (EOFError, OSError):
            return
        # Every reply ends with the worker's CPU seconds so far (``time.process_time``):
        # the server learns what a request cost without reading /proc twice per query.
        try:
            if request.snapshot and request.snapshot != opened:
                # Forget the old store first: if opening the new one fails, the next
                # request for the old snapshot must open it again, not find None.
                store = opened = None
                store = ox.Store.read_only(request.snapshot)
                opened = request.snapshot
            if isinstance(request, OpenSnapshot):
                connection.send(("ok", None, time.process_time()))
                continue
            if isinstance(request, UpdateTrial):
                connection.send(("ok", run_trial(store, request), time.process_time()))
                continue
            assert store is not None
            if isinstance(request, UploadCheck):
                from service.access.uploads import check_in_worker

                connection.send(("ok", check_in_worker(store, request), time.process_time()))
                continue
            if isinstance(request, UpdateRehearsal):
                rehearse(store, request)
                connection.send(("ok", None, time.process_time()))
            else:
                connection.send(("ok", run_query(store, request), time.process_time()))
        except Exception as error:
            # The error itself crosses to the server: one the user is told about as it
            # is, anything else as an evaluation failure naming its type.
            failure = (
                error
                if isinstance(error, (QueryError, RefusedTextError))
                else QueryFailedError(f"{type(error).__name__}: {error}")
            )
            connection.send(("error", failure, time.process_time()))


def _cpu_seconds(pid: int | None) -> float | None:
    """CPU seconds process ``pid`` has used (Linux ``/proc``), or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICKS
    except (OSError, ValueError, IndexError):
        return None


_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _used(worker: _Worker, cpu_before: float | None, started: float) -> float:
    """What the worker's current request has cost: CPU seconds, else wall seconds."""
    now = _cpu_seconds(worker.process.pid)
    if now is None or cpu_before is None:
        return time.monotonic() - started
    return now - cpu_before


OPENING_SECONDS = 5.0
"""Added to the cheap lane's budget when the worker must open the snapshot first."""


class _OverranError(Exception):
    """A query in the cheap lane ran past its budget; its worker was replaced."""


@dataclass
class _Worker:
    process: BaseProcess
    connection: Connection
    snapshot: str | None = None
    cpu: float | None = None
    """The worker's CPU seconds when it last replied (it is idle between requests)."""


@dataclass
class QueryPool:
    """A fixed number of query worker processes, and the deadline logic around them.

    Which waiting query gets the next free worker is ``Admission``'s decision: cheap
    queries have a reserved worker, clients are served in turn, queues are bounded.
    """

    size: int = 2
    reserved: int = 1
    """Workers kept for cheap queries (see ``service.store.admission``)."""
    queue_limit: int = 64
    """Queries that may wait in each lane before new ones are refused (429/503)."""
    _context: multiprocessing.context.SpawnContext = field(
        default_factory=lambda: multiprocessing.get_context("spawn")
    )
    _idle: asyncio.Queue[_Worker] | None = None
    _all: list[_Worker] = field(default_factory=list)
    admission: Admission = field(init=False)
    _spawner: ThreadPoolExecutor = field(init=False)
    """Threads of its own for starting workers (up to half a minute each on a busy
    machine): the shared default pool may be full of requests that wait for a worker."""
    timeouts: int = 0
    """How many queries were stopped at their deadline (for metrics)."""

    def __post_init__(self) -> None:
        self._spawner = ThreadPoolExecutor(self.size, thread_name_prefix="kommunegraf-spawn")
        self.admission = Admission(
            self.size,
            reserved=self.reserved,
            queue_limit=self.queue_limit,
            client_limit=max(1, self.queue_limit // 2),
        )

    def _spawn(self) -> _Worker:
        parent, child = self._context.Pipe()
        process = self._context.Process(
            target=_worker_main, args=(child,), name="kommunegraf-query", daemon=True
        )
        process.start()
        child.close()
        worker = _Worker(process, parent)
        self._all.append(worker)
        return worker

    async def start(self) -> None:
        self._idle = asyncio.Queue()
        loop = asyncio.get_running_loop()
        workers = await asyncio.gather(
            *(loop.run_in_executor(self._spawner, self._spawn) for _ in range(self.size))
        )
        for worker in workers:
            self._idle.put_nowait(worker)

    def snapshots_in_use(self) -> set[str]:
        return {w.snapshot for w in self._all if w.snapshot is not None}

    async def execute(self, request: QueryRequest, timeout: float) -> QueryAnswer:
        """Run ``request`` for the current ``CLIENT``; past ``timeout`` seconds kill it.

        A query taken for cheap runs in the cheap lane until it has used
        ``CHEAP_BUDGET`` seconds of CPU; past that it runs again in the general lane with
        the rest of its deadline.
        """
        client = CLIENT.get()
        costs = self.admission.costs
        if costs.cheap(request.query, client) and timeout > CHEAP_BUDGET:
            started = time.monotonic()
            try:
                answer = await self._run(request, timeout, cheap=True)
            except _OverranError:
                costs.overran(request.query, client)
                left = timeout - (time.monotonic() - started)
                try:
                    if left <= 0:
                        raise QueryTimeoutError(timeout)
                    answer = await self._run(request, left)
                except QueryTimeoutError:
                    raise QueryTimeoutError(timeout) from None
        else:
            answer = await self._run(request, timeout)
        assert isinstance(answer, QueryAnswer)
        return answer

    async def rehearse(self, request: UpdateRehearsal, timeout: float) -> None:
        """Parse and plan an update in a worker; raises UpdateSyntaxError, UpdateCrashedError."""
        await self._run(request, timeout, crashed=UpdateCrashedError)

    async def trial(self, request: UpdateTrial, timeout: float) -> TrialResult:
        """Run ``request`` in a worker; raises UpdateSyntaxError, UpdateFailedError,
        UpdateCrashedError."""
        result = await self._run(request, timeout, crashed=UpdateCrashedError)
        assert isinstance(result, TrialResult)
        return result

    async def check_upload(self, request: UploadCheck, timeout: float) -> object:
        """Check an upload in a worker; what ``service.access.uploads.check_in_worker``
        returns. Raises UploadCheckTimeoutError, UploadCheckCrashedError.

        The check waits for a general worker like a query, as its writer (a token holder
        is never refused, and a client with nothing running is served first), but its
        deadline counts from the moment it is asked, waiting included: a write is loaded
        or fails with a clear error within ``timeout``. Before, it waited in the lanes
        and then ran its part in the server process with no deadline at all.
        """
        try:
            async with asyncio.timeout(timeout):
                return await self._run(request, timeout, crashed=UploadCheckCrashedError)
        except (TimeoutError, QueryTimeoutError):
            raise UploadCheckTimeoutError(timeout) from None

    async def _run(
        self,
        request: QueryRequest | UpdateRehearsal | UpdateTrial | UploadCheck,
        timeout: float,
        crashed: Callable[[str], QueryError] = WorkerCrashedError,
        *,
        cheap: bool = False,
    ) -> object:
        if self._idle is None:
            raise RuntimeError("QueryPool.start() was not awaited")
        client = CLIENT.get()
        await self.admission.enter(client, cheap)
        started: float | None = None
        try:
            worker = await self._idle.get()  # a slot is granted only with a worker idle
            started = time.monotonic()
            status, payload, cost = await self._on(worker, request, timeout, crashed, cheap=cheap)
        finally:
            ran = None if started is None else time.monotonic() - started
            self.admission.leave(client, cheap, ran)
        if isinstance(request, QueryRequest):
            self.admission.costs.ran(request.query, cost)
        if status == "ok":
            return payload
        assert isinstance(payload, (QueryError, RefusedTextError))
        raise payload

    async def _on(
        self,
        worker: _Worker,
        request: QueryRequest | UpdateRehearsal | UpdateTrial | UploadCheck,
        timeout: float,
        crashed: Callable[[str], QueryError],
        *,
        cheap: bool,
    ) -> tuple[str, object, float]:
        """Send ``request`` to ``worker`` and wait for its answer, and what it cost (the
        worker's CPU seconds where the system says, else the seconds it took); the
        worker is idle again (or replaced) when this returns or raises.

        In the cheap lane the query is stopped once it has used ``CHEAP_BUDGET`` seconds
        of CPU (``_OverranError``), not of waiting: on a busy machine a cheap query can
        wait for a core far longer than it runs, and killing it then would only cost a
        new worker."""
        assert self._idle is not None
        loop = asyncio.get_running_loop()
        # One future and one timer per wait, not wait_for(shield(...)): this runs for
        # every query, and a light one is answered within a few milliseconds.
        answered: asyncio.Future[bool] = loop.create_future()

        def ready() -> None:
            if not answered.done():
                answered.set_result(True)

        def expired() -> None:
            if not answered.done():
                answered.set_result(False)

        budget = CHEAP_BUDGET
        if cheap and request.snapshot != worker.snapshot:
            budget += OPENING_SECONDS  # opening a snapshot is not the query's cost
        started = time.monotonic()
        cpu = worker.cpu if worker.cpu is not None else _cpu_seconds(worker.process.pid)
        try:
            worker.connection.send(request)
            worker.snapshot = request.snapshot or worker.snapshot
            loop.add_reader(worker.connection.fileno(), ready)
            try:
                while True:
                    left = timeout - (time.monotonic() - started)
                    if left <= 0:
                        raise TimeoutError
                    timer = loop.call_later(min(left, budget) if cheap else left, expired)
                    try:
                        if await answered:
                            break
                    finally:
                        timer.cancel()
                    if cheap and _used(worker, cpu, started) >= budget:
                        raise _OverranError from None
                    answered = loop.create_future()
            finally:
                loop.remove_reader(worker.connection.fileno())
            status, payload, worker.cpu = worker.connection.recv()
            cost = max(0.0, worker.cpu - cpu) if cpu is not None else time.monotonic() - started
        except _OverranError:
            await self._replace(worker, request.snapshot)
            raise
        except TimeoutError:
            await self._replace(worker, request.snapshot)
            self.timeouts += 1
            if isinstance(request, QueryRequest):
                self.admission.costs.overran(request.query)
            raise QueryTimeoutError(timeout) from None
        except (EOFError, OSError, BrokenPipeError) as error:
            await self._replace(worker, request.snapshot)
            raise crashed(str(error)) from None
        except BaseException:
            # Cancelled (the client went away) or anything unexpected: the worker may
            # still be busy, so it cannot be reused safely.
            await self._replace(worker, request.snapshot)
            raise
        self._idle.put_nowait(worker)
        return status, payload, cost

    async def _replace(self, worker: _Worker, snapshot: str = "") -> None:
        self._kill(worker)
        assert self._idle is not None
        loop = asyncio.get_running_loop()
        self._idle.put_nowait(await loop.run_in_executor(self._spawner, self._spawn_open, snapshot))

    def _spawn_open(self, snapshot: str) -> _Worker:
        """A new worker that has opened ``snapshot`` already, so the next query (often
        a cheap one, under the cheap lane's budget) does not pay for the opening."""
        worker = self._spawn()
        if not snapshot:
            return worker
        try:
            worker.connection.send(OpenSnapshot(snapshot))
            if worker.connection.poll(OPENING_SECONDS * 6):
                status, _, worker.cpu = worker.connection.recv()
                if status == "ok":
                    worker.snapshot = snapshot
                return worker
        except (EOFError, OSError):
            pass  # it died (the service is stopping, or out of memory): a plain one
        self._kill(worker)  # a reply still to come would be read as a query's answer
        return self._spawn()

    def _kill(self, worker: _Worker) -> None:
        if worker.process.pid is not None and worker.process.is_alive():
            os.kill(worker.process.pid, signal.SIGKILL)
        worker.process.join(timeout=5)
        worker.connection.close()
        if worker in self._all:
            self._all.remove(worker)

    def alive(self) -> int:
        """How many worker processes are running (for readiness and metrics).

        Read from each process's sentinel, which the kernel closes when the process
        ends; ``is_alive()`` asks ``waitpid`` and keeps answering True for a child that
        something else in the process has already reaped.
        """
        ended = set(wait([w.process.sentinel for w in self._all], timeout=0))
        return sum(1 for w in self._all if w.process.sentinel not in ended)

    def worker_pids(self) -> list[int]:
        return [w.process.pid for w in self._all if w.process.pid is not None]

    def close(self) -> None:
        for worker in list(self._all):
            worker.connection.close()  # EOF ends the worker's loop
            worker.process.join(timeout=2)
            self._kill(worker)
        self._spawner.shutdown(wait=False, cancel_futures=True)
