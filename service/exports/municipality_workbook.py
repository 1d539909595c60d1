"""A municipality's current data as the template workbook, ready to edit and upload again.

Why: next year's update should start from this year's answers, not a blank sheet.
The workbook is the same template (``loaders.template``), with the municipality's
own rows filled in the way the loader reads them back, so that uploading it
unchanged changes nothing. The same code serves ``GET /template?kommune=NNNN`` and
``kommunegraf template --kommune NNNN``; only how the store is read differs.

The service keeps what a workbook needs per data generation of its store
(``data_generation``: a new one after every write): the stored catalogue's names,
indexed (``StoredNames``, the same for every municipality), and the last workbooks
made. A second download reads nothing again until the next write; the first after a
write reads and indexes the names once, however many ask at the same time.
"""

from __future__ import annotations

import asyncio
import io
import re
import weakref
from collections import Counter
from dataclasses import dataclass, field

from rdflib import Graph, URIRef

from loaders.template import (
    StoredNames,
    municipal_prefixes,
    stored_names,
    write_municipality_workbook,
)
from service.store.backend import Backend, data_generation
from service.store.names import stored_context_query
from service.store.reads import Construct, constructor
from service.store.sources import reference_context

XLSX_MEDIA = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

NUMBER = re.compile(r"\d{4}")
"""A kommunenummer: four digits (checked before it goes into a query)."""


def municipality_data_query(base_iri: str, number: str) -> str:
    """Every triple of the municipality's own resources and of their helper nodes."""
    if not NUMBER.fullmatch(number):
        raise ValueError(f"not a kommunenummer: {number!r}")
    pairs = " ".join(
        f'(<{cls}> "{prefix}")' for cls, prefix in municipal_prefixes(base_iri, number).items()
    )
    return f"""CONSTRUCT {{ ?s ?p ?o . ?o ?hp ?ho }} WHERE {{
      VALUES (?type ?prefix) {{ {pairs} }}
      ?s a ?type .
      FILTER(STRSTARTS(STR(?s), ?prefix))
      ?s ?p ?o .
      OPTIONAL {{
        ?o ?hp ?ho .
        FILTER(isIRI(?o) && STRSTARTS(STR(?o), CONCAT(STR(?s), "#")))
      }}
    }}"""


def known_municipality_query(number: str) -> str:
    if not NUMBER.fullmatch(number):
        raise ValueError(f"not a kommunenummer: {number!r}")
    return (
        "CONSTRUCT { ?m <https://w3id.org/kommunegraf/ontology#municipalityNumber> ?n } "
        "WHERE { ?m <https://w3id.org/kommunegraf/ontology#municipalityNumber> ?n "
        f'FILTER(STR(?n) = "{number}") }}'
    )


_HOLDS = URIRef("urn:kommunegraf:holds")


def _graphs_query(base_iri: str, number: str) -> str:
    """Which named graphs hold the municipality's rows (as triples, for ``Construct``)."""
    pairs = " ".join(
        f'(<{cls}> "{prefix}")' for cls, prefix in municipal_prefixes(base_iri, number).items()
    )
    return f"""CONSTRUCT {{ ?g <{_HOLDS}> ?s }} WHERE {{
      VALUES (?type ?prefix) {{ {pairs} }}
      GRAPH ?g {{ ?s a ?type }}
      FILTER(STRSTARTS(STR(?s), ?prefix))
    }}"""


def _others_query(base_iri: str, number: str, graph: str) -> str:
    """A record in ``graph`` that is not the municipality's (at most one)."""
    mine = " || ".join(
        f'STRSTARTS(STR(?s), "{prefix}")'
        for prefix in municipal_prefixes(base_iri, number).values()
    )
    return f"""CONSTRUCT {{ ?s a ?t }} WHERE {{
      GRAPH <{graph}> {{ ?s a ?t }}
      FILTER(isIRI(?s) && !STRSTARTS(STR(?s), "{graph}") && !STRSTARTS(STR(?s), "ni:")
             && !({mine}))
    }} LIMIT 1"""


async def file_name(construct: Construct, base_iri: str, number: str) -> str:
    """The workbook's file name: that of the graph holding most of the municipality's
    rows (``kommune-4203-arendal.xlsx`` for the demo's graph ``…/graph/source/kommune-4203-
    arendal``), so that uploading it again replaces that graph rather than adding a copy
    beside it; but never a graph that holds other municipalities' records too.

    Why not that one: an administrator's workbook of a whole region, sent back as one
    member's file, would replace the region's graph with the member's rows, and the other
    members' records would be gone. Named ``kommune-NNNN.xlsx`` it goes into a graph of its
    own and, unchanged, changes nothing. (A municipality's token may not take such a graph
    over at all: ``service.access.takeover``.)
    """
    found = await construct(_graphs_query(base_iri, number))
    holders = Counter(str(g) for g in found.subjects())
    for graph, _ in holders.most_common():
        if not len(await construct(_others_query(base_iri, number, graph))):
            return f"{graph.rstrip('/').rsplit('/', 1)[-1]}.xlsx"
    return f"kommune-{number}.xlsx"


async def municipality_workbook(
    construct: Construct, base_iri: str, number: str, names: StoredNames | None = None
) -> tuple[str, bytes]:
    """The file name (``file_name``) and xlsx bytes of municipality ``number``'s
    filled-in workbook. ``names``: the stored names already read and indexed (read here
    through ``construct`` when not given).
    """
    data = await construct(municipality_data_query(base_iri, number))
    name = await file_name(construct, base_iri, number)
    stored: Graph | StoredNames = (
        names if names is not None else await construct(stored_context_query(base_iri))
    )

    def build() -> bytes:
        output = io.BytesIO()
        write_municipality_workbook(
            output, number, data, stored, base_iri, reference_context(base_iri)
        )
        return output.getvalue()

    return name, await asyncio.to_thread(build)


_KEPT_WORKBOOKS = 16
"""Workbooks kept per generation (~100 kB each on the national demo)."""


@dataclass
class _Generation:
    """What the workbooks of one data generation share."""

    generation: str
    names: StoredNames
    workbooks: dict[str, tuple[str, bytes]] = field(default_factory=dict)


_CACHE: weakref.WeakKeyDictionary[Backend, _Generation] = weakref.WeakKeyDictionary()
_LOCKS: weakref.WeakKeyDictionary[Backend, asyncio.Lock] = weakref.WeakKeyDictionary()


async def _current(backend: Backend, base_iri: str) -> _Generation:
    """This generation's names, read and indexed by one request at a time.

    The generation is read before the names: a write in between gives names newer
    than their key, made again on the next request; never older ones kept as current.
    """
    generation = data_generation(backend)
    known = _CACHE.get(backend)
    if known is not None and known.generation == generation:
        return known
    async with _LOCKS.setdefault(backend, asyncio.Lock()):
        known = _CACHE.get(backend)
        if known is not None and known.generation == generation:
            return known
        answer = await backend.execute(
            stored_context_query(base_iri),
            solutions_media=None,
            graph_media="application/n-triples",
        )

        def index() -> StoredNames:  # 29,000 triples on the national demo: off the loop
            graph = Graph().parse(data=answer.body, format="nt")
            return stored_names(graph, reference_context(base_iri))

        known = _Generation(generation, await asyncio.to_thread(index))
        _CACHE[backend] = known
        return known


async def current_workbook(backend: Backend, base_iri: str, number: str) -> tuple[str, bytes]:
    """``municipality_workbook`` for the store's current data, kept until the next write."""
    current = await _current(backend, base_iri)
    made = current.workbooks.get(number)
    if made is None:
        made = await municipality_workbook(constructor(backend), base_iri, number, current.names)
        while len(current.workbooks) >= _KEPT_WORKBOOKS:
            del current.workbooks[next(iter(current.workbooks))]
        current.workbooks[number] = made
    return made
