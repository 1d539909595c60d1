"""Issue 17's "Done when", measured on the checkout: ``python -m bench.architecture``.

What it counts, each against the issue's limit:

- the modules at ``service/``'s top level (at most 8);
- the modules of ``service/`` and ``loaders/`` over 600 lines (none; the demo generators
  in ``loaders/demo/`` aside);
- the places that catch the query errors and turn them into an answer (at most 2): an
  ``except ServiceError`` or a handler registered for ``ServiceError``;
- the pairs ``duplicates --repo service`` and ``duplicates --repo loaders`` list (at most
  16 together), when the ``duplicates`` command is on the PATH;
- that the "add a class" recipe and its test are there.

It writes bench/results/<date>-architecture.md and .json. Nothing here is a timing, so
a busy machine does not change the result (``duplicates`` gets 120 s to read the tree).
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from bench.report import write_result

BENCH = Path(__file__).resolve().parent
REPOSITORY = BENCH.parent
LINE_LIMIT = 600


def _lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def _long_modules() -> dict[str, int]:
    found = {}
    for folder in ("service", "loaders"):
        for path in sorted((REPOSITORY / folder).rglob("*.py")):
            relative = path.relative_to(REPOSITORY)
            if relative.parts[:2] == ("loaders", "demo"):
                continue
            if (count := _lines(path)) > LINE_LIMIT:
                found[str(relative)] = count
    return found


def _catch_sites() -> list[str]:
    sites = []
    pattern = re.compile(r"^\s*except\b[^:]*\bServiceError\b|add_exception_handler\(ServiceError")
    for path in sorted((REPOSITORY / "service").rglob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if pattern.search(line):
                sites.append(f"{path.relative_to(REPOSITORY)}:{number}")
    return sites


def _duplicates(folder: str) -> tuple[int | None, list[str]]:
    command = shutil.which("duplicates")
    if command is None:
        return None, ["duplicates: not on the PATH"]
    done = subprocess.run(  # noqa: S603 - a fixed command on this checkout
        [command, "--repo", folder, "--most", "200", "--seconds", "120"],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        check=False,
    )
    lines = done.stdout.splitlines()
    first = lines[0] if lines else ""
    if first.startswith("no duplicates"):
        return 0, lines
    counted = re.match(r"(\d+) pairs? ", first)
    return (int(counted.group(1)) if counted else None), lines


def measure() -> dict[str, Any]:
    top = sorted(p.name for p in (REPOSITORY / "service").glob("*.py"))
    service_pairs, service_rows = _duplicates("service")
    loaders_pairs, loaders_rows = _duplicates("loaders")
    guide = (REPOSITORY / "docs" / "developers.md").read_text(encoding="utf-8")
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "commit": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607 - git of this checkout
            cwd=REPOSITORY,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip(),
        "service_top_level_modules": top,
        "modules_over_600_lines": _long_modules(),
        "query_error_catch_sites": _catch_sites(),
        "duplicates_service": service_pairs,
        "duplicates_loaders": loaders_pairs,
        "duplicates_rows": {"service": service_rows, "loaders": loaders_rows},
        "recipe": "## Recipe: add a class" in guide
        and (REPOSITORY / "tests" / "docs" / "test_developers.py").exists(),
    }


def report(found: dict[str, Any]) -> str:
    pairs = [found["duplicates_service"], found["duplicates_loaders"]]
    total = None if None in pairs else sum(pairs)
    checks = [
        ("modules at service/'s top level", len(found["service_top_level_modules"]), "≤ 8"),
        ("modules over 600 lines", len(found["modules_over_600_lines"]), "0"),
        ("places that catch query errors", len(found["query_error_catch_sites"]), "≤ 2"),
        (
            "duplicates pairs (service + loaders)",
            f"{total} ({pairs[0]} + {pairs[1]})",
            "≤ 16",
        ),
        ("'add a class' recipe and its test", found["recipe"], "True"),
    ]
    lines = [
        f"# Issue 17 on {found['commit']} ({found['date']})",
        "",
        "| what | found | limit |",
        "| --- | --- | --- |",
        *(f"| {what} | {value} | {limit} |" for what, value, limit in checks),
        "",
        "Catch sites: " + ", ".join(found["query_error_catch_sites"]),
        "",
        "Over 600 lines: "
        + (", ".join(f"{k} ({v})" for k, v in found["modules_over_600_lines"].items()) or "none"),
        "",
        "```",
        *found["duplicates_rows"]["service"],
        *found["duplicates_rows"]["loaders"],
        "```",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    write_result(measure(), "architecture", report)


if __name__ == "__main__":
    main()
