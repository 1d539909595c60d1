"""CPU seconds of one upload's check, cold and warm: ``python -m bench.checkcpu``.

What it measures: ``service.access.uploads.check_in_worker``, the check a query worker
runs for ``POST /upload`` (the stored names read, the workbook read, mapped and checked
with the compiled shapes, the plan made), of Oslo's workbook (the largest of the demo),
against a store holding the reference data and the shared catalogue, as issue 20's goal
"one municipality's workbook under 0.3 s" has it. Each round is a fresh process (the
store bulk-loaded into memory from N-Quads first, not timed) that reports:

- ``cold``: the first check in the process, with the imports it needs (what a query
  worker paid for a user's first upload before the warm-up);
- ``warmed``: the first check after ``uploads.warm_steps`` (what a warmed-up worker pays;
  absent for a commit without them);
- ``warm``: the median of ``--checks`` checks after those.

CPU seconds of the process (``time.process_time``), not wall time: usable while the
machine is loaded (a quiet machine still gives the truest numbers). ``--compare REF``
runs commit REF's code (a worktree of it) in turn with this one (ABBA rounds), and the
ratios this/REF are reported. Results go to ``bench/results/<date>-checkcpu.md`` and
``.json`` (``-HHMM`` when that day has one already).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.report import compare_parser, compared_sides, finish, ratio

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
WORK = BENCH / "work" / "checkcpu"
BASE = "http://127.0.0.1:8000/"
OSLO = "kommune-0301-oslo.xlsx"

_ROUND = """
import json, statistics, sys, time
import pyoxigraph as ox
from pathlib import Path
stored, workbook, checks, base = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
store = ox.Store()
store.bulk_load(Path(stored).read_bytes(), ox.RdfFormat.N_QUADS)
from service.store.worker_tasks import UploadCheck
data = Path(workbook).read_bytes()
check = UploadCheck(Path(workbook).name, data, ("bench", "admin", ()), base, "sparql", "")
cpu = time.process_time
began = cpu()
from service.access import uploads
plan = uploads.check_in_worker(store, check)
cold = cpu() - began
result = {"cold": cold, "triples": len(plan.graph), "issues": len(plan.report.issues)}
if len(sys.argv) > 5 and hasattr(uploads, "warm_steps"):
    for step in uploads.warm_steps(base, "sparql"):
        step()
    began = cpu()
    uploads.check_in_worker(store, check)
    result["warmed"] = cpu() - began
times = []
for _ in range(checks):
    began = cpu()
    uploads.check_in_worker(store, check)
    times.append(cpu() - began)
result["warm"] = statistics.median(times)
print(json.dumps(result))
"""
"""One round in a fresh process. ``cold`` needs a process that has never checked; the
warmed-up first check needs another one, so a round with ``warmed`` asked for (a sixth
argument) measures ``cold`` in one process and ``warmed`` in a second."""


def _stored() -> Path:
    """The reference data and the catalogue as a service's store holds them (N-Quads)."""
    import pyoxigraph as ox

    from loaders.demo import DATA_DIR, demo_sources
    from loaders.demo.generate import CATALOGUE_FILE
    from service.store.embedded import KnowledgeStore
    from service.store.sources import check_sources, load_reference, load_sources

    catalogue = next(p for p in demo_sources(DATA_DIR) if p.name == CATALOGUE_FILE)
    store = KnowledgeStore(WORK / "store")
    load_reference(store, BASE)
    (checked,) = check_sources([catalogue], BASE, workers=1)
    load_sources(store, [checked])
    path = WORK / "stored.nq"
    with path.open("wb") as output:
        store.dump(output, ox.RdfFormat.N_QUADS)
    store.close()
    return path


def _round(source: Path, stored: Path, workbook: Path, checks: int) -> dict[str, float]:
    """One round of ``source``'s code: ``cold`` and ``warm`` in one process, ``warmed``
    (the first check after the warm-up) in another."""
    env = {**os.environ, "PYTHONPATH": str(source)}

    def process(*extra: str) -> dict[str, float]:
        run = subprocess.run(  # noqa: S603 - our own arguments
            [sys.executable, "-c", _ROUND, str(stored), str(workbook), str(checks), BASE, *extra],
            capture_output=True,
            text=True,
            cwd=source,
            env=env,
            check=True,
        )
        found: dict[str, float] = json.loads(run.stdout.strip().splitlines()[-1])
        return found

    measured = process()
    warmed = process("warmed")
    if "warmed" in warmed:
        measured["warmed"] = warmed["warmed"]
    return measured


def run(args: argparse.Namespace) -> dict[str, Any]:
    from loaders.demo import DATA_DIR

    workbook = DATA_DIR / OSLO
    with compared_sides(WORK, args.compare) as code:
        stored = _stored()
        sides = {name: source or ROOT for name, (source, _) in code.items()}
        commits = {name: commit for name, (_, commit) in code.items()}
        rounds: dict[str, list[dict[str, float]]] = {name: [] for name in sides}
        for number in range(args.rounds):
            order = list(sides) if number % 2 == 0 else list(reversed(sides))
            for name in order:  # ABBA: both meet much the same load from the rest
                rounds[name].append(_round(sides[name], stored, workbook, args.checks))
                print(f"  {name} round {number}: {rounds[name][-1]}", flush=True)
    result: dict[str, Any] = {"workbook": OSLO, "checks": args.checks, "sides": {}}
    for name in sides:
        found = rounds[name]
        summary: dict[str, Any] = {"commit": commits[name], "rounds": found}
        for key in ("cold", "warmed", "warm"):
            values = [r[key] for r in found if key in r]
            summary[f"{key}_s"] = round(statistics.median(values), 4) if values else None
        result["sides"][name] = summary
    if "ref" in sides:
        this, ref = result["sides"]["this"], result["sides"]["ref"]
        result["ratios"] = {
            key: ratio(this[key], ref[key]) for key in ("cold_s", "warm_s", "warmed_s")
        }
        # What a user's first upload to a fresh service costs, before and after: the
        # reference's cold check against this one's warmed-up one.
        result["ratios"]["first_upload"] = ratio(this["warmed_s"], ref["cold_s"])
    return result


def markdown(result: dict[str, Any]) -> str:
    lines = [
        f"# CPU seconds of one upload's check ({result['workbook']})",
        "",
        "`python -m bench.checkcpu`: `check_in_worker` against a store holding the reference "
        "data and the catalogue; medians over the rounds (each a fresh process). `cold`: the "
        "first check in a process, imports included; `warmed`: the first after "
        f"`uploads.warm_steps`; `warm`: the median of {result['checks']} checks after.",
        "",
        "| side | commit | cold (s) | warmed (s) | warm (s) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, side in result["sides"].items():
        lines.append(
            f"| {name} | {side['commit']} | {side['cold_s']} | {side['warmed_s']} | "
            f"{side['warm_s']} |"
        )
    if "ratios" in result:
        ratios = result["ratios"]
        lines += [
            "",
            "Ratios this/ref: " + ", ".join(f"{key} {value}" for key, value in ratios.items()),
        ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = compare_parser(__doc__)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--checks", type=int, default=10, help="warm checks per round")
    args = parser.parse_args(argv)
    finish(run(args), "checkcpu", markdown, as_json=args.json)


if __name__ == "__main__":
    main()
