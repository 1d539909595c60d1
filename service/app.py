"""The FastAPI application: one store, the routers, static files; no CDN.

FastAPI's interactive API docs load their scripts from a CDN by default, so they
are switched off; the OpenAPI document is still served at /openapi.json.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from loaders.provenance import tool_version
from service.query_pool import QueryPool
from service.routes import home, sparql
from service.settings import Settings
from service.store import KnowledgeStore


def create_app(settings: Settings, store: KnowledgeStore | None = None) -> FastAPI:
    """Build the app; without ``store`` it opens the configured one at start-up.

    An empty store gets the bundled reference data first, so the first run has
    something to show.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = store is None
        app.state.store = store if store is not None else KnowledgeStore(settings.store)
        if app.state.store.is_empty():
            app.state.store.load_reference(settings.base_iri)
        app.state.pool = QueryPool(settings.query_workers)
        await app.state.pool.start()
        try:
            yield
        finally:
            app.state.pool.close()
            if owned:
                app.state.store.close()

    app = FastAPI(
        title="kommunegraf",
        summary="Kunnskapsgraf over kommunal applikasjonsarkitektur / "
        "Knowledge graph of municipal application architecture",
        version=tool_version(),
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    app.include_router(home.router)
    app.include_router(sparql.router)
    return app
