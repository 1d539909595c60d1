"""How ``make test`` (``pytest -n 2 --dist loadfile``) hands the test files to its workers.

Why not xdist's own order: it hands out files by their number of tests, largest first, and
a worker takes its next file while the last two tests of its current one still run. A
file of a few slow tests (the journeys, the docs' shell examples) then came last and one
worker ran it alone while the other had stopped. Here the slowest files go first (their
seconds in the newest ``bench/results/*-testtime.json``, which ``python -m bench.testtime``
writes), so what is left at the end is small and both workers finish together.

Files that share a session fixture costly to set up run on one worker, as one unit: each
worker sets up its own copy of a session fixture, so split over two workers it is made
twice. ``SHARED`` names them.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from pathlib import Path

from xdist.scheduler import LoadFileScheduling
from xdist.workermanage import WorkerController

RESULTS = Path(__file__).resolve().parents[1] / "bench" / "results"

SHARED = {
    # The national demo server (tests/journeys/conftest.py ``national``): a copy of the
    # demo store and a start on 480,000 triples.
    "tests/journeys/test_journeys.py": "tests/journeys",
    "tests/journeys/test_portfolio.py": "tests/journeys",
    # The fixture site and chromium of the browser tests (tests/ui/conftest.py).
    "tests/ui/test_accessibility.py": "tests/ui",
    "tests/ui/test_browser.py": "tests/ui",
    # The session's server of the security tests (tests/security/conftest.py).
    "tests/security/test_hostile_input.py": "tests/security",
    "tests/security/test_issue16_regressions.py": "tests/security",
    "tests/security/test_openapi_fuzz.py": "tests/security",
    "tests/security/test_sparql_checks.py": "tests/security",
    "tests/security/test_sparql_property.py": "tests/security",
    "tests/security/test_write_protection.py": "tests/security",
}
"""Test file -> the unit it runs in, for files that must share one worker."""

SECONDS_PER_TEST = 0.5
"""A file's weight when no timing of it is known: a guess per test (most take less)."""


def measured_seconds(results: Path = RESULTS) -> dict[str, float]:
    """The seconds each test file took in the newest ``make test`` timing, by file.

    >>> measured_seconds(Path("/nonexistent"))
    {}
    """
    found = sorted(results.glob("*-testtime.json"))
    if not found:
        return {}
    try:
        files = json.loads(found[-1].read_text(encoding="utf-8")).get("files", [])
        return {str(name): float(seconds) for name, seconds in files}
    except (OSError, ValueError, TypeError):
        return {}  # a damaged or older file: the order only gets worse, never wrong


def unit_of(nodeid: str) -> str:
    """The unit a test runs in: its file, or the unit its file shares.

    >>> unit_of("tests/journeys/test_portfolio.py::test_x[a::b]")
    'tests/journeys'
    >>> unit_of("tests/loaders/test_cells.py::test_y")
    'tests/loaders/test_cells.py'
    """
    path = nodeid.split("::", 1)[0]
    return SHARED.get(path, path)


def heaviest_first(
    units: dict[str, dict[str, bool]], seconds: dict[str, float]
) -> list[tuple[str, dict[str, bool]]]:
    """The units ordered by their expected seconds, the largest first (ties: by name).

    >>> order = heaviest_first(
    ...     {
    ...         "a.py": {"a.py::t": False},
    ...         "b.py": {"b.py::t": False},
    ...         "tests/journeys": {"tests/journeys/test_journeys.py::t": False},
    ...     },
    ...     {"b.py": 9.0, "tests/journeys/test_journeys.py": 5.0,
    ...      "tests/journeys/test_portfolio.py": 5.0},
    ... )
    >>> [unit for unit, _ in order]
    ['tests/journeys', 'b.py', 'a.py']
    """

    # The timing lists the slowest files only: one it leaves out took less than those.
    ceiling = min(seconds.values(), default=float("inf"))

    def weight(unit: str, tests: dict[str, bool]) -> float:
        known = [s for path, s in seconds.items() if unit_of(path) == unit]
        return sum(known) if known else min(ceiling, SECONDS_PER_TEST * len(tests))

    return sorted(units.items(), key=lambda item: (-weight(*item), item[0]))


class SlowestFileFirst(LoadFileScheduling):  # type: ignore[misc]  # xdist has no types
    """``--dist loadfile`` with ``SHARED`` files as one unit and the slowest units first."""

    workqueue: OrderedDict[str, dict[str, bool]]
    _ordered = False

    def _split_scope(self, nodeid: str) -> str:
        return unit_of(nodeid)

    def _assign_work_unit(self, node: WorkerController) -> None:
        if not self._ordered:  # the queue is complete when the first unit is handed out
            ordered = heaviest_first(dict(self.workqueue), measured_seconds())
            self.workqueue = OrderedDict(ordered)
            self._ordered = True
        super()._assign_work_unit(node)
