"""A query worker's snapshots: the one on disk, and its copy in memory made on a thread.

Apart from ``service.store.worker_tasks`` (what a worker runs and its loop) because this
is one piece of its own: when a snapshot is copied, how much memory and CPU that may
take, and how the copy is made without a query seeing half of it. It runs inside the
worker processes, so it imports only pyoxigraph and the standard library.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

import pyoxigraph as ox

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

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
    finished. Memory: one copy at a time (the old one is dropped when a new snapshot
    comes, once the request that brought it is answered), about ``MEMORY_PER_DISK_BYTE``
    times the snapshot's size on disk.

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

    def open(self, path: str) -> ox.Store | None:
        """Make ``path`` the snapshot queries see from now on; the old snapshot's copy in
        memory, if any, for the caller to drop once its request is answered.

        Why not dropped here: freeing the copy of the national demo takes 1.3 s with the
        GIL held (measured on a loaded machine), and the query that brought the new
        snapshot (after a write: a cache miss, often a light one) waited for it."""
        # Forget the old store first: if opening the new one fails, the next request
        # for the old snapshot must open it again, not find None.
        self.disk = self.path = None
        old, self._memory = self._memory, None
        self._spent = 0.0
        self._begun = False
        self.disk = ox.Store.read_only(path)
        self.path = path
        if self.share > 0:
            self._copy_after = _snapshot_bytes(path) * COPY_CPU_PER_DISK_BYTE
        return None if old is None else old[1]

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


def memory_share(query_store: str, workers: int) -> float:
    """``QueryPool.memory_share`` for the setting ``query_store``: with "auto", the
    copies of all workers together may take half of the memory available when each is
    made (the other half for the server, the answer cache and the system).

    >>> memory_share("disk", 3), memory_share("memory", 3), memory_share("auto", 2)
    (0.0, inf, 0.25)
    """
    if query_store == "disk":
        return 0.0
    if query_store == "memory":
        return math.inf
    return 0.5 / workers
