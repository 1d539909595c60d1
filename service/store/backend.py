"""Where queries and writes go: the embedded store, or a remote SPARQL 1.1 server.

Routes talk to a ``Backend`` only, so the same endpoint, pages and tests run on
both. Graph Store Protocol operations are expressed with these three calls
(a graph GET is a CONSTRUCT, a PUT is ``replace_graph``, POST and DELETE are
updates), which any SPARQL 1.1 server supports.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import (
    AbstractContextManager,
    ExitStack,
    asynccontextmanager,
    contextmanager,
    nullcontext,
)
from dataclasses import replace
from pathlib import Path
from typing import IO, Protocol

import pyoxigraph as ox
from rdflib import Graph

from service.metrics import ANSWER_HITS, ANSWER_MISSES, observed
from service.settings import Settings
from service.store.answers import HIT, VOLATILE, AnswerCache, forwarded
from service.store.embedded import (
    GraphWritten,
    KnowledgeStore,
    NewGraphs,
    StoreLockedError,
    open_store,
    published_copy,
    safe_ntriples,
)
from service.store.snapshots import memory_share
from service.store.warm_up import WarmUp
from service.store.worker_tasks import (
    QueryAnswer,
    Read,
    TrialResult,
    UpdateRehearsal,
    UpdateTrial,
    UploadCheck,
)
from service.store.workers import QueryPool


class Reader(Protocol):
    """What reads the store: every query, the service's own and a client's, with a deadline."""

    async def execute(
        self,
        query: str,
        *,
        solutions_media: str | None,
        graph_media: str | None,
        default_graphs: tuple[str, ...] | None = None,
        named_graphs: tuple[str, ...] | None = None,
        timeout: float | None = None,
        allow: tuple[str, ...] | None = None,
        fresh: bool = False,
    ) -> QueryAnswer:
        """Run a query with a deadline; raises QuerySyntaxError, QueryTimeoutError.

        ``allow`` marks a client's query: it is read with ``check_text`` (SERVICE only
        to those prefixes; RefusedTextError) and the text that check writes is run. On
        the embedded store its answer may come from the answer cache
        (``service.store.answers``), unless ``fresh``.
        """
        return await self.read(
            Read(
                query,
                solutions_media,
                graph_media,
                default_graphs,
                named_graphs,
                timeout,
                allow,
                fresh,
            )
        )

    async def read(self, request: Read) -> QueryAnswer:
        """What ``execute`` runs: the query and its options in one value."""
        ...


class Backend(Reader, Protocol):
    """The store as the service, the exports, the upload and the CLI reach it: reads
    (``Reader``) and the writes the audit trail marks."""

    async def start(self) -> None:
        """Start what the backend needs (worker processes, connections)."""

    def close(self) -> None:
        """Stop it; in-flight work has finished."""

    async def update(self, sparql: str) -> None:
        """Run a SPARQL 1.1 Update as one transaction; raises QuerySyntaxError."""

    async def rehearse_update(self, sparql: str, *, evaluate: bool) -> None:
        """Parse (and plan) a client's update where a crash cannot take the server down.

        Raises QuerySyntaxError, or WorkerCrashedError when the rehearsal crashed.
        """

    async def trial_update(self, sparql: str, graphs: tuple[str, ...]) -> TrialResult:
        """Run an update on a copy of ``graphs`` in a worker process; what it changes.

        The caller holds the write lock, so the copy is the state the write will change.
        Raises UpdateSyntaxError, UpdateFailedError, UpdateCrashedError.
        """
        ...

    def replace_graph(self, graph_iri: str, data: Graph) -> None:
        """Make ``data`` the whole content of ``graph_iri``, atomically."""

    async def merge_graph(self, graph_iri: str, data: Graph) -> None:
        """Add ``data`` to ``graph_iri`` in one transaction, written as the store accepts it."""

    def is_empty(self) -> bool:
        """True when the store holds no quad at all (first start)."""
        ...


GENERATION_SECONDS = 60.0
"""How long what is built from a remote store's data is taken to be current (a time slot)."""


async def construct_ntriples(backend: Reader, sparql: str) -> bytes:
    """A CONSTRUCT's answer as N-Triples: on the embedded store read in this process
    (``EmbeddedBackend.construct_ntriples``), elsewhere by a query like any other."""
    local = getattr(backend, "construct_ntriples", None)
    if local is not None:
        body: bytes = await local(sparql)
        return body
    return await _asked_ntriples(backend, sparql)


async def _asked_ntriples(backend: Reader, sparql: str) -> bytes:
    """A CONSTRUCT's answer as N-Triples, asked as any read (the query workers, a remote
    store)."""
    answer = await backend.execute(
        sparql, solutions_media=None, graph_media="application/n-triples"
    )
    return answer.body


def snapshot_of(backend: Reader) -> str | None:
    """The embedded store's current snapshot (a new name after every write), or None
    where there is none (a remote store, which others may write to at any moment)."""
    snapshot = getattr(getattr(backend, "store", None), "snapshot", None)
    return snapshot if isinstance(snapshot, str) and snapshot else None


def data_generation(backend: Backend, slot_seconds: float = GENERATION_SECONDS) -> str:
    """What something built from ``backend``'s data is valid for: the embedded store's
    current snapshot (a new one after every write), or, for a remote store that others
    may write to, a time slot of ``slot_seconds``, the writes sent through this process
    and the audit marks the store holds (``RemoteBackend.marks``: a write by another
    kommunegraf instance on the same store, seen within a second)."""
    snapshot = snapshot_of(backend)
    if snapshot is not None:
        return snapshot
    slot = int(time.monotonic() // slot_seconds)
    return f"t{slot}-w{getattr(backend, 'writes', 0)}-m{getattr(backend, 'marks', '')}"


class EmbeddedBackend(Backend):
    """The on-disk pyoxigraph store (one writer) and its query worker processes."""

    def __init__(
        self, settings: Settings, store: KnowledgeStore | PublishedCopy | None = None
    ) -> None:
        self.settings = settings
        self._owned = store is None
        self.store = store if store is not None else KnowledgeStore(settings.store)
        self.pool = QueryPool(
            settings.query_workers,
            settings.query_reserved,
            settings.query_queue,
            memory_share=memory_share(settings.query_store, settings.query_workers),
            warm=(
                WarmUp(settings.base_iri, settings.engine)
                if settings.warm_checks and (settings.token or settings.tokens)
                else None
            ),
        )
        self._writer = asyncio.Lock()
        self._in_flight: Counter[str] = Counter()
        """The snapshot of every query not yet answered, queued ones included."""
        self.answers = AnswerCache(settings.answer_cache_mb * 1024 * 1024)
        """Clients' answers on the current snapshot (``service.store.answers``)."""

    async def start(self) -> None:
        await self.pool.start()

    @property
    def _writable(self) -> KnowledgeStore:
        """The store, to write to: a command run beside a service has only the copy the
        service published (``PublishedCopy``), which it may read but never write."""
        if isinstance(self.store, PublishedCopy):
            raise StoreLockedError(_HELD_MESSAGE)
        return self.store

    def close(self) -> None:
        self.pool.close()
        if self._owned:
            self.store.close()

    async def read(self, read: Read) -> QueryAnswer:
        snapshot = self.store.snapshot
        cached = read.allow is not None  # a client's query (the endpoint's)
        if cached and not read.fresh:
            answer = self.answers.get(snapshot, read)
            if answer is not None:
                ANSWER_HITS.inc()
                return answer
        request = read.for_worker(snapshot, self.settings.base_iri)
        with self._holding(snapshot):
            answer = await observed(
                read.query, self.pool.execute(request, read.timeout or self.settings.query_timeout)
            )
        if not cached:
            return answer
        ANSWER_MISSES.inc()
        key = replace(read, fresh=False) if read.fresh else read
        kept = self.answers.put(snapshot, self.store.snapshot, key, replace(answer, cache=HIT))
        status = VOLATILE if answer.volatile else forwarded(fresh=read.fresh, kept=kept)
        return replace(answer, cache=status)

    @contextmanager
    def _holding(self, snapshot: str) -> Iterator[None]:
        """Keep ``snapshot`` on disk while a request for it waits or runs.

        A request queued behind busy workers has not opened its snapshot yet; if a write
        published a newer one meanwhile, the old one must still be there.
        """
        self._in_flight[snapshot] += 1
        try:
            yield
        finally:
            self._in_flight[snapshot] -= 1
            if not self._in_flight[snapshot]:
                del self._in_flight[snapshot]
            self.store.discard_snapshots(
                lambda: self.pool.snapshots_in_use() | set(self._in_flight)
            )

    async def rehearse_update(self, sparql: str, *, evaluate: bool) -> None:
        request = UpdateRehearsal(sparql, self.store.snapshot, evaluate, self.settings.base_iri)
        with self._holding(request.snapshot):
            await self.pool.rehearse(request, self.settings.query_timeout)

    async def trial_update(self, sparql: str, graphs: tuple[str, ...]) -> TrialResult:
        request = UpdateTrial(sparql, self.store.snapshot, graphs, self.settings.base_iri)
        with self._holding(request.snapshot):
            return await self.pool.trial(request, self.settings.query_timeout)

    async def check_upload(self, check: UploadCheck) -> object:
        """An upload's check in a query worker, on the current snapshot, within
        ``upload_timeout`` seconds waiting included (``QueryPool.check_upload``)."""
        snapshot = self.store.snapshot  # then the history: it may name newer ones, not fewer
        history = tuple(getattr(self.store, "history", ()))
        check = replace(check, snapshot=snapshot, history=history)
        with self._holding(check.snapshot):
            return await self.pool.check_upload(check, self.settings.upload_timeout)

    async def update(self, sparql: str) -> None:
        async with self._writer:
            await asyncio.to_thread(self._writable.update, sparql, self.settings.base_iri)

    async def construct_ntriples(self, sparql: str) -> bytes:
        """A CONSTRUCT's triples as N-Triples, evaluated on the committed state of the
        store this process writes, on a thread here: for a write's own reads (an upload's
        changes, the audit's counts before and after), which sent ~25 queries per upload
        through the query workers (queued behind clients' queries, the answer serialised
        there and parsed here: Oslo's changes 0.3-0.8 s on a loaded machine). A command
        beside a service (``PublishedCopy``) asks its workers, as any read."""
        store = self.store
        if isinstance(store, PublishedCopy):
            return await _asked_ntriples(self, sparql)

        def construct() -> bytes:
            triples = store.query(sparql, self.settings.base_iri)
            assert isinstance(triples, ox.QueryTriples)
            return triples.serialize(format=ox.RdfFormat.N_TRIPLES) or b""

        return await asyncio.to_thread(construct)

    def replace_graph(self, graph_iri: str, data: Graph) -> None:
        self._writable.replace_graph(graph_iri, data)

    def replace_graph_ntriples(self, graph_iri: str, data: bytes) -> None:
        """See ``KnowledgeStore.replace_graph_ntriples``: a checked source, written as is."""
        self._writable.replace_graph_ntriples(graph_iri, data)

    def add_new_graphs(self, graphs: NewGraphs, written: GraphWritten | None = None) -> bool:
        """See ``KnowledgeStore.add_new_graphs``: a first start's sources, few writes."""
        return self._writable.add_new_graphs(graphs, written)

    async def merge_graph(self, graph_iri: str, data: Graph) -> None:
        triples = await asyncio.to_thread(safe_ntriples, data)
        text = f"INSERT DATA {{ GRAPH <{graph_iri}> {{\n{triples}\n}} }}"
        try:  # it writes that one graph (``KnowledgeStore.history``), if the IRI is one
            written: tuple[str, ...] | None = (ox.NamedNode(graph_iri).value,)
        except ValueError:
            written = None
        async with self._writer:
            await asyncio.to_thread(self._writable.update, text, self.settings.base_iri, written)

    def deferred_publish(self) -> AbstractContextManager[None]:
        """See ``KnowledgeStore.deferred_publish``: one snapshot for a batch load."""
        return self.store.deferred_publish()

    def is_empty(self) -> bool:
        return self.store.is_empty()

    def dump(self, output: IO[bytes], rdf_format: ox.RdfFormat) -> int:
        """Every quad of the state this backend reads, to ``output``; how many.

        A backup (``kommunegraf dump``), not a query: no worker and no deadline, and on
        a copy a running service published, the newest state it committed."""
        return self.store.dump(output, rdf_format)


class PublishedCopy:
    """The newest state a running service published, for a command run beside it: reads
    only. The service holds the store's lock, so the command's workers read a private
    copy of the service's last snapshot (``service.store.embedded.published_copy``)."""

    def __init__(self, path: Path) -> None:
        self.snapshot = str(path)

    def discard_snapshots(self, in_use: Callable[[], set[str]]) -> None:
        """Nothing to discard: the copy is the only snapshot, deleted on close."""

    def close(self) -> None:
        """Nothing to flush: the copy is never written."""

    def is_empty(self) -> bool:
        return False  # a service that published a snapshot has filled the store

    def dump(self, output: IO[bytes], rdf_format: ox.RdfFormat) -> int:
        copy = ox.Store.read_only(self.snapshot)
        try:
            copy.dump(output, rdf_format)
            return len(copy)
        finally:
            del copy

    def deferred_publish(self) -> AbstractContextManager[None]:
        return nullcontext()


_HELD_MESSAGE = (
    "Lageret er i bruk av en tjeneste som kjører; denne kommandoen kan bare lese det nå. "
    "Stopp tjenesten, eller skriv gjennom den (HTTP). / The store is held by a running "
    "service; this command can only read it now. Stop the service, or write through it (HTTP)."
)


@asynccontextmanager
async def command_backend(
    settings: Settings, *, write: bool = False
) -> AsyncIterator[EmbeddedBackend]:
    """The store as a command-line command reaches it: the same ``Backend`` the routes use,
    so every read runs in a worker process with the service's deadline
    (``query_timeout``), and every write goes through the same calls the audit trail marks.

    The store itself when no service holds it; while a service runs, with ``write`` False,
    the newest state the service published, read-only. Raises ``StoreLockedError``
    otherwise. (``service.cli.options.on_store`` gives an empty store the reference data,
    audited.)
    """
    # On disk: a command's few queries would not pay for copying the store into memory.
    settings = replace(settings, query_workers=1, query_reserved=0, query_store="disk")
    with ExitStack() as stack:
        store: KnowledgeStore | PublishedCopy
        try:
            store = stack.enter_context(open_store(settings.store))
        except StoreLockedError:
            if write or settings.store is None:
                raise
            store = PublishedCopy(stack.enter_context(published_copy(settings.store)))
        backend = EmbeddedBackend(settings, store)
        await backend.start()
        try:
            yield backend
        finally:
            backend.close()
