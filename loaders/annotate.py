"""The report as an annotated copy of the workbook: bad cells filled, messages as comments.

System owners fix their spreadsheet where they see it, so the report goes back
into the workbook: each cell with an error is filled red (a warning yellow) and
carries the message, nb and en, as a comment; a first sheet lists every issue.
"""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook, load_workbook
from openpyxl.comments import Comment
from openpyxl.styles import Font, PatternFill

from loaders.report import Issue, Report
from loaders.workbook import DEFAULT_LIMITS, Limits, read_workbook

_FILLS = {
    "error": PatternFill("solid", fgColor="FF9999"),
    "warning": PatternFill("solid", fgColor="FFE699"),
    "info": PatternFill("solid", fgColor="DDEBF7"),
}
REPORT_SHEET = "Rapport"


def _workbook(source: Path, limits: Limits) -> Workbook:
    """The source as an openpyxl workbook; CSV and ODS are copied cell by cell."""
    if source.suffix.lower() in {".xlsx", ".xlsm"}:
        return load_workbook(source)  # macros are not kept: the copy is plain .xlsx
    raw = read_workbook(source, limits)
    workbook = Workbook()
    first = workbook.active
    assert first is not None
    workbook.remove(first)
    for sheet in raw.sheets:
        target = workbook.create_sheet(sheet.name[:31])
        for row in sheet.rows:
            for cell in row:
                target.cell(row=cell.row, column=cell.column, value=cell.value)
    return workbook


def _note(issue: Issue) -> str:
    text = f"{issue.message_nb}\n\n{issue.message_en}"
    return text + (f"\n\n→ {issue.suggestion}" if issue.suggestion else "")


def write_annotated(
    report: Report, source: Path, target: Path, limits: Limits = DEFAULT_LIMITS
) -> None:
    """Write ``target`` (.xlsx): the source with every issue marked at its cell."""
    workbook = _workbook(source, limits)
    for issue in report.sorted_issues():
        if issue.sheet is None or issue.sheet not in workbook.sheetnames or issue.row is None:
            continue
        sheet = workbook[issue.sheet]
        cell = sheet[f"{issue.column or 'A'}{issue.row}"]
        if cell.fill != _FILLS["error"]:
            cell.fill = _FILLS[issue.severity]
        previous = cell.comment.text + "\n\n---\n\n" if cell.comment else ""
        comment = Comment(previous + _note(issue), "kommunegraf")
        comment.width, comment.height = 420, 220
        cell.comment = comment
    listing = workbook.create_sheet(REPORT_SHEET, 0)
    listing.append(
        [
            "Alvorlighet / Severity",
            "Sted / Place",
            "Verdi / Value",
            "Melding",
            "Message",
            "Forslag / Suggestion",
        ]
    )
    for cell in listing[1]:
        cell.font = Font(bold=True)
    for issue in report.sorted_issues():
        listing.append(
            [
                issue.severity,
                issue.place(),
                issue.value,
                issue.message_nb,
                issue.message_en,
                issue.suggestion,
            ]
        )
    for letter, width in zip("ABCDEF", (14, 36, 24, 70, 70, 30), strict=True):
        listing.column_dimensions[letter].width = width
    workbook.save(target)
