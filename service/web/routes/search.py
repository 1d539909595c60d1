"""Search by name (and by kommunenummer or organisasjonsnummer), and "did you mean".

The search text reaches the query only as a literal built by pyoxigraph, so quotes
or braces in it are data, never query syntax.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import weakref
from typing import Annotated

import pyoxigraph as ox
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse

from loaders.classes import searched
from service.errors import QueryTimeoutError, WorkerCrashedError
from service.pages.render import language, page
from service.pages.resource_views import KG, PROLOGUE, Names, iri_term
from service.pages.suggestions import Hit, SuggestionIndex, index_of_answer
from service.settings import Settings
from service.spawned import run_elsewhere
from service.store.backend import Backend, data_generation
from service.store.reads import Bounded, select
from service.web.dependencies import BackendDep, SettingsDep
from service.web.page_cache import cached_page

router = APIRouter(tags=["Pages"])
log = logging.getLogger(__name__)


def searched_classes() -> list[str]:
    """What a search finds, in the order results are grouped (``kgsh:searchOrder``)."""
    return [c.name for c in searched()]


MAX_QUERY_LENGTH = 200
MAX_RESULTS = 200
LIST_LIMIT = 5000
"""Most instances of one class a listing shows (there are 357 municipalities)."""
_CLASS_NAME = re.compile(r"^[A-Z][A-Za-z]{0,60}$")


def _class_values() -> str:
    return " ".join(f"kg:{name}" for name in searched_classes())


def _current_names() -> str:
    """The pattern every search starts from: current resources of a searched class, named."""
    return f"""VALUES ?class {{ {_class_values()} }}
          ?x a ?class ; rdfs:label ?label .
          FILTER NOT EXISTS {{ ?x dct:isReplacedBy ?successor }}"""


async def search(backend: Backend, text: str) -> list[Hit]:
    """Resources whose name contains ``text`` (any case), or whose number is ``text``."""
    needle = str(ox.Literal(text.casefold()))
    exact = str(ox.Literal(text.strip()))
    rows = await select(
        backend,
        PROLOGUE
        + f"""SELECT DISTINCT ?x ?class ?label WHERE {{
          {_current_names()}
          OPTIONAL {{ ?x kg:municipalityNumber|kg:organisationNumber|kg:countyNumber ?number
                     FILTER(STR(?number) = {exact}) }}
          FILTER(CONTAINS(LCASE(STR(?label)), {needle}) || BOUND(?number))
        }} LIMIT {MAX_RESULTS * 4}""",
    )
    return _ranked(rows, text)


def _ranked(rows: list[dict[str, str]], text: str) -> list[Hit]:
    """Exact names first, then names starting with the text, then the rest.

    >>> rows = [{"x": "a", "class": KG + "Municipality", "label": "Nord-Aurdal"},
    ...         {"x": "b", "class": KG + "Municipality", "label": "Aurland"}]
    >>> [h.label for h in _ranked(rows, "aur")]
    ['Aurland', 'Nord-Aurdal']
    """
    wanted = text.casefold().strip()
    order = {KG + name: i for i, name in enumerate(searched_classes())}
    best: dict[tuple[str, str], tuple[tuple[int, int, str], Hit]] = {}
    for row in rows:
        label = row["label"]
        folded = label.casefold()
        closeness = 0 if folded == wanted else 1 if folded.startswith(wanted) else 2
        key = (closeness, order.get(row["class"], 99), folded)
        hit = Hit(row["x"], row["class"], label)
        previous = best.get((row["x"], row["class"]))
        if previous is None or key < previous[0]:
            best[(row["x"], row["class"])] = (key, hit)
    return [hit for _, hit in sorted(best.values(), key=lambda pair: pair[0])][:MAX_RESULTS]


INDEX_SECONDS = 60.0
"""How long an index is kept when the backend has no snapshot to key it by (remote)."""
BUILD_TIMEOUT = 120.0
"""Deadline of an index build in its own process (seconds of CPU on a busy machine)."""

_INDEXES: weakref.WeakKeyDictionary[Backend, tuple[str, SuggestionIndex]] = (
    weakref.WeakKeyDictionary()
)
_BUILDING: weakref.WeakKeyDictionary[Backend, asyncio.Lock] = weakref.WeakKeyDictionary()


def _generation(backend: Backend) -> str:
    """What the index of ``backend`` is valid for: its snapshot, or a time slot (remote)."""
    return data_generation(backend, INDEX_SECONDS)


async def suggestion_index(backend: Backend) -> SuggestionIndex:
    """The index for the backend's current data, built by one request at a time.

    The names are read by a query (in a worker), the index is built from the answer in
    a process of its own (``service.pages.suggestions``), and the result replaces the
    index of the older data in one assignment: a lookup sees the old index or the new,
    and the server process pays only for reading the result (about 10 ms on a thread).
    """
    generation = _generation(backend)
    known = _INDEXES.get(backend)
    if known is not None and known[0] == generation:
        return known[1]
    lock = _BUILDING.setdefault(backend, asyncio.Lock())
    async with lock:
        known = _INDEXES.get(backend)
        if known is not None and known[0] == generation:
            return known[1]
        started = time.perf_counter()
        answer = await backend.execute(
            PROLOGUE + f"SELECT DISTINCT ?x ?class ?label WHERE {{ {_current_names()} }}",
            solutions_media="application/sparql-results+json",
            graph_media=None,
        )
        try:
            index = await run_elsewhere(
                index_of_answer, (answer.body,), BUILD_TIMEOUT, "suggestion index"
            )
        except TimeoutError:
            raise QueryTimeoutError(BUILD_TIMEOUT) from None
        except RuntimeError as error:
            raise WorkerCrashedError(str(error)) from None
        assert isinstance(index, SuggestionIndex)
        _INDEXES[backend] = (generation, index)
        log.info(
            "forslagsindeksen er bygget / suggestion index built",
            extra={
                "names": len(index.iris),
                "seconds": round(time.perf_counter() - started, 2),
                "build_cpu_seconds": round(index.build_cpu, 2),
            },
        )
        return index


async def suggestions(backend: Backend, wanted: str, limit: int = 8) -> list[Hit]:
    """Names close to ``wanted`` (a mistyped name or the tail of an unknown IRI)."""
    index = await suggestion_index(backend)
    return await asyncio.to_thread(index.closest, wanted, limit)


async def members_of(backend: Backend, names: Names, cls: str) -> list[Hit]:
    """Every current instance of one of the ontology's classes, by label (for browsing)."""
    rows = await select(
        backend,
        PROLOGUE
        + f"""SELECT DISTINCT ?x WHERE {{
          ?x a {iri_term(KG + cls)} .
          FILTER NOT EXISTS {{ ?x dct:isReplacedBy ?successor }}
        }} LIMIT {LIST_LIMIT}""",
    )
    await names.fetch(backend, {row["x"] for row in rows})
    hits = [Hit(row["x"], KG + cls, names.label(row["x"])) for row in rows]
    return sorted(hits, key=lambda hit: (hit.label.casefold(), hit.iri))


def grouped(hits: list[Hit]) -> dict[str, list[Hit]]:
    groups: dict[str, list[Hit]] = {}
    for hit in hits:
        groups.setdefault(hit.cls, []).append(hit)
    return groups


@router.get("/sok", response_class=HTMLResponse, summary="Søk / Search")
async def search_page(
    request: Request,
    backend: BackendDep,
    settings: SettingsDep,
    q: Annotated[str, Query(description="Navn eller nummer / Name or number")] = "",
    klasse: Annotated[
        str, Query(description="List alle i en klasse (f.eks. Region) / List a class")
    ] = "",
) -> Response:
    # A search reads every name in the graph (seconds): each one once per change of the data.
    return await cached_page(
        request, backend, lambda: _search_page(request, backend, settings, q, klasse)
    )


async def _search_page(
    request: Request, backend: Backend, settings: Settings, q: str, klasse: str
) -> HTMLResponse:
    text = q.strip()
    if klasse and not text:
        names = Names(settings.base_iri, language(request))
        if not _CLASS_NAME.match(klasse):
            return await page(
                "search.html", request, status_code=400, q="", error=True, groups={}, names=names
            )
        hits = await members_of(backend, names, klasse)
        return await page(
            "search.html",
            request,
            q="",
            listing=KG + klasse,
            groups=grouped(hits),
            close=False,
            error=False,
            names=names,
        )
    if len(text) > MAX_QUERY_LENGTH:
        return await page(
            "search.html",
            request,
            status_code=400,
            q=text[:MAX_QUERY_LENGTH],
            error=True,
            groups={},
            names=Names(settings.base_iri, language(request)),
        )
    hits = await search(backend, text) if text else []
    if text and not hits:
        hits = await suggestions(backend, text)
        close = True
    else:
        close = False
    names = Names(settings.base_iri, language(request))
    await names.fetch(Bounded(backend), {h.iri for h in hits})
    return await page(
        "search.html",
        request,
        q=text,
        groups=grouped(hits),
        close=close,
        error=False,
        names=names,
    )
