"""The remote store: any SPARQL 1.1 server instead of the embedded pyoxigraph store.

A deployment that outgrows one machine moves its data to Fuseki, GraphDB, Virtuoso or
QLever and points ``KOMMUNEGRAF_STORE_URL`` at it; the routes keep talking to a
``Backend``, so the endpoint, the pages and the tests stay the same.

What the deadline bounds here: how long *the client* waits. Each request has a
client-side timeout and the client gets ``QueryTimeoutError`` in time, but a query
that already reached the remote server keeps using that server's CPU until the server
itself stops it. kommunegraf cannot kill a process on another machine; the remote
server must enforce its own query timeout (Fuseki ``arq:queryTimeout``, GraphDB's
query timeout, Virtuoso's ``MaxQueryExecutionTime``; ``oxigraph serve --timeout-s``
does not stop a cartesian-product aggregate). See docs/remote-store.md.

The queries see the union of the named graphs as their default graph only if the
remote server is configured so (``oxigraph serve --union-default-graph``, Fuseki
``tdb2:unionDefaultGraph``); ``start`` warns when it is not.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Awaitable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from http.client import HTTPException, HTTPResponse

from pyoxigraph import NamedNode
from rdflib import Graph
from SPARQLWrapper import (
    INSERT,
    POST,
    POSTDIRECTLY,
    SELECT,
    URLENCODED,
    SPARQLWrapper,
)
from SPARQLWrapper.SPARQLExceptions import QueryBadFormed, SPARQLWrapperException

from service.access.scope import audit_graph
from service.errors import (
    QuerySyntaxError,
    QueryTimeoutError,
    RemoteStoreError,
    ServiceError,
    UpdateSyntaxError,
    attempt,
)
from service.metrics import observed
from service.settings import Settings, SettingsError
from service.sparql.text_checks import check_text
from service.store.admission import CHEAP_BUDGET, CLIENT, Admission
from service.store.backend import Backend
from service.store.dialects import Dialect, detect, named
from service.store.embedded import WRITE_PREAMBLE
from service.store.remote_wire import (
    ASK_AS,
    GRAPH_TYPES,
    KIND_TYPES,
    WRITE_TIMEOUT,
    DeadlinePassedError,
    Kind,
    QueryForm,
    check_iri,
    check_url,
    kind_of,
    media_label,
    message,
    put_graph,
    query_form,
    read_until,
    wrapper_response,
)
from service.store.worker_tasks import QueryAnswer, Read, TrialResult, UpdateTrial
from service.store.workers import QueryPool

# The logger keeps the name log collectors already filter on (the module moved).
log = logging.getLogger("service.remote_store")


REMOTE_CONCURRENCY = 16
"""Threads waiting on the remote server at once (queries, the service's own asks, reads
of clients' texts).

They have their own pool so that slow remote queries, each holding a thread until its
deadline, cannot starve the event loop's default executor that loads and other
``asyncio.to_thread`` work use; beyond this many, queries queue (their deadline runs).
"""

REMOTE_QUERIES = REMOTE_CONCURRENCY - 4
"""Queries admitted to the remote server at once (``Admission``): fewer than the threads,
so the marks watcher and the reading of clients' texts always find one."""

WATCH_SECONDS = 1.0
"""How often the store is asked whether anyone wrote to it (``RemoteBackend.marks``)."""


_HIDDEN_TRIPLE = (
    "ASK { { SELECT ?s ?p ?o WHERE { GRAPH ?g { ?s ?p ?o } } LIMIT 1 } "
    "FILTER NOT EXISTS { ?s ?p ?o } }"
)
"""True when a triple of some named graph is missing from the default graph: no union."""


class _NotAcceptableError(Exception):
    """The remote server cannot give any format the client accepts (its 406)."""


@dataclass(frozen=True)
class _Request:
    """One query as sent to the remote server, decided on the event loop side."""

    query: str
    form: QueryForm | None
    accept: tuple[str, ...]
    """Media types the client accepts for this query's kind, in preference order."""
    default_graphs: tuple[str, ...] | None
    named_graphs: tuple[str, ...] | None
    deadline: float
    """``time.monotonic()`` value after which the answer is no longer wanted."""


class RemoteBackend(Backend):
    """A SPARQL 1.1 server (Query, Update, optionally Graph Store Protocol) as the store."""

    def __init__(self, settings: Settings) -> None:
        if not settings.store_url:
            raise SettingsError("KOMMUNEGRAF_STORE_URL mangler (is not set)")
        for key in ("store_url", "update_url", "graph_store_url"):
            check_url(key, getattr(settings, key))
        self.settings = settings
        self.query_url: str = settings.store_url
        self.update_url: str = settings.update_url or settings.store_url
        self.graph_store_url = settings.graph_store_url
        self._authorization: str | None = None
        if settings.store_user is not None:
            pair = f"{settings.store_user}:{settings.store_password or ''}".encode()
            self._authorization = "Basic " + base64.b64encode(pair).decode("ascii")
        self._executor = ThreadPoolExecutor(REMOTE_CONCURRENCY, "kommunegraf-remote")
        self.admission = Admission(
            REMOTE_QUERIES,
            reserved=settings.query_reserved,
            queue_limit=settings.query_queue,
            client_limit=max(1, settings.query_queue // 2),
            client_running=settings.query_workers,
        )
        """Who may send a query to the remote server next (``service.store.admission``):
        the same lanes, fairness and bounded queues as the embedded store's workers, and
        at most ``query_workers`` queries of one client there at once, since a query the
        remote server has started runs on until that server stops it."""
        self._trials = QueryPool(1, reserved=0)
        """One worker process for the trial runs of municipality tokens' updates."""
        self._dialect: Dialect | None = named(settings.store_dialect)
        self._detecting = threading.Lock()
        self.writes = 0
        """Writes sent through this process (``data_generation``: what is built is stale)."""
        self.marks = ""
        """How many triples the store's audit graph holds, read every ``WATCH_SECONDS``.

        Every write of every kommunegraf instance puts a mark there in its own
        transaction (``service.access.audit``), so when this changes, some instance
        wrote: what this one built from the data (search index, catalogues) is stale.
        That is what lets several instances share one store and see each other's writes
        (docs/remote-store.md, "several instances")."""
        self._watcher: asyncio.Task[None] | None = None

    @property
    def dialect(self) -> Dialect:
        """What this server does differently (``service.store.dialects``).

        Set by ``KOMMUNEGRAF_STORE_DIALECT`` or read from the ``Server`` header of the
        store's first answer; asking here before any answer sends a tiny query (so call
        it on a worker thread, not the event loop).
        """
        if self._dialect is None:
            with self._detecting:
                if self._dialect is None:
                    self._ask("ASK {}")
        assert self._dialect is not None
        return self._dialect

    def _introduced(self, server: str | None) -> Dialect:
        """The dialect, read from the first answer's ``Server`` header if not set."""
        if self._dialect is None:
            self._dialect = detect(server)
            log.info(
                "fjernlager / remote store %s: dialekt / dialect %s",
                self.query_url,
                self._dialect.name,
            )
        return self._dialect

    async def start(self) -> None:
        """Warn when the remote server does not serve the union of its graphs.

        kommunegraf keeps one named graph per source and its queries expect the union
        as the default graph; without it every count is zero and nothing says why.
        """
        await self._trials.start()
        self._watcher = asyncio.create_task(self._watch_marks(), name="kommunegraf-store-marks")
        answer = await attempt(
            self.execute(
                _HIDDEN_TRIPLE, solutions_media="application/sparql-results+json", graph_media=None
            )
        )
        try:
            if isinstance(answer, ServiceError):
                raise ValueError(answer)
            hidden = bool(json.loads(answer.body)["boolean"])
        except (KeyError, ValueError):
            log.warning("Kunne ikke sjekke fjernlageret / could not check the remote store")
            return
        if hidden:
            log.warning(
                "Fjernlageret ser ikke unionen av navngitte grafer som standardgraf; "
                "spørringer vil ikke finne data. / The remote store does not use the union "
                "of its named graphs as the default graph; queries will find nothing. "
                "See docs/remote-store.md (oxigraph serve --union-default-graph, "
                "Fuseki tdb2:unionDefaultGraph)."
            )

    async def _watch_marks(self) -> None:
        graph = audit_graph(self.settings.base_iri)
        count = f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}"
        loop = asyncio.get_running_loop()
        while True:
            # Not through execute(): the service's own bookkeeping is no query to count.
            request = _Request(
                count,
                "SELECT",
                ("application/sparql-results+json",),
                None,
                None,
                time.monotonic() + WATCH_SECONDS * 5,
            )
            answer = await attempt(
                loop.run_in_executor(
                    self._executor, partial(self._query, request, WATCH_SECONDS * 5)
                )
            )
            # A failure leaves the marks unchanged: the next round tries again, and queries
            # report their own errors.
            with contextlib.suppress(LookupError, ValueError):
                if not isinstance(answer, ServiceError):
                    self.marks = json.loads(answer.body)["results"]["bindings"][0]["n"]["value"]
            await asyncio.sleep(WATCH_SECONDS)

    def close(self) -> None:
        """Stop taking queries; threads still waiting end at their own deadlines."""
        if self._watcher is not None:
            self._watcher.cancel()
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._trials.close()

    async def read(self, read: Read) -> QueryAnswer:
        """Send the query and return the remote server's bytes unchanged.

        The query waits its turn in ``admission`` first, like a query for the embedded
        store's workers (429/503 with Retry-After when its lane is full), and holds its
        slot until it is answered or its deadline passes. Past the deadline the client
        gets ``QueryTimeoutError`` even if the thread is still blocked on the socket: it
        ends by itself at its socket timeout. A client's query (``allow`` given) is read
        with ``check_text`` on this backend's threads first, inside its slot (the reading
        costs about a second per MB here), and the remote server gets the text that
        check wrote.
        """
        seconds = read.timeout or self.settings.query_timeout
        client = CLIENT.get()
        costs = self.admission.costs
        own = read.allow is None
        cheap = costs.cheap(read.query, client, own, read.bounded)
        await self.admission.enter(client, cheap, costs.expected(read.query, own))
        started = time.monotonic()
        try:
            answer = await self._read(read, seconds, started + seconds)
        except QueryTimeoutError:
            costs.overran(read.query, own=own)
            raise
        finally:
            ran = time.monotonic() - started
            self.admission.leave(client, cheap, ran)
        costs.ran(read.query, ran, own)
        if cheap and ran > CHEAP_BUDGET:
            # Misjudged: it cannot be stopped on the remote server and moved, as on the
            # embedded store, but its shape and its client leave the cheap lane.
            costs.overran(read.query, client, own)
        return answer

    async def _read(self, read: Read, seconds: float, deadline: float) -> QueryAnswer:
        query = read.query
        loop = asyncio.get_running_loop()
        if read.allow is not None:
            reading = loop.run_in_executor(
                self._executor,
                partial(
                    check_text, query, update=False, base=self.settings.base_iri, allow=read.allow
                ),
            )
            try:
                checked = await asyncio.wait_for(reading, max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                raise QueryTimeoutError(seconds) from None
            query = checked.text
        form = query_form(query)
        if form is None:
            accept = tuple(m for m in (read.solutions_media, read.graph_media) if m is not None)
        else:
            wanted = read.graph_media if kind_of(form) == "graph" else read.solutions_media
            if wanted is None:
                # Nothing the client accepts exists for this kind of result: no need to
                # make the remote server work for an answer that would be thrown away.
                return QueryAnswer(kind_of(form), None, b"")
            accept = (wanted,)
        request = _Request(query, form, accept, read.default_graphs, read.named_graphs, deadline)
        left = max(0.0, deadline - time.monotonic())
        pending = loop.run_in_executor(self._executor, partial(self._query, request, seconds))
        return await observed(query, self._answered(pending, seconds, left))

    @staticmethod
    async def _answered(
        pending: Awaitable[QueryAnswer], seconds: float, left: float | None = None
    ) -> QueryAnswer:
        """``pending``'s answer within ``left`` seconds (default ``seconds``); past that
        QueryTimeoutError naming the deadline, ``seconds``."""
        try:
            return await asyncio.wait_for(pending, seconds if left is None else left)
        except TimeoutError:
            raise QueryTimeoutError(seconds) from None

    def _wrapper(self, endpoint: str, timeout: float) -> SPARQLWrapper:
        """A fresh SPARQLWrapper per request: its instances are not thread-safe."""
        wrapper = SPARQLWrapper(endpoint, updateEndpoint=endpoint)
        wrapper.setMethod(POST)  # no URL length limit; the query is not logged in URLs
        wrapper.setOnlyConneg(True)  # Accept only; no format=/output= guesses per server
        # Not setTimeout(): it truncates to whole seconds, and 0 would mean no timeout.
        wrapper.timeout = max(timeout, 0.001)  # type: ignore[assignment]
        if self._authorization is not None:
            # Set as a header rather than setCredentials(): SPARQLWrapper sends nothing
            # when the password is empty, and the graph store PUT needs the same header.
            wrapper.addCustomHttpHeader("Authorization", self._authorization)
        return wrapper

    def _ask(self, query: str) -> QueryAnswer:
        """An ASK of the service's own, on this thread, within ``query_timeout``."""
        seconds = self.settings.query_timeout
        request = _Request(
            query,
            "ASK",
            ("application/sparql-results+json",),
            None,
            None,
            time.monotonic() + seconds,
        )
        return self._query(request, seconds)

    def _query(self, request: _Request, seconds: float) -> QueryAnswer:
        """Run in a worker thread: the only place that blocks on the remote server."""
        remaining = request.deadline - time.monotonic()
        if remaining <= 0:
            raise QueryTimeoutError(seconds)
        wrapper = self._wrapper(self.query_url, remaining)
        # Set directly instead of setQuery(), whose keyword search would be used to
        # decide between query and update; this is always sent as a query.
        wrapper.queryString = request.query
        wrapper.queryType = request.form or SELECT
        wrapper.setRequestMethod(URLENCODED)
        asked = [ASK_AS.get(media, media) for media in request.accept]
        wrapper.addCustomHttpHeader("Accept", ", ".join(asked) or "*/*")
        for graph in request.default_graphs or ():
            wrapper.addParameter("default-graph-uri", graph)
        for graph in request.named_graphs or ():
            wrapper.addParameter("named-graph-uri", graph)
        kind: Kind = kind_of(request.form) if request.form else "solutions"
        try:
            response = self._send(wrapper)
        except _NotAcceptableError:
            return QueryAnswer(kind, None, b"")
        except DeadlinePassedError:
            raise QueryTimeoutError(seconds) from None
        with response:
            served = response.headers.get_content_type()
            dialect = self._introduced(response.headers.get("Server"))
            try:
                body = read_until(response, request.deadline)
            except (DeadlinePassedError, TimeoutError):
                raise QueryTimeoutError(seconds) from None
            except (OSError, HTTPException) as error:
                log.error("remote store %s: %s", self.query_url, error)
                raise RemoteStoreError(
                    "fjernlageret brøt svaret / the remote store broke off its answer"
                ) from None
        media = media_label(served, request.accept)
        body = dialect.answer(request.form, media, body)
        if request.form is not None and served not in KIND_TYPES[kind]:
            log.error("remote store %s answered %s to a %s", self.query_url, served, request.form)
            raise RemoteStoreError(
                f"fjernlageret svarte med {served} / the remote store answered with {served}"
            )
        if request.form is None:
            kind = "graph" if served in GRAPH_TYPES else "solutions"
            if media not in request.accept:
                return QueryAnswer(kind, None, b"")
        return QueryAnswer(kind, media, body)

    def _send(
        self, wrapper: SPARQLWrapper, malformed: type[QuerySyntaxError] = QuerySyntaxError
    ) -> HTTPResponse:
        """Call SPARQLWrapper and sort its failures into the errors routes understand."""
        try:
            response: HTTPResponse = wrapper.query().response
            return response
        except QueryBadFormed as error:
            raise malformed(message(wrapper_response(error))) from None
        except SPARQLWrapperException as error:
            body = message(wrapper_response(error))
            log.error("remote store %s: %s", wrapper.endpoint, body)
            raise RemoteStoreError(
                f"fjernlageret svarte med en feil / the remote store answered with an error "
                f"({type(error).__name__})"
            ) from None
        except urllib.error.HTTPError as error:
            if error.code == 406:
                raise _NotAcceptableError from None
            body = message(error.read())
            log.error("remote store %s: HTTP %s: %s", wrapper.endpoint, error.code, body)
            raise RemoteStoreError(
                f"fjernlageret svarte HTTP {error.code} / the remote store answered HTTP "
                f"{error.code}"
            ) from None
        except urllib.error.URLError as error:
            if isinstance(error.reason, TimeoutError):
                raise DeadlinePassedError from None
            log.error("remote store %s: %s", wrapper.endpoint, error.reason)
            raise RemoteStoreError(
                "fjernlageret svarer ikke / the remote store cannot be reached"
            ) from None
        except TimeoutError:
            raise DeadlinePassedError from None
        except (OSError, HTTPException) as error:
            log.error("remote store %s: %s", wrapper.endpoint, error)
            raise RemoteStoreError(
                "fjernlageret brøt forbindelsen / the remote store dropped the connection"
            ) from None

    async def rehearse_update(self, sparql: str, *, evaluate: bool) -> None:
        """Nothing to do: the remote server parses in its own process, not in this one."""

    async def trial_update(self, sparql: str, graphs: tuple[str, ...]) -> TrialResult:
        """The graphs are fetched from the remote server and the update is run on them
        in a local worker process, like the embedded store's trial."""
        data: list[tuple[str, bytes]] = []
        for graph in graphs:
            name = NamedNode(graph)
            answer = await self.execute(
                f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH {name} {{ ?s ?p ?o }} }}",
                solutions_media=None,
                graph_media="application/n-triples",
            )
            data.append((graph, answer.body))
        request = UpdateTrial(sparql, "", graphs, self.settings.base_iri, tuple(data))
        return await self._trials.trial(request, self.settings.query_timeout)

    async def update(self, sparql: str) -> None:
        """One update request, which SPARQL 1.1 servers apply as one transaction."""
        loop = asyncio.get_running_loop()
        # The executor does not carry this context: the preamble is added here.
        await loop.run_in_executor(self._executor, self._update, WRITE_PREAMBLE.get() + sparql)

    def _update(self, sparql: str) -> None:
        try:
            self._send_update(sparql)
        finally:  # a write that failed on the way back may still have been applied
            self.writes += 1

    def _send_update(self, sparql: str) -> None:
        wrapper = self._wrapper(self.update_url, WRITE_TIMEOUT)
        wrapper.queryString = sparql
        wrapper.queryType = INSERT  # any update type: makes SPARQLWrapper send an update
        wrapper.setRequestMethod(POSTDIRECTLY)
        try:
            response = self._send(wrapper, UpdateSyntaxError)
        except _NotAcceptableError:
            raise RemoteStoreError("fjernlageret avviste oppdateringen / update refused") from None
        except DeadlinePassedError:
            raise RemoteStoreError(
                f"fjernlageret svarte ikke innen {WRITE_TIMEOUT:g} s; oppdateringen kan være "
                f"utført eller ikke / no answer from the remote store within "
                f"{WRITE_TIMEOUT:g} s; the update may or may not have been applied"
            ) from None
        with response:
            response.read()

    def replace_graph(self, graph_iri: str, data: Graph) -> None:
        """Replace the graph in one request, so remote readers see old or new, never a mix.

        By default one SPARQL update (drop, then insert): SPARQL 1.1 Update asks
        servers to apply a request atomically, and Fuseki, GraphDB and oxigraph do.
        With a graph store URL, a Graph Store Protocol PUT instead: it avoids limits on
        update size, but that protocol does not promise atomicity, so it is only as
        atomic as the server makes it (docs/remote-store.md).
        """
        check_iri(graph_iri)
        if self.graph_store_url:
            triples: str = data.serialize(format="nt")
            if WRITE_PREAMBLE.get():  # its own request: the PUT cannot carry it
                self._update(WRITE_PREAMBLE.get().rstrip().removesuffix(";"))
            try:
                put_graph(
                    self.graph_store_url,
                    graph_iri,
                    triples.encode("utf-8"),
                    self._authorization,
                    (self.settings.store_user or "", self.settings.store_password or ""),
                )
            finally:
                self.writes += 1
            return
        self._update(WRITE_PREAMBLE.get() + self.dialect.replace_graph(graph_iri, data))

    async def merge_graph(self, graph_iri: str, data: Graph) -> None:
        """Add ``data`` to ``graph_iri`` in one update request (Graph Store POST)."""
        check_iri(graph_iri)
        preamble = WRITE_PREAMBLE.get()  # the executor does not carry this context
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(
            self._executor,
            lambda: self._update(preamble + self.dialect.write_graph(graph_iri, data)),
        )

    def is_empty(self) -> bool:
        """Ask the remote server; it runs once at start-up, before the event loop serves."""
        answer = self._ask(self.dialect.any_quad())
        if answer.media is None:
            raise RemoteStoreError("fjernlageret kan ikke svare i JSON / no JSON from the store")
        return not json.loads(answer.body)["boolean"]
