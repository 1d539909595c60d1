"""Fixtures shared by every test folder."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from rdflib import Graph

from loaders.namespaces import DEFAULT_BASE_IRI
from loaders.reference import reference_graph

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


@dataclass(frozen=True)
class Server:
    url: str
    process: subprocess.Popen[bytes]


def start_server(
    store: str, *args: str, env: dict[str, str] | None = None, timeout: float = 60.0
) -> Server:
    """Start ``kommunegraf serve`` as a real process and wait until it answers.

    ``env`` adds environment variables (e.g. ``KOMMUNEGRAF_TOKEN``, which is never
    passed as a flag so it cannot show in a process list).
    """
    port = free_port()
    env = {**os.environ, "KOMMUNEGRAF_BASE_IRI": f"http://127.0.0.1:{port}/", **(env or {})}
    process = subprocess.Popen(
        [sys.executable, "-m", "service", "serve", "--port", str(port), "--store", store, *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                process.stderr.read().decode() if process.stderr else "server exited"
            )
        try:
            with urllib.request.urlopen(url + "/sparql?query=ASK%7B%7D", timeout=2):
                return Server(url, process)
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("server did not start in time")


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    """One real HTTP server over an in-memory store with the reference data."""
    running = start_server(":memory:")
    yield running
    running.process.terminate()
    running.process.wait(timeout=30)
