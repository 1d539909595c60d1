"""``/kart``: the map of Norway, one layer at a time, and the same map on other pages.

Why the layers are canned queries: a layer is a question with an answer per municipality
(``queries/*.rq`` with a ``kommunenummer`` column), so the map, the gallery, the query API
and the CLI read the same definition, and the numbers on the map are the numbers a
download gives. The one exception is the catalogues' metadata-quality score, which is
computed in Python as data.norge.no computes it (``service.exports.quality``) and read
from the published catalogues.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from service.errors import ServiceError, attempt
from service.exports.published import municipality_summaries
from service.exports.quality import maximum as quality_maximum
from service.pages.choropleth import Choropleth, Value, attribution, choropleth, map_of_rows
from service.pages.render import language, page
from service.pages.resource_views import Names, parameter_options
from service.settings import Settings
from service.sparql.canned import canned_queries
from service.store.backend import Backend
from service.store.reads import select_terms
from service.web.dependencies import BackendDep, SettingsDep, published_catalogues
from service.web.page_cache import cached_page
from service.web.parameters import resolve_short_forms
from service.web.routes.gallery import shown_error

router = APIRouter(tags=["Pages"])


@dataclass(frozen=True)
class Layer:
    """One choice in the map's form."""

    key: str
    nb: str
    en: str
    query: str | None
    """The canned query that answers it (None: the catalogues' quality score)."""
    parameter: str | None = None
    zero_is_gap: bool = False


LAYERS = (
    Layer(
        "application",
        "Hvem bruker en applikasjon",
        "Who uses an application",
        "application-users",
        "application",
    ),
    Layer(
        "vendor",
        "Hvem bruker en leverandørs systemer",
        "Who uses a vendor's systems",
        "vendor-users",
        "vendor",
    ),
    Layer(
        "service",
        "Systemer per lovpålagt tjeneste (0 = hull)",
        "Systems per statutory service (0 = gap)",
        "service-coverage",
        "service",
        zero_is_gap=True,
    ),
    Layer(
        "fdk",
        "Andel datasett i Felles datakatalog",
        "Share of datasets in Felles datakatalog",
        "datasets-in-felles-datakatalog",
    ),
    Layer(
        "quality",
        "Datasettenes gjennomsnittlige metadatakvalitet",
        "The datasets' average metadata quality",
        None,
    ),
    Layer(
        "regions",
        "Medlemskap i regionale samarbeid",
        "Membership of regional cooperations",
        "region-memberships",
        zero_is_gap=True,
    ),
)
BY_KEY = {layer.key: layer for layer in LAYERS}


async def canned_map(
    backend: Backend,
    base_iri: str,
    name: str,
    given: dict[str, str],
    *,
    lang: str,
    zero_is_gap: bool = False,
) -> Choropleth | None:
    """Run canned query ``name`` with ``given`` (short forms allowed) and draw its answer."""
    query = canned_queries()[name]
    resolved = await resolve_short_forms(query, given, backend)
    rows = await select_terms(backend, query.checked(resolved, base_iri), timeout=query.timeout)
    variables = list(query.columns) or sorted({v for row in rows for v in row})
    return map_of_rows(variables, rows, lang=lang, columns=query.columns, zero_is_gap=zero_is_gap)


async def _quality_map(
    request: Request, backend: Backend, settings: Settings, lang: str
) -> Choropleth:
    catalogues = await published_catalogues(request, backend, settings).get()
    top = quality_maximum()
    values = {
        s.kommunenummer: Value(round(100 * s.score / top, 1), f"{s.score} / {top}")
        for s in municipality_summaries(catalogues)
        if s.published or s.left_out
    }
    return choropleth(
        values,
        measure_nb=f"Gjennomsnittlig poengsum (prosent av {top})",
        measure_en=f"Average score (percent of {top})",
        lang=lang,
    )


@router.get("/kart", response_class=HTMLResponse, summary="Kart over kommunene / Map")
async def map_page(request: Request, backend: BackendDep, settings: SettingsDep) -> Response:
    # A layer is a national canned query (seconds): drawn once per change of the data.
    return await cached_page(request, backend, lambda: _map_page(request, backend, settings))


async def _map_page(request: Request, backend: Backend, settings: Settings) -> HTMLResponse:
    lang = language(request)
    names = Names(settings.base_iri, lang)
    chosen = BY_KEY.get(request.query_params.get("lag", ""), BY_KEY["fdk"])
    options = {}
    for layer in LAYERS:
        if layer.query and layer.parameter:
            parameter = canned_queries()[layer.query].parameter(layer.parameter)
            assert parameter is not None
            options[layer.key] = await parameter_options(backend, names, parameter)
    given = {
        layer.parameter: request.query_params.get(layer.parameter, "")
        for layer in LAYERS
        if layer.parameter
    }
    context: dict[str, Any] = {
        "layers": LAYERS,
        "chosen": chosen,
        "options": options,
        "given": given,
        "map": None,
        "error": None,
        "attribution": attribution(lang),
    }

    async def draw() -> None:
        if chosen.query is None:
            context["map"] = await _quality_map(request, backend, settings, lang)
        elif chosen.parameter is None or given.get(chosen.parameter):
            value = {chosen.parameter: given[chosen.parameter]} if chosen.parameter else {}
            # A short form (slug, name) becomes the IRI the form's list selects.
            query = canned_queries()[chosen.query]
            value = await resolve_short_forms(query, value, backend)
            given.update(value)
            context["map"] = await canned_map(
                backend,
                settings.base_iri,
                chosen.query,
                value,
                lang=lang,
                zero_is_gap=chosen.zero_is_gap,
            )
            if chosen.parameter:
                await names.fetch(backend, {given[chosen.parameter]})
                context["subject"] = names.label(given[chosen.parameter])

    status = 200
    failed = await attempt(draw())
    if isinstance(failed, ServiceError):
        status = failed.status
        context["error"] = shown_error(failed)
    return await page("map.html", request, status_code=status, **context)
