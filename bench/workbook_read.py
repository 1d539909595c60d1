"""Reading one workbook, this checkout against a peer: ``python -m bench.workbook_read``.

Issue 20's Oslo goal is validate + load under 0.3 s (``bench.demo``'s ``one_workbook``);
this measures its first part alone, side by side with a peer revision (``--peer REF``,
by default the main before the one-pass sheet scan), each in its own tree and process,
alternating, ``--repeat`` times:

- ``read_workbook`` of Oslo's workbook (the largest), the best of ``--reads`` reads in
  one process, as CPU seconds (``time.process_time``: a busy machine changes them less
  than wall time) and wall seconds;
- ``import loaders.spreadsheet`` in a fresh interpreter, CPU seconds of the child (the
  reading path imported openpyxl, and with it numpy, before);
- whether both read the same cells (values, types, places, errors, merges).

Reports medians and peer / checkout ratios; writes bench/results/<date>-workbook-read.md
and .json.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.cli_start import REPOSITORY, unpack_revision
from bench.report import write_result

PEER = "65af0e7"
"""main before the one-pass sheet scan (issue 20, fast reading)."""
WORKBOOK = "loaders/demo/data/kommune-0301-oslo.xlsx"

_READ = """
import hashlib, json, sys, time
from pathlib import Path
from loaders.workbook import read_workbook
path, reads = Path(sys.argv[1]), int(sys.argv[2])
cpu = wall = float("inf")
for _ in range(reads):
    c, w = time.process_time(), time.perf_counter()
    book = read_workbook(path)
    cpu, wall = min(cpu, time.process_time() - c), min(wall, time.perf_counter() - w)
cells = [
    (s.name, s.hidden, [[(repr(c.value), type(c.value).__name__, c.row, c.column,
      c.column_letter, c.error, c.merged_from) for c in r] for r in s.rows])
    for s in book.sheets
]
digest = hashlib.sha256(repr(cells).encode()).hexdigest()
print(json.dumps({"cpu_s": cpu, "wall_s": wall, "cells": digest}))
"""


def _read(tree: Path, reads: int) -> dict[str, Any]:
    """The best read of Oslo's workbook in ``tree``, and a digest of its cells."""
    answer = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", _READ, str(tree / WORKBOOK), str(reads)],
        cwd=tree,
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(answer.stdout)
    return result


def _import_cpu(tree: Path) -> float:
    """CPU seconds (user+sys) of a fresh interpreter importing the reading path."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-c", "import loaders.spreadsheet"], cwd=tree, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer", default=PEER, help="git revision to compare with")
    parser.add_argument("--repeat", type=int, default=5, help="processes per tree")
    parser.add_argument("--reads", type=int, default=20, help="reads per process; the best counts")
    options = parser.parse_args()
    runs: dict[str, dict[str, list[float]]] = {}
    digests: dict[str, set[str]] = {"checkout": set(), "peer": set()}
    with tempfile.TemporaryDirectory(prefix="workbook-read-peer-") as folder:
        peer = unpack_revision(options.peer, Path(folder))
        for _ in range(options.repeat):
            for name, tree in (("checkout", REPOSITORY), ("peer", peer)):
                read = _read(tree, options.reads)
                digests[name].add(read["cells"])
                run = runs.setdefault(name, {"read_cpu_s": [], "read_wall_s": [], "import_s": []})
                run["read_cpu_s"].append(read["cpu_s"])
                run["read_wall_s"].append(read["wall_s"])
                run["import_s"].append(_import_cpu(tree))
    medians = {
        name: {key: statistics.median(values) for key, values in run.items()}
        for name, run in runs.items()
    }
    record = {
        "peer": options.peer,
        "repeat": options.repeat,
        "reads": options.reads,
        "workbook": WORKBOOK,
        "same_cells": len(digests["checkout"] | digests["peer"]) == 1,
        "medians": medians,
        "ratios": {
            key: medians["peer"][key] / medians["checkout"][key] for key in medians["checkout"]
        },
    }
    write_result(record, "workbook-read", report)


def report(record: dict[str, Any]) -> str:
    medians, ratios = record["medians"], record["ratios"]
    labels = {
        "read_cpu_s": "read_workbook, CPU ms (best of each process)",
        "read_wall_s": "read_workbook, wall ms (best of each process)",
        "import_s": "import loaders.spreadsheet, CPU ms",
    }
    lines = [
        f"# Reading {Path(record['workbook']).name}: medians of {record['repeat']} processes",
        "",
        f"Same cells in both: {'yes' if record['same_cells'] else 'NO'}.",
        "",
        f"| | checkout | peer {record['peer']} | peer / checkout |",
        "|---|---|---|---|",
        *(
            f"| {label} | {medians['checkout'][key] * 1000:.1f} | "
            f"{medians['peer'][key] * 1000:.1f} | {ratios[key]:.2f}x |"
            for key, label in labels.items()
        ),
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
