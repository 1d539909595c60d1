"""The ``kommunegraf`` command; ``main`` is its entry point (pyproject.toml)."""

from service.cli.commands import main

__all__ = ["main"]
