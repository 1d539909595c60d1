"""A system owner's upload into the national service, end to end: ``python -m bench.upload``.

What it measures: ``POST /upload`` of Oslo's workbook (the largest of the demo) with
Oslo's municipality token, against a real ``kommunegraf serve`` holding the national demo
(a copy of the tests' cached store, ``tests.conftest.cached_demo_store``; the cache is
never written), its query workers warmed up. In order:

- ``first``: the first upload, which takes Oslo's records over from the graph the demo
  loaded them into (``service.access.takeover``: that graph is dropped);
- ``same``: the same file again (nothing changes);
- ``changed``: a file with one cell changed, and the original again, in turn (each
  changes one value);
- ``dry_run``: ``dry_run=true`` (check and changes, no write).

For each, the wall time seen by the client and the server's own breakdown by phase (its
``Server-Timing`` header: ``check`` in a query worker, ``takeover``, ``changes``,
``audit_before``, ``write``, ``audit_after``, ``record``). The peer, in the same run:
pyoxigraph's ``bulk_load`` of the same quads (Oslo's graph as the service stored it)
into a fresh in-memory store, in this process; ratios are upload / peer.

Wall times on a loaded machine are upper bounds; the lead's quiet run gives the numbers.
Results go to ``bench/results/<date>-upload.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from bench.report import finish, ratio

BENCH = Path(__file__).resolve().parent
WORK = BENCH / "work" / "upload"
OSLO = "kommune-0301-oslo.xlsx"
ADMIN = "bench-admin-" + "x" * 24


def _base(store: Path) -> str:
    """The base IRI the cached store was built with (its graphs' IRIs start with it)."""
    import pyoxigraph as ox

    opened = ox.Store.read_only(str(store))
    for graph in opened.named_graphs():
        iri = getattr(graph, "value", "")
        if "/graph/source/" in iri:
            return iri.split("graph/source/")[0]
    raise SystemExit(f"no source graph in {store}")


def _changed(workbook: Path, folder: Path) -> Path:
    """Oslo's workbook with one value changed (the first usage's number of users)."""
    import openpyxl

    book = openpyxl.load_workbook(workbook)
    sheet = book["Systemportefølje"]
    cell = sheet.cell(row=3, column=7)
    cell.value = int(cell.value or 0) + 1
    path = folder / "changed" / OSLO
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path


def _post(url: str, token: str, data: bytes, dry_run: bool = False) -> dict[str, Any]:
    query = {"name": OSLO} | ({"dry_run": "true"} if dry_run else {})
    request = urllib.request.Request(  # noqa: S310 - loopback, our server
        f"{url}/upload?{urllib.parse.urlencode(query)}",
        data=data,
        method="POST",
        headers={"Authorization": f"Bearer {token}"},
    )
    began = time.perf_counter()
    with urllib.request.urlopen(request, timeout=120) as answer:  # noqa: S310
        body = json.loads(answer.read())
        timing = answer.headers.get("Server-Timing", "")
    wall = time.perf_counter() - began
    phases: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in timing.split(","))):
        name, _, duration = part.partition(";dur=")
        phases[name] = phases.get(name, 0.0) + float(duration) / 1000
    if body.get("loaded") is not (not dry_run):
        raise SystemExit(f"upload not as expected: {json.dumps(body)[:2000]}")
    return {"wall": wall, "phases": phases, "audit": body.get("audit", {}).get("changes")}


def _peer(nquads: bytes) -> float:
    """pyoxigraph's bulk_load of the same quads into a fresh in-memory store."""
    import pyoxigraph as ox

    store = ox.Store()
    began = time.perf_counter()
    store.bulk_load(nquads, ox.RdfFormat.N_QUADS)
    return time.perf_counter() - began


def run(args: argparse.Namespace) -> dict[str, Any]:
    import pyoxigraph as ox

    from loaders.demo import DATA_DIR
    from service.access.tokens import TokenFile
    from tests.conftest import cached_demo_store, start_server, stop_server

    cached = cached_demo_store()
    base = _base(cached)
    if WORK.exists():
        shutil.rmtree(WORK)
    WORK.mkdir(parents=True)
    store = WORK / "store"
    shutil.copytree(cached, store)
    tokens = TokenFile(WORK / "tokens.toml")
    oslo = tokens.create("Oslo systemeier", "municipality", ("0301",))[0]
    workbook = DATA_DIR / OSLO
    original = workbook.read_bytes()
    changed = _changed(workbook, WORK).read_bytes()
    env = {
        "KOMMUNEGRAF_BASE_IRI": base,
        "KOMMUNEGRAF_TOKEN": ADMIN,
        "KOMMUNEGRAF_TOKENS": str(WORK / "tokens.toml"),
        "KOMMUNEGRAF_AUDIT_LOG": str(WORK / "audit.jsonl"),
        "KOMMUNEGRAF_WARM_CHECKS": "true",
    }
    server = start_server(str(store), env=env)
    found: dict[str, list[dict[str, Any]]] = {"first": [], "same": [], "changed": [], "dry_run": []}
    try:
        server.idle()
        time.sleep(args.settle)  # the workers' warm-up (in the background) done
        found["first"].append(_post(server.url, oslo, original))
        for _ in range(args.repeats):
            found["same"].append(_post(server.url, oslo, original))
        for number in range(args.repeats):
            data = changed if number % 2 == 0 else original
            found["changed"].append(_post(server.url, oslo, data))
        for _ in range(args.repeats):
            found["dry_run"].append(_post(server.url, oslo, original, dry_run=True))
        graph = f"{base}graph/kommune/0301/kommune-0301-oslo"
        query = f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}"
        asked = urllib.request.Request(  # noqa: S310 - loopback, our server
            f"{server.url}/sparql?" + urllib.parse.urlencode({"query": query}),
            headers={"Accept": "application/n-triples"},
        )
        with urllib.request.urlopen(asked, timeout=120) as answer:  # noqa: S310
            triples = answer.read()
    finally:
        stop_server(server)
    parsed = ox.parse(triples, ox.RdfFormat.N_TRIPLES)
    node = ox.NamedNode(graph)
    nquads = ox.serialize(
        [ox.Quad(q.subject, q.predicate, q.object, node) for q in parsed],
        format=ox.RdfFormat.N_QUADS,
    )
    peer = statistics.median(_peer(nquads) for _ in range(5))
    result: dict[str, Any] = {
        "workbook": OSLO,
        "quads": nquads.count(b"\n"),
        "peer_bulk_load_s": round(peer, 4),
        "kinds": {},
    }
    for kind, runs in found.items():
        if not runs:
            continue
        names = sorted({name for run in runs for name in run["phases"]})
        summary = {
            "n": len(runs),
            "wall_s": round(statistics.median(r["wall"] for r in runs), 4),
            "phases_s": {
                n: round(statistics.median(r["phases"].get(n, 0.0) for r in runs), 4) for n in names
            },
            "audit": runs[-1]["audit"],
        }
        summary["wall_per_peer"] = ratio(summary["wall_s"], peer)
        summary["check_share"] = ratio(summary["phases_s"].get("check"), summary["wall_s"])
        result["kinds"][kind] = summary
    return result


def markdown(result: dict[str, Any]) -> str:
    phases = sorted({n for kind in result["kinds"].values() for n in kind["phases_s"]})
    lines = [
        f"# A system owner's upload, end to end ({result['workbook']})",
        "",
        "`python -m bench.upload`: `POST /upload` with Oslo's token into a real server holding "
        "the national demo; medians; phases from the server's `Server-Timing` header (wall "
        f"seconds). Peer: pyoxigraph `bulk_load` of the same {result['quads']:,} quads into "
        f"memory, {result['peer_bulk_load_s']} s.",
        "",
        "| kind | n | wall (s) | × peer | " + " | ".join(phases) + " |",
        "| --- | --- | --- | --- | " + " | ".join("---" for _ in phases) + " |",
    ]
    for name, kind in result["kinds"].items():
        cells = [str(kind["phases_s"].get(p, "–")) for p in phases]
        lines.append(
            f"| {name} | {kind['n']} | {kind['wall_s']} | {kind['wall_per_peer']} | "
            + " | ".join(cells)
            + " |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--repeats", type=int, default=4, help="uploads of each later kind")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds for the warm-up")
    parser.add_argument("--json", action="store_true", help="print the result as JSON only")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory():
        finish(run(args), "upload", markdown, as_json=args.json)


if __name__ == "__main__":
    main()
