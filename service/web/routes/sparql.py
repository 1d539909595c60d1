"""The SPARQL endpoint at ``/sparql``: the SPARQL 1.1 Protocol, queries and updates.

Query by GET, by POST form and by POST direct, with ``default-graph-uri`` and
``named-graph-uri``; update by POST form or direct, with ``using-graph-uri`` and
``using-named-graph-uri``. Every query runs in a worker process with a deadline
(see ``service.store.workers``); the handler only awaits it, so the event loop is
never blocked and other requests are answered meanwhile.

A GET without a query is the endpoint's front door: RDF clients get its Service
Description, browsers the query editor.

What is refused, and why: updates without a write token (``service.access.auth``), or
that would write graphs or subjects outside the token's scope, or the audit graph
(``service.access.scope``); every update run is recorded in the audit trail;
SERVICE and LOAD towards hosts not on the allow-list, because the endpoint must
not become a tool for reaching hosts behind our firewall (``service.sparql.text_checks``);
bodies over ``max_body_bytes`` (``service.web.responses.read_body``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from functools import partial
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, PlainTextResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from service.access.audit import auditor, run_audited_update
from service.access.auth import authenticate, write_lock
from service.access.scope import (
    Principal,
    UpdateWrites,
    named_graphs_refusal,
    trial_refusal,
    update_refusal,
    update_writes,
)
from service.errors import ServiceError, attempt
from service.pages.render import render
from service.settings import Settings
from service.sparql.dataset import DatasetConflictError, with_dataset
from service.sparql.formats import (
    GRAPH_FORMATS,
    GRAPH_TYPES,
    RDF_MEDIA,
    SOLUTION_FORMATS,
    SOLUTION_TYPES,
)
from service.sparql.lexer import is_absolute_iri
from service.sparql.service_description import describe
from service.sparql.text_checks import CheckedText, check_text
from service.store.reads import named_graphs
from service.web.dependencies import BackendDep, SettingsDep
from service.web.negotiation import best_match, not_acceptable
from service.web.responses import (
    allow_any_origin,
    error_response,
    open_to_any_origin,
    preflight,
    read_body,
)

router = APIRouter(tags=["SPARQL"])

DESCRIPTION_TYPES = [*RDF_MEDIA, "text/html"]
"""RDF first: a client that sends no Accept (or */*) is a program, not a browser."""


def _params(text: str) -> dict[str, list[str]]:
    return parse_qs(text, keep_blank_values=True, encoding="utf-8", errors="strict")


def _url_query(request: Request) -> str:
    """``request.url.query`` without making the URL: the query string as Starlette
    decodes it (UTF-8, strict: UnicodeDecodeError). Why: making the whole URL and
    splitting it again was a fortieth of the server's time for a light query. A query
    string with a character URL splitting drops or splits at (tab, CR, LF, ``#``; no
    HTTP parser passes one) still goes through ``request.url``."""
    query: str = request.scope.get("query_string", b"").decode()
    if "#" in query or "\t" in query or "\r" in query or "\n" in query:
        return request.url.query
    return query


def _chosen(
    params: dict[str, list[str]], aliases: dict[str, str], offered: list[str]
) -> str | None:
    for value in params.get("format", []):
        media = aliases.get(value.strip().lower(), value.strip().lower())
        if media in offered:
            return media
    return None


def _negotiate(request: Request, params: dict[str, list[str]]) -> tuple[str | None, str | None]:
    """Result media types for solutions and for graphs.

    ``format=`` overrides Accept where it names a type that fits the kind of
    result; ``format=xml`` means SPARQL results XML for a SELECT and RDF/XML for a
    CONSTRUCT, as clients like SPARQLWrapper expect. Otherwise Accept decides.
    """
    accept = request.headers.get("accept")
    solutions = _chosen(params, SOLUTION_FORMATS, SOLUTION_TYPES) or best_match(
        accept, SOLUTION_TYPES
    )
    graph = _chosen(params, GRAPH_FORMATS, GRAPH_TYPES) or best_match(accept, GRAPH_TYPES)
    return solutions, graph


def _bad_graph_iris(params: dict[str, list[str]], *names: str) -> None:
    for name in names:
        for value in params.get(name, []):
            if not is_absolute_iri(value):
                raise ServiceError(
                    400,
                    f"{name} må være en absolutt IRI.",
                    f"{name} must be an absolute IRI.",
                    value,
                )
    return None


async def _checked(text: str, *, settings: Settings) -> CheckedText:
    """An update read by ``check_text`` (RefusedTextError), on a thread: a 10 MB update
    takes seconds to read, and the event loop must keep answering meanwhile."""
    return await asyncio.to_thread(
        partial(check_text, text, update=True, base=settings.base_iri, allow=settings.service_allow)
    )


def _single(params: dict[str, list[str]], name: str) -> str:
    values = params.get(name, [])
    if len(values) != 1:
        raise ServiceError(
            400, f"Send nøyaktig én parameter {name}.", f"Send exactly one {name} parameter."
        )
    return values[0]


async def _query(
    request: Request,
    backend: BackendDep,
    settings: Settings,
    query: str,
    params: dict[str, list[str]],
) -> Response:
    open_to_any_origin(request)
    _bad_graph_iris(params, "default-graph-uri", "named-graph-uri")
    solutions_media, graph_media = _negotiate(request, params)
    default_graphs = params.get("default-graph-uri")
    named_graphs = params.get("named-graph-uri")
    # allow= makes the backend read the query with check_text where it runs (in the
    # query worker: a second per MB of reading belongs under the deadline) and run the
    # text that check wrote; a refusal is a RefusedTextError like any other error.
    answer = await backend.execute(
        query,
        solutions_media=solutions_media,
        graph_media=graph_media,
        default_graphs=tuple(default_graphs) if default_graphs is not None else None,
        named_graphs=tuple(named_graphs) if named_graphs is not None else None,
        allow=tuple(settings.service_allow),
        fresh=_no_cache(request),
    )
    headers = {"Vary": "Accept"}
    if answer.cache:
        headers["Cache-Status"] = answer.cache
    if answer.media is None:
        offered = GRAPH_TYPES if answer.kind == "graph" else SOLUTION_TYPES
        return error_response(
            406,
            "Kan ikke levere svaret i et format du godtar.",
            "Cannot answer in a format you accept.",
            "Available: " + ", ".join(offered),
            headers=headers,
        )
    return Response(answer.body, media_type=answer.media, headers=headers)


def _no_cache(request: Request) -> bool:
    """Whether the client asks for an answer computed now (``Cache-Control: no-cache`` or
    ``max-age=0``, or ``Pragma: no-cache``), not one the answer cache kept."""
    control = request.headers.get("cache-control")
    if control is None:
        return request.headers.get("pragma", "").strip().lower() == "no-cache"
    directives = {part.strip().lower().replace(" ", "") for part in control.split(",")}
    return bool(directives & {"no-cache", "max-age=0"})


async def _update(
    request: Request,
    backend: BackendDep,
    settings: Settings,
    update: str,
    params: dict[str, list[str]],
    writer: Principal,
) -> Response:
    """Run an update whose sender ``authenticate`` has let through, within its scope."""
    _bad_graph_iris(params, "using-graph-uri", "using-named-graph-uri")
    checked = await _checked(update, settings=settings)
    try:
        text = with_dataset(
            checked.text,
            params.get("using-graph-uri", []),
            params.get("using-named-graph-uri", []),
        )
    except DatasetConflictError as error:
        return error_response(
            400,
            f"Oppdateringen har {error}, så using-graph-uri og using-named-graph-uri "
            "kan ikke brukes i tillegg.",
            f"The update has {error}, so using-graph-uri and using-named-graph-uri "
            "cannot be given as well.",
        )
    if text != checked.text:  # the USING clauses are read like the rest
        checked = await _checked(text, settings=settings)
        text = checked.text
    try:
        writes = await asyncio.to_thread(update_writes, text, settings.base_iri)
    except ValueError as error:
        if not writer.is_admin:
            return error_response(
                400,
                "Oppdateringen kunne ikke leses for å kontrollere hvilke grafer den skriver.",
                "The update could not be read to check which graphs it writes.",
                str(error),
            )
        writes = UpdateWrites(wide=True)  # the store's parser will say what is wrong
    out_of_scope = update_refusal(writer, settings.base_iri, writes) or named_graphs_refusal(
        writer, settings.base_iri, checked.graphs
    )
    if out_of_scope is not None:
        return error_response(403, *out_of_scope)
    if not writer.is_admin:
        # A municipality token's update is run first on a copy of the graphs it names,
        # in a worker (a crash costs the worker); what it would add is checked with its
        # variables bound, and exactly that result is written. Under the write lock, so
        # the copy is the state the write replaces.
        async with write_lock(request):
            trial = await backend.trial_update(text, checked.graphs)
            changed = {graph for graph, _ in trial.graphs}
            refusal = trial_refusal(writer, settings.base_iri, changed, trial.added)
            if refusal is not None:
                return error_response(403, *refusal)
            writes = replace(writes, graphs=writes.graphs | changed)
            await run_audited_update(auditor(request), writer, trial.as_update(), writes)
        return PlainTextResponse("Oppdateringen er utført.\nThe update is done.\n")
    # Evaluating again would fetch again: an update that fetches is only parsed. One
    # without operators (INSERT DATA, DROP) has no deep tree to plan: parsed only too.
    # Raises UpdateSyntaxError, or UpdateCrashedError when the rehearsal crashed.
    evaluate = not checked.targets and checked.operators > 0
    await backend.rehearse_update(text, evaluate=evaluate)
    async with write_lock(request):
        # A malformed or failing update raises UpdateSyntaxError / UpdateFailedError (400).
        await run_audited_update(auditor(request), writer, text, writes)
    return PlainTextResponse("Oppdateringen er utført.\nThe update is done.\n")


async def _front_door(request: Request, backend: BackendDep, settings: Settings) -> Response:
    """The service description for RDF clients, the query editor for browsers."""
    media = best_match(request.headers.get("accept"), DESCRIPTION_TYPES)
    if media is None:
        raise not_acceptable("tjenestebeskrivelsen", "the service description", DESCRIPTION_TYPES)
    if media == "text/html":
        return HTMLResponse(
            render(
                "sparql.html",
                request,
                query="",
                writable=bool(settings.token or settings.tokens),
            ),
            headers={"Vary": "Accept"},
        )
    graphs: list[str] = []
    found = await attempt(named_graphs(backend))
    if not isinstance(found, ServiceError):  # without it the description is still true
        graphs = found
    base = str(request.base_url)
    description = describe(f"{base}sparql", f"{base}store", settings, graphs)
    body = await asyncio.to_thread(description.serialize, format=RDF_MEDIA[media])
    return Response(body, media_type=media, headers={"Vary": "Accept"})


def _content_type(request: Request) -> tuple[str, str | None]:
    """The media type of the body and its charset parameter, if any."""
    media, *parameters = request.headers.get("content-type", "").split(";")
    charset = None
    for parameter in parameters:
        key, _, value = parameter.partition("=")
        if key.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
    return media.strip().lower(), charset


def _utf8(body: bytes, what_nb: str, what_en: str) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ServiceError(
            400, f"{what_nb} er ikke UTF-8.", f"The {what_en} is not UTF-8.", str(error)
        ) from None


@router.api_route(
    "/sparql", methods=["GET", "HEAD"], summary="SPARQL query (GET) / SPARQL-spørring"
)
async def sparql_get(request: Request, backend: BackendDep, settings: SettingsDep) -> Response:
    try:
        params = _params(_url_query(request))
    except UnicodeDecodeError:
        return allow_any_origin(
            error_response(400, "URL-en er ikke UTF-8.", "The URL is not UTF-8.")
        )
    if "update" in params:
        return error_response(
            400,
            "Oppdateringer må sendes med POST.",
            "Updates must be sent with POST.",
        )
    if "query" not in params:
        return allow_any_origin(await _front_door(request, backend, settings))
    open_to_any_origin(request)
    query = _single(params, "query")
    return allow_any_origin(await _query(request, backend, settings, query, params))


@router.post("/sparql", summary="SPARQL query or update (POST form or direct)")
async def sparql_post(request: Request, backend: BackendDep, settings: SettingsDep) -> Response:
    media, charset = _content_type(request)
    if charset not in (None, "utf-8", "utf8"):
        return error_response(
            415,
            "Bare UTF-8 er støttet.",
            "Only UTF-8 is supported.",
            f"charset={charset}",
        )
    try:
        url_params = _params(_url_query(request))
    except UnicodeDecodeError:
        return error_response(400, "URL-en er ikke UTF-8.", "The URL is not UTF-8.")
    if media == "application/sparql-update":
        # Refuse before reading: a body from someone who may not write is not needed.
        writer = authenticate(request, settings)
    if media in ("application/sparql-query", "application/sparql-update"):
        if "query" in url_params or "update" in url_params:
            return error_response(
                400,
                "Operasjonen kan ikke både stå i URL-en og i kroppen.",
                "The operation cannot be both in the URL and in the body.",
            )
        body = await read_body(request, settings.max_body_bytes)
        if media == "application/sparql-query":
            open_to_any_origin(request)
            query = _utf8(body, "Spørringen", "query")
            return allow_any_origin(await _query(request, backend, settings, query, url_params))
        update = _utf8(body, "Oppdateringen", "update")
        assert isinstance(writer, Principal)  # authenticated above for this media type
        return await _update(request, backend, settings, update, url_params, writer)
    if media != "application/x-www-form-urlencoded":
        return error_response(
            415,
            "Send en spørring som application/sparql-query, en oppdatering som "
            "application/sparql-update, eller et skjema (application/x-www-form-urlencoded).",
            "Send a query as application/sparql-query, an update as "
            "application/sparql-update, or a form (application/x-www-form-urlencoded).",
            f"Content-Type: {media or '(mangler / missing)'}",
        )
    body = await read_body(request, settings.max_body_bytes)
    try:
        form = _params(body.decode("utf-8"))
    except UnicodeDecodeError:
        return error_response(400, "Skjemaet er ikke UTF-8.", "The form is not UTF-8.")
    params = {key: url_params.get(key, []) + form.get(key, []) for key in {*url_params, *form}}
    if "query" in params and "update" in params:
        return error_response(
            400,
            "Send enten query eller update, ikke begge.",
            "Send either query or update, not both.",
        )
    if "update" in params:
        writer = authenticate(request, settings)
        update = _single(params, "update")
        return await _update(request, backend, settings, update, params, writer)
    open_to_any_origin(request)
    query = _single(params, "query")
    return allow_any_origin(await _query(request, backend, settings, query, params))


@router.api_route("/sparql", methods=["PUT", "DELETE", "PATCH"], include_in_schema=False)
async def sparql_other_methods() -> Response:
    return error_response(
        405,
        "SPARQL-endepunktet tar imot GET og POST.",
        "The SPARQL endpoint accepts GET and POST.",
        headers={"Allow": "GET, HEAD, POST, OPTIONS"},
    )


@router.options("/sparql", include_in_schema=False)
async def sparql_preflight() -> Response:
    return preflight("GET, HEAD, POST")


class DirectSparql:
    """ASGI middleware, the innermost one: GET, HEAD and POST ``/sparql`` go straight to
    ``sparql_get``/``sparql_post``, past FastAPI's routing and dependency solving.

    Why: on a light query (bench/, issue 21) the server process spent about a fifth of
    its time between the last middleware and the handler (the exception and exit-stack
    layers, matching the path against every route, solving the two dependencies). The
    handlers are the same, and so is everything around them: the middlewares outside
    this one (access log, security headers, metrics, admission, the start-up gate, the
    body limit) see the request as before, the metrics and the log get the route they
    would have got (``scope["route"]``), and an exception is answered by the handler
    the app registered for it (``ServiceError``, the 413 of the body limit), or goes on
    to the server-error layer as it would have. Other methods and paths go on to the app.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.handlers = {"GET": sparql_get, "HEAD": sparql_get, "POST": sparql_post}
        self.routes = {
            method: route
            for route in router.routes
            if isinstance(route, APIRoute) and route.path == "/sparql"
            for method in route.methods or ()
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler = self.handlers.get(scope.get("method", "")) if scope["type"] == "http" else None
        if handler is None or scope["path"] != "/sparql":
            await self.app(scope, receive, send)
            return
        scope["route"] = self.routes[scope["method"]]
        request = Request(scope, receive, send)
        app = scope["app"]
        try:
            response = await handler(request, app.state.backend, app.state.settings)
        except Exception as error:
            answer = _registered_handler(app.exception_handlers, error)
            if answer is None:
                raise
            response = await answer(request, error)
        await response(scope, receive, send)


def _registered_handler(
    handlers: dict[Any, Callable[[Request, Exception], Awaitable[Response]]], error: Exception
) -> Callable[[Request, Exception], Awaitable[Response]] | None:
    """The exception handler the app would pick for ``error`` (as Starlette's exception
    layer does): one for an HTTP error's status, else the one for the nearest class."""
    if isinstance(error, StarletteHTTPException) and error.status_code in handlers:
        return handlers[error.status_code]
    for kind in type(error).__mro__:
        if kind in handlers:
            return handlers[kind]
    return None
