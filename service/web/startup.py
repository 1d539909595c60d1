"""First start: fill an empty store in the background while the port is already open.

Why: loading the national demo takes a while, and a service that only opens its
port afterwards is refused by browsers and killed by an orchestrator's liveness
probe meanwhile. So the port opens at once, ``/health/live`` answers, and
``/health/ready`` and every page answer 503 with how far the load has come until
it is done (``gate``). The load writes under one deferred snapshot, so queries
never see a half-loaded store; a marker graph written first and dropped last
tells the next start that a load was interrupted (killed, power cut), and that
start empties the store and loads again instead of serving a partial one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import RDFS
from starlette.types import ASGIApp, Receive, Scope, Send

from loaders.engines import Engine
from service.access.audit import (
    AuditEvent,
    AuditLog,
    Auditor,
    new_event,
)
from service.access.scope import Principal
from service.settings import Settings
from service.store import demo_cache
from service.store.backend import Backend
from service.store.demo_load import load_demo
from service.store.embedded import KnowledgeStore
from service.store.sources import load_reference

log = logging.getLogger("kommunegraf")

STEPS = {
    "starting": ("starter", "starting"),
    "reference": ("laster referansedata", "loading the reference data"),
    "cached": (
        "laster demodataene fra forrige kontrollerte kopi",
        "loading the demo data from the copy checked before",
    ),
    "checking": ("kontrollerer demodata", "checking the demo workbooks"),
    "writing": ("skriver til lageret", "writing to the store"),
    "ready": ("klar", "ready"),
    "failed": ("feilet", "failed"),
}

WRITE_SHARE = 0.05
"""What is left to write once the checking is done, as a fraction of the checking (a
first start writes what is checked while it checks the rest: the last chunk, about a
tenth of the writing, a quarter of the checking); it turns the checking rate into an
estimate for the whole load."""


_MARKER = "graph/first-start-incomplete"


def loading_marker(base_iri: str) -> str:
    """The graph that exists only while a first-start load is under way."""
    return base_iri + _MARKER


class LoadCancelledError(Exception):
    """The service is stopping; the load ends at the next source (the marker stays)."""


@dataclass
class LoadProgress:
    """How far the first-start load has come; read by the probes, pages and the bar."""

    step: str = "starting"
    done: int = 0
    total: int = 0
    started: float = field(default_factory=time.monotonic)
    step_started: float = field(default_factory=time.monotonic)
    error: str | None = None
    first_done: float = 0.0
    cancelled: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def ready(self) -> bool:
        return self.step == "ready"

    def begin(self, step: str, total: int = 0) -> None:
        if self.cancelled:
            raise LoadCancelledError
        with self.lock:
            self.step, self.done, self.total = step, 0, total
            self.step_started = time.monotonic()

    def fail(self, error: str) -> None:
        with self.lock:
            self.step, self.error = "failed", error

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def cancel(self) -> None:
        self.cancelled = True

    def advance(self) -> None:
        if self.cancelled:
            raise LoadCancelledError
        with self.lock:
            self.done += 1
            if self.done == 1:
                # The rate is measured from the first source on: the first one (the
                # shared catalogue, checked alone before the others) is no guide.
                self.first_done = time.monotonic()

    def seconds_left(self) -> float | None:
        """A rough estimate of the whole load's remaining time, once there is a rate."""
        with self.lock:
            step, done, total, since = self.step, self.done, self.total, self.first_done
        if step not in {"checking", "writing"} or done < 3 or total == 0:
            return None
        per_source = (time.monotonic() - since) / (done - 1)
        left = per_source * (total - done)
        if step == "checking":
            left += per_source * WRITE_SHARE * total
        return left

    def as_json(self) -> dict[str, Any]:
        left = self.seconds_left()
        nb, en = STEPS[self.step]
        return {
            "step": self.step,
            "description": {"nb": nb, "en": en},
            "done": self.done,
            "total": self.total,
            "elapsed_seconds": round(time.monotonic() - self.started, 1),
            "seconds_left": None if left is None else round(left),
            **({"error": self.error} if self.error else {}),
        }

    def line(self, width: int = 30) -> str:
        """One line for a terminal: a bar, the counts and the estimate, bokmål / English."""
        nb, en = STEPS[self.step]
        text = f"{nb} / {en}"
        if self.total:
            filled = int(width * self.done / self.total)
            text += f" [{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total}"
        left = self.seconds_left()
        if left is not None:
            text += f", ca. {_duration(left)} igjen / about {_duration(left)} left"
        return text

    def sentence(self, lang: str) -> str:
        """How far the load is, in one language: for the probe's reason.

        >>> LoadProgress(step="writing", done=2, total=10).sentence("en")
        'Loading the data: writing to the store, 2 of 10.'
        """
        nb, en = STEPS[self.step]
        step = nb if lang == "nb" else en
        text = f"Laster data: {step}" if lang == "nb" else f"Loading the data: {step}"
        if self.total:
            text += (
                f", {self.done} av {self.total}"
                if lang == "nb"
                else (f", {self.done} of {self.total}")
            )
        left = self.seconds_left()
        if left is not None:
            text += (
                f", ca. {_duration(left)} igjen"
                if lang == "nb"
                else (f", about {_duration(left)} left")
            )
        return text + "."


def _duration(seconds: float) -> str:
    """
    >>> _duration(75), _duration(9.4)
    ('1 min 15 s', '9 s')
    """
    seconds = round(seconds)
    return f"{seconds // 60} min {seconds % 60} s" if seconds >= 60 else f"{seconds} s"


FIRST_START = Principal("første oppstart / first start", "admin")
"""Who the first start's load is recorded as written by (the service itself)."""


def needs_first_load(backend: Backend) -> bool:
    """The store is empty, or an earlier first start was cut short (its marker graph)."""
    if backend.is_empty():
        return True
    store: KnowledgeStore | None = getattr(backend, "store", None)
    # Any base IRI: the interrupted start may have been configured with another.
    return store is not None and any(g.endswith(_MARKER) for g in store.graphs())


async def announce_first_load(audit: Auditor, settings: Settings) -> AuditEvent | None:
    """Announce the first start's load in the audit trail (write-ahead), if there is one.

    Why not ``Auditor.announced``: that marks every write of the block, which turns the
    load's fast paths (new graphs as N-Quads, the checked copy's bulk load) into SPARQL
    updates. The load has its own all-or-nothing marker instead, and the audit trail's
    mark goes in with that marker's drop, in one transaction (``first_load(done=…)``).
    A load cut short is emptied and redone by the next start, which then records the
    announced one as not done. A remote store keeps what a cut-short load wrote, so
    there the announcement is ``wide``: recorded as maybe done.
    """
    if not await asyncio.to_thread(needs_first_load, audit.backend):
        return None
    if await asyncio.to_thread(audit.backend.is_empty):
        await asyncio.to_thread(set_aside_trail, audit.log)
    what = "referansedata og demodata" if settings.demo else "referansedata"
    what_en = "reference and demo data" if settings.demo else "reference data"
    detail = f"første oppstart: {what} / first start: {what_en}"
    event = new_event(FIRST_START, "load", settings.base_iri, detail=detail)
    await audit.announce(event, wide=getattr(audit.backend, "store", None) is None)
    return event


def set_aside_trail(trail: AuditLog) -> Path | None:
    """Rename a trail that records writes to ``<name>.until-<UTC time>.jsonl``, for an
    empty store: those writes went to a store that is gone (its folder deleted), and a
    fresh store's trail starts with its own first load. Returns where the old one went.

    Why not keep the trail inside the store folder, where deleting the store would take
    it along: that folder is the database's own, and ``kommunegraf restore`` replaces it
    whole, while a trail outlives both. Set aside, never deleted (docs/access.md).
    """
    if trail.path is None or not trail.events():
        return None  # no file, or only a cut-short first start (settled by ``recover``)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    kept = trail.path.with_name(f"{trail.path.stem}.until-{stamp}{trail.path.suffix}")
    trail.path.rename(kept)
    log.warning(
        "lageret er tomt; endringsloggen for det forrige er lagt til side / the store is "
        "empty; the audit trail of the previous one was set aside: %s",
        kept,
    )
    return kept


async def record_first_load(audit: Auditor, event: AuditEvent) -> AuditEvent:
    """Record the announced first load: every graph it wrote and its triples (all added)."""
    return await audit.record_filled(event, FIRST_START)


def first_load(
    backend: Backend,
    base_iri: str,
    demo: bool,
    progress: LoadProgress,
    engine: Engine = "sparql",
    cache: Path | None = None,
    done: str = "",
) -> Callable[[], None] | None:
    """Fill the store if it is empty (or was left half-loaded), as one published state.

    With ``cache`` (a folder, ``service.store.demo_cache``) the demo is bulk-loaded from
    the copy a full load with the same inputs saved there, and a full load saves one:
    it returns the job that writes that copy, to run once the service is ready (writing
    it cost 7 CPU seconds of a first start that nobody waited for). The job writes the
    state this load published (a private copy of its snapshot, made here), so what is
    uploaded meanwhile never gets into it.
    The marker graph is kept on the embedded store only: a remote store is the
    operator's, and this service never empties it. ``done`` (the audit trail's
    ``marker_sparql``) goes in the transaction that drops the marker, so the load is
    marked done in the store exactly when it is.
    """
    marker = loading_marker(base_iri)
    store: KnowledgeStore | None = getattr(backend, "store", None)
    if not needs_first_load(backend):
        return None
    if not backend.is_empty() and store is not None:
        log.warning(
            "forrige oppstart ble avbrutt under lasting; lageret tømmes og lastes på nytt / "
            "the previous start was interrupted while loading; emptying the store and loading "
            "again"
        )
        store.update("DROP ALL")
    copy = (
        demo_cache.cache_file(cache, base_iri, engine)
        if demo and cache is not None and store is not None
        else None
    )
    from_copy = False
    with store.deferred_publish() if store is not None else nullcontext():
        if store is not None:
            _mark(store, marker)
        if store is not None and copy is not None and copy.is_file():
            progress.begin("cached")
            try:
                quads = demo_cache.load(store, copy)
                from_copy = True
                log.info(
                    "demodata lastet fra kopien / demo data loaded from the copy",
                    extra={"copy": str(copy), "quads": quads},
                )
            except demo_cache.UnusableCopyError as error:
                log.warning(
                    "kopien av demodataene kan ikke brukes og slettes; de kontrolleres på nytt "
                    "/ the copy of the demo data is unusable and deleted; checking them again",
                    extra={"error": str(error)},
                )
                copy.unlink(missing_ok=True)
                store.update("DROP ALL")
                _mark(store, marker)
        if not from_copy:
            progress.begin("reference")
            load_reference(backend, base_iri)
            if demo:
                log.info("laster demodata / loading the demo data (loaders/demo/data)")
                load_demo(
                    backend,
                    base_iri,
                    engine=engine,
                    checked=progress.advance,
                    written=progress.advance,
                    starting=progress.begin,
                    bulk=store is not None,
                )
        if store is not None:
            store.update(done + f"DROP SILENT GRAPH <{marker}>")
    if store is None or copy is None or from_copy:
        return None
    loaded = demo_cache.frozen(store)
    return lambda: _save_copy(loaded, copy)


def _save_copy(loaded: Path, copy: Path) -> None:
    """Write the checked copy from the frozen state ``loaded``, then delete that."""
    started = time.monotonic()
    try:
        demo_cache.save_frozen(loaded, copy)
        log.info(
            "kopi av demodataene lagret til neste oppstart / copy of the demo data saved "
            "for the next first start",
            extra={"copy": str(copy), "seconds": round(time.monotonic() - started, 1)},
        )
    except OSError as error:  # a full disk or a read-only home: the next start checks
        log.warning(
            "kunne ikke lagre en kopi av demodataene / could not save a copy of the demo",
            extra={"error": str(error)},
        )


def _mark(store: KnowledgeStore, marker: str) -> None:
    flag = Graph()
    flag.add((URIRef(marker), RDFS.comment, Literal("first-start load under way")))
    store.replace_graph(marker, flag)


class StartupGate:
    """ASGI middleware: until the first load is done, only probes, metrics and static files.

    Everything else answers 503 with the progress (a page that refreshes itself for
    browsers), so nobody sees an empty or half-filled service and no write can land
    in the middle of the load.
    """

    OPEN = ("/health/", "/metrics", "/static/")

    def __init__(self, app: ASGIApp, progress: LoadProgress) -> None:
        self.app = app
        self.progress = progress

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or self.progress.ready
            or str(scope["path"]).startswith(self.OPEN)
        ):
            await self.app(scope, receive, send)
            return
        state = self.progress.as_json()
        accept = b""
        for key, value in scope.get("headers", ()):
            if key == b"accept":
                accept = value
        if b"text/html" in accept:
            body = _waiting_page(self.progress).encode()
            media = b"text/html; charset=utf-8"
        else:
            body = json.dumps(
                {
                    "status": "loading",
                    "reason": {
                        "nb": "Tjenesten laster data og svarer straks.",
                        "en": "The service is loading its data and will answer shortly.",
                    },
                    "progress": state,
                },
                ensure_ascii=False,
            ).encode()
            media = b"application/json"
        await send(
            {
                "type": "http.response.start",
                "status": 503,
                "headers": [
                    (b"content-type", media),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", b"5"),
                    (b"cache-control", b"no-store"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _waiting_page(progress: LoadProgress) -> str:
    from html import escape

    return (
        '<!doctype html><html lang="nb"><head><meta charset="utf-8">'
        '<meta http-equiv="refresh" content="5">'
        "<title>kommunegraf laster / is loading</title></head><body><main>"
        "<h1>kommunegraf starter / is starting</h1>"
        "<p>Tjenesten laster dataene sine; siden oppdaterer seg selv. "
        '<span lang="en">The service is loading its data; this page refreshes itself.</span></p>'
        f"<p><code>{escape(progress.line())}</code></p></main></body></html>"
    )


class _BarAwareStream:
    """The log handler's stream while a progress bar is on the terminal's last line.

    A log record first clears the bar's line, so the record does not end up glued to
    the bar; the bar is drawn again after it.
    """

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.bar_shown = False

    def write(self, text: str) -> int:
        if self.bar_shown:
            self.stream.write("\r\033[K")
            self.bar_shown = False
        return self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()


def show_progress(
    progress: LoadProgress, address: str, handler: logging.StreamHandler[IO[str]]
) -> threading.Thread:
    """Draw the load's progress on a terminal, then say where to open the service.

    Only for a person at a terminal; log collectors get the log lines instead. The
    bar is drawn under the log handler's lock, so it never lands inside a log line.
    """
    out = _BarAwareStream(handler.stream)
    handler.setStream(out)  # type: ignore[arg-type]

    def draw() -> None:
        shown = ""
        while progress.step not in {"ready", "failed"}:
            line = progress.line()
            handler.acquire()
            try:
                if line != shown or not out.bar_shown:
                    out.stream.write("\r\033[K" + line)
                    out.stream.flush()
                    out.bar_shown, shown = True, line
            finally:
                handler.release()
            time.sleep(0.5)
        handler.acquire()
        try:
            out.write("")
            if progress.ready:
                seconds = round(progress.elapsed())
                out.write(
                    f"\nKlar etter {seconds} s. Åpne {address} i nettleseren. Ctrl-C stopper.\n"
                    f"Ready after {seconds} s. Open {address} in your browser. Ctrl-C stops.\n\n"
                )
            out.flush()
        finally:
            handler.release()

    thread = threading.Thread(target=draw, name="kommunegraf-progress", daemon=True)
    thread.start()
    return thread


def log_progress(progress: LoadProgress, interval: float = 10.0) -> threading.Thread:
    """One log line every ``interval`` seconds while loading (JSON logs, no terminal)."""

    def report() -> None:
        while True:
            for _ in range(int(interval / 0.5)):
                if progress.step in {"ready", "failed"}:
                    return
                time.sleep(0.5)
            log.info(
                "laster / loading: %s", progress.line(), extra={"progress": progress.as_json()}
            )

    thread = threading.Thread(target=report, name="kommunegraf-progress-log", daemon=True)
    thread.start()
    return thread
