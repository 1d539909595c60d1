"""The FastAPI application: one store, the routers, static files; no CDN.

FastAPI's interactive API docs load their scripts from a CDN by default, so they
are switched off; the OpenAPI document is still served at /openapi.json.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from loaders.provenance import tool_version
from service.access.audit import Auditor, marker_sparql
from service.errors import ServiceError
from service.exports.published import PublishedCatalogues
from service.logs import RequestLog
from service.metrics import RequestMetrics, set_build_info
from service.pages.render import compile_templates
from service.pages.term_names import term_name
from service.settings import Settings
from service.store import demo_cache
from service.store.backend import Backend, EmbeddedBackend
from service.web.admission import QueryClients
from service.web.headers import SECURITY_HEADERS
from service.web.responses import Moved, bounded_bodies, moved, routing_error, service_error
from service.web.routes import (
    archimate,
    catalog,
    docs,
    edit,
    gallery,
    gdpr,
    graph_store,
    health,
    home,
    kart,
    ontology,
    portfolio,
    queries,
    resources,
    search,
    sparql,
    template,
    upload,
)
from service.web.routes import metrics as metrics_route
from service.web.routes.upload import FORM_ROOM
from service.web.startup import (
    LoadCancelledError,
    LoadProgress,
    StartupGate,
    announce_first_load,
    first_load,
    record_first_load,
)

log = logging.getLogger("kommunegraf")


def settle() -> None:
    """Fill what pages fill on first use, then take everything the process holds by now
    out of the garbage collector's full collections (``gc.freeze``); on a thread, once,
    before the service is ready.

    Why: the first page to name a term parsed every shape and ontology file (3.9 s seen
    on a busy machine), and the first use of each template compiled it, on the event loop
    where every request waited; and a full collection walked every object the process
    holds (imported modules, ontology and shapes graphs), a second at a time with the
    interpreter lock held (issue 16, the load test's probe). What is frozen here lives as
    long as the process; garbage is collected first, so none of it is kept for good.
    """
    compile_templates()
    term_name("", "nb")
    gc.collect()
    gc.freeze()
    # The interpreter lock changes hands every 1 ms instead of 5: pages, answers and
    # results are read on threads, and the event loop, which needs the lock after every
    # read and write it makes, waited up to 5 ms each time behind them.
    sys.setswitchinterval(0.001)


def make_backend(settings: Settings) -> Backend:
    """The remote store when ``store_url`` is set, else the embedded one."""
    if settings.store_url:
        from service.store.remote import RemoteBackend

        remote: Backend = RemoteBackend(settings)
        return remote
    return EmbeddedBackend(settings)


def create_app(settings: Settings, backend: Backend | None = None) -> FastAPI:
    """Build the app; without ``backend`` it opens the configured one at start-up.

    An empty store gets the bundled reference data first, so the first run has
    something to show.
    """

    progress = LoadProgress()

    async def first_start(app: FastAPI) -> None:
        """Fill an empty store and start the query workers, both while the port is open."""
        audit = app.state.auditor = Auditor(settings, app.state.backend)
        try:
            # The load is a write like any other: announced first, recorded once done.
            loading = await announce_first_load(audit, settings)
            save_copy, _ = await asyncio.gather(
                asyncio.to_thread(
                    first_load,
                    app.state.backend,
                    settings.base_iri,
                    settings.demo,
                    progress,
                    settings.engine,
                    demo_cache.cache_folder(settings.demo_cache),
                    "" if loading is None else marker_sparql(loading.id, settings.base_iri),
                ),
                app.state.backend.start(),
            )
            if loading is not None:
                await record_first_load(audit, loading)
        except LoadCancelledError:
            log.info("lastingen ble avbrutt ved stopp / the load stopped with the service")
            return
        except Exception as error:
            progress.fail(f"{type(error).__name__}: {error}")
            log.exception("oppstarten feilet / start-up failed")
            # Stop rather than stay live and never ready: an operator sees the exit.
            os.kill(os.getpid(), signal.SIGTERM)
            return
        try:
            # Writes a crash left announced but unrecorded are settled before any request.
            await audit.recover()
            # The catalogues for Felles datakatalog are built as soon as the data change.
            app.state.catalogues = PublishedCatalogues(app.state.backend, settings)
            app.state.catalogue_watcher = asyncio.create_task(app.state.catalogues.watch())
        except Exception as error:
            progress.fail(f"{type(error).__name__}: {error}")
            log.exception("oppstarten feilet / start-up failed")
            os.kill(os.getpid(), signal.SIGTERM)
            return
        await asyncio.to_thread(settle)
        progress.begin("ready")
        log.info(
            "klar / ready",
            extra={"version": tool_version(), "seconds": round(progress.elapsed(), 1)},
        )
        if save_copy is not None:
            # The checked copy for the next first start, written after ready: no one waits.
            app.state.saving_copy = asyncio.create_task(asyncio.to_thread(save_copy))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.backend = backend if backend is not None else make_backend(settings)
        starting = asyncio.create_task(first_start(app))
        try:
            yield
        finally:
            # uvicorn gets here after the requests in flight have finished.
            if not starting.done():
                # Stopped while loading: the load ends at its next source; the next
                # start sees the marker and loads again.
                progress.cancel()
                await asyncio.wait({starting}, timeout=60)
            saving = getattr(app.state, "saving_copy", None)
            if saving is not None and not saving.done():
                # A copy is written whole or not at all; let it finish (a few seconds).
                await asyncio.wait({saving}, timeout=120)
            watcher = getattr(app.state, "catalogue_watcher", None)
            if watcher is not None:
                watcher.cancel()
            catalogues = getattr(app.state, "catalogues", None)
            if isinstance(catalogues, PublishedCatalogues):
                await catalogues.stop()
            app.state.backend.close()
            log.info("stoppet, lageret er lukket / stopped, store closed")

    app = FastAPI(
        title="kommunegraf",
        summary="Kunnskapsgraf over kommunal applikasjonsarkitektur / "
        "Knowledge graph of municipal application architecture",
        version=tool_version(),
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
        # No OpenTelemetry here (metrics are Prometheus, /metrics): off, FastAPI does not
        # look for a configured provider on every request.
        telemetry={"tracing": False, "metrics": False},
    )
    app.state.settings = settings
    app.state.load_progress = progress
    app.add_exception_handler(StarletteHTTPException, routing_error)
    app.add_exception_handler(ServiceError, service_error)
    app.add_exception_handler(Moved, moved)
    set_build_info(version=tool_version())
    # Every body, on every route, counted while it streams in (chunked ones too): 413
    # past the limit plus room for a form's other fields. Routes that read a body hold
    # it to ``max_body_bytes`` exactly (read_body).
    # Innermost: GET/POST /sparql straight to its handlers, inside every middleware below.
    app.add_middleware(sparql.DirectSparql)
    app.add_middleware(bounded_bodies, limit=settings.max_body_bytes + FORM_ROOM)
    app.add_middleware(QueryClients, settings=settings)
    app.add_middleware(StartupGate, progress=progress)
    app.add_middleware(RequestMetrics)
    # Added last, so outermost: the id and the security headers cover everything.
    app.add_middleware(RequestLog, headers=SECURITY_HEADERS)
    app.mount(
        "/static",
        StaticFiles(directory=Path(__file__).parents[1] / "pages" / "static"),
        name="static",
    )
    app.include_router(home.router)
    app.include_router(sparql.router)
    app.include_router(graph_store.router)
    app.include_router(health.router)
    app.include_router(metrics_route.router)
    app.include_router(ontology.router)
    app.include_router(docs.router)
    app.include_router(search.router)
    app.include_router(resources.router)
    app.include_router(gallery.router)
    app.include_router(upload.router)
    app.include_router(template.router)
    app.include_router(catalog.router)
    app.include_router(gdpr.router)
    app.include_router(archimate.router)
    app.include_router(kart.router)
    app.include_router(portfolio.router)
    app.include_router(edit.router)
    queries.mount(app)
    return app
