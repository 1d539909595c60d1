"""The SPARQL editor (YASGUI, served from this service) and the gallery of canned queries.

The gallery runs queries on the server and answers with plain HTML (a form per
query, a table of results, a chart as markup), so it works without JavaScript.
The editor needs JavaScript; without it, or before ``make setup`` has vendored
YASGUI, the page points to the plain form at /sparql.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from loaders.namespaces import PREFIXES
from service.errors import ServiceError, attempt
from service.pages.charts import chart
from service.pages.choropleth import attribution, map_of_rows
from service.pages.render import html_page, language, page
from service.pages.resource_views import Names, parameter_options
from service.settings import Settings
from service.sparql.canned import CannedQuery, ParameterError, canned_queries
from service.store.backend import Backend
from service.store.reads import select_terms
from service.web.dependencies import BackendDep, SettingsDep
from service.web.page_cache import cached_page
from service.web.parameters import resolve_short_forms

router = APIRouter(tags=["Pages"])

YASGUI = Path(__file__).resolve().parents[2] / "pages" / "static" / "vendor" / "yasgui"
"""Where ``make setup`` puts YASGUI's built files (from the npm registry; gitignored)."""
EDITOR_PREFIXES = ("kg", "rdf", "rdfs", "skos", "dct", "org", "schema", "cv", "eli", "dcat")
MAX_SHOWN_ROWS = 1000

EXAMPLE_QUERY = """SELECT ?kommune ?navn ?fylke WHERE {
  ?kommune a kg:Municipality ;
           kg:municipalityNumber ?nummer ;
           rdfs:label ?navn ;
           kg:county/rdfs:label ?fylke .
  FILTER NOT EXISTS { ?kommune dct:isReplacedBy ?etterfolger }
}
ORDER BY ?nummer
LIMIT 20
"""


def editor_prologue() -> str:
    return "".join(f"PREFIX {p}: <{PREFIXES[p]}>\n" for p in EDITOR_PREFIXES) + "\n"


@router.get("/editor", response_class=HTMLResponse, summary="SPARQL-editor / SPARQL editor")
async def editor(request: Request) -> HTMLResponse:
    queries = canned_queries()
    return await page(
        "editor.html",
        request,
        installed=(YASGUI / "yasgui.min.js").is_file(),
        initial=request.query_params.get("query") or editor_prologue() + EXAMPLE_QUERY,
        examples=[(q.name, q.title, q.text) for q in queries.values()],
    )


@router.get("/sporringer", response_class=HTMLResponse, summary="Ferdige spørringer / Queries")
async def gallery(request: Request) -> HTMLResponse:
    return await page("gallery.html", request, queries=list(canned_queries().values()))


def shown_error(error: ServiceError) -> tuple[str, str, str]:
    """An error as a form shows it: the parameter it is about (or ""), bokmål, English."""
    if isinstance(error, ParameterError):
        return (error.parameter, error.reason_nb, error.reason_en)
    return ("", error.nb, error.en)


def _not_found(request: Request, name: str) -> HTMLResponse:
    return html_page(
        "gallery.html",
        request,
        status_code=404,
        queries=list(canned_queries().values()),
        missing=name,
    )


def _shown(variables: list[str], rows: list[dict[str, dict[str, str]]], names: Names) -> list[str]:
    """The columns worth a table column: a name that only repeats the label of an IRI
    column next to it (``municipality`` and ``municipalityName``) is left out, since
    the IRI column already shows that label as its link."""
    iri_columns = [v for v in variables if any(row.get(v, {}).get("type") == "uri" for row in rows)]

    def repeats(column: str) -> bool:
        for other in iri_columns:
            pairs = [(row[column], row[other]) for row in rows if column in row and other in row]
            if pairs and all(
                term["type"] == "literal" and term["value"] == names.label(link["value"])
                for term, link in pairs
            ):
                return True
        return False

    return [v for v in variables if v in iri_columns or not rows or not repeats(v)]


async def _run(
    query: CannedQuery,
    given: dict[str, str],
    unknown: list[str],
    backend: Backend,
    base_iri: str,
) -> tuple[str, list[dict[str, dict[str, str]]]]:
    """The query as shown (with its prefixes) and its rows, run as read strictly."""
    if unknown:
        raise ParameterError(
            unknown[0], "ukjent parameter for denne spørringen", "unknown parameter for this query"
        )
    resolved = await resolve_short_forms(query, given, backend)
    run = query.checked(resolved, base_iri)
    return query.bind(resolved, base_iri), await select_terms(backend, run, timeout=query.timeout)


@router.get(
    "/sporringer/{name}", response_class=HTMLResponse, summary="Kjør en ferdig spørring / Run one"
)
async def canned_query_page(
    name: str, request: Request, backend: BackendDep, settings: SettingsDep
) -> Response:
    # The same query with the same parameters is the same page until the data change (or
    # the day: some ask what holds NOW()).
    return await cached_page(
        request, backend, lambda: _canned_query_page(name, request, backend, settings)
    )


async def _canned_query_page(
    name: str, request: Request, backend: Backend, settings: Settings
) -> HTMLResponse:
    query: CannedQuery | None = canned_queries().get(name)
    if query is None:
        return _not_found(request, name)
    names = Names(settings.base_iri, language(request))
    given = {
        key: value
        for key, value in request.query_params.items()
        if key not in ("run", "lang") and query.parameter(key) is not None
    }
    unknown = [k for k in request.query_params if k not in ("run", "lang") and k not in given]
    context: dict[str, Any] = {
        "query": query,
        "given": given,
        "names": names,
        "options": {p.name: await parameter_options(backend, names, p) for p in query.parameters},
        "error": None,
        "result": None,
    }
    status = 200
    if "run" in request.query_params or (not query.parameters and unknown == []):
        ran = await attempt(_run(query, given, unknown, backend, settings.base_iri))
        if isinstance(ran, ServiceError):
            # The page shows the error beside its form; status and words are the
            # error's own, as on every other route.
            status = ran.status
            context["error"] = shown_error(ran)
        else:
            bound, rows = ran
            variables = list(query.columns) or sorted({v for row in rows for v in row})
            iris = {t["value"] for row in rows for t in row.values() if t["type"] == "uri"}
            await names.fetch(backend, iris)
            context["result"] = {
                "variables": _shown(variables, rows, names),
                "rows": rows[:MAX_SHOWN_ROWS],
                "count": len(rows),
                "chart": chart(variables, rows),
                "map": map_of_rows(variables, rows, lang=names.lang, columns=query.columns),
                "bound": bound,
                "downloads": [
                    (label, f"/queries/{query.name}?" + urlencode({**given, "format": name}))
                    for label, name in (("CSV", "csv"), ("TSV", "tsv"), ("JSON", "json"))
                ],
            }
    context["attribution"] = attribution(names.lang)
    return await page("canned_query.html", request, status_code=status, **context)
