"""The problems found in one source, each pinned to a sheet, row and column.

One list serves every output: the terminal table, JSON for programs, HTML for
people, and an annotated copy of the workbook.
"""

from __future__ import annotations

import html
import json
from dataclasses import asdict, dataclass, field

from loaders.problems import Severity


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

    def to_html(self) -> str:
        """A self-contained page (no external resources), every value escaped."""
        state = (
            "Gyldig – kan lastes. / Valid – can be loaded."
            if self.conforms
            else "Ugyldig – ingenting blir lastet. / Invalid – nothing is loaded."
        )
        rows = "\n".join(
            "<tr class='{0}'><td>{0}</td><td>{1}</td><td>{2}</td><td>{3}<br><span lang='en'>{4}"
            "</span></td><td>{5}</td></tr>".format(
                *(
                    html.escape(str(v or ""))
                    for v in (
                        i.severity,
                        i.place(),
                        i.value,
                        i.message_nb,
                        i.message_en,
                        i.suggestion,
                    )
                )
            )
            for i in self.sorted_issues()
        )
        source = html.escape(self.source)
        return f"""<!doctype html>
<html lang="nb"><head><meta charset="utf-8"><title>Valideringsrapport – {source}</title>
<style>
body {{ font: 15px/1.45 system-ui, sans-serif; margin: 2rem; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ border-bottom: 1px solid #ccc; padding: .3rem .5rem; text-align: left; }}
td {{ vertical-align: top; }}
tr.error td:first-child {{ background: #f99; }} tr.warning td:first-child {{ background: #ffe699; }}
[lang=en] {{ color: #555; }}
</style></head><body>
<h1>Valideringsrapport <span lang="en">/ Validation report</span>: {source}</h1>
<p>{html.escape(state)}</p>
<table><thead><tr><th>Alvorlighet <span lang="en">/ Severity</span></th>
<th>Sted <span lang="en">/ Place</span></th><th>Verdi <span lang="en">/ Value</span></th>
<th>Melding <span lang="en">/ Message</span></th>
<th>Forslag <span lang="en">/ Suggestion</span></th>
</tr></thead><tbody>
{rows}
</tbody></table></body></html>
"""
