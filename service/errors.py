"""Every error the service tells a user about, with its HTTP status and bilingual message.

Why one module: an error means the same on every route, in the CLI and on a page. A
store raises ``QuerySyntaxError`` and every route answers it with the same 400 and the
same words, because the status and the message belong to the error, not to whoever
catches it. Routes and dependencies raise ``ServiceError`` too (a bad parameter, a
missing token); ``service.web.responses.service_error`` is the one FastAPI exception
handler that turns any of them into a response, and ``attempt`` below is the one other
place that catches them, for callers whose answer includes the failure (a page that
shows the error next to its form, a health probe, the command line).

The text is Norwegian (bokmål) first and English after, for municipal architects
first and tools second; the technical detail (a parser's message) comes last.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import TypeVar

T = TypeVar("T")


class ServiceError(Exception):
    """An error with an HTTP status and a message in bokmål and English.

    ``str(error)`` is the technical detail when there is one (what logs and tests
    match on), else the English message.
    """

    def __init__(
        self,
        status: int,
        nb: str,
        en: str,
        detail: str = "",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail or en)
        self.status = status
        self.nb = nb
        self.en = en
        self.detail = detail
        self.headers = dict(headers or {})

    def text(self) -> str:
        """The plain-text body: Norwegian, English, then the detail."""
        return f"{self.nb}\n{self.en}\n" + (f"\n{self.detail}\n" if self.detail else "")

    def __reduce__(self) -> tuple[object, ...]:
        # Query errors cross from worker processes by pickle; rebuild them whole.
        return (_rebuild, (type(self), self.__dict__))


def unknown_municipality(shown: str, headers: Mapping[str, str] | None = None) -> ServiceError:
    """404 for a municipality number the store does not hold, in the same words on every
    route; ``shown`` is as much of the caller's input as that route echoes."""
    return ServiceError(
        404,
        f"Ukjent kommunenummer: «{shown}». Et kommunenummer har fire siffer, f.eks. 4203.",
        f"Unknown municipality number: '{shown}'. It has four digits, e.g. 4203.",
        headers=headers,
    )


def _rebuild(kind: type[ServiceError], state: dict[str, object]) -> ServiceError:
    error = Exception.__new__(kind)
    Exception.__init__(error, state.get("detail") or state.get("en"))
    error.__dict__.update(state)
    return error


class QueryError(ServiceError):
    """What a store raises while answering a query or an update."""


class QuerySyntaxError(QueryError, ValueError):
    """The query does not parse; the detail has the parser's position."""

    def __init__(self, message: str) -> None:
        super().__init__(400, "Ugyldig SPARQL-spørring.", "Malformed SPARQL query.", message)


class UpdateSyntaxError(QuerySyntaxError):
    """The update does not parse; the detail has the parser's position."""

    def __init__(self, message: str) -> None:
        QueryError.__init__(
            self, 400, "Ugyldig SPARQL-oppdatering.", "Malformed SPARQL update.", message
        )


class UpdateFailedError(QueryError, ValueError):
    """A well-formed update the store could not carry out (DROP of a graph not there).

    The request's fault, not the server's, so 400.
    """

    def __init__(self, message: str) -> None:
        super().__init__(400, "Oppdateringen kunne ikke utføres.", "The update failed.", message)


class StoreRefusedDataError(QueryError, ValueError):
    """The store refused data we framed ourselves: the data itself is at fault."""

    def __init__(self, message: str) -> None:
        super().__init__(400, "Lageret avviste dataene.", "The store refused the data.", message)


class QueryTimeoutError(QueryError):
    """The query ran past its deadline and its worker was killed."""

    def __init__(self, seconds: float) -> None:
        super().__init__(
            503,
            f"Spørringen brukte mer enn {seconds:g} sekunder og ble stoppet.",
            f"The query ran longer than {seconds:g} seconds and was stopped.",
            "Gjør spørringen mer avgrenset, eller bruk LIMIT. / Narrow the query or use LIMIT.",
        )
        self.seconds = seconds

    def __str__(self) -> str:
        return f"query exceeded its deadline of {self.seconds:g} s"


class UploadCheckTimeoutError(QueryError):
    """An upload's check did not finish within ``upload_timeout``; nothing was loaded."""

    def __init__(self, seconds: float) -> None:
        retry = 60
        super().__init__(
            503,
            f"Kontrollen av regnearket ble ikke ferdig innen {seconds:g} sekunder, og "
            "ingenting er lastet. Tjenesten er travel; prøv igjen om litt.",
            f"Checking the workbook did not finish within {seconds:g} seconds, and nothing "
            "was loaded. The service is busy; try again shortly.",
            f"Prøv igjen om {retry} s. / Retry after {retry} s.",
            headers={"Retry-After": str(retry)},
        )
        self.seconds = seconds

    def __str__(self) -> str:
        return f"upload check exceeded its deadline of {self.seconds:g} s"


class UploadCheckCrashedError(QueryError, RuntimeError):
    """The process checking an upload died (out of memory, killed); nothing was loaded."""

    def __init__(self, message: str) -> None:
        super().__init__(
            503,
            "Kontrollen av regnearket stoppet uventet, og ingenting er lastet.",
            "Checking the workbook stopped unexpectedly, and nothing was loaded.",
            message,
        )


class QueryFailedError(QueryError, RuntimeError):
    """Evaluation failed, e.g. an allowed SERVICE that did not answer."""

    def __init__(self, message: str) -> None:
        super().__init__(
            500, "Spørringen kunne ikke besvares.", "The query could not be answered.", message
        )


class WorkerCrashedError(QueryError, RuntimeError):
    """The worker (or the remote store) died while answering (out of memory, killed)."""

    def __init__(self, message: str) -> None:
        super().__init__(
            503, "Spørringen stoppet uventet.", "The query stopped unexpectedly.", message
        )


class RemoteStoreError(WorkerCrashedError):
    """The remote server failed or could not be reached; not the query's fault.

    A kind of ``WorkerCrashedError`` (503): right for an upstream that is down or
    misconfigured.
    """

    def __init__(self, message: str) -> None:
        QueryError.__init__(
            self,
            503,
            "Lageret svarte ikke som ventet.",
            "The store did not answer as expected.",
            message,
        )


class UpdateCrashedError(QueryError):
    """The update crashed a worker when it was rehearsed there; it was not run (400)."""

    def __init__(self, message: str) -> None:
        super().__init__(
            400,
            "Oppdateringen fikk lageret til å krasje da den ble prøvd i en egen prosess, "
            "og er ikke utført.",
            "The update crashed the store when it was tried in a separate process, "
            "and was not run.",
            message,
        )


class AccessDeniedError(ServiceError):
    """A write refused: no token, a wrong, expired or revoked one, or a read-only service.

    401 with a Bearer challenge when no token was sent, 403 otherwise, 503 when the
    token file cannot be read. The upload form shows it on its page.
    """


async def attempt(work: Awaitable[T]) -> T | ServiceError:
    """``work``'s result, or the ``ServiceError`` that stopped it, returned, not raised.

    Why: apart from the exception handler that answers every route, this is the one
    place that catches the errors a store raises. It serves the callers whose answer
    includes the failure: a page that shows the error beside its form (the gallery, the
    map), a probe or a gauge that reports an unanswered query (``/health/ready``,
    ``/metrics``), an optional part of an answer (the service description's list of
    graphs), the command line (which prints it), the metrics that count timeouts. Each
    of them reads the error's own status and words, so an error means the same
    everywhere.
    """
    try:
        return await work
    except ServiceError as error:
        return error
