"""Query workers with their snapshot in memory (``query_store = "memory"``): a write is
seen by the next query, no query sees half of one, and a killed worker is replaced.

A real pool over a real store (no HTTP: the pool is what changed), with a small graph
so that each copy takes milliseconds; a worker spawn is the cost (about a second).
"""

from __future__ import annotations

import asyncio
import json
import math

import pytest

from service.errors import QueryTimeoutError
from service.store.embedded import KnowledgeStore
from service.store.worker_tasks import QueryRequest, UpdateRehearsal
from service.store.workers import QueryPool

GRAPH = "urn:x:g"
TRIPLES = 200
COUNT = f"SELECT ?v (COUNT(*) AS ?n) WHERE {{ GRAPH <{GRAPH}> {{ ?s <urn:x:p> ?v }} }} GROUP BY ?v"
RUNAWAY = "SELECT (COUNT(*) AS ?c) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"


def _generation(label: str) -> bytes:
    return "".join(f'<urn:x:{n}> <urn:x:p> "{label}" .\n' for n in range(TRIPLES)).encode()


async def _counts(
    pool: QueryPool, store: KnowledgeStore, query: str = COUNT, timeout: float = 60
) -> dict[str, int]:
    request = QueryRequest(query, store.snapshot, "application/sparql-results+json", None)
    answer = await pool.execute(request, timeout)
    rows = json.loads(answer.body)["results"]["bindings"]
    return {row["v"]["value"]: int(row["n"]["value"]) for row in rows}


async def _until_in_memory(pool: QueryPool, store: KnowledgeStore, label: str) -> None:
    """Query until the worker answers from its copy; every answer must be ``label``'s whole."""
    for _ in range(600):
        assert await _counts(pool, store) == {label: TRIPLES}
        if pool.in_memory() == pool.size:
            return
        await asyncio.sleep(0.02)  # (the store is tiny: a few queries pay for its copy)
    pytest.fail("the worker never answered from memory")


async def _writes_and_reads() -> None:
    store = KnowledgeStore(None)
    store.replace_graph_ntriples(GRAPH, _generation("g0"))
    pool = QueryPool(1, reserved=0, memory_share=math.inf)
    await pool.start()
    try:
        await _until_in_memory(pool, store, "g0")
        for generation in ("g1", "g2"):
            store.replace_graph_ntriples(GRAPH, _generation(generation))
            # The first query after the write: the new snapshot is not copied yet (the
            # copy is begun after it), so it is answered from disk, and sees the write
            # whole; then the copy answers.
            assert await _counts(pool, store) == {generation: TRIPLES}
            # The old snapshot's copy is freed once that query is answered, not before it
            # (a second with the GIL held for the national demo), the worker out of use
            # meanwhile; then it answers again.
            assert pool._freeing and pool.admission.replacing == 1
            await _until_in_memory(pool, store, generation)
            assert not pool._freeing and pool.admission.replacing == 0
        # A rehearsal runs on the snapshot on disk (read-only), never on the copy,
        # which would take the update.
        rehearsal = UpdateRehearsal(
            f'INSERT DATA {{ GRAPH <{GRAPH}> {{ <urn:x:a> <urn:x:p> "g2" }} }}',
            store.snapshot,
            evaluate=False,
        )
        await pool.rehearse(rehearsal, 60)
        assert await _counts(pool, store) == {"g2": TRIPLES}
        # A query past its deadline kills the worker; its replacement answers, from
        # memory again once it has copied the snapshot.
        with pytest.raises(QueryTimeoutError):
            await _counts(pool, store, RUNAWAY, timeout=0.5)
        await _until_in_memory(pool, store, "g2")
        assert pool.alive() == 1
    finally:
        pool.close()
        store.close()


def test_in_memory_workers_see_each_write_whole_and_are_replaced_when_killed() -> None:
    asyncio.run(_writes_and_reads())
