"""The SPARQL 1.1 Graph Store HTTP Protocol at ``/store``.

``?graph=<IRI>`` names a graph, ``?default`` the default graph. Reading is open;
PUT (replace), POST (merge) and DELETE need a write token (``service.access.auth``) whose
scope covers the graph and, for a municipality token, every subject in the body
(``service.access.scope``). Every write is recorded in the audit trail
(``service.access.audit``) with the triples it added and removed.

Every operation goes through the ``Backend`` (a GET is a CONSTRUCT, a PUT is
``replace_graph``, POST and DELETE are updates), so it works the same on the
embedded store and on a remote SPARQL server.

Every operation of the protocol with indirect graph identification is here: GET, HEAD,
PUT, POST and DELETE on ``?graph=`` and on ``?default``, POST to ``/store`` itself (a new
graph, 201 with its IRI in ``Location``), and ``multipart/form-data`` POST bodies (each
part an RDF document, merged).

The default graph, as queries see it, is the union of all named graphs: a GET of
``?default`` returns everything. Its own content, what clients write to ``?default``,
is the named graph ``<base>graph/default`` (``default_graph``), which is part of that
union: PUT ``?default`` replaces what was written there, POST adds to it and DELETE
empties it, as the protocol says for the default graph, and no other graph is touched.
So a GET of ``?default`` after a PUT shows what was put *and* every named graph; the
service description says the same.

An empty named graph is not told apart from an absent one (404): stores differ in
whether they keep empty graphs at all.
"""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
import json
import mimetypes
import uuid
from collections import Counter
from functools import partial
from typing import Any

from fastapi import APIRouter, Request, Response
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.term import Node

from loaders.rdf_source import SourceError, parse_untrusted
from service.access.audit import (
    AuditEvent,
    GraphChange,
    auditor,
    change,
    graph_keys,
    new_event,
)
from service.access.auth import require_graph, require_statements, write_lock
from service.access.scope import Principal
from service.errors import ServiceError
from service.settings import Settings
from service.sparql.formats import GRAPH_TYPES
from service.sparql.lexer import is_absolute_iri
from service.store.backend import Backend
from service.web.dependencies import BackendDep, SettingsDep, Writer
from service.web.negotiation import best_match, not_acceptable
from service.web.responses import (
    allow_any_origin,
    open_to_any_origin,
    preflight,
    read_body,
)

router = APIRouter(tags=["Graph Store"])

RDF_PARSERS = {
    "text/turtle": "turtle",
    "application/x-turtle": "turtle",
    "application/n-triples": "nt",
    "application/ld+json": "json-ld",
    "application/rdf+xml": "xml",
}
"""Body media types we accept, and the rdflib parser for each."""


class _Default:
    """The default graph, as a target (``?default``)."""


DEFAULT = _Default()


def default_graph(base: str) -> str:
    """The named graph that holds what clients write to ``?default`` (in the union)."""
    return f"{base}graph/default"


def _target(request: Request, *, store_itself: bool = False) -> str | _Default | None:
    """``?graph=`` or ``?default``; ``None`` for the store itself where that is allowed."""
    graphs = request.query_params.getlist("graph")
    default = "default" in request.query_params
    if store_itself and not graphs and not default:
        return None
    if len(graphs) + int(default) != 1:
        raise ServiceError(
            400,
            "Oppgi nøyaktig én av ?graph=<IRI> og ?default.",
            "Give exactly one of ?graph=<IRI> and ?default.",
        )
    if default:
        return DEFAULT
    if not is_absolute_iri(graphs[0]):
        raise ServiceError(
            400, "graph må være en absolutt IRI.", "graph must be an absolute IRI.", graphs[0]
        )
    return graphs[0]


async def _exists(backend: Backend, graph: str) -> bool:
    answer = await backend.execute(
        f"ASK {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}",
        solutions_media="application/sparql-results+json",
        graph_media=None,
    )
    return bool(json.loads(answer.body)["boolean"])


def _not_found(graph: str) -> ServiceError:
    return ServiceError(404, "Grafen finnes ikke.", "No such graph.", graph)


def _named(target: str | _Default | None, base: str) -> str:
    """The named graph a write goes to: ``?default``'s own content is ``default_graph``;
    the store itself (a POST without a target) gets a new graph of its own."""
    if isinstance(target, str):
        return target
    if target is None:
        return f"{base}graph/store/{uuid.uuid4().hex}"
    return default_graph(base)


@router.api_route("/store", methods=["GET", "HEAD"], summary="Read a graph / Les en graf")
async def store_get(request: Request, backend: BackendDep) -> Response:
    open_to_any_origin(request)
    target = _target(request)
    assert target is not None
    media = best_match(request.headers.get("accept"), GRAPH_TYPES)
    if media is None:
        raise not_acceptable("grafen", "the graph", GRAPH_TYPES)
    if isinstance(target, str):
        if not await _exists(backend, target):
            raise _not_found(target)
        query = f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH <{target}> {{ ?s ?p ?o }} }}"
    else:
        query = "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }"
    if request.method == "HEAD":
        # HEAD answers whether the graph is there, without building it.
        return allow_any_origin(Response(media_type=media, headers={"Vary": "Accept"}))
    answer = await backend.execute(query, solutions_media=None, graph_media=media)
    return allow_any_origin(
        Response(answer.body, media_type=answer.media or media, headers={"Vary": "Accept"})
    )


def _remote_contexts(value: Any) -> bool:
    """Whether a JSON-LD document refers to a context by URL (that rdflib would fetch)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "@import":
                return True
            if key == "@context":
                contexts = item if isinstance(item, list) else [item]
                if any(isinstance(context, str) for context in contexts):
                    return True
            if _remote_contexts(item):
                return True
    elif isinstance(value, list):
        return any(_remote_contexts(item) for item in value)
    return False


class _RefusedError(ValueError):
    pass


def _parse(body: bytes, rdf_format: str, base: str) -> Graph:
    """Parse a request body into a graph safe to write into SPARQL text.

    The terms end up between ``<…>`` and after ``_:`` in an INSERT DATA, so an IRI
    must be one SPARQL can write as it is (rdflib lets ``<a> } ; DROP ALL`` through
    from JSON-LD with only a warning), and blank nodes get fresh labels.
    """
    if rdf_format == "json-ld" and _remote_contexts(json.loads(body)):
        raise _RefusedError(
            "JSON-LD-kontekster kan ikke hentes fra en URL; ta konteksten med i dokumentet. / "
            "JSON-LD contexts cannot be fetched from a URL; embed the context in the document."
        )
    parsed = parse_untrusted(body, rdf_format, base)
    clean = Graph()
    blanks: dict[BNode, BNode] = {}

    def term(node: Node) -> Node:
        if isinstance(node, BNode):
            return blanks.setdefault(node, BNode())
        if isinstance(node, URIRef) and not is_absolute_iri(str(node)):
            raise _RefusedError(f"Ugyldig IRI / invalid IRI: {str(node)!r}")
        if isinstance(node, Literal) and node.datatype and not is_absolute_iri(node.datatype):
            raise _RefusedError(f"Ugyldig datatype-IRI / invalid datatype IRI: {node.datatype!r}")
        return node

    for s, p, o in parsed:
        clean.add((term(s), term(p), term(o)))
    return clean


def _rdf_format(media: str, what: str = "Content-Type") -> str:
    rdf_format = RDF_PARSERS.get(media)
    if rdf_format is None:
        raise ServiceError(
            415,
            "Ukjent RDF-format; send Turtle, N-Triples, JSON-LD eller RDF/XML.",
            "Unknown RDF format; send Turtle, N-Triples, JSON-LD or RDF/XML.",
            f"{what}: {media or '(mangler / missing)'}; accepted: " + ", ".join(RDF_PARSERS),
        )
    return rdf_format


_EXTENSIONS = {
    ".ttl": "text/turtle",
    ".nt": "application/n-triples",
    ".jsonld": "application/ld+json",
    ".rdf": "application/rdf+xml",
}


def _parts(content_type: str, body: bytes) -> list[tuple[bytes, str]]:
    """The parts of a ``multipart/form-data`` body as (document, RDF parser name).

    A part's media type is its own Content-Type, or, when that is missing or generic
    (``application/octet-stream``, what browsers send for an unknown file), the one its
    file name's extension says.
    """
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise ServiceError(400, "Ugyldig skjema.", "Malformed form.", content_type)
    parts = []
    for number, part in enumerate(message.iter_parts(), start=1):
        media = part.get_content_type()
        if part.get("content-type") is None or media in {"application/octet-stream", "text/plain"}:
            name = part.get_filename() or ""
            extension = name[name.rfind(".") :].lower() if "." in name else ""
            media = _EXTENSIONS.get(extension) or mimetypes.types_map.get(extension, media)
        payload = part.get_payload(decode=True)
        document = payload if isinstance(payload, bytes) else b""
        parts.append((document, _rdf_format(media, f"del / part {number}")))
    if not parts:
        raise ServiceError(400, "Skjemaet har ingen deler.", "The form has no parts.")
    return parts


async def _body_graph(request: Request, limit: int, base: str) -> Graph:
    content_type = request.headers.get("content-type", "")
    media = content_type.split(";")[0].strip().lower()
    if media == "multipart/form-data" and request.method == "POST":
        documents = _parts(content_type, await read_body(request, limit))
    else:
        rdf_format = _rdf_format(media)
        documents = [(await read_body(request, limit), rdf_format)]
    try:
        graph = Graph()
        for document, rdf_format in documents:
            graph += await asyncio.to_thread(_parse, document, rdf_format, base)
        return graph
    except Exception as error:
        detail = (
            str(error)
            if isinstance(error, _RefusedError | SourceError)
            else f"{type(error).__name__}: {error}"
        )
        raise ServiceError(
            400, "Kroppen kunne ikke leses som RDF.", "The body could not be read as RDF.", detail
        ) from None


def _event(writer: Principal, base: str, changed: GraphChange) -> AuditEvent:
    return new_event(writer, "graph-store", base, [changed])


async def _checked_body(
    request: Request, settings: Settings, writer: Principal
) -> tuple[str, Graph]:
    """The target graph and the body's triples, once the writer may write both; raises
    the refusal. PUT and POST check the same things in the same order: the graph
    before the body is read, what the triples speak about after."""
    target = _named(_target(request, store_itself=request.method == "POST"), settings.base_iri)
    require_graph(writer, settings.base_iri, target)
    graph = await _body_graph(request, settings.max_body_bytes, target)
    require_statements(writer, settings.base_iri, target, graph)
    return target, graph


@router.put("/store", summary="Replace a graph / Erstatt en graf")
async def store_put(
    request: Request, backend: BackendDep, settings: SettingsDep, writer: Writer
) -> Response:
    target, graph = await _checked_body(request, settings, writer)
    audit = auditor(request)
    async with write_lock(request):
        existed = await _exists(backend, target)
        before = await audit.graph_keys(target)
        after = await asyncio.to_thread(graph_keys, graph)
        event = _event(writer, settings.base_iri, change(target, before, after))
        async with audit.announced(event):
            await asyncio.to_thread(backend.replace_graph, target, graph)
        await audit.record(event)
    return Response(status_code=204 if existed else 201)


@router.post("/store", summary="Add to a graph / Legg til i en graf")
async def store_post(
    request: Request, backend: BackendDep, settings: SettingsDep, writer: Writer
) -> Response:
    target, graph = await _checked_body(request, settings, writer)
    event = _event(writer, settings.base_iri, GraphChange(target, 0, 0))
    async with write_lock(request):
        existed = await _exists(backend, target)
        await auditor(request).audited(event, target, partial(backend.merge_graph, target, graph))
    if _target(request, store_itself=True) is None:
        # A new graph the store named: its IRI, as the protocol's POST to the store says.
        return Response(status_code=201, headers={"Location": target})
    return Response(status_code=204 if existed else 201)


@router.delete("/store", summary="Delete a graph / Slett en graf")
async def store_delete(
    request: Request, backend: BackendDep, settings: SettingsDep, writer: Writer
) -> Response:
    target = _named(_target(request), settings.base_iri)
    require_graph(writer, settings.base_iri, target)
    audit = auditor(request)
    async with write_lock(request):
        if not await _exists(backend, target):
            if target == default_graph(settings.base_iri):
                return Response(status_code=204)  # the default graph is always there
            raise _not_found(target)
        before = await audit.graph_keys(target)
        event = _event(writer, settings.base_iri, change(target, before, Counter()))
        async with audit.announced(event):
            # SILENT: Virtuoso refuses DROP GRAPH of a graph not made with CREATE GRAPH;
            # that the graph is there was checked above, under the write lock.
            await backend.update(f"DROP SILENT GRAPH <{target}>")
        await audit.record(event)
    return Response(status_code=204)


@router.options("/store", include_in_schema=False)
async def store_preflight() -> Response:
    return preflight("GET, HEAD")
