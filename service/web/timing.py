"""The phases of one request, as a ``Server-Timing`` header (wall milliseconds).

Why: an upload's wall time goes to steps in different places (the check in a query
worker, the takeover lookups, the changes, the audit's counts, the write), and on a
loaded machine only a breakdown of the same request says which one to cut
(``bench/upload.py`` reads the header). The header is the standard one browsers' network
panels show; it names steps and their durations, never data.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_PHASES: ContextVar[list[tuple[str, float]] | None] = ContextVar(
    "kommunegraf_request_phases", default=None
)


@contextmanager
def timed_phases() -> Iterator[list[tuple[str, float]]]:
    """Collect the ``phase``s run within (in this task and the tasks it awaits)."""
    phases: list[tuple[str, float]] = []
    token = _PHASES.set(phases)
    try:
        yield phases
    finally:
        _PHASES.reset(token)


@contextmanager
def phase(name: str) -> Iterator[None]:
    """Time the block as ``name`` when a request collects its phases (else: nothing)."""
    phases = _PHASES.get()
    if phases is None:
        yield
        return
    started = time.perf_counter()
    try:
        yield
    finally:
        phases.append((name, (time.perf_counter() - started) * 1000))


def server_timing(phases: list[tuple[str, float]]) -> str:
    """The header's value.

    >>> server_timing([("check", 12.345), ("write", 3.0)])
    'check;dur=12.3, write;dur=3.0'
    """
    return ", ".join(f"{name};dur={ms:.1f}" for name, ms in phases)
