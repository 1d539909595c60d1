"""Query workers: separate processes, one query each at a time, each with a deadline.

Why processes: a pyoxigraph query cannot be cancelled from Python, and neither it
nor ``oxigraph serve --timeout-s`` stops an aggregate over a cartesian product.
The only sure way to stop a query and free its CPU is to kill the process running
it. So every query runs in a worker process over a read-only snapshot of the store
(the single writer makes a new snapshot after each write, see ``service.store.embedded``);
a worker past its deadline is killed with SIGKILL and replaced, and the client
gets a clear error while the other workers keep answering.

What runs inside a worker (its requests, answers and loop) is in
``service.store.worker_tasks``, the server's end of a worker's connection in
``service.store.worker_connection``; this module is the server's side: the pool, its
deadlines and the admission of queries to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import pickle
import signal
import struct
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from typing import Any, Literal

from service.errors import (
    QueryError,
    QueryTimeoutError,
    UpdateCrashedError,
    UploadCheckCrashedError,
    UploadCheckTimeoutError,
    WorkerCrashedError,
)
from service.sparql.text_checks import RefusedTextError
from service.store.admission import CHEAP_BUDGET, CLIENT, Admission
from service.store.warm_up import WarmUp
from service.store.worker_connection import Worker, cpu_seconds
from service.store.worker_tasks import (
    FreeOld,
    OpenSnapshot,
    QueryAnswer,
    QueryRequest,
    Reply,
    TrialResult,
    UpdateRehearsal,
    UpdateTrial,
    UploadCheck,
    worker_main,
)

log = logging.getLogger(__name__)


def _used(worker: Worker, cpu_before: float | None, started: float) -> float:
    """What the worker's current request has cost: CPU seconds, else wall seconds."""
    now = cpu_seconds(worker.process.pid)
    if now is None or cpu_before is None:
        return time.monotonic() - started
    return now - cpu_before


_SENT_AT_ONCE = 65_536
"""Requests up to this many bytes are written to a worker on the event loop (the
socket's buffer takes them whole); larger ones on a thread."""
OPENING_SECONDS = 5.0
"""Added to the cheap lane's budget when the worker must open the snapshot first."""
FREE_SECONDS = 60.0
"""How long a worker may take to free its old snapshots' copies before it is replaced."""


_RETRY_AFTER_STOP = 5
"""Retry-After (seconds) for a request whose worker was stopped under it: a restart."""


class _OverranError(Exception):
    """A query in the cheap lane ran past its budget; its worker was replaced."""


class _StoppedError(Exception):
    """The pool was stopped while a request waited for its worker's reply."""


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
    memory_share: float = 0.0
    """The part of the available memory each worker's in-memory copy of the snapshot may
    take (``service.store.snapshots.Snapshots``): 0 never, ``inf`` always."""
    warm: WarmUp | None = None
    """The checks of uploads each worker warms up while idle (``service.store.warm_up``);
    None: none (the service takes no uploads)."""
    _context: multiprocessing.context.SpawnContext = field(
        default_factory=lambda: multiprocessing.get_context("spawn")
    )
    _idle: asyncio.Queue[Worker] | None = None
    _all: list[Worker] = field(default_factory=list)
    admission: Admission = field(init=False)
    _spawner: ThreadPoolExecutor = field(init=False)
    """Threads of its own for starting workers (up to half a minute each on a busy
    machine): the shared default pool may be full of requests that wait for a worker."""
    _io: ThreadPoolExecutor = field(init=False)
    """Threads that read and write the workers' pipes when that could block (a large
    reply still arriving, a large request): never on the event loop."""
    _replacements: set[asyncio.Task[None]] = field(default_factory=set)
    _freeing: bool = False
    """A worker is freeing its old snapshots' copies (``_free_old``)."""
    _closed: bool = False
    timeouts: int = 0
    """How many queries were stopped at their deadline (for metrics)."""

    def __post_init__(self) -> None:
        self._spawner = ThreadPoolExecutor(self.size, thread_name_prefix="kommunegraf-spawn")
        self._io = ThreadPoolExecutor(self.size, thread_name_prefix="kommunegraf-pipe")
        self.admission = Admission(
            self.size,
            reserved=self.reserved,
            queue_limit=self.queue_limit,
            client_limit=max(1, self.queue_limit // 2),
        )

    def _spawn(self) -> Worker:
        parent, child = self._context.Pipe()
        process = self._context.Process(
            target=worker_main,
            args=(child, self.memory_share, self.warm),
            name="kommunegraf-query",
            daemon=True,
        )
        process.start()
        child.close()
        worker = Worker(process, parent)
        self._all.append(worker)
        if self._closed:  # a replacement's thread, after close() went through the workers
            self._kill(worker)
            raise RuntimeError("the query pool is closed")
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
        own = request.allow is None
        cost = costs.expected(request.query, own)
        if costs.cheap(request.query, client, own, request.bounded) and timeout > CHEAP_BUDGET:
            started = time.monotonic()
            try:
                answer = await self._run(request, timeout, cheap=True, cost=cost)
            except _OverranError:
                costs.overran(request.query, client, own)
                left = timeout - (time.monotonic() - started)
                try:
                    if left <= 0:
                        raise QueryTimeoutError(timeout)
                    answer = await self._run(request, left, cost=CHEAP_BUDGET)
                except QueryTimeoutError:
                    raise QueryTimeoutError(timeout) from None
        else:
            answer = await self._run(request, timeout, cost=cost)
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
        cost: float | None = None,
    ) -> object:
        """``request`` on a worker, once admission lets it in (``cost``: the seconds it is
        expected to cost, None if not known: its place in the lane)."""
        if self._idle is None:
            raise RuntimeError("QueryPool.start() was not awaited")
        client = CLIENT.get()
        await self.admission.enter(client, cheap, cost)
        started: float | None = None
        try:
            worker = await self._idle.get()  # a slot is granted only with a worker idle
            started = time.monotonic()
            status, payload, cost = await self._on(worker, request, timeout, crashed, cheap=cheap)
        finally:
            ran = None if started is None else time.monotonic() - started
            self.admission.leave(client, cheap, ran)
        if isinstance(request, QueryRequest):
            self.admission.costs.ran(request.query, cost, request.allow is None)
        if status == "ok":
            return payload
        assert isinstance(payload, (QueryError, RefusedTextError))
        raise payload

    async def _on(
        self,
        worker: Worker,
        request: QueryRequest | UpdateRehearsal | UpdateTrial | UploadCheck,
        timeout: float,
        crashed: Callable[[str], QueryError],
        *,
        cheap: bool,
    ) -> tuple[str, object, float]:
        """Send ``request`` to ``worker`` and wait for its answer, and what it cost (its
        own CPU seconds, ``Reply.cost``); the worker is idle again (or replaced, or set
        aside while it frees its old copy) when this returns or raises.

        In the cheap lane the query is stopped once it has used ``CHEAP_BUDGET`` seconds
        of CPU (``_OverranError``), not of waiting: on a busy machine a cheap query can
        wait for a core far longer than it runs, and killing it then would only cost a
        new worker."""
        assert self._idle is not None
        loop = asyncio.get_running_loop()
        # One future and one timer per wait, not wait_for(shield(...)): this runs for
        # every query, and a light one is answered within a few milliseconds. The future
        # gets the reply's bytes (``Worker.readable`` took them), False at the timer, None
        # when woken with nothing taken (``close``, or no socket to take from).
        answered: asyncio.Future[bytes | Literal[False] | None] = loop.create_future()

        def ready(taken: bytes | None = None) -> None:
            if not answered.done():
                answered.set_result(taken)

        def expired() -> None:
            if not answered.done():
                answered.set_result(False)

        budget = CHEAP_BUDGET
        if cheap and request.snapshot != worker.snapshot:
            budget += OPENING_SECONDS  # opening a snapshot is not the query's cost
        started = time.monotonic()
        cpu = worker.cpu if worker.cpu is not None else cpu_seconds(worker.process.pid)
        try:
            if self._closed:
                raise _StoppedError  # its connection is closed
            data = pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL)
            if len(data) > _SENT_AT_ONCE:  # a workbook, a long query: the worker reads it
                await self._in_thread(worker, worker.connection.send_bytes, data)
            else:
                worker.connection.send_bytes(data)
            worker.snapshot = request.snapshot or worker.snapshot
            worker.wake = ready
            worker.watch(loop)
            try:
                while True:
                    left = timeout - (time.monotonic() - started)
                    if left <= 0:
                        raise TimeoutError
                    timer = loop.call_later(min(left, budget) if cheap else left, expired)
                    try:
                        taken = await answered
                    finally:
                        timer.cancel()
                    if taken is not False:
                        break
                    if cheap and _used(worker, cpu, started) >= budget:
                        raise _OverranError from None
                    answered = loop.create_future()
            finally:
                worker.wake = None
            if self._closed:
                raise _StoppedError
            reply: Reply
            if taken is None:  # no socket to take it from
                reply = await self._in_thread(worker, worker.connection.recv)
            elif not taken:
                raise EOFError("the worker ended (end of file)")
            elif len(taken) >= 4 and len(taken) == 4 + struct.unpack("!i", taken[:4])[0]:
                # Our own worker's reply, as Connection.recv would unpickle it.
                reply = pickle.loads(memoryview(taken)[4:])  # noqa: S301
            else:  # a large reply, still arriving
                whole = await self._in_thread(worker, worker.rest, taken)
                reply = pickle.loads(whole)  # noqa: S301
            status, payload, worker.cpu, worker.in_memory, cost, holding, warm = reply
            worker.checks_warm = warm
        except _OverranError:
            self._replace(worker, request.snapshot)
            raise
        except _StoppedError:
            self._kill(worker, reap=False)
            error = crashed("the query workers were stopped (the service is stopping)")
            error.headers["Retry-After"] = str(_RETRY_AFTER_STOP)
            raise error from None
        except TimeoutError:
            self._replace(worker, request.snapshot)
            self.timeouts += 1
            if isinstance(request, QueryRequest):
                self.admission.costs.overran(request.query, own=request.allow is None)
            raise QueryTimeoutError(timeout) from None
        except (EOFError, OSError, BrokenPipeError) as error:
            self._replace(worker, request.snapshot)
            raise crashed(str(error)) from None
        except BaseException:
            # Cancelled (the client went away) or anything unexpected: the worker may
            # still be busy, so it cannot be reused safely.
            self._replace(worker, request.snapshot)
            raise
        if holding and not self._freeing:
            self._free_old(worker)
        else:
            self._idle.put_nowait(worker)
        return status, payload, cost

    def _free_old(self, worker: Worker) -> None:
        """Have ``worker`` free its copies of old snapshots (a second of CPU with the GIL
        held for the national demo), out of use meanwhile, its slot withdrawn as a
        replaced worker's (the general lane's first); one worker at a time, when it has
        answered a request, so the others answer meanwhile. Before, the first query on
        each worker after a write waited for it, all workers at once."""
        self._freeing = True
        self.admission.withdraw()
        task = asyncio.get_running_loop().create_task(self._freed(worker))
        self._replacements.add(task)
        task.add_done_callback(self._replacements.discard)

    async def _freed(self, worker: Worker) -> None:
        assert self._idle is not None
        loop = asyncio.get_running_loop()
        said: asyncio.Future[None] = loop.create_future()

        def ready() -> None:
            if not said.done():
                said.set_result(None)

        worker.unwatch()  # its reader is this one's until the worker is idle again
        fd = worker.fd
        try:
            worker.connection.send(FreeOld())
            loop.add_reader(fd, ready)
            try:
                async with asyncio.timeout(FREE_SECONDS):
                    await said
            finally:
                loop.remove_reader(fd)
            done = not self._closed and worker.connection.recv().status == "ok"
        except (TimeoutError, EOFError, OSError):
            done = False
        finally:
            self._freeing = False
        if self._closed:
            return
        if done:
            self._idle.put_nowait(worker)
            self.admission.restore()
            return
        self._kill(worker, reap=False)  # stuck or dead: replaced (which restores its slot)
        await self._replacement(worker, worker.snapshot or "")

    async def _in_thread(self, worker: Worker, call: Callable[..., object], *args: object) -> Any:
        """``call(*args)`` on an I/O thread; the worker's connection stays open until it
        returns (``Worker.close``), even if the request is given up meanwhile."""
        job: Future[object] = self._io.submit(call, *args)
        worker.in_thread = job
        return await asyncio.wrap_future(job)

    def _replace(self, worker: Worker, snapshot: str = "") -> None:
        """Kill ``worker`` and start its replacement in the background.

        Why in the background: starting a worker takes a second or more (half a minute
        on a busy machine), and the request that met the dead worker held its slot all
        that time; a cheap query (the load test's probe) then waited for a worker to
        start. Now the slot is given back at once and admission counts one worker less
        (taken from the general lane first, so the worker kept for cheap queries is
        the last to go) until the new one is idle."""
        self._kill(worker, reap=False)
        self.admission.withdraw()
        task = asyncio.get_running_loop().create_task(self._replacement(worker, snapshot))
        self._replacements.add(task)
        task.add_done_callback(self._replacements.discard)

    async def _replacement(self, dead: Worker, snapshot: str) -> None:
        assert self._idle is not None
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._spawner, dead.process.join, 5)
            while not self._closed:
                try:
                    worker = await loop.run_in_executor(self._spawner, self._spawn_open, snapshot)
                except (OSError, RuntimeError) as error:  # out of processes or memory
                    if not self._closed:
                        log.warning("spørreprosess ikke startet / worker not started: %s", error)
                        await asyncio.sleep(1.0)
                    continue
                if self._closed:
                    self._kill(worker)
                    return
                self._idle.put_nowait(worker)
                self.admission.restore()
                return
        except (asyncio.CancelledError, RuntimeError):
            if not self._closed:  # (RuntimeError: its threads are gone)
                raise

    def _spawn_open(self, snapshot: str) -> Worker:
        """A new worker that has opened ``snapshot`` already, so the next query (often
        a cheap one, under the cheap lane's budget) does not pay for the opening."""
        worker = self._spawn()
        if not snapshot:
            return worker
        try:
            worker.connection.send(OpenSnapshot(snapshot))
            if worker.connection.poll(OPENING_SECONDS * 6):
                reply: Reply = worker.connection.recv()  # a new worker: no copy to drop
                worker.cpu, worker.in_memory = reply.cpu, reply.in_memory
                if reply.status == "ok":
                    worker.snapshot = snapshot
                return worker
        except (EOFError, OSError):
            pass  # it died (the service is stopping, or out of memory): a plain one
        self._kill(worker)  # a reply still to come would be read as a query's answer
        return self._spawn()

    def _kill(self, worker: Worker, *, reap: bool = True) -> None:
        """SIGKILL ``worker``; ``reap``: wait (up to 5 s) until it is gone, which
        callers on the event loop leave to a thread."""
        if worker.process.pid is not None and worker.process.is_alive():
            # Gone already (it ended at EOF and something else reaped it): nothing to kill.
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker.process.pid, signal.SIGKILL)
        if reap:
            worker.process.join(timeout=5)
        worker.close()
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

    def in_memory(self) -> int:
        """How many workers answered their last query from memory (for metrics)."""
        return sum(1 for w in self._all if w.in_memory)

    def checks_warm(self) -> int:
        """How many workers have warmed up the checks of uploads, as their last reply said
        (for metrics)."""
        return sum(1 for w in self._all if w.checks_warm)

    def worker_pids(self) -> list[int]:
        return [w.process.pid for w in self._all if w.process.pid is not None]

    def close(self) -> None:
        self._closed = True
        for task in list(self._replacements):
            task.cancel()
        for worker in list(self._all):
            if worker.wake is not None:
                # A request waits for its reply: it is told at once (503). Before, its
                # reader stayed on the closed descriptor: no reply ever woke it, and at
                # its deadline fileno() raised "handle is closed".
                with contextlib.suppress(RuntimeError):  # its event loop is gone
                    worker.wake()
                self._kill(worker)  # busy: it would see no EOF until its query ends
                continue
            # EOF ends the worker's loop. Both ends of this side are closed: the peek
            # socket is a duplicate of the connection's, and while it stays open the
            # worker sees no EOF, so every stop waited out the join (2 s per worker).
            worker.close()
            worker.process.join(timeout=2)
            self._kill(worker)
        self._spawner.shutdown(wait=False, cancel_futures=True)
        self._io.shutdown(wait=False, cancel_futures=True)
