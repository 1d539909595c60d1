"""A municipality's pre-filled workbook, national demo: ``python -m bench.template --store DIR``.

Goal (issue 19): ``GET /template?kommune=4203`` (Arendal's current data as the template
workbook) in a couple of seconds on a quiet 2-core machine; it took 65-87 s on a loaded one.
Each workbook is timed through HTTP on a real ``kommunegraf serve`` over a copy of a store
holding the national demo (e.g. the tests' cached demo store), one request at a time, side by
side with its peer: the same rows fetched by raw pyoxigraph in-process (the queries the
route asks, on the store opened read-only, serialized as N-Triples), which is the floor for
reading the data, without naming the references or writing the workbook. The ratio is HTTP
p50 / peer p50. The first request of each workbook is reported apart: the service keeps the
stored catalogue's names, indexed, and the workbooks it made until the next write
(``service.exports.municipality_workbook``), so the first request of the first workbook reads
and indexes the names (and the reference data's, once per process), the first of each later
one reads only the municipality's rows, and the repeated ones are the kept workbook.

Results go to ``bench/results/<date>-template.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import os
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import pyoxigraph as ox

from bench.catalog import serve_copy
from bench.loadgen import Timing, timing_from_latencies, wait_quiet
from bench.report import write_result

BENCH = Path(__file__).resolve().parent
WORK = BENCH / "work" / "template"
NUMBERS = ("4203", "5616", "0301")
GOAL_MS = 3000.0


@dataclass
class Result:
    kommune: str
    bytes: int
    first_ms: float
    http: Timing
    peer: Timing
    triples: int

    @property
    def ratio(self) -> float:
        return round(self.http.p50_ms / self.peer.p50_ms, 4) if self.peer.p50_ms else 0

    @property
    def first_ratio(self) -> float:
        """The first request (the workbook made, the names kept or not) against the peer."""
        return round(self.first_ms / self.peer.p50_ms, 3) if self.peer.p50_ms else 0


def _http(port: int, number: str, count: int) -> tuple[int, float, Timing]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=900)
    latencies: list[float] = []
    size = 0
    started = time.perf_counter()
    for _ in range(count + 1):
        begin = time.perf_counter()
        connection.request("GET", f"/template?kommune={number}")
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"/template?kommune={number}: {response.status} {body[:300]!r}")
        latencies.append(time.perf_counter() - begin)
        size = len(body)
    connection.close()
    first, rest = latencies[0], latencies[1:]
    return size, round(first * 1000, 1), timing_from_latencies(rest, time.perf_counter() - started)


def _peer(store: ox.Store, base: str, number: str, count: int) -> tuple[int, Timing]:
    """The same CONSTRUCTs the route asks, raw pyoxigraph in-process."""
    from service.exports.municipality_workbook import _graphs_query, municipality_data_query
    from service.store.names import stored_context_query

    queries = (
        municipality_data_query(base, number),
        stored_context_query(base),
        _graphs_query(base, number),
    )
    latencies = []
    triples = 0
    started = time.perf_counter()
    for _ in range(count):
        begin = time.perf_counter()
        triples = 0
        for query in queries:
            found = store.query(query, use_default_graph_as_union=True)
            assert isinstance(found, ox.QueryTriples)
            triples += (found.serialize(format=ox.RdfFormat.N_TRIPLES) or b"").count(b"\n")
        latencies.append(time.perf_counter() - begin)
    return triples, timing_from_latencies(latencies, time.perf_counter() - started)


def _report(results: list[Result], meta: dict[str, object]) -> str:
    lines = [
        f"# Pre-filled workbooks (`/template?kommune=`) on the national demo — {meta['date']}",
        "",
        "Each workbook through HTTP (one keep-alive connection, a real `kommunegraf serve` over "
        "a copy of the national demo store) next to its peer: the same CONSTRUCTs the route asks, "
        "raw pyoxigraph in-process on the store opened read-only, as N-Triples (reading the rows "
        "only: no names resolved, no workbook written). Written by `bench/template.py`.",
        "",
        f"Requests per side: {meta['count']} (after a first request, reported apart). Other "
        f"load before the run: {meta['other_load']} cores; load average {meta['loadavg']}.",
        "",
        "The service keeps the indexed stored names and the workbooks it made until the next "
        "write: the first request of the first workbook reads and indexes the names, the first "
        "of a later one only its rows, the repeated ones (p50) get the kept workbook.",
        "",
        "| kommune | bytes | first ms | HTTP p50 ms | HTTP p99 ms | peer p50 ms | peer triples "
        "| p50 ratio | first / peer p50 | goal | met |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | :---: |",
    ]
    for r in results:
        lines.append(
            f"| {r.kommune} | {r.bytes:,} | {r.first_ms:.0f} | {r.http.p50_ms:.0f} "
            f"| {r.http.p99_ms:.0f} | {r.peer.p50_ms:.0f} | {r.triples:,} | {r.ratio:.4f}× "
            f"| {r.first_ratio:.2f}× "
            f"| < {GOAL_MS:,.0f} ms | {'yes' if r.http.p50_ms < GOAL_MS else '**no**'} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--store", type=Path, required=True, help="a store with the demo")
    parser.add_argument("--count", type=int, default=5, help="requests per side and workbook")
    parser.add_argument(
        "--numbers", default=",".join(NUMBERS), help="kommunenummer, comma-separated"
    )
    parser.add_argument("--out", type=Path, default=BENCH / "results")
    parser.add_argument(
        "--quiet-wait", type=float, default=120, help="s to wait for a quiet machine"
    )
    args = parser.parse_args(argv)
    server, port, base, log = serve_copy(args.store, WORK)
    results = []
    try:
        while True:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                connection.request("GET", "/health/ready")
                ready = connection.getresponse().status == 200
                connection.close()
                if ready:
                    break
            except OSError:
                pass
            if server.poll() is not None:
                raise RuntimeError((WORK / "serve.log").read_text(encoding="utf-8")[-2000:])
            time.sleep(0.2)
        other = wait_quiet(args.quiet_wait)
        loadavg = " ".join(f"{x:.2f}" for x in os.getloadavg())
        reader = ox.Store.read_only(str(args.store))
        for number in args.numbers.split(","):
            size, first, timing = _http(port, number, args.count)
            triples, peer = _peer(reader, base, number, args.count)
            results.append(Result(number, size, first, timing, peer, triples))
        del reader
    finally:
        server.terminate()
        server.wait(timeout=60)
        log.close()
    meta: dict[str, object] = {
        "date": dt.date.today().isoformat(),
        "count": args.count,
        "other_load": other["other_cores"],
        "loadavg": loadavg,
    }
    rows = [{**asdict(r), "ratio": r.ratio, "first_ratio": r.first_ratio} for r in results]
    payload = {"meta": meta, "results": rows}
    write_result(payload, "template", lambda _: _report(results, meta), folder=args.out)
    shutil.rmtree(WORK, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
