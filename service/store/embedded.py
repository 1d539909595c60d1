"""The embedded store: an on-disk pyoxigraph store with one named graph per source.

Queries see the union of all named graphs as their default graph. A source the
store has is replaced with a single SPARQL update (delete what the new content
lacks, insert what the graph lacks: ``service.store.graph_changes``), which pyoxigraph
runs as one transaction; a new one goes in with the bulk loader, which RocksDB
ingests at once (``KnowledgeStore._bulk_write``). Either way a reader sees the old
graph or the new one, never a mix, and a crash leaves one of them.

This process is the only writer. After every write it publishes a snapshot
(``Store.backup``: hard links, after RocksDB has written what is only in memory to
files: 0.02-0.04 s after a transaction, a few milliseconds after a bulk write) that
the query workers open read-only; opening read-only a store another process writes is undefined
behaviour, a snapshot has no writer. A store "in memory" is a temporary folder,
so tests and demos take the same path as production.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import IO

import pyoxigraph as ox
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.term import Node

from service.errors import UpdateFailedError, UpdateSyntaxError
from service.store.graph_changes import (
    changes_sparql,
    insert_data,
    nquads,
    preamble_graphs,
    preamble_quads,
)

NewGraphs = Sequence[tuple[str, bytes | tuple[bytes, ...]]]
"""(graph IRI, its N-Triples, whole or in parts) for ``KnowledgeStore.add_new_graphs``."""
GraphWritten = Callable[[int], None]
"""Told the index of each graph of ``NewGraphs`` once it is written (a progress bar)."""

WRITE_PREAMBLE: ContextVar[str] = ContextVar("kommunegraf_write_preamble", default="")
"""SPARQL Update operations on one line, each ending in ``;``, run in the same transaction before
every write made in this context. The audit trail sets it to the marker of the write
it has announced (``service.access.audit``), so after a crash the store itself says
whether that write was done."""


_POSITION = re.compile(r"error at 1:(\d+)")


def _unshifted(message: str, shift: int) -> str:
    """The parser's message with the column on line 1 as the client's text has it.

    The preamble shares the first line (so line numbers stay right) and shifts it.

    >>> _unshifted("error at 1:58: expected ...", 50), _unshifted("error at 2:7: x", 50)
    ('error at 1:8: expected ...', 'error at 2:7: x')
    """
    if not shift:
        return message
    return _POSITION.sub(lambda m: f"error at 1:{max(1, int(m.group(1)) - shift)}", message, 1)


class StoreLockedError(RuntimeError):
    """Another process holds the on-disk store open for writing."""


def _term(node: Node, blank: dict[Node, ox.BlankNode]) -> ox.NamedNode | ox.BlankNode | ox.Literal:
    if isinstance(node, URIRef):
        return ox.NamedNode(str(node))  # raises ValueError for anything not an IRI
    if isinstance(node, BNode):
        return blank.setdefault(node, ox.BlankNode())  # fresh, safe labels
    if isinstance(node, Literal):
        if node.language:
            return ox.Literal(str(node), language=node.language)
        if node.datatype:
            return ox.Literal(str(node), datatype=ox.NamedNode(str(node.datatype)))
        return ox.Literal(str(node))
    raise ValueError(f"not an RDF term: {node!r}")


def safe_ntriples(graph: Graph) -> str:
    """N-Triples of ``graph`` that is safe to embed in a SPARQL update.

    The text goes inside INSERT DATA, so nothing from the data may be copied into
    it unchecked: IRIs are validated by pyoxigraph, blank nodes get fresh labels
    (rdflib keeps labels from JSON-LD as given, which could close the block and
    smuggle in an update of its own), and literals are escaped by pyoxigraph.

    >>> g = Graph()
    >>> _ = g.add((BNode("a <p> <o> } } ; DROP ALL ; _:x"), URIRef("urn:p"), Literal('"}')))
    >>> "DROP" in safe_ntriples(g)
    False
    >>> _ = g.add((URIRef("urn:x> } ; DROP ALL ; <urn:y"), URIRef("urn:p"), Literal("1")))
    >>> safe_ntriples(g)
    Traceback (most recent call last):
    ...
    ValueError: ...
    """
    data = ox.serialize(ox_triples(graph), format=ox.RdfFormat.N_TRIPLES)
    return "" if data is None else data.decode()


def ntriples(
    triples: Iterable[tuple[Node, Node, Node]], written: dict[Node, str] | None = None
) -> bytes:
    """rdflib triples as N-Triples, as safe as ``safe_ntriples``: each IRI and literal is
    written by pyoxigraph (checked, escaped), each blank node gets a fresh label.

    ``written`` remembers the text of each IRI and literal across calls (a batch's
    workbooks share most of theirs); a line is then three lookups, about four times
    faster than building pyoxigraph triples to serialise them (18 against 5 ms for a
    workbook of the demo). The bytes are the same as ``ox.serialize`` of ``ox_triples``.

    >>> print(ntriples([(URIRef("urn:s"), URIRef("urn:p"), Literal("Bærum", lang="nb"))]).decode())
    <urn:s> <urn:p> "Bærum"@nb .
    """
    texts = {} if written is None else written
    blank: dict[Node, ox.BlankNode] = {}

    def text(node: Node) -> str:
        found = texts.get(node)
        if found is None:
            found = str(_term(node, blank))
            if not isinstance(node, BNode):
                texts[node] = found
        return found

    return "".join([f"{text(s)} {text(p)} {text(o)} .\n" for s, p, o in triples]).encode()


def ox_triples(triples: Iterable[tuple[Node, Node, Node]]) -> list[ox.Triple]:
    """rdflib triples as pyoxigraph triples: IRIs checked, each blank node a fresh one.

    Each term is converted once (a source repeats its subjects and predicates many
    times), which makes this several times faster than converting per triple.
    """
    blank: dict[Node, ox.BlankNode] = {}
    terms: dict[Node, ox.NamedNode | ox.BlankNode | ox.Literal] = {}

    def term(node: Node) -> ox.NamedNode | ox.BlankNode | ox.Literal:
        found = terms.get(node)
        if found is None:
            found = terms[node] = _term(node, blank)
        return found

    return [ox.Triple(term(s), term(p), term(o)) for s, p, o in triples]  # type: ignore[arg-type]


_BACKUP_ATTEMPTS = 5

HISTORY = 64
"""Snapshots ``KnowledgeStore.history`` remembers."""

TRANSACTION_BYTES = 32 * 1024 * 1024
"""N-Quads written at once by ``add_new_graphs``: about 170,000 quads. Each bulk write
is ingested beside the ones before and merged with them again by RocksDB: the
national demo's 150 MB cost 8.5 CPU s in writes of 16 MB, about 7 in writes of 32 MB,
6.2-7.0 in writes of 48 MB (which left more to write after the last check:
``demo_load._write_at``)."""


class KnowledgeStore:
    """The graph of everything loaded; one instance per process owns the store."""

    def __init__(self, path: Path | None) -> None:
        self._temporary = tempfile.mkdtemp(prefix="kommunegraf-") if path is None else None
        self.path = Path(self._temporary, "store") if self._temporary else path
        assert self.path is not None
        _recover_interrupted_restore(self.path)
        self.path.mkdir(parents=True, exist_ok=True)
        try:
            self._store = ox.Store(str(self.path))
        except OSError as error:
            if "lock" in str(error).lower():
                raise StoreLockedError(
                    f"Lageret {self.path} er i bruk av en annen prosess (store {self.path} is "
                    "locked by another process); stop the other kommunegraf first."
                ) from error
            raise
        for leftover in self.path.glob("bulk-*.sst"):
            # A bulk write killed before its ingestion left its files (never part of the
            # store); this process holds the store's lock now, so no write of another
            # is making them.
            leftover.unlink(missing_ok=True)
        self._snapshots = self.path.with_name(self.path.name + ".snapshots")
        shutil.rmtree(self._snapshots, ignore_errors=True)
        self._snapshots.mkdir()
        self._generation = 0
        self._deferred = False
        self.snapshot = ""
        self._tidy = ""
        """A snapshot when no older one was left on disk (nothing to look for then)."""
        self._removing: set[Path] = set()
        """Old snapshots being deleted (on a thread)."""
        self.history: deque[tuple[str, tuple[str, ...] | None]] = deque(maxlen=HISTORY)
        """Each snapshot published (the newest ``HISTORY``), with the named graphs written
        since the one before, None when a write did not say (a SPARQL update, a bulk
        load): what a query worker that kept names from an older snapshot reads again
        (``service.store.names.stored_names``)."""
        self._written: set[str] | None = None
        """The graphs written since the last snapshot (None: not known): this store was
        just opened, so the first snapshot may differ from anything before in any graph."""
        self._writing = threading.RLock()
        """Held by every write and publish: a replace reads the graph it changes
        (``changes_sparql``), and no other write may come between that read and its update
        (writes come from several threads: uploads, updates, the audit trail)."""
        self._publish()

    def _publish(self) -> None:
        """Snapshot the committed state for the query workers."""
        with self._writing:
            self._publish_now()

    def _publish_now(self) -> None:
        if self._deferred:
            return
        self._generation += 1
        target = self._snapshots / f"{self._generation:08d}"
        for attempt in range(_BACKUP_ATTEMPTS):
            try:
                self._store.backup(str(target))  # RocksDB fills <target>.tmp, then renames
                break
            except FileNotFoundError:
                # Under a stream of writes RocksDB can compact away a file between
                # listing and linking it; a new attempt lists the live files again.
                shutil.rmtree(target, ignore_errors=True)
                shutil.rmtree(target.with_name(target.name + ".tmp"), ignore_errors=True)
                if attempt == _BACKUP_ATTEMPTS - 1:
                    raise
        self.snapshot = str(target)
        written, self._written = self._written, set()
        self.history.append((self.snapshot, None if written is None else tuple(sorted(written))))

    def _wrote(self, graphs: Iterable[str] | None) -> None:
        """Note that the next snapshot may differ in ``graphs`` (None: in any graph) and in
        the graphs the write's preamble writes (``preamble_graphs``)."""
        marked = preamble_graphs(WRITE_PREAMBLE.get())
        if graphs is None or marked is None or self._written is None:
            self._written = None
        else:
            self._written.update(graphs, marked)

    @contextmanager
    def deferred_publish(self) -> Iterator[None]:
        """Publish one snapshot after a batch of writes instead of one per write.

        A batch load of hundreds of sources would otherwise snapshot the store after
        each (0.2 s each on a busy disk), and readers would see it half loaded.
        """
        outer = not self._deferred
        self._deferred = True
        try:
            yield
        finally:
            if outer:  # a batch inside a batch publishes with the outer one
                self._deferred = False
                self._publish()

    def discard_snapshots(self, in_use: Callable[[], set[str]]) -> None:
        """Delete snapshots no worker has open (``in_use()``) that are older than the
        current one.

        Never a newer one: a write in another thread may be making it right now
        (RocksDB fills ``<n>.tmp``, then renames it to ``<n>``), and deleting its
        files then published a snapshot with files missing, which the workers
        could not open (500s under load while a workbook was reloaded).
        """
        snapshot = self.snapshot
        if self._tidy == snapshot:
            return  # called after every query: nothing to do (or list) while none is old
        current = Path(snapshot).name
        kept = False
        held = in_use()
        old: list[Path] = []
        for folder in self._snapshots.iterdir():
            if folder.name.isdigit() and folder.name < current:
                if str(folder) in held:
                    kept = True
                elif folder not in self._removing:
                    old.append(folder)
        if old:
            # Deleted on a thread: a snapshot is hundreds of files, and this runs after
            # a query on the event loop, where the deleting took up to 1.7 s on a busy
            # machine and every request waited (issue 16, the load test's probe).
            self._removing.update(old)
            threading.Thread(
                target=self._remove, args=(old,), name="kommunegraf-snapshots", daemon=True
            ).start()
        if not kept:
            self._tidy = snapshot

    def _remove(self, folders: list[Path]) -> None:
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)
            self._removing.discard(folder)

    def close(self) -> None:
        """Flush and release the store; a temporary store is deleted."""
        self._store.flush()
        del self._store
        shutil.rmtree(self._snapshots, ignore_errors=True)
        if self._temporary:
            shutil.rmtree(self._temporary, ignore_errors=True)

    def __len__(self) -> int:
        return len(self._store)

    def is_empty(self) -> bool:
        return next(iter(self._store.quads_for_pattern(None, None, None)), None) is None

    def graphs(self) -> list[str]:
        """The IRIs of the named graphs, sorted."""
        return sorted(g.value for g in self._store.named_graphs() if isinstance(g, ox.NamedNode))

    def replace_graph(self, graph_iri: str, data: Graph) -> None:
        """Make ``data`` the whole content of ``graph_iri``, atomically."""
        name = ox.NamedNode(graph_iri)
        text = safe_ntriples(data)
        with self._writing:
            self._wrote([graph_iri])
            self._store.update(
                WRITE_PREAMBLE.get() + f"DROP SILENT GRAPH {name} ;\n"
                f"INSERT DATA {{ GRAPH {name} {{\n{text}\n}} }}"
            )
            self._publish()

    def replace_graph_ntriples(self, graph_iri: str, data: bytes) -> None:
        """Make the N-Triples ``data`` the whole content of ``graph_iri``, atomically.

        ``data`` must be written by pyoxigraph (``ox_triples``: IRIs checked, literals
        escaped, fresh blank nodes), so it is safe inside an update as it is. A graph
        the store does not have yet is written with its audit marker in one bulk write
        (``_bulk_write``), without a SPARQL update to parse; with a preamble that does
        more than mark (an upload taking over graphs drops them), in one update.

        A graph the store has is changed by what differs (``changes_sparql``), not dropped and
        written again: a workbook uploaded again mostly repeats itself, and dropping and
        inserting Oslo's 4,400 triples in one update cost 0.18 s (SPARQL parsing, a read
        and six index writes per triple, the deletions piling up as tombstones that made
        each later replace slower), the difference a few milliseconds.
        """
        name = ox.NamedNode(graph_iri)
        preamble = WRITE_PREAMBLE.get()
        with self._writing:
            self._wrote([graph_iri])
            if not self._store.contains_named_graph(name):
                marks = preamble_quads(preamble)
                if marks is None:
                    self._store.update(preamble + insert_data(name, data))
                else:
                    marked = ox.serialize(marks, format=ox.RdfFormat.N_QUADS) or b""
                    self._bulk_write(nquads(name, data) + marked)
            else:
                changes = changes_sparql(self._store, name, data)
                if changes is None:
                    changes = f"DROP SILENT GRAPH {name} ;\n" + insert_data(name, data)
                if not preamble + changes:
                    return  # the same content: nothing written, nothing to publish
                self._store.update(preamble + changes)
            self._publish()

    def add_new_graphs(self, graphs: NewGraphs, written: GraphWritten | None = None) -> bool:
        """Write every (graph IRI, N-Triples) of ``graphs`` in a few large writes, if none of
        the graphs exists yet; returns False, writing nothing, if one does (or a write is
        being audited), so that the caller replaces them one by one instead.

        Each write is one bulk load (``_bulk_write``) of about ``TRANSACTION_BYTES``
        of N-Quads, and each graph is whole in one write: a first start's 358 sources
        cost 6-7 CPU seconds so, 24 in transactions (measured on the national demo). The
        N-Triples must be pyoxigraph's (``nquads``).

        A graph's N-Triples may come in parts (a source's triples, then its provenance),
        joined one graph at a time: joining them all first held the national demo's
        N-Triples in memory twice (about 160 MB more at the peak). ``written(i)`` is
        called once graph ``i`` is written, in order, so that a progress bar moves with
        the writing: the bulk loader reads all it is given before it writes.
        """
        names = [ox.NamedNode(iri) for iri, _ in graphs]
        with self._writing:
            if WRITE_PREAMBLE.get() or any(self._store.contains_named_graph(n) for n in names):
                return False
            self._wrote([iri for iri, _ in graphs])
            done = written or (lambda index: None)
            quads = (
                nquads(name, data if isinstance(data, bytes) else b"".join(data))
                for name, (_, data) in zip(names, graphs, strict=True)
            )
            chunk: list[bytes] = []
            size = first = 0
            for index, data in enumerate(quads):
                chunk.append(data)
                size += len(data)
                if size >= TRANSACTION_BYTES or index == len(graphs) - 1:
                    self._bulk_write(b"".join(chunk))
                    for count in range(first, index + 1):
                        done(count)
                    chunk, size, first = [], 0, index + 1
            self._publish()
            return True

    def _bulk_write(self, nquads: bytes) -> None:
        """Add the N-Quads ``nquads`` all at once or not at all, with pyoxigraph's bulk
        loader: it writes the new quads as sorted files and hands them to RocksDB in
        one ingestion at its end (``IngestExternalFiles``, atomic over the column
        families: a crash leaves all of them or none; test_crash_safety kills it).

        Why not a transaction (``Store.load``): that writes each quad to the memtable
        and the next snapshot (``_publish``) must flush it; Oslo's 4,400 quads cost
        0.05 s to load and 0.04 s to snapshot so, 0.04 s in all in bulk (the snapshot
        then only links files). Only for quads that add to the store, never replace:
        the bulk loader cannot delete.
        """
        self._store.bulk_load(nquads, ox.RdfFormat.N_QUADS)

    def update(
        self, sparql: str, base_iri: str | None = None, graphs: Sequence[str] | None = None
    ) -> None:
        """Run a SPARQL Update in one transaction, then publish the new state. ``graphs``:
        the only named graphs it writes, when the caller made it and knows (an INSERT DATA
        into one graph: ``EmbeddedBackend.merge_graph``); else any may change (``history``)."""
        preamble = WRITE_PREAMBLE.get()
        try:
            with self._writing:
                self._wrote(graphs)
                self._store.update(preamble + sparql, base_iri=base_iri)
        except SyntaxError as error:
            raise UpdateSyntaxError(_unshifted(str(error), len(preamble))) from None
        except (ValueError, LookupError, RuntimeError) as error:
            # Evaluation errors of a well-formed update (CREATE GRAPH of a graph that
            # exists, DROP GRAPH of one that does not): the request's fault.
            raise UpdateFailedError(str(error)) from None
        self._publish()

    def query(
        self, sparql: str, base_iri: str | None = None
    ) -> ox.QuerySolutions | ox.QueryBoolean | ox.QueryTriples:
        return self._store.query(sparql, base_iri=base_iri, use_default_graph_as_union=True)

    def bulk_load(self, data: IO[bytes], rdf_format: ox.RdfFormat) -> None:
        """Add every quad of ``data``, fast and not in one transaction: only for filling
        an empty store under the first-start marker (``service.web.startup``), which
        makes the next start empty it again if this is cut short."""
        with self._writing:
            self._wrote(None)
            self._store.bulk_load(data, rdf_format)
            self._publish()

    def dump(self, output: IO[bytes], rdf_format: ox.RdfFormat) -> int:
        """Write every named graph (N-Quads or TriG) to ``output``; how many quads."""
        self._store.dump(output, rdf_format)
        return len(self._store)


@contextmanager
def open_store(path: Path | None) -> Iterator[KnowledgeStore]:
    store = KnowledgeStore(path)
    try:
        yield store
    finally:
        store.close()


@contextmanager
def published_copy(path: Path, attempts: int = 50) -> Iterator[Path]:
    """A private copy of the newest state a running server published, to open read-only.

    Why: a serving process holds the store's lock, so a command cannot open the
    store itself, and opening read-only a store that another process writes is
    undefined behaviour. The server's snapshots have no writer; this hard-links
    the newest one into a private folder first, so the server discarding that
    snapshot later cannot take its files away. A snapshot is only discarded once a
    newer one is published, so if it is still the newest after the linking, the
    links are complete; otherwise the linking is tried again on the newer one.
    """
    snapshots = path.with_name(path.name + ".snapshots")

    def newest() -> Path | None:
        # Only finished snapshots have a bare number (RocksDB builds in <n>.tmp).
        found = (
            sorted(p for p in snapshots.iterdir() if p.name.isdigit()) if snapshots.is_dir() else []
        )
        return found[-1] if found else None

    for _ in range(attempts):
        chosen = newest()
        if chosen is None:
            break
        private = Path(tempfile.mkdtemp(prefix=path.name + ".dump-", dir=path.parent))
        try:
            try:
                shutil.copytree(chosen, private / "store", copy_function=os.link)
            except OSError:
                continue  # discarded while we linked it
            if newest() != chosen:
                continue  # a newer state was published meanwhile
            yield private / "store"
            return
        finally:
            shutil.rmtree(private, ignore_errors=True)
    raise StoreLockedError(
        f"Lageret {path} er låst, og ingen publisert kopi kunne leses (store {path} is locked "
        "and no published snapshot could be read)."
    )


def _recover_interrupted_restore(target: Path) -> None:
    """Finish the renames of a restore that was killed between them."""
    previous = target.with_name(target.name + ".previous")
    if previous.exists() and not target.exists():
        os.replace(previous, target)


def restore(dump: Path, target: Path, rdf_format: ox.RdfFormat) -> int:
    """Replace the store at ``target`` with the quads of ``dump``.

    The dump is bulk-loaded into a new folder beside the target, which then takes
    the target's place by renames, so a crash leaves either the old store or the
    new one. Returns the number of quads restored.
    """
    staging = target.with_name(target.name + ".restoring")
    previous = target.with_name(target.name + ".previous")
    for leftover in (staging, previous):
        if leftover.exists():
            shutil.rmtree(leftover)
    target.parent.mkdir(parents=True, exist_ok=True)
    store = ox.Store(str(staging))
    store.bulk_load(path=str(dump), format=rdf_format)
    store.flush()
    count = len(store)
    del store
    if target.exists():
        try:
            probe = ox.Store(str(target))
        except OSError as error:
            shutil.rmtree(staging)
            raise StoreLockedError(
                f"Lageret {target} er i bruk av en annen prosess og ble ikke erstattet (store "
                f"{target} is locked by another process and was not replaced); stop the "
                f"service first. ({error})"
            ) from error
        del probe
        os.replace(target, previous)
    os.replace(staging, target)
    if previous.exists():
        shutil.rmtree(previous)
    return count
