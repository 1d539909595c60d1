"""Load generation and measurement: wrk against HTTP peers, a loop for in-process.

wrk (Debian package ``wrk``) is the load generator: it is written in C and does
not saturate before the servers do, which a Python client would on the light
query. It only ever targets 127.0.0.1.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import resource
import shutil
import subprocess
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyoxigraph as ox

LUA_SCRIPT = Path(__file__).parent / "wrk" / "sparql.lua"
ACCEPT = "application/sparql-results+json"


class WrkMissingError(RuntimeError):
    pass


def wrk_path() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise WrkMissingError(
            "wrk is not installed. On Debian/Ubuntu: apt-get install -y wrk "
            "(sudo apt-get install -y wrk), then run the benchmark again."
        )
    return found


def wrk_version() -> str:
    run = subprocess.run(  # noqa: S603 - our own argument list
        [wrk_path(), "-v"], capture_output=True, text=True, check=False
    )
    return (run.stdout or run.stderr).splitlines()[0].strip()


@dataclass(frozen=True)
class Timing:
    """One measured run: throughput, latency percentiles (ms) and errors."""

    requests: int
    seconds: float
    rps: float
    """Answered requests per second: a status >= 400 (admission control's 429/503 under an
    overload, say) is not an answer, so it does not count, though wrk counts it a request."""
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float
    errors: int
    """Non-2xx statuses (wrk counts >= 400), socket errors and timeouts."""
    error_detail: dict[str, int]
    client_cpu_s: float
    """CPU the load generator itself used (it shares the machine with the server)."""


def run_wrk(
    url: str,
    query_file: Path,
    *,
    duration: float,
    connections: int,
    threads: int = 1,
    timeout: float = 120.0,
    method: str = "POST",
    unique: bool = False,
) -> Timing:
    """Run wrk for ``duration`` seconds and return what its Lua ``done`` reported.

    ``unique``: every request's text ends with a comment no other request has (this run's
    id, the wrk thread and a counter), so an answer cache never answers it."""
    if not url.startswith(("http://127.0.0.1:", "http://localhost:")):
        raise ValueError(f"refusing to load anything but this machine: {url}")
    command = [
        wrk_path(),
        f"-t{max(1, min(threads, connections))}",
        f"-c{connections}",
        f"-d{max(1, round(duration))}s",
        f"--timeout={round(timeout)}s",
        "-s",
        str(LUA_SCRIPT),
        url,
    ]
    env = {**os.environ, "BENCH_QUERY_FILE": str(query_file), "BENCH_METHOD": method}
    env["BENCH_UNIQUE"] = uuid.uuid4().hex[:12] if unique else ""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    run = subprocess.run(  # noqa: S603 - our own argument list, no shell
        command, capture_output=True, text=True, env=env, timeout=duration + timeout + 60
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    lines = [line for line in run.stdout.splitlines() if line.startswith("BENCH_RESULT ")]
    if run.returncode != 0 or not lines:
        raise RuntimeError(f"wrk failed ({run.returncode}): {run.stderr or run.stdout}")
    data: dict[str, Any] = json.loads(lines[-1].removeprefix("BENCH_RESULT "))
    detail = {k.removeprefix("errors_"): int(v) for k, v in data.items() if k.startswith("errors_")}
    seconds = data["duration_us"] / 1e6
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return Timing(
        requests=data["requests"],
        seconds=round(seconds, 3),
        rps=round((data["requests"] - data["errors_status"]) / seconds, 2) if seconds else 0.0,
        p50_ms=data["p50_us"] / 1000,
        p90_ms=data["p90_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        mean_ms=round(data["mean_us"] / 1000, 3),
        max_ms=data["max_us"] / 1000,
        errors=sum(detail.values()),
        error_detail=detail,
        client_cpu_s=round(cpu, 2),
    )


def _percentile(sorted_values: list[float], percent: float) -> float:
    """Nearest-rank percentile.

    >>> _percentile([1.0, 2.0, 3.0, 4.0], 50)
    2.0
    >>> _percentile([1.0, 2.0, 3.0, 4.0], 99)
    4.0
    """
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(percent / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def timing_from_latencies(latencies: list[float], seconds: float, cpu: float = 0.0) -> Timing:
    values = sorted(latencies)
    ms = [v * 1000 for v in values]
    return Timing(
        requests=len(values),
        seconds=round(seconds, 3),
        rps=round(len(values) / seconds, 2) if seconds else 0.0,
        p50_ms=round(_percentile(ms, 50), 3),
        p90_ms=round(_percentile(ms, 90), 3),
        p99_ms=round(_percentile(ms, 99), 3),
        mean_ms=round(sum(ms) / len(ms), 3) if ms else 0.0,
        max_ms=round(ms[-1], 3) if ms else 0.0,
        errors=0,
        error_detail={},
        client_cpu_s=round(cpu, 2),
    )


# --- in-process pyoxigraph: the floor ---------------------------------------------


def run_query_json(store: ox.Store, query: str) -> bytes:
    """What every peer does per request, minus HTTP: evaluate and write SPARQL JSON."""
    results = store.query(query, use_default_graph_as_union=True)
    assert isinstance(results, ox.QuerySolutions)
    return results.serialize(format=ox.QueryResultsFormat.JSON) or b""


def loop_in_process(store: ox.Store, query: str, duration: float, minimum: int = 1) -> list[float]:
    """Run the query back to back for ``duration`` seconds and at least ``minimum``
    times; the latency of each."""
    latencies: list[float] = []
    end = time.perf_counter() + duration
    while True:
        start = time.perf_counter()
        if start >= end and len(latencies) >= minimum:
            return latencies
        run_query_json(store, query)
        latencies.append(time.perf_counter() - start)


def _process_loop(store_path: str, query: str, duration: float) -> list[float]:
    store = ox.Store.read_only(store_path)
    run_query_json(store, query)  # open files and caches before the clock starts
    return loop_in_process(store, query, duration)


def measure_in_process(store: ox.Store, query: str, duration: float) -> Timing:
    """One thread, back to back: the latency floor."""
    run_query_json(store, query)
    cpu = time.process_time()
    start = time.perf_counter()
    latencies = loop_in_process(store, query, duration)
    return timing_from_latencies(latencies, time.perf_counter() - start, time.process_time() - cpu)


def measure_processes(store_path: Path, query: str, duration: float, processes: int) -> Timing:
    """``processes`` separate processes over the same read-only on-disk store.

    Threads would not do: a pyoxigraph query holds the GIL, so two threads of one
    process answer no more than one.
    """
    context = multiprocessing.get_context("spawn")
    with context.Pool(processes) as pool:
        start = time.perf_counter()
        parts = pool.starmap(_process_loop, [(str(store_path), query, duration)] * processes)
        seconds = time.perf_counter() - start
    # Each process ran for ``duration`` after its own warm-up; use that as the window.
    latencies = [v for part in parts for v in part]
    return timing_from_latencies(latencies, max(duration, min(seconds, duration * 1.05)))


# --- answers ------------------------------------------------------------------------


Row = tuple[tuple[str, tuple[str, str, str, str] | None], ...]
XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"


def _term(value: dict[str, str] | None) -> tuple[str, str, str, str] | None:
    if value is None:
        return None
    kind = value["type"]
    if kind == "typed-literal":  # the old JSON results draft
        kind = "literal"
    datatype = value.get("datatype", "")
    if datatype == XSD_STRING:
        datatype = ""
    return (kind, value["value"], datatype, value.get("xml:lang", "").lower())


def normalise(body: bytes) -> tuple[tuple[str, ...], list[Row]]:
    """SPARQL JSON results as (variables, rows sorted), comparable across peers."""
    document = json.loads(body)
    variables = tuple(document["head"]["vars"])
    rows = [
        tuple((name, _term(binding.get(name))) for name in variables)
        for binding in document["results"]["bindings"]
    ]
    return variables, sorted(rows, key=repr)


def fetch(url: str, query: str, *, method: str = "POST", timeout: float = 300.0) -> bytes:
    """One query by the SPARQL 1.1 Protocol, as wrk sends it."""
    headers = {"Accept": ACCEPT}
    if method == "GET":
        from urllib.parse import urlencode

        target = f"{url}?{urlencode({'query': query})}"
        request = urllib.request.Request(target, headers=headers)  # noqa: S310 - loopback
    else:
        headers["Content-Type"] = "application/sparql-query"
        request = urllib.request.Request(  # noqa: S310 - loopback
            url, query.encode(), headers=headers, method="POST"
        )
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - loopback
        body: bytes = response.read()
        return body


# --- the rest of the machine --------------------------------------------------------


def cpu_sample() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs together, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def busy_cores(before: tuple[int, int], after: tuple[int, int]) -> float:
    """How many cores were busy between two samples, whoever used them."""
    total = after[1] - before[1]
    if total <= 0:
        return 0.0
    return round((after[0] - before[0]) / total * len(os.sched_getaffinity(0)), 2)


def wait_quiet(limit: float, threshold: float = 0.25, window: float = 3.0) -> dict[str, float]:
    """Wait (at most ``limit`` s) for a window in which other processes use < threshold cores.

    Other sessions share this machine; a benchmark taken while they run tests is not
    worth much, so each measurement starts on a quiet machine when it can.
    """
    started = time.monotonic()
    load = 0.0
    while True:
        before = cpu_sample()
        time.sleep(window)
        load = busy_cores(before, cpu_sample())
        waited = time.monotonic() - started
        if load < threshold or waited >= limit:
            return {"waited_s": round(waited, 1), "other_cores": load}
