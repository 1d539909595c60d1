"""The front page: what the graph holds, in numbers."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from service.pages.render import render
from service.store.reads import select
from service.web.dependencies import BackendDep

router = APIRouter(tags=["Pages"])


@dataclass(frozen=True)
class Count:
    cls: str
    nb: str
    en: str
    count: int = 0


_CLASSES = [
    Count("Municipality", "Kommuner", "Municipalities"),
    Count("FormerMunicipality", "Tidligere kommunenummer", "Former municipality numbers"),
    Count("County", "Fylker", "Counties"),
    Count("Region", "Regioner", "Regions"),
    Count("StatutoryService", "Lovpålagte tjenester", "Statutory services"),
    Count("LegalBasis", "Hjemler", "Legal bases"),
    Count("NationalComponent", "Nasjonale felleskomponenter", "National components"),
    Count("Vendor", "Leverandører", "Vendors"),
    Count("Application", "Applikasjoner", "Applications"),
    Count("ApplicationUsage", "Applikasjonsbruk", "Application usages"),
    Count("Dataset", "Datasett", "Datasets"),
]

_COUNT_QUERY = """
PREFIX kg: <https://w3id.org/kommunegraf/ontology#>
PREFIX dct: <http://purl.org/dc/terms/>
SELECT ?kind (COUNT(DISTINCT ?s) AS ?n) WHERE {
  { ?s a ?class .
    FILTER(STRSTARTS(STR(?class), STR(kg:)))
    FILTER NOT EXISTS { ?s dct:isReplacedBy ?successor }
    BIND(STRAFTER(STR(?class), "#") AS ?kind) }
  UNION
  { ?s a kg:Municipality ; dct:isReplacedBy ?successor . BIND("FormerMunicipality" AS ?kind) }
}
GROUP BY ?kind
"""

_GRAPHS_QUERY = "SELECT DISTINCT ?g WHERE { GRAPH ?g {} } ORDER BY ?g"


@router.get("/", response_class=HTMLResponse, summary="Forside / Home page")
async def home(request: Request, backend: BackendDep) -> HTMLResponse:
    rows = await select(backend, _COUNT_QUERY)
    found = {row["kind"]: int(row["n"]) for row in rows}
    counts = [Count(c.cls, c.nb, c.en, found.get(c.cls, 0)) for c in _CLASSES]
    graphs = await select(backend, _GRAPHS_QUERY)
    return HTMLResponse(
        render("home.html", request, counts=counts, graphs=[row["g"] for row in graphs])
    )
