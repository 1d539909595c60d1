"""An upload's changes comparison in one process, old and new side by side:
``python -m bench.changes``.

What it measures: the CPU seconds (median of ``--repeats``) of ``plan_changes``' work
after the store's reads, for Oslo's graph of the national demo (the largest workbook)
compared with itself: the new side's triples read from the check's N-Triples through a
store (``_written``), the store's answers for the records' current triples and the
replaced graph parsed, and the comparison. ``rdflib``: as rdflib terms
(``ntriples_as_stored``, ``rdflib_triples``, ``compare``), the code before;
``lines``: as N-Triples terms (``comparable_lines``, ``compare_lines``). Both
answers are checked equal. The store is the tests' cached demo store (the newest complete
one; built if there is none). Results go to ``bench/results/<date>-changes.md``/``.json``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.report import finish, ratio


def _store() -> Path:
    from tests.conftest import DEMO_CACHE, cached_demo_store

    done = sorted(
        (p for p in DEMO_CACHE.glob("demo-*") if (p / "COMPLETE").exists()),
        key=lambda p: p.stat().st_mtime,
    )
    return done[-1] / "store" if done else cached_demo_store()


def _oslo(store: Path) -> bytes:
    import pyoxigraph as ox

    opened = ox.Store.read_only(str(store))
    graph = next(
        g for g in opened.named_graphs() if str(getattr(g, "value", "")).endswith("0301-oslo")
    )
    quads = opened.quads_for_pattern(None, None, None, graph)
    return ox.serialize((ox.Triple(q.subject, q.predicate, q.object) for q in quads),
                        format=ox.RdfFormat.N_TRIPLES) or b""  # fmt: skip


def _rdflib(data: bytes) -> dict[str, Any]:
    import pyoxigraph as ox

    from loaders.changes import compare
    from loaders.oxigraph_terms import rdflib_triples
    from service.access.uploads import ntriples_as_stored

    def parsed() -> Any:
        return rdflib_triples(ox.parse(data, ox.RdfFormat.N_TRIPLES, lenient=True))

    return compare(parsed(), ntriples_as_stored(data), parsed()).as_json()


def _lines(data: bytes) -> dict[str, Any]:
    import pyoxigraph as ox

    from loaders.changes import compare_lines
    from loaders.oxigraph_terms import comparable_lines

    def parsed() -> Any:
        return comparable_lines(ox.parse(data, ox.RdfFormat.N_TRIPLES, lenient=True))

    store = ox.Store()
    store.load(data, ox.RdfFormat.N_TRIPLES, lenient=True)
    return compare_lines(parsed(), comparable_lines(store), parsed()).as_json()


def _cpu(run: Callable[[bytes], dict[str, Any]], data: bytes) -> float:
    start = time.process_time()
    run(data)
    return time.process_time() - start


def run(args: argparse.Namespace) -> dict[str, Any]:
    data = _oslo(_store())
    sides = {"rdflib": _rdflib, "lines": _lines}
    answers = {name: side(data) for name, side in sides.items()}  # warm, and compared
    # blank nodes are fresh on each side: the answers compare without their ids
    assert answers["rdflib"]["triples"] == answers["lines"]["triples"]
    assert answers["rdflib"]["rows"] == answers["lines"]["rows"]
    times: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(args.repeats):
        for name, side in sides.items():  # alternating: both meet the same load
            times[name].append(_cpu(side, data))
    median = {name: round(statistics.median(found), 4) for name, found in times.items()}
    return {
        "triples": answers["lines"]["triples"],
        "cpu_s": median,
        "ratio_lines_rdflib": ratio(median["lines"], median["rdflib"]),
    }


def markdown(result: dict[str, Any]) -> str:
    cpu = result["cpu_s"]
    return (
        "`python -m bench.changes`: an upload's changes comparison (Oslo's graph against "
        f"itself, {result['triples']}), CPU s, median: rdflib terms {cpu['rdflib']}, "
        f"N-Triples terms {cpu['lines']}, ratio {result['ratio_lines_rdflib']}\n"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--json", action="store_true", help="the result on stdout only")
    args = parser.parse_args(argv)
    finish(run(args), "changes", markdown, as_json=args.json)


if __name__ == "__main__":
    main()
