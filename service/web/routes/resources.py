"""Dereferenceable IRIs: ``/id/...`` as an HTML page or as RDF, by content negotiation.

A browser gets a page; Turtle, N-Triples, JSON-LD and RDF/XML are chosen by
``Accept`` (with q-values) or ``format=``. Every answer says ``Vary: Accept``, so
caches keep the page and the data apart. An old kommunenummer answers 301 with
its successor, so links and harvested IRIs from before a reform keep working.

IRIs outside the base that the graph describes (Lovdata acts, LOS themes) get the
same treatment at ``/ressurs?iri=``.
"""

from __future__ import annotations

import asyncio
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import RedirectResponse

from service.access.audit import auditor
from service.pages.choropleth import Choropleth, Value, attribution, choropleth
from service.pages.class_sections import SECTIONS
from service.pages.dependency_graph import render_svg
from service.pages.history import history
from service.pages.render import language, page
from service.pages.resource_views import (
    KG,
    PROLOGUE,
    Dependencies,
    Description,
    Names,
    describe,
    iri_term,
    local_name,
    mentioned,
    successors,
)
from service.sparql.canned import CannedQuery, canned_queries
from service.sparql.formats import GRAPH_FORMATS, GRAPH_TYPES
from service.sparql.lexer import is_absolute_iri
from service.store.backend import Backend
from service.store.reads import Bounded, select
from service.web.dependencies import BackendDep, SettingsDep
from service.web.negotiation import negotiate
from service.web.page_cache import cached_page
from service.web.responses import error_response
from service.web.routes.kart import canned_map
from service.web.routes.search import suggestions

router = APIRouter(tags=["Linked data"])

PAGE_TYPES = ["text/html", *GRAPH_TYPES]
"""HTML first: a client that sends ``*/*`` (curl, a browser's link) gets a page."""
FORMATS = {**GRAPH_FORMATS, "html": "text/html"}
DOWNLOADS = (
    ("Turtle", "turtle"),
    ("N-Triples", "nt"),
    ("JSON-LD", "jsonld"),
    ("RDF/XML", "rdfxml"),
)
VARY = {"Vary": "Accept"}


def _media(request: Request) -> str | None:
    return negotiate(request, PAGE_TYPES, FORMATS)


def _construct(iri: str) -> str:
    """The resource's statements, the labels and types of what it links to, one
    level of blank nodes, and (up to 500) statements pointing at it."""
    node = iri_term(iri)
    return (
        PROLOGUE
        + f"""CONSTRUCT {{
          {node} ?p ?o . ?o ?labelling ?label . ?o a ?type . ?o ?bp ?bo . ?s ?ip {node} .
        }} WHERE {{
          {{ {node} ?p ?o .
            OPTIONAL {{ VALUES ?labelling {{ rdfs:label skos:prefLabel }} ?o ?labelling ?label }}
            OPTIONAL {{ FILTER(isIRI(?o)) ?o a ?type }}
            OPTIONAL {{ FILTER(isBlank(?o)) ?o ?bp ?bo }} }}
          UNION {{ SELECT ?s ?ip WHERE {{ ?s ?ip {node} }} LIMIT 500 }}
        }}"""
    )


async def _exists(backend: Backend, iri: str) -> bool:
    node = iri_term(iri)
    rows = await select(
        backend, f"SELECT ?x WHERE {{ {{ {node} ?x ?o }} UNION {{ ?s ?x {node} }} }} LIMIT 1"
    )
    return bool(rows)


def _analyses(description: Description) -> list[tuple[CannedQuery, str]]:
    """Canned queries that take this resource as their one needed parameter, with the
    link that runs them for it: read from the queries' headers, so a new query shows
    up on every page it fits."""
    number = description.first(KG + "municipalityNumber")
    found = []
    for query in canned_queries().values():
        for parameter in query.parameters:
            if parameter.type == "iri" and parameter.iri_class in description.types:
                value = description.iri
            elif (
                parameter.type == "kommunenummer"
                and number
                and description.has_type("Municipality")
            ):
                value = number
            else:
                continue
            if all(p is parameter or not p.required for p in query.parameters):
                link = f"/sporringer/{query.name}?" + urlencode({"run": "1", parameter.name: value})
                found.append((query, link))
            break
    return found


def _downloads(href: str) -> list[tuple[str, str, str]]:
    """(title, media type, link) of the page's data in each RDF format."""
    joiner = "&" if "?" in href else "?"
    return [(title, FORMATS[name], f"{href}{joiner}format={name}") for title, name in DOWNLOADS]


def _query_string(request: Request) -> str:
    kept = [(k, v) for k, v in request.query_params.multi_items() if k in ("format", "lang")]
    return ("?" + urlencode(kept)) if kept else ""


async def _not_found(
    request: Request, backend: Backend, names: Names, iri: str, media: str
) -> Response:
    if media != "text/html":
        return error_response(
            404,
            f"Grafen kjenner ikke {iri}.",
            f"The graph does not know {iri}.",
            "Søk / Search: /sok?q=…",
            headers=VARY,
        )
    hint = local_name(iri)
    close = await suggestions(backend, hint)
    await names.fetch(backend, {hit.iri for hit in close})
    return await page(
        "not_found.html",
        request,
        status_code=404,
        headers=VARY,
        iri=iri,
        q=hint,
        close=close,
        names=names,
    )


async def _split(
    request: Request, backend: Backend, names: Names, iri: str, later: list[str], media: str
) -> Response:
    """300 Multiple Choices: an old kommunenummer whose municipality was split.

    Which part a link meant cannot be known, so the answer lists today's
    municipalities (a page for browsers, one IRI per line otherwise) and names each
    in a ``Link`` header, rather than redirecting to one of them at random.
    """
    labels = await _labels(backend, later)
    links = ", ".join(f'<{names.href(n)}>; rel="alternate"' for n in later)
    headers = {**VARY, "Link": links}
    number = iri.rstrip("/").rsplit("/", 1)[-1]
    if media == "text/html":
        return await page(
            "split.html",
            request,
            status_code=300,
            headers=headers,
            number=number,
            parts=[(names.href(n), labels.get(n, n)) for n in later],
        )
    body = "".join(f"{n}\t{labels.get(n, '')}\n" for n in later)
    return Response(body, status_code=300, media_type="text/plain", headers=headers)


async def _labels(backend: Backend, iris: list[str]) -> dict[str, str]:
    values = " ".join(f"<{i}>" for i in iris)
    rows = await select(
        backend,
        "SELECT ?x ?n ?l WHERE { VALUES ?x { "
        + values
        + " } ?x <https://w3id.org/kommunegraf/ontology#municipalityNumber> ?n ; "
        "<http://www.w3.org/2000/01/rdf-schema#label> ?l }",
    )
    return {row["x"]: f"{row['n']} {row['l']}" for row in rows}


async def _answer(request: Request, backend: Backend, base_iri: str, iri: str) -> Response:
    media = _media(request)
    names = Names(base_iri, language(request))
    if media is None:
        return error_response(
            406,
            "Kan ikke levere ressursen i et format du godtar. Tilgjengelig: "
            + ", ".join(PAGE_TYPES),
            "Cannot describe the resource in a format you accept. Available: "
            + ", ".join(PAGE_TYPES),
            headers=VARY,
        )
    try:
        iri_term(iri)
    except ValueError:
        return await _not_found(request, backend, names, iri, media)
    later = await successors(backend, iri)
    if len(later) == 1:
        return RedirectResponse(
            names.href(later[0]) + _query_string(request), status_code=301, headers=VARY
        )
    if later:
        return await _split(request, backend, names, iri, later, media)
    if media != "text/html":
        if not await _exists(backend, iri):
            return await _not_found(request, backend, names, iri, media)
        answer = await backend.execute(_construct(iri), solutions_media=None, graph_media=media)
        return Response(answer.body, media_type=answer.media, headers=VARY)
    # The page's lookups, anchored on the resource or the IRIs it shows: a dozen, each
    # bounded by what one resource links to (see ``Bounded``).
    lookups = Bounded(backend)
    description = await describe(lookups, iri)
    if not description.exists:
        return await _not_found(request, backend, names, iri, media)
    iris = mentioned(description)
    kinds = [t[len(KG) :] for t in description.types if t.startswith(KG)]
    kind = next((k for k in kinds if k in SECTIONS), None)
    if kind is not None:
        sections, more = await SECTIONS[kind](lookups, iri)
        description.sections = sections
        iris |= more
    _, drawn, changes = await asyncio.gather(
        names.fetch(lookups, iris),
        _map(backend, base_iri, kind, iri, description, names.lang),
        history(lookups, auditor(request).log, iri),
    )
    if isinstance(description.sections.get("dependencies"), Dependencies):
        graph = description.sections["dependencies"].graph(names)
        description.sections["picture"] = await asyncio.to_thread(
            render_svg, graph, "avhengigheter"
        )
    return await page(
        "resource.html",
        request,
        headers=VARY,
        d=description,
        changes=changes,
        editable=any(
            t in (str(KG) + "ApplicationUsage", str(KG) + "Contract") for t in description.types
        ),
        kind=kind,
        names=names,
        downloads=_downloads(names.href(iri)),
        analyses=_analyses(description),
        self_href=names.href(iri),
        map=drawn,
        attribution=attribution(names.lang),
    )


RESOURCE_MAPS = {
    "Application": ("application-users", "application", False),
    "Vendor": ("vendor-users", "vendor", False),
    "StatutoryService": ("service-coverage", "service", True),
}
"""The map on a resource's page: the canned query that draws it, with the resource bound
to its parameter, and whether zero is a gap. A region's map is its members."""


async def _map(
    backend: Backend,
    base_iri: str,
    kind: str | None,
    iri: str,
    description: Description,
    lang: str,
) -> Choropleth | None:
    if kind == "Region":
        members = description.sections.get("members") or []
        numbers = frozenset(m.rsplit("/", 1)[-1] for m in members if m.startswith(base_iri))
        word = "member" if lang == "en" else "medlem"
        return (
            choropleth(
                {n: Value(None, word) for n in numbers},
                measure_nb="medlemmer",
                measure_en="members",
                lang=lang,
                only=numbers,
            )
            if numbers
            else None
        )
    if kind not in RESOURCE_MAPS:
        return None
    query, parameter, zero_is_gap = RESOURCE_MAPS[kind]
    return await canned_map(
        backend, base_iri, query, {parameter: iri}, lang=lang, zero_is_gap=zero_is_gap
    )


@router.api_route(
    "/id/{path:path}",
    methods=["GET", "HEAD"],
    summary="Ressurs / Resource",
    description="HTML eller RDF etter Accept eller format= / HTML or RDF by Accept or format=",
)
async def resource(
    path: str, request: Request, backend: BackendDep, settings: SettingsDep
) -> Response:
    iri = f"{settings.base_iri}id/{path}"
    return await cached_page(
        request, backend, lambda: _answer(request, backend, settings.base_iri, iri)
    )


@router.api_route(
    "/ressurs",
    methods=["GET", "HEAD"],
    summary="Ressurs utenfor basen / Resource outside the base",
)
async def outside_resource(
    request: Request,
    backend: BackendDep,
    settings: SettingsDep,
    iri: Annotated[str, Query(description="Ressursens IRI / The resource's IRI")],
) -> Response:
    if not is_absolute_iri(iri):
        return error_response(
            400,
            "Parameteren iri må være en absolutt IRI.",
            "The parameter iri must be an absolute IRI.",
            f"iri={iri[:200]!r}",
            headers=VARY,
        )
    if iri.startswith(settings.base_iri):
        names = Names(settings.base_iri, language(request))
        return RedirectResponse(
            names.href(iri) + _query_string(request), status_code=301, headers=VARY
        )
    return await cached_page(
        request, backend, lambda: _answer(request, backend, settings.base_iri, iri)
    )
