"""Logging: JSON lines for log collectors, readable text on a terminal, a request id.

Every request gets an id: a sane ``X-Request-ID`` from the client or a proxy is
kept (so one id follows a request through the proxy's logs and ours), anything
else is replaced by a fresh one. The id is on every log line written while the
request is handled and is returned in the ``X-Request-ID`` response header, so a
user reporting an error can quote it.

What is never logged: request headers (so no ``Authorization`` token), query
strings, request bodies and client addresses (an IP address is personal data).
Query text is logged at debug level only (``service.metrics.observed_query``), as
it may hold names. As a last guard, the formatters mask anything that looks like
an ``Authorization`` value and the configured secrets wherever they would appear.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Iterable, Sequence
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO, Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.metrics import Answer, route_template
from service.settings import Settings, url_secrets

HEADER = "X-Request-ID"
_HEADER_KEY = HEADER.lower().encode("ascii")
_SANE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@/+=-]{0,127}")
"""What an incoming id may look like: no spaces, no control characters, bounded."""
_AUTHORIZATION = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+")
MASK = "********"
_TOKEN_CHARS = r"A-Za-z0-9._~+/=\-"  # noqa: S105 - a character class, not a secret
"""What tokens are made of (``secrets.token_urlsafe``, base64, hex): a secret is masked
only where none of these touch it."""

request_id: ContextVar[str] = ContextVar("kommunegraf_request_id", default="-")
access_log = logging.getLogger("kommunegraf.access")

_QUIET_ROUTES = ("/health", "/metrics")
"""Probes and scrapes arrive every few seconds; their access lines go to debug."""

_RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({})).keys()) | {
    "message",
    "asctime",
    "color_message",  # uvicorn's copy of the message with terminal colours
}


def incoming_id(value: str | None) -> str:
    """The client's request id if it is sane, else a fresh one.

    >>> incoming_id("abc-123")
    'abc-123'
    >>> len(incoming_id("bad id\\r\\nSet-Cookie: x"))
    32
    """
    if value is not None and _SANE_ID.fullmatch(value):
        return value
    return uuid.uuid4().hex


class _Redactor:
    """Masks the Authorization values and the configured secrets in a line.

    A secret is masked only where it stands as a whole word (not inside a longer
    run of the characters tokens are made of): a one-letter token once replaced
    that letter everywhere in the logs. Admin tokens are at least 32 characters
    (``service.settings``), so whole-word matching loses nothing.

    >>> _Redactor(["abc"])("abc and xabcx and (abc)")
    '******** and xabcx and (********)'
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        found = sorted({s for s in secrets if s}, key=len, reverse=True)
        self.secrets = (
            re.compile(
                rf"(?<![{_TOKEN_CHARS}])(?:{'|'.join(map(re.escape, found))})(?![{_TOKEN_CHARS}])"
            )
            if found
            else None
        )

    def __call__(self, text: str) -> str:
        text = _AUTHORIZATION.sub(lambda m: f"{m.group(1)} {MASK}", text)
        if self.secrets is not None:
            text = self.secrets.sub(MASK, text)
        return text


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _RECORD_FIELDS}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, extras."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.redact = _Redactor(secrets)

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": self.redact(record.getMessage()),
            "request_id": request_id.get(),
        }
        for key, value in _extras(record).items():
            entry[key] = self.redact(value) if isinstance(value, str) else value
        if record.exc_info:
            entry["exception"] = self.redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """``time level [request id] logger: message key=value ...`` for people at a terminal."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.redact = _Redactor(secrets)

    def format(self, record: logging.LogRecord) -> str:
        when = time.strftime("%H:%M:%S", time.localtime(record.created))
        extras = " ".join(f"{k}={v}" for k, v in _extras(record).items())
        line = (
            f"{when} {record.levelname:<7} [{request_id.get()}] {record.name}: "
            f"{record.getMessage()}" + (f"  {extras}" if extras else "")
        )
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return self.redact(line)


def setup_logging(settings: Settings, stream: IO[str] | None = None) -> logging.Handler:
    """Send every log record of the process (uvicorn's too) to ``stream`` (stderr)."""
    stream = stream if stream is not None else sys.stderr
    secrets = [s for s in (settings.token, settings.store_password) if s]
    for url in (settings.store_url, settings.update_url, settings.graph_store_url):
        secrets += url_secrets(url)
    text = settings.log_format == "text" or (
        settings.log_format == "auto" and hasattr(stream, "isatty") and stream.isatty()
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(TextFormatter(secrets) if text else JsonFormatter(secrets))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
        logger.setLevel(logging.NOTSET)
    # Our access line replaces uvicorn's, which would log the query string.
    logging.getLogger("uvicorn.access").disabled = True
    return handler


class RequestLog:
    """ASGI middleware: a request id for each request, and one access line after it.

    ``headers`` are added to every response that does not set them itself (the
    security headers of ``service.web.headers``), with the ``X-Request-ID``.
    """

    def __init__(self, app: ASGIApp, headers: Sequence[tuple[bytes, bytes]] = ()) -> None:
        self.app = app
        self.headers = tuple(headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = None
        for key, value in scope.get("headers", ()):
            if key == _HEADER_KEY:
                given = value.decode("latin-1")
                break
        rid = incoming_id(given)
        token = request_id.set(rid)

        def starting(message: Message) -> Message:
            headers = list(message.get("headers", ()))
            present = {name.lower() for name, _ in headers}
            headers += [item for item in self.headers if item[0] not in present]
            headers.append((_HEADER_KEY, rid.encode("ascii")))
            return {**message, "headers": headers}

        answer = Answer(send, starting)
        started = time.perf_counter()
        try:
            await self.app(scope, receive, answer.send)
        finally:
            status = answer.status
            route = route_template(scope)
            level = logging.DEBUG if route.startswith(_QUIET_ROUTES) else logging.INFO
            if access_log.isEnabledFor(level):
                extra = {
                    "method": scope["method"],
                    "path": scope["path"],
                    "route": route,
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                }
                # makeRecord + handle rather than log(): this line is written for every
                # request, and log() would also walk the stack to find its caller.
                args = (scope["method"], scope["path"], status)
                access_log.handle(
                    access_log.makeRecord(
                        access_log.name, level, __file__, 0, "%s %s %d", args, None, extra=extra
                    )
                )
            request_id.reset(token)
