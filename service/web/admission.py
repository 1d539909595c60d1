"""Who each request's queries are run for, so the query workers can be shared fairly.

``service.store.admission`` queues queries per client and serves clients in turn. The
client is the holder of a valid token (by its name), else the peer address. An invalid
or made-up ``Authorization`` header does not make a new client: otherwise one client
could send each query under a new name and never wait its turn. Behind a reverse proxy
the peer address is the proxy's unless uvicorn is told to trust its
``X-Forwarded-For`` (``--proxy-headers``, ``--forwarded-allow-ips``).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from service.access.auth import principal_of
from service.errors import AccessDeniedError
from service.settings import Settings
from service.store.admission import CLIENT


def client_of(scope: Scope, settings: Settings) -> str:
    """The fairness key of a request: ``token:<name>`` or ``addr:<peer address>``."""
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, offered = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and offered.strip():
                try:
                    return "token:" + principal_of(offered.strip(), settings).name
                except AccessDeniedError:
                    break  # not a token: the address decides
            break
    peer = scope.get("client")
    return f"addr:{peer[0]}" if peer else "addr:?"


class QueryClients:
    """ASGI middleware: sets ``CLIENT`` for everything a request runs (its tasks too)."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = CLIENT.set(client_of(scope, self.settings))
        try:
            await self.app(scope, receive, send)
        finally:
            CLIENT.reset(token)
