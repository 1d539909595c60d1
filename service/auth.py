"""Write access: who may change the graph, and one lock that writes take in turn.

Everything that writes (SPARQL Update, the Graph Store Protocol, spreadsheet
uploads) asks this module, so the rule is stated once: a write needs
``Authorization: Bearer <token>`` equal to the configured token, and a service
without a token is read-only. The comparison uses ``hmac.compare_digest`` so the
time it takes does not reveal how much of a guessed token was right.

Routes that know up front that they write use ``WriteDenial`` as a dependency;
``/sparql`` only knows after reading the body whether it got a query or an
update, so it calls ``write_denial`` itself.
"""

from __future__ import annotations

import asyncio
import hmac
from typing import Annotated

from fastapi import Depends, Request, Response

from service.dependencies import SettingsDep
from service.responses import error_response
from service.settings import Settings


def write_lock(request: Request) -> asyncio.Lock:
    """The lock this app's routes hold while they write.

    The embedded backend serialises its own updates, but ``Backend.replace_graph``
    is synchronous and runs in a thread outside that; taking this lock around every
    write keeps a Graph Store PUT from interleaving with an update. One per app
    (made on first use, inside its event loop), not one per module, so apps made
    in tests on different event loops do not share it.
    """
    lock: asyncio.Lock | None = getattr(request.app.state, "write_lock", None)
    if lock is None:
        lock = request.app.state.write_lock = asyncio.Lock()
    return lock


def _bearer(request: Request) -> str | None:
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return None
    return credentials.strip()


def write_denial(request: Request, settings: Settings) -> Response | None:
    """None when the request may write; otherwise the response that refuses it.

    403 when the service is read-only (no token configured: no credentials could
    help, so 401 would mislead), 401 with a Bearer challenge when no token was sent,
    403 when the token is wrong.
    """
    if not settings.token:
        return error_response(
            403,
            "Tjenesten er skrivebeskyttet: ingen skrivenøkkel er satt opp "
            "(KOMMUNEGRAF_TOKEN), så ingen kan endre dataene gjennom HTTP.",
            "The service is read-only: no write token is configured "
            "(KOMMUNEGRAF_TOKEN), so nobody can change the data over HTTP.",
        )
    offered = _bearer(request)
    if offered is None:
        return error_response(
            401,
            "Skriving krever en nøkkel: send Authorization: Bearer <nøkkel>.",
            "Writing needs a token: send Authorization: Bearer <token>.",
            headers={"WWW-Authenticate": 'Bearer realm="kommunegraf"'},
        )
    if not hmac.compare_digest(offered.encode("utf-8"), settings.token.encode("utf-8")):
        return error_response(
            403,
            "Nøkkelen gir ikke skrivetilgang.",
            "The token does not grant write access.",
        )
    return None


async def _write_denial_dependency(request: Request, settings: SettingsDep) -> Response | None:
    return write_denial(request, settings)


WriteDenial = Annotated[Response | None, Depends(_write_denial_dependency)]
"""A route parameter: None when the request may write, else the refusal to return."""
