"""The problems found in one source, each pinned to a sheet, row and column.

One list serves every output: the terminal table, JSON for programs, HTML for
people, and an annotated copy of the workbook.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Literal

Severity = Literal["error", "warning", "info"]


@dataclass(frozen=True)
class Issue:
    """One problem, in the user's terms: where it is, what is wrong, what would fix it."""

    severity: Severity
    message_nb: str
    message_en: str
    sheet: str | None = None
    row: int | None = None
    column: str | None = None
    """The column letter, e.g. "D"."""
    column_name: str | None = None
    value: str | None = None
    suggestion: str | None = None
    node: str | None = None
    """For RDF sources, which have no cells: the focus node and the property."""
    path: str | None = None

    def place(self) -> str:
        """Where, as a user finds it: "Systemportefølje!D7 (Drift)".

        >>> Issue("error", "x", "x", "Ark", 7, "D", "Drift").place()
        'Ark!D7 (Drift)'
        """
        if self.sheet is None:
            return " ".join(p for p in (self.node, self.path) if p)
        cell = f"{self.column or ''}{self.row or ''}"
        where = f"{self.sheet}!{cell}" if cell else self.sheet
        return where + (f" ({self.column_name})" if self.column_name else "")


@dataclass
class Report:
    """All issues of one source; it loads only when there is no error."""

    source: str
    issues: list[Issue] = field(default_factory=list)
    readable: bool = True
    """False when the file itself could not be read (exit code 2, not 1)."""

    @property
    def conforms(self) -> bool:
        return not any(i.severity == "error" for i in self.issues)

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]

    def sorted_issues(self) -> list[Issue]:
        order = {"error": 0, "warning": 1, "info": 2}
        return sorted(
            self.issues,
            key=lambda i: (i.sheet or "", i.row or 0, i.column or "", order[i.severity]),
        )

    def to_json(self) -> str:
        return json.dumps(
            {
                "source": self.source,
                "conforms": self.conforms,
                "issues": [asdict(i) for i in self.sorted_issues()],
            },
            ensure_ascii=False,
            indent=2,
        )

    def to_text(self) -> str:
        """A table for the terminal, Norwegian first, English under it."""
        lines = []
        for issue in self.sorted_issues():
            value = f" = {issue.value!r}" if issue.value is not None else ""
            lines.append(f"{self.source}: {issue.severity}: {issue.place()}{value}")
            lines.append(f"    {issue.message_nb}")
            lines.append(f"    {issue.message_en}")
            if issue.suggestion:
                lines.append(f"    → {issue.suggestion}")
        return "\n".join(lines)
