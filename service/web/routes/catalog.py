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
from collections import Counter
from dataclasses import dataclass

from fastapi import APIRouter, Request, Response
from rdflib import Graph, URIRef
from rdflib.namespace import DCAT, DCTERMS, RDF

from loaders.namespaces import KG
from service.exports.cpsv import build_services
from service.exports.dcat import build_catalogues, catalogue_iri, label
from service.exports.extract import (
    NOT_EXPORTABLE,
    Blocker,
    Source,
    UnknownMunicipalityError,
    municipality_iri,
    read_datasets,
    read_services,
)
from service.exports.output import serialize
from service.pages.render import html_page
from service.web.dependencies import BackendDep, SettingsDep
from service.web.negotiation import best_match
from service.web.responses import allow_any_origin, error_response

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
}
DOWNLOADS = (("Turtle", "turtle"), ("RDF/XML", "rdfxml"), ("JSON-LD", "jsonld"))
VARY = {"Vary": "Accept"}


def _media(request: Request, offered: list[str]) -> str | None:
    asked = request.query_params.get("format")
    if asked is not None:
        media = FORMATS.get(asked.strip().lower())
        return media if media in offered else None
    return best_match(request.headers.get("accept"), offered)


def _not_acceptable(offered: list[str]) -> Response:
    return error_response(
        406,
        "Kan ikke levere i et format du godtar. Tilgjengelig: " + ", ".join(offered),
        "Cannot answer in a format you accept. Available: " + ", ".join(offered),
        headers=VARY,
    )


def _unknown(kommunenummer: str) -> Response:
    return error_response(
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


@dataclass(frozen=True)
class Summary:
    """One municipality on the overview page."""

    kommunenummer: str
    name: str
    published: int
    left_out: int
    organisation_number: str | None


def _municipality(source: Graph, kommune: str) -> URIRef | None:
    node = URIRef(kommune)
    return node if (node, RDF.type, KG.Municipality) in source else None


def _published(catalogue: Graph, source: Graph, number: str, base_iri: str) -> list[Row]:
    iris = catalogue.objects(catalogue_iri(base_iri, number), DCAT.dataset)
    return sorted(
        (Row(str(d), label(source, d) or str(d)) for d in iris), key=lambda r: r.name.casefold()
    )


def _left_out(blockers: list[Blocker]) -> list[tuple[Row, list[Blocker]]]:
    grouped: dict[str, list[Blocker]] = {}
    for blocker in blockers:
        grouped.setdefault(blocker.dataset, []).append(blocker)
    rows = [(Row(iri, found[0].dataset_name), found) for iri, found in grouped.items()]
    return sorted(rows, key=lambda row: row[0].name.casefold())


def _summaries(source: Source) -> list[Summary]:
    blocked = {b.dataset for b in source.blockers}
    published: Counter[str] = Counter()
    left_out: Counter[str] = Counter()
    for dataset in source.graph.subjects(RDF.type, KG.Dataset):
        kommune = str(source.graph.value(dataset, DCTERMS.publisher))
        (left_out if str(dataset) in blocked else published)[kommune] += 1
    summaries = []
    for kommune in set(published) | set(left_out):
        node = URIRef(kommune)
        number = source.graph.value(node, KG.municipalityNumber)
        if number is None:
            continue
        orgnr = source.graph.value(node, KG.organisationNumber)
        summaries.append(
            Summary(
                str(number),
                label(source.graph, node) or str(number),
                published[kommune],
                left_out[kommune],
                None if orgnr is None else str(orgnr),
            )
        )
    return sorted(summaries, key=lambda s: s.kommunenummer)


@router.get(
    "/catalog",
    summary="DCAT-AP-NO-katalog for alle kommuner / DCAT-AP-NO catalogue of every municipality",
    description="Én dcat:Catalog per kommune med organisasjonsnummer; Turtle, RDF/XML eller "
    "JSON-LD etter Accept eller format=. / One dcat:Catalog per municipality with an "
    "organisation number; Turtle, RDF/XML or JSON-LD by Accept or format=.",
)
async def catalogue_all(request: Request, backend: BackendDep, settings: SettingsDep) -> Response:
    media = _media(request, PAGE_TYPES)
    if media is None:
        return _not_acceptable(PAGE_TYPES)
    source = await read_datasets(backend, None, settings.base_iri)
    if media == "text/html":
        summaries = await asyncio.to_thread(_summaries, source)
        return html_page(
            "catalog_overview.html",
            request,
            headers=VARY,
            summaries=summaries,
            downloads=DOWNLOADS,
            query=NOT_EXPORTABLE,
        )
    catalogue = await asyncio.to_thread(
        build_catalogues, source.graph, source.blockers, settings.base_iri
    )
    return await asyncio.to_thread(_rdf, catalogue, media)


@router.get(
    "/catalog/{kommunenummer}",
    summary="Kommunens DCAT-AP-NO-katalog / The municipality's DCAT-AP-NO catalogue",
    description="RDF for høsting, eller en side med datasettene som er holdt utenfor og "
    "hvorfor. / RDF for harvesting, or a page with the datasets left out and why.",
)
async def catalogue_one(
    kommunenummer: str, request: Request, backend: BackendDep, settings: SettingsDep
) -> Response:
    media = _media(request, PAGE_TYPES)
    if media is None:
        return _not_acceptable(PAGE_TYPES)
    try:
        kommune = municipality_iri(kommunenummer, settings.base_iri)
        source = await read_datasets(backend, kommunenummer, settings.base_iri)
    except UnknownMunicipalityError:
        return _unknown(kommunenummer)
    node = _municipality(source.graph, kommune)
    if node is None:
        return _unknown(kommunenummer)
    orgnr = source.graph.value(node, KG.organisationNumber)
    if media != "text/html" and orgnr is None:
        return error_response(
            404,
            f"Kommune {kommunenummer} har ingen katalog å publisere: organisasjonsnummeret "
            f"mangler. Siden /catalog/{kommunenummer} viser hva som mangler.",
            f"Municipality {kommunenummer} has no catalogue to publish: its organisation "
            f"number is missing. The page /catalog/{kommunenummer} shows what is missing.",
            headers=VARY,
        )
    catalogue = await asyncio.to_thread(
        build_catalogues, source.graph, source.blockers, settings.base_iri, keep_empty=True
    )
    if media != "text/html":
        return await asyncio.to_thread(_rdf, catalogue, media)
    return html_page(
        "catalog.html",
        request,
        headers=VARY,
        kommunenummer=kommunenummer,
        name=label(source.graph, node) or kommunenummer,
        organisation_number=None if orgnr is None else str(orgnr),
        published=_published(catalogue, source.graph, kommunenummer, settings.base_iri),
        left_out=_left_out(source.blockers),
        downloads=DOWNLOADS,
        query=NOT_EXPORTABLE,
    )


async def _services(
    request: Request, backend: BackendDep, base_iri: str, kommunenummer: str | None
) -> Response:
    media = _media(request, RDF_TYPES)
    if media is None:
        return _not_acceptable(RDF_TYPES)
    try:
        source = await read_services(backend, kommunenummer, base_iri)
    except UnknownMunicipalityError:
        return _unknown(kommunenummer or "")
    if kommunenummer is not None:
        kommune = municipality_iri(kommunenummer, base_iri)
        if (URIRef(kommune), KG.county, None) not in source:
            return _unknown(kommunenummer)
    services = await asyncio.to_thread(build_services, source)
    return await asyncio.to_thread(_rdf, services, media)


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
