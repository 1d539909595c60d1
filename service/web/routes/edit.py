"""Edit one record in the browser: a usage or a contract, by a form made from the shapes.

``GET /rediger?iri=<record>`` shows the form: one field per column of the record's
sheet, with the column's name, order, help text, dropdown (``sh:in``) and required
mark, exactly as the template has them (``loaders.columns``), filled with the values
the municipality's pre-filled workbook holds. ``POST /rediger`` with the token checks
and previews, or (``action=save``) loads.

Why through the workbook: the form changes one row of the municipality's current
workbook (``/template?kommune=NNNN``) and sends that workbook the way an upload does
(``service.web.routes.upload``): the same validation, the same scope check, the same
change preview, the same audited, all-or-nothing load that replaces the source's
graph; a record an administrator loaded is taken over into the municipality's graph in
the same write (``service.access.takeover``), so the saved value replaces the old one.
A form that wrote triples of its own would be a second way in to keep equal.
The workbook stays the way to change many rows at once.
"""

from __future__ import annotations

import asyncio
import datetime
import io
import re
import tempfile
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openpyxl
from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from rdflib import URIRef
from rdflib.namespace import XSD

from loaders.columns import Column, Sheet, sheet_for_class
from loaders.namespaces import KG, PREFIXES
from loaders.spreadsheet import read_spreadsheet
from loaders.template import label
from loaders.validation import ontology_graph
from service.access.auth import principal_of
from service.access.scope import subject_kind
from service.access.uploads import check_upload, load_upload, plan_changes
from service.errors import AccessDeniedError
from service.exports.municipality_workbook import current_workbook
from service.pages.render import html_page
from service.store.reads import select
from service.store.sources import reference_context
from service.web.dependencies import BackendDep, SettingsDep
from service.web.responses import read_body

router = APIRouter(tags=["Upload"])

EDITABLE = (KG.ApplicationUsage, KG.Contract)
"""The classes the form edits; the workbook edits every class."""
_FORM_ROOM = 64 * 1024


@dataclass(frozen=True)
class Field:
    column: Column
    name: str
    value: str
    kind: str
    """text, date, number, decimal or select."""
    options: tuple[str, ...]
    key: bool
    """Part of the record's IRI: changing it would make another record, so it is shown only."""


@dataclass
class Record:
    iri: str
    cls: URIRef
    sheet: Sheet
    file_name: str
    workbook: bytes
    row: int
    fields: list[Field]


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        return value.date().isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


def _kind(column: Column) -> str:
    if column.values:
        return "select"
    if column.datatype == XSD.date:
        return "date"
    if column.datatype in (XSD.integer, XSD.nonNegativeInteger):
        return "number"
    if column.datatype == XSD.decimal:
        return "decimal"
    return "text"


def _keys(sheet: Sheet) -> set[str]:
    """The columns named in the sheet's IRI template, as ``prefix:local`` names."""
    return set(re.findall(r"\{([^}]+)\}", sheet.iri_template))


def _curie(path: object) -> str:
    for prefix, namespace in PREFIXES.items():
        if isinstance(path, URIRef) and str(path).startswith(namespace):
            return f"{prefix}:{str(path)[len(namespace) :]}"
    return str(path)


async def _record(
    backend: BackendDep, base: str, iri: str
) -> tuple[Record | None, tuple[str, str] | None]:
    """The record's form, or a (nb, en) message why there is none."""
    kind, number = subject_kind(base, iri)
    types = await select(backend, f"SELECT ?t WHERE {{ <{iri}> a ?t }}")
    classes = [URIRef(row["t"]) for row in types]
    cls = next((c for c in EDITABLE if c in classes), None)
    if kind != "municipal" or number is None or cls is None:
        return None, (
            "Skjemaet endrer én applikasjonsbruk eller én kontrakt; bruk regnearket for resten.",
            "The form edits one application usage or one contract; use the workbook for the rest.",
        )
    name, data = await current_workbook(backend, base, number)
    sheet = sheet_for_class(cls)

    def locate() -> int | None:
        with tempfile.TemporaryDirectory(prefix="kommunegraf-edit-") as folder:
            path = Path(folder, name)
            path.write_bytes(data)
            checked = read_spreadsheet(path, base, reference_context(base))  # rows only
        place = checked.rows.get(URIRef(iri))
        return place[1] if place is not None else None

    row = await asyncio.to_thread(locate)
    if row is None:
        return None, ("Fant ikke raden i kommunens regneark.", "The row is not in the workbook.")
    book = openpyxl.load_workbook(io.BytesIO(data))
    cells = [c.value for c in book[sheet.name_nb[:31]][row]]
    ontology = ontology_graph()
    keys = _keys(sheet)
    fields = [
        Field(
            column,
            f"c{i}",
            _text(cells[i] if i < len(cells) else None),
            _kind(column),
            tuple(label(ontology, v) for v in column.values),
            _curie(column.path) in keys,
        )
        for i, column in enumerate(sheet.columns)
    ]
    return Record(iri, cls, sheet, name, data, row, fields), None


def _page(request: Request, status: int = 200, **context: Any) -> HTMLResponse:
    return html_page("rediger.html", request, status_code=status, **context)


@router.get("/rediger", summary="Endre én post / Edit one record", include_in_schema=False)
async def edit_form(request: Request, backend: BackendDep, settings: SettingsDep) -> Response:
    iri = request.query_params.get("iri", "")
    record, problem = await _record(backend, settings.base_iri, iri)
    if record is None:
        return _page(request, 404, message=problem)
    return _page(request, record=record)


def _edited(record: Record, form: dict[str, str]) -> bytes:
    """The workbook with the record's row set to the form's values (keys kept)."""
    book = openpyxl.load_workbook(io.BytesIO(record.workbook))
    worksheet = book[record.sheet.name_nb[:31]]
    for i, field in enumerate(record.fields):
        if field.key:
            continue
        value = form.get(field.name, "").strip()
        worksheet.cell(record.row, i + 1).value = value or None
    output = io.BytesIO()
    book.save(output)
    return output.getvalue()


@router.post("/rediger", include_in_schema=False)
async def edit_submit(request: Request, backend: BackendDep, settings: SettingsDep) -> Response:
    body = await read_body(request, _FORM_ROOM)
    form = dict(urllib.parse.parse_qsl(body.decode("utf-8"), max_num_fields=64))
    try:  # the token first: a wrong one costs the service nothing more
        principal = principal_of(form.get("token", "").strip(), settings)
    except AccessDeniedError as refused:
        return _page(request, refused.status, message=(refused.nb, refused.en))
    record, problem = await _record(backend, settings.base_iri, form.get("iri", ""))
    if record is None:
        return _page(request, 404, message=problem)
    submitted = [
        f if f.key else Field(f.column, f.name, form.get(f.name, ""), f.kind, f.options, f.key)
        for f in record.fields
    ]
    data = await asyncio.to_thread(_edited, record, form)
    plan = await check_upload(backend, settings, principal, record.file_name, data)
    record.fields = submitted
    if not plan.report.conforms:
        return _page(request, 422, record=record, plan=plan)
    changes = await plan_changes(backend, plan)
    if form.get("action") != "save":
        return _page(request, record=record, plan=plan, changes=changes)
    event = await load_upload(request, backend, principal, plan)
    return _page(request, record=record, plan=plan, changes=changes, loaded=event)
