"""GET /kommune/{kommunenummer}/behandlingsprotokoll: the art. 30 record of one municipality.

A printable HTML page by default, the same record as a spreadsheet with
``?format=xlsx`` (or ``Accept`` for xlsx). The record is read through the backend,
so it gets the query deadline and never runs on the event loop; the workbook is
built in a thread.
"""

from __future__ import annotations

import asyncio
import functools

from fastapi import APIRouter, Request, Response

from service.errors import unknown_municipality
from service.exports.records_of_processing import XLSX_MEDIA, file_name, read_record, xlsx_bytes
from service.pages.render import page
from service.sparql.canned import ParameterError
from service.store.reads import select
from service.web.dependencies import BackendDep, SettingsDep
from service.web.negotiation import negotiate
from service.web.responses import as_response, error_response

router = APIRouter(tags=["Personvern / GDPR"])

OFFERED = ["text/html", XLSX_MEDIA]
FORMATS = {"html": "text/html", "xlsx": XLSX_MEDIA}
VARY = {"Vary": "Accept"}


def _media(request: Request) -> str | None:
    return negotiate(request, OFFERED, FORMATS)


def _unknown(kommunenummer: str) -> Response:
    return as_response(unknown_municipality(kommunenummer[:20], headers=VARY))


@router.get(
    "/kommune/{kommunenummer}/behandlingsprotokoll",
    summary="Protokoll over behandlingsaktiviteter (art. 30) / Record of processing activities",
    response_model=None,
)
async def record_of_processing(
    kommunenummer: str, request: Request, backend: BackendDep, settings: SettingsDep
) -> Response:
    """The municipality's record under GDPR art. 30, as HTML or as a spreadsheet (xlsx)."""
    media = _media(request)
    if media is None:
        return error_response(
            406,
            "Protokollen finnes som html og xlsx; velg en av dem.",
            "The record is available as html and xlsx; choose one of them.",
            headers=VARY,
        )
    try:
        record = await read_record(
            functools.partial(select, backend), kommunenummer, settings.base_iri
        )
    except ParameterError:
        return _unknown(kommunenummer)
    if record is None:
        return _unknown(kommunenummer)
    if media == XLSX_MEDIA:
        body = await asyncio.to_thread(xlsx_bytes, record)
        return Response(
            body,
            media_type=XLSX_MEDIA,
            headers={
                **VARY,
                "Content-Disposition": f'attachment; filename="{file_name(record)}"',
            },
        )
    return await page("behandlingsprotokoll.html", request, record=record, headers=VARY)
