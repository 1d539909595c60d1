"""What route handlers share: the store and the settings of the running app."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from service.query_pool import QueryPool
from service.settings import Settings
from service.store import KnowledgeStore


def get_store(request: Request) -> KnowledgeStore:
    store: KnowledgeStore = request.app.state.store
    return store


def get_pool(request: Request) -> QueryPool:
    pool: QueryPool = request.app.state.pool
    return pool


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


StoreDep = Annotated[KnowledgeStore, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
PoolDep = Annotated[QueryPool, Depends(get_pool)]
