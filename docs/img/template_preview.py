"""Render one sheet of the spreadsheet template as HTML, for the screenshot in
systemeier.md: headers, colours, the help comment and dropdown lists as the workbook
holds them, so the picture shows the real file rather than a drawing of it.

Usage (see README.md here): python docs/img/template_preview.py mal.xlsx Systemportefølje
"""

from __future__ import annotations

import html
import sys

from openpyxl import Workbook, load_workbook


def _choices(book: Workbook, formula: str) -> str:
    """The first values of a dropdown's list, e.g. ='Lister'!$B$2:$B$5."""
    target, _, cells = formula.lstrip("=").partition("!")
    first, _, last = cells.replace("$", "").partition(":")
    values = [str(c.value) for row in book[target.strip("'")][f"{first}:{last}"] for c in row]
    shown = ", ".join(v[:24] for v in values[:2] if v != "None")
    return shown + (" …" if len(values) > 2 else "")


def preview(path: str, name: str) -> str:
    book = load_workbook(path)
    sheet = book[name]
    lists: dict[str, str] = {}
    for validation in sheet.data_validations.dataValidation:
        for cell_range in validation.sqref.ranges:
            lists[cell_range.coord.split(":")[0].rstrip("0123456789")] = str(validation.formula1)
    rows = []
    for row in sheet.iter_rows(min_row=1, max_row=3, max_col=8):
        cells = []
        for cell in row:
            tag = "th" if cell.row <= 2 else "td"
            text = html.escape(str(cell.value or ""))
            if cell.row == 3 and cell.column_letter in lists:
                text = "▾ " + html.escape(_choices(book, lists[cell.column_letter]))
            fill = cell.fill.fgColor.rgb if cell.fill and cell.fill.fill_type else None
            style = f' style="background:#{str(fill)[-6:]}"' if isinstance(fill, str) else ""
            cells.append(f"<{tag}{style}>{text}</{tag}>")
        rows.append("<tr><td class=n>" + str(row[0].row) + "</td>" + "".join(cells) + "</tr>")
    note = next((c.comment.text for c in sheet[1] if c.comment), "")
    letters = "".join(f"<th class=n>{chr(65 + i)}</th>" for i in range(8))
    return f"""<!doctype html><meta charset=utf-8><style>
body{{font:13px system-ui,sans-serif;margin:12px}} table{{border-collapse:collapse}}
td,th{{border:1px solid #c8c8c8;padding:4px 8px;text-align:left;white-space:nowrap}}
th{{background:#dde8f4}} .n{{background:#eee;color:#555;text-align:center}}
.note{{margin-top:10px;border:1px solid #d9c200;background:#fff8c4;padding:6px;width:520px}}
h1{{font-size:15px}}</style>
<h1>{html.escape(sheet.title)} — {html.escape(path)}</h1>
<table><tr><td class=n></td>{letters}</tr>{"".join(rows)}</table>
<div class=note><b>A1</b>: {html.escape(note)}</div>"""


if __name__ == "__main__":
    print(preview(sys.argv[1], sys.argv[2]))
