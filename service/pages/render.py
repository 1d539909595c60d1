"""HTML rendering: Jinja2 templates with autoescaping always on.

Labels come from uploaded spreadsheets, so every value is escaped; a label
containing ``<script>`` shows as text.

Only http(s) addresses (and paths on this site) become link targets: an IRI in the
data can be anything, and ``javascript:`` in an ``href`` runs when clicked. Templates
link through ``link`` and ``Names.a``, which show any other IRI as text, and every
rendered page passes ``neutralise_links`` as well, so a template that forgets cannot
link elsewhere.

Pages are Norwegian (bokmål) first with English alongside; ``?lang=en`` (remembered
in a cookie) puts English first for readers who want it, without hiding bokmål.
"""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import Mapping
from functools import cache, partial
from typing import Any, TypeVar

from fastapi import Request, Response
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, pass_context, select_autoescape
from jinja2.runtime import Context
from markupsafe import Markup

LANGUAGES = ("nb", "en")
_LANGUAGE_COOKIE = "lang"
LINK_SCHEMES = frozenset({"http", "https"})
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
_IGNORED_IN_URLS = re.compile(r"[\t\n\r]")
_LINKING_TAG = re.compile(r"<(?:a|area|form|button|input|base)\b[^>]*>", re.IGNORECASE)
_LINK_ATTRIBUTE = re.compile(r'(\s(?:href|action|formaction)=")([^"]*)(")', re.IGNORECASE)


def is_link_target(address: str) -> bool:
    """Whether ``address`` may be a link's target: http(s), or a path on this site.

    Read the way a browser reads an ``href``: entities decoded, tabs and newlines
    dropped, leading controls and spaces stripped.

    >>> is_link_target("https://lovdata.no/lov/1992-09-25-107"), is_link_target("/id/x")
    (True, True)
    >>> is_link_target(" java\tscript:alert(1)"), is_link_target("data:text/html,x")
    (False, False)
    >>> is_link_target("javascript&#58;alert(1)")
    False
    """
    text = _IGNORED_IN_URLS.sub("", html.unescape(address)).lstrip("\x00- ")
    scheme = _SCHEME.match(text)
    if scheme is None:
        return ":" not in text.split("/", 1)[0]  # a relative path, not "x:" in disguise
    return scheme.group(1).lower() in LINK_SCHEMES


def link(address: str | None, text: object = None) -> Markup:
    """``<a>`` to ``address`` when it may be a link target, else the text alone."""
    shown = address if text is None else text
    if address and is_link_target(address):
        if address.startswith("/"):
            return Markup('<a href="{}">{}</a>').format(address, shown)
        return Markup('<a href="{}" rel="external noopener">{}</a>').format(address, shown)
    return Markup("{}").format(shown or "")


def neutralise_links(page: str) -> str:
    """Replace every link target a page may not have (see ``is_link_target``) by ``#``.

    >>> neutralise_links('<p><a class="x" href="javascript:alert(1)">x</a></p>')
    '<p><a class="x" href="#">x</a></p>'
    >>> neutralise_links('<link rel="icon" href="data:,"><a href="/id/y">y</a>')
    '<link rel="icon" href="data:,"><a href="/id/y">y</a>'
    """

    def attribute(found: re.Match[str]) -> str:
        if is_link_target(found.group(2)):
            return found.group(0)
        return found.group(1) + "#" + found.group(3)

    return _LINKING_TAG.sub(lambda tag: _LINK_ATTRIBUTE.sub(attribute, tag.group(0)), page)


def language(request: Request) -> str:
    """The reader's language: ``?lang=``, else the cookie, else bokmål."""
    asked = request.query_params.get("lang")
    if asked in LANGUAGES:
        return asked
    remembered = request.cookies.get(_LANGUAGE_COOKIE)
    return remembered if remembered in LANGUAGES else "nb"


@pass_context
def _bilingual(context: Context, nb: str, en: str) -> Markup:
    """Text in the reader's language, the other language alongside (muted)."""
    if context.get("lang") == "en":
        return Markup('{} <span lang="nb" class="alt">/ {}</span>').format(en, nb)
    return Markup('{} <span lang="en" class="alt">/ {}</span>').format(nb, en)


@pass_context
def _paragraphs(context: Context, text: Mapping[str, str]) -> Markup:
    """A text in both languages (a canned query's description) as two paragraphs: the
    reader's language first, the other after it (muted)."""
    first, other = ("en", "nb") if context.get("lang") == "en" else ("nb", "en")
    return Markup('<p>{}</p>\n<p lang="{}" class="alt">{}</p>').format(
        text[first], other, text[other]
    )


@cache
def _environment() -> Environment:
    environment = Environment(
        loader=PackageLoader("service.pages", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.globals["t"] = _bilingual
    environment.globals["paragraphs"] = _paragraphs
    environment.globals["link"] = link
    return environment


def compile_templates() -> None:
    """Compile every template now (at start-up, on a thread): the first use of each
    compiled it on the event loop, half a second at a time on a busy machine."""
    environment = _environment()
    for name in environment.list_templates():
        environment.get_template(name)


def render(template: str, request: Request, **context: Any) -> str:
    context.setdefault("lang", language(request))
    page = _environment().get_template(template).render(request=request, **context)
    return neutralise_links(page)


async def page(
    template: str,
    request: Request,
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """``html_page`` rendered on a thread: a municipality's page is seconds of template
    code on a busy machine, and on the event loop every request waited for it (issue
    16, the load test's probe)."""
    return await asyncio.to_thread(
        partial(html_page, template, request, status_code=status_code, headers=headers, **context)
    )


def html_page(
    template: str,
    request: Request,
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """A rendered page; remembers a language chosen with ``?lang=`` in a cookie."""
    response = HTMLResponse(
        render(template, request, **context), status_code=status_code, headers=headers
    )
    return remember_language(request, response)


R = TypeVar("R", bound=Response)


def remember_language(request: Request, response: R) -> R:
    """``response``, with a language chosen with ``?lang=`` remembered in a cookie."""
    asked = request.query_params.get("lang")
    if asked in LANGUAGES:
        response.set_cookie(
            _LANGUAGE_COOKIE, asked, max_age=365 * 24 * 3600, httponly=True, samesite="lax"
        )
    return response
