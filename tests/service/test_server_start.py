"""``tests.conftest.wait_until_answers``: how every test waits for the servers it starts.

A start that is merely slow (a busy machine: ``make test``'s two workers beside other
work) is waited for as long as the server says it is getting on; only a process that
exits, or a start past the last-resort deadline, fails, and says why.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import tempfile
import time

import pytest

from tests.conftest import free_port, wait_until_answers

SLOW_START = """
import http.server, sys
left = int(sys.argv[2])
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        global left
        left -= 1
        status, body = (503, b'{"progress": {"step": "reference"}}') if left >= 0 else (200, b"ok")
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""


def _start(not_ready_answers: int) -> tuple[subprocess.Popen[bytes], str]:
    """A server answering 503 (with a progress) that many times, then 200; returned
    once it listens (a connection without a request is not an answer)."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", SLOW_START, str(port), str(not_ready_answers)],
        stderr=subprocess.DEVNULL,
    )
    while process.poll() is None:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return process, f"http://127.0.0.1:{port}/sparql"
        time.sleep(0.05)
    raise RuntimeError("the slow server did not start")


def test_regression_a_slow_start_failed_the_set_up() -> None:
    """Before: 60 s of wall time, then "server did not start in time", however far the
    server had come (tests/security's set-up errors under load). Now a server that
    answers 503 while it loads is waited for, whatever the count of its 503s."""
    process, probe = _start(not_ready_answers=5)
    try:
        wait_until_answers("slow", process, probe, lambda: "", deadline=120)
    finally:
        process.kill()
        process.wait()


def test_a_start_past_the_deadline_says_how_far_it_came() -> None:
    process, probe = _start(not_ready_answers=10**6)
    try:
        with pytest.raises(RuntimeError) as raised:
            wait_until_answers("stuck", process, probe, lambda: "the log's tail", deadline=1)
    finally:
        process.kill()
        process.wait()
    message = str(raised.value)
    assert "stuck did not answer" in message and "CPU s" in message
    assert '503 {"progress": {"step": "reference"}}' in message
    assert "the log's tail" in message


def test_a_server_that_exits_fails_at_once_with_its_log() -> None:
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [sys.executable, "-c", "import sys; sys.exit('address already in use')"],
            stderr=log,
        )

        def log_text() -> str:
            log.seek(0)
            return log.read().decode()

        with pytest.raises(RuntimeError, match="exited \\(1\\): address already in use"):
            wait_until_answers("gone", process, "http://127.0.0.1:9/", log_text, deadline=600)
