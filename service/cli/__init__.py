"""The ``kommunegraf`` command; ``main`` is its entry point (pyproject.toml)."""

from __future__ import annotations


def main() -> None:
    """Run the ``kommunegraf`` group (``service.cli.commands.main``).

    Imported when called, not here: a process that ``multiprocessing`` spawns (the
    query and check workers) re-imports the script that started its parent, and the
    ``kommunegraf`` script is ``from service.cli import main``; so a worker imports
    this package and nothing of the CLI.
    """
    from service.cli.commands import main as group

    group()
