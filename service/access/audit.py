"""The audit trail: every write, who made it, and what it changed.

Each write (a load or upload, a SPARQL update, a Graph Store request, a proposal
approved, a token made or revoked) becomes one ``AuditEvent``, kept twice:

* appended to a JSON-lines file (``KOMMUNEGRAF_AUDIT_LOG``; by default beside an
  on-disk store), one line per event, opened for appending only and flushed to
  disk before the write is answered. This file is the record; and
* as PROV-O in the audit graph (``<base>graph/audit``), so readers can ask the
  SPARQL endpoint who changed what. Users' updates and Graph Store requests can
  never target it; an admin update that reaches every graph (``DROP ALL``) is
  followed by rebuilding the graph from the file, so it cannot be rewritten.

Every write is announced before it is made (write-ahead): an intent line with the
event as far as it is known goes to the file first, and the write itself carries a
marker into the store, in the same transaction (``<base>audit/<id> a
prov:Activity`` in the audit graph, via ``service.store.embedded.WRITE_PREAMBLE``).
The event follows when the write is done. After a crash (a SIGKILL between the
store write and the event), the service's start resolves each announced write
that has no event: marker in the store, so the write was done, and the event is
recorded from the intent (with the counts known before the write); no marker, so
it was not done, and that is recorded. Either way the trail and the store agree: every write is
audited or not done. (An admin update that may reach every graph, ``DROP ALL``,
can remove its own marker; such a write without a marker is recorded as maybe
done.)

Who is the token's name, never the token. Triples added and removed are counted
by comparing the graphs written before and after; triples with blank nodes are
compared with their blank nodes blanked out, because a store relabels them on
every read.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import signal
import threading
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path
from typing import Any

import pyoxigraph as ox
from fastapi import Request
from rdflib import Graph
from rdflib.namespace import PROV, RDF

from service.access.audit_prov import event_graph
from service.access.scope import DEFAULT, Principal, UpdateWrites, audit_graph, graph_owner
from service.metrics import count_audit_event
from service.settings import Settings
from service.store.backend import Backend, construct_ntriples
from service.store.embedded import WRITE_PREAMBLE, safe_ntriples
from service.web.timing import phase

# The logger keeps the name log collectors already filter on (the module moved).
log = logging.getLogger("service.audit")

ACTIONS = ("load", "update", "graph-store", "proposal", "approval", "token")


@dataclass(frozen=True)
class GraphChange:
    """What one write did to one named graph ("DEFAULT": the default graph): triples added
    and removed, counted as the module docstring says (blank nodes blanked out)."""

    graph: str
    added: int
    removed: int


@dataclass(frozen=True)
class AuditEvent:
    id: str
    time: str
    """ISO 8601, UTC."""
    actor: str
    """The token's name (or "kommandolinjen / command line" for the CLI)."""
    role: str
    action: str
    municipalities: tuple[str, ...] = ()
    changes: tuple[GraphChange, ...] = ()
    file_name: str | None = None
    file_sha256: str | None = None
    detail: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, line: str) -> AuditEvent:
        data: dict[str, Any] = json.loads(line)
        data["municipalities"] = tuple(data.get("municipalities", ()))
        data["changes"] = tuple(GraphChange(**c) for c in data.get("changes", ()))
        return cls(**data)

    @property
    def moment(self) -> datetime:
        return datetime.fromisoformat(self.time)

    @property
    def added(self) -> int:
        return sum(c.added for c in self.changes)

    @property
    def removed(self) -> int:
        return sum(c.removed for c in self.changes)


def new_event(
    principal: Principal,
    action: str,
    base: str,
    changes: Iterable[GraphChange] = (),
    *,
    data: bytes | None = None,
    file_name: str | None = None,
    detail: str = "",
    municipalities: Iterable[str] = (),
) -> AuditEvent:
    """An event now; it concerns the principal's municipalities and the graphs' owners."""
    changes = tuple(changes)
    concerned = set(principal.municipalities) | set(municipalities)
    concerned |= {o for c in changes if (o := graph_owner(base, c.graph)) is not None}
    return AuditEvent(
        id=uuid.uuid4().hex,
        time=datetime.now(UTC).isoformat(timespec="milliseconds"),
        actor=principal.name,
        role=principal.role,
        action=action,
        municipalities=tuple(sorted(concerned)),
        changes=changes,
        file_name=file_name,
        file_sha256=hashlib.sha256(data).hexdigest() if data is not None else None,
        detail=detail,
    )


# -- counting -----------------------------------------------------------------

TripleKeys = Counter[str]


def triple_keys(ntriples: bytes | str) -> TripleKeys:
    """Comparable keys of N-Triples, blank nodes blanked out (see the module docstring)."""
    data = ntriples.encode("utf-8") if isinstance(ntriples, str) else ntriples
    keys: TripleKeys = Counter()
    for quad in ox.parse(data, format=ox.RdfFormat.N_TRIPLES):
        terms = (quad.subject, quad.predicate, quad.object)
        keys[" ".join("_:b" if isinstance(t, ox.BlankNode) else str(t) for t in terms)] += 1
    return keys


def graph_keys(graph: Graph) -> TripleKeys:
    return triple_keys(safe_ntriples(graph))


def change(graph: str, before: TripleKeys, after: TripleKeys) -> GraphChange:
    """
    >>> a = triple_keys('<urn:a> <urn:p> _:x .\\n<urn:a> <urn:q> "1" .\\n')
    >>> b = triple_keys('<urn:a> <urn:p> _:y .\\n<urn:a> <urn:q> "2" .\\n<urn:b> <urn:q> "2" .\\n')
    >>> change("urn:g", a, b)
    GraphChange(graph='urn:g', added=2, removed=1)
    """
    return GraphChange(graph, (after - before).total(), (before - after).total())


# -- the file -------------------------------------------------------------------


def log_path(settings: Settings) -> Path | None:
    """Where the JSON-lines log is: configured, or beside an on-disk store."""
    if settings.audit_log is not None:
        return settings.audit_log
    if settings.store is not None:
        return settings.store.with_name(settings.store.name + "-audit.jsonl")
    return None


INTENT = "intent"
NOT_DONE = "not-done"
RECOVERED = (
    "gjenopprettet etter et krasj; tallene er de som var kjent før skrivingen / "
    "recovered after a crash; the counts are those known before the write"
)
MAYBE_DONE = (
    "avbrutt; kan være utført, tallene er ukjente / interrupted; may have been done, counts unknown"
)


@dataclass(frozen=True)
class Intent:
    """A write announced in the file that has no event yet."""

    event: AuditEvent
    wide: bool
    """The write may reach every graph (and so remove its own marker)."""


@dataclass
class AuditLog:
    """The append-only JSON-lines file; in memory when there is no file (throw-away stores).

    Lines are events, and the write-ahead lines of the module docstring: an intent
    (the event's fields and ``"state": "intent"``) and, for a write that was not
    done, ``{"id": …, "state": "not-done"}``. ``events`` reads only the events.
    """

    path: Path | None
    _memory: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def append(self, event: AuditEvent) -> None:
        self._write(event.to_json())

    def announce(self, event: AuditEvent, wide: bool = False) -> None:
        """Write-ahead: the write of ``event`` is about to be made."""
        self._write(json.dumps({**asdict(event), "state": INTENT, "wide": wide}, sort_keys=True))

    def not_done(self, event_id: str) -> None:
        """An announced write was not made."""
        self._write(json.dumps({"id": event_id, "state": NOT_DONE}))

    def _write(self, line: str) -> None:
        with self._lock:
            if self.path is None:
                self._memory.append(line)
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(descriptor, (line + "\n").encode("utf-8"))
                os.fsync(descriptor)
            finally:
                os.close(descriptor)

    def size(self) -> int:
        try:
            return self.path.stat().st_size if self.path is not None else len(self._memory)
        except FileNotFoundError:
            return 0

    def _lines(self) -> list[dict[str, Any]]:
        with self._lock:
            if self.path is None:
                lines = list(self._memory)
            elif not self.path.exists():
                lines = []
            else:
                lines = self.path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def events(
        self, since: datetime | date | None = None, municipality: str | None = None
    ) -> list[AuditEvent]:
        """Events in the order they happened, from ``since`` on, concerning ``municipality``."""
        found = [_event(line) for line in self._lines() if "state" not in line]
        if isinstance(since, datetime):
            start = since if since.tzinfo else since.replace(tzinfo=UTC)
            found = [e for e in found if e.moment >= start]
        elif isinstance(since, date):
            found = [e for e in found if e.moment.date() >= since]
        if municipality is not None:
            found = [e for e in found if municipality in e.municipalities]
        return found

    def pending(self) -> list[Intent]:
        """Announced writes with neither an event nor a not-done line (after a crash)."""
        intents: dict[str, Intent] = {}
        settled: set[str] = set()
        for line in self._lines():
            state = line.pop("state", None)
            if state == INTENT:
                wide = bool(line.pop("wide", False))
                intents[line["id"]] = Intent(_event(line), wide)
            else:
                settled.add(line["id"])
        return [intent for key, intent in intents.items() if key not in settled]


def _event(data: dict[str, Any]) -> AuditEvent:
    return AuditEvent.from_json(json.dumps(data))


def marker_sparql(event_id: str, base: str) -> str:
    """The operation that marks a write as done, in the write's own transaction."""
    activity = ox.NamedNode(f"{base}audit/{event_id}")
    graph = ox.NamedNode(audit_graph(base))
    kind = f"{ox.NamedNode(str(RDF.type))} {ox.NamedNode(str(PROV.Activity))}"
    return f"INSERT DATA {{ GRAPH {graph} {{ {activity} {kind} }} }} ; "


FAULT_ENV = "KG_FAULT"
"""Test-only fault injection: ``KG_FAULT=<point>`` makes the process kill itself
(SIGKILL) at that point of every audited write, so a test crashes a real server or
``kommunegraf load`` exactly there rather than at a time it guesses (a load that
finished before the guessed time left the point untested). Not a setting: it has no
``KOMMUNEGRAF_`` name, and nothing but tests/service/test_crash_safety.py sets it."""

FAULT_POINTS = {
    "kill-before-write": "the write announced (write-ahead), the store not yet written",
    "kill-before-audit": "the write in the store (with its mark), its event not appended",
}


def _fault_point(name: str) -> None:
    if os.environ.get(FAULT_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


# -- the service's side ---------------------------------------------------------


class Auditor:
    """Records events for a running service: the file first, then the audit graph."""

    def __init__(self, settings: Settings, backend: Backend) -> None:
        self.settings = settings
        self.backend = backend
        self.log = AuditLog(log_path(settings))
        self._size: int | None = None
        """Size of the file after this service's last write to it."""

    async def record(self, event: AuditEvent) -> None:
        """Append to the file, then add to the graph.

        When the file grew since this service last wrote it (``kommunegraf token``
        appends there while the service runs, and a restarted service has not
        read it yet), the graph is rebuilt from the file instead, so it catches up.
        """
        _fault_point("kill-before-audit")
        size_before = await asyncio.to_thread(self.log.size)
        await asyncio.to_thread(self.log.append, event)
        _count_metric(event)
        try:
            if self.log.path is not None and size_before != self._size:
                await self.rebuild_graph()
            else:
                # One graph's INSERT DATA, which the store knows it is (an upload's
                # check then reads again only the names of the graphs written).
                base = self.settings.base_iri
                await self.backend.merge_graph(audit_graph(base), event_graph(event, base))
            self._size = await asyncio.to_thread(self.log.size)
        except Exception:  # the file has it; the graph is rebuilt from the file
            log.exception("audit event %s not written to the audit graph", event.id)

    async def _own_append(self, append: Callable[[], None]) -> None:
        """Append a write-ahead line without mistaking it for another process's."""
        size_before = await asyncio.to_thread(self.log.size)
        await asyncio.to_thread(append)
        if size_before == self._size:
            self._size = await asyncio.to_thread(self.log.size)

    async def announce(self, event: AuditEvent, *, wide: bool = False) -> None:
        """Announce the write of ``event`` (write-ahead) that marks itself: its own last
        transaction carries ``marker_sparql`` (the first start's load,
        ``service.web.startup``). Every other write uses ``announced``."""
        await self._own_append(partial(self.log.announce, event, wide))

    @asynccontextmanager
    async def announced(self, event: AuditEvent, *, wide: bool = False) -> AsyncIterator[None]:
        """Announce the write of ``event`` (write-ahead), and mark every write made in
        the block with it, in the write's own transaction (see the module docstring).

        The caller records the event (``record``) after the block. A write that
        fails in the block is settled at once: done or not, as the store says.
        """
        await self.announce(event, wide=wide)
        _fault_point("kill-before-write")
        marking = WRITE_PREAMBLE.set(marker_sparql(event.id, self.settings.base_iri))
        try:
            yield
        except Exception:
            WRITE_PREAMBLE.reset(marking)
            await self.settle([Intent(event, wide)])
            raise
        WRITE_PREAMBLE.reset(marking)

    async def audited(
        self,
        event: AuditEvent,
        graph: str,
        write: Callable[[], Awaitable[object]],
        *,
        also: Iterable[str] = (),
    ) -> AuditEvent:
        """Run ``write``, which changes ``graph`` (and the graphs of ``event``'s other
        changes), announced first and recorded after, with ``graph``'s change and those
        of the graphs ``also`` names counted triple by triple; returns the event recorded.

        The one path of a write to one graph, whoever makes it: an upload, a Graph
        Store POST, ``kommunegraf import-dcat``. ``also``: graphs the same write
        replaces or drops (a load taking over another graph's records).
        """
        counted_graphs = [graph, *(g for g in also if g != graph)]
        with phase("audit_before"):
            before = {g: await self.graph_keys(g) for g in counted_graphs}
        async with self.announced(event):
            await write()
        with phase("audit_after"):
            counted = [change(g, before[g], await self.graph_keys(g)) for g in counted_graphs]
        rest = (c for c in event.changes if c.graph not in counted_graphs)
        done = replace(event, changes=(*counted, *rest))
        with phase("record"):
            await self.record(done)
        return done

    async def record_filled(self, event: AuditEvent, principal: Principal) -> AuditEvent:
        """Record the announced load of an empty store: every graph it wrote, all added,
        counted by size (a first start's load, the command line's reference data).

        The audit graph is then made what the trail says: a checked copy of the demo
        (``service.store.demo_cache``) carries the mark of the start that saved it.
        """
        base = self.settings.base_iri
        sizes = await graph_sizes(self.backend)
        changes = [GraphChange(g, n, 0) for g, n in sorted(sizes.items()) if g != audit_graph(base)]
        done = new_event(principal, event.action, base, changes, detail=event.detail)
        done = replace(done, id=event.id, time=event.time)
        await self.record(done)
        await self.rebuild_graph()
        return done

    async def _marked(self, event_id: str) -> bool:
        activity = ox.NamedNode(f"{self.settings.base_iri}audit/{event_id}")
        graph = ox.NamedNode(audit_graph(self.settings.base_iri))
        answer = await self.backend.execute(
            f"ASK {{ GRAPH {graph} {{ {activity} ?p ?o }} }}",
            solutions_media="application/sparql-results+json",
            graph_media=None,
        )
        return bool(json.loads(answer.body)["boolean"])

    async def settle(self, intents: Iterable[Intent]) -> list[AuditEvent]:
        """Record each announced write as done (its marker is in the store) or not done;
        returns the events recorded. The audit graph is rebuilt from the file after."""
        recorded = []
        for intent in intents:
            event = intent.event
            marked = await self._marked(event.id)
            if marked or intent.wide:
                note = RECOVERED if marked else MAYBE_DONE
                done = replace(event, detail=f"{event.detail}; {note}" if event.detail else note)
                await self._own_append(partial(self.log.append, done))
                recorded.append(done)
            else:
                await self._own_append(partial(self.log.not_done, event.id))
        if recorded:
            await self.rebuild_graph()
        return recorded

    async def recover(self) -> list[AuditEvent]:
        """At start: settle the writes a crash left announced and unrecorded."""
        pending = await asyncio.to_thread(self.log.pending)
        if not pending:
            return []
        recorded = await self.settle(pending)
        log.warning(
            "%d skriving(er) avbrutt av et krasj er avklart i endringsloggen / %d write(s) "
            "interrupted by a crash settled in the audit trail (%d done)",
            len(pending),
            len(pending),
            len(recorded),
        )
        return recorded

    async def rebuild_graph(self) -> None:
        """Make the audit graph what the file says (after an update that reached it)."""
        events = await asyncio.to_thread(self.log.events)
        graph = Graph()
        for event in events:
            graph += event_graph(event, self.settings.base_iri)
        await asyncio.to_thread(
            self.backend.replace_graph, audit_graph(self.settings.base_iri), graph
        )

    async def graph_keys(self, graph: str) -> TripleKeys:
        """The triples of one named graph now, as comparable keys."""
        if graph == "DEFAULT":
            return Counter()  # not readable on its own: queries see the union
        query = f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH {ox.NamedNode(graph)} {{ ?s ?p ?o }} }}"
        return await asyncio.to_thread(triple_keys, await construct_ntriples(self.backend, query))


def _count_metric(event: AuditEvent) -> None:
    count_audit_event(event.action)


def auditor(request: Request) -> Auditor:
    """The app's auditor, made on first use (like ``service.access.auth.write_lock``)."""
    found: Auditor | None = getattr(request.app.state, "auditor", None)
    if found is None:
        state = request.app.state
        found = state.auditor = Auditor(state.settings, state.backend)
    return found


async def graph_sizes(backend: Backend) -> dict[str, int]:
    """Triples per named graph, for updates that may reach any graph."""
    answer = await backend.execute(
        "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g",
        solutions_media="application/sparql-results+json",
        graph_media=None,
    )
    rows = json.loads(answer.body)["results"]["bindings"]
    return {row["g"]["value"]: int(row["n"]["value"]) for row in rows}


async def run_audited_update(
    audit: Auditor, writer: Principal, text: str, writes: UpdateWrites
) -> None:
    """Run an update and record it; the caller holds the write lock and checked scope.

    Named targets are compared triple by triple. An update that may reach every
    graph (``DROP ALL``, ``GRAPH ?g`` in a template) is counted per graph by size,
    so its counts are net (said in the event), and the audit graph is rebuilt
    from the file afterwards, which undoes whatever the update did to it.
    """
    base = audit.settings.base_iri
    backend = audit.backend
    if writes.wide:
        sizes = await graph_sizes(backend)
        announced = new_event(writer, "update", base, detail="netto / net counts")
        async with audit.announced(announced, wide=True):
            await backend.update(text)
        after = await graph_sizes(backend)
        own = audit_graph(base)
        changes = [
            GraphChange(g, max(0, after.get(g, 0) - n), max(0, n - after.get(g, 0)))
            for g, n in sorted({**after, **sizes}.items())
            if g != own and sizes.get(g, 0) != after.get(g, 0)
        ]
        await audit.record(replace(announced, changes=tuple(changes)))
        await audit.rebuild_graph()
        return
    targets = sorted(g for g in writes.graphs if g != DEFAULT)
    before = {g: await audit.graph_keys(g) for g in targets}
    detail = "også standardgrafen / also the default graph" if DEFAULT in writes.graphs else ""
    event = new_event(
        writer, "update", base, [GraphChange(g, 0, 0) for g in targets], detail=detail
    )
    async with audit.announced(event):
        await backend.update(text)
    changes = [change(g, before[g], await audit.graph_keys(g)) for g in targets]
    await audit.record(replace(event, changes=tuple(changes)))
