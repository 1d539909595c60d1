"""axe-core over every page type, in both languages, in Debian's headless chromium.

axe-core (the copy bundled in the ``axe-playwright-python`` package, injected into each
page; nothing fetched) checks WCAG 2.0/2.1 A and AA; a page passes with no violation. Every
request a page makes is intercepted: one leaving 127.0.0.1 is recorded, refused and fails
the test, and so does an error on the console. Screenshots go to ``tests/artifacts/``
(gitignored): the main pages in bokmål, the map and a municipality at phone, laptop and
wall-screen widths, and the map as printed.

One browser for the session (tests/ui/conftest.py), one context per language, one load
per page and language.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Route,
)

from tests.conftest import Server
from tests.ui.test_browser import ARTIFACTS

WCAG = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
    "resultTypes": ["violations"],  # details of passes cost twice the time, unread
}
REPEATED = {"ontology": {"exclude": [["section.term:nth-of-type(n+9)"]]}}
"""Pages made of one block repeated a hundred times: axe checks the first eight (the
ontology's term sections; checking all 130 takes a minute on a loaded machine)."""
WIDTHS = {"phone": 390, "laptop": 1280, "wall": 2560}


PAGES = {
    "home": "/",
    "search": "/sok?q=Arendal",
    "search-class": "/sok?klasse=Application",
    "map": "/kart",
    "map-service": "/kart?lag=service&service=barnevern",
    "map-quality": "/kart?lag=quality",
    "gallery": "/sporringer",
    "query-form": "/sporringer/application-users",
    "query-map": "/sporringer/application-users?run=1&application=saksbehandler",
    "query-bars": "/sporringer/hosting-mix?run=1&region=test-region",
    "query-heat-map": "/sporringer/service-matrix?run=1&service=barnevern&region=test-region",
    "query-error": "/sporringer/application-users?run=1&application=finnesikke",
    "municipality": "/id/kommune/4203",
    "application": "/id/applikasjon/saksbehandler",
    "vendor": "/id/leverandor/acme",
    "service": "/id/tjeneste/barnevern",
    "legal-basis": "/id/hjemmel/xss-hjemmel",
    "region": "/id/region/test-region",
    "dataset": "/id/datasett/4203/elevregister",
    "usage": "/id/bruk/4203/saksbehandler",
    "integration": "/id/integrasjon/4203-saksbehandler/altinn",
    "split-municipality": "/id/kommune/1613",
    "not-found": "/id/kommune/finnesikke",
    "catalogues": "/catalog",
    "catalogue": "/catalog/4203",
    "catalogue-quality": "/catalog/4203/kvalitet",
    "services": "/services",
    "record-of-processing": "/kommune/4203/behandlingsprotokoll",
    "editor": "/editor",
    "sparql-form": "/sparql",
    "ontology": "/ontology",
    "shapes": "/shapes",
    "guides": "/docs/",
    "guide": "/docs/analytiker",
    "upload": "/upload",
    "roadmap": "/kommune/4203/veikart",
    "roadmap-region": "/region/test-region/veikart",
    "edit-record": "/rediger?iri={base}/id/bruk/4203/saksbehandler",
}
"""Every page type, by a name (of its screenshot, for the main pages)."""
SCREENSHOTS = {
    "home",
    "search",
    "map",
    "map-service",
    "gallery",
    "query-bars",
    "query-heat-map",
    "query-map",
    "municipality",
    "application",
    "region",
    "catalogues",
    "upload",
    "roadmap",
}
"""The main pages, kept as full-page screenshots in bokmål (each costs seconds)."""


@dataclass
class Watch:
    outside: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


# ``site`` and ``browser``: one each for the session (tests/ui/conftest.py).


def _context(browser: Browser, watch: Watch, width: int = 1280) -> BrowserContext:
    context = browser.new_context(viewport={"width": width, "height": 900})

    def guard(route: Route) -> None:
        url = route.request.url
        if url.startswith(("data:", "blob:")) or urllib.parse.urlsplit(url).hostname == "127.0.0.1":
            route.continue_()
        else:
            watch.outside.append(url)
            route.abort()

    context.route("**/*", guard)
    return context


def _watched(context: BrowserContext, watch: Watch) -> Page:
    page = context.new_page()

    def console(message: ConsoleMessage) -> None:
        # A page's own status (404 for not found, 422 for a bad parameter) is logged as
        # an error too; any other failed load or script error is one.
        own = message.location.get("url") == page.url and "status of 4" in message.text
        if message.type == "error" and not own:
            watch.errors.append(f"{page.url}: {message.text}")

    page.on("console", console)
    page.on("pageerror", lambda error: watch.errors.append(f"{page.url}: {error}"))
    return page


def _violations(page: Page, name: str) -> list[str]:
    found = Axe().run(page, context=REPEATED.get(name), options=WCAG).response["violations"]
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — "
        + "; ".join(node["html"][:160] for node in v["nodes"][:3])
        for v in found
    ]


@pytest.mark.parametrize("lang", ["nb", "en"])
def test_every_page_type_has_no_wcag_violation_and_stays_on_the_host(
    site: Server, browser: Browser, lang: str
) -> None:
    watch = Watch()
    context = _context(browser, watch)
    page = _watched(context, watch)
    failures: dict[str, list[str]] = {}
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        for name, path in PAGES.items():
            joiner = "&" if "?" in path else "?"
            page.goto(site.url + path.format(base=site.url) + f"{joiner}lang={lang}")
            assert page.locator("html").get_attribute("lang") == lang, name
            if name == "editor":
                page.wait_for_selector(".CodeMirror")
            found = _violations(page, name)
            if found:
                failures[name] = found
            if lang == "nb" and name in SCREENSHOTS:
                shot = str(ARTIFACTS / f"page-{name}.png")
                page.screenshot(path=shot, full_page=True, timeout=60_000)
    finally:
        context.close()
    assert failures == {}, failures
    assert watch.outside == [], f"requests left 127.0.0.1: {watch.outside}"
    assert watch.errors == [], f"console errors: {watch.errors}"


def test_the_map_and_a_municipality_fit_phone_laptop_and_wall_screens(
    site: Server, browser: Browser
) -> None:
    """No page wider than the screen (only tables scroll inside their own box), the map
    scaled to fit, the navigation on one row; screenshots at each width."""
    watch = Watch()
    for label, width in WIDTHS.items():
        context = _context(browser, watch, width)
        page = _watched(context, watch)
        try:
            for name, path in (("map", "/kart?lag=regions"), ("municipality", "/id/kommune/4203")):
                page.goto(site.url + path)
                overflow = page.evaluate("document.documentElement.scrollWidth - innerWidth")
                assert overflow <= 0, f"{name} is {overflow}px wider than a {label} screen"
                nav = page.locator("header nav li").evaluate_all(
                    "items => new Set(items.map(i => i.getBoundingClientRect().top)).size"
                )
                assert nav == 1, f"the navigation wraps on a {label} screen"
                if name == "map":
                    drawn = page.locator("figure.map svg").bounding_box()
                    assert drawn is not None and 0 < drawn["width"] <= width
                page.screenshot(path=str(ARTIFACTS / f"{name}-{label}.png"), full_page=True)
        finally:
            context.close()
    assert watch.outside == [] and watch.errors == [], (watch.outside, watch.errors)


def test_the_map_prints_without_navigation_or_form(site: Server, browser: Browser) -> None:
    watch = Watch()
    context = _context(browser, watch)
    page = _watched(context, watch)
    try:
        page.goto(site.url + "/kart?lag=service&service=barnevern")
        page.emulate_media(media="print")
        assert not page.locator("header nav").is_visible()
        assert not page.locator("form.map-form").is_visible()
        assert page.locator("figure.map svg").is_visible()
        assert page.locator("ul.legend").is_visible()
        page.screenshot(path=str(ARTIFACTS / "map-print.png"), full_page=True)
        pdf = page.pdf(format="A4")
        assert pdf.startswith(b"%PDF")
        (ARTIFACTS / "map-print.pdf").write_bytes(pdf)
    finally:
        context.close()
    assert watch.outside == [] and watch.errors == [], (watch.outside, watch.errors)
