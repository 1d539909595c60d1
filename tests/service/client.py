"""A bare HTTP client for the endpoint tests.

``http.client`` rather than urllib: it sends exactly the headers given (urllib
adds a form Content-Type to every POST, which hides "missing media type" bugs) and
returns error statuses as answers instead of raising.
"""

from __future__ import annotations

import http.client
import json
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.conftest import Server


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def media(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip()

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


def call(
    base_url: str,
    method: str,
    path: str,
    *,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
    timeout: float = 60,
) -> Answer:
    """Send one request to ``base_url + path`` (with ``params`` url-encoded)."""
    address = urllib.parse.urlsplit(base_url)
    if params:
        path += ("&" if "?" in path else "?") + urllib.parse.urlencode(params)
    assert address.hostname is not None
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=dict(headers or {}))
        response = connection.getresponse()
        answer_headers = {key.lower(): value for key, value in response.getheaders()}
        return Answer(response.status, answer_headers, response.read())
    finally:
        connection.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def select(server: Server, query: str, headers: Mapping[str, str] | None = None) -> Answer:
    """A query posted as the body, its answer asked for as SPARQL JSON results."""
    return call(
        server.url,
        "POST",
        "/sparql",
        body=query.encode(),
        headers={
            "Content-Type": "application/sparql-query",
            "Accept": "application/sparql-results+json",
            **(headers or {}),
        },
    )


def ask(server: Server, query: str) -> bool:
    """An ASK query's answer from the running service, as the SPARQL JSON results give it."""
    answer = call(
        server.url,
        "GET",
        "/sparql",
        params={"query": query},
        headers={"Accept": "application/sparql-results+json"},
    )
    assert answer.status == 200, answer.text
    value = json.loads(answer.body)["boolean"]
    assert isinstance(value, bool)
    return value
