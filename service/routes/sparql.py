"""The SPARQL query endpoint at ``/sparql``.

Query by GET, by POST form and by POST direct (SPARQL 1.1 Protocol §2.1). The
query runs in a worker thread, never on the event loop, so one slow query does
not stall other requests.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qs

import pyoxigraph as ox
from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, PlainTextResponse

from service.dependencies import SettingsDep, StoreDep
from service.negotiation import best_match
from service.pages import render

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


def _error(status: int, nb: str, en: str, detail: str = "") -> PlainTextResponse:
    text = f"{nb}\n{en}\n" + (f"\n{detail}\n" if detail else "")
    return PlainTextResponse(text, status_code=status)


def _execute(
    store: StoreDep, query: str, accept: str | None, fmt: str | None, base_iri: str
) -> Response:
    try:
        results = store.query(query, base_iri=base_iri)
    except SyntaxError as error:
        return _error(400, "Ugyldig SPARQL-spørring.", "Malformed SPARQL query.", str(error))
    wanted = FORMAT_ALIASES.get(fmt.lower(), fmt) if fmt else None
    if isinstance(results, ox.QueryTriples):
        media = best_match(wanted or accept, GRAPH_TYPES)
        if media is None:
            return _error(
                406,
                "Kan ikke levere svaret i formatet du ba om.",
                "Not acceptable.",
                ", ".join(GRAPH_TYPES),
            )
        body = results.serialize(format=ox.RdfFormat.from_media_type(media))
    else:
        media = best_match(wanted or accept, SOLUTION_TYPES)
        if media is None:
            return _error(
                406,
                "Kan ikke levere svaret i formatet du ba om.",
                "Not acceptable.",
                ", ".join(SOLUTION_TYPES),
            )
        served = "application/sparql-results+json" if media == "application/json" else media
        body = results.serialize(format=ox.QueryResultsFormat.from_media_type(served))
    return Response(body or b"", media_type=media, headers={"Vary": "Accept"})


@router.get("/sparql", summary="SPARQL query (GET) / SPARQL-spørring")
def sparql_get(
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    query: Annotated[str | None, Query(description="SPARQL 1.1 query")] = None,
    format: Annotated[
        str | None, Query(description="json, xml, csv, tsv, turtle, nt, jsonld, rdfxml")
    ] = None,
) -> Response:
    if query is None:
        return HTMLResponse(render("sparql.html", request, query=""))
    return _execute(store, query, request.headers.get("accept"), format, settings.base_iri)


@router.post("/sparql", summary="SPARQL query (POST form or direct)")
async def sparql_post(request: Request, store: StoreDep, settings: SettingsDep) -> Response:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    fmt = request.query_params.get("format")
    if content_type == "application/sparql-query":
        query = (await request.body()).decode("utf-8")
    elif content_type == "application/x-www-form-urlencoded":
        form = parse_qs((await request.body()).decode("utf-8"), keep_blank_values=True)
        if len(form.get("query", [])) != 1:
            return _error(
                400, "Send nøyaktig én parameter query.", "Send exactly one query parameter."
            )
        query = form["query"][0]
        fmt = fmt or next(iter(form.get("format", [])), None)
    else:
        return _error(
            415,
            "Send spørringen som application/sparql-query eller som skjema.",
            "Send the query as application/sparql-query or as a form.",
        )
    accept = request.headers.get("accept")
    return await run_in_threadpool(_execute, store, query, accept, fmt, settings.base_iri)
