"""A resource's history: the audited writes to the graphs that hold it.

Why from the audit trail and the source graphs: every write is audited with the
graphs it changed, the token's role and name, and the uploaded file; a resource's
statements live in one or more source graphs. So the writes that touched those graphs
are the resource's history, and a load records the row changes it made (``detail``,
one line per change naming the record's IRI), so the page can say what changed for
this resource, not only that its graph changed.
"""

from __future__ import annotations

from dataclasses import dataclass

from service.access.audit import AuditEvent, AuditLog
from service.store.backend import Reader
from service.store.reads import select


@dataclass(frozen=True)
class Change:
    event: AuditEvent
    lines: tuple[str, ...]
    """The recorded row changes about this resource (its IRI taken out)."""


async def history(backend: Reader, log: AuditLog, iri: str, limit: int = 20) -> list[Change]:
    """The newest ``limit`` audited writes to a graph that holds ``iri``."""
    rows = await select(backend, f"SELECT DISTINCT ?g WHERE {{ GRAPH ?g {{ <{iri}> ?p ?o }} }}")
    graphs = {row["g"] for row in rows}
    if not graphs:
        return []
    marker = f"<{iri}>"
    found = []
    for event in reversed(log.events()):
        if not any(change.graph in graphs for change in event.changes):
            continue
        lines = tuple(
            line.replace(" " + marker, "") for line in event.detail.splitlines() if marker in line
        )
        found.append(Change(event, lines))
        if len(found) >= limit:
            break
    return found
