"""A query worker at the edges of its life: the server going away while it answers."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pyoxigraph as ox
import pytest

from service.store.worker_tasks import QueryRequest, worker_main


def test_regression_worker_logged_broken_pipe_when_the_server_stopped_after_answering(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """The pool closes its end of every worker's pipe when the service stops; a worker
    still answering then wrote to a closed pipe, and its BrokenPipeError (raised again by
    the error reply) ended in a traceback in the service's log on an orderly stop."""
    store = ox.Store(str(tmp_path / "store"))
    store.add(
        ox.Quad(
            ox.NamedNode("http://example.org/a"),
            ox.NamedNode("http://example.org/b"),
            ox.Literal("c"),
        )
    )
    store.flush()
    del store
    context = multiprocessing.get_context("spawn")  # as the pool starts its workers
    parent, child = context.Pipe()
    worker = context.Process(target=worker_main, args=(child,), name="kommunegraf-query")
    worker.start()
    child.close()
    request = QueryRequest(
        "SELECT * WHERE { ?s ?p ?o }",
        str(tmp_path / "store"),
        "application/sparql-results+json",
        None,
    )
    # Sent, then the server's end closed before the answer: the worker reads the request
    # (it is buffered), answers it, and finds nobody to send it to.
    parent.send(request)
    parent.close()
    worker.join(timeout=60)
    assert worker.exitcode == 0
    assert "Traceback" not in capfd.readouterr().err
