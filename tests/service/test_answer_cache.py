"""The answer cache's bookkeeping (``service.store.answers``), mostly without a server:
``test_update.py`` checks it through HTTP, around a write; the volatile functions here
use the session's ``server`` (no server of their own)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from service.store.answers import VOLATILE, AnswerCache
from service.store.worker_tasks import QueryAnswer, Read
from tests.conftest import Server
from tests.service.client import select


def _read(text: str) -> Read:
    return Read(text, "application/sparql-results+json", None, allow=())


def _answer(size: int) -> QueryAnswer:
    return QueryAnswer("solutions", "application/sparql-results+json", b"x" * size)


def test_regression_answer_of_an_older_snapshot_is_not_kept() -> None:
    """A query that began before a write and ends after it must not be kept for the new
    snapshot, nor bring the cache back to the old one."""
    cache = AnswerCache(budget=1000)
    assert cache.get("s2", _read("A")) is None  # a request on the new snapshot came first
    assert not cache.put("s1", "s2", _read("B"), _answer(10))
    assert cache.get("s2", _read("B")) is None
    assert cache.put("s2", "s2", _read("B"), _answer(10))
    assert cache.get("s2", _read("B")) == _answer(10)
    assert cache.get("s3", _read("B")) is None and len(cache) == 0  # a write: all gone


def test_budget_drops_the_least_recently_used_and_refuses_large_answers() -> None:
    cache = AnswerCache(budget=800)  # at most 100 bytes an answer
    assert not cache.put("s", "s", _read("large"), _answer(101))
    for name in "ABCDEFGH":
        assert cache.put("s", "s", _read(name), _answer(100))
    assert cache.get("s", _read("A")) is not None  # A is now the most recently used
    assert cache.put("s", "s", _read("I"), _answer(100))
    assert cache.get("s", _read("B")) is None
    assert all(cache.get("s", _read(name)) is not None for name in "ACDEFGHI")
    assert AnswerCache(budget=0).get("s", _read("A")) is None
    assert not AnswerCache(budget=0).put("s", "s", _read("A"), _answer(1))


def test_an_answer_of_a_volatile_query_is_not_kept() -> None:
    cache = AnswerCache(budget=1000)
    assert not cache.put("s", "s", _read("NOW"), replace(_answer(10), volatile=True))
    assert cache.get("s", _read("NOW")) is None and len(cache) == 0


def _ask(server: Server, query: str) -> tuple[str, str | None]:
    """The one value ``query`` selects, and the answer's ``Cache-Status``."""
    answer = select(server, query)
    assert answer.status == 200, answer.body
    row = json.loads(answer.body)["results"]["bindings"][0]
    return row["v"]["value"], answer.headers.get("cache-status")


@pytest.mark.parametrize(
    "query",
    [
        "SELECT (NOW() AS ?v) {}",
        "select (now ( ) as ?v) {} # the same function, written otherwise",
        "SELECT (STR(RAND()) AS ?v) {}",
        "SELECT (STRUUID() AS ?v) {}",
        "PREFIX x: <http://x/> SELECT (STR(UUID()) AS ?v) { BIND(x:y AS ?z) }",
    ],
)
def test_regression_now_answered_from_cache(server: Server, query: str) -> None:
    """NOW is the time of the query's execution, RAND/UUID/STRUUID fresh values per call
    (SPARQL 1.1 §17.4): the answer cache gave the first answer again until a write, so
    the time stood still and the "random" number never changed. Such a query is run
    every time, never kept, and says so (RFC 9211 ``fwd=bypass``)."""
    first, second = _ask(server, query), _ask(server, query)
    assert first[0] != second[0]
    expected = None if server.remote is not None else VOLATILE
    assert first[1] == second[1] == expected


def test_the_names_in_a_string_or_a_comment_are_not_volatile(server: Server) -> None:
    """The decision reads the text as it runs: no call, so the answer is kept as any other."""
    query = 'SELECT ?v { BIND("NOW() RAND() UUID()" AS ?v) } # NOW() RAND()'
    first, second = _ask(server, query), _ask(server, query)
    assert first[0] == second[0] == "NOW() RAND() UUID()"
    if server.remote is None:
        assert second[1] == "kommunegraf; hit"
