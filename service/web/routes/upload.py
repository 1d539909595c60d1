"""Uploading a municipality's workbook, and approving what it proposes for the catalogue.

Two doors to the same steps:

* ``POST /upload?name=<file name>`` with ``Authorization: Bearer`` and the file as
  the body, for scripts; ``dry_run=true`` checks without loading. JSON answer.
* ``/upload`` in a browser: a form asks for the token and the file, shows what
  the token may write and the validation report *before* anything is loaded,
  then a button loads exactly the file that was checked; below, the audit
  entries of the token's municipalities.

The steps: validate the workbook (``loaders``) against the reference data and
what is stored; then check the rows against the token's scope
(``service.access.scope``): a row for another municipality, or for shared
reference data, is an error naming its sheet and row; application and vendor
rows become a proposal (``service.access.proposals``). Only a report without errors is
loaded, into ``<base>graph/kommune/<kommunenummer>/<file>`` (a municipality
token) or ``<base>graph/source/<file>`` (an admin), replacing that graph; a
municipality's load takes over its records from the graph an admin loaded them into
(``service.access.takeover``), so an edit replaces the value rather than adding one.
Every load is audited with the file's SHA-256.

``/proposals`` lists pending proposals; an admin approves or rejects one with
``POST /proposals/<id>/approve`` or ``/reject``.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
import urllib.parse
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import pyoxigraph as ox
from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from service.access.audit import AuditEvent, GraphChange, auditor, change, new_event
from service.access.auth import authenticate, principal_of, write_lock
from service.access.proposals import (
    LIST_QUERY,
    content_query,
    proposals_from_json,
    proposed_graph,
)
from service.access.scope import (
    Principal,
    catalogue_graph,
    proposal_graph,
)
from service.access.uploads import UploadPlan, check_upload, load_upload, plan_changes
from service.errors import AccessDeniedError
from service.metrics import record_rejected_load
from service.pages.render import html_page
from service.settings import Settings
from service.store.backend import Backend
from service.store.embedded import safe_ntriples
from service.web.dependencies import BackendDep, SettingsDep
from service.web.responses import error_response, read_body, too_large
from service.web.timing import phase, server_timing, timed_phases

router = APIRouter(tags=["Upload"])

PENDING_MINUTES = 30
"""How long a checked upload waits for its load button."""
_PENDING_LIMIT = 32


# -- the API ----------------------------------------------------------------------


@router.post("/upload", summary="Upload a workbook / Last opp et regneark")
async def upload(request: Request, backend: BackendDep, settings: SettingsDep) -> Response:
    writer = authenticate(request, settings)
    name = request.query_params.get("name", "").strip()
    if not name:
        return error_response(
            400,
            "Oppgi filnavnet med ?name=<fil.xlsx>; endelsen sier hvordan filen leses.",
            "Give the file name with ?name=<file.xlsx>; its suffix says how it is read.",
        )
    body = await read_body(request, settings.max_body_bytes)
    with timed_phases() as phases:
        answer = await _upload(request, backend, settings, writer, name, body)
    answer.headers["Server-Timing"] = server_timing(phases)
    return answer


async def _upload(
    request: Request,
    backend: Backend,
    settings: Settings,
    writer: Principal,
    name: str,
    body: bytes,
) -> JSONResponse:
    plan = await check_upload(backend, settings, writer, name, body)
    summary = plan.summary()
    if not plan.report.readable:
        return JSONResponse({**summary, "loaded": False}, status_code=400)
    if not plan.report.conforms:
        record_rejected_load("spreadsheet")
        return JSONResponse({**summary, "loaded": False}, status_code=422)
    if request.query_params.get("dry_run", "").lower() in ("1", "true", "yes"):
        with phase("changes"):
            summary["changes"] = await plan_changes(backend, plan)
        return JSONResponse({**summary, "loaded": False})
    event = await load_upload(request, backend, writer, plan)
    return JSONResponse({**summary, "loaded": True, "audit": asdict(event)})


async def _proposals(backend: Backend, base: str) -> list[dict[str, Any]]:
    answer = await backend.execute(
        LIST_QUERY % f"{base}graph/proposal/",
        solutions_media="application/sparql-results+json",
        graph_media=None,
    )
    return [asdict(p) for p in proposals_from_json(answer.body)]


@router.get("/proposals", summary="Pending catalogue proposals / Forslag til katalogen")
async def proposals(backend: BackendDep, settings: SettingsDep) -> Response:
    return JSONResponse(await _proposals(backend, settings.base_iri))


@router.post("/proposals/{identifier}/{decision}", summary="Approve or reject a proposal")
async def decide(
    request: Request,
    identifier: str,
    decision: str,
    backend: BackendDep,
    settings: SettingsDep,
) -> Response:
    writer = authenticate(request, settings)
    if not writer.is_admin:
        return error_response(
            403,
            "Bare en administrator kan godkjenne eller avvise forslag.",
            "Only an administrator may approve or reject proposals.",
        )
    if decision not in ("approve", "reject") or not identifier.isalnum():
        return error_response(
            404,
            "Ukjent forslag eller handling (approve eller reject).",
            "Unknown proposal or action (approve or reject).",
        )
    base = settings.base_iri
    graph = proposal_graph(base, identifier)
    catalogue = catalogue_graph(base)
    audit = auditor(request)
    async with write_lock(request):
        answer = await backend.execute(
            content_query(graph),
            solutions_media="application/sparql-results+json",
            graph_media=None,
        )
        rows = json.loads(answer.body)["results"]["bindings"]
        if not rows:
            return error_response(404, "Forslaget finnes ikke.", "No such proposal.", graph)
        proposal_size = sum((await audit.graph_keys(graph)).values())
        changes = [GraphChange(graph, 0, proposal_size)]
        planned = [GraphChange(catalogue, 0, 0)] if decision == "approve" else []
        event = new_event(
            writer,
            "approval",
            base,
            planned + changes,
            detail=f"{'godkjent / approved' if decision == 'approve' else 'avvist / rejected'}"
            f" {identifier}",
        )
        async with audit.announced(event):
            if decision == "approve":
                data = await asyncio.to_thread(proposed_graph, rows[0]["t"]["value"])
                before = await audit.graph_keys(catalogue)
                triples = await asyncio.to_thread(safe_ntriples, data)
                await backend.update(
                    f"INSERT DATA {{ GRAPH {ox.NamedNode(catalogue)} {{\n{triples}\n}} }}"
                )
                changes.insert(0, change(catalogue, before, await audit.graph_keys(catalogue)))
            await backend.update(f"DROP SILENT GRAPH {ox.NamedNode(graph)}")
        event = replace(event, changes=tuple(changes))
        await audit.record(event)
    return JSONResponse({"proposal": identifier, "decision": decision, "audit": asdict(event)})


# -- the page ----------------------------------------------------------------------


@dataclass
class _Pending:
    """A checked upload waiting for its load button, in this process's memory only."""

    token: str = field(repr=False)
    """Checked again at load time, so a token revoked meanwhile cannot load."""
    plan: UploadPlan
    expires: float


def _pending(request: Request) -> dict[str, _Pending]:
    found: dict[str, _Pending] | None = getattr(request.app.state, "pending_uploads", None)
    if found is None:
        found = request.app.state.pending_uploads = {}
    now = time.monotonic()
    for key in [k for k, v in found.items() if v.expires < now]:
        del found[key]
    while len(found) >= _PENDING_LIMIT:
        del found[next(iter(found))]
    return found


def _events_for(request: Request, principal: Principal) -> list[AuditEvent]:
    log = auditor(request).log
    if principal.is_admin:
        events = log.events()
    else:
        events = [e for n in sorted(principal.municipalities) for e in log.events(municipality=n)]
        events = sorted({e.id: e for e in events}.values(), key=lambda e: e.time)
    return list(reversed(events))[:50]


def _refused_page(request: Request, refusal: AccessDeniedError, writable: bool) -> HTMLResponse:
    """The refusal ``service.access.auth`` raised, as the page with its nb/en message."""
    return _page(request, refusal.status, writable=writable, message=(refusal.nb, refusal.en))


def _page(request: Request, status: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("base_url", str(request.base_url).rstrip("/"))
    return html_page("upload.html", request, status_code=status, **context)


@router.get("/upload", summary="The upload page / Opplastingssiden")
async def upload_page(request: Request, settings: SettingsDep) -> HTMLResponse:
    writable = bool(settings.token or settings.tokens)
    return _page(request, writable=writable)


FORM_ROOM = 64 * 1024
"""Bytes a form may hold besides the file (the token, the pending id, the framing)."""


class _TokenMissingError(Exception):
    """The file came before a token (or with an empty one)."""


class _TokenFirstParser(MultiPartParser):
    """Starlette's multipart parser, checking the token before a byte of the file is kept.

    The form sends the token field before the file (browsers send fields in
    document order). The token is checked as soon as its part ends; the file's part
    is refused at its headers unless a valid token came first. So a wrong token
    costs the service the few bytes before the file, never the file (a chunked
    1 GB body with a wrong token was spooled to disk before the 403), and the body
    as a whole is bounded by the app's ``max_body_size`` while it streams.
    """

    def __init__(self, request: Request, settings: Settings) -> None:
        super().__init__(
            request.headers, request.stream(), max_files=1, max_fields=8, max_part_size=FORM_ROOM
        )
        self.settings = settings
        self.principal: Principal | None = None

    def on_part_end(self) -> None:
        super().on_part_end()
        name, value = self.items[-1]
        if name == "token" and isinstance(value, str) and value.strip():
            found = principal_of(value.strip(), self.settings)
            self.principal = found

    def on_headers_finished(self) -> None:
        super().on_headers_finished()
        if self._current_part.file is not None and self.principal is None:
            raise _TokenMissingError


async def _read_form(request: Request, settings: Settings) -> FormData:
    """The form, read as ``_TokenFirstParser`` says; a form without a file is small."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media == "multipart/form-data":
        return await _TokenFirstParser(request, settings).parse()
    body = await read_body(request, FORM_ROOM)
    fields: list[tuple[str, str | UploadFile]] = list(
        urllib.parse.parse_qsl(body.decode("utf-8"), max_num_fields=8)
    )
    return FormData(fields)


@router.post("/upload/form", include_in_schema=False)
async def upload_form(request: Request, backend: BackendDep, settings: SettingsDep) -> Response:
    writable = bool(settings.token or settings.tokens)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > settings.max_body_bytes + FORM_ROOM:
        return too_large(settings.max_body_bytes)  # the file plus room for the other fields
    try:
        form = await _read_form(request, settings)
    except AccessDeniedError as refused:  # raised by principal_of in the parser
        return _refused_page(request, refused, writable)
    except _TokenMissingError:
        return _page(
            request,
            401,
            writable=writable,
            message=(
                "Skriv inn nøkkelen; den må komme før filen i skjemaet.",
                "Enter the token; it must come before the file in the form.",
            ),
        )
    except (MultiPartException, UnicodeDecodeError, ValueError) as error:
        return error_response(
            400, "Skjemaet kunne ikke leses.", "The form could not be read.", str(error)
        )
    pending_id = form.get("pending")
    if isinstance(pending_id, str) and pending_id:
        waiting = _pending(request).pop(pending_id, None)
        if waiting is None:
            return _page(
                request,
                400,
                writable=writable,
                message=(
                    "Kontrollen er for gammel eller allerede brukt; last opp filen på nytt.",
                    "The check is too old or already used; upload the file again.",
                ),
            )
        try:
            principal = principal_of(waiting.token, settings)
        except AccessDeniedError as refused:
            return _refused_page(request, refused, writable)
        # Checked again: the store may have changed since the report was shown.
        plan = await check_upload(
            backend, settings, principal, waiting.plan.name, waiting.plan.data
        )
        if not plan.report.conforms:
            return _page(
                request,
                422,
                writable=writable,
                principal=principal,
                plan=plan,
                events=_events_for(request, principal),
            )
        event = await load_upload(request, backend, principal, plan)
        return _page(
            request,
            writable=writable,
            principal=principal,
            plan=plan,
            loaded=event,
            events=_events_for(request, principal),
        )
    token = form.get("token")
    upload = form.get("file")
    if not isinstance(token, str) or not token.strip():
        return _page(
            request,
            401,
            writable=writable,
            message=("Skriv inn nøkkelen.", "Enter the token."),
        )
    try:
        principal = principal_of(token.strip(), settings)
    except AccessDeniedError as refused:
        return _refused_page(request, refused, writable)
    if upload is None or isinstance(upload, str) or not upload.filename:
        return _page(
            request,
            writable=writable,
            principal=principal,
            events=_events_for(request, principal),
            message=("Velg en fil å kontrollere.", "Choose a file to check."),
        )
    if upload.size is None or upload.size > settings.max_body_bytes:
        # A chunked body has no Content-Length to refuse up front; the parser spooled
        # the file to disk, and it is not read into memory past the limit.
        return too_large(settings.max_body_bytes)
    data = await upload.read()
    plan = await check_upload(backend, settings, principal, upload.filename, data)
    pending = None
    changes = None
    if plan.report.conforms and plan.report.readable:
        changes = await plan_changes(backend, plan)
        pending = secrets.token_urlsafe(24)
        _pending(request)[pending] = _Pending(
            token.strip(), plan, time.monotonic() + PENDING_MINUTES * 60
        )
    return _page(
        request,
        200 if plan.report.conforms else 422,
        writable=writable,
        principal=principal,
        plan=plan,
        pending=pending,
        changes=changes,
        events=_events_for(request, principal),
    )
