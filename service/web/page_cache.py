"""Pages rendered once per snapshot of the data, then answered from memory, with 304s.

Why: a page is many of the service's own queries and seconds of template code, and it
says the same until someone writes. The load test (50 clients on the national demo,
bench/results/2026-12-06-loadtest-1757.md) had 76 of 125 pages refused with 503 and
one answered after 68 s: each page queued for workers a dozen times, behind everyone's
queries, and could be refused at any of those turns. Kept here, the second reader of a
page costs neither a query nor a render, and a browser that has it gets a 304.

Why it is correct: the embedded store's readers see only snapshots, which never change
(``service.store.answers`` relies on the same). A page is kept under the snapshot that
was current when its render began, and only if that is still the current one when it
ends; it is served only while that snapshot is current. The key holds everything else
a page depends on: the path and query string, the reader's language (``?lang=`` or its
cookie) and the ``Accept`` header (``/id/`` negotiates its format). Pages of a remote
store, which others may write to at any moment, are never kept (there is no snapshot).

Only 200 answers are kept; a page being rendered is rendered once, and readers of the
same page wait for it (and render it themselves when it was not kept: an error, a 404).
``ETag`` is a digest of the page, so a page whose data did not change keeps its tag
across writes; ``Last-Modified`` is when those bytes were first rendered.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_to_datetime

from fastapi import Request, Response

from service.pages.render import language, remember_language
from service.store.backend import Reader, snapshot_of

BUDGET = 48 * 1024 * 1024
"""Bytes of pages kept per store (a municipality's page is about 300 kB)."""
_KEPT_HEADERS = frozenset({"content-type", "vary", "content-language", "link"})
"""Headers of a rendered page that are part of it (a cookie is the request's, not the page's)."""

Key = tuple[str, str, str, str]
"""Path, query string, language, Accept."""


@dataclass(frozen=True)
class KeptPage:
    generation: str
    body: bytes
    headers: tuple[tuple[str, str], ...]
    etag: str
    last_modified: float


def http_date(seconds: float) -> str:
    return formatdate(seconds, usegmt=True)


def not_modified(request: Request, etag: str, last_modified: float) -> bool:
    """RFC 9110: If-None-Match decides when sent; else If-Modified-Since (whole seconds)."""
    tags = request.headers.get("if-none-match")
    if tags is not None:
        wanted = {tag.strip().removeprefix("W/") for tag in tags.split(",")}
        return "*" in wanted or etag in wanted
    since = request.headers.get("if-modified-since")
    if since is None:
        return False
    try:
        when = parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False
    return int(last_modified) <= when.timestamp()


@dataclass
class PageCache:
    """Pages by key, least recently used dropped first within ``budget`` bytes; pages of
    older snapshots stay until dropped (their tag and date carry over to the same bytes)."""

    budget: int = BUDGET
    _pages: OrderedDict[Key, KeptPage] = field(default_factory=OrderedDict)
    _bytes: int = 0
    _rendering: dict[Key, asyncio.Future[bool]] = field(default_factory=dict)

    def current(self, key: Key, generation: str) -> KeptPage | None:
        kept = self._pages.get(key)
        if kept is None or kept.generation != generation:
            return None
        self._pages.move_to_end(key)
        return kept

    def keep(self, key: Key, generation: str, response: Response) -> KeptPage | None:
        """Keep a rendered 200 (its body whole in memory); None for anything else."""
        body = getattr(response, "body", None)
        if response.status_code != 200 or not isinstance(body, bytes):
            return None
        if len(body) > self.budget // 8:
            return None
        etag = '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'
        old = self._pages.pop(key, None)
        if old is not None:
            self._bytes -= len(old.body)
        if old is not None and old.etag == etag:
            modified = old.last_modified
        else:
            # Whole seconds, later than the bytes before: a date is all If-Modified-Since
            # compares, so two versions must never share one.
            modified = float(math.ceil(time.time()))
            if old is not None:
                modified = max(modified, old.last_modified + 1)
        headers = tuple(
            (name, value) for name, value in response.headers.items() if name in _KEPT_HEADERS
        )
        page = KeptPage(generation, body, headers, etag, modified)
        self._pages[key] = page
        self._bytes += len(body)
        while self._bytes > self.budget:
            _, dropped = self._pages.popitem(last=False)
            self._bytes -= len(dropped.body)
        return page

    async def answer(
        self, key: Key, generation: Callable[[], str], render: Callable[[], Awaitable[Response]]
    ) -> KeptPage | Response:
        """The kept page for ``key`` on the current snapshot, rendered first if there is
        none (once, however many ask at the same time); a response that was not kept."""
        while True:
            now = generation()
            kept = self.current(key, now)
            if kept is not None:
                return kept
            pending = self._rendering.get(key)
            if pending is None:
                break
            # Wait for the reader rendering it. Its page was for an older snapshot (a
            # write came meanwhile): wait for the next render, as it does. It was not a
            # page (an error, a 404): render it ourselves, each reader for itself.
            if not await asyncio.shield(pending):
                return await render()
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._rendering[key] = done
        page = False
        try:
            response = await render()
            page = response.status_code == 200
            if generation() != now:
                return response  # a write published a newer snapshot meanwhile: not kept
            return self.keep(key, now, response) or response
        finally:
            del self._rendering[key]
            done.set_result(page)

    def __len__(self) -> int:
        return len(self._pages)


_CACHES: weakref.WeakKeyDictionary[Reader, PageCache] = weakref.WeakKeyDictionary()


def _response(request: Request, page: KeptPage) -> Response:
    headers = {
        **dict(page.headers),
        "ETag": page.etag,
        "Last-Modified": http_date(page.last_modified),
        "Cache-Control": "no-cache",
    }
    if not_modified(request, page.etag, page.last_modified):
        headers.pop("content-type", None)
        return Response(status_code=304, headers=headers)
    return remember_language(request, Response(page.body, headers=headers))


def _generation(backend: Reader) -> str:
    """The snapshot, and today's date (UTC): a page that says what holds "now" (a canned
    query with ``NOW()``) is rendered again each day even if nobody writes."""
    return f"{snapshot_of(backend)}@{time.strftime('%Y-%m-%d', time.gmtime())}"


async def cached_page(
    request: Request, backend: Reader, render: Callable[[], Awaitable[Response]]
) -> Response:
    """``render()``'s answer, kept for the current snapshot of ``backend`` (see above)."""
    if snapshot_of(backend) is None or request.method not in ("GET", "HEAD"):
        return await render()
    cache = _CACHES.get(backend)
    if cache is None:
        cache = _CACHES[backend] = PageCache()
    key = (
        request.url.path,
        request.url.query,
        language(request),
        request.headers.get("accept", ""),
    )
    found = await cache.answer(key, lambda: _generation(backend), render)
    return _response(request, found) if isinstance(found, KeptPage) else found
