"""Reading a store a test built, in this process, the way the service reads it.

For unit tests of what reads the store (exports, catalogues, the ArchiMate model)
without worker processes: ``InProcess`` is a ``Backend`` for reading whose queries run
through ``service.store.worker_tasks.run_query``, the function the workers run, on the
store's published snapshot (or a read-only store), so a test reads what the service
would answer. It cannot write.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import pyoxigraph as ox
from rdflib import Graph

from service.exports.extract import Source, read_datasets, read_services
from service.store.backend import Reader
from service.store.embedded import KnowledgeStore
from service.store.reads import select
from service.store.worker_tasks import QueryAnswer, Read, run_query

T = TypeVar("T")


class InProcess(Reader):
    """Reads ``store`` (its newest published snapshot) with ``run_query``."""

    def __init__(self, store: KnowledgeStore | ox.Store, base_iri: str) -> None:
        self.store = store if isinstance(store, ox.Store) else ox.Store.read_only(store.snapshot)
        self.base_iri = base_iri

    async def read(self, read: Read) -> QueryAnswer:
        return run_query(self.store, read.for_worker("", self.base_iri))


def reading(
    store: KnowledgeStore | ox.Store,
    base_iri: str,
    read: Callable[[InProcess], Coroutine[Any, Any, T]],
) -> T:
    """``read`` on ``store``, run to its end."""
    return asyncio.run(read(InProcess(store, base_iri)))


def rows(store: KnowledgeStore | ox.Store, query: str, base_iri: str) -> list[dict[str, str]]:
    """A SELECT's solutions as {variable: value}, as ``service.store.reads.select`` gives them."""
    return reading(store, base_iri, lambda backend: select(backend, query))


def datasets(store: KnowledgeStore, kommunenummer: str | None, base_iri: str) -> Source:
    """What the DCAT export reads (``read_datasets``)."""
    return reading(
        store,
        base_iri,
        lambda backend: read_datasets(backend, kommunenummer, base_iri),
    )


def services(store: KnowledgeStore, kommunenummer: str | None, base_iri: str) -> Graph:
    """What the CPSV export reads (``read_services``)."""
    return reading(
        store,
        base_iri,
        lambda backend: read_services(backend, kommunenummer, base_iri),
    )
