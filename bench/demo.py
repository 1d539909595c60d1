"""Validate + load of the national demo next to a raw bulk load: ``python -m bench.demo``.

The goal in ARCHITECTURE.md: validating and loading the national demo through the
real loaders costs at most 3x loading the resulting N-Quads into pyoxigraph without
any checks. This harness:

1. takes the committed demo (``loaders/demo/data``), or generates one at ``--scale K``
   into bench/work/demo-K (K times the usages and datasets);
2. times ``service.store.demo_load.load_demo`` as ``kommunegraf serve`` runs it on first
   start: read, map and SHACL (the shared catalogue first, the municipality workbooks
   in parallel processes), each checked chunk bulk-loaded meanwhile into a fresh
   on-disk store that already holds the reference data;
3. dumps that store as N-Quads and times ``pyoxigraph.Store.bulk_load`` of the same
   quads into a fresh on-disk store and into memory (best of ``--repeat``);
4. times the same validation with ``engine="pyshacl"`` (the reference) and checks that
   both engines give identical reports, issue by issue and cell by cell;
5. records the peak memory (maximum resident set) of this process, which receives the
   national batch's compact results and loads them, and of the worker processes;
6. writes bench/results/<date>-demo.md and .json, with the load average before and after.

Wall times on a shared machine depend on what else runs, so CPU seconds (this
process and its workers) and the cores other processes used are recorded too.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import resource
import shutil
import sys
import time
from collections import Counter
from dataclasses import asdict, astuple, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyoxigraph as ox

from bench.loadgen import busy_cores, cpu_sample, wait_quiet
from bench.report import write_result
from loaders.demo import CATALOGUE_FILE, DATA_DIR, demo_sources
from loaders.engines import Engine
from loaders.spreadsheet import read_spreadsheet
from loaders.validation import validate_batch
from service.store.demo_load import load_demo
from service.store.embedded import WRITE_PREAMBLE, KnowledgeStore, ntriples
from service.store.names import names_of, stored_names
from service.store.sources import (
    SourceResult,
    check_sources,
    load_reference,
    load_sources,
    reference_context,
)
from service.store.worker_tasks import UploadCheck

if TYPE_CHECKING:
    from service.access.uploads import UploadPlan

BENCH = Path(__file__).resolve().parent
WORK = BENCH / "work" / "demo"
BASE = "http://127.0.0.1:8000/"


@dataclass
class Phase:
    wall_s: float
    cpu_s: float
    """CPU seconds of this process and the worker processes it waited for."""
    other_cores: float
    """Cores busy with processes outside this measurement, on average."""


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class _Timer:
    def __enter__(self) -> _Timer:
        self.cpu, self.sample, self.started = _cpu(), cpu_sample(), time.perf_counter()
        return self

    def __exit__(self, *_: object) -> None:
        wall = time.perf_counter() - self.started
        cpu = _cpu() - self.cpu
        busy = busy_cores(self.sample, cpu_sample())
        self.phase = Phase(round(wall, 2), round(cpu, 2), round(max(0.0, busy - cpu / wall), 2))


def _sources(scale: int) -> list[Path]:
    if scale == 1:
        return demo_sources()
    from loaders.demo.generate import build, write

    folder = WORK / f"data-{scale}"
    if not folder.exists():
        write(build(scale=scale), folder)
    return demo_sources(folder)


def _bulk_load(nquads: Path, repeat: int) -> tuple[float, float]:
    disk, memory = [], []
    for _ in range(repeat):
        target = WORK / "bulk"
        shutil.rmtree(target, ignore_errors=True)
        started = time.perf_counter()
        store = ox.Store(str(target))
        store.bulk_load(path=str(nquads), format=ox.RdfFormat.N_QUADS)
        store.flush()
        disk.append(time.perf_counter() - started)
        del store
        started = time.perf_counter()
        ox.Store().bulk_load(path=str(nquads), format=ox.RdfFormat.N_QUADS)
        memory.append(time.perf_counter() - started)
    shutil.rmtree(WORK / "bulk", ignore_errors=True)
    return round(min(disk), 2), round(min(memory), 2)


OSLO = "kommune-0301-oslo.xlsx"
"""The largest municipality's workbook: the goal's one upload (issue 20)."""
ONE_WORKBOOK_ROWS = 300
"""The size of one municipality's workbook in the goal: the upload a system owner makes."""
UPLOADER = ("bench", "admin", ())
"""Who uploads (``UploadCheck.writer``): an admin, so the whole workbook goes in one graph."""


def _snapshot(store: KnowledgeStore) -> ox.Store:
    """The snapshot ``store`` published last, opened read-only as a query worker has it
    (before the timing: a worker has its snapshot open when an upload comes)."""
    return ox.Store.read_only(store.snapshot)


def _service_check(store: KnowledgeStore, snapshot: ox.Store, path: Path) -> UploadPlan:
    """The service's check of an upload of ``path`` by an admin (``check_in_worker``) on
    ``snapshot``, with the store's history (the names a worker kept are read again only for
    the graphs written since)."""
    from service.access.uploads import check_in_worker  # not in each check worker's imports

    check = UploadCheck(
        path.name, path.read_bytes(), UPLOADER, BASE, "sparql", store.snapshot, (*store.history,)
    )
    return check_in_worker(snapshot, check)


def _service_load(store: KnowledgeStore, plan: UploadPlan, marker: str) -> None:
    """A checked upload written as the service writes it (``UploadPlan.source``):
    audited (its marker in the write's transaction), over the graph the source had."""
    from service.access.audit import marker_sparql  # 0.5 s of imports for each check worker

    marking = WRITE_PREAMBLE.set(marker_sparql(marker, BASE))
    try:
        load_sources(store, [plan.source()])
    finally:
        WRITE_PREAMBLE.reset(marking)


def one_workbook(results: list[SourceResult], repeat: int) -> dict[str, object]:
    """Validate + load one municipality's workbook as an upload does, through the service's
    own check (``check_in_worker``: the names it may refer to read from the store) and
    write: the shared catalogue is already stored. Next to bulk_load of the same quads."""
    catalogue = next(r for r in results if r.path.name == CATALOGUE_FILE)
    source = next(
        (r for r in results if r.path.name == OSLO),
        min(
            (r for r in results if r.path.name != CATALOGUE_FILE),
            key=lambda r: abs(sum(r.row_counts.values()) - ONE_WORKBOOK_ROWS),
        ),
    ).path
    folder = WORK / "one-store"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.rmtree(folder.with_name("one-store.snapshots"), ignore_errors=True)
    store = KnowledgeStore(folder)
    load_reference(store, BASE)
    load_sources(store, [catalogue])
    before = len(store)
    snapshot = _snapshot(store)
    with _Timer() as checking:
        plan = _service_check(store, snapshot, source)
    with _Timer() as loading:
        load_sources(store, [plan.source()])  # as the service's first upload of it
    quads = len(store) - before
    # The same workbook uploaded again, as the service writes an upload: audited (its
    # marker in the write's transaction) and over the graph the first load made.
    with _Timer() as again:
        _service_load(store, plan, "bench-again")
    store.close()
    # N-Triples is N-Quads without graph names: the same triples for bulk_load.
    nquads = WORK / "one.nq"
    nquads.write_bytes(ntriples(plan.triples))
    disk, _ = _bulk_load(nquads, repeat)
    rows = sum(plan.row_counts.values())
    total = checking.phase.wall_s + loading.phase.wall_s
    return {
        "file": source.name,
        "rows": rows,
        "quads": quads,
        "validate": asdict(checking.phase),
        "load": asdict(loading.phase),
        "load_again_audited": asdict(again.phase),
        "validate_and_load_s": round(total, 2),
        "rows_per_s": round(rows / total) if total else None,
        "triples_per_s": round(quads / total) if total else None,
        "bulk_load_disk_s": disk,
        "ratio_to_bulk_load_disk": round(total / disk, 1) if disk else None,
    }


def upload_to_national(store: KnowledgeStore, results: list[SourceResult]) -> dict[str, object]:
    """Oslo's workbook uploaded again into the store that holds the whole country, through
    the service's own check (``check_in_worker``) and write: what a system owner waits for
    on the national service, beside ``one_workbook``'s store that holds the catalogue only.

    Twice: first as a query worker's first upload (every name it may refer to read from
    the store: ``stored_names``, timed on its own, then the check), then as the next upload
    after that write, against the names the worker kept (read again only for the graphs
    the write changed)."""
    source = next(r for r in results if r.path.name == OSLO).path
    snapshot = _snapshot(store)
    with _Timer() as naming:
        stored = stored_names(snapshot, BASE, store.snapshot, (*store.history,))
    with _Timer() as checking:
        plan = _service_check(store, snapshot, source)  # finds the names just read
    with _Timer() as loading:
        _service_load(store, plan, "bench-national")
    snapshot = _snapshot(store)
    with _Timer() as checking_again:
        again = _service_check(store, snapshot, source)
    with _Timer() as loading_again:
        _service_load(store, again, "bench-national-again")
    total = naming.phase.wall_s + checking.phase.wall_s + loading.phase.wall_s
    return {
        "file": source.name,
        "stored_names_triples": len(stored),
        "stored_names": asdict(naming.phase),
        "validate": asdict(checking.phase),
        "load": asdict(loading.phase),
        "total_s": round(total, 2),
        "validate_kept_names": asdict(checking_again.phase),
        "load_again": asdict(loading_again.phase),
        "total_again_s": round(checking_again.phase.wall_s + loading_again.phase.wall_s, 2),
        "same_report": again.report.issues == plan.report.issues,
    }


def _issues(results: list[SourceResult]) -> list[Counter[tuple[object, ...]]]:
    return [Counter(astuple(issue) for issue in r.report.issues) for r in results]


def engines(sources: list[Path], workers: int | None, every: int) -> dict[str, object]:
    """The default engine next to pySHACL on the same sources: times and identical reports.

    ``every``: the catalogue and every n-th municipality workbook (1: the whole demo);
    pySHACL on all of it takes many minutes on a shared machine.
    """
    catalogue = [p for p in sources if p.name == CATALOGUE_FILE]
    sample = catalogue + [p for p in sources if p.name != CATALOGUE_FILE][::every]
    with _Timer() as timed:
        fast = check_sources(sample, BASE, workers=workers)
    fast_phase = timed.phase
    with _Timer() as reference:
        slow = check_sources(sample, BASE, workers=workers, engine="pyshacl")
    different = [
        r.path.name
        for r, ours, theirs in zip(fast, _issues(fast), _issues(slow), strict=True)
        if ours != theirs
    ]
    issues = sum(len(r.report.issues) for r in fast)
    shacl = shacl_alone(sample)
    return {
        "shacl_alone": shacl,
        "sparql": asdict(fast_phase),
        "pyshacl": asdict(reference.phase),
        "ratio_wall": round(reference.phase.wall_s / fast_phase.wall_s, 1),
        "ratio_cpu": round(reference.phase.cpu_s / fast_phase.cpu_s, 1),
        "issues": issues,
        "sources": len(sample),
        "sources_with_different_reports": different,
    }


def shacl_alone(sample: list[Path]) -> dict[str, object]:
    """SHACL alone, both engines on the same mapped graphs in this process (CPU seconds):
    the default engine's one pass over the batch against pySHACL per graph."""
    context = reference_context(BASE)
    catalogue = next(p for p in sample if p.name == CATALOGUE_FILE)
    context = context + names_of(read_spreadsheet(catalogue, BASE, context).graph)
    graphs = [read_spreadsheet(p, BASE, context).graph for p in sample if p != catalogue]
    timed: dict[str, float] = {}
    reports = {}
    engines: tuple[Engine, ...] = ("sparql", "pyshacl")
    for engine in engines:
        started = time.process_time()
        reports[engine] = validate_batch(graphs, context, engine)
        timed[engine] = round(time.process_time() - started, 2)
    same = all(
        Counter(a.problems) == Counter(b.problems)
        for a, b in zip(reports["sparql"], reports["pyshacl"], strict=True)
    )
    return {
        "graphs": len(graphs),
        "triples": sum(len(g) for g in graphs),
        "sparql_cpu_s": timed["sparql"],
        "pyshacl_cpu_s": timed["pyshacl"],
        "ratio_cpu": round(timed["pyshacl"] / timed["sparql"], 1) if timed["sparql"] else None,
        "identical": same,
    }


def _peak_mb() -> dict[str, float]:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"main_process_mb": round(own), "largest_worker_mb": round(children)}


def run(
    scale: int,
    workers: int | None,
    repeat: int,
    quiet_wait: float,
    compare_every: int = 10,
    national_only: bool = False,
) -> dict[str, object]:
    WORK.mkdir(parents=True, exist_ok=True)
    sources = _sources(scale)
    quiet = wait_quiet(quiet_wait)
    load_before = os.getloadavg()
    folder = WORK / "store"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.rmtree(folder.with_name("store.snapshots"), ignore_errors=True)
    store = KnowledgeStore(folder)
    load_reference(store, BASE)
    reference_quads = len(store)
    writing: list[float] = []
    with _Timer() as both, store.deferred_publish():
        # As a first start fills the store (under its marker): each chunk of checked
        # sources bulk-loaded while the workers check the next; then what is left.
        results = load_demo(
            store,
            BASE,
            workers,
            starting=lambda step, _: writing.append(time.perf_counter()),
            bulk=True,
            paths=sources,
        )
    after_checking = round(time.perf_counter() - writing[-1], 2)
    nquads = WORK / "demo.nq"
    with nquads.open("wb") as handle:
        store.dump(handle, ox.RdfFormat.N_QUADS)
    quads = len(store)
    peak = _peak_mb()
    each = scale == 1 and not national_only  # the one-workbook parts
    national = upload_to_national(store, results) if each else None
    store.close()
    disk, memory = _bulk_load(nquads, repeat)
    total = both.phase.wall_s
    rows = sum(sum(r.row_counts.values()) for r in results)
    one = one_workbook(results, repeat) if each else None
    compared = engines(sources, workers, compare_every) if compare_every and each else None
    return {
        "date": dt.date.today().isoformat(),
        "scale": scale,
        "machine": {
            "cpus": len(os.sched_getaffinity(0)),
            "python": platform.python_version(),
            "pyoxigraph": ox.__version__ if hasattr(ox, "__version__") else "",
        },
        "quiet_wait": quiet,
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "peak_memory": peak,
        "engines": compared,
        "data": {
            "sources": len(results),
            "rows": sum(sum(r.row_counts.values()) for r in results),
            "source_triples": sum(r.triples for r in results),
            "quads_in_store": quads,
            "reference_quads": reference_quads,
            "nquads_bytes": nquads.stat().st_size,
        },
        "workers": workers,
        "validate_and_load": asdict(both.phase),
        "writing_after_checking_s": after_checking,
        "validate_and_load_s": round(total, 2),
        "bulk_load_disk_s": disk,
        "bulk_load_memory_s": memory,
        "ratio_to_bulk_load_disk": round(total / disk, 1) if disk else None,
        "rows_per_s": round(rows / total) if total else None,
        "triples_per_s": round(quads / total) if total else None,
        "one_workbook": one,
        "upload_to_national": national,
    }


def _cells(phase: dict[str, float]) -> str:
    return f"{phase['wall_s']} | {phase['cpu_s']} | {phase['other_cores']}"


def _idle(result: dict[str, object]) -> float:
    """Wall time on an idle machine, estimated from the CPU seconds (spread over the cores)."""
    both, machine = result["validate_and_load"], result["machine"]
    assert isinstance(both, dict) and isinstance(machine, dict)
    return round(float(both["cpu_s"]) / int(machine["cpus"]), 1)


def markdown(result: dict[str, object]) -> str:
    data = result["data"]
    both = result["validate_and_load"]
    assert isinstance(data, dict) and isinstance(both, dict)
    machine = result["machine"]
    assert isinstance(machine, dict)
    cpus = machine["cpus"]
    return f"""# Demo: validate + load next to a raw bulk load ({result["date"]})

`python -m bench.demo{" --scale " + str(result["scale"]) if result["scale"] != 1 else ""}`:
{cpus} CPUs, Python {machine["python"]}, pyoxigraph {machine["pyoxigraph"]}; waited for a
quiet machine: {result["quiet_wait"]}.

| | |
| --- | --- |
| sources (workbooks) | {data["sources"]} |
| rows | {data["rows"]:,} |
| triples from the sources | {data["source_triples"]:,} |
| quads in the store (with reference data and provenance) | {data["quads_in_store"]:,} |

| phase | wall s | CPU s (all processes) | other cores busy |
| --- | --- | --- | --- |
| **validate + load** (read, map, SHACL in worker processes; each checked chunk bulk-loaded \
into the on-disk store meanwhile) | {_cells(both)} |
| of which writing left after the last check | {result["writing_after_checking_s"]} | | |
| pyoxigraph bulk_load of the same N-Quads, on disk | {result["bulk_load_disk_s"]} | | |
| pyoxigraph bulk_load, in memory | {result["bulk_load_memory_s"]} | | |

Ratio validate + load / bulk_load on disk: **{result["ratio_to_bulk_load_disk"]}×**
(goal in ARCHITECTURE.md: ≤ 3×).

On an idle machine validate + load would take about **{_idle(result)} s**: its CPU
seconds spread over the {cpus} cores. Other processes used {both["other_cores"]} cores
meanwhile.
Throughput: {result["rows_per_s"]:,} rows/s, {result["triples_per_s"]:,} triples/s.

Load average (1, 5, 15 min) before: {result["load_average_before"]}, after:
{result["load_average_after"]} ({cpus} cores; other helpers' tests ran meanwhile, so the
CPU seconds and the ratios of one run are the figures to compare, not the wall times).

Peak memory (maximum resident set): this process, which receives each batch's compact
results (N-Triples and reports) from the workers and loads them, {_peak(result)}
(goal: < 1 GB).
{_engines_markdown(result["engines"])}{_one_markdown(result["one_workbook"])}{_national_markdown(result.get("upload_to_national"))}"""


def _peak(result: dict[str, object]) -> str:
    peak = result["peak_memory"]
    assert isinstance(peak, dict)
    return (
        f"**{peak['main_process_mb']} MB**; the largest worker process "
        f"{peak['largest_worker_mb']} MB"
    )


def _engines_markdown(compared: object) -> str:
    if not isinstance(compared, dict):
        return ""
    different = compared["sources_with_different_reports"]
    shacl = compared["shacl_alone"]
    verdict = "identical" if not different else f"DIFFERENT for {len(different)}: {different[:5]}"
    return f"""
## SHACL engines: compiled SPARQL (default) vs pySHACL (`--engine pyshacl`)

SHACL alone, both engines on the same {shacl["graphs"]} mapped workbooks
({shacl["triples"]:,} triples, the catalogue's names in the context), in one process:

| engine | CPU s |
| --- | --- |
| sparql (compiled, one pass over the batch) | {shacl["sparql_cpu_s"]} |
| pyshacl (per graph) | {shacl["pyshacl_cpu_s"]} |

pySHACL / default, SHACL alone: **{shacl["ratio_cpu"]}×** CPU (goal: ≥ 10×); problems
{"identical" if shacl["identical"] else "DIFFERENT"}.

The whole check (read, map, SHACL; batches in the worker processes), per engine:

| engine | check wall s | CPU s (all processes) | other cores busy |
| --- | --- | --- | --- |
| sparql (default) | {_cells(compared["sparql"])} |
| pyshacl | {_cells(compared["pyshacl"])} |

On {compared["sources"]} sources: the catalogue and every n-th workbook
(`--compare-every`; 1 compares the whole demo). pySHACL / default: **{compared["ratio_wall"]}×**
wall, **{compared["ratio_cpu"]}×** CPU. Reports ({compared["issues"]} issues): **{verdict}**.
"""


def _again(one: dict[str, Any]) -> str:
    again = one.get("load_again_audited")
    return f"{again['wall_s']} / {again['cpu_s']}" if isinstance(again, dict) else "-"


def _one_markdown(one: object) -> str:
    if not isinstance(one, dict):
        return ""
    return f"""
## One municipality's workbook (`{one["file"]}`), uploaded with the catalogue stored

| | |
| --- | --- |
| rows / quads | {one["rows"]:,} / {one["quads"]:,} |
| validate (read, map, SHACL) wall s | {one["validate"]["wall_s"]} |
| load wall s | {one["load"]["wall_s"]} |
| the same uploaded again (audited replace) wall / CPU s | {_again(one)} |
| **validate + load** | **{one["validate_and_load_s"]} s** (goal: < 0.3 s) |
| throughput | {one["rows_per_s"]:,} rows/s, {one["triples_per_s"]:,} triples/s |
| pyoxigraph bulk_load of the same quads, on disk | {one["bulk_load_disk_s"]} s |
| ratio | {one["ratio_to_bulk_load_disk"]}× |
"""


def _national_markdown(upload: object) -> str:
    if not isinstance(upload, dict):
        return ""
    names, check, load = upload["stored_names"], upload["validate"], upload["load"]
    kept, again = upload.get("validate_kept_names"), upload.get("load_again")
    next_rows = ""
    if isinstance(kept, dict) and isinstance(again, dict):
        next_rows = (
            f"| the next upload: validate, names kept | {kept['wall_s']} | {kept['cpu_s']} |\n"
            f"| the next upload: load | {again['wall_s']} | {again['cpu_s']} |\n"
            f"| **the next upload in all** | **{upload['total_again_s']}** | |\n"
        )
    return f"""
## The same workbook uploaded again into the national store

What an upload to the national service does (`upload_to_national`, through the service's
`check_in_worker`): read the names it may refer to from the store (a query worker's first
upload; the next reads again only the graphs written since), check, write (the same
content: nothing changes). Same report both times: {upload.get("same_report", "-")}.

| | wall s | CPU s |
| --- | ---: | ---: |
| stored names ({upload["stored_names_triples"]:,} triples) | {names["wall_s"]} | {names["cpu_s"]} |
| validate (read, map, SHACL) | {check["wall_s"]} | {check["cpu_s"]} |
| load | {load["wall_s"]} | {load["cpu_s"]} |
| **in all** | **{upload["total_s"]}** | |
{next_rows}"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.demo", description=__doc__)
    parser.add_argument("--scale", type=int, default=1)
    parser.add_argument("--workers", type=int, default=None, help="validation processes")
    parser.add_argument("--repeat", type=int, default=3, help="bulk loads; the best counts")
    parser.add_argument("--quiet-wait", type=float, default=60.0)
    parser.add_argument("--out", type=Path, default=BENCH / "results")
    parser.add_argument(
        "--compare-every",
        type=int,
        default=10,
        help="pySHACL vs the default engine on every n-th workbook (1: all; 0: skip)",
    )
    parser.add_argument(
        "--national-only",
        action="store_true",
        help="only the national validate + load and the bulk loads (about a minute, not five): "
        "results in <date>-demo-national.md",
    )
    args = parser.parse_args(argv)
    if not DATA_DIR.exists():
        raise SystemExit("no demo in loaders/demo/data: python -m loaders.demo.generate")
    result = run(
        args.scale,
        args.workers,
        args.repeat,
        args.quiet_wait,
        args.compare_every,
        args.national_only,
    )
    suffix = ("" if args.scale == 1 else f"-scale{args.scale}") + (
        "-national" if args.national_only else ""
    )
    write_result(result, f"demo{suffix}", markdown, folder=args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
