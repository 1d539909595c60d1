"""Canned queries over HTTP: ``GET /queries`` lists them, ``GET /queries/{name}`` runs one.

Why one route per query: each query's parameters then appear in the OpenAPI
document with their types, read from the ``.rq`` header, so API clients (and the
schemathesis fuzzing) see the real contract. A generic ``/queries/{name}`` route
behind them answers unknown names with the list of known ones.

Results: SPARQL JSON, XML, CSV or TSV as the worker writes them, by ``format=`` or
Accept; a browser (or ``format=html``) is sent (303) to the query's page in the
gallery, which shows the same answer as a table. The query runs in a worker process
with the query's own deadline (``timeout`` in its header), like every other query.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse

from service.settings import Settings
from service.sparql.canned import CannedQuery, canned_queries
from service.store.backend import Backend
from service.web.negotiation import best_match
from service.web.parameters import resolve_short_forms
from service.web.responses import error_response

RESULT_FORMATS = {
    "json": "application/sparql-results+json",
    "xml": "application/sparql-results+xml",
    "csv": "text/csv",
    "tsv": "text/tab-separated-values",
    "html": "text/html",
}
RESULT_TYPES = [*RESULT_FORMATS.values(), "application/json"]
"""SPARQL JSON first: a client that sends no Accept (or */*) is a program."""
_CONTROL = {"format", "lang"}
"""Query-string keys that steer the response rather than bind a parameter."""


def describe(query: CannedQuery) -> dict[str, Any]:
    """A query's metadata as JSON, as clients of ``GET /queries`` see it."""
    return {
        "name": query.name,
        "path": f"/queries/{query.name}",
        "title": dict(query.title),
        "description": dict(query.description),
        "tags": list(query.tags),
        "timeout": query.timeout,
        "parameters": [
            {
                "name": p.name,
                "type": p.type,
                "required": p.required,
                "default": p.default,
                "class": p.iri_class,
                "min": p.minimum,
                "max": p.maximum,
                "description": dict(p.description),
            }
            for p in query.parameters
        ],
        "columns": [
            {"name": name, "description": dict(meaning)} for name, meaning in query.columns.items()
        ],
    }


def _wants_html(request: Request) -> bool:
    asked = request.query_params.get("format")
    if asked:
        return asked.strip().lower() == "html"
    return best_match(request.headers.get("accept"), ["application/json", "text/html"]) == (
        "text/html"
    )


async def list_queries(request: Request) -> Response:
    if _wants_html(request):
        return RedirectResponse(_page("/sporringer", request), status_code=303)
    queries = sorted(canned_queries().values(), key=lambda q: q.name)
    return JSONResponse([describe(q) for q in queries])


def _page(path: str, request: Request, **extra: str) -> str:
    """The gallery page (``service.web.routes.gallery``) for this request, its parameters kept."""
    kept = [(k, v) for k, v in request.query_params.multi_items() if k != "format"]
    query = urlencode([*kept, *extra.items()])
    return f"{path}?{query}" if query else path


def _media(request: Request) -> str | None:
    asked = request.query_params.get("format")
    if asked:
        return RESULT_FORMATS.get(asked.strip().lower())
    chosen = best_match(request.headers.get("accept"), RESULT_TYPES)
    return "application/sparql-results+json" if chosen == "application/json" else chosen


async def run_query(query: CannedQuery, request: Request) -> Response:
    """Bind the request's parameters, run the query, answer in the negotiated format."""
    backend: Backend = request.app.state.backend
    settings: Settings = request.app.state.settings
    media = _media(request)
    if media == "text/html":
        # People get the gallery's page for the query: the same answer as a table,
        # with the parameter form and a chart.
        return RedirectResponse(
            _page(f"/sporringer/{query.name}", request, run="1"),
            status_code=303,
            headers={"Vary": "Accept"},
        )
    if media is None:
        return error_response(
            406,
            "Ingen av formatene du ber om finnes; velg json, xml, csv, tsv eller html.",
            "None of the formats you ask for is available; choose json, xml, csv, tsv or html.",
            headers={"Vary": "Accept"},
        )
    values: dict[str, str] = {}
    for key, value in request.query_params.multi_items():
        if key in _CONTROL:
            continue
        if key in values:
            return error_response(
                422,
                f"Parameteren {key} er gitt mer enn én gang.",
                f"The parameter {key} is given more than once.",
            )
        values[key] = value
    values = await resolve_short_forms(query, values, backend)  # unknown: 422
    text = query.checked(values, settings.base_iri)  # a ParameterError is 422
    answer = await backend.execute(
        text, solutions_media=media, graph_media=None, timeout=query.timeout
    )
    return Response(answer.body, media_type=media, headers={"Vary": "Accept"})


def _route(query: CannedQuery) -> Any:
    async def handler(request: Request) -> Response:
        return await run_query(query, request)

    handler.__name__ = "query_" + query.name.replace("-", "_")
    return handler


_RESULTS_SCHEMA = {
    "description": "Svar / Results",
    "content": {
        "application/sparql-results+json": {"schema": {"type": "object"}},
        "application/sparql-results+xml": {"schema": {"type": "string"}},
        "text/csv": {"schema": {"type": "string"}},
        "text/tab-separated-values": {"schema": {"type": "string"}},
        "text/html": {"schema": {"type": "string"}},
    },
}
_ERRORS = {
    "406": {"description": "Ukjent format / Unknown format"},
    "422": {"description": "Ugyldig parameter / Invalid parameter"},
    "503": {"description": "Spørringen brukte for lang tid / The query ran too long"},
}


def mount(app: FastAPI) -> None:
    """Add ``/queries``, one route per canned query, and the catch-all for unknown names."""
    router = APIRouter(tags=["Ferdige spørringer / Canned queries"])
    router.add_api_route(
        "/queries",
        list_queries,
        methods=["GET"],
        summary="Ferdige spørringer / Canned queries",
        description="Spørringene med metadata (JSON), eller som nettside. "
        "/ The queries with their metadata (JSON), or as a web page.",
        response_class=JSONResponse,
    )
    format_parameter = {
        "name": "format",
        "in": "query",
        "required": False,
        "description": "Svarformat (overstyrer Accept) / Result format (overrides Accept)",
        "schema": {"type": "string", "enum": list(RESULT_FORMATS)},
    }
    for query in sorted(canned_queries().values(), key=lambda q: q.name):
        router.add_api_route(
            f"/queries/{query.name}",
            _route(query),
            methods=["GET"],
            summary=f"{query.title['nb']} / {query.title['en']}",
            description=f"{query.description['nb']}\n\n{query.description['en']}",
            openapi_extra={
                "parameters": [p.openapi() for p in query.parameters] + [format_parameter],
                "responses": {"200": _RESULTS_SCHEMA, **_ERRORS},
            },
            response_class=Response,
        )
    router.add_api_route(
        "/queries/{name}",
        unknown_query,
        methods=["GET"],
        include_in_schema=False,
    )
    app.include_router(router)


async def unknown_query(name: str) -> Response:
    known = ", ".join(sorted(canned_queries()))
    return error_response(
        404,
        f"Ingen ferdig spørring heter «{name[:80]}». Disse finnes: {known}.",
        f"No canned query is called '{name[:80]}'. These exist: {known}.",
    )
