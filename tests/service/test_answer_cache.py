"""The answer cache's bookkeeping (``service.store.answers``), without a server:
``test_update.py`` checks it through HTTP, around a write."""

from __future__ import annotations

from service.store.answers import AnswerCache
from service.store.worker_tasks import QueryAnswer, Read


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
