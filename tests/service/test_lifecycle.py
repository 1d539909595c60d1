"""Lifecycle of a real server on an on-disk store: one writer, graceful stop, data kept."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
import urllib.parse
from pathlib import Path

from tests.cli import kommunegraf
from tests.conftest import free_port, start_server
from tests.service.client import bearer, call

TOKEN = "lifecycle-token-0123456789abcdef"  # noqa: S105 - a test token
RUNAWAY = "SELECT (COUNT(*) AS ?c) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
DEADLINE = 3.0
KEPT = 'GRAPH <urn:kommunegraf:lifecycle> { <urn:kommunegraf:a> <urn:kommunegraf:b> "kept" }'


def _kommunegraf(*args: str) -> subprocess.CompletedProcess[str]:
    return kommunegraf(*args, timeout=120, inherit_settings=False)


def test_one_writer_graceful_stop_and_the_store_is_flushed(tmp_path: Path) -> None:
    store = tmp_path / "store"
    server = start_server(
        str(store), "--query-timeout", str(DEADLINE), env={"KOMMUNEGRAF_TOKEN": TOKEN}
    )
    try:
        written = call(
            server.url,
            "POST",
            "/sparql",
            body=urllib.parse.urlencode({"update": f"INSERT DATA {{ {KEPT} }}"}).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded", **bearer(TOKEN)},
        )
        assert written.status == 200, written.text

        # A second server on the same store stops at once with a clear message.
        second = _kommunegraf("serve", "--store", str(store), "--port", str(free_port()))
        assert second.returncode == 2
        assert "i bruk av en annen prosess" in second.stderr
        assert "locked by another process" in second.stderr
        assert "Traceback" not in second.stderr

        # SIGTERM while a request is in flight: that request still gets its answer.
        outcome: dict[str, object] = {}

        def in_flight() -> None:
            try:
                answer = call(server.url, "GET", "/sparql", params={"query": RUNAWAY})
                outcome["status"], outcome["body"] = answer.status, answer.text
            except OSError as error:
                outcome["error"] = error

        server.idle()
        thread = threading.Thread(target=in_flight)
        thread.start()
        server.wait_until_held(1)  # in flight: a sleep of 0.5 s could stop it before it came
        server.process.send_signal(signal.SIGTERM)
        thread.join(timeout=DEADLINE * 10)
        assert outcome.get("status") == 503, outcome
        assert "was stopped" in str(outcome["body"])
        # uvicorn re-raises the signal once shut down, so the exit status is SIGTERM's.
        assert server.process.wait(timeout=60) in (0, -signal.SIGTERM)
    finally:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait(timeout=30)
    assert "stopped, store closed" in server.log_text()

    # The lock is released and what was written is on disk.
    asked = _kommunegraf("query", "--store", str(store), f"ASK {{ {KEPT} }}")
    assert asked.returncode == 0, asked.stderr
    assert asked.stdout.strip() == "true"


def test_regression_port_in_use_is_one_clear_error_without_tracebacks(tmp_path: Path) -> None:
    """``serve`` on a taken port logged tracebacks while stopping the demo load it had
    started (a missing store.snapshots folder, "cannot schedule new futures after
    shutdown"); it now stops before starting anything, naming the port, exit 2."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        store = tmp_path / "store"
        refused = kommunegraf(
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--store",
            str(store),
            env={"KOMMUNEGRAF_DEMO": "true", "KOMMUNEGRAF_DEMO_CACHE": "off"},
            timeout=120,
        )
    assert refused.returncode == 2, refused.stderr
    assert f"port {port} er allerede i bruk" in refused.stderr
    assert f"port {port} is already in use" in refused.stderr
    assert "Traceback" not in refused.stderr and "Exception" not in refused.stderr
    assert not store.exists()  # nothing was opened, so nothing was left half-made


def _children(pid: int) -> list[int]:
    """The processes ``pid`` started (its query workers, a catalogue build)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def test_regression_orderly_stop_logged_catalogue_build_process_died() -> None:
    """systemd and Ctrl-C signal the whole process group: a catalogue build process still
    running was killed by the signal, and the service logged a warning that the build
    process had died on an orderly stop. Signalled as systemd does while a build runs
    (the one a write starts), the stop is quiet."""
    server = start_server(":memory:", "--query-workers", "1", env={"KOMMUNEGRAF_TOKEN": TOKEN})
    try:
        written = call(
            server.url,
            "PUT",
            "/store",
            params={"graph": "urn:kommunegraf:lifecycle"},
            body=b'<urn:kommunegraf:a> <urn:kommunegraf:b> "c" .\n',
            headers={"Content-Type": "application/n-triples", **bearer(TOKEN)},
        )
        assert written.status in (200, 201, 204), written.text
        deadline = time.monotonic() + 60
        while len(children := _children(server.process.pid)) < 2:  # the worker, the build
            assert time.monotonic() < deadline, "no catalogue build started after a write"
            time.sleep(0.02)
        for pid in [server.process.pid, *children]:
            os.kill(pid, signal.SIGTERM)
        assert server.process.wait(timeout=60) in (0, -signal.SIGTERM)
    finally:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait(timeout=30)
    log = server.log_text()
    assert "stopped, store closed" in log
    assert "catalogue build failed" not in log
    assert "Traceback" not in log
