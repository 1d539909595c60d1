"""The HTTP peers: how each is loaded with the data, started, probed and stopped.

Every peer is a real server process listening on 127.0.0.1 on a free port, started
in its own session (process group), so stopping it also stops its children
(kommunegraf's query workers). Peers run one at a time.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from bench.dataset import Dataset

ROOT = Path(__file__).resolve().parent.parent
MAIN_BIN = Path(sys.executable).parent
BENCH_VENV = Path(__file__).resolve().parent / ".venv"
RDFLIB_ENDPOINT_REQUIREMENT = "rdflib-endpoint[cli]==0.6.3"
"""Pinned so that reruns compare like with like; bump it on purpose."""

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _run(command: list[str], log: IO[str], **kwargs: object) -> None:
    log.write(f"$ {' '.join(command)}\n")
    log.flush()
    subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, check=True, **kwargs)  # type: ignore[call-overload]  # noqa: S603


def ensure_bench_venv(log: IO[str]) -> Path:
    """bench/.venv with rdflib-endpoint, kept apart from the project's dependencies."""
    stamp = BENCH_VENV / ".installed"
    if stamp.exists() and stamp.read_text(encoding="utf-8").strip() == RDFLIB_ENDPOINT_REQUIREMENT:
        return BENCH_VENV
    print(f"  creating {BENCH_VENV} with {RDFLIB_ENDPOINT_REQUIREMENT} ...", flush=True)
    python = shutil.which("python3") or sys.executable
    _run([python, "-m", "venv", str(BENCH_VENV)], log)
    pip = str(BENCH_VENV / "bin" / "pip")
    _run([pip, "install", "--quiet", "--upgrade", "pip"], log)
    _run([pip, "install", "--quiet", RDFLIB_ENDPOINT_REQUIREMENT], log)
    stamp.write_text(RDFLIB_ENDPOINT_REQUIREMENT + "\n", encoding="utf-8")
    return BENCH_VENV


@dataclass
class GroupUsage:
    """CPU seconds and resident memory of a server's process group."""

    cpu_main_s: float
    cpu_children_s: float
    rss_mb: float
    processes: int


def group_usage(leader: int) -> GroupUsage:
    """Sum over the live processes whose process group is ``leader``."""
    main = children = 0.0
    rss_kb = 0
    count = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) != leader:  # field 5 of stat: process group
            continue
        cpu = (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS  # utime + stime
        if int(entry.name) == leader:
            main += cpu
        else:
            children += cpu
        count += 1
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                rss_kb += int(line.split()[1])
    return GroupUsage(round(main, 2), round(children, 2), round(rss_kb / 1024, 1), count)


@dataclass
class Peer:
    """One server under test."""

    key: str
    title: str
    path: str
    """Where its SPARQL query endpoint is."""
    work: Path
    log_path: Path = field(init=False)
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)
    port: int = field(default=0, init=False)
    command_line: list[str] = field(default_factory=list, init=False)
    load_seconds: float = field(default=0.0, init=False)
    start_seconds: float = field(default=0.0, init=False)

    def __post_init__(self) -> None:
        self.work.mkdir(parents=True, exist_ok=True)
        self.log_path = self.work / "server.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    def load(self, dataset: Dataset) -> None:
        """Put the dataset where the server will read it (a fresh store)."""

    def command(self, port: int) -> list[str]:
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        return dict(os.environ)

    def version(self) -> str:
        raise NotImplementedError

    def start(self, ready_timeout: float = 600.0) -> None:
        self.port = free_port()
        self.command_line = self.command(self.port)
        log = self.log_path.open("ab")
        started = time.perf_counter()
        self.process = subprocess.Popen(  # noqa: S603 - our own argument list
            self.command_line,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=self.env(),
            cwd=self.work,
            start_new_session=True,
        )
        log.close()
        deadline = started + ready_timeout
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.title} exited with {self.process.returncode} while starting; "
                    f"see {self.log_path}:\n{_tail(self.log_path)}"
                )
            if self._ready():
                self.start_seconds = round(time.perf_counter() - started, 2)
                return
            time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"{self.title} did not answer within {ready_timeout:g} s")

    def _ready(self) -> bool:
        request = urllib.request.Request(  # noqa: S310 - loopback
            self.url,
            b"ASK {}",
            headers={
                "Content-Type": "application/sparql-query",
                "Accept": "application/sparql-results+json",
            },
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
                return 200 <= int(response.status) < 300
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            return False

    def usage(self) -> GroupUsage:
        assert self.process is not None
        return group_usage(self.process.pid)

    def stop(self) -> None:
        """SIGTERM to the peer's own process group, SIGKILL if it lingers."""
        if self.process is None:
            return
        group = self.process.pid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(group, signal.SIGKILL)
            self.process.wait(timeout=15)
        # Children (query workers) that outlived their parent.
        deadline = time.monotonic() + 5
        while group_usage(group).processes and time.monotonic() < deadline:
            time.sleep(0.1)
        if group_usage(group).processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)
        self.process = None


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _fresh(folder: Path) -> Path:
    if folder.exists():
        shutil.rmtree(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    return folder


class Kommunegraf(Peer):
    """``kommunegraf serve`` on a store restored from the N-Quads (one graph per source)."""

    def __init__(self, work: Path, query_workers: int, query_timeout: float) -> None:
        super().__init__("kommunegraf", "kommunegraf /sparql", "/sparql", work)
        self.query_workers = query_workers
        self.query_timeout = query_timeout
        self.store = work / "store"

    def env(self) -> dict[str, str]:
        # Only the flags below configure it: no remote store, token or base IRI from
        # the caller's environment.
        return {k: v for k, v in os.environ.items() if not k.startswith("KOMMUNEGRAF_")}

    def load(self, dataset: Dataset) -> None:
        for leftover in self.work.glob("store*"):  # the store, its snapshots, its audit log
            if leftover.is_dir():
                shutil.rmtree(leftover)
            else:
                leftover.unlink()
        started = time.perf_counter()
        with self.log_path.open("a") as log:
            _run(
                [
                    str(MAIN_BIN / "kommunegraf"),
                    "restore",
                    str(dataset.nquads),
                    "--store",
                    str(self.store),
                ],
                log,
                env=self.env(),
            )
        self.load_seconds = round(time.perf_counter() - started, 2)

    def command(self, port: int) -> list[str]:
        return [
            str(MAIN_BIN / "kommunegraf"),
            "serve",
            "--store",
            str(self.store),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--query-workers",
            str(self.query_workers),
            "--query-reserved",
            "1",
            "--query-timeout",
            f"{self.query_timeout:g}",
        ]

    def start(self, ready_timeout: float = 600.0) -> None:
        super().start(ready_timeout)
        # At most two minutes: with query_store "auto" and too little memory free the
        # workers stay on disk, and the run measures that.
        self._warm(min(ready_timeout, 120.0))

    def _warm(self, timeout: float) -> None:
        """Wait until every query worker answers from its in-memory copy of the store
        (``query_store``, metric ``kommunegraf_query_workers_in_memory``), so the timed
        runs measure the service as it serves once warm, not the copying (seconds of
        CPU per worker at start). A worker copies once its queries on disk have used as
        much CPU as the copy will (``COPY_CPU_PER_DISK_BYTE``), so the probes scan the
        store; each is a new text, so it reaches a worker (the answer cache would answer
        a repeat), one at a time, so they go round all workers. A server without the
        metric is not waited for.
        """
        deadline = time.perf_counter() + timeout
        probe = 0
        while time.perf_counter() < deadline:
            for _ in range(self.query_workers * 5):
                probe += 1
                request = urllib.request.Request(  # noqa: S310 - loopback
                    self.url,
                    f"SELECT (COUNT(*) AS ?n) WHERE {{ ?s ?p ?o }} # warm {probe}".encode(),
                    headers={"Content-Type": "application/sparql-query"},
                    method="POST",
                )
                with contextlib.suppress(OSError), urllib.request.urlopen(request, timeout=30):  # noqa: S310
                    pass
            metrics = f"http://127.0.0.1:{self.port}/metrics"
            try:
                with urllib.request.urlopen(metrics, timeout=10) as response:
                    text = response.read().decode()
            except OSError:
                return
            values = [
                float(line.split()[-1])
                for line in text.splitlines()
                if line.startswith("kommunegraf_query_workers_in_memory ")
            ]
            if not values or values[0] >= self.query_workers:
                return

    def version(self) -> str:
        run = subprocess.run(  # noqa: S603
            [str(MAIN_BIN / "kommunegraf"), "--version"], capture_output=True, text=True
        )
        return run.stdout.strip()


class OxigraphServe(Peer):
    """``oxigraph serve`` (the wheel's CLI) on a store made by ``oxigraph load``."""

    def __init__(self, work: Path) -> None:
        super().__init__("oxigraph", "oxigraph serve", "/query", work)
        self.store = work / "store"

    def load(self, dataset: Dataset) -> None:
        _fresh(self.store)
        started = time.perf_counter()
        with self.log_path.open("a") as log:
            _run(
                [
                    str(MAIN_BIN / "oxigraph"),
                    "load",
                    "--location",
                    str(self.store),
                    "--file",
                    str(dataset.nquads),
                ],
                log,
            )
        self.load_seconds = round(time.perf_counter() - started, 2)

    def command(self, port: int) -> list[str]:
        return [
            str(MAIN_BIN / "oxigraph"),
            "serve",
            "--location",
            str(self.store),
            "--bind",
            f"127.0.0.1:{port}",
            "--union-default-graph",
        ]

    def version(self) -> str:
        run = subprocess.run(  # noqa: S603
            [str(MAIN_BIN / "oxigraph"), "--version"], capture_output=True, text=True
        )
        return run.stdout.strip()


class RdflibEndpoint(Peer):
    """``rdflib-endpoint serve`` (its own venv) on the union of the graphs, in memory."""

    def __init__(self, work: Path, venv: Path) -> None:
        super().__init__("rdflib-endpoint", "rdflib-endpoint", "/", work)
        self.venv = venv
        self.union: Path | None = None

    def load(self, dataset: Dataset) -> None:
        # rdflib-endpoint parses the file itself at start-up; that time is start_seconds.
        self.union = dataset.union

    def command(self, port: int) -> list[str]:
        assert self.union is not None
        return [
            str(self.venv / "bin" / "rdflib-endpoint"),
            "serve",
            str(self.union),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ]

    def version(self) -> str:
        code = (
            "import importlib.metadata as m; "
            "print('rdflib-endpoint', m.version('rdflib-endpoint'), "
            "'/ rdflib', m.version('rdflib'))"
        )
        run = subprocess.run(  # noqa: S603
            [str(self.venv / "bin" / "python"), "-c", code], capture_output=True, text=True
        )
        return run.stdout.strip()
