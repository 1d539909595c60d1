"""Simple charts of query results, chosen from the shape of the answer, drawn server-side.

A result with two named dimensions and a number per pair (region × hosting,
municipality × application) becomes a heat map; one with a number per row becomes
bars. Both are plain markup (a table with shaded cells, an inline SVG), so they
print, need no script and no chart library, and read out with a screen reader.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

_NUMERIC = {
    f"http://www.w3.org/2001/XMLSchema#{name}"
    for name in (
        "integer",
        "decimal",
        "double",
        "float",
        "int",
        "long",
        "short",
        "nonNegativeInteger",
        "positiveInteger",
        "unsignedInt",
    )
}
MAX_BARS = 40
CHAR_WIDTH = 7.5
"""A generous width of one character of the bar chart's 12 px sans-serif, in SVG units:
the labels' column is sized from it so that no label runs past the left edge."""
LABEL_LINE = 36
"""A longer label wraps onto more lines (at spaces) instead of being cut."""
LINE_HEIGHT, BAR_GAP, BAR_SCALE = 15, 9, 3.4
HEADER, FOOTER = 22.0, 44.0
"""Room above the bars for the category axis's title, below them for the value axis
(its line, 0 and the largest value, and its title)."""
MAX_ROWS, MAX_COLUMNS = 80, 40

Row = dict[str, dict[str, str]]


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    text: str
    width: float
    """Percent of the largest value."""
    lines: tuple[str, ...] = ()
    """The label wrapped to at most ``LABEL_LINE`` characters a line (a longer word is
    kept whole), so it is shown in full."""
    top: float = 0.0
    """Where the bar's row starts, in SVG units from the top."""


@dataclass(frozen=True)
class Bars:
    measure: str
    bars: list[Bar]
    truncated: bool
    label_width: float = 0.0
    """The width of the labels' column, from the longest line: labels end at it."""
    width: float = 0.0
    height: float = 0.0
    dimensions: tuple[str, ...] = ()
    """The columns the labels are made of: the category axis, named above the labels."""
    largest: str = ""
    """The largest value as the answer wrote it, at the end of the value axis."""

    @property
    def bar_x(self) -> float:
        return self.label_width + 8

    @property
    def axis_y(self) -> float:
        """Where the value axis runs, under the last bar."""
        return self.height - FOOTER + 4

    @property
    def axis_end(self) -> float:
        return self.bar_x + BAR_SCALE * 100


def lay_out(
    measure: str, bars: list[Bar], truncated: bool, dimensions: tuple[str, ...] = ()
) -> Bars:
    """Bars with their labels wrapped and the drawing sized to hold every label in full.

    >>> label = "Kommunal akutt døgnenhet og legevakt i Agder"
    >>> drawn = lay_out("n", [Bar(label, 2, "2", 100)], False)
    >>> drawn.bars[0].lines
    ('Kommunal akutt døgnenhet og legevakt', 'i Agder')
    >>> drawn.label_width >= len("Kommunal akutt døgnenhet og legevakt") * CHAR_WIDTH
    True
    """
    placed: list[Bar] = []
    top = HEADER
    for bar in bars:
        lines = tuple(textwrap.wrap(bar.label, LABEL_LINE, break_long_words=False)) or ("",)
        placed.append(Bar(bar.label, bar.value, bar.text, bar.width, lines, top))
        top += LINE_HEIGHT * len(lines) + BAR_GAP
    longest = max((len(line) for bar in placed for line in bar.lines), default=0)
    label_width = 8 + CHAR_WIDTH * longest
    value_width = CHAR_WIDTH * max((len(bar.text) for bar in placed), default=0)
    width = label_width + 8 + BAR_SCALE * 100 + 6 + value_width + 4
    largest = max(placed, key=lambda bar: abs(bar.value)).text if placed else ""
    return Bars(measure, placed, truncated, label_width, width, top + FOOTER, dimensions, largest)


@dataclass(frozen=True)
class HeatMap:
    measure: str
    row_dimension: str
    column_dimension: str
    rows: list[str]
    columns: list[str]
    cells: dict[tuple[str, str], tuple[str, float]]
    """(row, column) → (the number as text, its share of the largest, 0..1)."""


def _is_number(term: dict[str, str]) -> bool:
    return term.get("type") == "literal" and term.get("datatype", "") in _NUMERIC


def numeric_columns(variables: list[str], rows: list[Row]) -> list[str]:
    """Columns whose every bound value is a number.

    >>> rows = [{"n": {"type": "literal", "value": "2",
    ...                "datatype": "http://www.w3.org/2001/XMLSchema#integer"},
    ...          "k": {"type": "literal", "value": "4203"}}]
    >>> numeric_columns(["k", "n"], rows)
    ['n']
    """
    found = []
    for variable in variables:
        bound = [row[variable] for row in rows if variable in row]
        if bound and all(_is_number(term) for term in bound):
            found.append(variable)
    return found


def _dimensions(variables: list[str], rows: list[Row], numeric: list[str]) -> list[str]:
    """Literal, non-numeric columns; names (``…Name``) first, as they read best."""
    literal = [
        v
        for v in variables
        if v not in numeric
        and any(v in row for row in rows)
        and all(row[v]["type"] == "literal" for row in rows if v in row)
    ]
    named = [v for v in literal if v.lower().endswith("name")]
    return named + [v for v in literal if v not in named]


def chart(variables: list[str], rows: list[Row]) -> HeatMap | Bars | None:
    """The chart that fits the result, or None."""
    numeric = numeric_columns(variables, rows)
    if not numeric or not rows:
        return None
    measure = numeric[0]
    dimensions = _dimensions(variables, rows, numeric)
    if not dimensions:
        return None
    # A dimension with one value for every row (the region asked for) says nothing.
    varying = [d for d in dimensions if len({row[d]["value"] for row in rows if d in row}) > 1]
    dimensions = varying or dimensions[:1]
    if len(dimensions) >= 2:
        first, second = dimensions[0], dimensions[1]
        pairs = [
            (row.get(first, {}).get("value", ""), row.get(second, {}).get("value", ""))
            for row in rows
        ]
        row_keys = list(dict.fromkeys(p[0] for p in pairs))
        column_keys = list(dict.fromkeys(p[1] for p in pairs))
        if (
            len(set(pairs)) == len(pairs)
            and 2 <= len(row_keys) <= MAX_ROWS
            and 2 <= len(column_keys) <= MAX_COLUMNS
        ):
            values = [float(row[measure]["value"]) if measure in row else 0.0 for row in rows]
            top = max(values) or 1.0
            cells = {
                pair: (row[measure]["value"] if measure in row else "", value / top)
                for pair, row, value in zip(pairs, rows, values, strict=True)
            }
            return HeatMap(measure, first, second, row_keys, column_keys, cells)
    bars = [
        (
            " – ".join(row[d]["value"] for d in dimensions[:2] if d in row),
            float(row[measure]["value"]),
            row[measure]["value"],
        )
        for row in rows
        if measure in row
    ]
    bars.sort(key=lambda bar: -bar[1])
    top = max((abs(b[1]) for b in bars), default=0.0) or 1.0
    shown = [Bar(label, value, text, 100 * abs(value) / top) for label, value, text in bars]
    return lay_out(measure, shown[:MAX_BARS], len(shown) > MAX_BARS, tuple(dimensions[:2]))
