"""An upload's stored names, before and after they were kept: ``python -m bench.names``.

What a system owner waits for when uploading Oslo's workbook (the largest) is mostly what
the check reads of the store: every name a cell may refer to. This times, in one run and
in CPU seconds of this process (the machine is shared), Oslo's check as the service ran it
before (the CONSTRUCT ``stored_context_query``, its triples as an rdflib graph, the check
indexing them) and as it runs now (``check_in_worker``: the names read by index scans per
graph and kept between uploads, ``service.store.names.stored_names``), on two stores:

* the national demo (the cached ``demo_store`` of the tests, copied: never written), and
* the reference data with the shared catalogue only (as ``bench.demo``'s ``one_workbook``).

Now, three cases: a worker's first upload (every name read), the next on the same snapshot,
and the next after writes (one name added to Oslo's graph by an update that says which
graph it writes; Oslo's workbook loaded again, audited). Each report is compared with the
one the old way gives on the same snapshot. Writes bench/results/<date>-names.md and .json.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from bench.report import write_result
from loaders.context import forget_context_index
from loaders.demo import CATALOGUE_FILE, DATA_DIR
from loaders.oxigraph_terms import rdflib_graph
from service.access.audit import marker_sparql
from service.access.scope import Principal
from service.access.uploads import UploadPlan, check_in_worker, plan_upload
from service.store import names
from service.store.embedded import WRITE_PREAMBLE, KnowledgeStore
from service.store.names import stored_context_query, stored_names
from service.store.sources import (
    check_sources,
    load_reference,
    load_sources,
    source_graph_iri,
)
from service.store.worker_tasks import UploadCheck

BENCH = Path(__file__).resolve().parent
WORK = BENCH / "work" / "names"
OSLO = Path(DATA_DIR, "kommune-0301-oslo.xlsx")
ADMIN = Principal("bench", "admin")
SMALL_BASE = "http://127.0.0.1:8000/"


def _cpu(step: Callable[[], Any], repeat: int, before: Callable[[], None] = lambda: None) -> Any:
    """``step``'s CPU seconds (median and least of ``repeat``) and its last result."""
    spent: list[float] = []
    result = None
    for _ in range(repeat):
        before()
        started = time.process_time()
        result = step()
        spent.append(time.process_time() - started)
    return {"median_s": round(statistics.median(spent), 3), "min_s": round(min(spent), 3)}, result


def _old(snapshot: ox.Store, base: str) -> UploadPlan:
    """Oslo's check as it was: the CONSTRUCT, an rdflib graph, the check indexing it."""
    found = snapshot.query(stored_context_query(base), use_default_graph_as_union=True)
    assert isinstance(found, ox.QueryTriples)
    try:
        return plan_upload(ADMIN, OSLO.name, OSLO.read_bytes(), base, rdflib_graph(found))
    finally:
        forget_context_index()


def _new(store: KnowledgeStore, snapshot: ox.Store, base: str) -> UploadPlan:
    writer = ("bench", "admin", ())
    check = UploadCheck(
        OSLO.name, OSLO.read_bytes(), writer, base, "sparql", store.snapshot, (*store.history,)
    )
    return check_in_worker(snapshot, check)


def _forget() -> None:
    names._KEPT = None  # a worker's first upload: nothing kept


def measure(store: KnowledgeStore, base: str, repeat: int) -> dict[str, Any]:
    """Before and after on ``store``, then after two writes (see the module docstring)."""
    snapshot = ox.Store.read_only(store.snapshot)
    _old(snapshot, base)  # the shapes compiled, the reference data indexed: not measured
    query = stored_context_query(base)
    read_before, _ = _cpu(
        lambda: rdflib_graph(snapshot.query(query, use_default_graph_as_union=True)), repeat
    )
    read_now, read = _cpu(
        lambda: stored_names(snapshot, base, store.snapshot, (*store.history,)), repeat, _forget
    )
    before, old = _cpu(lambda: _old(snapshot, base), repeat)
    first, _ = _cpu(lambda: _new(store, snapshot, base), repeat, _forget)
    kept, new = _cpu(lambda: _new(store, snapshot, base), repeat)
    same = [new.report.issues == old.report.issues]
    oslo = source_graph_iri(OSLO, base)  # where an admin's upload of it goes
    store.update(
        f"INSERT DATA {{ GRAPH <{oslo}> {{ <{base}id/applikasjon/bench-navn> a "
        "<https://w3id.org/kommunegraf/ontology#Application> ; "
        '<http://www.w3.org/2000/01/rdf-schema#label> "Benkenavn" } }',
        graphs=(oslo,),
    )
    snapshot = ox.Store.read_only(store.snapshot)
    added, new = _cpu(lambda: _new(store, snapshot, base), 1)
    same.append(new.report.issues == _old(snapshot, base).report.issues)
    marking = WRITE_PREAMBLE.set(marker_sparql("bench-names", base))
    try:
        load_sources(store, [new.source()])
    finally:
        WRITE_PREAMBLE.reset(marking)
    snapshot = ox.Store.read_only(store.snapshot)
    loaded, new = _cpu(lambda: _new(store, snapshot, base), 1)
    same.append(new.report.issues == _old(snapshot, base).report.issues)
    return {
        "stored_names_triples": len(read),
        "names_before_construct_rdflib_graph": read_before,
        "names_now_index_scans": read_now,
        "before_construct_and_check": before,
        "first_upload_of_a_worker": first,
        "next_upload_same_snapshot": kept,
        "after_an_update_adding_a_name": added,
        "after_loading_the_workbook_again": loaded,
        "ratio_before_to_next": round(before["median_s"] / kept["median_s"], 1),
        "same_reports": all(same),
    }


def national(repeat: int) -> dict[str, Any]:
    from tests.conftest import cached_demo_store

    folder = WORK / "national" / "store"
    shutil.rmtree(folder.parent, ignore_errors=True)
    shutil.copytree(cached_demo_store(), folder)
    store = KnowledgeStore(folder)
    try:
        base = next(g.split("graph/")[0] for g in store.graphs() if "graph/" in g)
        return measure(store, base, repeat)
    finally:
        store.close()


def small(repeat: int) -> dict[str, Any]:
    folder = WORK / "small" / "store"
    shutil.rmtree(folder.parent, ignore_errors=True)
    store = KnowledgeStore(folder)
    try:
        load_reference(store, SMALL_BASE)
        catalogue = check_sources([Path(DATA_DIR, CATALOGUE_FILE)], SMALL_BASE, workers=1)
        load_sources(store, catalogue)
        return measure(store, SMALL_BASE, repeat)
    finally:
        store.close()


def _rows(name: str, found: dict[str, Any]) -> str:
    steps = [k for k, v in found.items() if isinstance(v, dict)]
    rows = "\n".join(
        f"| {k.replace('_', ' ')} | {found[k]['median_s']} | {found[k]['min_s']} |" for k in steps
    )
    return f"""
## {name} ({found["stored_names_triples"]:,} stored names)

| Oslo's check | CPU s (median) | CPU s (least) |
| --- | ---: | ---: |
{rows}

Before / the next upload: **{found["ratio_before_to_next"]}×**. Reports the same as the old
way's on the same snapshot: **{found["same_reports"]}**.
"""


def markdown(result: dict[str, Any]) -> str:
    national, small = result["national"], result["small"]
    return f"""# An upload's stored names ({result["date"]})

`python -m bench.names`: CPU seconds of this process, one run (see the module docstring).
{_rows("The national demo", national)}{_rows("Reference data and the catalogue", small)}"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.names", description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=BENCH / "results")
    args = parser.parse_args(argv)
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "national": national(args.repeat),
        "small": small(args.repeat),
    }
    write_result(result, "names", markdown, folder=args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
