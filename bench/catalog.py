"""The Felles datakatalog catalogues on the national demo: ``python -m bench.catalog --store DIR``.

Goals (issue 18): ``/catalog/{kommunenummer}`` under 1 s and ``/catalog`` under 3 s on this
2-core machine. Each is timed through HTTP on a real ``kommunegraf serve`` over a copy of a
store holding the national demo (e.g. the tests' cached demo store), one request at a time
on a keep-alive connection, side by side with its peer: the same triples (parsed from the
HTTP answer) in an in-memory pyoxigraph store, read back with a plain
``CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }`` and written as Turtle, in-process. The ratio is
HTTP p50 / in-process p50. Also recorded: how long the server took to build the catalogues
after start (the build the watcher runs once per change of the data), and a conditional
request (``If-None-Match``) that answers 304.

Results go to ``bench/results/<date>-catalog.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO

import pyoxigraph as ox

from bench.loadgen import Timing, timing_from_latencies, wait_quiet
from bench.report import write_result

BENCH = Path(__file__).resolve().parent
WORK = BENCH / "work" / "catalog"
PATHS = ("/catalog", "/catalog/4203", "/catalog/5616", "/catalog/0301")
GOALS = {"/catalog": 3000.0}
"""Goal per path in ms; the municipality catalogues have 1,000 ms."""
TURTLE = "text/turtle"


@dataclass
class Result:
    path: str
    bytes: int
    triples: int
    http: Timing
    in_process: Timing
    not_modified_ms: float

    @property
    def ratio(self) -> float:
        return round(self.http.p50_ms / self.in_process.p50_ms, 2) if self.in_process.p50_ms else 0


def base_iri_of(store: Path) -> str:
    """The base IRI a store's data was loaded with (test servers pick a free port)."""
    reader = ox.Store.read_only(str(store))
    try:
        found = reader.query("SELECT ?m { ?m ?p '0301' }", use_default_graph_as_union=True)
        assert isinstance(found, ox.QuerySolutions)
        oslo = next(iter(found))["m"]
        assert isinstance(oslo, ox.NamedNode)
        return oslo.value.removesuffix("id/kommune/0301")
    finally:
        del reader


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def serve_copy(store: Path, work: Path) -> tuple[subprocess.Popen[bytes], int, str, IO[str]]:
    """``kommunegraf serve`` over a fresh copy of ``store`` in ``work`` (the server writes
    to its store); the process, its port, the data's base IRI and its open log file."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    copy = work / "store"
    shutil.copytree(store, copy)
    base = base_iri_of(copy)
    port = _free_port()
    log = (work / "serve.log").open("w")
    env = {**os.environ, "KOMMUNEGRAF_BASE_IRI": base, "KOMMUNEGRAF_DEMO": "false"}
    server = subprocess.Popen(  # noqa: S603 - our own argument list
        [sys.executable, "-m", "service", "serve", "--port", str(port), "--store", str(copy)],
        env=env,
        stdout=log,
        stderr=log,
    )
    return server, port, base, log


def _get(connection: http.client.HTTPConnection, path: str, **headers: str) -> tuple[int, bytes]:
    connection.request("GET", path, headers={"Accept": TURTLE, **headers})
    response = connection.getresponse()
    return response.status, response.read()


def _http(port: int, path: str, count: int) -> tuple[bytes, Timing, float, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    connection.request("GET", path, headers={"Accept": TURTLE})
    first = connection.getresponse()
    body = first.read()
    etag = first.headers["ETag"]
    if first.status != 200:
        raise RuntimeError(f"GET {path}: {first.status} {body[:300]!r}")
    latencies = []
    started = time.perf_counter()
    for _ in range(count):
        begin = time.perf_counter()
        _get(connection, path)
        latencies.append(time.perf_counter() - begin)
    timing = timing_from_latencies(latencies, time.perf_counter() - started)
    begin = time.perf_counter()
    status, _ = _get(connection, path, **{"If-None-Match": etag})
    not_modified = (time.perf_counter() - begin) * 1000
    assert status == 304, status
    connection.close()
    return body, timing, round(not_modified, 3), etag


def _in_process(body: bytes, count: int) -> tuple[int, Timing]:
    """The peer: the same triples, a plain CONSTRUCT in-process, written as Turtle."""
    store = ox.Store()
    store.load(body, format=ox.RdfFormat.TURTLE)
    query = "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }"
    latencies = []
    started = time.perf_counter()
    for _ in range(count):
        begin = time.perf_counter()
        result = store.query(query)
        assert isinstance(result, ox.QueryTriples)
        result.serialize(format=ox.RdfFormat.TURTLE)
        latencies.append(time.perf_counter() - begin)
    return len(store), timing_from_latencies(latencies, time.perf_counter() - started)


def _report(results: list[Result], meta: dict[str, object]) -> str:
    lines = [
        f"# Felles datakatalog catalogues on the national demo — {meta['date']}",
        "",
        "Each catalogue through HTTP (`Accept: text/turtle`, one keep-alive connection, a real "
        "`kommunegraf serve` over a copy of the national demo store) next to its peer: the same "
        "triples in an in-memory pyoxigraph store, `CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }` "
        "and Turtle output, in-process. Written by `bench/catalog.py`.",
        "",
        f"Requests per side: {meta['count']}. The server built the catalogues "
        f"{meta['build_seconds']} s after it started (once per change of the data; the "
        f"watcher's own log: {meta['build_logged']} s). Other load before the run: "
        f"{meta['other_load']} cores.",
        "",
        "| path | bytes | triples | HTTP p50 ms | HTTP p99 ms | in-process p50 ms "
        "| in-process p99 ms | p50 ratio | goal | met | 304 ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | :---: | ---: |",
    ]
    for r in results:
        goal = GOALS.get(r.path, 1000.0)
        lines.append(
            f"| `{r.path}` | {r.bytes:,} | {r.triples:,} | {r.http.p50_ms:.1f} "
            f"| {r.http.p99_ms:.1f} | {r.in_process.p50_ms:.1f} | {r.in_process.p99_ms:.1f} "
            f"| {r.ratio:.2f}× | < {goal:,.0f} ms | {'yes' if r.http.p99_ms < goal else '**no**'} "
            f"| {r.not_modified_ms:.1f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, required=True, help="a store with the demo")
    parser.add_argument("--count", type=int, default=30, help="requests per side and path")
    parser.add_argument("--out", type=Path, default=BENCH / "results")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    server, port, _, log = serve_copy(args.store, WORK)
    try:
        while True:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
                status, _ = _get(connection, "/catalog")
                connection.close()
                if status == 200:
                    break
            except OSError:
                time.sleep(0.2)
        build_seconds = round(time.perf_counter() - started, 1)
        other = wait_quiet(120)
        results = []
        for path in PATHS:
            body, timing, not_modified, _ = _http(port, path, args.count)
            triples, local = _in_process(body, args.count)
            results.append(Result(path, len(body), triples, timing, local, not_modified))
    finally:
        server.terminate()
        server.wait(timeout=60)
        log.close()
    logged = [
        json.loads(line).get("seconds")
        for line in (WORK / "serve.log").read_text(encoding="utf-8").splitlines()
        if "catalogue built" in line
    ]
    meta: dict[str, object] = {
        "date": dt.date.today().isoformat(),
        "count": args.count,
        "build_seconds": build_seconds,
        "build_logged": logged[0] if logged else None,
        "other_load": other["other_cores"],
    }
    rows = [{**asdict(r), "ratio": r.ratio} for r in results]
    payload = {"meta": meta, "results": rows}
    write_result(payload, "catalog", lambda _: _report(results, meta), folder=args.out)
    shutil.rmtree(WORK, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
