"""Every example in docs/ runs as written against the demo data, so the guides cannot rot.

SPARQL blocks go to a real ``kommunegraf serve`` over HTTP and must answer with at
least one row (or triple): an example that finds nothing in the demo teaches nothing.
Python blocks and the notebook run against the same server. The shell blocks of each
guide run in order, like a reader following it, in a scratch folder that sees the
checkout's folders, with ``KOMMUNEGRAF_STORE`` pointing at a copy of the demo store.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pyoxigraph as ox
import pytest
from rdflib import Graph

from loaders.namespaces import DEFAULT_BASE_IRI
from tests.conftest import (
    REPOSITORY,
    Server,
    free_port,
    start_server,
    stop_server,
    wait_until_answers,
)
from tests.docs.examples import Example, all_examples, examples_in, guides, notebook_code
from tests.service.client import call

NOTEBOOKS = sorted((REPOSITORY / "docs" / "notebooks").glob("*.ipynb"))
BIN = Path(sys.executable).parent
SHOWN_BASE = DEFAULT_BASE_IRI
"""The address the guides show (a default install); replaced by the demo store's base."""
REFERENCE_GRAPH = "graph/reference/municipalities"


@pytest.fixture(scope="session")
def demo_base(demo_store: Path) -> str:
    """The base IRI the session's demo store was loaded with (tests/conftest.py)."""
    store = ox.Store.read_only(str(demo_store))
    try:
        for graph in store.named_graphs():
            name = getattr(graph, "value", "")
            if name.endswith(REFERENCE_GRAPH):
                return str(name[: -len(REFERENCE_GRAPH)])
    finally:
        del store
    raise AssertionError("the demo store has no reference graph")


def as_shown(text: str, base: str) -> str:
    """An example with the documented address replaced by the one the test serves.

    >>> as_shown("curl http://127.0.0.1:8000/sparql", "http://127.0.0.1:5000/")
    'curl http://127.0.0.1:5000/sparql'
    """
    return text.replace(SHOWN_BASE, base)


@pytest.fixture(scope="session")
def docs_server(
    demo_store: Path, demo_base: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A real server over a copy of the demo store (the shell examples use others)."""
    copy = tmp_path_factory.mktemp("docs-server") / "store"
    shutil.copytree(demo_store, copy)
    server = start_server(str(copy), env={"KOMMUNEGRAF_BASE_IRI": demo_base})
    yield server
    stop_server(server)


def _ids(example: Example) -> str:
    return example.name


def test_the_guides_have_examples() -> None:
    """Guard against an extractor that silently finds nothing."""
    assert len(all_examples("sparql")) >= 10
    assert all_examples("sh")


@pytest.mark.parametrize("example", all_examples("sparql"), ids=_ids)
def test_sparql_example(example: Example, docs_server: Server) -> None:
    answer = call(
        docs_server.url,
        "POST",
        "/sparql",
        body=example.text.encode(),
        headers={
            "Content-Type": "application/sparql-query",
            "Accept": "application/sparql-results+json, text/turtle;q=0.9",
        },
        timeout=300,
    )
    assert answer.status == 200, f"{example.name}: {answer.text}"
    if answer.media == "text/turtle":
        assert len(Graph().parse(data=answer.text, format="turtle")) > 0, example.name
        return
    result = json.loads(answer.body)
    if "boolean" not in result:
        assert result["results"]["bindings"], f"{example.name} finds nothing in the demo data"


def _run_python(code: str, name: str, server: Server) -> None:
    result = subprocess.run(
        [sys.executable, "-"],
        input=as_shown(code, server.url + "/"),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"{name}:\n{result.stdout}\n{result.stderr}"
    assert result.stdout.strip(), f"{name} printed nothing"


@pytest.mark.parametrize("example", all_examples("python"), ids=_ids)
def test_python_example(example: Example, docs_server: Server) -> None:
    _run_python(example.text, example.name, docs_server)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook(notebook: Path, docs_server: Server) -> None:
    _run_python(notebook_code(notebook), notebook.name, docs_server)


def _scratch(tmp_path: Path, demo_store: Path, base: str) -> tuple[Path, dict[str, str]]:
    """A working folder that sees the checkout, and the environment of a reader's shell."""
    work = tmp_path / "work"
    work.mkdir()
    for entry in REPOSITORY.iterdir():
        if entry.is_dir() and not entry.name.startswith(".") and entry.name != "data":
            (work / entry.name).symlink_to(entry)
    store = tmp_path / "store"
    shutil.copytree(demo_store, store)
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "KOMMUNEGRAF_STORE": str(store),
        "KOMMUNEGRAF_BASE_IRI": base,
        "KOMMUNEGRAF_DEMO": "false",
    }
    return work, env


def _serve(example: Example, work: Path, env: dict[str, str]) -> None:
    """Start each ``kommunegraf serve`` line on a free port, and see it answer."""
    for line in example.text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        port = free_port()
        command = f"exec {line.split(' #')[0].strip()} --port {port}"
        # The log in a file: a pipe nobody reads fills with the probes' access lines and
        # stops the server at its next write.
        with tempfile.TemporaryFile() as log:
            process = subprocess.Popen(
                ["bash", "-c", command], cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=log
            )
            try:
                wait_until_answers(
                    f"{example.name}: {shlex.quote(line)}",
                    process,
                    f"http://127.0.0.1:{port}/sparql?query=ASK%7B%7D",
                    Server("", process, log=log).log_text,
                )
            finally:
                process.terminate()
                process.wait(timeout=60)


SHELL_GUIDES = [p for p in guides() if any(e.language == "sh" and e.runs for e in examples_in(p))]


@pytest.mark.parametrize("guide", SHELL_GUIDES, ids=lambda p: p.name)
def test_shell_examples(guide: Path, demo_store: Path, demo_base: str, tmp_path: Path) -> None:
    work, env = _scratch(tmp_path, demo_store, demo_base)
    for example in examples_in(guide):
        if example.language != "sh" or not example.runs:
            continue
        if "serve" in example.flags:
            _serve(example, work, env)
            continue
        result = subprocess.run(
            ["bash", "-e", "-o", "pipefail", "-c", as_shown(example.text, demo_base)],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        assert result.returncode == example.expected_exit(), (
            f"{example.name} exited {result.returncode}, expected {example.expected_exit()}:\n"
            f"{result.stdout}\n{result.stderr}"
        )
