"""The map of Norway (/kart and the same map on other pages), through a real server.

On the made-up UI fixture (tests/ui/fixtures/architecture.ttl): Arendal (4203), Grimstad
(4202) and Kristiansand (4204) use its systems; every other municipality has none.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator

import pytest
from lxml import html as lxml_html

from service.pages.choropleth import BLUES, IN_ANSWER, NO_DATA, NONE_COLOUR
from service.pages.map_geometry import GEOMETRY, build
from tests.conftest import SHARED, Server
from tests.service.client import bearer, call
from tests.ui.fixture_data import TOKEN, fixture_site

ARENDAL, GRIMSTAD, KRISTIANSAND, OSLO = "4203", "4202", "4204", "0301"


@pytest.fixture(scope="module")
def site() -> Iterator[Server]:
    yield from fixture_site()


def _page(server: Server, path: str) -> lxml_html.HtmlElement:
    answer = call(server.url, "GET", path)
    assert answer.status == 200, answer.text
    return lxml_html.fromstring(answer.text)


def _fills(page: lxml_html.HtmlElement) -> dict[str, str]:
    """Each drawn municipality's colour, by kommunenummer."""
    return {
        p.get("data-kommune"): p.get("fill") for p in page.xpath("//figure[@class='map']//path")
    }


def _iri(server: Server, path: str) -> str:
    return urllib.parse.quote(f"{server.url}/{path}", safe="")


def test_the_bundled_outlines_are_what_the_source_gives() -> None:
    """service/pages/geo/kommuner-2024.json is made from Kartverket's file by map_geometry."""
    if not (SHARED / "data" / "geo" / "kommuner-2024-S.geojson").exists():
        pytest.skip("../shared/data/geo is not beside this checkout")
    assert json.loads(GEOMETRY.read_text(encoding="utf-8")) == json.loads(
        json.dumps(build(SHARED), ensure_ascii=False)
    )


def test_kart_draws_every_municipality_linked_with_a_title_a_legend_and_a_table(
    site: Server,
) -> None:
    page = _page(site, "/kart?lag=regions")
    paths = page.xpath("//figure[@class='map']//svg//a/path")
    assert len(paths) == 357
    links = page.xpath("//figure[@class='map']//svg//a/@href")
    assert set(links) == {f"/id/kommune/{p.get('data-kommune')}" for p in paths}
    arendal = page.xpath(f"//path[@data-kommune='{ARENDAL}']/title/text()")
    assert arendal == ["Arendal (4203): 1"]  # a member of the fixture's one region
    legend = page.xpath("//ul[@class='legend']/li")
    assert [li.text_content().strip() for li in legend] == [
        "0 (ingen)",
        "1",
        "ikke med / ingen data",
    ]
    assert "Kartverket, CC BY 4.0" in page.xpath("string(//p[@class='attribution'])")
    rows = page.xpath("//table[@class='map-data']/tbody/tr")
    assert len(rows) == 357
    numbers = {r.xpath("string(td[2])"): r.xpath("string(td[3])") for r in rows}
    assert numbers[ARENDAL] == "1" and numbers[OSLO] == "0"


def test_regression_a_municipality_colour_follows_the_data(site: Server) -> None:
    """Systems per service: Arendal goes from one system to two when one more of its
    systems supports the service, and back when that graph is removed."""
    path = f"/kart?lag=service&service={_iri(site, 'id/tjeneste/barnevern')}"
    before = _fills(_page(site, path))
    assert before[ARENDAL] == before[GRIMSTAD] == before[KRISTIANSAND] != NONE_COLOUR
    assert before[OSLO] == NONE_COLOUR  # no system for the service: a gap
    graph = urllib.parse.quote(f"{site.url}/graph/source/map-test", safe="")
    extra = (
        f"<{site.url}/id/bruk/4203/skolesys> "
        "<https://w3id.org/kommunegraf/ontology#supportsService> "
        f"<{site.url}/id/tjeneste/barnevern> ."
    )
    headers = {**bearer(TOKEN), "Content-Type": "application/n-triples"}
    put = call(site.url, "PUT", f"/store?graph={graph}", body=extra.encode(), headers=headers)
    assert put.status in (200, 201, 204), put.text
    try:
        after = _fills(_page(site, path))
        assert after[ARENDAL] == BLUES[-1]  # two systems: the darkest of two classes
        assert after[GRIMSTAD] == after[KRISTIANSAND] == BLUES[0]
        assert after[OSLO] == NONE_COLOUR
    finally:
        call(site.url, "DELETE", f"/store?graph={graph}", headers=bearer(TOKEN))
    assert _fills(_page(site, path)) == before


def test_the_same_map_on_application_vendor_service_and_region_pages(site: Server) -> None:
    application = _fills(_page(site, "/id/applikasjon/saksbehandler"))
    assert application[ARENDAL] == application[GRIMSTAD] == IN_ANSWER
    assert application[KRISTIANSAND] == NO_DATA
    vendor = _page(site, "/id/leverandor/acme?lang=en")
    assert "Number of the vendor's systems" in vendor.xpath("string(//figure[@class='map'])")
    assert _fills(vendor)[ARENDAL] != _fills(vendor)[GRIMSTAD]  # two systems against one
    service = _fills(_page(site, "/id/tjeneste/barnevern"))
    assert service[OSLO] == NONE_COLOUR and service[ARENDAL] != NONE_COLOUR
    region = _fills(_page(site, "/id/region/test-region"))
    assert set(region) == {ARENDAL, GRIMSTAD, KRISTIANSAND}  # cropped to its members


def test_the_gallery_draws_queries_that_return_municipalities(site: Server) -> None:
    application = _iri(site, "id/applikasjon/saksbehandler")
    page = _page(site, f"/sporringer/application-users?run=1&application={application}")
    fills = _fills(page)
    assert fills[ARENDAL] == IN_ANSWER and fills[OSLO] == NO_DATA
    page = _page(site, "/sporringer/hosting-mix?run=1&region=test-region")
    assert page.xpath("//figure[@class='map']") == []  # rows per hosting, not municipalities


def test_the_map_form_takes_a_short_form_and_an_unknown_one_is_named(site: Server) -> None:
    page = _page(site, "/kart?lag=service&service=barnevern&lang=en")
    chosen = page.xpath("//select[@name='service']/option[@selected]/@value")
    assert chosen == [f"{site.url}/id/tjeneste/barnevern"]
    assert page.xpath("string(//figure[@class='map']/figcaption)").startswith(
        "Systems per statutory service (0 = gap): "
    )
    answer = call(site.url, "GET", "/kart?lag=service&service=barnevrn")
    assert answer.status == 422
    assert "barnevern" in answer.text  # did you mean
