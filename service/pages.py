"""HTML rendering: Jinja2 templates with autoescaping always on.

Labels come from uploaded spreadsheets, so every value is escaped; a label
containing ``<script>`` shows as text.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from fastapi import Request
from jinja2 import Environment, PackageLoader, select_autoescape


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("service", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(template: str, request: Request, **context: Any) -> str:
    return _environment().get_template(template).render(request=request, **context)
