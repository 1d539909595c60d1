"""Fixtures shared by every test folder."""

from __future__ import annotations

import fcntl
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import pytest
from rdflib import Graph

from loaders.namespaces import DEFAULT_BASE_IRI
from loaders.reference import reference_graph
from service.store.demo_cache import inputs_digest

REPOSITORY = Path(__file__).resolve().parents[1]
SHARED = REPOSITORY.parent / "shared"


@pytest.fixture(scope="session")
def reference() -> Graph:
    """All bundled reference data, parsed once."""
    return reference_graph(DEFAULT_BASE_IRI)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


START_DEADLINE = 600.0
"""How long a started server may take to answer before a test gives up: a last resort for
a start that never ends, not a measure of speed. A ``kommunegraf serve`` start costs a few
CPU seconds (imports, the reference data, query workers, the page templates); under
``make test``'s two workers beside other work it took over 60 s, the old limit, and the
security tests' server failed their set-up. So the wait follows the server's own signals
(its process alive, its answer, the progress a 503 reports) and only a hung start runs
into this; the error then says how far the server came and how much CPU it had."""


def _cpu_seconds(pid: int) -> float:
    """CPU seconds the process and its finished children used (``/proc``)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def wait_until_answers(
    name: str,
    process: subprocess.Popen[bytes],
    probe: str,
    log_text: Callable[[], str],
    deadline: float = START_DEADLINE,
) -> None:
    """Return once ``probe`` answers 2xx. Raise with the server's log once its process
    has exited, or, after ``deadline`` seconds, with its last answer (a starting
    kommunegraf answers 503 with the load's progress), its CPU time and the machine's
    load: a slow start on a busy machine and a hung one read differently."""
    started = time.monotonic()
    last = "no answer yet"
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited ({process.returncode}): {log_text()[-3000:]}")
        try:
            with urllib.request.urlopen(probe, timeout=10):
                return
        except urllib.error.HTTPError as error:
            last = f"{error.code} {error.read()[:400].decode(errors='replace')}"
        except OSError as error:
            last = f"no answer ({error})"
        waited = time.monotonic() - started
        if waited > deadline:
            raise RuntimeError(
                f"{name} did not answer {probe} within {waited:.0f} s (it used "
                f"{_cpu_seconds(process.pid):.1f} CPU s; load average "
                f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}); its last answer: "
                f"{last}\n{log_text()[-3000:]}"
            )
        time.sleep(0.2)


@dataclass(frozen=True)
class OxigraphServer:
    """A real ``oxigraph serve`` process: the remote store of the tests."""

    url: str
    process: subprocess.Popen[bytes]
    location: Path
    owns_location: bool = False
    log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def query_url(self) -> str:
        return self.url + "/query"

    @property
    def update_url(self) -> str:
        return self.url + "/update"

    @property
    def graph_store_url(self) -> str:
        return self.url + "/store"

    def env(self) -> dict[str, str]:
        """What makes ``kommunegraf serve`` use this server as its store.

        No graph store URL, so graph replacements take the path kommunegraf promises
        to be atomic (one SPARQL update request); ``test_remote_store.py`` covers the
        Graph Store Protocol path separately.
        """
        return {
            "KOMMUNEGRAF_STORE_URL": self.query_url,
            "KOMMUNEGRAF_UPDATE_URL": self.update_url,
        }

    def log_text(self) -> str:
        return _read_log(self.log)

    def stop(self) -> None:
        _stop(self.process)
        if self.log is not None:
            self.log.close()
        if self.owns_location:
            shutil.rmtree(self.location, ignore_errors=True)


def _read_log(log: IO[bytes] | None) -> str:
    """Everything a server has written to its log file so far."""
    if log is None:
        return ""
    log.flush()
    log.seek(0)
    return log.read().decode("utf-8", errors="replace")


def _oxigraph_command() -> str:
    beside = Path(sys.executable).with_name("oxigraph")
    found = str(beside) if beside.exists() else shutil.which("oxigraph")
    if found is None:
        raise RuntimeError("the oxigraph command is not installed (pip install oxigraph)")
    return found


def start_oxigraph_server(
    location: Path | None = None,
    *,
    union_default_graph: bool = True,
    timeout: float = START_DEADLINE,
) -> OxigraphServer:
    """Start ``oxigraph serve`` on a free loopback port and wait until it answers.

    ``union_default_graph`` is how kommunegraf needs a remote store configured: its
    queries expect the union of the named graphs as the default graph. Without
    ``location`` the store lives in a temporary folder that ``stop()`` deletes.
    """
    owned = location is None
    folder = (
        Path(tempfile.mkdtemp(prefix="kommunegraf-oxigraph-")) if location is None else location
    )
    port = free_port()
    command = [_oxigraph_command(), "serve", "--location", str(folder)]
    command += ["--bind", f"127.0.0.1:{port}"]
    if union_default_graph:
        command.append("--union-default-graph")
    log = tempfile.TemporaryFile()  # noqa: SIM115 - outlives this call; stop() closes it
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)
    running = OxigraphServer(f"http://127.0.0.1:{port}", process, folder, owned, log)
    try:
        wait_until_answers(
            "oxigraph serve", process, running.query_url + "?query=ASK%7B%7D", running.log_text
        )
    except BaseException:
        running.stop()
        raise
    return running


_VIRTUOSO_INI = """\
[Database]
DatabaseFile = {folder}/virtuoso.db
ErrorLogFile = {folder}/virtuoso.log
LockFile = {folder}/virtuoso.lck
TransactionFile = {folder}/virtuoso.trx
xa_persistent_file = {folder}/virtuoso.pxa
FileExtend = 200
Striping = 0
TempStorage = TempDatabase

[TempDatabase]
DatabaseFile = {folder}/virtuoso-temp.db
TransactionFile = {folder}/virtuoso-temp.trx
Striping = 0

[Parameters]
ServerPort = 127.0.0.1:{sql_port}
NumberOfBuffers = 20000
MaxDirtyBuffers = 15000
DirsAllowed = ., {folder}
CheckpointInterval = 60
ServerThreads = 20

[HTTPServer]
ServerPort = 127.0.0.1:{http_port}
ServerThreads = 10
MaxClientConnections = 10

[SPARQL]
ResultSetMaxRows = 1000000
MaxQueryExecutionTime = {timeout}
MaxQueryCostEstimationTime = 0
"""
"""The smallest ``virtuoso.ini`` that serves /sparql on loopback; what an operator
would set besides is in docs/remote-store.md."""


@dataclass(frozen=True)
class VirtuosoServer:
    """A real Virtuoso 7 process (Debian's ``virtuoso-opensource-7-bin``) with SPARQL
    Update granted to the ``SPARQL`` user, as docs/remote-store.md sets one up."""

    url: str
    process: subprocess.Popen[bytes]
    location: Path
    sql_port: int
    owns_location: bool = True
    log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def query_url(self) -> str:
        return self.url + "/sparql"

    @property
    def update_url(self) -> str:
        return self.url + "/sparql"

    @property
    def graph_store_url(self) -> str:
        return self.url + "/sparql-graph-crud"

    def env(self) -> dict[str, str]:
        return {"KOMMUNEGRAF_STORE_URL": self.query_url}

    def isql(self, statement: str) -> str:
        """Run one SQL statement as ``dba`` (the Debian package's initial password)."""
        done = subprocess.run(
            ["isql-vt", str(self.sql_port), "dba", "dba", f"exec={statement}"],
            capture_output=True,
            timeout=60,
            check=True,
        )
        return done.stdout.decode(errors="replace")

    def stop(self) -> None:
        _stop(self.process)
        if self.log is not None:
            self.log.close()
        if self.owns_location:
            shutil.rmtree(self.location, ignore_errors=True)


def start_virtuoso_server(
    *, query_timeout: int = 60, timeout: float = START_DEADLINE
) -> VirtuosoServer:
    """Start ``virtuoso-t`` on free loopback ports with a new database; wait until
    /sparql answers, then grant SPARQL Update. About 5 s (the database is created)."""
    binary = shutil.which("virtuoso-t")
    if binary is None:
        raise RuntimeError(
            "virtuoso-t is not installed: make virtuoso (apt-get install virtuoso-opensource-7-bin)"
        )
    folder = Path(tempfile.mkdtemp(prefix="kommunegraf-virtuoso-"))
    sql_port, http_port = free_port(), free_port()
    ini = folder / "virtuoso.ini"
    ini.write_text(
        _VIRTUOSO_INI.format(
            folder=folder, sql_port=sql_port, http_port=http_port, timeout=query_timeout
        )
    )
    log = tempfile.TemporaryFile()  # noqa: SIM115 - outlives this call; stop() closes it
    process = subprocess.Popen(
        [binary, "+configfile", str(ini), "+foreground"],
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    running = VirtuosoServer(f"http://127.0.0.1:{http_port}", process, folder, sql_port, log=log)
    probe = running.query_url + "?query=ASK%7B%7D"

    def log_text() -> str:
        return (folder / "virtuoso.log").read_text(errors="replace")

    try:
        wait_until_answers("virtuoso-t", process, probe, log_text, timeout)
        running.isql('GRANT SPARQL_UPDATE TO "SPARQL";')
    except BaseException:
        running.stop()
        raise
    return running


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=30)


@dataclass(frozen=True)
class Server:
    url: str
    process: subprocess.Popen[bytes]
    remote: OxigraphServer | VirtuosoServer | None = None
    """The remote store behind this server, when it runs on the remote backend."""
    log: IO[bytes] | None = field(default=None, repr=False, compare=False)
    """Its stderr (the service's log lines), in a file so a full pipe never blocks it."""

    def log_text(self) -> str:
        """Everything the server has logged so far."""
        return _read_log(self.log)

    def wait_for_the_catalogues(self, timeout: float = 120.0) -> None:
        """Until the catalogues a start builds (by queries in the query workers) are
        built: before a test that holds or counts the workers' queries."""
        deadline = time.monotonic() + timeout
        while "catalogue built" not in self.log_text() and time.monotonic() < deadline:
            time.sleep(0.1)

    def idle(self) -> None:
        """Until the server runs no query: its start's catalogue build is done and
        ``/metrics`` has measured the store (by a query, again after each write). Then
        ``active_queries`` counts only a test's own."""
        self.wait_for_the_catalogues()
        self.wait_until_held(0, exactly=True)

    def active_queries(self) -> int:
        """Queries running or waiting for a worker now (``kommunegraf_active_queries``)."""
        with urllib.request.urlopen(f"{self.url}/metrics", timeout=60) as answer:
            for line in answer.read().decode().splitlines():
                if line.startswith("kommunegraf_active_queries "):
                    return int(float(line.split()[1]))
        return 0

    def wait_until_held(self, count: int, timeout: float = 120.0, exactly: bool = False) -> None:
        """Until the server holds ``count`` queries (running or waiting; at least, unless
        ``exactly``), after ``idle``: for a test that sent queries from threads and must
        not go on before they are in (a sleep of half a second lost that race on a busy
        machine)."""
        deadline = time.monotonic() + timeout
        while True:
            held = self.active_queries()
            if held == count or (held > count and not exactly):
                return
            assert time.monotonic() < deadline, f"{held} queries in the server, not {count}"
            time.sleep(0.02)

    def query_workers(self, timeout: float = 120.0) -> set[int]:
        """The server's query worker processes (embedded store).

        They are its spawned children, but not the only ones: a DCAT catalogue build
        runs in a spawned child of its own for a while after a start or a write. So the
        children are taken once their number is the pool's, as ``/metrics`` counts it.
        """
        deadline = time.monotonic() + timeout
        while True:
            listed = subprocess.run(
                ["ps", "-ww", "-o", "pid=,args=", "--ppid", str(self.process.pid)],
                capture_output=True,
                text=True,
            ).stdout.splitlines()
            spawned = {int(line.split()[0]) for line in listed if "spawn_main" in line}
            with urllib.request.urlopen(f"{self.url}/metrics", timeout=30) as answer:
                metrics = answer.read().decode()
            alive = [
                float(line.split()[1])
                for line in metrics.splitlines()
                if line.startswith("kommunegraf_query_workers ")
            ]
            if not alive or len(spawned) == alive[0] or time.monotonic() > deadline:
                return spawned
            time.sleep(0.5)


def start_server(
    store: str, *args: str, env: dict[str, str] | None = None, timeout: float = START_DEADLINE
) -> Server:
    """Start ``kommunegraf serve`` as a real process and wait until it answers a query
    (``wait_until_answers``; ``timeout`` is only the last resort, ``START_DEADLINE``).

    ``env`` adds environment variables (e.g. ``KOMMUNEGRAF_TOKEN``, which is never
    passed as a flag so it cannot show in a process list).
    """
    port = free_port()
    # No demo data unless asked for (KOMMUNEGRAF_DEMO=true in ``env``): loading it takes
    # a minute or more, and the ``demo_store`` fixture loads it once per session.
    env = {
        **os.environ,
        "KOMMUNEGRAF_BASE_IRI": f"http://127.0.0.1:{port}/",
        "KOMMUNEGRAF_DEMO": "false",
        # Never the user's copy of the demo (~/.cache/kommunegraf): a test that loads the
        # demo checks and loads it, unless it gives a folder of its own.
        "KOMMUNEGRAF_DEMO_CACHE": "off",
        # No warm-up of the checks of uploads (seconds of CPU per worker, in the
        # background) unless asked for: few tests' servers check an upload, and
        # tests/service/test_warm_checks.py tests the warm-up.
        "KOMMUNEGRAF_WARM_CHECKS": "false",
        **(env or {}),
    }
    log = tempfile.TemporaryFile()  # noqa: SIM115 - outlives this call, like the server
    process = subprocess.Popen(
        [sys.executable, "-m", "service", "serve", "--port", str(port), "--store", store, *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    running = Server(f"http://127.0.0.1:{port}", process, log=log)
    try:
        probe = running.url + "/sparql?query=ASK%7B%7D"
        wait_until_answers("kommunegraf serve", process, probe, running.log_text, timeout)
    except BaseException:
        _stop(process)
        raise
    return running


BACKENDS = ("embedded", "remote")
"""The stores every endpoint test runs against: pyoxigraph in-process, or a SPARQL server."""


def start_server_on(
    backend: str, *args: str, env: dict[str, str] | None = None, timeout: float = START_DEADLINE
) -> Server:
    """``start_server`` on either backend; for "remote" a fresh ``oxigraph serve`` too.

    For test modules that need their own server (a token, other flags) and still want
    to run on both backends: parametrise a fixture over ``BACKENDS`` and stop the
    result with ``stop_server``. "virtuoso" runs it on a fresh Virtuoso 7 instead
    (not in ``BACKENDS``: tests/service/test_third_party_stores.py covers it).
    """
    if backend == "embedded":
        return start_server(":memory:", *args, env=env, timeout=timeout)
    if backend not in (*BACKENDS, "virtuoso"):
        raise ValueError(f"unknown backend {backend!r}; expected one of {BACKENDS}")
    remote = start_virtuoso_server() if backend == "virtuoso" else start_oxigraph_server()
    try:
        # --store is ignored once KOMMUNEGRAF_STORE_URL is set.
        running = start_server(
            ":memory:", *args, env={**remote.env(), **(env or {})}, timeout=timeout
        )
    except BaseException:
        remote.stop()
        raise
    return Server(running.url, running.process, remote, log=running.log)


def stop_server(server: Server) -> None:
    """Stop the server, then its remote store if it has one."""
    _stop(server.process)
    if server.remote is not None:
        server.remote.stop()


@pytest.fixture(scope="session", params=BACKENDS)
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    """One real HTTP server with the reference data, on each backend in turn.

    "embedded" is an in-memory pyoxigraph store; "remote" is the same service with
    ``KOMMUNEGRAF_STORE_URL`` pointing at a real ``oxigraph serve`` process, so every
    test using this fixture shows both backends behave the same. Tests that start
    their own server (``test_query_deadline.py``) stay embedded-only: they test the
    embedded design (killing query worker processes), which a remote store does not
    have; ``test_remote_store.py`` covers the remote deadline.
    """
    running = start_server_on(request.param)
    yield running
    stop_server(running)


def demo_inputs_digest() -> str:
    """A hash of everything the demo store is built from, and of the libraries that build it.

    The build takes minutes (358 workbooks through the real loaders); keyed by this hash
    it is made once per change of its inputs rather than once per test run, and a stale
    store can never be used. The same key as the service's own copy of the demo
    (``service.store.demo_cache``), so both follow the same inputs.
    """
    return inputs_digest()


DEMO_CACHE = Path(
    os.environ.get("KGTESTS_DEMO_CACHE") or Path.home() / ".cache" / "kommunegraf-tests"
)
"""Where demo stores are cached: ``KGTESTS_DEMO_CACHE`` or ~/.cache. Not a KOMMUNEGRAF_*
name: every ``kommunegraf`` a test starts inherits the environment, and the service refuses
unknown KOMMUNEGRAF_* settings (a KOMMUNEGRAF_TEST_CACHE failed every such test)."""
DEMO_CACHE_KEEP = 4
"""How many demo stores (of different inputs) the cache keeps; each is about 100 MB."""


def _build_demo_store(target: Path) -> None:
    """Load the national demo the way a first run does: a real ``kommunegraf serve``
    on an empty store with the demo switched on, stopped once it is ready."""
    running = start_server(str(target), env={"KOMMUNEGRAF_DEMO": "true"}, timeout=1800)
    try:
        deadline = time.monotonic() + 1800
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(running.url + "/health/ready", timeout=5):
                    break
            except OSError:
                time.sleep(0.5)
        else:
            raise RuntimeError("the demo did not finish loading in time")
    finally:
        stop_server(running)


@pytest.fixture(scope="session")
def demo_store() -> Path:
    """A store folder with the reference data and the national demo (loaders/demo).

    Built once per change of its inputs (``demo_inputs_digest``) and shared by every test
    run on this machine, under a lock so that concurrent runs build it once. It is shared:
    open it read-only, or copy it before writing to it.
    """
    return cached_demo_store()


def cached_demo_store() -> Path:
    """The ``demo_store`` fixture's store, for code outside pytest (``bench/loadtest.py``)."""
    DEMO_CACHE.mkdir(parents=True, exist_ok=True)
    store = DEMO_CACHE / f"demo-{demo_inputs_digest()}"
    with open(DEMO_CACHE / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (store / "COMPLETE").exists():
            shutil.rmtree(store, ignore_errors=True)
            building = store.with_name(store.name + ".building")
            shutil.rmtree(building, ignore_errors=True)
            _build_demo_store(building / "store")
            (building / "COMPLETE").touch()
            building.rename(store)
            old = sorted(
                (p for p in DEMO_CACHE.glob("demo-*") if p != store and p.is_dir()),
                key=lambda p: p.stat().st_mtime,
            )
            for stale in old[: max(0, len(old) - DEMO_CACHE_KEEP + 1)]:
                shutil.rmtree(stale, ignore_errors=True)
        store.touch()
    return store / "store"


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object | None:
    """``--dist loadfile`` as ``tests.scheduling`` orders it (the slowest files first, the
    files sharing a costly session fixture on one worker); other modes as xdist has them."""
    if config.getoption("dist") != "loadfile":
        return None
    from tests.scheduling import SlowestFileFirst

    return SlowestFileFirst(config, log)
