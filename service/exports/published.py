"""The published catalogues: built once per change of the data, then served from memory.

Why: reading and mapping every municipality's datasets takes tens of seconds on the
national data (five CONSTRUCTs, an rdflib parse, the mapping), far beyond what a harvester
should wait; the data change only when someone writes. So the catalogues (every
municipality's, the national one, their quality scores) are built once per store
snapshot (``data_generation``: a new one after every write; a time slot on a remote
store), by a watcher that starts a build as soon as the data change, and requests are
answered from the result: bytes rendered once per format, with an ``ETag`` (a digest of
the bytes) and ``Last-Modified`` (when those bytes last changed, carried over from build
to build), so a harvester's daily visit costs a 304.

A request that arrives before the build for the current data is done waits for it. A
build that fails is an error the request reports (503), never an empty catalogue.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import Counter
from dataclasses import dataclass, field

import pyoxigraph as ox
from rdflib import URIRef
from rdflib.namespace import DCTERMS, RDF

from loaders.namespaces import KG
from service.exports.dcat import build_catalogue_parts, label
from service.exports.extract import Source, read_datasets
from service.exports.output import MEDIA_FORMATS, serialize_triples, triples
from service.exports.quality import DatasetQuality, assess
from service.settings import Settings
from service.store.backend import Backend, data_generation

log = logging.getLogger(__name__)

BUILD_TIMEOUT = 300.0
"""Deadline of each query of a build: the national CONSTRUCTs take seconds on a busy machine,
well past a request's default deadline, and they run in killable worker processes."""
WATCH_SECONDS = 1.0
RETRY_SECONDS = 10.0
"""After a failed build, requests get the same error for this long before a new attempt."""
SLOT_SECONDS = 300.0
"""On a remote store (which others may write to), the catalogues are rebuilt this often."""
NATIONAL = ""
"""The key of the national catalogue among the per-municipality ones."""


@dataclass(frozen=True)
class Rendered:
    body: bytes
    etag: str
    last_modified: float


@dataclass
class Catalogues:
    """Everything published for one generation of the data."""

    generation: str
    source: Source
    parts: dict[str, list[ox.Triple]]
    """Each municipality's catalogue (by kommunenummer; empty ones included), and the
    national one under ``NATIONAL``."""
    published: dict[str, int]
    """Number of datasets in each municipality's catalogue."""
    quality: list[DatasetQuality]
    changed: dict[str, float]
    digests: dict[str, str]
    rendered: dict[tuple[str, str], Rendered] = field(default_factory=dict)

    def render(self, key: str, media: str) -> Rendered:
        """The catalogue ``key`` in ``media``, rendered once."""
        found = self.rendered.get((key, media))
        if found is None:
            body = serialize_triples(self.parts[key], media)
            digest = hashlib.sha256(body).hexdigest()[:32]
            found = Rendered(body, f'"{digest}"', self.changed[key])
            self.rendered[(key, media)] = found
        return found

    def quality_of(self, kommune: str) -> list[DatasetQuality]:
        return [q for q in self.quality if q.kommune == kommune]


def assemble(
    source: Source, base_iri: str, generation: str, previous: Catalogues | None
) -> Catalogues:
    """Map, combine and render the catalogues of ``source`` (CPU work, off the event loop)."""
    graphs = build_catalogue_parts(source.graph, source.blockers, base_iri, keep_empty=True)
    parts = {number: triples(graph) for number, graph in graphs.items()}
    published = {
        number: sum(1 for t in found if t.predicate.value == "http://www.w3.org/ns/dcat#dataset")
        for number, found in parts.items()
    }
    national = list(
        dict.fromkeys(t for number, found in parts.items() if published[number] for t in found)
    )
    parts[NATIONAL] = national
    now = time.time()
    digests, changed = {}, {}
    for key, found in parts.items():
        digest = hashlib.sha256(
            "\n".join(sorted(str(t) for t in found)).encode("utf-8")
        ).hexdigest()
        digests[key] = digest
        unchanged = previous is not None and previous.digests.get(key) == digest
        changed[key] = previous.changed[key] if previous is not None and unchanged else now
    blocked = {b.dataset for b in source.blockers}
    catalogues = Catalogues(
        generation, source, parts, published, assess(source.graph, blocked), changed, digests
    )
    catalogues.render(NATIONAL, "text/turtle")  # what harvesters ask for
    return catalogues


class PublishedCatalogues:
    """The current ``Catalogues`` of one backend, and the watcher that keeps them current."""

    def __init__(self, backend: Backend, settings: Settings) -> None:
        self.backend = backend
        self.settings = settings
        self.current: Catalogues | None = None
        self._task: asyncio.Task[Catalogues] | None = None
        self._failure: tuple[str, float, BaseException] | None = None

    async def _build(self, generation: str) -> Catalogues:
        started = time.perf_counter()
        source = await read_datasets(
            self.backend, None, self.settings.base_iri, timeout=BUILD_TIMEOUT
        )
        built = await asyncio.to_thread(
            assemble, source, self.settings.base_iri, generation, self.current
        )
        self.current = built
        log.info(
            "katalogen er bygget / catalogue built",
            extra={"seconds": round(time.perf_counter() - started, 2)},
        )
        return built

    def _start(self, generation: str) -> asyncio.Task[Catalogues]:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._build(generation))
            self._task.add_done_callback(lambda task: self._done(generation, task))
        return self._task

    def _done(self, generation: str, task: asyncio.Task[Catalogues]) -> None:
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            self._failure = (generation, time.monotonic(), error)
            log.warning("katalogen kunne ikke bygges / catalogue build failed: %s", error)

    async def get(self) -> Catalogues:
        """The catalogues of the current data; raises what made the build fail."""
        for _ in range(3):
            generation = data_generation(self.backend, SLOT_SECONDS)
            if self.current is not None and self.current.generation == generation:
                return self.current
            failure = self._failure
            if (
                failure is not None
                and failure[0] == generation
                and time.monotonic() - failure[1] < RETRY_SECONDS
            ):
                raise failure[2]
            await asyncio.shield(self._start(generation))
        assert self.current is not None  # writes kept coming: serve the newest built
        return self.current

    async def watch(self) -> None:
        """Build as soon as the data change, so requests find the catalogues ready."""
        while True:
            generation = data_generation(self.backend, SLOT_SECONDS)
            idle = self._task is None or self._task.done()
            stale = self.current is None or self.current.generation != generation
            failure = self._failure
            failed = (
                failure is not None
                and failure[0] == generation
                and time.monotonic() - failure[1] < RETRY_SECONDS
            )
            if idle and stale and not failed:
                self._start(generation)
            await asyncio.sleep(WATCH_SECONDS)


MEDIA = tuple(MEDIA_FORMATS)


@dataclass(frozen=True)
class Summary:
    """One municipality on the overview page."""

    kommunenummer: str
    name: str
    published: int
    left_out: int
    organisation_number: str | None
    score: int
    """The average metadata-quality score of its datasets."""


def municipality_summaries(catalogues: Catalogues) -> list[Summary]:
    """Per municipality: datasets published and left out, and the average quality score."""
    source = catalogues.source
    blocked = {b.dataset for b in source.blockers}
    published: Counter[str] = Counter()
    left_out: Counter[str] = Counter()
    for dataset in source.graph.subjects(RDF.type, KG.Dataset):
        kommune = str(source.graph.value(dataset, DCTERMS.publisher))
        (left_out if str(dataset) in blocked else published)[kommune] += 1
    scores: dict[str, list[DatasetQuality]] = {}
    for quality in catalogues.quality:
        scores.setdefault(quality.kommune, []).append(quality)
    summaries = []
    for kommune in set(published) | set(left_out):
        node = URIRef(kommune)
        number = source.graph.value(node, KG.municipalityNumber)
        if number is None:
            continue
        orgnr = source.graph.value(node, KG.organisationNumber)
        rated = scores.get(kommune, [])
        summaries.append(
            Summary(
                str(number),
                label(source.graph, node) or str(number),
                published[kommune],
                left_out[kommune],
                None if orgnr is None else str(orgnr),
                round(sum(q.total for q in rated) / len(rated)) if rated else 0,
            )
        )
    return sorted(summaries, key=lambda s: s.kommunenummer)
