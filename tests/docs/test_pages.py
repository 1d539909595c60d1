"""/ontology, /ontology/{term}, /shapes and /docs/ on a real server.

Browsers get HTML, programs RDF by content negotiation; every guide renders and
every link between the guides, the ontology page and the images resolves.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from urllib.parse import urldefrag

import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import RDFS

from loaders.columns import sheets
from loaders.namespaces import KG
from loaders.validation import ontology_graph, shapes_graph
from service.pages.guides import guide_names
from service.pages.ontology_docs import ontology_terms
from tests.conftest import Server, start_server, stop_server
from tests.service.client import Answer, call

HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
RDF_SYNTAXES = {
    "text/turtle": "turtle",
    "application/n-triples": "nt",
    "application/ld+json": "json-ld",
    "application/rdf+xml": "xml",
}


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    running = start_server(":memory:")
    yield running
    stop_server(running)


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("id"):
            self.ids.add(str(values["id"]))
        for name in ("href", "src"):
            if tag in ("a", "img") and values.get(name):
                self.links.append(str(values[name]))


def _parse(answer: Answer) -> _Links:
    parser = _Links()
    parser.feed(answer.text)
    return parser


def get(server: Server, path: str, headers: dict[str, str] | None = None) -> Answer:
    return call(server.url, "GET", path, headers=headers)


def test_a_browser_gets_the_ontology_page_with_an_anchor_per_term(server: Server) -> None:
    answer = get(server, "/ontology", HTML)
    assert answer.status == 200 and answer.media == "text/html"
    page = _parse(answer)
    for name in ontology_terms():
        assert name in page.ids, f"no anchor for kg:{name}"
    assert "Kommune" in answer.text and "Municipality" in answer.text
    assert "cv:PublicOrganisation" in answer.text  # the standard term it specialises
    assert "påkrevd" in answer.text and "required" in answer.text  # constraints from shapes


@pytest.mark.parametrize("media", list(RDF_SYNTAXES))
def test_a_program_gets_the_ontology_as_rdf(server: Server, media: str) -> None:
    answer = get(server, "/ontology", {"Accept": media})
    assert answer.status == 200 and answer.media == media
    graph = Graph().parse(data=answer.body, format=RDF_SYNTAXES[media])
    assert len(graph) == len(ontology_graph())
    assert (KG.Municipality, RDFS.label, Literal("Kommune", lang="nb")) in graph


def test_no_accept_header_means_turtle_and_format_overrides(server: Server) -> None:
    assert get(server, "/ontology").media == "text/turtle"
    assert get(server, "/ontology?format=html").media == "text/html"
    assert get(server, "/ontology?format=jsonld", HTML).media == "application/ld+json"


def test_unknown_format_and_unacceptable_type_are_refused_in_both_languages(
    server: Server,
) -> None:
    bad = get(server, "/ontology?format=pdf")
    assert bad.status == 400 and "Ukjent format" in bad.text and "Unknown format" in bad.text
    refused = get(server, "/ontology", {"Accept": "image/png"})
    assert refused.status == 406 and "format du godtar" in refused.text


def test_a_term_path_sends_a_browser_to_its_anchor(server: Server) -> None:
    answer = get(server, "/ontology/Municipality", HTML)
    assert answer.status == 303
    assert answer.headers["location"] == "/ontology#Municipality"


def test_a_term_path_gives_a_program_the_terms_triples(server: Server) -> None:
    answer = get(server, "/ontology/usedBy", {"Accept": "text/turtle"})
    assert answer.status == 200
    graph = Graph().parse(data=answer.text, format="turtle")
    assert set(graph.subjects()) == {KG.usedBy}
    assert (KG.usedBy, RDFS.range, KG.Municipality) in graph


def test_an_unknown_term_is_a_404_in_both_languages(server: Server) -> None:
    answer = get(server, "/ontology/Kommunestyre", HTML)
    assert answer.status == 404
    assert "Ontologien har ikke" in answer.text and "The ontology has no term" in answer.text


def test_the_shapes_page_lists_every_sheet_and_column(server: Server) -> None:
    answer = get(server, "/shapes", HTML)
    assert answer.status == 200
    for sheet in sheets():
        assert sheet.name_nb in answer.text
        for column in sheet.columns:
            assert column.name_nb.replace("&", "&amp;") in answer.text


def test_the_shapes_are_served_as_rdf(server: Server) -> None:
    answer = get(server, "/shapes", {"Accept": "text/turtle"})
    graph = Graph().parse(data=answer.text, format="turtle")
    assert len(graph) == len(shapes_graph())


@pytest.mark.parametrize("name", guide_names())
def test_every_guide_renders_and_its_links_resolve(server: Server, name: str) -> None:
    answer = get(server, f"/docs/{name}", HTML)
    assert answer.status == 200 and answer.media == "text/html"
    for link in _parse(answer).links:
        target, fragment = urldefrag(link)
        if not target.startswith(("/docs/", "/ontology", "/shapes")):
            continue
        found = get(server, target, HTML)
        assert found.status in (200, 303), f"/docs/{name} links to {link}: {found.status}"
        if fragment and found.media == "text/html":
            assert fragment in _parse(found).ids, f"/docs/{name} links to missing #{fragment}"


def test_a_guide_cannot_inject_markup_and_headings_get_anchors(server: Server) -> None:
    answer = get(server, "/docs/systemeier", HTML)
    assert "<script" not in answer.text.lower()
    assert re.search(r'<h2 id="[^"]+">', answer.text)


def test_docs_serve_the_diagram_and_refuse_paths_outside_docs(server: Server) -> None:
    svg = get(server, "/docs/ontology-diagram.svg")
    assert svg.status == 200 and svg.media == "image/svg+xml"
    for path in ("/docs/../pyproject.toml", "/docs/%2e%2e/pyproject.toml", "/docs/img/../../x"):
        assert get(server, path).status == 404, path
    missing = get(server, "/docs/finnes-ikke")
    assert missing.status == 404 and "Fant ingen veiledning" in missing.text


def test_a_repository_link_redirects_to_the_guide(server: Server) -> None:
    answer = get(server, "/docs/systemeier.md")
    assert answer.status == 308 and answer.headers["location"] == "/docs/systemeier"
    assert get(server, "/docs").headers["location"] == "/docs/"


def test_the_ontology_iri_is_documented_on_the_page(server: Server) -> None:
    answer = get(server, "/ontology", HTML)
    assert str(URIRef("https://w3id.org/kommunegraf/ontology#Municipality")) in answer.text
