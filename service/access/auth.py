"""Write access: who may change the graph, and one lock that writes take in turn.

Everything that writes (SPARQL Update, the Graph Store Protocol, spreadsheet
uploads) asks this module, so the rule is stated once: a write needs
``Authorization: Bearer <token>`` that is either the configured admin token
(``KOMMUNEGRAF_TOKEN``) or a live token in the token file (``KOMMUNEGRAF_TOKENS``,
see ``service.access.tokens``); a service with neither is read-only. Comparisons use
``hmac.compare_digest`` so the time they take does not reveal how much of a
guessed token was right. The answer is a ``Principal`` (the token's name and
scope); what that scope allows is ``service.access.scope``'s business.

Routes that know up front that they write take ``service.web.dependencies.Writer`` (a
``Principal``); ``/sparql`` and the upload only know later whether the request
writes, so they call ``authenticate`` themselves. A refusal is raised as an
``AccessDeniedError``, which the app's exception handler answers.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Iterable
from functools import cache
from pathlib import Path

from fastapi import Request

from service.access.scope import (
    Principal,
    Triple,
    audit_graph,
    foreign_subject_message,
    may_write_graph,
    statement_problems,
)
from service.access.tokens import TokenFile, TokenFileError
from service.errors import AccessDeniedError
from service.settings import Settings

log = logging.getLogger(__name__)

ADMIN_NAME = "KOMMUNEGRAF_TOKEN"
"""The name the audit trail gives the single admin token of the environment."""


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


@cache
def token_file(path: Path) -> TokenFile:
    """One reader per file for the process, so its cache is shared by all requests."""
    return TokenFile(path)


def authenticate(request: Request, settings: Settings) -> Principal:
    """The writer of this request; raises the ``AccessDeniedError`` that refuses it.

    403 when the service is read-only (no token configured: no credentials could
    help, so 401 would mislead), 401 with a Bearer challenge when no token was sent,
    403 when the token is wrong, expired or revoked.
    """
    if not settings.token and settings.tokens is None:
        raise AccessDeniedError(
            403,
            "Tjenesten er skrivebeskyttet: ingen skrivenøkkel er satt opp "
            "(KOMMUNEGRAF_TOKEN), så ingen kan endre dataene gjennom HTTP.",
            "The service is read-only: no write token is configured "
            "(KOMMUNEGRAF_TOKEN), so nobody can change the data over HTTP.",
        )
    offered = _bearer(request)
    if offered is None:
        raise AccessDeniedError(
            401,
            "Skriving krever en nøkkel: send Authorization: Bearer <nøkkel>.",
            "Writing needs a token: send Authorization: Bearer <token>.",
            headers={"WWW-Authenticate": 'Bearer realm="kommunegraf"'},
        )
    return principal_of(offered, settings)


def principal_of(offered: str, settings: Settings) -> Principal:
    """The holder of token ``offered`` (from a header or the upload form)."""
    if settings.token and hmac.compare_digest(
        offered.encode("utf-8"), settings.token.encode("utf-8")
    ):
        return Principal(ADMIN_NAME, "admin")
    entry = None
    if settings.tokens is not None:
        try:
            entry = token_file(settings.tokens).find(offered)
        except (TokenFileError, OSError) as error:
            # The reason names the file's path and line: for the operator's log, not
            # for a client, to whom the server's layout is none of its business.
            log.error("nøkkelfilen kan ikke leses / the token file cannot be read: %s", error)
            raise AccessDeniedError(
                503,
                "Nøkkelfilen kan ikke leses; ingen kan skrive før den er rettet. "
                "Årsaken står i tjenestens logg.",
                "The token file cannot be read; nobody can write until it is fixed. "
                "The reason is in the service's log.",
            ) from None
    if entry is None:
        raise AccessDeniedError(
            403, "Nøkkelen gir ikke skrivetilgang.", "The token does not grant write access."
        )
    state = entry.state()
    if state == "revoked":
        raise AccessDeniedError(
            403, "Nøkkelen er trukket tilbake.", "The token has been revoked.", entry.name
        )
    if state == "expired":
        raise AccessDeniedError(403, "Nøkkelen er utløpt.", "The token has expired.", entry.name)
    return Principal(entry.name, entry.role, frozenset(entry.municipalities))


def require_graph(principal: Principal, base: str, graph: str) -> None:
    """Raise 403 when ``principal`` may not write ``graph`` (see ``service.access.scope``)."""
    if may_write_graph(principal, base, graph):
        return
    if graph == audit_graph(base):
        raise AccessDeniedError(
            403,
            "Revisjonsloggen skrives bare av tjenesten selv.",
            "The audit graph is written by the service only.",
            graph,
        )
    scope_nb, scope_en = principal.scope_nb_en()
    raise AccessDeniedError(
        403,
        f"Nøkkelen «{principal.name}» gir bare skrivetilgang til {scope_nb}, i grafer "
        f"{base}graph/kommune/<kommunenummer>/….",
        f"The token '{principal.name}' only grants writing {scope_en}, in graphs "
        f"{base}graph/kommune/<kommunenummer>/….",
        graph,
    )


def require_statements(
    principal: Principal, base: str, graph: str, triples: Iterable[Triple]
) -> None:
    """Raise 403 when the data speaks about things ``principal`` may not write about.

    Not only subjects: whom a usage, dataset or agreement belongs to, and what a
    blank node is typed as (``service.access.scope.statement_problems``).
    """
    problems = statement_problems(principal, base, graph, triples)
    if problems:
        raise AccessDeniedError(403, *foreign_subject_message(problems))
