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

``--compare REF`` runs commit REF's code (a worktree of it) in turn with this one (ABBA
rounds, each a fresh copy of the store and a fresh server) and reports the wall ratios
this/REF; a commit before the ``Server-Timing`` header shows no phases. Wall times on a
loaded machine are upper bounds; the lead's quiet run gives the numbers. Results go to
``bench/results/<date>-upload.md`` and ``.json``.
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

from bench.catalog import base_iri_of
from bench.report import compare_parser, compared_sides, finish, ratio

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
WORK = BENCH / "work" / "upload"
OSLO = "kommune-0301-oslo.xlsx"
ADMIN = "bench-admin-" + "x" * 24


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


def _server(source: Path, store: Path, env: dict[str, str]) -> Any:
    """``kommunegraf serve`` of ``source``'s code (as ``tests.conftest.start_server``,
    which runs this checkout's): its own folder first on the path."""
    import os
    import subprocess
    import sys

    from tests.conftest import Server, free_port, wait_until_answers

    vendor = Path("service/pages/static/vendor")
    if not (source / vendor).exists() and (ROOT / vendor).exists():
        (source / vendor).symlink_to(ROOT / vendor)  # built by make setup, not in git
    port = free_port()
    log = tempfile.TemporaryFile()  # noqa: SIM115 - outlives this call, like the server
    process = subprocess.Popen(  # noqa: S603 - our own arguments
        [sys.executable, "-m", "service", "serve", "--port", str(port), "--store", str(store)],
        cwd=source,
        env={
            **os.environ,
            "PYTHONPATH": str(source),
            "KOMMUNEGRAF_DEMO": "false",
            "KOMMUNEGRAF_DEMO_CACHE": "off",
            **env,
        },
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    server = Server(f"http://127.0.0.1:{port}", process, log=log)
    probe = server.url + "/sparql?query=ASK%7B%7D"
    wait_until_answers("kommunegraf serve", process, probe, server.log_text, 300)
    return server


def _uploads(source: Path, cached: Path, base: str, args: argparse.Namespace) -> dict[str, Any]:
    """One side's round: a fresh copy of the store, a server, every kind of upload."""
    from loaders.demo import DATA_DIR
    from service.access.tokens import TokenFile
    from tests.conftest import stop_server

    folder = WORK / "round"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    store = folder / "store"
    shutil.copytree(cached, store)
    tokens = TokenFile(folder / "tokens.toml")
    oslo = tokens.create("Oslo systemeier", "municipality", ("0301",))[0]
    original = (DATA_DIR / OSLO).read_bytes()
    changed = _changed(DATA_DIR / OSLO, folder).read_bytes()
    env = {
        "KOMMUNEGRAF_BASE_IRI": base,
        "KOMMUNEGRAF_TOKEN": ADMIN,
        "KOMMUNEGRAF_TOKENS": str(folder / "tokens.toml"),
        "KOMMUNEGRAF_AUDIT_LOG": str(folder / "audit.jsonl"),
        "KOMMUNEGRAF_WARM_CHECKS": "true",
    }
    server = _server(source, store, env)
    found: dict[str, Any] = {"first": [], "same": [], "changed": [], "dry_run": []}
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
            found["stored"] = answer.read()
    finally:
        stop_server(server)
        shutil.rmtree(folder, ignore_errors=True)
    return found


def _summary(runs: list[dict[str, Any]], peer: float) -> dict[str, Any]:
    names = sorted({name for run in runs for name in run["phases"]})
    summary: dict[str, Any] = {
        "n": len(runs),
        "wall_s": round(statistics.median(r["wall"] for r in runs), 4),
        "phases_s": {
            n: round(statistics.median(r["phases"].get(n, 0.0) for r in runs), 4) for n in names
        },
        "audit": runs[-1]["audit"],
    }
    summary["wall_per_peer"] = ratio(summary["wall_s"], peer)
    return summary


def run(args: argparse.Namespace) -> dict[str, Any]:
    import pyoxigraph as ox

    from tests.conftest import cached_demo_store

    cached = cached_demo_store()
    base = base_iri_of(cached)
    kinds = ("first", "same", "changed", "dry_run")
    with compared_sides(WORK, args.compare) as code:
        sides = {name: source or ROOT for name, (source, _) in code.items()}
        runs: dict[str, dict[str, list[dict[str, Any]]]] = {
            name: {kind: [] for kind in kinds} for name in sides
        }
        stored = b""
        for number in range(args.rounds):
            order = list(sides) if number % 2 == 0 else list(reversed(sides))
            for name in order:  # ABBA: both meet much the same load from the rest
                found = _uploads(sides[name], cached, base, args)
                stored = found.pop("stored")
                for kind in kinds:
                    runs[name][kind] += found[kind]
                print(f"  {name} round {number}: {found['same'][-1]['wall']:.3f} s", flush=True)
    graph = ox.NamedNode(f"{base}graph/kommune/0301/kommune-0301-oslo")
    quads = [
        ox.Quad(t.subject, t.predicate, t.object, graph)
        for t in ox.parse(stored, ox.RdfFormat.N_TRIPLES)
    ]
    nquads = ox.serialize(quads, format=ox.RdfFormat.N_QUADS) or b""
    peer = statistics.median(_peer(nquads) for _ in range(5))
    result: dict[str, Any] = {
        "workbook": OSLO,
        "quads": len(quads),
        "peer_bulk_load_s": round(peer, 4),
        "sides": {},
    }
    for name in sides:
        commit = code[name][1]
        result["sides"][name] = {
            "commit": commit,
            "kinds": {kind: _summary(found, peer) for kind, found in runs[name].items()},
        }
    if "ref" in sides:
        this, ref = result["sides"]["this"]["kinds"], result["sides"]["ref"]["kinds"]
        result["ratios"] = {
            kind: ratio(this[kind]["wall_s"], ref[kind]["wall_s"]) for kind in kinds
        }
    return result


def markdown(result: dict[str, Any]) -> str:
    phases = sorted(
        {
            n
            for side in result["sides"].values()
            for kind in side["kinds"].values()
            for n in kind["phases_s"]
        }
    )
    lines = [
        f"# A system owner's upload, end to end ({result['workbook']})",
        "",
        "`python -m bench.upload`: `POST /upload` with Oslo's token into a real server holding "
        "the national demo; medians; phases from the server's `Server-Timing` header (wall "
        f"seconds). Peer: pyoxigraph `bulk_load` of the same {result['quads']:,} quads into "
        f"memory, {result['peer_bulk_load_s']} s.",
        "",
        "| side | kind | n | wall (s) | × peer | " + " | ".join(phases) + " |",
        "| --- | --- | --- | --- | --- | " + " | ".join("---" for _ in phases) + " |",
    ]
    for side_name, side in result["sides"].items():
        for name, kind in side["kinds"].items():
            cells = [str(kind["phases_s"].get(p, "–")) for p in phases]
            lines.append(
                f"| {side_name} ({side['commit']}) | {name} | {kind['n']} | {kind['wall_s']} | "
                f"{kind['wall_per_peer']} | " + " | ".join(cells) + " |"
            )
    if "ratios" in result:
        ratios = result["ratios"]
        lines += ["", "Wall ratios this/ref: " + ", ".join(f"{k} {v}" for k, v in ratios.items())]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = compare_parser(__doc__)
    parser.add_argument("--repeats", type=int, default=4, help="uploads of each later kind")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds for the warm-up")
    parser.add_argument("--rounds", type=int, default=2, help="servers per side (ABBA)")
    args = parser.parse_args(argv)
    finish(run(args), "upload", markdown, as_json=args.json)


if __name__ == "__main__":
    main()
