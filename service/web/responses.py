"""What every HTTP route shares: bilingual errors, bounded request bodies, CORS headers.

Errors are plain text, Norwegian (bokmål) first and English after, because the
people reading them are municipal architects first and tools second; the
technical detail (the parser's message and position) comes last, untranslated.
Routes raise ``service.errors.ServiceError`` (a store raises its query errors, which
are kinds of it); ``service_error`` is the exception handler that answers all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import ParamSpec

from fastapi import Request, Response
from fastapi.responses import PlainTextResponse, RedirectResponse
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.errors import ServiceError

P = ParamSpec("P")


def body_too_large(limit: int) -> ServiceError:
    """413; the rest of the body is never read, so the connection cannot be reused."""
    return ServiceError(
        413,
        f"Forespørselen er for stor (over {limit} byte).",
        f"The request body is too large (over {limit} bytes).",
        headers={"Connection": "close"},
    )


def as_response(error: ServiceError) -> PlainTextResponse:
    """The plain-text response for ``error``, for code that answers rather than raises."""
    return PlainTextResponse(error.text(), status_code=error.status, headers=error.headers)


def _answering(kind: Callable[P, ServiceError]) -> Callable[P, PlainTextResponse]:
    """``kind`` answered instead of raised: the same arguments, the same words and status."""

    def answer(*args: P.args, **kwargs: P.kwargs) -> PlainTextResponse:
        return as_response(kind(*args, **kwargs))

    return answer


error_response = _answering(ServiceError)
"""A plain-text error, Norwegian first, English after, then the technical detail."""

too_large = _answering(body_too_large)
"""``body_too_large`` as a response, for middleware and routes that answer directly."""


async def read_body(request: Request, limit: int) -> bytes:
    """The request body; raises 413 as soon as it is known to exceed ``limit`` bytes.

    A declared Content-Length over the limit is refused before anything is read;
    a chunked body (no Content-Length) or one that lies about its length is counted
    while it streams in, so memory never holds more than ``limit`` bytes of it.
    """
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            length = int(declared)
        except ValueError:
            raise ServiceError(
                400, "Ugyldig Content-Length.", "Invalid Content-Length.", declared
            ) from None
        if length > limit:
            raise body_too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise body_too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def bounded_bodies(app: ASGIApp, limit: int) -> ASGIApp:
    """ASGI middleware: no request body, on any route, gets past ``limit`` bytes.

    A declared Content-Length over the limit is answered 413 before the route runs;
    a body without one (chunked) is counted as the route reads it, and the read
    that passes the limit raises the 413 instead of returning the bytes. So a
    route that forgets ``read_body`` (or a parser that spools to disk) is still
    bounded.
    """

    async def bounded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await too_large(limit)(scope, receive, send)
            return
        total = 0

        async def counted() -> Message:
            nonlocal total
            message = await receive()
            if message["type"] == "http.request":
                total += len(message.get("body", b""))
                if total > limit:
                    raise HTTPException(413, _TOO_LARGE, {"Connection": "close"})
            return message

        await app(scope, counted, send)

    return bounded


_ROUTING_ERRORS = {
    404: ("Fant ikke siden.", "Not found."),
    405: ("Metoden er ikke tillatt her.", "Method not allowed here."),
    413: ("Forespørselen er for stor.", "The request body is too large."),
}
_TOO_LARGE = "Content Too Large"
"""The detail of the 413 ``bounded_bodies`` raises while a body streams in."""


async def routing_error(request: Request, error: Exception) -> Response:
    """Bilingual text for the 404 and 405 that routing and static files raise, and
    the 413 of ``bounded_bodies``.

    Without this, an unknown path gets FastAPI's ``{"detail": "Not Found"}``, in
    English only. An error a route raised with its own detail keeps that detail.
    """
    status = getattr(error, "status_code", 500)
    detail = str(getattr(error, "detail", ""))
    headers = getattr(error, "headers", None)
    if status in _ROUTING_ERRORS and detail in ("Not Found", "Method Not Allowed", _TOO_LARGE):
        return error_response(status, *_ROUTING_ERRORS[status], headers=headers)
    return PlainTextResponse(detail, status_code=status, headers=headers)


class Moved(Exception):  # noqa: N818 - an answer, not a failure
    """A 301 to where a resource lives now, raised by a lookup that found it moved
    (a municipality merged into another), so routes receive only what they serve."""

    def __init__(self, location: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(location)
        self.location = location
        self.headers = dict(headers or {})


async def moved(request: Request, error: Exception) -> Response:
    """The exception handler for ``Moved``: the redirect, without a body."""
    assert isinstance(error, Moved)
    return RedirectResponse(error.location, status_code=301, headers=error.headers)


async def service_error(request: Request, error: Exception) -> Response:
    """The exception handler for every ``ServiceError``: its status, its two messages.

    A read that any origin may make (``open_to_any_origin``) keeps its CORS header on
    an error too, so a page on another site can show the message.
    """
    assert isinstance(error, ServiceError)
    headers = dict(error.headers)
    if getattr(request.state, "any_origin", False):
        headers.update(READ_CORS_HEADERS)
    return PlainTextResponse(error.text(), status_code=error.status, headers=headers)


# CORS, decided once for the whole service. Reading is open to any origin: the data
# is public and a browser-based SPARQL client on another site is a use we want. No
# response ever says Access-Control-Allow-Credentials, so a browser never attaches
# cookies or cached credentials to such a request, and preflights never allow the
# Authorization header or a write method, so a page on another origin cannot send
# the bearer token that writes need. A cross-site form POST (which needs no
# preflight) can still arrive, but without a token it is refused with 401, and
# responses to writes carry no Access-Control-Allow-Origin, so the page cannot
# even read the refusal.
READ_CORS_HEADERS = {"Access-Control-Allow-Origin": "*"}


def open_to_any_origin(request: Request) -> None:
    """Mark the request as a read, so that an error raised while answering it keeps the
    CORS header ``allow_any_origin`` gives its answer."""
    request.state.any_origin = True


def allow_any_origin(response: Response) -> Response:
    """Mark a response to a read as readable by pages on any origin."""
    response.headers.update(READ_CORS_HEADERS)
    return response


def preflight(methods: str) -> Response:
    """Answer a CORS preflight: reads only, never the Authorization header."""
    return Response(
        status_code=204,
        headers={
            **READ_CORS_HEADERS,
            "Access-Control-Allow-Methods": methods,
            "Access-Control-Allow-Headers": "Accept, Content-Type",
            "Access-Control-Max-Age": "86400",
            "Allow": f"{methods}, OPTIONS",
        },
    )
