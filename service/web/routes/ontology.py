"""/ontology, /ontology/{term} and /shapes: the vocabulary, to people and to programs.

One URL per document, two audiences: a browser (Accept: text/html) gets the
generated documentation page, a program gets the RDF itself in the syntax it
asks for, by Accept or ``?format=``. A program that states no preference gets
Turtle, like /sparql's service description: a browser always states one.
A term's own path (/ontology/Municipality) sends a browser to its anchor on the
page (/ontology#Municipality) and a program the term's triples.
"""

from __future__ import annotations

import asyncio
from functools import cache

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from rdflib import Graph

from loaders.namespaces import bind_prefixes
from loaders.validation import ontology_graph, shapes_graph
from service.errors import ServiceError
from service.pages.ontology_docs import (
    KIND_NAMES,
    ontology_header,
    ontology_terms,
    spreadsheet_contract,
    term_graph,
)
from service.pages.render import render
from service.sparql.formats import GRAPH_FORMATS, RDF_MEDIA
from service.web.negotiation import best_match, not_acceptable
from service.web.responses import allow_any_origin, error_response

router = APIRouter(tags=["Ontologi / Ontology"])

HTML = "text/html"
OFFERED = [*RDF_MEDIA, HTML]
"""RDF first: a client that sends no Accept (or */*) is a program, not a browser."""
_FORMATS = {**GRAPH_FORMATS, "html": HTML}


def _media(request: Request) -> str:
    """The media type to answer with, or the 406 response when there is none."""
    asked = request.query_params.get("format")
    if asked is not None:
        media = _FORMATS.get(asked.strip().lower())
        if media is None:
            raise ServiceError(
                400,
                f"Ukjent format «{asked}».",
                f"Unknown format '{asked}'.",
                "Available: " + ", ".join(sorted(_FORMATS)),
            )
        return media
    chosen = best_match(request.headers.get("accept"), OFFERED)
    if chosen is None:
        raise not_acceptable("dokumentet", "the document", OFFERED)
    return chosen


@cache
def _serialised(which: str, media: str) -> bytes:
    graph = ontology_graph() if which == "ontology" else shapes_graph()
    return graph.serialize(format=RDF_MEDIA[media], encoding="utf-8")


def _rdf(body: bytes, media: str) -> Response:
    return allow_any_origin(Response(body, media_type=media, headers={"Vary": "Accept"}))


@router.get("/ontology", summary="Ontologien / The ontology (HTML or RDF)")
async def ontology(request: Request) -> Response:
    media = _media(request)
    if media != HTML:
        return _rdf(await asyncio.to_thread(_serialised, "ontology", media), media)
    terms = await asyncio.to_thread(lambda: list(ontology_terms().values()))
    page = render(
        "ontology.html",
        request,
        header=ontology_header(),
        terms=terms,
        kinds=list(KIND_NAMES.items()),
    )
    return HTMLResponse(page, headers={"Vary": "Accept"})


@router.get("/ontology/{name}", summary="Ett begrep i ontologien / One ontology term")
async def ontology_term(name: str, request: Request) -> Response:
    graph: Graph | None = await asyncio.to_thread(term_graph, name)
    if graph is None:
        return error_response(
            404,
            f"Ontologien har ikke noe begrep som heter «{name}».",
            f"The ontology has no term named '{name}'.",
            "Se / see /ontology",
        )
    media = _media(request)
    if media == HTML:
        return RedirectResponse(f"/ontology#{name}", status_code=303, headers={"Vary": "Accept"})
    body = await asyncio.to_thread(
        lambda: bind_prefixes(graph).serialize(format=RDF_MEDIA[media], encoding="utf-8")
    )
    return _rdf(body, media)


@router.get("/shapes", summary="SHACL-formene og regnearkkolonnene / Shapes and columns")
async def shapes(request: Request) -> Response:
    media = _media(request)
    if media != HTML:
        return _rdf(await asyncio.to_thread(_serialised, "shapes", media), media)
    contract = await asyncio.to_thread(spreadsheet_contract)
    page = render("shapes.html", request, sheets=contract)
    return HTMLResponse(page, headers={"Vary": "Accept"})
