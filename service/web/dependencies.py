"""What route handlers share: the backend and the settings of the running app.

The dependencies are ``async def`` on purpose: FastAPI runs a plain ``def`` dependency
in its thread pool, and handing each request's two look-ups to a thread and back cost
about half of the main process's time on a light query (bench/, issue 21).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from service.access.auth import authenticate
from service.access.scope import Principal
from service.exports.published import PublishedCatalogues
from service.settings import Settings
from service.store.backend import Backend


async def get_backend(request: Request) -> Backend:
    backend: Backend = request.app.state.backend
    return backend


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


BackendDep = Annotated[Backend, Depends(get_backend)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


async def get_writer(request: Request, settings: SettingsDep) -> Principal:
    return authenticate(request, settings)


Writer = Annotated[Principal, Depends(get_writer)]
"""A route parameter: who writes (a refusal is raised before the route runs)."""


def published_catalogues(
    request: Request, backend: Backend, settings: Settings
) -> PublishedCatalogues:
    """The app's published catalogues (``service.web.app`` starts their watcher)."""
    state = request.app.state
    found = getattr(state, "catalogues", None)
    if not isinstance(found, PublishedCatalogues) or found.backend is not backend:
        found = PublishedCatalogues(backend, settings)
        state.catalogues = found
    return found
