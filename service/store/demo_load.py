"""The bundled demo checked and loaded like any upload: on a first start, in bulk, each
checked chunk written while the worker processes check the next (``load_demo``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from loaders.engines import Engine
from service.store.embedded import TRANSACTION_BYTES
from service.store.sources import GraphWriter, SourceResult, check_sources, load_sources


def load_demo(
    store: GraphWriter,
    base_iri: str,
    workers: int | None = None,
    engine: Engine = "sparql",
    *,
    checked: Callable[[], None] | None = None,
    written: Callable[[], None] | None = None,
    starting: Callable[[str, int], None] | None = None,
    bulk: bool = False,
    paths: list[Path] | None = None,
) -> list[SourceResult]:
    """Check and load the bundled demo workbooks (loaders/demo/data, or ``paths``) like
    any upload; the results, in the order of the sources.

    The demo ships with the code, so a demo that does not validate is a bug of this
    version, not bad input: it raises. The callbacks report progress:
    ``starting(step, total)`` as the checking and then the writing begin, ``checked()``
    and ``written()`` after each source (with ``bulk``, ``written`` only for the sources
    left to write once the checking is done).

    ``bulk`` (a first start, under its marker: ``service.web.startup``): the sources
    checked so far are written with the bulk loader while the worker processes check
    the next ones, in chunks of ``TRANSACTION_BYTES``, so that the writing uses the core
    the checking leaves idle instead of following it. A source that does not validate
    stops the writing; the load then raises and the marker makes the next start empty
    the store. Otherwise nothing is written until every source is valid (all or nothing).
    """
    from loaders.demo import demo_sources

    paths = demo_sources() if paths is None else paths
    if starting is not None:
        starting("checking", len(paths))
    pending: list[SourceResult] = []
    stopped: list[SourceResult] = []
    seen = [0, 0, 0]  # sources checked so far, the bytes of their N-Quads, of the pending

    def arrived(result: SourceResult) -> None:
        if checked is not None:
            checked()
        if not bulk:
            return
        if stopped or not result.report.conforms:
            stopped.append(result)
            return
        pending.append(result.compact())
        size = _quad_bytes(pending[-1])
        seen[:] = [seen[0] + 1, seen[1] + size, seen[2] + size]
        if seen[2] >= _write_at(len(paths) - seen[0], seen[1] / seen[0]):
            load_sources(store, pending)
            pending.clear()
            seen[2] = 0

    results = check_sources(paths, base_iri, workers=workers, engine=engine, progress=arrived)
    invalid = [r.report.to_text() for r in results if not r.report.conforms]
    if invalid:
        raise RuntimeError("the bundled demo data does not validate:\n" + "\n".join(invalid))
    left = pending if bulk else results
    if starting is not None:
        starting("writing", len(left))
    load_sources(store, left, written)
    return results


def _quad_bytes(result: SourceResult) -> int:
    """About the size of ``result``'s triples as N-Quads, as ``add_new_graphs`` writes them."""
    return len(result.ntriples or b"") + result.triples * (len(result.graph_iri) + 3)


def _write_at(left: int, average: float) -> float:
    """From how many bytes of N-Quads on ``load_demo`` writes the sources checked so far,
    with ``left`` sources of about ``average`` bytes still to check.

    ``TRANSACTION_BYTES`` where it can: each bulk write is ingested beside the ones
    before, and RocksDB merges them again and again (the national demo's writing cost
    8.5 CPU s in writes of 16 MB, about 7 in writes of 32 MB). Never more than a third
    of what is still to come, though, down to an eighth of that: the process that
    writes shares a core with the checks and writes only a little faster than they
    check, so a large write near the end left seconds of writing after the last check
    (up to what was still to come: 1.7-3.3 s on the busy machine; a third: 0.3-0.6 s,
    as with writes of 16 MB, but in 12 writes instead of 13 and fewer bytes merged again).

    >>> [round(_write_at(n, 400_000) / 2**20, 1) for n in (300, 200, 60, 5)]
    [32.0, 25.4, 7.6, 4.0]
    """
    return min(TRANSACTION_BYTES, max(TRANSACTION_BYTES / 8, left * average / 3))
