"""Canned queries through HTTP next to the same query in-process: ``python -m bench.canned``.

The goal in ARCHITECTURE.md: a canned query through ``GET /queries/{name}`` has a p99
latency at most 2x the same bound query text run in-process on pyoxigraph over the
same data. For every query in ``queries/`` this harness:

1. picks values for the required parameters from the data (the most used application,
   the largest region, the municipality with the most systems, ...) and leaves the
   optional ones out (meaning "every value"), so every query has work to do;
2. checks that the HTTP answer equals the in-process answer (same rows);
3. times one request at a time for ``--duration`` seconds on each side: HTTP with one
   keep-alive connection to a real ``kommunegraf serve``, and in-process
   ``Store.query`` + JSON serialisation on a read-only on-disk copy of the same store.

The data is the national demo (``loaders/demo/data``) loaded through the real loaders
with ``kommunegraf load``, unless ``--nquads`` names a dump to use instead.
Results go to ``bench/results/<date>-canned.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlencode

import pyoxigraph as ox

from bench.loadgen import (
    Timing,
    loop_in_process,
    normalise,
    run_query_json,
    timing_from_latencies,
    wait_quiet,
)
from bench.peers import MAIN_BIN, ROOT, Kommunegraf
from bench.report import write_result
from service.sparql.canned import CannedQuery, Parameter, canned_queries

BENCH = Path(__file__).resolve().parent
WORK = BENCH / "work" / "canned"
BASE = "http://127.0.0.1:8000/"
"""The base IRI the data is loaded with; the server is started with the same one."""

_PICK_IRI = """SELECT ?x (COUNT(?s) AS ?n) WHERE {{
  ?x a <{cls}> . OPTIONAL {{ ?s ?p ?x }}
}} GROUP BY ?x ORDER BY DESC(?n) ?x LIMIT 1"""
_PICK_MUNICIPALITY = """PREFIX kg: <https://w3id.org/kommunegraf/ontology#>
SELECT ?nr (COUNT(?u) AS ?n) WHERE {
  ?m kg:municipalityNumber ?nr . ?u kg:usedBy ?m
} GROUP BY ?nr ORDER BY DESC(?n) ?nr LIMIT 1"""


@dataclass
class Result:
    name: str
    params: dict[str, str]
    rows: int
    same_answer: bool
    http: Timing
    in_process: Timing

    @property
    def ratio(self) -> float:
        return round(self.http.p99_ms / self.in_process.p99_ms, 2) if self.in_process.p99_ms else 0


def _first(store: ox.Store, query: str, variable: str) -> str | None:
    solutions = store.query(query, use_default_graph_as_union=True)
    assert isinstance(solutions, ox.QuerySolutions)
    for solution in solutions:
        term = solution[variable]
        return term.value if term is not None else None
    return None


def sample_value(store: ox.Store, parameter: Parameter) -> str | None:
    """A value for the parameter that gives the query real work, or None to leave it out."""
    if parameter.type == "kommunenummer":
        return _first(store, _PICK_MUNICIPALITY, "nr")
    if parameter.type == "iri" and parameter.iri_class:
        return _first(store, _PICK_IRI.format(cls=parameter.iri_class), "x")
    return None  # text, integer, date: the default, or unbound


def _demo_nquads(log: Path) -> Path:
    """Load the demo through the real loaders into a fresh store and dump it."""
    demo = sorted((ROOT / "loaders" / "demo" / "data").glob("*.*"))
    demo = [p for p in demo if p.suffix in {".xlsx", ".ods", ".csv", ".ttl"}]
    if not demo:
        raise SystemExit("no demo data in loaders/demo/data; pass --nquads FILE")
    store = WORK / "load-store"
    shutil.rmtree(store, ignore_errors=True)
    target = WORK / "demo.nq"
    with log.open("a") as out:
        for command in (
            ["load", *map(str, demo), "--store", str(store), "--base-iri", BASE],
            ["dump", "-o", str(target), "--store", str(store)],
        ):
            subprocess.run(  # noqa: S603 - our own argument list
                [str(MAIN_BIN / "kommunegraf"), *command], stdout=out, stderr=out, check=True
            )
    shutil.rmtree(store, ignore_errors=True)
    return target


MINIMUM = 20
"""Requests per side at the least, so a slow query still has a p99 worth the name."""


def _http_loop(port: int, path: str, duration: float) -> tuple[bytes, list[float]]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    headers = {"Accept": "application/sparql-results+json"}
    connection.request("GET", path, headers=headers)  # warm-up; its answer is compared
    response = connection.getresponse()
    body = response.read()
    if response.status != 200:
        raise RuntimeError(f"GET {path}: {response.status} {body[:300]!r}")
    latencies: list[float] = []
    end = time.perf_counter() + duration
    while time.perf_counter() < end or len(latencies) < MINIMUM:
        start = time.perf_counter()
        connection.request("GET", path, headers=headers)
        connection.getresponse().read()
        latencies.append(time.perf_counter() - start)
    connection.close()
    return body, latencies


def measure(query: CannedQuery, store: ox.Store, port: int, duration: float) -> Result:
    # Required parameters only: an optional one left out means "every value", which is
    # the widest (and slowest) form of the question.
    picked = {p.name: sample_value(store, p) for p in query.parameters if p.required}
    params = {name: value for name, value in picked.items() if value is not None}
    path = f"/queries/{query.name}" + (f"?{urlencode(params)}" if params else "")
    started = time.perf_counter()
    http_body, http_latencies = _http_loop(port, path, duration)
    http = timing_from_latencies(http_latencies, time.perf_counter() - started)
    text = query.bind(params, BASE)
    started = time.perf_counter()
    local_body = run_query_json(store, text)  # warm-up; its answer is compared
    local_latencies = loop_in_process(store, text, duration, minimum=MINIMUM)
    local = timing_from_latencies(local_latencies, time.perf_counter() - started)
    same = normalise(http_body) == normalise(local_body)
    return Result(query.name, params, len(normalise(local_body)[1]), same, http, local)


def _report(results: list[Result], meta: dict[str, object]) -> str:
    lines = [
        f"# Canned queries through HTTP vs in-process — {meta['date']}",
        "",
        "Each canned query with parameters picked from the data, one request at a time: "
        "`GET /queries/{name}` on a real `kommunegraf serve` (one keep-alive connection) "
        "next to the same bound text run in-process (`Store.query` + JSON) on a read-only "
        "on-disk copy of the same store. Written by `bench/canned.py`.",
        "",
        f"Data: {meta['data']} ({meta['quads']:,} quads). Duration per side and query: "
        f"{meta['duration']} s (at least 20 requests). Other load before the run: "
        f"{meta['other_load']} cores.",
        "",
        "| query | rows | same answer | HTTP p50 ms | HTTP p99 ms | in-process p50 ms "
        "| in-process p99 ms | p99 ratio | goal ≤ 2× |",
        "| --- | ---: | :---: | ---: | ---: | ---: | ---: | ---: | :---: |",
    ]
    for r in results:
        met = "yes" if r.ratio <= 2 else "**no**"
        lines.append(
            f"| `{r.name}` | {r.rows} | {'yes' if r.same_answer else '**no**'} "
            f"| {r.http.p50_ms:.2f} | {r.http.p99_ms:.2f} | {r.in_process.p50_ms:.2f} "
            f"| {r.in_process.p99_ms:.2f} | {r.ratio:.2f}× | {met} |"
        )
    lines += ["", "Parameters used:", ""]
    lines += [f"- `{r.name}`: `{urlencode(r.params) or '(none)'}`" for r in results]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.canned", description=__doc__)
    parser.add_argument("--nquads", type=Path, help="an N-Quads dump to use instead of the demo")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per side [5]")
    parser.add_argument("--only", nargs="*", help="just these queries")
    parser.add_argument("--quiet-wait", type=float, default=120.0)
    parser.add_argument("--out", type=Path, default=BENCH / "results")
    args = parser.parse_args(argv)

    WORK.mkdir(parents=True, exist_ok=True)
    log = WORK / "bench.log"
    nquads = args.nquads or _demo_nquads(log)
    floor_path = WORK / "floor"
    shutil.rmtree(floor_path, ignore_errors=True)
    loading = ox.Store(str(floor_path))
    loading.bulk_load(path=str(nquads), format=ox.RdfFormat.N_QUADS)
    quads = len(loading)
    del loading
    store = ox.Store.read_only(str(floor_path))

    peer = Kommunegraf(WORK / "kommunegraf", query_workers=2, query_timeout=60)
    shutil.rmtree(peer.store, ignore_errors=True)
    with log.open("a") as out:
        subprocess.run(  # noqa: S603 - our own argument list
            [str(MAIN_BIN / "kommunegraf"), "restore", str(nquads), "--store", str(peer.store)],
            stdout=out,
            stderr=out,
            check=True,
        )
    other = wait_quiet(args.quiet_wait)
    peer.start()
    results = []
    try:
        # The server's base IRI must match the data's, so the same parameters bind alike.
        for query in sorted(canned_queries().values(), key=lambda q: q.name):
            if args.only and query.name not in args.only:
                continue
            result = measure(query, store, peer.port, args.duration)
            print(
                f"{query.name:40} rows {result.rows:6}  HTTP p99 {result.http.p99_ms:9.2f} ms  "
                f"in-process p99 {result.in_process.p99_ms:9.2f} ms  {result.ratio:5.2f}x"
                f"{'' if result.same_answer else '  DIFFERENT ANSWER'}",
                flush=True,
            )
            results.append(result)
    finally:
        peer.stop()
    now = dt.datetime.now(dt.UTC)
    meta: dict[str, object] = {
        "date": now.strftime("%Y-%m-%d %H:%M UTC"),
        "data": str(nquads.relative_to(ROOT) if nquads.is_relative_to(ROOT) else nquads),
        "quads": quads,
        "duration": args.duration,
        "other_load": round(other["other_cores"], 2),
    }
    payload = {"meta": meta, "results": [{**asdict(r), "ratio": r.ratio} for r in results]}
    stem = write_result(
        payload, "canned", lambda _: _report(results, meta), folder=args.out, echo=False
    )
    print(f"wrote {stem}.md and .json")
    return 0 if all(r.same_answer for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
