"""Where the project's data folders live.

In a checkout (and an editable install) ``ontology/``, ``shapes/``, ``queries/`` and ``docs/``
sit at the top of the repository, which is the single source of truth. A wheel
carries copies inside the packages (see ``force-include`` in pyproject.toml).
Both layouts are looked up here so no other module hard-codes either.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_REPOSITORY = _PACKAGE.parent


def _find(name: str, bundled_in: Path) -> Path:
    for candidate in (_REPOSITORY / name, bundled_in / "_bundled" / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"kommunegraf data folder {name!r} not found near {_PACKAGE}")


def ontology_dir() -> Path:
    """The folder holding the OWL ontology in Turtle."""
    return _find("ontology", _PACKAGE)


def shapes_dir() -> Path:
    """The folder holding the SHACL shapes, one file per class."""
    return _find("shapes", _PACKAGE)


def queries_dir() -> Path:
    """The folder holding the canned SPARQL queries."""
    return _find("queries", _REPOSITORY / "service")


def docs_dir() -> Path:
    """The folder holding the user guides and the class diagram, served under /docs/."""
    return _find("docs", _REPOSITORY / "service")


def reference_dir() -> Path:
    """The folder holding the bundled reference data (municipalities, laws, LOS)."""
    return _PACKAGE / "reference"
