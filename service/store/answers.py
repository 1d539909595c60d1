"""Answers of the SPARQL endpoint kept per snapshot: the same query on the same data
is answered from memory instead of a worker.

Why it is correct: the embedded store's readers only ever see a snapshot, and a
snapshot never changes (``service.store.embedded``: every write publishes a new one,
under a new name). An answer is kept under the snapshot it was computed on, and only
while that snapshot is the current one: the first lookup or answer on a newer snapshot
empties the cache, and an answer that arrives for an older one is not kept. So a
cached answer is byte for byte what a worker would compute on the snapshot a query
would read at that moment. Only successful answers are kept: a refusal (SERVICE or
LOAD outside the allow-list), a syntax error or a timeout is met again every time, and
a client's text is still read by ``check_text`` before it is first run.

Why only the embedded store: a remote store can be written by others at any moment
(another instance, the store's own tools), so there is no generation that says its
data is unchanged.

What is never kept: the answer of a query that calls NOW, RAND, UUID, STRUUID or BNODE
(``service.sparql.text_checks.VOLATILE``): its value is new at every run (SPARQL 1.1
§17.4: NOW is the time of the query's execution), so a kept one would be a stale time
or the same "random" number again. The worker that reads the text with ``check_text``
and runs what that reading wrote says so (``QueryAnswer.volatile``), so the decision
sees exactly what ran: a ``"NOW()"`` string or a comment does not count, ``now ( )``
does. Never kept, such an answer is never found either.

Visible to clients as the ``Cache-Status`` header (RFC 9211) on ``/sparql``; a request
with ``Cache-Control: no-cache`` is always run by a worker (and its answer kept).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from service.store.worker_tasks import QueryAnswer, Read

HIT = "kommunegraf; hit"
"""``Cache-Status`` (RFC 9211) of an answer from the cache."""


VOLATILE = "kommunegraf; fwd=bypass; detail=volatile"
"""``Cache-Status`` of a query that calls a function new at every run: RFC 9211's
``bypass`` ("configured to not handle this request"), not ``miss``, which would say a
later request could be a hit; ``detail`` says why."""


def forwarded(*, fresh: bool, kept: bool) -> str:
    """``Cache-Status`` of an answer a worker computed: because it was not cached or the
    client asked for it (``fresh``), and whether the cache kept it (not when too large,
    or when a write published a newer snapshot meanwhile)."""
    return f"kommunegraf; fwd={'request' if fresh else 'miss'}" + ("; stored" if kept else "")


@dataclass
class AnswerCache:
    """Answers of the current snapshot, least recently used dropped first, within a
    budget of bytes (the bodies; one answer at most an eighth of it)."""

    budget: int
    snapshot: str = ""
    _bytes: int = 0
    _answers: OrderedDict[Read, QueryAnswer] = field(default_factory=OrderedDict)

    def _on(self, snapshot: str) -> None:
        """Make ``snapshot`` (the store's current one) the cache's: a new name empties it."""
        if snapshot != self.snapshot:
            self._answers.clear()
            self._bytes = 0
            self.snapshot = snapshot

    def get(self, snapshot: str, read: Read) -> QueryAnswer | None:
        """The answer kept for ``read`` on ``snapshot`` (the current one), or None."""
        if self.budget <= 0:
            return None
        self._on(snapshot)
        answer = self._answers.get(read)
        if answer is not None:
            self._answers.move_to_end(read)
        return answer

    def put(self, snapshot: str, current: str, read: Read, answer: QueryAnswer) -> bool:
        """Keep ``answer`` of ``read``, computed on ``snapshot``, if that is still the
        ``current`` snapshot, it fits, and its query calls no function new at every
        run (``answer.volatile``); whether it was kept."""
        size = len(answer.body)
        if answer.volatile or snapshot != current or self.budget <= 0 or size > self.budget // 8:
            return False
        self._on(snapshot)
        old = self._answers.pop(read, None)
        if old is not None:
            self._bytes -= len(old.body)
        self._answers[read] = answer
        self._bytes += size
        while self._bytes > self.budget:
            _, dropped = self._answers.popitem(last=False)
            self._bytes -= len(dropped.body)
        return True

    def __len__(self) -> int:
        return len(self._answers)
