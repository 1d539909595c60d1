"""Search by name (and by kommunenummer or organisasjonsnummer), and "did you mean".

The search text reaches the query only as a literal built by pyoxigraph, so quotes
or braces in it are data, never query syntax.
"""

from __future__ import annotations

import asyncio
import difflib
import json
import re
import weakref
from collections import Counter
from dataclasses import dataclass
from typing import Annotated

import pyoxigraph as ox
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from loaders.classes import searched
from loaders.mapping import slug
from service.pages.render import html_page, language
from service.pages.resource_views import KG, PROLOGUE, Names, iri_term, local_name
from service.store.backend import Backend, data_generation
from service.store.reads import select
from service.web.dependencies import BackendDep, SettingsDep

router = APIRouter(tags=["Pages"])


def searched_classes() -> list[str]:
    """What a search finds, in the order results are grouped (``kgsh:searchOrder``)."""
    return [c.name for c in searched()]


MAX_QUERY_LENGTH = 200
MAX_RESULTS = 200
LIST_LIMIT = 5000
"""Most instances of one class a listing shows (there are 357 municipalities)."""
_CLASS_NAME = re.compile(r"^[A-Z][A-Za-z]{0,60}$")


@dataclass(frozen=True)
class Hit:
    iri: str
    cls: str
    label: str


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


MAX_SUGGESTION_INPUT = 64
"""Characters of an unknown name compared (after ``slug``): enough to tell names apart,
and what bounds a suggestion's cost whatever a client sends."""
SHORTLIST = 48
"""Candidates sharing the most trigrams with the input that are scored with difflib."""
INDEX_SECONDS = 60.0
"""How long an index is kept when the backend has no snapshot to key it by (remote)."""


@dataclass(frozen=True)
class SuggestionIndex:
    """Every current name, with a trigram index over its keys; built once per snapshot.

    Keys are the slug of the label and the IRI's last segment, each cut to
    ``MAX_SUGGESTION_INPUT``. A lookup collects the candidates that share a trigram
    with the input, keeps the ``SHORTLIST`` that share the most, and scores only
    those: its cost is bounded by the number of names, never by the input's length
    (difflib against every label took 67 s for 8,000 characters).
    """

    hits: tuple[Hit, ...]
    keys: tuple[tuple[str, ...], ...]
    """Per hit: its keys."""
    trigrams: dict[str, tuple[int, ...]]
    """Trigram → the hits that have it in a key."""

    @classmethod
    def build(cls, rows: list[dict[str, str]]) -> SuggestionIndex:
        hits: dict[str, Hit] = {}
        keys: dict[str, set[str]] = {}
        for row in rows:
            hits.setdefault(row["x"], Hit(row["x"], row["class"], row["label"]))
            found = keys.setdefault(row["x"], set())
            for key in (slug(row["label"]), local_name(row["x"])):
                if key:
                    found.add(key[:MAX_SUGGESTION_INPUT])
        postings: dict[str, set[int]] = {}
        ordered = list(hits)
        for number, iri in enumerate(ordered):
            for key in keys[iri]:
                for gram in _trigrams(key):
                    postings.setdefault(gram, set()).add(number)
        return cls(
            tuple(hits[iri] for iri in ordered),
            tuple(tuple(sorted(keys[iri])) for iri in ordered),
            {gram: tuple(sorted(numbers)) for gram, numbers in postings.items()},
        )

    @classmethod
    def from_json(cls, body: bytes) -> SuggestionIndex:
        """``build`` from a SPARQL JSON answer of ``?x ?class ?label``."""
        bindings = json.loads(body)["results"]["bindings"]
        return cls.build([{name: term["value"] for name, term in b.items()} for b in bindings])

    def closest(self, wanted: str, limit: int) -> list[Hit]:
        """The hits whose name or IRI tail is most like ``wanted``.

        >>> index = SuggestionIndex.build([{"x": "http://x/id/kommune/4203",
        ...     "class": KG + "Municipality", "label": "Arendal"}])
        >>> [h.label for h in index.closest("arendall", 3)]
        ['Arendal']
        >>> [h.label for h in index.closest("4230", 3)]
        ['Arendal']
        >>> index.closest("x" * 100_000, 3)
        []
        """
        key = slug(wanted[: MAX_SUGGESTION_INPUT * 4])[:MAX_SUGGESTION_INPUT]
        if not key:
            return []
        shared: Counter[int] = Counter()
        for gram in _trigrams(key):
            shared.update(self.trigrams.get(gram, ()))
        scored: list[tuple[float, Hit]] = []
        for number, _ in shared.most_common(SHORTLIST):
            best = 0.0
            for candidate in self.keys[number]:
                ratio = difflib.SequenceMatcher(None, key, candidate).ratio()
                if key in candidate and len(key) >= 3:
                    ratio = max(ratio, 0.8)
                best = max(best, ratio)
            if best >= 0.6:
                scored.append((best, self.hits[number]))
        scored.sort(key=lambda pair: (-pair[0], pair[1].label))
        return [hit for _, hit in scored[:limit]]


def _trigrams(key: str) -> set[str]:
    """The trigrams of ``key`` padded at both ends, so short keys have some too.

    >>> sorted(_trigrams("ab"))
    ['$$a', '$ab', 'ab$', 'b$$']
    """
    padded = f"$${key}$$"
    return {padded[i : i + 3] for i in range(len(padded) - 2)}


_INDEXES: weakref.WeakKeyDictionary[Backend, tuple[str, SuggestionIndex]] = (
    weakref.WeakKeyDictionary()
)
_BUILDING: weakref.WeakKeyDictionary[Backend, asyncio.Lock] = weakref.WeakKeyDictionary()


def _generation(backend: Backend) -> str:
    """What the index of ``backend`` is valid for: its snapshot, or a time slot (remote)."""
    return data_generation(backend, INDEX_SECONDS)


async def suggestion_index(backend: Backend) -> SuggestionIndex:
    """The index for the backend's current data, built by one request at a time."""
    generation = _generation(backend)
    known = _INDEXES.get(backend)
    if known is not None and known[0] == generation:
        return known[1]
    lock = _BUILDING.setdefault(backend, asyncio.Lock())
    async with lock:
        known = _INDEXES.get(backend)
        if known is not None and known[0] == generation:
            return known[1]
        answer = await backend.execute(
            PROLOGUE + f"SELECT DISTINCT ?x ?class ?label WHERE {{ {_current_names()} }}",
            solutions_media="application/sparql-results+json",
            graph_media=None,
        )
        # Read and indexed together on a thread: 22,000 names on the national demo are
        # 5.8 MB of JSON, half a second of reading that on the event loop held every
        # request (issue 16, the load test's probe).
        index = await asyncio.to_thread(SuggestionIndex.from_json, answer.body)
        _INDEXES[backend] = (generation, index)
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
) -> HTMLResponse:
    text = q.strip()
    if klasse and not text:
        names = Names(settings.base_iri, language(request))
        if not _CLASS_NAME.match(klasse):
            return html_page(
                "search.html", request, status_code=400, q="", error=True, groups={}, names=names
            )
        hits = await members_of(backend, names, klasse)
        return html_page(
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
        return html_page(
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
    await names.fetch(backend, {h.iri for h in hits})
    return html_page(
        "search.html",
        request,
        q=text,
        groups=grouped(hits),
        close=close,
        error=False,
        names=names,
    )
