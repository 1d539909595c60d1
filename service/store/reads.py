"""Queries the service itself asks (pages, canned queries), through the backend.

They take the same path as user queries, so they get the same deadline and never
run on the event loop.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import replace

from rdflib import Graph

from service.store.backend import Reader
from service.store.dialects import is_system_graph
from service.store.worker_tasks import QueryAnswer, Read

Construct = Callable[[str], Awaitable[Graph]]
"""Runs a CONSTRUCT and returns its graph (what the municipality's workbook is read with)."""
READ_AT_ONCE = 65_536
"""Answers up to this many bytes are read on the event loop (a millisecond or so); larger
ones on a thread, so no request waits while one is read (issue 16, the load test)."""


class Bounded(Reader):
    """``backend``'s reads, each marked as a lookup of the service's own that is cheap by
    construction (``Read.bounded``): a resource page's, anchored on its IRI or on the IRIs
    it shows; the front page's counts, read through indexes. A shape never seen is tried
    in the cheap lane, where its budget stops it if it was misjudged (and it is then
    learnt heavy); before, such a page queued for a general worker behind everyone's
    heavy queries, a dozen times, and was refused at any of those turns."""

    def __init__(self, backend: Reader) -> None:
        self.backend = backend

    async def read(self, request: Read) -> QueryAnswer:
        return await self.backend.read(replace(request, bounded=True))


async def select_terms(
    backend: Reader, query: str, timeout: float | None = None
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
    body = answer.body
    small = len(body) <= READ_AT_ONCE
    parsed = json.loads(body) if small else await asyncio.to_thread(json.loads, body)
    bindings: list[dict[str, dict[str, str]]] = parsed["results"]["bindings"]
    return bindings


async def select(backend: Reader, query: str, timeout: float | None = None) -> list[dict[str, str]]:
    """Run a SELECT and return each solution as {variable: value}; unbound are absent."""
    rows = await select_terms(backend, query, timeout)
    return [{name: term["value"] for name, term in row.items()} for row in rows]


_NAMED_GRAPHS = "SELECT DISTINCT ?g WHERE { GRAPH ?g {} } ORDER BY ?g"
_NAMED_GRAPHS_SCANNED = "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } } ORDER BY ?g"
"""For servers that answer ``GRAPH ?g {}`` with one row leaving ``?g`` unbound (Virtuoso 7)."""


async def named_graphs(backend: Reader) -> list[str]:
    """The names of the graphs that hold data, sorted; the server's own graphs left out.

    ``GRAPH ?g {}`` lists graph names without reading their triples where the server
    supports it (oxigraph); otherwise every quad is scanned once.
    """
    rows = await select(backend, _NAMED_GRAPHS)
    if any("g" not in row for row in rows):
        rows = await select(backend, _NAMED_GRAPHS_SCANNED)
    return [row["g"] for row in rows if "g" in row and not is_system_graph(row["g"])]


async def construct(backend: Reader, query: str, timeout: float | None = None) -> Graph:
    """Run a CONSTRUCT (or DESCRIBE) and return its triples."""
    answer = await backend.execute(
        query, solutions_media=None, graph_media="application/n-triples", timeout=timeout
    )
    if len(answer.body) <= READ_AT_ONCE:
        return Graph().parse(data=answer.body, format="nt")
    return await asyncio.to_thread(Graph().parse, data=answer.body, format="nt")


def constructor(backend: Reader, timeout: float | None = None) -> Construct:
    """``construct`` on ``backend``, for code that takes a ``Construct``."""

    async def run(query: str) -> Graph:
        return await construct(backend, query, timeout)

    return run
