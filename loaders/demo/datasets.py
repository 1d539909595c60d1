"""The kinds of dataset every demo municipality may hold (all made up).

Each template says which kind of system stores it, whether it holds personal or
sensitive data, its access rights, the legal bases (keys of
loaders/reference/legal-bases.ttl, real sections), its LOS and EU data themes and
the format it would be published in, and how often the legal basis for processing
is missing: the gap a privacy officer looks for. The templates are ``datasets.toml``
beside this file.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

NONE, PERSONAL, SENSITIVE = "none", "personal", "sensitive"
PUBLIC, RESTRICTED, NON_PUBLIC = "PUBLIC", "RESTRICTED", "NON_PUBLIC"


@dataclass(frozen=True)
class DatasetTemplate:
    key: str
    name_nb: str
    name_en: str
    description_nb: str
    description_en: str
    system: str
    """The kind (loaders.demo.catalogue.Kind.key) of system the dataset is stored in."""
    personal: str
    access: str
    processing: tuple[str, ...] = ()
    access_basis: tuple[str, ...] = ()
    themes: tuple[str, ...] = ()
    """LOS theme slugs (https://psi.norge.no/los/tema/...)."""
    keywords: tuple[str, ...] = ()
    missing_basis: float = 0.0
    """Probability that the legal basis for processing is not recorded."""
    eu_themes: tuple[str, ...] = ()
    """EU data themes (codes of http://publications.europa.eu/resource/authority/data-theme)."""
    file_type: str = "CSV"
    """The format of its distribution (an EU file-type code) where one is published."""


TEMPLATES_FILE = Path(__file__).with_name("datasets.toml")
"""The templates, one ``[[dataset]]`` table each: data, kept apart from the code."""

_LISTS = ("processing", "access_basis", "themes", "keywords", "eu_themes")


def _templates(path: Path = TEMPLATES_FILE) -> tuple[DatasetTemplate, ...]:
    with path.open("rb") as data:
        tables: list[dict[str, Any]] = tomllib.load(data)["dataset"]
    return tuple(
        DatasetTemplate(**{**table, **{key: tuple(table.get(key, ())) for key in _LISTS}})
        for table in tables
    )


TEMPLATES: tuple[DatasetTemplate, ...] = _templates()
