"""Dependency pictures and impact sections on the resource pages, over real HTTP.

The data is the hand-built query fixture (``tests/queries/fixture.ttl``: Alta's WebSak
sends to SvarUt and gets the school system's archive) and the impact fixture
(``tests/queries/impact_fixture.ttl``: who runs what for kindergartens), both in one store,
and one integration with a hostile label.
"""

from __future__ import annotations

import re
import shutil
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from rdflib import Graph

from service.pages.dependency_graph import DependencyGraph, render_svg, to_dot
from tests.conftest import Server, start_server, stop_server
from tests.queries.test_impact_queries import BARNEHAGELOVEN
from tests.service.client import bearer, call

QUERIES = Path(__file__).parents[1] / "queries"
TOKEN = "dependency-test-token-0123456789"  # noqa: S105 (a test token)
HOSTILE = """
@prefix kg: <https://w3id.org/kommunegraf/ontology#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
<id/integrasjon/hostile> a kg:Integration ;
    rdfs:label "<script>alert('integrasjon')</script>"@nb ;
    kg:integrationSource <id/bruk/5603/websak> ;
    kg:integrationTarget <id/nasjonal-komponent/altinn> .
"""
needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None, reason="Graphviz is missing: make setup installs it"
)


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    running = start_server(":memory:", env={"KOMMUNEGRAF_TOKEN": TOKEN})
    base = running.url + "/"
    sources = {
        "fixture": Graph().parse(QUERIES / "fixture.ttl", format="turtle", publicID=base),
        "impact": Graph().parse(QUERIES / "impact_fixture.ttl", format="turtle", publicID=base),
        "hostile": Graph().parse(data=HOSTILE, format="turtle", publicID=base),
    }
    for name, data in sources.items():
        answer = call(
            running.url,
            "PUT",
            "/store",
            params={"graph": f"{base}graph/test/{name}"},
            body=data.serialize(format="nt").encode(),
            headers={"Content-Type": "application/n-triples", **bearer(TOKEN)},
        )
        assert answer.status in (201, 204), answer.text
    yield running
    stop_server(running)


def page(server: Server, path: str) -> str:
    answer = call(server.url, "GET", path, headers={"Accept": "text/html"})
    assert answer.status == 200, answer.text
    return answer.text


def svg_of(html: str) -> str:
    found = re.search(r"<svg\b.*?</svg>", html, re.DOTALL)
    assert found, "no drawn graph on the page"
    return found.group()


@needs_dot
def test_a_usage_page_draws_its_integrations_and_components(server: Server) -> None:
    html = page(server, "/id/bruk/5601/websak")
    svg = svg_of(html)
    assert 'role="img"' in svg and 'aria-labelledby="avhengigheter-title"' in svg
    assert '<title id="avhengigheter-title">Integrasjoner og felleskomponenter</title>' in svg
    for name in ("Acos WebSak", "KS SvarUt og SvarInn", "Visma Flyt Skole"):
        assert f">{name}</text>" in svg.replace("&#45;", "-"), name
    # The same facts as a table.
    assert "Utsending via SvarUt" in html and "Arkivering fra skolesystemet" in html
    # Nodes link to their pages.
    assert 'xlink:href="/id/applikasjon/flyt-skole"' in svg


@needs_dot
def test_an_application_page_draws_and_says_what_a_retirement_hits(server: Server) -> None:
    html = page(server, "/id/applikasjon/websak")
    svg_of(html)
    assert "Hvis systemet fases ut" in html
    # Hammerfest's archive is left without a system if WebSak goes (fixture.ttl U2).
    section = html[html.index('id="konsekvenser"') :]
    assert "Arkiv og dokumentasjonsforvaltning" in section and "Hammerfest" in section


@needs_dot
def test_a_municipality_page_draws_its_landscape(server: Server) -> None:
    html = page(server, "/id/kommune/5601")
    svg = svg_of(html)
    assert "Integrasjonslandskapet" in svg
    assert 'href="/kommune/5601/archimate.xml"' in html


def test_the_acts_page_says_who_a_change_reaches(server: Server) -> None:
    iri = urllib.parse.quote(BARNEHAGELOVEN, safe="")
    html = page(server, f"/ressurs?iri={iri}")
    section = html[html.index('id="konsekvenser"') :]
    assert "Hvis loven endres" in section
    for name in ("Visma Flyt Barnehage", "IST Barnehage", "Visma Software AS", "IST AS"):
        assert name in section, name
    assert f"/sporringer/law-impact?run=1&amp;law={iri}" in section


def test_a_vendors_page_says_what_its_failure_hits(server: Server) -> None:
    html = page(server, "/id/leverandor/ist")
    section = html[html.index('id="konsekvenser"') :]
    assert "Hvis leverandøren faller bort" in section
    assert "Tilsyn med barnehager" in section and "Hasvik" in section


@needs_dot
def test_hostile_labels_are_text_in_the_drawing(server: Server) -> None:
    html = page(server, "/id/bruk/5603/websak")
    assert "<script>alert(" not in html
    assert "&lt;script&gt;alert(" in svg_of(html)


@needs_dot
def test_dot_text_and_links_cannot_break_out() -> None:
    graph = DependencyGraph("T", "D")
    graph.node("a", 'x" ] ; evil [label="y \\N', "self", '/a" onload="alert(1)')
    graph.node("b", "b", "national", "/b")
    graph.edge("a", "b", "\\G")
    assert to_dot(graph).count("->") == 1
    svg = str(render_svg(graph, "t"))
    assert 'onload="' not in svg and "%22%20onload=%22" in svg
    assert "evil" in svg and svg.count('<g id="node') == 2
