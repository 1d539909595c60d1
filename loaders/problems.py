"""What a validation finds, whichever engine found it.

A module of its own so that both engines (pySHACL and the compiled SPARQL of
``loaders.shacl_store``) return the same records, and the report code maps them to
cells without knowing which engine ran.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Severity = Literal["error", "warning", "info"]


@dataclass(frozen=True)
class Problem:
    """One SHACL result, in the terms a report needs."""

    severity: Severity
    focus_node: str
    path: str | None
    value: str | None
    message_nb: str
    message_en: str
    shape: str | None = None


@dataclass
class ValidationReport:
    """All problems of one validation; the data is loadable when there is no error."""

    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def conforms(self) -> bool:
        return not self.errors
