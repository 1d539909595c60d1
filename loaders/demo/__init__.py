"""The national demo dataset: generated workbooks that go through the real loaders.

``loaders/demo/data/`` holds the output of ``python -m loaders.demo.generate``: one
shared catalogue and one workbook per municipality. What is real in it and what is
made up is in README.md beside this file.
"""

from __future__ import annotations

from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"
CATALOGUE_FILE = "felles-katalog.xlsx"
"""The shared catalogue's workbook: here, not in ``generate`` (which brings openpyxl),
for what only reads the demo (a check worker imports ``bench.demo`` again)."""


def demo_sources(folder: Path = DATA_DIR) -> list[Path]:
    """The demo workbooks, the shared catalogue first (the others name its rows)."""
    return sorted(folder.glob("*.xlsx"), key=lambda p: (not p.name.startswith("felles"), p.name))
