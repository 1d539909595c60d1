"""``/metrics``: every series of ``service.metrics`` in the Prometheus text format.

The store's size is measured when scraped, by one query through the backend (in a
worker process, never on the event loop), so the numbers are those of the newest
published snapshot; on the embedded store it is counted again only when a write has
published a new snapshot, so scraping national data stays cheap. If that query
fails, the size keeps its last value and the other series are still served: a slow
store must not hide the metrics that would show why.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request, Response

from service.errors import ServiceError, attempt
from service.metrics import (
    CONTENT_TYPE,
    QUERIES_REFUSED,
    QUERIES_WAITING,
    QUERY_WORKERS,
    QUERY_WORKERS_CHECKS_WARM,
    QUERY_WORKERS_IN_MEMORY,
    STORE_GRAPHS,
    STORE_TRIPLES,
    exposition,
)
from service.store.backend import Backend, EmbeddedBackend
from service.store.reads import select

router = APIRouter(tags=["Drift / Operations"])
# The logger keeps the name log collectors already filter on (the module moved).
log = logging.getLogger("service.routes.metrics")

SIZE_QUERY = """SELECT ?triples ?graphs WHERE {
  { SELECT (COUNT(*) AS ?triples) WHERE { GRAPH ?g { ?s ?p ?o } } }
  { SELECT (COUNT(?h) AS ?graphs) WHERE { GRAPH ?h { } } }
}"""


_measured: dict[str, str] = {}
"""The embedded store's snapshot whose size the gauges show: unchanged data is not recounted."""


async def _measure_store(backend: Backend) -> None:
    snapshot = backend.store.snapshot if isinstance(backend, EmbeddedBackend) else None
    if snapshot is not None and _measured.get("snapshot") == snapshot:
        return
    try:
        rows = await attempt(select(backend, SIZE_QUERY))
    except (RuntimeError, OSError) as error:  # the workers are stopping
        rows = ServiceError(503, "", "", str(error))
    if isinstance(rows, ServiceError):
        log.warning("lagerstørrelse ikke målt / store size not measured: %s", rows)
        return
    if rows:
        STORE_TRIPLES.set(int(rows[0].get("triples", 0)))
        STORE_GRAPHS.set(int(rows[0].get("graphs", 0)))
    if snapshot is not None:
        _measured["snapshot"] = snapshot


@router.get(
    "/metrics",
    summary="Måltall for Prometheus / Prometheus metrics",
    response_class=Response,
)
async def metrics(request: Request) -> Response:
    backend: Backend | None = getattr(request.app.state, "backend", None)
    if backend is not None:
        await _measure_store(backend)
        if isinstance(backend, EmbeddedBackend):
            QUERY_WORKERS.set(backend.pool.alive())
            QUERY_WORKERS_IN_MEMORY.set(backend.pool.in_memory())
            QUERY_WORKERS_CHECKS_WARM.set(backend.pool.checks_warm())
            admission = backend.pool.admission
            QUERIES_WAITING.labels("cheap").set(admission.waiting(cheap=True))
            QUERIES_WAITING.labels("general").set(admission.waiting(cheap=False))
            QUERIES_REFUSED.set(admission.refused)
    return Response(exposition(), media_type=CONTENT_TYPE)
