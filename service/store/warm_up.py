"""A query worker's warm-up for upload checks: the first check's one-off work, done ahead.

Why: an upload's check runs in a query worker (``worker_tasks.UploadCheck``), and the first
one in a process paid for everything later checks reuse: the imports of the loaders, the
shapes parsed and compiled, the ontology and the reference data read and indexed (Oslo's
workbook: 1.4-1.6 CPU s for the first check against 0.2 for the next, on top of 0.65 s of
imports). A user's first upload to a fresh service waited for all of it.

How it stays out of the way: a thread of its own at the lowest priority (``WARM_NICE``, like
the snapshot copy's ``snapshots.BUILD_NICE``, lower still: warming is optional), whose steps
each begin only once the worker has had no request for ``IDLE_BEFORE`` seconds, so start-up
and readiness, and a worker busy with queries, come first. A step holds the interpreter
while it runs (parsing is Python); a query arriving then shares it, with the switch interval
shortened (``SWITCH_INTERVAL``). That is not free: measured on the loaded machine, a light
query (0.2-0.3 ms) sent every 5 ms during the steps (imports 0.75-0.9 s, shapes 0.3-0.4 s,
reference data 0.75-0.8 s, the one-row check 0.1 s) took a median of 0.2-6 ms and at worst
10-54 ms (a long call in C holds the interpreter, or the nice-19 holder waits for a core):
once per worker, and only if a query comes within those two seconds after a second without
any. A check that comes meanwhile waits for the step running (``Warming.lock``), then does
the rest itself. Nothing is imported here beyond the standard library: every worker imports
this.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

WARM_NICE = 19
"""The warm-up thread's niceness: it gets a core only when nothing else wants it."""
IDLE_BEFORE = 1.0
"""Seconds without a request before a step begins (a fresh worker answers the start-up's
queries and the readiness probe first)."""
SWITCH_INTERVAL = 0.001
"""The interpreter's switch interval while a step runs (Python's default: 5 ms)."""


@dataclass(frozen=True)
class WarmUp:
    """What to warm: the checks of uploads for this base IRI, with this SHACL engine."""

    base_iri: str
    engine: str


class Warming:
    """The warm-up of one worker process: its thread, the worker's idleness it waits for,
    and the lock a check takes so that it never runs beside a step."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.done = threading.Event()
        self._idle = threading.Event()
        self._since = time.monotonic()
        self._thread: threading.Thread | None = None
        self._snapshot: Callable[[], str | None] = lambda: None

    def start(self, warm: WarmUp, snapshot: Callable[[], str | None] = lambda: None) -> None:
        """Begin warming on a thread of its own (once); ``snapshot``: the one the worker has
        open now, whose stored names are read last (``uploads.warm_steps``)."""
        self._snapshot = snapshot
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, args=(warm,), name="kommunegraf-warm-up", daemon=True
            )
            self._thread.start()

    def idle(self) -> None:
        """The worker waits for a request."""
        self._since = time.monotonic()
        self._idle.set()

    def busy(self) -> None:
        """The worker answers a request."""
        self._idle.clear()

    def _run(self, warm: WarmUp) -> None:
        with contextlib.suppress(OSError, AttributeError):  # not Linux: no thread niceness
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), WARM_NICE)
        try:
            # The imports of the loaders (rdflib, pyoxigraph's users) are a step of their own.
            self._step(lambda: importlib.import_module("service.access.uploads"))
            from service.access.uploads import warm_steps

            for step in warm_steps(warm.base_iri, warm.engine, self._snapshot):
                self._step(step)
        except Exception:  # warming is optional: the first check does the work instead
            log.exception("oppvarming av opplastingskontrollen feilet / warming up checks failed")
            return
        self.done.set()

    def _step(self, step: Callable[[], object]) -> object:
        self._wait_idle()
        with self.lock:
            interval = sys.getswitchinterval()
            sys.setswitchinterval(SWITCH_INTERVAL)
            try:
                return step()
            finally:
                sys.setswitchinterval(interval)

    def _wait_idle(self) -> None:
        while True:
            self._idle.wait()
            left = self._since + IDLE_BEFORE - time.monotonic()
            if left <= 0 and self._idle.is_set():
                return
            time.sleep(max(left, 0.05))


WARMING = Warming()
"""This process's warm-up (a query worker has one)."""
