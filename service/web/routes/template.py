"""GET /template: the spreadsheet template, blank or with a municipality's current data.

``/template`` is the blank template generated from the shapes (the same file as
``kommunegraf template``); ``/template?kommune=4203`` is the same workbook with
the municipality's own rows filled in (``service.exports.municipality_workbook``, kept
until the next write), so a system owner edits last year's answers instead of starting
again.
"""

from __future__ import annotations

import asyncio
import functools
import io

from fastapi import APIRouter, Query, Response

from loaders.template import write_template
from service.errors import unknown_municipality
from service.exports.municipality_workbook import (
    NUMBER,
    XLSX_MEDIA,
    current_workbook,
    known_municipality_query,
)
from service.store.reads import constructor
from service.web.dependencies import BackendDep, SettingsDep
from service.web.responses import as_response

router = APIRouter(tags=["Regneark / Workbooks"])


@functools.cache
def _blank(base_iri: str) -> bytes:
    output = io.BytesIO()
    write_template(output, base_iri)
    return output.getvalue()


def _download(name: str, body: bytes) -> Response:
    return Response(
        body,
        media_type=XLSX_MEDIA,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get(
    "/template",
    summary="Regnearkmalen, tom eller med kommunens data / The workbook template, blank or "
    "with a municipality's current data",
    response_model=None,
)
async def template(
    backend: BackendDep,
    settings: SettingsDep,
    kommune: str | None = Query(
        None, description="Kommunenummer: fyll inn kommunens data (fill in its current data)"
    ),
) -> Response:
    base = settings.base_iri
    if kommune is None or not kommune.strip():
        return _download("kommunegraf-mal.xlsx", await asyncio.to_thread(_blank, base))
    number = kommune.strip()
    construct = constructor(backend)
    if not NUMBER.fullmatch(number) or not len(await construct(known_municipality_query(number))):
        return as_response(unknown_municipality(number[:20]))
    name, body = await current_workbook(backend, base, number)
    return _download(name, body)
