"""HTML rendering: Jinja2 templates with autoescaping always on.

Labels come from uploaded spreadsheets, so every value is escaped; a label
containing ``<script>`` shows as text.

Pages are Norwegian (bokmål) first with English alongside; ``?lang=en`` (remembered
in a cookie) puts English first for readers who want it, without hiding bokmål.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, pass_context, select_autoescape
from jinja2.runtime import Context
from markupsafe import Markup

LANGUAGES = ("nb", "en")
_LANGUAGE_COOKIE = "lang"


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


@cache
def _environment() -> Environment:
    environment = Environment(
        loader=PackageLoader("service.pages", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.globals["t"] = _bilingual
    return environment


def render(template: str, request: Request, **context: Any) -> str:
    context.setdefault("lang", language(request))
    return _environment().get_template(template).render(request=request, **context)


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
    asked = request.query_params.get("lang")
    if asked in LANGUAGES:
        response.set_cookie(
            _LANGUAGE_COOKIE, asked, max_age=365 * 24 * 3600, httponly=True, samesite="lax"
        )
    return response
