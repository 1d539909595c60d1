"""Write the results: a Markdown table for people, the same numbers as JSON.

``write_result`` is how every benchmark leaves its result; the rest of this module is the
endpoint benchmark's (``bench/run.py``) own Markdown.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

RESULTS = Path(__file__).resolve().parent / "results"
Result = TypeVar("Result")

BASELINE = "oxigraph"
GOAL_RATIO = 0.8
GOAL_P99_FACTOR = 2.0


def ratio(value: float | None, baseline: float | None) -> float | None:
    if value is None or not baseline:
        return None
    return round(value / baseline, 3)


def _num(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "–"
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def _ratio(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}×"


def _cores(usage: dict[str, Any] | None) -> str:
    if not usage:
        return "–"
    return f"{usage['cores_main']:.2f} + {usage['cores_children']:.2f}"


def _peer_rows(results: dict[str, Any], query: str) -> list[str]:
    rows = []
    base = results["peers"].get(BASELINE, {}).get("queries", {}).get(query, {})
    base_rps = (base.get("loaded") or {}).get("rps")
    for key, peer in results["peers"].items():
        entry = peer.get("queries", {}).get(query)
        if peer.get("error") and not entry:
            rows.append(f"| {peer['title']} | failed: {peer['error'][:80]} |" + " |" * 11)
            continue
        if entry is None:
            continue
        if entry.get("answer") != "same":
            answer = entry.get("answer")
            rows.append(f"| {peer['title']} | not timed: answer {answer} |" + " |" * 11)
            continue
        loaded, single = entry["loaded"], entry["single"]
        rows.append(
            "| "
            + " | ".join(
                [
                    f"**{peer['title']}**" if key == BASELINE else peer["title"],
                    _num(loaded["rps"]),
                    _ratio(ratio(loaded["rps"], base_rps)),
                    _num(loaded["p50_ms"], 2),
                    _num(loaded["p99_ms"], 2),
                    str(loaded["errors"]),
                    _num(single["rps"]),
                    _num(single["p50_ms"], 2),
                    _num(single["p99_ms"], 2),
                    _cores(entry.get("usage")),
                    _num(entry.get("usage", {}).get("other_cores"), 2),
                    _num(entry.get("usage", {}).get("rss_mb")),
                ]
            )
            + " |"
        )
    floor = results.get("floor", {}).get(query, {})
    disk_n, disk_1 = floor.get("processes_disk"), floor.get("thread_disk")
    if disk_1:
        rows.append(
            "| "
            + " | ".join(
                [
                    f"pyoxigraph in-process, on disk ({results['settings']['floor_processes']} "
                    "processes / 1 thread)",
                    _num(disk_n["rps"]) if disk_n else "–",
                    _ratio(ratio(disk_n["rps"], base_rps)) if disk_n else "–",
                    _num(disk_n["p50_ms"], 2) if disk_n else "–",
                    _num(disk_n["p99_ms"], 2) if disk_n else "–",
                    "0",
                    _num(disk_1["rps"]),
                    _num(disk_1["p50_ms"], 2),
                    _num(disk_1["p99_ms"], 2),
                    "–",
                    _num(floor.get("quiet", {}).get("other_cores"), 2),
                    "–",
                ]
            )
            + " |"
        )
    memory = floor.get("thread_memory")
    if memory:
        rows.append(
            "| pyoxigraph in-process, in memory (1 thread) | – | – | – | – | 0 | "
            f"{_num(memory['rps'])} | {_num(memory['p50_ms'], 2)} | "
            f"{_num(memory['p99_ms'], 2)} | – | – | – |"
        )
    return rows


def goals(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The ARCHITECTURE.md goals this run measures, with the measured value."""
    out: list[dict[str, Any]] = []
    peers = results["peers"]
    for query in results["queries"]:
        kg = peers.get("kommunegraf", {}).get("queries", {}).get(query, {})
        ox = peers.get(BASELINE, {}).get("queries", {}).get(query, {})
        kg_rps = (kg.get("loaded") or {}).get("rps")
        value = ratio(kg_rps, (ox.get("loaded") or {}).get("rps"))
        out.append(
            {
                "goal": f"/sparql throughput, {query} query: ≥ {GOAL_RATIO}× oxigraph serve",
                "measured": None if value is None else f"{value:.2f}×",
                "met": None if value is None else value >= GOAL_RATIO,
            }
        )
    for query in results["queries"]:
        kg = peers.get("kommunegraf", {}).get("queries", {}).get(query, {})
        floor = results.get("floor", {}).get(query, {}).get("thread_disk")
        p99 = (kg.get("single") or {}).get("p99_ms")
        factor = ratio(p99, floor["p99_ms"] if floor else None)
        out.append(
            {
                "goal": f"p99 through HTTP ≤ {GOAL_P99_FACTOR:g}× in-process pyoxigraph, "
                f"{query} query (1 connection vs 1 thread, same on-disk store)",
                "measured": None if factor is None else f"{factor:.2f}×",
                "met": None if factor is None else factor <= GOAL_P99_FACTOR,
            }
        )
    return out


def markdown(results: dict[str, Any]) -> str:
    s, m, v, d = (
        results["settings"],
        results["machine"],
        results["versions"],
        results["dataset"],
    )
    lines = [
        f"# Endpoint benchmark — {results['date']}",
        "",
        "Same queries, same data, same run, one peer at a time on this machine; written by "
        "`bench/run.py` (see bench/README.md). **The data is synthetic and made up** "
        "(seeded generator over the real municipalities); only the reference data is real.",
        "",
        f"Loaded runs: wrk, {s['connections']} connections, {s['wrk_threads']} wrk thread, "
        f"{s['duration_s']:g} s after a {s['warmup_s']:g} s warm-up, {s['method']} "
        "`application/sparql-query`, `Accept: application/sparql-results+json`. "
        f"1-connection runs: {s['single_duration_s']:g} s, one request at a time. "
        "Ratios are to `oxigraph serve` in the same run. Server CPU is cores busy during "
        "the loaded run: main process + child processes (kommunegraf's query workers). "
        "wrk shares the 2 cores with the server; its own CPU is in the JSON. Other load: "
        "cores used by processes outside the benchmark during the run (this machine is "
        "shared; the harness waits for it to be quiet before each measurement).",
        "",
    ]
    noisy = [
        f"{peer['title']} ({query}: {entry['usage']['other_cores']:.2f} cores)"
        for peer in results["peers"].values()
        for query, entry in peer.get("queries", {}).items()
        if entry.get("usage", {}).get("other_cores", 0) >= 0.25
    ]
    if noisy:
        lines += [
            "**Warning:** other processes were busy during some runs, which distorts "
            "them: " + ", ".join(noisy) + ".",
            "",
        ]
    for query, info in results["queries"].items():
        lines += [
            f"## {query} query — `{info['file']}` ({info['rows']} rows, "
            f"{info['bytes']:,} bytes of JSON)",
            "",
            *(
                [
                    "Every request a text of its own (the file's text and a comment with the "
                    "run, the wrk thread and a counter): no answer cache can answer it, so "
                    "every request is evaluated. Without the suffix, the same text every "
                    "time: kommunegraf answers repeats from its answer cache "
                    "(`Cache-Status: kommunegraf; hit`), `oxigraph serve` evaluates again.",
                    "",
                ]
                if info.get("unique")
                else []
            ),
            "| peer | req/s | × oxigraph serve | p50 ms | p99 ms | errors "
            "| 1 conn req/s | 1 conn p50 ms | 1 conn p99 ms | server CPU (cores) "
            "| other load (cores) | RSS MB |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
            *_peer_rows(results, query),
            "",
        ]
    lines += [
        "In-process rows: the loaded columns are "
        f"{s['floor_processes']} processes over the same read-only on-disk store (threads "
        "would not help: a pyoxigraph query holds the GIL); the 1-connection columns are one "
        "thread back to back. Each in-process request is `Store.query` + "
        "`serialize(JSON)`: what a peer does, minus HTTP.",
        "",
        "## Goals (ARCHITECTURE.md)",
        "",
        "| goal | measured | met |",
        "| --- | ---: | :---: |",
    ]
    for goal in results["goals"]:
        met = {True: "yes", False: "**no**", None: "–"}[goal["met"]]
        lines.append(f"| {goal['goal']} | {goal['measured'] or '–'} | {met} |")
    lines += [
        "",
        "## Answers",
        "",
        "Before timing, every peer's answer to every query was compared with pyoxigraph's "
        "(same variables, same rows as a multiset; literal datatypes xsd:string and plain "
        "are treated alike):",
        "",
    ]
    for peer in results["peers"].values():
        answers = ", ".join(f"{q}: {e.get('answer')}" for q, e in peer.get("queries", {}).items())
        lines.append(f"- {peer['title']}: {answers or peer.get('error')}")
    lines += [
        "",
        "## Data",
        "",
        f"- {d['quads']:,} quads in {d['graphs']} named graphs ({d['union_triples']:,} triples "
        f"in the union), seed {d['seed']}, target {d['target_triples']:,} triples",
        f"- {d['municipalities']} municipalities (real), {d['regions']} regions "
        f"({d['region_memberships']} memberships, groups of real municipalities), "
        f"{d['vendors']} vendors and {d['applications']} applications (made up), "
        f"{d['usages']:,} application usages (made up), {d['reference_triples']:,} "
        "reference triples (real)",
        f"- N-Quads sha256 `{d['nquads_sha256']}`",
        "",
        "## Peers",
        "",
        "| peer | version | load s | start s | command |",
        "| --- | --- | ---: | ---: | --- |",
    ]
    for peer in results["peers"].values():
        command = " ".join(peer.get("command") or [])
        lines.append(
            f"| {peer['title']} | {peer.get('version', '')} | {_num(peer.get('load_s'), 1)} | "
            f"{_num(peer.get('start_s'), 1)} | `{command}` |"
        )
    lines += [
        "",
        "## Machine",
        "",
        f"- {m['cpu_model']}, nproc {m['nproc']}, {m['memory_gb']:.1f} GB memory",
        f"- {m['os']}, kernel {m['kernel']}, Python {m['python']}",
        "- versions: " + ", ".join(f"{k} {val}" for k, val in v.items()),
        "",
    ]
    return "\n".join(lines)


def write_result(
    result: Result,
    name: str,
    markdown: Callable[[Result], str],
    *,
    folder: Path = RESULTS,
    keep_earlier: bool = False,
    echo: bool = True,
) -> Path:
    """Write ``<folder>/<UTC date>-<name>.json`` and ``.md``; return that path without suffix.

    The JSON comes first, so the numbers of a long run survive a report that fails. With
    ``keep_earlier``, a result already written under today's name stays and this one gets
    the UTC time too (``-HHMM``): for benchmarks run several times a day while tuning.
    ``echo`` prints the Markdown, which is how most benchmarks end.
    """
    folder.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    stem = folder / f"{now:%Y-%m-%d}-{name}"
    if keep_earlier and stem.with_suffix(".md").exists():
        stem = stem.with_name(f"{stem.name}-{now:%H%M}")
    text = json.dumps(result, indent=2, ensure_ascii=False) + "\n"
    stem.with_name(f"{stem.name}.json").write_text(text, encoding="utf-8")
    report = markdown(result)
    stem.with_name(f"{stem.name}.md").write_text(report, encoding="utf-8")
    if echo:
        print(report, end="" if report.endswith("\n") else "\n")
    return stem


def git(*args: str, check: bool = True) -> str:
    """``git args`` in this checkout; its output. For benchmarks that compare with a commit
    (``--compare REF``: a worktree of it)."""
    command = shutil.which("git") or "git"
    run = subprocess.run(  # noqa: S603 - our own arguments
        [command, *args], capture_output=True, text=True, cwd=RESULTS.parent.parent, check=check
    )
    return run.stdout.strip()


def finish(result: Result, name: str, markdown: Callable[[Result], str], *, as_json: bool) -> None:
    """How a CPU benchmark ends: its result as JSON on stdout (``--json``), or written under
    today's name (``write_result``, earlier results of the day kept)."""
    if as_json:
        print(json.dumps(result))
        return
    write_result(result, name, markdown, keep_earlier=True)


def compare_parser(doc: str | None) -> argparse.ArgumentParser:
    """The options of a benchmark that may run another commit's code beside this one
    (``compared_sides``) and ends with ``finish``: ``--compare REF`` and ``--json``; the
    description is the first line of the benchmark's docstring ``doc``."""
    parser = argparse.ArgumentParser(description=doc.split("\n", 1)[0] if doc else None)
    parser.add_argument(
        "--compare", metavar="REF", help="also run git commit REF's code, in turn with this one"
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON only")
    return parser


@contextmanager
def compared_sides(work: Path, compare: str | None) -> Iterator[dict[str, tuple[Path | None, str]]]:
    """``work`` made afresh, and the code each side of a comparison runs: name → (its
    checkout, None for this one; its short commit). "this" always; "ref" with ``compare``,
    a worktree of that commit in ``work``, removed afterwards."""
    if work.exists():
        git("worktree", "prune", check=False)
        shutil.rmtree(work)
    work.mkdir(parents=True)
    sides: dict[str, tuple[Path | None, str]] = {
        "this": (None, git("rev-parse", "--short", "HEAD"))
    }
    source = work / "ref-source"
    if compare:
        git("worktree", "add", "--detach", str(source), compare)
        sides["ref"] = (source, git("rev-parse", "--short", compare))
    try:
        yield sides
    finally:
        if compare:
            git("worktree", "remove", "--force", str(source), check=False)
