"""The SPARQL 1.1 Protocol (and the Graph Store Protocol's PUT) as the remote store
speaks it on the wire.

Why apart from ``service.store.remote``: which query form a text is, which media types
a server may answer with for each kind of result, how its error bodies are read and how
long an answer may take to arrive are the same for every request, and none of it needs
the backend's state.
"""

from __future__ import annotations

import ast
import logging
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from http.client import HTTPException, HTTPResponse
from typing import Literal

from SPARQLWrapper.SPARQLExceptions import SPARQLWrapperException

from service.errors import RemoteStoreError, StoreRefusedDataError
from service.settings import SettingsError

# The remote backend's logger: the Graph Store PUT is one of its writes.
log = logging.getLogger("service.remote_store")

QueryForm = Literal["SELECT", "ASK", "CONSTRUCT", "DESCRIBE"]
Kind = Literal["solutions", "boolean", "graph"]

MESSAGE_LIMIT = 4000

WRITE_TIMEOUT = 300.0
"""Seconds to wait for the remote server to answer a write.

Longer than a query deadline on purpose: a write that times out on the client may
still commit on the server, so giving up early would report a failure that may not be
one. Large loads are the usual writes.
"""

GRAPH_TYPES = frozenset(
    {
        "text/turtle",
        "application/n-triples",
        "application/ld+json",
        "application/rdf+xml",
        "application/x-turtle",
        "application/n-quads",
        "application/trig",
    }
)
SOLUTION_TYPES = frozenset(
    {
        "application/sparql-results+json",
        "application/json",
        "application/sparql-results+xml",
        "application/xml",
        "text/xml",
        "text/csv",
        "text/tab-separated-values",
    }
)
KIND_TYPES: dict[Kind, frozenset[str]] = {
    "solutions": SOLUTION_TYPES,
    "boolean": SOLUTION_TYPES,
    "graph": GRAPH_TYPES | {"text/plain", "application/xml", "text/xml", "application/json"},
}
"""What a server may answer for each kind; anything else (an HTML error page from a
proxy, say) is a failure of the remote store, not an answer to pass on."""
ASK_AS = {"application/json": "application/sparql-results+json"}
"""Media types asked of the remote server under another name.

The SPARQL 1.1 Protocol names ``application/sparql-results+json``; plain
``application/json`` is a kommunegraf convenience that not every server knows.
"""
EQUIVALENT: dict[str, frozenset[str]] = {
    "application/json": frozenset({"application/sparql-results+json"}),
    "application/sparql-results+json": frozenset({"application/json"}),
    "application/sparql-results+xml": frozenset({"application/xml", "text/xml"}),
    "application/rdf+xml": frozenset({"application/xml", "text/xml"}),
    "application/n-triples": frozenset({"text/plain"}),
    "text/turtle": frozenset({"application/x-turtle", "application/turtle"}),
    "application/ld+json": frozenset({"application/json"}),
}
"""Content types servers use for the same bytes (older names, generic XML/JSON)."""

PROLOGUE = re.compile(r"(?:\s|#[^\n]*|BASE\s*<[^>]*>|PREFIX\s+[^\s:]*:\s*<[^>]*>)*", re.I)
FORM = re.compile(r"(SELECT|CONSTRUCT|DESCRIBE|ASK)\b", re.I)
IRI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[^<>\"{}|^`\\\x00-\x20]*")


class DeadlinePassedError(Exception):
    """Raised inside a worker thread; turned into ``QueryTimeoutError`` with the seconds."""


def query_form(query: str) -> QueryForm | None:
    """The query form, read past the prologue (comments, BASE, PREFIX).

    Not SPARQLWrapper's detection: it looks for the first keyword anywhere, without
    word boundaries, so an IRI such as ``<http://example.org/address#>`` makes a SELECT
    an ``ADD`` update, which SPARQLWrapper would then send to the update endpoint.
    Not rdflib's parser either: slow, and it rejects extensions the remote server may
    support. ``None`` means no query form was found; the remote server decides.

    >>> query_form("PREFIX : <http://example.org/address#> SELECT * { ?s ?p ?o }")
    'SELECT'
    >>> query_form("# ask me\\nprefix ex: <http://ex/> # vocabulary\\nask { ?s ex:p ?o }")
    'ASK'
    >>> query_form("BASE <http://x/> CONSTRUCT WHERE { ?s ?p ?o }")
    'CONSTRUCT'
    >>> query_form("INSERT DATA { <http://a> <http://b> <http://c> }") is None
    True
    >>> query_form("SELECTION") is None
    True
    """
    prologue = PROLOGUE.match(query)
    found = FORM.match(query, prologue.end() if prologue else 0)
    if found is None:
        return None
    form: QueryForm = found.group(1).upper()  # type: ignore[assignment]
    return form


def kind_of(form: QueryForm) -> Kind:
    if form == "SELECT":
        return "solutions"
    if form == "ASK":
        return "boolean"
    return "graph"


def check_iri(iri: str) -> None:
    """Refuse a graph IRI that could break out of ``<...>`` in an update.

    Graph IRIs can come from clients (the graph store's ``?graph=``), and they are
    written into SPARQL text, so this is what keeps them from being SPARQL injection.
    """
    if not IRI.fullmatch(iri):
        raise ValueError(f"ugyldig graf-IRI / invalid graph IRI: {iri!r}")


def check_url(key: str, url: str | None) -> None:
    if url is not None and not url.startswith(("http://", "https://")):
        raise SettingsError(
            f"KOMMUNEGRAF_{key.upper()}: {url!r} må være en http(s)-URL (must be an http(s) URL)"
        )


def message(body: bytes) -> str:
    text = body.decode("utf-8", errors="replace").strip()
    return text if len(text) <= MESSAGE_LIMIT else text[:MESSAGE_LIMIT] + " …"


def wrapper_response(error: SPARQLWrapperException) -> bytes:
    """The body the server sent with an error SPARQLWrapper turned into an exception.

    SPARQLWrapper 2 keeps it only as the ``repr`` of the bytes at the end of its
    message; the server's own message (with the parser position) is what users need.
    """
    found = re.search(r"\n\nResponse:\n(b(['\"]).*\2)\Z", str(error), re.S)
    if found is None:
        return str(error).encode()
    try:
        value = ast.literal_eval(found.group(1))
    except (ValueError, SyntaxError):
        return str(error).encode()
    return value if isinstance(value, bytes) else str(error).encode()


def read_until(response: HTTPResponse, deadline: float) -> bytes:
    """Read the whole body, giving up at the deadline even if bytes keep trickling in.

    The socket timeout bounds each wait for bytes, not the total; a server that sends
    a little at a time could otherwise hold the thread far past the deadline.
    """
    chunks: list[bytes] = []
    while True:
        if time.monotonic() > deadline:
            raise DeadlinePassedError
        chunk = response.read1(1 << 16)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def media_label(served: str, accepted: tuple[str, ...]) -> str:
    """The media type to answer with: the one the client asked for when the bytes are it.

    Servers name some formats differently (``text/plain`` for N-Triples, plain
    ``application/json``); otherwise the remote server's own type is kept, because the
    bytes are the remote server's and must be labelled truthfully.
    """
    for media in accepted:
        if served == media or served in EQUIVALENT.get(media, frozenset()):
            return media
    return served


def put_graph(
    store_url: str,
    graph_iri: str,
    body: bytes,
    authorization: str | None,
    user: tuple[str, str],
) -> None:
    """Graph Store Protocol PUT of N-Triples ``body``; SPARQLWrapper speaks only Query and
    Update. Raises StoreRefusedDataError (400), else RemoteStoreError.

    With a user, HTTP Basic goes with the request (``authorization``), as with every query
    and update. A server that wants Digest instead refuses that with a bare 401
    (Virtuoso's ``/sparql-graph-crud-auth`` does, with no challenge), so the PUT is sent
    once more without it, and the Digest challenge that answer brings is answered.
    """
    separator = "&" if "?" in store_url else "?"
    url = f"{store_url}{separator}graph={urllib.parse.quote(graph_iri, safe='')}"
    passwords = urllib.request.HTTPPasswordMgrWithDefaultRealm()
    passwords.add_password(None, store_url, *user)
    opener = urllib.request.build_opener(urllib.request.HTTPDigestAuthHandler(passwords))

    def put(basic: bool) -> None:
        headers = {"Content-Type": "application/n-triples"}
        if basic and authorization is not None:
            headers["Authorization"] = authorization
        # The URL is the operator's graph store, checked to be http(s) at start.
        request = urllib.request.Request(url, data=body, headers=headers, method="PUT")  # noqa: S310
        with opener.open(request, timeout=WRITE_TIMEOUT) as response:
            response.read()

    try:
        try:
            put(basic=True)
        except urllib.error.HTTPError as refused:
            if refused.code != 401 or authorization is None:
                raise
            refused.close()
            put(basic=False)
    except urllib.error.HTTPError as error:
        body_text = message(error.read())
        if error.code == 400:
            raise StoreRefusedDataError(body_text) from None
        log.error("remote graph store %s: HTTP %s: %s", store_url, error.code, body_text)
        raise RemoteStoreError(
            f"graflageret svarte HTTP {error.code} / the graph store answered HTTP {error.code}"
        ) from None
    except (OSError, HTTPException) as error:
        log.error("remote graph store %s: %s", store_url, error)
        raise RemoteStoreError(
            "graflageret svarer ikke / the graph store cannot be reached"
        ) from None
