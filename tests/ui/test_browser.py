"""The web UI in a real headless Chromium (Debian's, driven by Playwright).

What an analyst does: search a municipality from the home page, open it, follow a
link to an application, run a canned query with a parameter, run SPARQL in the
editor. Every page must load without console errors and without one request
leaving 127.0.0.1 (each request is intercepted; anything else is recorded and
aborted). Screenshots of each step are kept in ``tests/artifacts/`` (gitignored).
"""

from __future__ import annotations

import contextlib
import re
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Dialog,
    Page,
    Route,
)
from playwright.sync_api import Error as PlaywrightError

from tests.conftest import REPOSITORY, Server

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPOSITORY / "tests" / "artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
APPLICATION_LABEL = "Saksbehandler <script>alert('application')</script>"
_CSP_HANDLER = "Executing inline event handler violates the following Content Security Policy"
_YASGUI = "/static/vendor/yasgui/yasgui.min.js"


@dataclass
class Watch:
    """What a page did that it must not: reach outside, or log an error."""

    outside: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    """Inline event handlers the Content-Security-Policy refused: the fixture's hostile
    labels (``<img onerror=…>``) as YASGUI's sanitizer (DOMPurify) parses them in an
    inert document. Never run either way; Chromium reports the refusal on the console."""


# ``site`` and ``browser``: one each for the session (tests/ui/conftest.py).


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[tuple[Page, Watch]]:
    watch = Watch()
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="nb-NO")

    def guard(route: Route) -> None:
        host = urllib.parse.urlsplit(route.request.url).hostname
        if route.request.url.startswith(("data:", "blob:")) or host == "127.0.0.1":
            route.continue_()
        else:
            watch.outside.append(route.request.url)
            route.abort()

    def console(message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        where = message.location.get("url") or ""
        if message.text.startswith(_CSP_HANDLER) and where.endswith(_YASGUI):
            watch.blocked.append(message.text)
        else:
            watch.errors.append(f"{message.text} ({where})")

    def dialog(shown: Dialog) -> None:  # alert() from markup in the data: an XSS
        watch.errors.append(f"dialog: {shown.message}")
        shown.dismiss()

    context.route("**/*", guard)
    opened = context.new_page()
    opened.on("console", console)
    opened.on("dialog", dialog)
    opened.on("pageerror", lambda error: watch.errors.append(f"page error: {error}"))
    try:
        yield opened, watch
    finally:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
        with contextlib.suppress(PlaywrightError):  # a crashed page has no screenshot
            opened.screenshot(path=str(ARTIFACTS / f"{name}-final.png"), full_page=True)
        context.close()
    assert watch.outside == [], f"requests left 127.0.0.1: {watch.outside}"
    assert watch.errors == [], f"console errors: {watch.errors}"


_UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea')]
    .filter(e => e.type !== 'hidden' && e.labels.length === 0 && !e.getAttribute('aria-label'))
    .map(e => e.outerHTML)"""


def shot(page: Page, name: str) -> None:
    """Keep a screenshot, after checking the basics of accessible markup on the page:
    a language, one main heading, a label for every form control."""
    assert page.locator("html").get_attribute("lang") in ("nb", "en")
    assert page.locator("h1").count() == 1
    if not page.url.split("?")[0].endswith("/editor"):  # YASGUI's own controls
        assert page.evaluate(_UNLABELLED) == []
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_search_a_municipality_open_it_and_follow_an_application(
    site: Server, page: tuple[Page, Watch]
) -> None:
    browser_page, _ = page
    browser_page.goto(site.url + "/")
    shot(browser_page, "01-home")
    browser_page.get_by_label(re.compile("Søk etter kommune")).fill("Arendal")
    browser_page.get_by_role("button", name=re.compile("^Søk")).click()
    browser_page.wait_for_url(re.compile(r"/sok\?q=Arendal"))
    shot(browser_page, "02-search")
    browser_page.get_by_role("link", name="Arendal", exact=True).click()
    browser_page.wait_for_url(re.compile(r"/id/kommune/4203$"))
    assert browser_page.get_by_role("heading", level=1).inner_text() == "Arendal"
    shot(browser_page, "03-municipality")
    browser_page.get_by_role("link", name=APPLICATION_LABEL).first.click()
    browser_page.wait_for_url(re.compile(r"/id/applikasjon/saksbehandler$"))
    # The label's markup shows as text; it did not run (no console error, no alert).
    assert browser_page.get_by_role("heading", level=1).inner_text() == APPLICATION_LABEL
    used_by = browser_page.locator("section", has_text="Brukes av")
    assert used_by.get_by_role("link", name="Grimstad").count() == 1
    shot(browser_page, "04-application")


def test_language_switch(site: Server, page: tuple[Page, Watch]) -> None:
    browser_page, _ = page
    browser_page.goto(site.url + "/id/region/test-region")
    browser_page.get_by_role("link", name="English").click()
    browser_page.wait_for_url(re.compile(r"lang=en"))
    assert browser_page.locator("html").get_attribute("lang") == "en"
    assert browser_page.get_by_role("heading", name=re.compile("^Members")).count() == 1
    browser_page.goto(site.url + "/id/kommune/4203")  # remembered in a cookie
    assert browser_page.locator("html").get_attribute("lang") == "en"
    shot(browser_page, "05-region-english")


def test_run_a_canned_query_with_a_parameter(site: Server, page: tuple[Page, Watch]) -> None:
    browser_page, _ = page
    browser_page.goto(site.url + "/sporringer")
    browser_page.get_by_role("link", name="Kommuner som bruker en applikasjon").click()
    browser_page.wait_for_url(re.compile(r"/sporringer/application-users"))
    browser_page.get_by_label(re.compile("Applikasjonen")).select_option(label=APPLICATION_LABEL)
    browser_page.get_by_role("button", name=re.compile("^Kjør")).click()
    browser_page.wait_for_url(re.compile(r"run=1"))
    results = browser_page.locator("table.results")
    assert results.get_by_role("link", name="Arendal").count() == 1
    assert results.get_by_role("link", name="Grimstad").count() == 1
    assert results.get_by_role("link", name="Kristiansand").count() == 0
    shot(browser_page, "06-canned-query")


def test_canned_queries_draw_bars_and_a_heat_map(site: Server, page: tuple[Page, Watch]) -> None:
    browser_page, _ = page
    region = urllib.parse.quote(site.url + "/id/region/test-region", safe="")
    browser_page.goto(f"{site.url}/sporringer/hosting-mix?run=1&region={region}")
    bars = browser_page.locator("figure.chart.bars svg rect")
    assert bars.count() == 2  # on premises and SaaS
    # Every label inside the drawing, none cut (issue 19: labels ran past the left edge).
    outside = browser_page.evaluate(
        """() => [...document.querySelectorAll('figure.chart.bars svg text')]
             .filter(t => t.getBBox().x < 0 || t.textContent.includes('…'))
             .map(t => t.textContent)"""
    )
    assert outside == []
    shot(browser_page, "07-bars")
    service = urllib.parse.quote(site.url + "/id/tjeneste/barnevern", safe="")
    browser_page.goto(
        f"{site.url}/sporringer/service-matrix?run=1&service={service}&region={region}"
    )
    heat_map = browser_page.locator("figure.chart.heatmap table.heatmap")
    # Members (by kommunenummer) × systems, shaded by how many members share the system.
    assert heat_map.locator("tbody th").all_inner_texts() == ["Grimstad", "Arendal", "Kristiansand"]
    assert heat_map.locator("td.num").all_inner_texts() == ["2", "2", "1"]
    shot(browser_page, "08-heat-map")


def test_run_sparql_in_the_editor(site: Server, page: tuple[Page, Watch]) -> None:
    browser_page, _ = page
    browser_page.goto(site.url + "/editor")
    browser_page.wait_for_selector(".CodeMirror")
    # The canned queries are offered as examples.
    browser_page.get_by_label(re.compile("Eksempler")).select_option("application-users")
    loaded = browser_page.evaluate(
        "() => document.querySelector('.CodeMirror').CodeMirror.getValue()"
    )
    assert "kg:application ?application" in loaded
    query = (
        "PREFIX kg: <https://w3id.org/kommunegraf/ontology#>\n"
        "PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\n"
        "SELECT ?navn WHERE { ?app a kg:Application ; rdfs:label ?navn } ORDER BY ?navn"
    )
    # Typing a class or a property is what calls LOV (lov.linkeddata.es) when those
    # autocompleters are on (checked: with YASGUI's defaults this test fails); the
    # route guard records any such request.
    for start, typed in (("?x a foaf:", "Pers"), ("?x foaf:", "na")):
        browser_page.evaluate(
            """start => { const editor = document.querySelector('.CodeMirror').CodeMirror;
                editor.setValue('PREFIX foaf: <http://xmlns.com/foaf/0.1/>\\n'
                    + 'SELECT * WHERE {\\n  ' + start);
                editor.focus(); editor.setCursor(editor.lineCount(), 0); }""",
            start,
        )
        browser_page.keyboard.type(typed, delay=50)
        browser_page.keyboard.press("Control+Space")  # ask for completions
        browser_page.wait_for_timeout(1000)
        browser_page.keyboard.press("Escape")
    browser_page.evaluate(
        "query => document.querySelector('.CodeMirror').CodeMirror.setValue(query)", query
    )
    browser_page.locator(".yasqe_queryButton").click()
    table = browser_page.locator(".yasr table")
    table.get_by_text("Skolesys", exact=False).wait_for()
    assert table.get_by_text(APPLICATION_LABEL, exact=False).count() >= 1
    shot(browser_page, "09-editor")


def test_the_region_report_prints_without_navigation(
    site: Server, page: tuple[Page, Watch]
) -> None:
    browser_page, _ = page
    browser_page.goto(site.url + "/id/region/test-region")
    assert browser_page.locator("header nav").is_visible()
    browser_page.emulate_media(media="print")
    assert not browser_page.locator("header nav").is_visible()
    assert not browser_page.locator("form").first.is_visible()
    assert browser_page.locator("table.matrix").is_visible()
    shot(browser_page, "10-region-print")


def test_pages_work_without_javascript(site: Server, browser: Browser) -> None:
    context = browser.new_context(java_script_enabled=False)
    outside: list[str] = []

    def guard(route: Route) -> None:
        if urllib.parse.urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    plain = context.new_page()
    try:
        plain.goto(site.url + "/")
        plain.get_by_label(re.compile("Søk etter kommune")).fill("Grimstad")
        plain.get_by_role("button", name=re.compile("^Søk")).click()
        plain.get_by_role("link", name="Grimstad", exact=True).click()
        plain.wait_for_url(re.compile(r"/id/kommune/4202$"))
        plain.goto(site.url + "/sporringer/application-users")
        plain.get_by_label(re.compile("Applikasjonen")).select_option(label=APPLICATION_LABEL)
        plain.get_by_role("button", name=re.compile("^Kjør")).click()
        plain.wait_for_url(re.compile(r"run=1"))
        assert plain.locator("table.results").get_by_role("link", name="Grimstad").count() == 1
        plain.goto(site.url + "/editor")  # the editor says where the plain form is
        assert plain.get_by_role("link", name="/sparql").first.is_visible()
        assert not plain.get_by_label(re.compile("Eksempler")).is_visible()
        shot(plain, "11-editor-without-javascript")
    finally:
        context.close()
    assert outside == []


def test_an_application_page_draws_its_dependencies(site: Server, page: tuple[Page, Watch]) -> None:
    """The drawn graph: an accessible SVG laid out on the server, its boxes links, the same
    facts in a table, the hostile label shown as text (no dialog, no console error)."""
    browser_page, _ = page
    browser_page.goto(site.url + "/id/applikasjon/saksbehandler")
    drawing = browser_page.get_by_role("img", name="Integrasjoner og felleskomponenter")
    assert drawing.is_visible()
    box = drawing.bounding_box()
    assert box is not None and box["width"] > 100 and box["height"] > 20
    assert drawing.locator("text", has_text="Altinn").count() == 1
    assert drawing.locator("text", has_text="<script>").count() >= 1  # shown, not run
    table = browser_page.locator("section.dependencies table").first
    assert table.get_by_role("link", name="Altinn").count() == 1
    shot(browser_page, "08-dependencies")
    drawing.locator("a", has_text="Altinn").click()
    browser_page.wait_for_url(re.compile(r"/id/nasjonal-komponent/altinn$"))
