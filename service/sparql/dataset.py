"""The protocol's using-graph-uri and using-named-graph-uri, written into an update."""

from __future__ import annotations

from collections.abc import Sequence

from service.sparql.lexer import Token, tokens


class DatasetConflictError(ValueError):
    """using-graph-uri/using-named-graph-uri given for an update that has USING or WITH."""


def with_dataset(update: str, using: Sequence[str], using_named: Sequence[str]) -> str:
    """Apply the protocol's using-graph-uri and using-named-graph-uri to an update.

    The protocol defines them as USING and USING NAMED clauses on every operation
    with a WHERE, so that is what they become: the clauses are written in before
    each top-level WHERE; a ``DELETE WHERE { P }``, which cannot take USING, is
    written as the equivalent ``DELETE { P } USING … WHERE { P }``. The graph IRIs
    must match ``IRI`` (checked by the caller), so they cannot break out of <…>.

    >>> with_dataset("INSERT { ?s a <C> } WHERE { ?s ?p ?o }", ["http://g"], [])
    'INSERT { ?s a <C> }  USING <http://g> WHERE { ?s ?p ?o }'
    >>> with_dataset("DELETE WHERE { ?s ?p ?o }", [], ["http://n"])
    'DELETE { ?s ?p ?o }  USING NAMED <http://n> WHERE { ?s ?p ?o }'
    """
    if not using and not using_named:
        return update
    clause = "".join(f" USING <{g}>" for g in using)
    clause += "".join(f" USING NAMED <{g}>" for g in using_named)
    significant = [t for t in tokens(update) if t.kind not in ("ws", "comment")]
    edits: list[tuple[int, int, str]] = []
    depth = 0
    previous: str | None = None
    for index, token in enumerate(significant):
        if token.text == "{":
            depth += 1
        elif token.text == "}":
            depth -= 1
        elif depth == 0 and token.kind == "word":
            word = token.text.upper()
            if word in ("USING", "WITH"):
                raise DatasetConflictError(word)
            if word == "WHERE" and previous == "DELETE":
                end = _group_end(significant, index + 1)
                if end is not None:
                    pattern = update[significant[index + 1].start : end]
                    edits.append((token.start, end, f"{pattern} {clause} WHERE {pattern}"))
            elif word == "WHERE":
                edits.append((token.start, token.start, f"{clause} "))
        previous = token.text.upper() if depth == 0 and token.kind == "word" else None
    for start, end, text in reversed(edits):
        update = update[:start] + text + update[end:]
    return update


def _group_end(significant: list[Token], opening: int) -> int | None:
    """The end offset of the { … } group whose "{" is ``significant[opening]``."""
    if opening >= len(significant) or significant[opening].text != "{":
        return None
    depth = 0
    for token in significant[opening:]:
        if token.text == "{":
            depth += 1
        elif token.text == "}":
            depth -= 1
            if depth == 0:
                return token.end
    return None
