"""What the service counts, for Prometheus at ``/metrics``.

The metrics live in the server process. Queries run in worker processes (see
``service.store.workers``), but they are timed here, around the await in the backend,
so a worker being killed at its deadline is counted like any other timeout and no
cross-process bookkeeping is needed. Metrics of a CLI process (``kommunegraf load``)
are not exported: only the server is scraped.

What other modules call:

- ``observed_query(query)`` — the backends wrap each query in it: duration histogram
  by kind, timeouts, active queries, and the query text in the debug log.
- ``query_kind(kind, name)`` — a route whose queries are not what its path says
  (a page running a canned query) labels them explicitly. By default the kind comes
  from the route template: ``/sparql`` → ``sparql``; ``/queries/service-gaps`` →
  ``canned`` with the query's name; ``/health`` and ``/metrics`` → ``internal``;
  any other route → ``page``; outside a request (start-up) → ``internal``.
- ``record_load(source, rows=, triples=, seconds=)`` — one validated source written
  to its graph (``service.store.sources`` calls it); ``record_rejected_load(source)`` —
  a load refused because the source did not validate or was not allowed.
- ``count_audit_event(action)`` — the audit trail calls it once per event it
  records, with the action as a short fixed word (``load``, ``update``,
  ``graph-put``, ``token-create`` ...). Never pass user input or a name as the
  action: every distinct value becomes a time series.

Labels hold only route templates, fixed words (the method from a fixed set, any
other method is "other") and canned-query names, never a path, a query text, a
token or a person, so the number of series stays bounded
and nothing personal leaves through the metrics.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from typing import Any, TypeVar

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    disable_created_metrics,
)
from prometheus_client.exposition import generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.errors import QueryTimeoutError, ServiceError, attempt

T = TypeVar("T")

query_log = logging.getLogger("kommunegraf.query")

disable_created_metrics()  # type: ignore[no-untyped-call]  # *_created series double the output
REGISTRY = CollectorRegistry()
"""Our own registry: only kommunegraf's series, none of the client library's defaults."""

_DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

BUILD = Info("kommunegraf_build", "Versjon / version", registry=REGISTRY)
REQUESTS = Counter(
    "kommunegraf_http_requests",
    "HTTP-forespørsler etter rute og status / HTTP requests by route template and status",
    ["method", "route", "status"],
    registry=REGISTRY,
)
REQUEST_SECONDS = Histogram(
    "kommunegraf_http_request_duration_seconds",
    "Svartid etter rute / response time by route template",
    ["route"],
    buckets=_DURATION_BUCKETS,
    registry=REGISTRY,
)
QUERY_SECONDS = Histogram(
    "kommunegraf_query_duration_seconds",
    "Spørretid etter type (sparql, canned, page, internal) og navn / query time by kind and name",
    ["kind", "name"],
    buckets=_DURATION_BUCKETS,
    registry=REGISTRY,
)
QUERY_TIMEOUTS = Counter(
    "kommunegraf_query_timeouts",
    "Spørringer stoppet ved fristen / queries stopped at their deadline",
    ["kind", "name"],
    registry=REGISTRY,
)
ANSWERS = Counter(
    "kommunegraf_answer_cache",
    "Svar på /sparql fra svarbufferet (hit) eller en spørreprosess (miss) / /sparql answers "
    "from the answer cache (hit) or a query worker (miss)",
    ["result"],
    registry=REGISTRY,
)
ANSWER_HITS = ANSWERS.labels("hit")
ANSWER_MISSES = ANSWERS.labels("miss")
ACTIVE_QUERIES = Gauge(
    "kommunegraf_active_queries",
    "Spørringer som kjører eller venter nå / queries running or waiting now",
    registry=REGISTRY,
)
LOADS = Counter(
    "kommunegraf_loads",
    "Kilder lastet etter type / sources loaded by kind (reference, spreadsheet, rdf)",
    ["source"],
    registry=REGISTRY,
)
LOAD_ROWS = Counter(
    "kommunegraf_load_rows", "Regnearkrader lastet / spreadsheet rows loaded", registry=REGISTRY
)
LOAD_TRIPLES = Counter(
    "kommunegraf_load_triples", "Tripler lastet / triples loaded", registry=REGISTRY
)
LOAD_SECONDS = Histogram(
    "kommunegraf_load_duration_seconds",
    "Tid per lastet kilde / time to write one source",
    buckets=_DURATION_BUCKETS,
    registry=REGISTRY,
)
LOADS_REJECTED = Counter(
    "kommunegraf_loads_rejected",
    "Lastinger avvist (ugyldig eller ikke tillatt) / loads refused (invalid or not allowed)",
    ["source"],
    registry=REGISTRY,
)
AUDIT_EVENTS = Counter(
    "kommunegraf_audit_events",
    "Hendelser i revisjonssporet / audit trail events by action",
    ["action"],
    registry=REGISTRY,
)
STORE_TRIPLES = Gauge(
    "kommunegraf_store_triples",
    "Tripler i lageret (målt ved skraping) / triples in the store (measured at scrape)",
    registry=REGISTRY,
)
STORE_GRAPHS = Gauge(
    "kommunegraf_store_graphs",
    "Navngitte grafer i lageret / named graphs in the store",
    registry=REGISTRY,
)
QUERY_WORKERS = Gauge(
    "kommunegraf_query_workers",
    "Levende spørreprosesser (innebygd lager) / live query worker processes (embedded store)",
    registry=REGISTRY,
)
QUERY_WORKERS_IN_MEMORY = Gauge(
    "kommunegraf_query_workers_in_memory",
    "Spørreprosesser som svarte fra sin kopi i minnet (query_store) / query workers whose "
    "last query ran on their in-memory copy of the store",
    registry=REGISTRY,
)
QUERY_WORKERS_CHECKS_WARM = Gauge(
    "kommunegraf_query_workers_checks_warm",
    "Spørreprosesser som har forberedt kontrollen av opplastinger / query workers that have "
    "warmed up the checks of uploads (warm_checks)",
    registry=REGISTRY,
)
UPLOAD_CHECKS = Counter(
    "kommunegraf_upload_checks",
    "Kontroller av opplastinger i spørreprosessene; cold=true: kontrollen kompilerte formene "
    "selv / checks of uploads in the query workers; cold=true: the check compiled the shapes "
    "itself (its worker had not warmed up, warm_checks)",
    ["cold"],
    registry=REGISTRY,
)
QUERIES_WAITING = Gauge(
    "kommunegraf_queries_waiting",
    "Spørringer i kø etter kø (cheap, general) / queries waiting for a worker by lane",
    ["lane"],
    registry=REGISTRY,
)
QUERIES_REFUSED = Gauge(
    "kommunegraf_queries_refused",
    "Spørringer avvist med 429/503 siden start / queries refused with 429/503 since start",
    registry=REGISTRY,
)

_request: ContextVar[Scope | None] = ContextVar("kommunegraf_request", default=None)
_explicit_kind: ContextVar[tuple[str, str] | None] = ContextVar(
    "kommunegraf_query_kind", default=None
)
UNMATCHED = "(unmatched)"


def route_template(scope: Scope) -> str:
    """The route's path template (``/queries/{name}``), never the path itself."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED


HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"})
"""The methods that become a ``method`` label as they are; any other is "other"."""


def method_label(method: str) -> str:
    """The request's method as a label from a fixed set, so a client cannot mint series.

    >>> method_label("GET"), method_label("XYZZY")
    ('GET', 'other')
    """
    return method if method in HTTP_METHODS else "other"


def current_query_kind() -> tuple[str, str]:
    """(kind, name) for a query started now; see the module docstring."""
    explicit = _explicit_kind.get()
    if explicit is not None:
        return explicit
    scope = _request.get()
    if scope is None:
        return "internal", ""
    route = route_template(scope)
    if route.startswith("/sparql"):
        return "sparql", ""
    if route.startswith("/queries/"):
        # One route per canned query (``/queries/service-gaps``): the name is its path.
        name = route.removeprefix("/queries/")
        return "canned", name if "{" not in name else ""
    if route.startswith(("/health", "/metrics")):
        return "internal", ""
    return "page", ""


@contextmanager
def query_kind(kind: str, name: str = "") -> Iterator[None]:
    """Label the queries run inside the block (``kind`` a fixed word, ``name`` a query name)."""
    token = _explicit_kind.set((kind, name))
    try:
        yield
    finally:
        _explicit_kind.reset(token)


@lru_cache(maxsize=1024)
def _query_seconds(kind: str, name: str) -> Any:
    """``QUERY_SECONDS``'s series for ``kind`` and ``name``, looked up once (``labels`` takes
    a lock and builds the key on every call, and this runs for every query)."""
    return QUERY_SECONDS.labels(kind, name)


async def observed(query: str, work: Awaitable[T]) -> T:
    """Run ``work`` (one query), timed and counted as active meanwhile; count a timeout;
    log its text at debug."""
    kind, name = current_query_kind()
    if query_log.isEnabledFor(logging.DEBUG):
        query_log.debug(
            "spørring / query", extra={"kind": kind, "query_name": name, "query": query}
        )
    ACTIVE_QUERIES.inc()
    started = time.perf_counter()
    try:
        outcome = await attempt(work)
    finally:
        ACTIVE_QUERIES.dec()
        _query_seconds(kind, name).observe(time.perf_counter() - started)
    if isinstance(outcome, QueryTimeoutError):
        QUERY_TIMEOUTS.labels(kind, name).inc()
    if isinstance(outcome, ServiceError):
        raise outcome
    return outcome


def record_load(source: str, *, rows: int, triples: int, seconds: float) -> None:
    """One source written to its graph; ``source`` is reference, spreadsheet or rdf."""
    LOADS.labels(source).inc()
    LOAD_ROWS.inc(rows)
    LOAD_TRIPLES.inc(triples)
    LOAD_SECONDS.observe(seconds)


def record_rejected_load(source: str) -> None:
    """A load refused (the source did not validate, or the token may not write it)."""
    LOADS_REJECTED.labels(source).inc()


def count_audit_event(action: str) -> None:
    """One audit-trail event; ``action`` is a fixed word, never user input."""
    AUDIT_EVENTS.labels(action).inc()


CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
"""The classic text format, which every Prometheus version reads; our names need no escaping."""


def exposition() -> bytes:
    """Every series in the Prometheus text format (version 0.0.4)."""
    return generate_latest(REGISTRY)


@lru_cache(maxsize=1024)
def _requests(method: str, route: str, status: int) -> Any:
    """``REQUESTS``' series for one method, route template and status, looked up once
    (as ``_query_seconds``: every request counts itself here). The labels come from
    fixed sets (``method_label``, ``route_template``), so the cache holds every series."""
    return REQUESTS.labels(method, route, str(status))


@lru_cache(maxsize=256)
def _request_seconds(route: str) -> Any:
    """``REQUEST_SECONDS``' series for one route template, looked up once."""
    return REQUEST_SECONDS.labels(route)


class Answer:
    """A request's ``send`` that notes the status answered (500 until a response starts)
    and lets ``starting`` change the start message (its headers): what the middleware
    that log and count requests share."""

    def __init__(self, send: Send, starting: Callable[[Message], Message] | None = None) -> None:
        self._send = send
        self._starting = starting
        self.status = 500

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            if self._starting is not None:
                message = self._starting(message)
        await self._send(message)


class RequestMetrics:
    """ASGI middleware counting requests by method, route template and status.

    Plain ASGI rather than ``BaseHTTPMiddleware``: it adds a few microseconds, not a
    task per request, and it keeps the request's scope in a context variable so that
    ``observed_query`` can tell which route a query belongs to (the router writes
    the matched route into that same scope before calling the handler).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = _request.set(scope)
        answer = Answer(send)
        started = time.perf_counter()
        try:
            await self.app(scope, receive, answer.send)
        finally:
            route = route_template(scope)
            _requests(method_label(scope["method"]), route, answer.status).inc()
            _request_seconds(route).observe(time.perf_counter() - started)
            _request.reset(token)


def set_build_info(**values: Any) -> None:
    BUILD.info({key: str(value) for key, value in values.items()})
