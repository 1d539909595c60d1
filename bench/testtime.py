"""``make test`` timed as CI runs it, from a fresh clone: ``python -m bench.testtime``.

Issue 19's goal: ``make test`` (set-up, lint and the whole suite) stays under 20 minutes on
this 2-core machine. CI starts with nothing cached, so this harness does the same:

1. ``git clone`` of the checkout's ``main`` into a folder beside it (so ``../shared``
   resolves as in a checkout), then ``make test`` there with an empty demo store cache
   (``KGTESTS_DEMO_CACHE``): its build counts, as in CI;
2. pytest writes a JUnit XML file (``PYTEST_ADDOPTS``), from which the time of each test
   file is summed: with ``--dist loadfile`` a file runs on one worker, so the largest
   file is a floor for the suite and the sum over two workers the rest.

It writes bench/results/<date>-testtime.md and .json: the whole ``make test``, the
set-up and lint before pytest, pytest itself, the files by time and the slowest tests.
Wall times on a shared machine depend on what else runs, so the cores other processes
kept busy are recorded too (run it on a quiet machine).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

from bench.loadgen import busy_cores, cpu_sample
from bench.report import write_result

BENCH = Path(__file__).resolve().parent
REPOSITORY = BENCH.parent


def _file_of(case: ET.Element) -> str:
    """The test file of a JUnit test case (``tests.service.test_x`` -> its path)."""
    classname = case.get("classname", "")
    parts = classname.split(".")
    while parts and not parts[-1].startswith("test_") and parts[-1][:1].isupper():
        parts.pop()  # a test class inside the module
    return "/".join(parts) + ".py"


def summarise(junit: Path) -> dict[str, object]:
    """Per-file times, the slowest tests and the counts from pytest's JUnit XML."""
    root = ET.parse(junit).getroot()  # noqa: S314 - our own pytest's output
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    assert suite is not None
    per_file: defaultdict[str, float] = defaultdict(float)
    tests: list[tuple[float, str]] = []
    for case in suite.iter("testcase"):
        seconds = float(case.get("time", "0"))
        per_file[_file_of(case)] += seconds
        tests.append((seconds, f"{_file_of(case)}::{case.get('name')}"))
    tests.sort(reverse=True)
    return {
        "pytest_seconds": float(suite.get("time", "0")),
        "tests": int(suite.get("tests", "0")),
        "failures": int(suite.get("failures", "0")) + int(suite.get("errors", "0")),
        "skipped": int(suite.get("skipped", "0")),
        "summed_test_seconds": round(sum(per_file.values()), 1),
        "files": [
            (name, round(s, 1))
            for name, s in sorted(per_file.items(), key=lambda item: -item[1])[:30]
        ],
        "slowest": [(name, round(s, 1)) for s, name in tests[:30]],
    }


def run(folder: Path) -> dict[str, object]:
    git, make = shutil.which("git"), shutil.which("make")
    assert git is not None and make is not None, "git and make are needed"
    if folder.exists():
        shutil.rmtree(folder)
    clone = [git, "clone", "-q", "--branch", "main", str(REPOSITORY), str(folder)]
    subprocess.run(clone, check=True)  # noqa: S603 - our own checkout
    commit = subprocess.run(  # noqa: S603 - our own clone
        [git, "-C", str(folder), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    cache = Path(tempfile.mkdtemp(prefix="kommunegraf-testtime-cache-"))
    junit = folder / "build" / "junit.xml"
    env = {
        **os.environ,
        "KGTESTS_DEMO_CACHE": str(cache),
        "PYTEST_ADDOPTS": f"--junitxml={junit}",
    }
    load_before = cpu_sample()
    started = time.monotonic()
    done = subprocess.run([make, "test"], cwd=folder, env=env, check=False)  # noqa: S603
    seconds = time.monotonic() - started
    load = busy_cores(load_before, cpu_sample())
    shutil.rmtree(cache, ignore_errors=True)
    summary = summarise(junit) if junit.exists() else {}
    pytest_seconds = float(str(summary.get("pytest_seconds", 0.0)))
    return {
        "date": dt.date.today().isoformat(),
        "commit": commit,
        "exit": done.returncode,
        "make_test_seconds": round(seconds, 1),
        "before_pytest_seconds": round(seconds - pytest_seconds, 1) if summary else None,
        "busy_cores_meanwhile": load,
        "cores": len(os.sched_getaffinity(0)),
        **summary,
    }


def _minutes(seconds: object) -> str:
    value = float(str(seconds or 0))
    return f"{int(value // 60)} min {value % 60:.0f} s"


def report(result: dict[str, object]) -> str:
    lines = [
        f"# make test from a fresh clone, {result['date']} (main {result['commit']})",
        "",
        f"- make test: **{_minutes(result['make_test_seconds'])}** (exit {result['exit']}; "
        "the goal is under 20 min)",
        f"- set-up and lint before pytest: {_minutes(result.get('before_pytest_seconds'))}",
        f"- pytest: {_minutes(result.get('pytest_seconds'))}, {result.get('tests')} tests, "
        f"{result.get('failures')} failed, {result.get('skipped')} skipped; the tests' own "
        f"times sum to {_minutes(result.get('summed_test_seconds'))} over two workers",
        f"- cores busy meanwhile (this run included): {result['busy_cores_meanwhile']} "
        f"of {result['cores']}",
        "",
        "## Files by time (one worker each: --dist loadfile)",
        "",
        "| file | s |",
        "|---|---:|",
    ]
    lines += [f"| {name} | {s} |" for name, s in result.get("files", [])]  # type: ignore[attr-defined]
    lines += ["", "## Slowest tests (set-up included)", "", "| test | s |", "|---|---:|"]
    lines += [f"| {name} | {s} |" for name, s in result.get("slowest", [])]  # type: ignore[attr-defined]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--folder",
        type=Path,
        default=REPOSITORY.parent / "testtime-clone",
        help="where to clone (beside the checkout, so ../shared resolves); replaced",
    )
    parser.add_argument("--results", type=Path, default=BENCH / "results")
    args = parser.parse_args()
    result = run(args.folder)
    write_result(result, "testtime", report, folder=args.results)
    return 0 if result["exit"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
