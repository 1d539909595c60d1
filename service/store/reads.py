"""Queries the service itself asks (pages, canned queries), through the backend.

They take the same path as user queries, so they get the same deadline and never
run on the event loop.
"""

from __future__ import annotations

import json

from service.store.backend import Backend


async def select_terms(
    backend: Backend, query: str, timeout: float | None = None
) -> list[dict[str, dict[str, str]]]:
    """Run a SELECT; each solution maps a variable to its SPARQL JSON term.

    For callers that must tell an IRI from a literal, or see a literal's language.
    """
    answer = await backend.execute(
        query,
        solutions_media="application/sparql-results+json",
        graph_media=None,
        timeout=timeout,
    )
    bindings: list[dict[str, dict[str, str]]] = json.loads(answer.body)["results"]["bindings"]
    return bindings


async def select(
    backend: Backend, query: str, timeout: float | None = None
) -> list[dict[str, str]]:
    """Run a SELECT and return each solution as {variable: value}; unbound are absent."""
    rows = await select_terms(backend, query, timeout)
    return [{name: term["value"] for name, term in row.items()} for row in rows]
