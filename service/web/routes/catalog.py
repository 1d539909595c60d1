"""/catalog (DCAT-AP-NO for Felles datakatalog) and /services (CPSV-AP-NO).

A harvester gets Turtle, RDF/XML or JSON-LD by ``Accept`` (or ``format=``); a
browser asking for ``/catalog/{kommunenummer}`` gets the municipality's to-do list
instead: what is in its catalogue, and which datasets are left out and why.

The graph is read through the backend (deadline, worker processes, either store);
building and serialising the catalogue is CPU work, so it runs in a thread and the
event loop stays free.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

import pyoxigraph as ox
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCAT, DCTERMS, RDF, SKOS

from loaders.namespaces import CV, KG
from service.errors import ServiceError
from service.exports.cpsv import build_services
from service.exports.dcat import catalogue_iri, label
from service.exports.extract import (
    NOT_EXPORTABLE,
    Blocker,
    UnknownMunicipalityError,
    municipality_iri,
    read_services,
)
from service.exports.output import serialize
from service.exports.published import NATIONAL, Catalogues, Rendered, municipality_summaries
from service.exports.quality import MQA, NOT_CHECKED, advice
from service.exports.quality import maximum as quality_maximum
from service.exports.quality import metrics as quality_metrics
from service.pages.render import page
from service.settings import Settings
from service.store.backend import Backend
from service.web.dependencies import BackendDep, SettingsDep, published_catalogues
from service.web.negotiation import negotiate
from service.web.page_cache import http_date, not_modified
from service.web.responses import Moved, allow_any_origin, error_response

router = APIRouter(tags=["Felles datakatalog"])

RDF_TYPES = ["text/turtle", "application/rdf+xml", "application/ld+json"]
"""Turtle first: a harvester that sends no Accept (or ``*/*``) gets Turtle."""
PAGE_TYPES = [*RDF_TYPES, "text/html"]
FORMATS = {
    "turtle": "text/turtle",
    "ttl": "text/turtle",
    "rdfxml": "application/rdf+xml",
    "xml": "application/rdf+xml",
    "jsonld": "application/ld+json",
    "json-ld": "application/ld+json",
    "html": "text/html",
    "json": "application/json",
}
DOWNLOADS = (("Turtle", "turtle"), ("RDF/XML", "rdfxml"), ("JSON-LD", "jsonld"))
VARY = {"Vary": "Accept"}


def _media(request: Request, offered: list[str]) -> str | None:
    return negotiate(request, offered, FORMATS)


def _not_acceptable(offered: list[str]) -> ServiceError:
    return ServiceError(
        406,
        "Kan ikke levere i et format du godtar. Tilgjengelig: " + ", ".join(offered),
        "Cannot answer in a format you accept. Available: " + ", ".join(offered),
        headers=VARY,
    )


def _unknown(kommunenummer: str) -> ServiceError:
    return ServiceError(
        404,
        f"Ukjent kommunenummer: {kommunenummer!r}. Et kommunenummer har fire siffer, f.eks. 4203.",
        f"Unknown municipality number: {kommunenummer!r}. It has four digits, e.g. 4203.",
        headers=VARY,
    )


def _rdf(graph: Graph, media: str) -> Response:
    return allow_any_origin(Response(serialize(graph, media), media_type=media, headers=VARY))


@dataclass(frozen=True)
class Row:
    iri: str
    name: str


def _municipality(source: Graph, kommune: str) -> URIRef | None:
    node = URIRef(kommune)
    return node if (node, RDF.type, KG.Municipality) in source else None


def _published(catalogues: Catalogues, number: str, base_iri: str) -> list[Row]:
    source = catalogues.source.graph
    wanted = str(catalogue_iri(base_iri, number))
    found = (
        str(t.object.value)
        for t in catalogues.parts.get(number, [])
        if isinstance(t.subject, ox.NamedNode)
        and isinstance(t.object, ox.NamedNode)
        and t.subject.value == wanted
        and t.predicate.value == str(DCAT.dataset)
    )
    return sorted(
        (Row(d, label(source, URIRef(d)) or d) for d in found), key=lambda r: r.name.casefold()
    )


def _left_out(blockers: list[Blocker]) -> list[tuple[Row, list[Blocker]]]:
    grouped: dict[str, list[Blocker]] = {}
    for blocker in blockers:
        grouped.setdefault(blocker.dataset, []).append(blocker)
    rows = [(Row(iri, found[0].dataset_name), found) for iri, found in grouped.items()]
    return sorted(rows, key=lambda row: row[0].name.casefold())


def _published_response(request: Request, rendered: Rendered, media: str) -> Response:
    headers = {
        **VARY,
        "ETag": rendered.etag,
        "Last-Modified": http_date(rendered.last_modified),
        "Cache-Control": "no-cache",
    }
    if not_modified(request, rendered.etag, rendered.last_modified):
        return allow_any_origin(Response(status_code=304, headers=headers))
    return allow_any_origin(Response(rendered.body, media_type=media, headers=headers))


@router.get(
    "/catalog",
    summary="DCAT-AP-NO-katalog for alle kommuner / DCAT-AP-NO catalogue of every municipality",
    description="Én dcat:Catalog per kommune med organisasjonsnummer; Turtle, RDF/XML eller "
    "JSON-LD etter Accept eller format=. Bygget én gang per endring av dataene; ETag og "
    "Last-Modified gir 304. / One dcat:Catalog per municipality with an organisation number; "
    "Turtle, RDF/XML or JSON-LD by Accept or format=. Built once per change of the data; "
    "ETag and Last-Modified give 304.",
)
async def catalogue_all(request: Request, backend: BackendDep, settings: SettingsDep) -> Response:
    media = _media(request, PAGE_TYPES)
    if media is None:
        raise _not_acceptable(PAGE_TYPES)
    catalogues = await published_catalogues(request, backend, settings).get()
    if media == "text/html":
        summaries = await asyncio.to_thread(municipality_summaries, catalogues)
        return await page(
            "catalog_overview.html",
            request,
            headers=VARY,
            summaries=summaries,
            downloads=DOWNLOADS,
            query=NOT_EXPORTABLE,
            maximum=quality_maximum(),
            datasets=catalogues.published,
        )
    rendered = await asyncio.to_thread(catalogues.render, NATIONAL, media)
    return _published_response(request, rendered, media)


async def _one(
    kommunenummer: str, request: Request, backend: Backend, settings: Settings
) -> tuple[Catalogues, URIRef]:
    """The catalogues and the municipality; raises 404 for an unknown one and a 301 to
    today's number for one merged into another."""
    try:
        kommune = municipality_iri(kommunenummer, settings.base_iri)
        catalogues = await published_catalogues(request, backend, settings).get()
    except UnknownMunicipalityError:
        raise _unknown(kommunenummer) from None
    node = _municipality(catalogues.source.graph, kommune)
    if node is None:
        raise _unknown(kommunenummer)
    successor = catalogues.source.graph.value(node, DCTERMS.isReplacedBy)
    if successor is not None:
        number = catalogues.source.graph.value(successor, KG.municipalityNumber)
        tail = request.url.path.removeprefix(f"/catalog/{kommunenummer}")
        query = f"?{request.url.query}" if request.url.query else ""
        raise Moved(f"/catalog/{number}{tail}{query}", VARY)
    return catalogues, node


@dataclass(frozen=True)
class OneCatalogue:
    """A municipality's catalogue, in the format the client asked for."""

    media: str
    catalogues: Catalogues
    node: URIRef


def _one_in(offered: list[str]) -> Callable[..., Awaitable[OneCatalogue]]:
    """A dependency: 406 when no format of ``offered`` is acceptable, then ``_one``."""

    async def one(
        kommunenummer: str, request: Request, backend: BackendDep, settings: SettingsDep
    ) -> OneCatalogue:
        media = _media(request, offered)
        if media is None:
            raise _not_acceptable(offered)
        return OneCatalogue(media, *await _one(kommunenummer, request, backend, settings))

    return one


@router.get(
    "/catalog/{kommunenummer}",
    summary="Kommunens DCAT-AP-NO-katalog / The municipality's DCAT-AP-NO catalogue",
    description="RDF for høsting, eller en side med datasettene som er holdt utenfor og "
    "hvorfor. / RDF for harvesting, or a page with the datasets left out and why.",
)
async def catalogue_one(
    kommunenummer: str,
    request: Request,
    one: Annotated[OneCatalogue, Depends(_one_in(PAGE_TYPES))],
    settings: SettingsDep,
) -> Response:
    media, catalogues, node = one.media, one.catalogues, one.node
    source = catalogues.source
    orgnr = source.graph.value(node, KG.organisationNumber)
    if media != "text/html":
        if orgnr is None or kommunenummer not in catalogues.parts:
            return error_response(
                404,
                f"Kommune {kommunenummer} har ingen katalog å publisere: organisasjonsnummeret "
                f"mangler. Siden /catalog/{kommunenummer} viser hva som mangler.",
                f"Municipality {kommunenummer} has no catalogue to publish: its organisation "
                f"number is missing. The page /catalog/{kommunenummer} shows what is missing.",
                headers=VARY,
            )
        rendered = await asyncio.to_thread(catalogues.render, kommunenummer, media)
        return _published_response(request, rendered, media)
    rated = catalogues.quality_of(str(node))
    return await page(
        "catalog.html",
        request,
        headers=VARY,
        kommunenummer=kommunenummer,
        name=label(source.graph, node) or kommunenummer,
        organisation_number=None if orgnr is None else str(orgnr),
        published=_published(catalogues, kommunenummer, settings.base_iri),
        left_out=_left_out([b for b in source.blockers if b.kommune == str(node)]),
        downloads=DOWNLOADS,
        query=NOT_EXPORTABLE,
        score=round(sum(q.total for q in rated) / len(rated)) if rated else None,
        maximum=quality_maximum(),
    )


QUALITY_TYPES = ["application/json", "text/html"]


@router.get(
    "/catalog/{kommunenummer}/kvalitet",
    summary="Metadatakvalitet som data.norge.no måler den / Metadata quality as data.norge.no "
    "rates it",
    description="Hvert datasett, hver metrikk (dcatno-mqa-IRI), poeng, sum og maksimum; som "
    "JSON, eller en side med hva som bør fylles ut. / Each dataset, each metric (by its "
    "dcatno-mqa IRI), score, total and maximum; as JSON, or a page of what to fill in.",
)
async def catalogue_quality(
    kommunenummer: str,
    request: Request,
    one: Annotated[OneCatalogue, Depends(_one_in(QUALITY_TYPES))],
) -> Response:
    media, catalogues, node = one.media, one.catalogues, one.node
    source = catalogues.source.graph
    rated = catalogues.quality_of(str(node))
    name = label(source, node) or kommunenummer
    orgnr = source.value(node, KG.organisationNumber)
    if media == "application/json":
        body = {
            "kommunenummer": kommunenummer,
            "name": name,
            "organisationNumber": None if orgnr is None else str(orgnr),
            "vocabulary": str(MQA),
            "notChecked": sorted(str(m) for m in NOT_CHECKED),
            "total": sum(q.total for q in rated),
            "maximum": sum(q.maximum for q in rated),
            "datasets": [q.as_json() for q in rated],
        }
        return allow_any_origin(JSONResponse(body, headers=VARY))
    return await page(
        "catalog_quality.html",
        request,
        headers=VARY,
        kommunenummer=kommunenummer,
        name=name,
        rated=rated,
        maximum=quality_maximum(),
        advice=advice,
        metrics=quality_metrics(),
    )


async def _services(
    request: Request, backend: BackendDep, base_iri: str, kommunenummer: str | None
) -> Response:
    media = _media(request, PAGE_TYPES)
    if media is None:
        raise _not_acceptable(PAGE_TYPES)
    try:
        source = await read_services(backend, kommunenummer, base_iri)
    except UnknownMunicipalityError:
        raise _unknown(kommunenummer or "") from None
    if kommunenummer is not None:
        kommune = municipality_iri(kommunenummer, base_iri)
        if (URIRef(kommune), KG.county, None) not in source:
            raise _unknown(kommunenummer)
    if media == "text/html":
        return await page(
            "services.html",
            request,
            headers=VARY,
            services=await asyncio.to_thread(_service_rows, source),
            kommunenummer=kommunenummer,
            downloads=DOWNLOADS,
        )
    services = await asyncio.to_thread(build_services, source)
    return await asyncio.to_thread(_rdf, services, media)


@dataclass(frozen=True)
class ServiceRow:
    iri: str
    name: str
    description: str
    laws: list[Row]
    themes: list[str]


def _service_rows(source: Graph) -> list[ServiceRow]:
    """The statutory services for the page: name, legal basis, LOS theme."""
    rows = []
    for service in source.subjects(RDF.type, KG.StatutoryService):
        laws = [
            Row(str(law), label(source, law) or str(law))
            for law in source.objects(service, CV.hasLegalResource)
        ]
        themes = [
            str(next((v for v in source.objects(t, SKOS.prefLabel) if _nb(v)), t))
            for t in source.objects(service, CV.thematicArea)
        ]
        rows.append(
            ServiceRow(
                str(service),
                label(source, service) or str(service),
                str(source.value(service, DCTERMS.description) or ""),
                sorted(laws, key=lambda r: r.name),
                sorted(themes),
            )
        )
    return sorted(rows, key=lambda r: r.name.casefold())


def _nb(value: object) -> bool:
    return isinstance(value, Literal) and value.language == "nb"


@router.get(
    "/services",
    summary="Lovpålagte tjenester som CPSV-AP-NO / Statutory services as CPSV-AP-NO",
    description="Hver tjeneste med hjemmel, LOS-tema og alle kommuner som kompetent organ. / "
    "Each service with its legal basis, LOS theme and every municipality as competent authority.",
)
async def services_all(request: Request, backend: BackendDep, settings: SettingsDep) -> Response:
    return await _services(request, backend, settings.base_iri, None)


@router.get(
    "/services/{kommunenummer}",
    summary="Kommunens lovpålagte tjenester som CPSV-AP-NO / "
    "The municipality's statutory services as CPSV-AP-NO",
)
async def services_one(
    kommunenummer: str, request: Request, backend: BackendDep, settings: SettingsDep
) -> Response:
    return await _services(request, backend, settings.base_iri, kommunenummer)
