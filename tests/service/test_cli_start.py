"""The ``kommunegraf`` command starts without importing what it does not run.

Every command imported every command's modules (openpyxl, pySHACL, the loaders):
a second of CPU for ``kommunegraf --help``, paid by the ~100 CLI runs of the suite;
and each worker process spawned under the ``kommunegraf`` script imported it all
again, since ``multiprocessing`` re-imports the script that started the parent.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click

from service.cli.commands import main

HEAVY = ("openpyxl", "pyshacl", "loaders.validation", "loaders.spreadsheet")


def _imported(stderr: str) -> set[str]:
    """The modules ``python -X importtime`` reports (its last column, stripped)."""
    return {
        line.rsplit("|", 1)[1].strip()
        for line in stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


def test_regression_help_imports_no_loaders() -> None:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "service", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "validate" in done.stdout and "import-archimate" in done.stdout
    imported = _imported(done.stderr)
    assert "service.cli.commands" in imported  # the report is read right
    assert not imported & set(HEAVY), sorted(imported & set(HEAVY))


def test_regression_spawned_worker_imports_no_cli(tmp_path: Path) -> None:
    """A child spawned from a script shaped like the ``kommunegraf`` console script."""
    script = tmp_path / "kommunegraf_like.py"
    script.write_text(
        "import multiprocessing, sys\n"
        "from service.cli import main\n"
        "def modules():\n"
        "    return sorted(m for m in sys.modules if m.startswith(('service', 'click')))\n"
        "if __name__ == '__main__':\n"
        "    with multiprocessing.get_context('spawn').Pool(1) as pool:\n"
        "        print(' '.join(pool.apply(modules)))\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["service", "service.cli"]


def test_every_listed_command_loads() -> None:
    """The lazy table names real commands: a typo there shows only when a command runs."""
    ctx = click.Context(main)
    names = main.list_commands(ctx)
    assert len(names) == 13
    for name in names:
        command = main.get_command(ctx, name)
        assert isinstance(command, click.Command), name
        assert any(p.name == "config" for p in command.params), name
