"""Dereferenceable IRIs over real HTTP: content negotiation, 404, 301, escaping, language.

A server of this module's own (on each backend) holds the reference data plus the
made-up architecture in ``tests/ui/fixtures``, loaded through the Graph Store.
"""

from __future__ import annotations

import html
import re
import urllib.parse
from collections.abc import Iterator

import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import RDFS

from service.sparql.canned import canned_queries
from tests.conftest import BACKENDS, Server, start_server_on, stop_server
from tests.service.client import call
from tests.ui.fixture_data import RESOURCES, SCRIPT, TOKEN, load_fixture

PARSERS = {
    "text/turtle": "turtle",
    "application/n-triples": "nt",
    "application/ld+json": "json-ld",
    "application/rdf+xml": "xml",
}
FORMAT_NAMES = {
    "turtle": "text/turtle",
    "nt": "application/n-triples",
    "jsonld": "application/ld+json",
    "rdfxml": "application/rdf+xml",
}
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.fixture(scope="module", params=BACKENDS)
def site(request: pytest.FixtureRequest) -> Iterator[Server]:
    running = start_server_on(request.param, env={"KOMMUNEGRAF_TOKEN": TOKEN})
    try:
        load_fixture(running)
        yield running
    finally:
        stop_server(running)


def get(server: Server, path: str, accept: str | None = None) -> tuple[int, dict[str, str], str]:
    headers = {"Accept": accept} if accept is not None else {}
    answer = call(server.url, "GET", path, headers=headers)
    return answer.status, dict(answer.headers), answer.body.decode("utf-8", "replace")


def parsed(body: str, media: str, base: str) -> Graph:
    return Graph().parse(data=body, format=PARSERS[media], publicID=base)


def test_a_browser_gets_a_page_about_the_resource(site: Server) -> None:
    status, headers, body = get(site, "/id/kommune/4203", BROWSER_ACCEPT)
    assert status == 200
    assert headers["content-type"].startswith("text/html")
    assert "accept" in headers["vary"].lower()
    assert "<h1>Arendal</h1>" in body
    assert 'href="/id/fylke/42"' in body  # the county, as a link with its label
    assert ">Agder</a>" in body


@pytest.mark.parametrize("media", list(PARSERS))
def test_each_rdf_format_by_accept(site: Server, media: str) -> None:
    iri = site.url + "/id/kommune/4203"
    status, headers, body = get(site, "/id/kommune/4203", media)
    assert status == 200
    assert headers["content-type"].split(";")[0] == media
    assert "accept" in headers["vary"].lower()
    graph = parsed(body, media, iri)
    assert (URIRef(iri), RDFS.label, Literal("Arendal")) in graph
    # What a reader needs: the label of the county it links to.
    assert (URIRef(site.url + "/id/fylke/42"), RDFS.label, Literal("Agder")) in graph


@pytest.mark.parametrize("name", list(FORMAT_NAMES))
def test_format_parameter_overrides_accept(site: Server, name: str) -> None:
    status, headers, body = get(site, f"/id/applikasjon/saksbehandler?format={name}", "text/html")
    media = FORMAT_NAMES[name]
    assert status == 200
    assert headers["content-type"].split(";")[0] == media
    graph = parsed(body, media, site.url + "/")
    app = URIRef(site.url + "/id/applikasjon/saksbehandler")
    vendor = URIRef(site.url + "/id/leverandor/acme")
    assert (app, URIRef("https://w3id.org/kommunegraf/ontology#vendor"), vendor) in graph
    # Usages point at the application; they are part of its description.
    usage = URIRef(site.url + "/id/bruk/4203/saksbehandler")
    assert (usage, URIRef("https://w3id.org/kommunegraf/ontology#application"), app) in graph


def test_q_values_choose_the_format(site: Server) -> None:
    accept = "text/html;q=0.2, text/turtle;q=0.5, application/ld+json;q=0.9"
    status, headers, _ = get(site, "/id/kommune/4203", accept)
    assert status == 200
    assert headers["content-type"].split(";")[0] == "application/ld+json"


def test_no_acceptable_format_is_406_in_both_languages(site: Server) -> None:
    status, _, body = get(site, "/id/kommune/4203", "image/png")
    assert status == 406
    assert "Kan ikke" in body and "Cannot" in body


def test_unknown_resource_is_404_with_search_and_suggestions(site: Server) -> None:
    status, headers, body = get(site, "/id/kommune/arendall", BROWSER_ACCEPT)
    assert status == 404
    assert headers["content-type"].startswith("text/html")
    assert 'action="/sok"' in body
    assert '<a href="/id/kommune/4203">Arendal</a>' in body


def test_unknown_resource_as_rdf_is_a_plain_404(site: Server) -> None:
    status, headers, body = get(site, "/id/kommune/0000", "text/turtle")
    assert status == 404
    assert headers["content-type"].startswith("text/plain")
    assert "kjenner ikke" in body and "does not know" in body


def test_an_old_kommunenummer_redirects_to_its_successor(site: Server) -> None:
    answer = call(site.url, "GET", "/id/kommune/1507", headers={"Accept": BROWSER_ACCEPT})
    assert answer.status == 301
    assert answer.headers["location"] == "/id/kommune/1508"
    assert "accept" in answer.headers["vary"].lower()
    answer = call(site.url, "GET", "/id/kommune/1507?format=nt")
    assert answer.status == 301
    assert answer.headers["location"] == "/id/kommune/1508?format=nt"


def test_a_number_from_before_2020_redirects_and_a_split_one_offers_the_parts(
    site: Server,
) -> None:
    answer = call(site.url, "GET", "/id/kommune/1201", headers={"Accept": BROWSER_ACCEPT})
    assert answer.status == 301 and answer.headers["location"] == "/id/kommune/4601"
    page = call(site.url, "GET", "/id/kommune/1613", headers={"Accept": BROWSER_ACCEPT})
    assert page.status == 300
    for part in ("5055", "5056", "5059"):
        assert f'href="/id/kommune/{part}"' in page.text
        assert f"</id/kommune/{part}>" in page.headers["link"]
    plain = call(site.url, "GET", "/id/kommune/1850", headers={"Accept": "text/turtle"})
    assert plain.status == 300 and "1806" in plain.text and "1875" in plain.text


def test_resources_outside_the_base_that_the_graph_describes(site: Server) -> None:
    act = "https://lovdata.no/eli/lov/2005/06/17/64"
    path = "/ressurs?iri=" + urllib.parse.quote(act, safe="")
    status, _, body = get(site, path, BROWSER_ACCEPT)
    assert status == 200
    assert "Barnehageloven § 10" in body  # a section of the act links here
    status, _, _ = get(site, "/ressurs?iri=" + urllib.parse.quote("https://x.test/none", safe=""))
    assert status == 404


def test_a_path_that_is_no_iri_is_404_not_500(site: Server) -> None:
    status, _, _ = get(site, "/id/kommune/a%3Cb%3E%20c", BROWSER_ACCEPT)
    assert status == 404


def test_region_page_has_the_matrix_with_shared_systems_marked(site: Server) -> None:
    status, _, body = get(site, "/id/region/test-region", BROWSER_ACCEPT)
    assert status == 200
    matrix = body[body.index('<table class="matrix">') :]
    matrix = matrix[: matrix.index("</table>")]
    # Arendal and Grimstad both use Saksbehandler for barnevern: shared, marked.
    assert matrix.count('<mark class="shared"><a href="/id/applikasjon/saksbehandler">') == 2
    assert '<a href="/id/applikasjon/skolesys">' in matrix


def test_municipality_page_groups_systems_and_finds_neighbours(site: Server) -> None:
    _, _, body = get(site, "/id/kommune/4203", BROWSER_ACCEPT)
    systems = body[body.index("Systemer etter lovpålagt tjeneste") :]
    assert '<a href="/id/tjeneste/barnevern">' in systems
    neighbours = body[body.index("Naboer med samme systemer") :]
    neighbours = neighbours[: neighbours.index("</section>")]
    assert '<a href="/id/kommune/4202">Grimstad</a>' in neighbours
    assert '<a href="/id/datasett/4203/elevregister">' in body


def test_service_page_counts_municipalities_per_system(site: Server) -> None:
    _, _, body = get(site, "/id/tjeneste/barnevern", BROWSER_ACCEPT)
    systems = body[body.index('<table class="bars">') :]
    row = re.search(r'/id/applikasjon/saksbehandler">.*?<td class="num">(\d+)</td>', systems)
    assert row is not None and row.group(1) == "2"
    # All three fixture municipalities record systems, and all three cover barnevern.
    assert "3 av 3 kommuner med registrert systemportefølje" in body
    _, _, body = get(site, "/id/tjeneste/grunnskole", BROWSER_ACCEPT)
    assert "2 av 3 kommuner" in body


def _pages(server: Server) -> list[str]:
    pages = ["/" + path for path in RESOURCES.values()]
    pages += ["/id/kommune/4203", "/id/kommune/4202", "/id/tjeneste/barnevern"]
    pages += ["/id/nasjonal-komponent/altinn", "/id/fylke/42", "/id/kommune/nope-alert"]
    pages += ["/id/kommune/" + urllib.parse.quote("<script>alert(1)</script>", safe="")]
    pages += ["/sok?q=alert", "/sok?q=" + urllib.parse.quote("<script>alert(1)</script>")]
    pages += ["/", "/sporringer", "/editor", "/editor?query=%3Cscript%3Ealert(1)%3C%2Fscript%3E"]
    app = urllib.parse.quote(server.url + "/id/applikasjon/saksbehandler", safe="")
    pages += [f"/sporringer/application-users?run=1&application={app}"]
    return pages


@pytest.mark.parametrize("lang", ["nb", "en"])
def test_markup_in_every_kind_of_label_is_escaped_on_every_page(site: Server, lang: str) -> None:
    shown = 0
    for page in _pages(site):
        joiner = "&" if "?" in page else "?"
        status, _, body = get(site, f"{page}{joiner}lang={lang}", BROWSER_ACCEPT)
        assert status in (200, 404), page
        assert SCRIPT not in body, page
        assert "<img src=x" not in body and "<svg onload" not in body, page
        shown += body.count("&lt;script&gt;alert(")
    assert shown > 20  # the labels were on the pages, as text


def test_language_switch_puts_english_first_and_is_remembered(site: Server) -> None:
    answer = call(site.url, "GET", "/id/region/test-region?lang=en")
    body = answer.text
    assert '<html lang="en"' in body
    assert "Members <span" in body
    assert "lang=en" in answer.headers["set-cookie"]
    remembered = call(site.url, "GET", "/id/region/test-region", headers={"Cookie": "lang=en"})
    assert '<html lang="en"' in remembered.text
    default = call(site.url, "GET", "/id/region/test-region")
    assert '<html lang="nb"' in default.text and "Medlemmer <span" in default.text


def test_search_by_name_number_and_hostile_text(site: Server) -> None:
    for text in ("arend", "ARENDAL", "4203"):
        status, _, body = get(site, "/sok?q=" + text, BROWSER_ACCEPT)
        assert status == 200 and "Treff på" in body and "Mente du" not in body, text
        assert '<a href="/id/kommune/4203">Arendal</a>' in body, text
    _, _, body = get(site, "/sok?q=acme", BROWSER_ACCEPT)
    assert '<a href="/id/leverandor/acme">' in body
    _, _, body = get(site, "/sok?q=arendall", BROWSER_ACCEPT)  # a typo: did you mean
    assert "Mente du" in body and '<a href="/id/kommune/4203">Arendal</a>' in body
    hostile = urllib.parse.quote('"} } UNION { ?x ?y ?z } #')
    status, _, body = get(site, f"/sok?q={hostile}", BROWSER_ACCEPT)
    assert status == 200 and "Ingen treff" in body
    status, _, body = get(site, "/sok?q=" + "x" * 201, BROWSER_ACCEPT)
    assert status == 400 and "for lang" in body and "too long" in body


def test_a_class_can_be_listed_from_the_home_page(site: Server) -> None:
    _, _, home = get(site, "/", BROWSER_ACCEPT)
    assert 'href="/sok?klasse=Region"' in home
    status, _, body = get(site, "/sok?klasse=Region", BROWSER_ACCEPT)
    assert status == 200
    assert 'href="/id/region/test-region"' in body
    _, _, body = get(site, "/sok?klasse=Municipality", BROWSER_ACCEPT)
    assert body.count('href="/id/kommune/') == 358  # 357 real and the made-up 9999
    status, _, _ = get(site, "/sok?klasse=" + urllib.parse.quote("Region> } #"), BROWSER_ACCEPT)
    assert status == 400


def test_head_answers_like_get_without_a_body(site: Server) -> None:
    answer = call(site.url, "HEAD", "/id/kommune/4203", headers={"Accept": "text/turtle"})
    assert answer.status == 200 and answer.body == b""
    assert answer.headers["content-type"].startswith("text/turtle")
    assert call(site.url, "HEAD", "/id/kommune/1507").status == 301


def test_pages_link_the_canned_queries_that_take_the_resource(site: Server) -> None:
    expected = {
        "/id/kommune/4203": "/sporringer/service-gaps?run=1&amp;kommune=4203",
        "/id/region/test-region": "/sporringer/hosting-mix?run=1&amp;region="
        + urllib.parse.quote(site.url + "/id/region/test-region", safe=""),
        "/id/applikasjon/saksbehandler": "/sporringer/application-users?run=1&amp;application="
        + urllib.parse.quote(site.url + "/id/applikasjon/saksbehandler", safe=""),
    }
    for page, link in expected.items():
        _, _, body = get(site, page, BROWSER_ACCEPT)
        assert f'href="{link}"' in body, page
        status, _, answer = get(site, link.replace("&amp;", "&"), BROWSER_ACCEPT)
        assert status == 200 and '<section class="result"' in answer, link
    # The answer can be downloaded from the queries API, same parameters.
    csv = re.search(r'<a href="(/queries/application-users\?[^"]*format=csv)">CSV</a>', answer)
    assert csv is not None
    status, headers, text = get(site, csv.group(1).replace("&amp;", "&"))
    assert status == 200 and headers["content-type"].startswith("text/csv")
    assert "4203" in text and "4202" in text


def test_gallery_turns_bad_parameters_into_clear_errors(site: Server) -> None:
    """422, as ``/queries`` answers the same parameters (the status belongs to the error)."""
    status, _, body = get(site, "/sporringer/application-users?run=1", BROWSER_ACCEPT)
    assert status == 422 and "påkrevd" in body and "required" in body
    bad = urllib.parse.quote('x"} UNION {')
    status, _, body = get(site, f"/sporringer/application-users?run=1&application={bad}")
    assert status == 422 and "IRI" in body and 'role="alert"' in body
    status, _, body = get(site, "/sporringer/service-gaps?run=1&kommune=42", BROWSER_ACCEPT)
    assert status == 422 and "kommunenummer" in body
    status, _, body = get(site, "/sporringer/no-such-query", BROWSER_ACCEPT)
    assert status == 404 and "no-such-query" in body


def test_regression_gallery_was_norwegian_only(site: Server) -> None:
    """The gallery and a query's page showed title and description in one language;
    now bokmål first and English alongside (and the other way round with ?lang=en)."""
    query = canned_queries()["application-users"]
    _, _, body = get(site, "/sporringer", BROWSER_ACCEPT)
    for text in (
        query.title["nb"],
        query.title["en"],
        query.description["nb"],
        query.description["en"],
    ):
        assert html.escape(text, quote=False) in body, text
    assert body.index(html.escape(query.title["nb"])) < body.index(html.escape(query.title["en"]))
    _, _, body = get(site, "/sporringer?lang=en", BROWSER_ACCEPT)
    assert body.index(html.escape(query.title["en"])) < body.index(html.escape(query.title["nb"]))
    _, _, body = get(site, "/sporringer/application-users", BROWSER_ACCEPT)
    assert html.escape(query.description["en"], quote=False) in body
    assert html.escape(query.description["nb"], quote=False) in body


def _page_queries(server: Server) -> float:
    """How many queries pages have run (the service's metrics)."""
    metrics = call(server.url, "GET", "/metrics").text
    found = re.search(
        r'^kommunegraf_query_duration_seconds_count\{kind="page".*\} (\S+)$', metrics, re.M
    )
    return float(found.group(1)) if found else 0.0


def test_regression_every_reader_rendered_the_page_again(site: Server) -> None:
    """Before: every reader's page was a dozen queries, each waiting its turn for a worker
    behind everyone's queries and refusable at each turn (the load test: 76 of 125 pages
    refused with 503, one answered after 68 s). Now a page is rendered once per snapshot
    of the embedded store: the next reader gets it without a query, a browser that has
    it a 304, and a write shows at once. A remote store's pages are never kept."""
    graph = urllib.parse.quote(site.url + "/graph/source/page-cache-test", safe="")
    path = "/id/test/sidebuffer"
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "text/turtle"}

    def write(label: str) -> None:
        body = f'<{site.url}{path}> <{RDFS.label}> "{label}" .'.encode()
        answer = call(site.url, "PUT", f"/store?graph={graph}", body=body, headers=headers)
        assert answer.status in (200, 201, 204), answer.text

    try:
        write("Første utgave")
        status, first, body = get(site, path, BROWSER_ACCEPT)
        assert status == 200 and "Første utgave" in body
        queries = _page_queries(site)
        status, again, body = get(site, path, BROWSER_ACCEPT)
        assert status == 200 and "Første utgave" in body
        if site.remote is not None:
            assert "etag" not in again
            return
        assert again["etag"] == first["etag"] and "last-modified" in again
        assert _page_queries(site) == queries  # answered without a query
        tag = {"If-None-Match": first["etag"], "Accept": BROWSER_ACCEPT}
        unchanged = call(site.url, "GET", path, headers=tag)
        assert unchanged.status == 304 and unchanged.body == b""
        write("Andre utgave")
        status, changed, body = get(site, path, BROWSER_ACCEPT)
        assert status == 200 and "Andre utgave" in body and "Første" not in body
        assert changed["etag"] != first["etag"]
        assert call(site.url, "GET", path, headers=tag).status == 200
    finally:
        call(site.url, "DELETE", f"/store?graph={graph}", headers=headers)
