"""How much CPU a ``kommunegraf`` command costs to start: ``python -m bench.cli_start``.

Side by side in one run: this checkout and a peer revision (``--peer REF``, by
default the last commit before the commands were imported lazily), each run as
``python -m service ARGS`` from its own tree, alternating, ``--repeat`` times. It
counts the children's user+sys CPU seconds (``resource.RUSAGE_CHILDREN``), not wall
time, so a busy machine changes the numbers less, and reports medians and the ratio
peer/checkout. Writes bench/results/<date>-cli-start.md and .json.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.report import write_result

BENCH = Path(__file__).resolve().parent
REPOSITORY = BENCH.parent
PEER = "91191cc"
"""The commit before lazily loaded commands (main at the time)."""
WORKBOOK = "loaders/demo/data/kommune-4211-gjerstad.xlsx"
COMMANDS: dict[str, list[str]] = {
    "--help": ["--help"],
    "serve --help": ["serve", "--help"],
    "config": ["config"],
    "validate (one workbook)": ["validate", WORKBOOK],
}


def _cpu(tree: Path, args: list[str]) -> float:
    """CPU seconds (user+sys) of ``python -m service ARGS`` run in ``tree``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(  # noqa: S603 - our own argument list
        [sys.executable, "-m", "service", *args],
        cwd=tree,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def unpack_revision(revision: str, folder: Path) -> Path:
    """This repository's tree at ``revision``, unpacked into ``folder``: a peer to run."""
    archive = subprocess.run(  # noqa: S603 - git of this checkout, a revision given
        ["git", "-C", str(REPOSITORY), "archive", revision],  # noqa: S607
        capture_output=True,
        check=True,
    )
    subprocess.run(  # noqa: S603 - unpacks the archive git made
        ["tar", "-x", "-C", str(folder)],  # noqa: S607
        input=archive.stdout,
        check=True,
    )
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer", default=PEER, help="git revision to compare with")
    parser.add_argument("--repeat", type=int, default=5)
    options = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="cli-start-peer-") as folder:
        peer = unpack_revision(options.peer, Path(folder))
        for name, args in COMMANDS.items():
            ours, theirs = [], []
            for _ in range(options.repeat):
                ours.append(_cpu(REPOSITORY, args))
                theirs.append(_cpu(peer, args))
            here, there = statistics.median(ours), statistics.median(theirs)
            results[name] = {"checkout_s": here, "peer_s": there, "ratio": there / here}
            print(f"{name}: {here:.2f} s against {there:.2f} s ({there / here:.1f}x)", flush=True)
    record = {"peer": options.peer, "repeat": options.repeat, "cpu_seconds": results}
    write_result(record, "cli-start", report, echo=False)


def report(record: dict[str, Any]) -> str:
    lines = [
        f"# CLI start, CPU seconds (user+sys), median of {record['repeat']}",
        "",
        f"| command | checkout | peer {record['peer']} | peer / checkout |",
        "|---|---|---|---|",
        *(
            f"| `{name}` | {r['checkout_s']:.2f} | {r['peer_s']:.2f} | {r['ratio']:.1f}x |"
            for name, r in record["cpu_seconds"].items()
        ),
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
