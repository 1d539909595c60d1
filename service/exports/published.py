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
import pickle
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pyoxigraph as ox
from rdflib import Graph, URIRef
from rdflib.namespace import DCTERMS, RDF, RDFS

from loaders.namespaces import KG
from service.exports.dcat import build_catalogue_parts, label
from service.exports.extract import Blocker, Source, read_dataset_texts
from service.exports.output import MEDIA_FORMATS, serialize_triples, triples
from service.exports.quality import DatasetQuality, assess
from service.settings import Settings
from service.spawned import Pieces, ProcessStoppedError, run_elsewhere, yield_to_the_loop
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


class Parts(Mapping[str, list[ox.Triple]]):
    """Each catalogue's triples, kept as N-Triples and read (by oxigraph) when asked for.

    Why: pickled as ``ox.Triple`` objects the national catalogues were 34 MB and six
    seconds of the server process's interpreter to bring over from the build process;
    as bytes they cost nothing there until a request reads one."""

    def __init__(self, texts: dict[str, bytes]) -> None:
        self.texts = texts
        self._read: dict[str, list[ox.Triple]] = {}

    @classmethod
    def of(cls, parts: dict[str, list[ox.Triple]]) -> Parts:
        return cls(
            {
                key: ox.serialize(found, format=ox.RdfFormat.N_TRIPLES) or b""
                for key, found in parts.items()
            }
        )

    def __getitem__(self, key: str) -> list[ox.Triple]:
        found = self._read.get(key)
        if found is None:
            found = list(ox.parse(self.texts[key], format=ox.RdfFormat.N_TRIPLES))
            self._read[key] = found
        return found

    def __iter__(self) -> Iterator[str]:
        return iter(self.texts)

    def __len__(self) -> int:
        return len(self.texts)

    def __contains__(self, key: object) -> bool:
        return key in self.texts

    def __getstate__(self) -> dict[str, bytes]:
        return self.texts

    def __setstate__(self, texts: dict[str, bytes]) -> None:
        self.texts = texts
        self._read = {}


@dataclass
class Catalogues:
    """Everything published for one generation of the data."""

    generation: str
    source: Source
    parts: Mapping[str, list[ox.Triple]]
    """Each municipality's catalogue (by kommunenummer; empty ones included), and the
    national one under ``NATIONAL``."""
    published: dict[str, int]
    """Number of datasets in each municipality's catalogue."""
    quality: list[DatasetQuality]
    changed: dict[str, float]
    digests: dict[str, str]
    rendered: dict[tuple[str, str], Rendered] = field(default_factory=dict)
    build_cpu: float = 0.0
    """CPU seconds the build process used (logged: what the server process no longer pays)."""
    kept_quality: dict[str, bytes] = field(default_factory=dict)
    """Each municipality's quality records (by its IRI), pickled, read when a page asks;
    ``quality`` is then empty. Why: as objects, the national records were 60,000 objects
    more that every full garbage collection of the server process walked."""
    summaries: list[Summary] | None = None
    """``municipality_summaries``, made by the build process."""

    def render(self, key: str, media: str) -> Rendered:
        """The catalogue ``key`` in ``media``, rendered once."""
        found = self.rendered.get((key, media))
        if found is None:
            body = serialize_triples(self.parts[key], media)
            # From the triples, not the bytes: each build runs in a fresh process, where
            # a serialiser may order the same triples differently; a harvester's 304
            # must follow the content.
            tag = hashlib.sha256(f"{self.digests[key]} {media}".encode()).hexdigest()[:32]
            found = Rendered(body, f'"{tag}"', self.changed[key])
            self.rendered[(key, media)] = found
        return found

    def quality_of(self, kommune: str) -> list[DatasetQuality]:
        kept = self.kept_quality.get(kommune)
        if kept is not None:
            found: list[DatasetQuality] = pickle.loads(kept)  # noqa: S301 - from our build
            return found
        return [q for q in self.quality if q.kommune == kommune]


@dataclass(frozen=True)
class Earlier:
    """What a build carries over from the catalogues before it (``Last-Modified``)."""

    digests: dict[str, str]
    changed: dict[str, float]


def assemble(
    source: Source, base_iri: str, generation: str, previous: Earlier | None
) -> Catalogues:
    """Map, combine and render the catalogues of ``source`` (CPU work, in a build process)."""
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


SERVED = (RDFS.label, KG.organisationNumber, KG.municipalityNumber, DCTERMS.isReplacedBy)
"""What the catalogue routes read from the source graph, beside the classes of
municipalities and datasets and a dataset's publisher (``served_source``)."""


def served_source(graph: Graph) -> Graph:
    """The part of ``graph`` the routes read: names, numbers and successors of
    municipalities, and each dataset's name and publisher. Why: the whole graph (about
    54,000 triples for the national demo) cost the server process seconds of interpreter
    time to bring over from the build process; this part is a fraction of it."""
    kept = Graph()
    subjects = {s for s in graph.subjects(RDF.type, KG.Municipality)} | {
        s for s in graph.subjects(RDF.type, KG.Dataset)
    }
    for subject in subjects:
        for predicate, value in graph.predicate_objects(subject):
            if (
                predicate in SERVED
                or (predicate == RDF.type and value in (KG.Municipality, KG.Dataset))
                or (predicate == DCTERMS.publisher)
            ):
                kept.add((subject, predicate, value))
    return kept


PIECE = 100
"""The source's triples in each piece the server reads from a build process
(``service.spawned.Pieces``): a few milliseconds of reading each (rdflib checks every
term it makes)."""


def build_in_process(
    bodies: list[bytes],
    blockers: list[Blocker],
    base_iri: str,
    generation: str,
    previous: Earlier | None,
) -> Pieces:
    """Parse, map, score and render, in a process of its own (``build_elsewhere``).

    Why: in the server process this was about 10 s of rdflib parsing on the event loop
    itself and a minute or more of mapping on a thread holding the interpreter lock, after
    every write; every request (a one-row query too) waited behind it (issue 16, the load
    test's probe: up to 37.6 s). What goes back costs the server little to read and to
    keep: the overview's summaries made here, each municipality's quality records as
    bytes, and the part of the source the routes read in pieces (read in one piece, the
    result held the server's interpreter lock for a second).
    """
    graph = Graph()
    for body in bodies:
        graph.parse(data=body, format="nt")
    built = assemble(Source(graph, blockers), base_iri, generation, previous)
    built.parts = Parts.of(dict(built.parts))
    built.summaries = municipality_summaries(built)
    by_kommune: dict[str, list[DatasetQuality]] = {}
    for record in built.quality:
        by_kommune.setdefault(record.kommune, []).append(record)
    built.kept_quality = {
        kommune: pickle.dumps(records, protocol=pickle.HIGHEST_PROTOCOL)
        for kommune, records in by_kommune.items()
    }
    built.quality = []
    served = list(served_source(graph))
    built.source = Source(Graph(), blockers)
    built.build_cpu = time.process_time()
    return Pieces((built, *(tuple(served[at : at + PIECE]) for at in range(0, len(served), PIECE))))


def _assembled(pieces: Pieces) -> Catalogues:
    """The catalogues from ``build_in_process``'s pieces (on a thread: Python code, which
    lets the event loop have the interpreter lock every few milliseconds)."""
    built, *rest = pieces.items
    assert isinstance(built, Catalogues)
    for piece in rest:
        assert isinstance(piece, tuple)
        for triple in piece:
            built.source.graph.add(triple)
        yield_to_the_loop()
    return built


async def build_elsewhere(arguments: tuple[Any, ...], timeout: float) -> Catalogues:
    """``build_in_process`` in a fresh spawned process, killed at ``timeout``.

    Only reading the result (mostly bytes: N-Triples and rendered text, and the small
    part of the source the routes read) costs the server process's interpreter, in
    pieces on a thread, never the event loop."""
    pieces = await run_elsewhere(build_in_process, arguments, timeout, "catalogue build")
    assert isinstance(pieces, Pieces)
    return await asyncio.to_thread(_assembled, pieces)


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
        bodies, blockers = await read_dataset_texts(
            self.backend, None, self.settings.base_iri, timeout=BUILD_TIMEOUT
        )
        previous = self.current
        earlier = None if previous is None else Earlier(previous.digests, previous.changed)
        built = await build_elsewhere(
            (bodies, blockers, self.settings.base_iri, generation, earlier), BUILD_TIMEOUT
        )
        self.current = built
        log.info(
            "katalogen er bygget / catalogue built",
            extra={
                "seconds": round(time.perf_counter() - started, 2),
                "build_cpu_seconds": round(built.build_cpu, 2),
            },
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
        if isinstance(error, ProcessStoppedError):
            # Not a failure to report or to wait out: if the service is not stopping
            # after all, the watcher builds again.
            log.info("katalogbyggingen ble stoppet / catalogue build stopped")
        elif error is not None:
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

    async def stop(self) -> None:
        """Cancel a build in progress (its process is killed), before the store closes.

        Why: a build still reading when the store closed found its workers gone, and an
        orderly stop logged a failed build."""
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=10)

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
    if catalogues.summaries is not None:
        return list(catalogues.summaries)
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
