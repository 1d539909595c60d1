"""Run the endpoint benchmark: ``python -m bench [--small] [options]``.

1. Generate (or reuse) the synthetic dataset in bench/work/data.
2. Load it into an on-disk pyoxigraph store; its answers are the reference and its
   in-process timings the floor.
3. For each HTTP peer, one at a time: load, start, check that every query gives the
   reference answer, then per query a warm-up, a loaded run and a 1-connection run
   with wrk; stop it.
4. Write bench/results/<date>-endpoint.md and .json.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from bench import report
from bench.dataset import Dataset, generate
from bench.loadgen import (
    Timing,
    WrkMissingError,
    busy_cores,
    cpu_sample,
    fetch,
    measure_in_process,
    measure_processes,
    normalise,
    run_query_json,
    run_wrk,
    wait_quiet,
    wrk_path,
    wrk_version,
)
from bench.peers import (
    ROOT,
    Kommunegraf,
    OxigraphServe,
    Peer,
    RdflibEndpoint,
    ensure_bench_venv,
)

BENCH = Path(__file__).resolve().parent
PEERS = ("oxigraph", "kommunegraf", "rdflib-endpoint")


@dataclasses.dataclass(frozen=True)
class Query:
    name: str
    path: Path
    text: str
    unique: bool = False
    """Every request a text of its own (``<name>-unique``): what a peer answers when no
    earlier answer can be reused (kommunegraf keeps answers per snapshot)."""

    @property
    def base(self) -> str:
        """The name of the query file, the same for both variants."""
        return self.path.stem


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Compare kommunegraf's /sparql with oxigraph serve, rdflib-endpoint "
        "and in-process pyoxigraph on the same synthetic data.",
    )
    parser.add_argument(
        "--small", action="store_true", help="quick run: ~150k triples, short durations"
    )
    parser.add_argument("--triples", type=int, help="target size of the data [500000]")
    parser.add_argument("--seed", type=int, default=42, help="data generator seed [42]")
    parser.add_argument("--duration", type=float, help="seconds per loaded run [30]")
    parser.add_argument("--warmup", type=float, help="seconds of warm-up per query [5]")
    parser.add_argument("--single-duration", type=float, help="seconds per 1-connection run [10]")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections [8]")
    parser.add_argument("--wrk-threads", type=int, default=1, help="wrk threads [1]")
    parser.add_argument("--method", choices=("POST", "GET"), default="POST")
    parser.add_argument(
        "--query-workers",
        type=int,
        default=(os.cpu_count() or 2) + 1,
        help="kommunegraf --query-workers [nproc + 1: one of them is kept for cheap queries "
        "(--query-reserved 1), so a heavy query, which admission control keeps off that one, "
        "can still use every core, as oxigraph serve's threads do]",
    )
    parser.add_argument(
        "--peers",
        default=",".join(PEERS),
        help=f"comma-separated subset of {','.join(PEERS)}",
    )
    parser.add_argument(
        "--queries", default="", help="comma-separated query names from bench/queries [all]"
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        help="seconds to wait, before each measurement, for other processes to go quiet "
        "[300; 0 with --small]",
    )
    parser.add_argument("--work-dir", type=Path, default=BENCH / "work")
    parser.add_argument(
        "--results-dir",
        type=Path,
        help="where to write the results [bench/results; bench/work/results with --small]",
    )
    args = parser.parse_args(argv)
    small = args.small
    args.triples = args.triples or (150_000 if small else 500_000)
    args.duration = args.duration or (5.0 if small else 30.0)
    args.warmup = args.warmup or (2.0 if small else 5.0)
    args.single_duration = args.single_duration or (3.0 if small else 10.0)
    if args.quiet_wait is None:
        args.quiet_wait = 0.0 if small else 300.0
    if args.results_dir is None:
        args.results_dir = args.work_dir / "results" if small else BENCH / "results"
    unknown = set(args.peers.split(",")) - set(PEERS)
    if unknown:
        parser.error(f"unknown peers: {', '.join(sorted(unknown))}")
    return args


def _queries(selected: str) -> list[Query]:
    files = sorted((BENCH / "queries").glob("*.rq"))
    order = {"light": 0, "heavy": 1}
    files.sort(key=lambda p: (order.get(p.stem, 9), p.stem))
    wanted = {name for name in selected.split(",") if name}
    queries: list[Query] = []
    for path in files:
        text = path.read_text(encoding="utf-8")
        for unique in (False, True):
            name = f"{path.stem}-unique" if unique else path.stem
            if not wanted or name in wanted or path.stem in wanted:
                queries.append(Query(name, path, text, unique))
    if not queries:
        raise SystemExit(f"no queries matched {selected!r} in {BENCH / 'queries'}")
    return queries


def _machine() -> dict[str, Any]:
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    total_kb = next(int(line.split()[1]) for line in meminfo if line.startswith("MemTotal:"))
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    pretty = platform.platform()
    os_release = Path("/etc/os-release")
    if os_release.exists():
        for line in os_release.read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                pretty = line.split("=", 1)[1].strip('"')
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu,
        "memory_gb": round(total_kb / 1024 / 1024, 1),
        "os": pretty,
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def _cores() -> int:
    """The cores this process may use: the floor runs one process per core."""
    return len(os.sched_getaffinity(0))


def _git() -> str:
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}  # read-only: never touch the index
    git = shutil.which("git")
    if git is None:
        return "unknown"
    head = subprocess.run(  # noqa: S603
        [git, "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, env=env
    ).stdout.strip()
    dirty = subprocess.run(  # noqa: S603
        [git, "status", "--porcelain", "--untracked-files=no"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
    ).stdout.strip()
    return f"{head}{' (uncommitted changes)' if dirty else ''}" if head else "unknown"


def _usage_during(peer: Peer, before: Any, after: Any, seconds: float) -> dict[str, Any]:
    return {
        "cores_main": round((after.cpu_main_s - before.cpu_main_s) / seconds, 2),
        "cores_children": round((after.cpu_children_s - before.cpu_children_s) / seconds, 2),
        "rss_mb": after.rss_mb,
        "processes": after.processes,
    }


def _wait_idle(peer: Peer, limit: float = 180.0) -> None:
    """Wait until the server has finished what wrk left queued (rdflib-endpoint)."""
    deadline = time.monotonic() + limit
    previous = peer.usage()
    while time.monotonic() < deadline:
        time.sleep(0.5)
        current = peer.usage()
        busy = (current.cpu_main_s + current.cpu_children_s) - (
            previous.cpu_main_s + previous.cpu_children_s
        )
        if busy < 0.05:
            return
        previous = current


def _quiet(args: argparse.Namespace) -> dict[str, float]:
    quiet = wait_quiet(args.quiet_wait)
    if quiet["other_cores"] >= 0.25:
        print(
            f"  warning: other processes use {quiet['other_cores']} cores; measuring anyway",
            flush=True,
        )
    elif quiet["waited_s"] > 5:
        print(f"  waited {quiet['waited_s']:.0f} s for a quiet machine", flush=True)
    return quiet


def _floor(
    dataset: Dataset, queries: list[Query], work: Path, args: argparse.Namespace
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Reference answers and in-process timings from pyoxigraph itself."""
    folder = work / "pyoxigraph"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    started = time.perf_counter()
    store = ox.Store(str(folder / "store"))
    store.bulk_load(path=str(dataset.nquads), format=ox.RdfFormat.N_QUADS)
    store.flush()
    del store
    print(f"  pyoxigraph bulk_load: {time.perf_counter() - started:.1f} s", flush=True)
    disk = ox.Store.read_only(str(folder / "store"))
    answers: dict[str, Any] = {}
    floor: dict[str, Any] = {}
    for query in queries:
        if query.base in answers:  # the other variant: same text, same rows, same floor
            answers[query.name] = answers[query.base] | {"unique": query.unique}
            floor[query.name] = floor[query.base]
            continue
        body = run_query_json(disk, query.text)
        variables, rows = normalise(body)
        answers[query.name] = {
            "file": str(query.path.relative_to(ROOT)),
            "rows": len(rows),
            "bytes": len(body),
            "variables": list(variables),
            "answer_sha256": hashlib.sha256(repr((variables, rows)).encode()).hexdigest(),
            "_normalised": (variables, rows),
            "unique": query.unique,
        }
        print(f"  {query.name}: {len(rows)} rows, {len(body):,} bytes", flush=True)
        quiet = _quiet(args)
        thread = measure_in_process(disk, query.text, args.single_duration)
        print(f"    1 thread, on disk: {thread.rps:.1f}/s p99 {thread.p99_ms:.2f} ms", flush=True)
        processes = measure_processes(folder / "store", query.text, args.duration, _cores())
        print(f"    {_cores()} processes: {processes.rps:.1f}/s", flush=True)
        floor[query.name] = {
            "thread_disk": dataclasses.asdict(thread),
            "processes_disk": dataclasses.asdict(processes),
            "quiet": quiet,
        }
    del disk
    memory = ox.Store()
    memory.bulk_load(path=str(dataset.nquads), format=ox.RdfFormat.N_QUADS)
    for query in queries:
        if query.unique and query.base in floor:
            continue  # shares its floor with the query file's plain run
        thread = measure_in_process(memory, query.text, args.single_duration)
        print(f"  {query.name}, 1 thread, in memory: {thread.rps:.1f}/s", flush=True)
        floor[query.name]["thread_memory"] = dataclasses.asdict(thread)
    del memory
    return answers, floor


def _bench_peer(
    peer: Peer,
    dataset: Dataset,
    queries: list[Query],
    answers: dict[str, Any],
    args: argparse.Namespace,
) -> dict[str, Any]:
    entry: dict[str, Any] = {"title": peer.title, "queries": {}, "error": None}
    try:
        entry["version"] = peer.version()
        peer.load(dataset)
        entry["load_s"] = peer.load_seconds
        peer.start()
        entry["start_s"] = peer.start_seconds
        entry["command"] = [_short(part) for part in peer.command_line]
        print(f"  up at {peer.url} (load {peer.load_seconds} s, start {peer.start_seconds} s)")
        for query in queries:
            result: dict[str, Any] = {}
            entry["queries"][query.name] = result
            try:
                got = normalise(fetch(peer.url, query.text, method=args.method))
            except Exception as error:
                result["answer"] = f"error: {error}"
                print(f"  {query.name}: ERROR {error}", flush=True)
                continue
            expected = answers[query.name]["_normalised"]
            if got != expected:
                result["answer"] = f"differs ({len(got[1])} rows, expected {len(expected[1])})"
                print(f"  {query.name}: answer DIFFERS, not timed", flush=True)
                continue
            result["answer"] = "same"

            def load(duration: float, connections: int, query: Query = query) -> Timing:
                return run_wrk(
                    peer.url,
                    query.path,
                    duration=duration,
                    connections=connections,
                    threads=args.wrk_threads,
                    method=args.method,
                    unique=query.unique,
                )

            load(args.warmup, args.connections)
            _wait_idle(peer)
            result["quiet"] = _quiet(args)
            before, machine = peer.usage(), cpu_sample()
            loaded = load(args.duration, args.connections)
            after, system = peer.usage(), busy_cores(machine, cpu_sample())
            result["usage"] = _usage_during(peer, before, after, loaded.seconds)
            result["usage"]["client_cores"] = round(loaded.client_cpu_s / loaded.seconds, 2)
            result["usage"]["machine_cores"] = system
            result["usage"]["other_cores"] = round(
                max(
                    0.0,
                    system
                    - result["usage"]["cores_main"]
                    - result["usage"]["cores_children"]
                    - result["usage"]["client_cores"],
                ),
                2,
            )
            _wait_idle(peer)
            single = load(args.single_duration, 1)
            _wait_idle(peer)
            result["loaded"] = dataclasses.asdict(loaded)
            result["single"] = dataclasses.asdict(single)
            print(
                f"  {query.name}: {loaded.rps:.1f} req/s, p50 {loaded.p50_ms:.2f} ms, "
                f"p99 {loaded.p99_ms:.2f} ms, errors {loaded.errors}; 1 conn "
                f"p50 {single.p50_ms:.2f} ms p99 {single.p99_ms:.2f} ms; server cores "
                f"{result['usage']['cores_main']} + {result['usage']['cores_children']}",
                flush=True,
            )
    except Exception as error:
        entry["error"] = f"{type(error).__name__}: {error}"
        print(f"  FAILED: {entry['error']}", flush=True)
    finally:
        peer.stop()
    return entry


def _short(part: str) -> str:
    """Paths relative to the repository, so the report does not show this machine's."""
    try:
        return str(Path(part).relative_to(ROOT))
    except ValueError:
        return part


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    try:
        wrk_path()
    except WrkMissingError as error:
        print(f"bench: {error}", file=sys.stderr)
        return 2
    work: Path = args.work_dir
    work.mkdir(parents=True, exist_ok=True)
    selected = args.peers.split(",")
    queries = _queries(args.queries)
    started = time.perf_counter()

    venv = None
    if "rdflib-endpoint" in selected:
        with (work / "bench-venv.log").open("a") as log:
            venv = ensure_bench_venv(log)

    print(f"data: {args.triples:,} triples, seed {args.seed}", flush=True)
    dataset = generate(work / "data", seed=args.seed, target_triples=args.triples)
    print(f"  {dataset.info.quads:,} quads in {dataset.info.graphs} graphs", flush=True)

    print("pyoxigraph in-process (reference answers and floor)", flush=True)
    answers, floor = _floor(dataset, queries, work, args)

    peers: list[Peer] = []
    for key in PEERS:
        if key not in selected:
            continue
        if key == "oxigraph":
            peers.append(OxigraphServe(work / "oxigraph"))
        elif key == "kommunegraf":
            peers.append(Kommunegraf(work / "kommunegraf", args.query_workers, 120.0))
        elif venv is not None:
            peers.append(RdflibEndpoint(work / "rdflib-endpoint", venv))

    results: dict[str, Any] = {
        "kind": "endpoint",
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "small": args.small,
        "machine": _machine(),
        "versions": {
            "kommunegraf": version("kommunegraf") + f" (git {_git()})",
            "pyoxigraph": ox.__version__,
            "fastapi": version("fastapi"),
            "uvicorn": version("uvicorn"),
            "wrk": wrk_version(),
        },
        "dataset": dataclasses.asdict(dataset.info),
        "settings": {
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "single_duration_s": args.single_duration,
            "connections": args.connections,
            "wrk_threads": args.wrk_threads,
            "method": args.method,
            "query_workers": args.query_workers,
            "floor_processes": _cores(),
        },
        "queries": {
            name: {k: v for k, v in info.items() if not k.startswith("_")}
            for name, info in answers.items()
        },
        "floor": floor,
        "peers": {},
    }
    for peer in peers:
        print(f"{peer.title}", flush=True)
        results["peers"][peer.key] = _bench_peer(peer, dataset, queries, answers, args)
        if "version" in results["peers"][peer.key]:
            results["versions"][peer.key] = results["peers"][peer.key]["version"]

    results["ratios_to_oxigraph_serve"] = {
        query.name: {
            key: report.ratio(
                (entry.get("queries", {}).get(query.name, {}).get("loaded") or {}).get("rps"),
                (
                    results["peers"]
                    .get(report.BASELINE, {})
                    .get("queries", {})
                    .get(query.name, {})
                    .get("loaded")
                    or {}
                ).get("rps"),
            )
            for key, entry in results["peers"].items()
        }
        | {
            "pyoxigraph-in-process": report.ratio(
                floor[query.name]["processes_disk"]["rps"],
                (
                    results["peers"]
                    .get(report.BASELINE, {})
                    .get("queries", {})
                    .get(query.name, {})
                    .get("loaded")
                    or {}
                ).get("rps"),
            )
        }
        for query in queries
    }
    results["goals"] = report.goals(results)
    results["total_seconds"] = round(time.perf_counter() - started, 1)
    name = "endpoint" + ("-small" if args.small else "")
    stem = report.write_result(results, name, report.markdown, folder=args.results_dir, echo=False)
    print(f"wrote {stem}.md and .json in {results['total_seconds']:.0f} s", flush=True)
    print(json.dumps(results["ratios_to_oxigraph_serve"], indent=2))
    failed = [k for k, e in results["peers"].items() if e.get("error")]
    return 1 if failed else 0
