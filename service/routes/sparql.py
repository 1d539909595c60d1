"""The SPARQL query endpoint at ``/sparql`` (SPARQL 1.1 Protocol, query operation).

Query by GET, by POST form and by POST direct, with ``default-graph-uri`` and
``named-graph-uri``. Every query runs in a worker process with a deadline (see
``service.query_pool``); the handler only awaits it, so the event loop is never
blocked and other requests are answered meanwhile.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, PlainTextResponse

from service.dependencies import BackendDep
from service.negotiation import best_match
from service.pages import render
from service.query_pool import QuerySyntaxError, QueryTimeoutError, WorkerCrashedError

router = APIRouter(tags=["SPARQL"])

SOLUTION_TYPES = [
    "application/sparql-results+json",
    "application/sparql-results+xml",
    "text/csv",
    "text/tab-separated-values",
    "application/json",
]
GRAPH_TYPES = [
    "text/turtle",
    "application/n-triples",
    "application/ld+json",
    "application/rdf+xml",
]
FORMAT_ALIASES = {
    "json": "application/sparql-results+json",
    "xml": "application/sparql-results+xml",
    "csv": "text/csv",
    "tsv": "text/tab-separated-values",
    "turtle": "text/turtle",
    "ttl": "text/turtle",
    "nt": "application/n-triples",
    "jsonld": "application/ld+json",
    "rdfxml": "application/rdf+xml",
}


def error_response(status: int, nb: str, en: str, detail: str = "") -> PlainTextResponse:
    """A plain-text error, Norwegian first, English after, then the technical detail."""
    text = f"{nb}\n{en}\n" + (f"\n{detail}\n" if detail else "")
    return PlainTextResponse(text, status_code=status)


def _accept(request: Request, params: dict[str, list[str]]) -> str | None:
    formats = params.get("format")
    if formats:
        # format= overrides Accept. It may name a type that does not fit the kind of
        # result (format=csv on a CONSTRUCT): then the default for that kind is used.
        wanted = [FORMAT_ALIASES.get(f.lower(), f) for f in formats]
        return ", ".join([*wanted, "*/*;q=0.001"])
    return request.headers.get("accept")


async def _answer(
    request: Request, backend: BackendDep, query: str, params: dict[str, list[str]]
) -> Response:
    accept = _accept(request, params)
    default_graphs = params.get("default-graph-uri")
    named_graphs = params.get("named-graph-uri")
    try:
        answer = await backend.execute(
            query,
            solutions_media=best_match(accept, SOLUTION_TYPES),
            graph_media=best_match(accept, GRAPH_TYPES),
            default_graphs=tuple(default_graphs) if default_graphs is not None else None,
            named_graphs=tuple(named_graphs) if named_graphs is not None else None,
        )
    except QuerySyntaxError as error:
        return error_response(
            400, "Ugyldig SPARQL-spørring.", "Malformed SPARQL query.", str(error)
        )
    except QueryTimeoutError as error:
        return error_response(
            503,
            f"Spørringen brukte mer enn {error.seconds:g} sekunder og ble stoppet.",
            f"The query ran longer than {error.seconds:g} seconds and was stopped.",
            "Gjør spørringen mer avgrenset, eller bruk LIMIT. / Narrow the query or use LIMIT.",
        )
    except WorkerCrashedError as error:
        return error_response(
            503, "Spørringen stoppet uventet.", "The query stopped unexpectedly.", str(error)
        )
    if answer.media is None:
        offered = GRAPH_TYPES if answer.kind == "graph" else SOLUTION_TYPES
        return error_response(
            406,
            "Kan ikke levere svaret i et format du godtar.",
            "Cannot answer in a format you accept.",
            "Available: " + ", ".join(offered),
        )
    return Response(answer.body, media_type=answer.media, headers={"Vary": "Accept"})


def _single_query(params: dict[str, list[str]]) -> str | Response:
    queries = params.get("query", [])
    if len(queries) != 1:
        return error_response(
            400, "Send nøyaktig én parameter query.", "Send exactly one query parameter."
        )
    return queries[0]


@router.get("/sparql", summary="SPARQL query (GET) / SPARQL-spørring")
async def sparql_get(request: Request, backend: BackendDep) -> Response:
    params = parse_qs(request.url.query, keep_blank_values=True)
    if "query" not in params:
        return HTMLResponse(render("sparql.html", request, query=""))
    query = _single_query(params)
    if isinstance(query, Response):
        return query
    return await _answer(request, backend, query, params)


@router.post("/sparql", summary="SPARQL query (POST form or direct)")
async def sparql_post(request: Request, backend: BackendDep) -> Response:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    params = parse_qs(request.url.query, keep_blank_values=True)
    body = await request.body()
    if content_type == "application/sparql-query":
        if "query" in params:
            return error_response(
                400,
                "Spørringen kan ikke både stå i URL-en og i kroppen.",
                "The query cannot be both in the URL and in the body.",
            )
        try:
            query: str | Response = body.decode("utf-8")
        except UnicodeDecodeError:
            return error_response(400, "Spørringen er ikke UTF-8.", "The query is not UTF-8.")
    elif content_type == "application/x-www-form-urlencoded":
        params = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
        query = _single_query(params)
    else:
        return error_response(
            415,
            "Send spørringen som application/sparql-query eller som skjema.",
            "Send the query as application/sparql-query or as a form.",
        )
    if isinstance(query, Response):
        return query
    return await _answer(request, backend, query, params)
