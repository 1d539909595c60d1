"""CPU per light unique query, server and workers apart: ``python -m bench.requestcpu``.

Why CPU and not requests/s: the endpoint benchmark's light-unique query (every request a
text of its own, so the answer cache never answers it) is what a worker must evaluate
each time, and its throughput against ``oxigraph serve`` is set by what the server
process and the workers spend on each request. Throughput needs a quiet machine; CPU
seconds per request are much less disturbed by other load, so this harness can compare
two commits while others work (a quiet machine still gives the truest numbers).

What it does: ``kommunegraf serve`` over a copy of the tests' cached national demo store
(``tests/conftest.py cached_demo_store``; built once, a few minutes, if missing), two
query workers (one kept for cheap queries) as the endpoint benchmark runs them, warmed
until both answer from memory. Then, ``--rounds`` times: ``--requests`` distinct light
queries (the users of the application with closest to 79 users, as ``bench/queries/
light.rq`` has on the bench data, each text with a comment of its own), POSTed as
``application/sparql-query`` by ``--concurrency`` keep-alive connections; the CPU
seconds (utime + stime from ``/proc``) of the server process and of its children (the
workers) before and after, divided by the number of requests. The median round is
reported. ``--profile`` runs the server under cProfile and prints its top functions.

Results go to ``bench/results/<date>-requestcpu.md`` and ``.json`` (with ``-HHMM`` when
that day has one already, to compare before and after).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import pstats
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from bench.loadgen import busy_cores, cpu_sample
from bench.peers import Kommunegraf, group_usage
from bench.report import compare_parser, compared_sides, finish, ratio

BENCH = Path(__file__).resolve().parent
WORK = BENCH / "work" / "requestcpu"
TARGET_ROWS = 79
"""Rows of ``bench/queries/light.rq`` on the bench data: the light query's size."""

_PICK = """PREFIX kg: <https://w3id.org/kommunegraf/ontology#>
SELECT ?app (COUNT(DISTINCT ?m) AS ?n) WHERE { ?u kg:application ?app ; kg:usedBy ?m }
GROUP BY ?app"""

LIGHT = """# Light: the users of one application (bench/requestcpu.py)
PREFIX kg: <https://w3id.org/kommunegraf/ontology#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>

SELECT ?municipality ?name
WHERE {{
  ?usage kg:application <{app}> ;
         kg:usedBy ?municipality .
  ?municipality rdfs:label ?name .
}}
ORDER BY ?name ?municipality
"""


_PROFILED = """
import cProfile, runpy, sys, time
out = sys.argv.pop(1)
sys.argv[0] = "kommunegraf"
profile = cProfile.Profile(time.thread_time)
profile.enable()
try:
    runpy.run_module("service", run_name="__main__", alter_sys=True)
finally:
    profile.disable()
    profile.dump_stats(out)
"""
"""``python -m service`` under cProfile timed by the main thread's CPU clock (not the
wall clock: on a busy machine a system call's wall time is mostly waiting for a core)."""


class ProfiledKommunegraf(Kommunegraf):
    """The same server, run under cProfile (``_PROFILED``; written when it stops)."""

    def __init__(self, work: Path, profile: Path | None, source: Path | None = None) -> None:
        super().__init__(work, query_workers=2, query_timeout=30)
        self.profile = profile
        self.source = source

    def env(self) -> dict[str, str]:
        env = super().env()
        if self.source is not None:  # its ``service`` before this checkout's (editable)
            env["PYTHONPATH"] = str(self.source)
        return env

    def command(self, port: int) -> list[str]:
        command = super().command(port)
        if self.profile is None:
            return command
        return [sys.executable, "-c", _PROFILED, str(self.profile), *command[1:]]

    def stop(self) -> None:
        """Under cProfile, SIGINT first: uvicorn stops and raises it again, which ends
        in KeyboardInterrupt, and cProfile writes its file on the way out (SIGTERM's
        default action would end the process without it)."""
        if self.profile is not None and self.process is not None:
            self.process.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=60)
        super().stop()


def _light_query(store: Path) -> tuple[str, int]:
    """The light query on this store and its number of rows."""
    read = ox.Store.read_only(str(store))
    try:
        counts = [
            (row["app"].value, int(row["n"].value))
            for row in read.query(_PICK, use_default_graph_as_union=True)  # type: ignore[union-attr]
        ]
    finally:
        del read
    app, rows = min(counts, key=lambda item: (abs(item[1] - TARGET_ROWS), item[0]))
    return LIGHT.format(app=app), rows


def _send(port: int, texts: list[str], failures: list[str]) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {
        "Content-Type": "application/sparql-query",
        "Accept": "application/sparql-results+json",
    }
    for text in texts:
        connection.request("POST", "/sparql", text.encode(), headers)
        response = connection.getresponse()
        body = response.read()
        if response.status != 200 or response.headers.get("Cache-Status", "").endswith("hit"):
            failures.append(
                f"{response.status} {response.headers.get('Cache-Status')} {body[:200]!r}"
            )
    connection.close()


def _round(
    server: Kommunegraf, query: str, label: str, count: int, concurrency: int
) -> dict[str, Any]:
    """``count`` distinct texts over ``concurrency`` connections; CPU per request."""
    assert server.process is not None
    texts = [f"{query}# {label} {i}\n" for i in range(count)]
    parts = [texts[i::concurrency] for i in range(concurrency)]
    failures: list[str] = []
    threads = [threading.Thread(target=_send, args=(server.port, part, failures)) for part in parts]
    before = group_usage(server.process.pid)
    machine = cpu_sample()
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    after = group_usage(server.process.pid)
    if failures:
        raise RuntimeError(f"{len(failures)} requests failed or were cached: {failures[:3]}")
    if after.processes != before.processes:
        raise RuntimeError("a worker was replaced during the round: its CPU is not counted")
    return {
        "requests": count,
        "server_us": round((after.cpu_main_s - before.cpu_main_s) / count * 1e6, 1),
        "workers_us": round((after.cpu_children_s - before.cpu_children_s) / count * 1e6, 1),
        "wall_s": round(wall, 2),
        "machine_cores": busy_cores(machine, cpu_sample()),
    }


def _side(name: str, source: Path | None, store: Path, profile: bool) -> ProfiledKommunegraf:
    """A server of its own over its own copy of ``store``; ``source``: the checkout whose
    ``service`` it runs (None: this one)."""
    work = WORK / name
    work.mkdir(parents=True)
    shutil.copytree(store, work / "store")
    return ProfiledKommunegraf(work, work / "server.prof" if profile else None, source)


def run(args: argparse.Namespace) -> dict[str, Any]:
    from tests.conftest import cached_demo_store

    with compared_sides(WORK, args.compare) as code:
        store = cached_demo_store()
        query, rows = _light_query(store)
        sides = {
            name: _side(name, source, store, args.profile) for name, (source, _) in code.items()
        }
        commits = {name: commit for name, (_, commit) in code.items()}
        rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in sides}
        try:
            for server in sides.values():
                server.start()
                _round(server, query, "warm-up", args.requests // 3 or 1, args.concurrency)
            for number in range(args.rounds):
                # Side by side, in turn, the order reversed every round (ABBA): both meet
                # much the same load from the rest of the machine.
                order = list(sides) if number % 2 == 0 else list(reversed(sides))
                for name in order:
                    label = f"{name} round {number}"
                    rounds[name].append(
                        _round(sides[name], query, label, args.requests, args.concurrency)
                    )
                    print(f"  {label}: {rounds[name][-1]}", flush=True)
        finally:
            for server in sides.values():
                server.stop()
    result: dict[str, Any] = {
        "rows": rows,
        "requests": args.requests,
        "concurrency": args.concurrency,
        "profiled": bool(args.profile),
        "sides": {
            name: {
                "commit": commits[name],
                "server_us": statistics.median(r["server_us"] for r in rounds[name]),
                "workers_us": statistics.median(r["workers_us"] for r in rounds[name]),
                "rounds": rounds[name],
            }
            for name in sides
        },
    }
    if "ref" in sides:
        this, ref = result["sides"]["this"], result["sides"]["ref"]
        result["ratios"] = {key: ratio(this[key], ref[key]) for key in ("server_us", "workers_us")}
    for server in sides.values():
        if server.profile is not None and server.profile.exists():
            print(f"== {server.work.name}: {server.profile}")
            stats = pstats.Stats(str(server.profile))
            stats.sort_stats("tottime").print_stats(45)
            stats.sort_stats("cumulative").print_stats(60)
    return result


def markdown(result: dict[str, Any]) -> str:
    sides = result["sides"]
    lines = [
        "# CPU per light unique query",
        "",
        "`python -m bench.requestcpu` (see its docstring): a real `kommunegraf serve` over "
        "the national demo store, 2 query workers in memory; "
        f"{result['requests']:,} distinct light queries ({result['rows']} rows each) per "
        f"round over {result['concurrency']} keep-alive connections; CPU (utime + stime) "
        "of the server process and of its workers, per request. Median of the rounds; "
        "with `--compare`, the two commits' servers in turn in the same run."
        + (" **Servers under cProfile: not comparable.**" if result["profiled"] else ""),
        "",
        "| commit | server µs/request | workers µs/request | total |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, side in sides.items():
        lines.append(
            f"| **{side['commit']}** ({name}) | {side['server_us']:.0f} | "
            f"{side['workers_us']:.0f} | {side['server_us'] + side['workers_us']:.0f} |"
        )
    if "ratios" in result:
        ratios = result["ratios"]
        lines.append(f"| this / ref | {ratios['server_us']:.2f}× | {ratios['workers_us']:.2f}× | |")
    lines += ["", "| round | server µs | workers µs | wall s | machine cores busy |"]
    lines.append("| --- | ---: | ---: | ---: | ---: |")
    for side in sides.values():
        for number, r in enumerate(side["rounds"]):
            lines.append(
                f"| {side['commit']} #{number} | {r['server_us']:.0f} | {r['workers_us']:.0f} "
                f"| {r['wall_s']} | {r['machine_cores']} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = compare_parser(__doc__)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--profile", action="store_true", help="run the server under cProfile")
    args = parser.parse_args(argv)
    finish(run(args), "requestcpu", markdown, as_json=args.json)


if __name__ == "__main__":
    main()
