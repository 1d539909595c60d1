"""The "did you mean" index: every current name, and a trigram index over their keys.

Built from the answer of one query (every current name) in a process of its own
(``service.spawned``) once per generation of the data; the server process only reads
the result. Why: on the national demo (22,000 names) building it is seconds of
interpreter time (2.4 s on a busy machine), and on a thread of the server process that
held every request behind it after each write (issue 16, the load test's probe). The
result is kept in a form that costs little to bring over: columns of strings and arrays
of numbers (about 10 ms to read, against 60 ms as objects).
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import time
from array import array
from collections import Counter
from dataclasses import dataclass

from loaders.mapping import slug
from service.pages.resource_views import local_name

MAX_SUGGESTION_INPUT = 64
"""Characters of an unknown name compared (after ``slug``): enough to tell names apart,
and what bounds a suggestion's cost whatever a client sends."""
SHORTLIST = 48
"""Candidates sharing the most trigrams with the input that are scored with difflib."""


@dataclass(frozen=True)
class Hit:
    iri: str
    cls: str
    label: str


@dataclass(frozen=True)
class SuggestionIndex:
    """Every current name, with a trigram index over its keys; built once per snapshot.

    Keys are the slug of the label and the IRI's last segment, each cut to
    ``MAX_SUGGESTION_INPUT``. A lookup collects the candidates that share a trigram
    with the input, keeps the ``SHORTLIST`` that share the most, and scores only
    those: its cost is bounded by the number of names, never by the input's length
    (difflib against every label took 67 s for 8,000 characters).
    """

    iris: tuple[str, ...]
    classes: tuple[str, ...]
    labels: tuple[str, ...]
    """Per name (one per IRI): its IRI, class and label."""
    keys: tuple[str, ...]
    """Per name: its keys, one per line."""
    trigrams: dict[str, array[int]]
    """Trigram → the names that have it in a key (their numbers, ascending)."""
    build_cpu: float = 0.0
    """CPU seconds the build process used (logged: what the server process no longer pays)."""

    @classmethod
    def build(cls, rows: list[dict[str, str]]) -> SuggestionIndex:
        hits: dict[str, Hit] = {}
        keys: dict[str, set[str]] = {}
        for row in rows:
            hits.setdefault(row["x"], Hit(row["x"], row["class"], row["label"]))
            found = keys.setdefault(row["x"], set())
            for key in (slug(row["label"]), local_name(row["x"])):
                if key:
                    found.add(key[:MAX_SUGGESTION_INPUT])
        postings: dict[str, set[int]] = {}
        ordered = list(hits)
        for number, iri in enumerate(ordered):
            for key in keys[iri]:
                for gram in _trigrams(key):
                    postings.setdefault(gram, set()).add(number)
        return cls(
            tuple(ordered),
            tuple(hits[iri].cls for iri in ordered),
            tuple(hits[iri].label for iri in ordered),
            tuple("\n".join(sorted(keys[iri])) for iri in ordered),
            {gram: array("I", sorted(numbers)) for gram, numbers in postings.items()},
        )

    @classmethod
    def from_json(cls, body: bytes) -> SuggestionIndex:
        """``build`` from a SPARQL JSON answer of ``?x ?class ?label``."""
        bindings = json.loads(body)["results"]["bindings"]
        return cls.build([{name: term["value"] for name, term in b.items()} for b in bindings])

    def hit(self, number: int) -> Hit:
        return Hit(self.iris[number], self.classes[number], self.labels[number])

    def closest(self, wanted: str, limit: int) -> list[Hit]:
        """The hits whose name or IRI tail is most like ``wanted``.

        >>> index = SuggestionIndex.build([{"x": "http://x/id/kommune/4203",
        ...     "class": "urn:Municipality", "label": "Arendal"}])
        >>> [h.label for h in index.closest("arendall", 3)]
        ['Arendal']
        >>> [h.label for h in index.closest("4230", 3)]
        ['Arendal']
        >>> index.closest("x" * 100_000, 3)
        []
        """
        key = slug(wanted[: MAX_SUGGESTION_INPUT * 4])[:MAX_SUGGESTION_INPUT]
        if not key:
            return []
        shared: Counter[int] = Counter()
        for gram in _trigrams(key):
            shared.update(self.trigrams.get(gram, ()))
        scored: list[tuple[float, Hit]] = []
        for number, _ in shared.most_common(SHORTLIST):
            best = 0.0
            for candidate in self.keys[number].split("\n"):
                ratio = difflib.SequenceMatcher(None, key, candidate).ratio()
                if key in candidate and len(key) >= 3:
                    ratio = max(ratio, 0.8)
                best = max(best, ratio)
            if best >= 0.6:
                scored.append((best, self.hit(number)))
        scored.sort(key=lambda pair: (-pair[0], pair[1].label))
        return [hit for _, hit in scored[:limit]]


def index_of_answer(body: bytes) -> SuggestionIndex:
    """The index of a SPARQL JSON answer of ``?x ?class ?label``: what the build process
    runs (``service.web.routes.search.suggestion_index``)."""
    return dataclasses.replace(SuggestionIndex.from_json(body), build_cpu=time.process_time())


def _trigrams(key: str) -> set[str]:
    """The trigrams of ``key`` padded at both ends, so short keys have some too.

    >>> sorted(_trigrams("ab"))
    ['$$a', '$ab', 'ab$', 'b$$']
    """
    padded = f"$${key}$$"
    return {padded[i : i + 3] for i in range(len(padded) - 2)}
