"""ArchiMate for enterprise architects: the exchange file and Archi's CSV, per municipality
or region, and an exchange file turned into a pre-filled workbook.

Read through the backend (the query deadline, never on the event loop); the model is
built once and written in the format asked for, so the XML and the CSV hold the same.
"""

from __future__ import annotations

import asyncio
import functools

from fastapi import APIRouter, Request, Response
from starlette.datastructures import UploadFile

from service.errors import unknown_municipality
from service.exports.archi_csv import MEDIA_TYPE as ZIP_MEDIA
from service.exports.archi_csv import to_csv_zip
from service.exports.archimate import (
    MEDIA_TYPE as XML_MEDIA,
)
from service.exports.archimate import (
    Scope,
    UnknownScopeError,
    export_model,
    municipality_scope,
    region_scope,
)
from service.exports.archimate_import import ExchangeFileError, read_exchange, workbook_bytes
from service.exports.archimate_xml import to_exchange_xml
from service.exports.records_of_processing import XLSX_MEDIA
from service.store.backend import Backend
from service.store.reads import select
from service.web.dependencies import BackendDep, SettingsDep
from service.web.responses import as_response, error_response, read_body, too_large

router = APIRouter(tags=["ArchiMate"])


def _unknown(what: str, value: str) -> Response:
    shown = value[:40]
    if what == "kommune":
        return as_response(unknown_municipality(shown))
    return error_response(
        404,
        f"Ukjent region: «{shown}». Se regionene på /sok?q=region.",
        f"Unknown region: '{shown}'. See the regions at /sok?q=region.",
    )


async def _export(backend: Backend, scope: Scope, fmt: str) -> Response:
    model = await export_model(functools.partial(select, backend), scope)
    if fmt == "xml":
        body, media, suffix = to_exchange_xml(model), XML_MEDIA, "xml"
    else:
        body, media, suffix = to_csv_zip(model), ZIP_MEDIA, "zip"
    return Response(
        body,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{scope.file_stem}.{suffix}"'},
    )


VARIANTS = {".xml": "xml", "-csv.zip": "csv"}
"""``archimate.xml`` (the exchange file) and ``archimate-csv.zip`` (Archi's CSV)."""


async def _scoped(backend: Backend, what: str, value: str, base: str, variant: str) -> Response:
    fmt = VARIANTS.get(variant)
    if fmt is None:
        return error_response(
            404,
            "Finnes som archimate.xml og archimate-csv.zip.",
            "Available as archimate.xml and archimate-csv.zip.",
        )
    read = functools.partial(select, backend)
    try:
        scope = await (
            municipality_scope(read, value, base)
            if what == "kommune"
            else region_scope(read, value, base)
        )
        return await _export(backend, scope, fmt)
    except UnknownScopeError:
        return _unknown(what, value)


@router.get(
    "/kommune/{kommunenummer}/archimate{variant}",
    summary="Porteføljen som ArchiMate / The portfolio as ArchiMate",
    description="`archimate.xml`: the ArchiMate 3.1 Model Exchange File Format (Archi: File → "
    "Import → Open Exchange XML Model). `archimate-csv.zip`: elements.csv, relations.csv and "
    "properties.csv for Archi's Import CSV.",
    response_model=None,
)
async def municipality_archimate(
    kommunenummer: str, variant: str, backend: BackendDep, settings: SettingsDep
) -> Response:
    return await _scoped(backend, "kommune", kommunenummer, settings.base_iri, variant)


@router.get(
    "/region/{slug}/archimate{variant}",
    summary="Regionens porteføljer som ArchiMate / A region's portfolios as ArchiMate",
    description="The members' portfolios in one model; `archimate.xml` or `archimate-csv.zip`.",
    response_model=None,
)
async def region_archimate(
    slug: str, variant: str, backend: BackendDep, settings: SettingsDep
) -> Response:
    return await _scoped(backend, "region", slug, settings.base_iri, variant)


@router.post(
    "/archimate/arbeidsbok",
    summary="Fra ArchiMate til arbeidsbok / An ArchiMate exchange file to a workbook",
    description="The body is an exchange file (or a form with the field `fil`); the answer is "
    "the spreadsheet template pre-filled with its application components, to check and "
    "upload as usual. Nothing is written. `?kommune=NNNN` fills the municipality column.",
    response_model=None,
)
async def exchange_to_workbook(request: Request, settings: SettingsDep) -> Response:
    kommune = request.query_params.get("kommune") or None
    if kommune is not None and not (len(kommune) == 4 and kommune.isdigit()):
        return _unknown("kommune", kommune)
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await request.form(max_files=1, max_fields=4)
        upload = form.get("fil")
        kommune = kommune or (str(form.get("kommune") or "").strip() or None)
        if not isinstance(upload, UploadFile):
            return error_response(
                400, "Velg en fil (feltet fil).", "Choose a file (the field fil)."
            )
        if upload.size is None or upload.size > settings.max_body_bytes:
            return too_large(settings.max_body_bytes)
        data = await upload.read()
    else:
        body = await read_body(request, settings.max_body_bytes)
        data = body
    try:
        applications = await asyncio.to_thread(read_exchange, data)
    except ExchangeFileError as error:
        nb, _, en = str(error).partition(" / ")
        return error_response(422, nb, en or nb)
    workbook = await asyncio.to_thread(workbook_bytes, applications, kommune, settings.base_iri)
    return Response(
        workbook,
        media_type=XLSX_MEDIA,
        headers={"Content-Disposition": 'attachment; filename="archimate-arbeidsbok.xlsx"'},
    )
