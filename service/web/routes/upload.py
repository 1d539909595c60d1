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
token) or ``<base>graph/source/<file>`` (an admin), replacing that graph.
Every load is audited with the file's SHA-256.

``/proposals`` lists pending proposals; an admin approves or rejects one with
``POST /proposals/<id>/approve`` or ``/reject``.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import tempfile
import time
import urllib.parse
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, cast

import pyoxigraph as ox
from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from rdflib import BNode, Graph, URIRef
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from loaders.report import Issue, Report
from loaders.spreadsheet import SPREADSHEET_SUFFIXES, check_spreadsheet
from loaders.validation import Engine
from service.access.audit import AuditEvent, GraphChange, auditor, change, new_event
from service.access.auth import authenticate, principal_of, write_lock
from service.access.proposals import (
    LIST_QUERY,
    content_query,
    new_proposal,
    proposals_from_json,
    proposed_graph,
)
from service.access.scope import (
    Principal,
    catalogue_graph,
    municipality_graph,
    proposal_graph,
    statement_problems,
    subject_kind,
)
from service.errors import AccessDeniedError
from service.metrics import record_rejected_load
from service.pages.render import html_page
from service.settings import Settings
from service.store.backend import Backend
from service.store.embedded import KnowledgeStore, safe_ntriples
from service.store.sources import SourceResult, load_sources, reference_context, stored_context
from service.web.dependencies import BackendDep, SettingsDep
from service.web.responses import error_response, read_body, too_large

router = APIRouter(tags=["Upload"])

PENDING_MINUTES = 30
"""How long a checked upload waits for its load button."""
_PENDING_LIMIT = 32


@dataclass
class UploadPlan:
    """A checked workbook: what would be written where, and the report."""

    name: str
    data: bytes
    report: Report
    graph_iri: str = ""
    graph: Graph = field(default_factory=Graph)
    proposal: Graph = field(default_factory=Graph)
    row_counts: dict[str, int] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {
            "file": self.name,
            "conforms": self.report.conforms,
            "graph": self.graph_iri or None,
            "triples": len(self.graph),
            "proposed_triples": len(self.proposal),
            "report": json.loads(self.report.to_json()),
        }


def _safe_name(name: str) -> str:
    """A file name for the temporary copy: its suffix decides how it is read."""
    stem = "".join(c if c.isalnum() or c in "-_ ." else "-" for c in Path(name).stem)[:80]
    return (stem.strip(". ") or "upload") + Path(name).suffix.lower()


def _scope_issues(
    principal: Principal, base: str, rows: dict[Any, tuple[str, int]]
) -> tuple[list[Issue], dict[str, tuple[str, int]]]:
    """Errors for rows outside ``principal``'s scope, and the municipalities it writes."""
    issues: list[Issue] = []
    owners: dict[str, tuple[str, int]] = {}
    numbers = ", ".join(sorted(principal.municipalities))
    for subject, (sheet, row) in sorted(rows.items(), key=lambda item: item[1]):
        if not isinstance(subject, URIRef) or "#" in subject:
            continue  # helper nodes go with their row's subject
        kind, owner = subject_kind(base, str(subject))
        if kind == "catalogue":
            continue
        if kind == "municipal" and owner in principal.municipalities:
            assert owner is not None
            owners.setdefault(owner, (sheet, row))
        elif kind == "municipal":
            issues.append(
                Issue(
                    "error",
                    f"Raden gjelder kommune {owner}, men nøkkelen «{principal.name}» gir bare "
                    f"skrivetilgang for kommune {numbers}.",
                    f"The row is about municipality {owner}, but the token '{principal.name}' "
                    f"only grants writing for municipality {numbers}.",
                    sheet,
                    row,
                    value=str(subject),
                )
            )
        else:
            issues.append(
                Issue(
                    "error",
                    "Raden endrer felles referansedata, som bare en administrator kan endre.",
                    "The row changes shared reference data, which only an administrator "
                    "may change.",
                    sheet,
                    row,
                    value=str(subject),
                )
            )
    if len(owners) > 1:
        for number, (sheet, row) in sorted(owners.items())[1:]:
            first = sorted(owners)[0]
            issues.append(
                Issue(
                    "error",
                    f"Ett regneark gjelder én kommune: raden gjelder {number}, tidligere rader "
                    f"{first}. Last opp ett regneark per kommune.",
                    f"One workbook is about one municipality: the row is about {number}, "
                    f"earlier rows about {first}. Upload one workbook per municipality.",
                    sheet,
                    row,
                )
            )
    return issues, owners


def plan_upload(
    principal: Principal,
    name: str,
    data: bytes,
    base: str,
    stored: Graph,
    engine: Engine = "sparql",
) -> UploadPlan:
    """Validate the workbook and check it against the token's scope; writes nothing."""
    safe = _safe_name(name)
    report = Report(name)
    if Path(safe).suffix not in SPREADSHEET_SUFFIXES:
        report.readable = False
        known = ", ".join(sorted(SPREADSHEET_SUFFIXES))
        report.issues.append(
            Issue(
                "error",
                f"Filtypen støttes ikke her; last opp et regneark ({known}).",
                f"The file type is not supported here; upload a spreadsheet ({known}).",
            )
        )
        return UploadPlan(name, data, report)
    with tempfile.TemporaryDirectory(prefix="kommunegraf-upload-") as folder:
        path = Path(folder, safe)
        path.write_bytes(data)
        checked = check_spreadsheet(path, base, reference_context(base) + stored, engine=engine)
    checked.report.source = name
    plan = UploadPlan(name, data, checked.report, row_counts=checked.row_counts)
    if not checked.report.readable:
        return plan
    if principal.is_admin:
        from service.store.sources import source_graph_iri

        plan.graph_iri = source_graph_iri(Path(safe), base)
        plan.graph = checked.graph
        return plan
    issues, owners = _scope_issues(principal, base, checked.rows)
    plan.report.issues.extend(issues)
    number = min(owners) if owners else min(principal.municipalities)
    plan.graph_iri = municipality_graph(base, number, Path(safe).stem)
    for triple in checked.graph:
        subject = triple[0]
        kind = "own" if isinstance(subject, BNode) else subject_kind(base, str(subject))[0]
        (plan.proposal if kind == "catalogue" else plan.graph).add(triple)
    # What goes into the municipality's graph is checked like any other write, not
    # trusted because the loader made it: whom each triple speaks about, blank nodes
    # included (before, a blank node's triples went in unchecked). Rows already refused
    # above are not reported twice.
    problems = [] if issues else statement_problems(principal, base, plan.graph_iri, plan.graph)
    for problem in problems:
        plan.report.issues.append(
            Issue(
                "error",
                f"Regnearket ville skrive {problem}, som nøkkelen «{principal.name}» ikke gir "
                "tilgang til.",
                f"The workbook would write {problem}, which the token '{principal.name}' does "
                "not grant.",
                value=problem,
            )
        )
    return plan


class _BackendReader:
    """Lets ``stored_context`` run its query through the backend, from a worker thread.

    The query is ``service.store.sources``'s, so what an upload may refer to is the same as for
    ``kommunegraf load``; the answer is loaded into an in-memory store so the
    caller gets the result type it expects.
    """

    def __init__(self, backend: Backend, loop: asyncio.AbstractEventLoop) -> None:
        self.backend = backend
        self.loop = loop

    def query(self, sparql: str, base_iri: str | None = None) -> ox.QueryTriples:
        answer = asyncio.run_coroutine_threadsafe(
            self.backend.execute(sparql, solutions_media=None, graph_media="application/n-triples"),
            self.loop,
        ).result()
        store = ox.Store()
        store.load(answer.body, format=ox.RdfFormat.N_TRIPLES)
        result = store.query("CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }")
        assert isinstance(result, ox.QueryTriples)
        return result


async def check_upload(
    backend: Backend, settings: Settings, principal: Principal, name: str, data: bytes
) -> UploadPlan:
    reader = _BackendReader(backend, asyncio.get_running_loop())

    def run() -> UploadPlan:
        stored = stored_context(cast(KnowledgeStore, reader), settings.base_iri)
        return plan_upload(principal, name, data, settings.base_iri, stored, settings.engine)

    return await asyncio.to_thread(run)


async def load_upload(
    request: Request, backend: Backend, principal: Principal, plan: UploadPlan
) -> AuditEvent:
    """Write a conforming plan and its proposal, and record it; returns the audit event."""
    base = request.app.state.settings.base_iri
    audit = auditor(request)
    source = SourceResult(
        Path(_safe_name(plan.name)),
        plan.graph_iri,
        len(plan.graph),
        plan.report,
        plan.data,
        plan.graph,
        plan.row_counts,
    )
    proposal = None
    if len(plan.proposal):
        proposal = new_proposal(principal, base, plan.graph_iri, plan.proposal)
    planned = [GraphChange(plan.graph_iri, 0, 0)]
    if proposal is not None:
        planned.append(GraphChange(proposal[0], len(proposal[1]), 0))
    event = new_event(principal, "load", base, planned, data=plan.data, file_name=plan.name)
    async with write_lock(request):
        before = await audit.graph_keys(plan.graph_iri)
        async with audit.announced(event):
            await asyncio.to_thread(load_sources, backend, [source])
            if proposal is not None:
                await asyncio.to_thread(backend.replace_graph, *proposal)
        loaded = change(plan.graph_iri, before, await audit.graph_keys(plan.graph_iri))
        event = replace(event, changes=(loaded, *planned[1:]))
        await audit.record(event)
    return event


async def _triples(backend: Backend, query: str) -> set[tuple[Any, Any, Any]]:
    answer = await backend.execute(query, solutions_media=None, graph_media="application/n-triples")
    return set(Graph().parse(data=answer.body, format="nt"))


def _as_stored(triples: set[tuple[Any, Any, Any]]) -> set[tuple[Any, Any, Any]]:
    """The triples as the store gives them back: literals in canonical form
    ("872000" as an xsd:decimal comes back "872000.0"), so equal values compare equal."""
    staging = Graph()
    for triple in triples:
        staging.add(triple)
    store = ox.Store()
    store.load(safe_ntriples(staging).encode("utf-8"), ox.RdfFormat.N_TRIPLES)
    dumped = store.dump(format=ox.RdfFormat.N_QUADS) or b""
    return set(Graph().parse(data=dumped, format="nt"))


async def plan_changes(backend: Backend, plan: UploadPlan) -> dict[str, int]:
    """What loading ``plan`` would change in what queries see (the union of the graphs).

    ``added``: triples the store does not hold in any graph yet; ``removed``: triples
    of the graph it replaces that the new file no longer has; ``unchanged`` the rest.
    A workbook downloaded with ``/template?kommune=NNNN`` and uploaded unchanged
    adds and removes nothing. The graph's own provenance (file hash, time) is left
    out: it changes with every load by design.
    """
    graph = URIRef(plan.graph_iri)
    new = _as_stored({t for t in plan.graph if t[0] != graph})
    subjects = sorted({s for s, _, _ in new if isinstance(s, URIRef)}, key=str)
    current: set[tuple[Any, Any, Any]] = set()
    for start in range(0, len(subjects), 200):
        values = " ".join(f"<{s}>" for s in subjects[start : start + 200])
        current |= await _triples(
            backend, f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ VALUES ?s {{ {values} }} ?s ?p ?o }}"
        )
    replaced = await _triples(
        backend,
        f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} "
        f"FILTER(?s != <{graph}>) }}",
    )
    added = len(new - current)
    return {"added": added, "removed": len(replaced - new), "unchanged": len(new) - added}


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
    plan = await check_upload(backend, settings, writer, name, body)
    summary = plan.summary()
    if not plan.report.readable:
        return JSONResponse({**summary, "loaded": False}, status_code=400)
    if not plan.report.conforms:
        record_rejected_load("spreadsheet")
        return JSONResponse({**summary, "loaded": False}, status_code=422)
    if request.query_params.get("dry_run", "").lower() in ("1", "true", "yes"):
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
    if plan.report.conforms and plan.report.readable:
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
        events=_events_for(request, principal),
    )
