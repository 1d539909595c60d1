"""What route handlers share: the backend and the settings of the running app."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from service.settings import Settings
from service.store.backend import Backend


def get_backend(request: Request) -> Backend:
    backend: Backend = request.app.state.backend
    return backend


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


BackendDep = Annotated[Backend, Depends(get_backend)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
