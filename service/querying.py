"""Queries the service itself asks (pages, canned queries), through the worker pool.

They take the same path as user queries, so they get the same deadline and never
run on the event loop.
"""

from __future__ import annotations

import json

from service.query_pool import QueryPool, QueryRequest
from service.settings import Settings
from service.store import KnowledgeStore


async def select(
    pool: QueryPool,
    store: KnowledgeStore,
    settings: Settings,
    query: str,
    timeout: float | None = None,
) -> list[dict[str, str]]:
    """Run a SELECT and return each solution as {variable: value}; unbound are absent."""
    request = QueryRequest(
        query=query,
        snapshot=store.snapshot,
        solutions_media="application/sparql-results+json",
        graph_media=None,
        base_iri=settings.base_iri,
    )
    answer = await pool.execute(request, timeout or settings.query_timeout)
    bindings = json.loads(answer.body)["results"]["bindings"]
    return [{name: term["value"] for name, term in row.items()} for row in bindings]
