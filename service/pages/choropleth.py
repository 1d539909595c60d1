"""A choropleth map of Norway's municipalities, drawn on the server as SVG.

Why server-side SVG: the map must print, work without JavaScript and fetch nothing from
anywhere (no tile server). Each municipality is a link to its page with a title that says
its value; colours come from a few classes shown in a legend, and the same numbers go in a
table beside the map for screen readers and keyboards (the map's links are left out of the
tab order: 357 stops would be a trap; the table has the same links).

The outlines are ``service/pages/geo/kommuner-2024.json`` (``service.pages.map_geometry``
projects Kartverket's boundaries to UTM 33 once). The drawing of one layer is cached by its
colours and titles, so the same layer on the same data is drawn once.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

from markupsafe import Markup

from service.pages.charts import numeric_columns
from service.pages.map_geometry import GEOMETRY

NO_DATA = "#d9dadb"
"""Municipalities the layer says nothing about: Designsystemet's neutral surface."""
NONE_COLOUR = "#f6c26b"
"""Zero where a number is expected (no system for a service: a gap): warm, apart from blues."""
BLUES = ("#c7ddf0", "#8cbce6", "#4a91d4", "#0062ba", "#003d75")
"""Sequential classes, light to dark (Designsystemet's accent scale)."""
IN_ANSWER = "#0062ba"


@dataclass(frozen=True)
class Outline:
    number: str
    name: str
    d: str


@dataclass(frozen=True)
class Geometry:
    width: int
    height: int
    attribution: Mapping[str, str]
    outlines: tuple[Outline, ...]


@cache
def geometry() -> Geometry:
    """The bundled outlines, read once per process."""
    data: dict[str, Any] = json.loads(GEOMETRY.read_text(encoding="utf-8"))
    outlines = tuple(
        Outline(number, found["name"], found["d"])
        for number, found in sorted(data["municipalities"].items())
    )
    return Geometry(data["width"], data["height"], data["attribution"], outlines)


@dataclass(frozen=True)
class Value:
    """What a layer says about one municipality: a number, or only that it is in the answer."""

    number: float | None
    text: str


@dataclass(frozen=True)
class LegendEntry:
    colour: str
    nb: str
    en: str


@dataclass(frozen=True)
class Row:
    number: str
    name: str
    text: str
    colour: str


@dataclass(frozen=True)
class Choropleth:
    svg: Markup
    legend: tuple[LegendEntry, ...]
    rows: tuple[Row, ...]
    """Municipalities the layer has a value for, by kommunenummer."""
    measure_nb: str
    measure_en: str
    shown: int
    """How many of the drawn municipalities have a value."""


def _classes(numbers: Sequence[float], zero_is_gap: bool) -> list[tuple[float, float]]:
    """Up to five equal-width classes over the positive values, whole numbers for counts.

    >>> _classes([1, 2, 3], zero_is_gap=True)
    [(1, 1), (2, 2), (3, 3)]
    >>> _classes([0.0, 12.5, 100.0], zero_is_gap=False)
    [(0.0, 20.0), (20.0, 40.0), (40.0, 60.0), (60.0, 80.0), (80.0, 100.0)]
    """
    positive = [n for n in numbers if n > 0 or not zero_is_gap]
    if not positive:
        return []
    low, high = min(positive), max(positive)
    whole = all(float(n).is_integer() for n in positive)
    if whole and high - low < len(BLUES):
        return [(int(n), int(n)) for n in range(int(low), int(high) + 1)]
    if not zero_is_gap and low >= 0 and high <= 100 and not whole:
        low, high = 0.0, 100.0  # a share: fixed classes read the same on every layer
    step = (high - low) / len(BLUES)
    if whole:
        step = math.ceil(step)
        return [
            (int(low + i * step), int(min(high, low + (i + 1) * step - 1)))
            for i in range(len(BLUES))
            if low + i * step <= high
        ]
    return [(low + i * step, low + (i + 1) * step) for i in range(len(BLUES))]


def _palette(count: int) -> tuple[str, ...]:
    """``count`` blues spread over the scale, the darkest last.

    >>> _palette(1), _palette(2)
    (('#0062ba',), ('#c7ddf0', '#003d75'))
    """
    if count >= len(BLUES):
        return BLUES
    if count == 1:
        return (BLUES[3],)
    return tuple(BLUES[round(i * (len(BLUES) - 1) / (count - 1))] for i in range(count))


def format_number(number: float) -> str:
    """A number as the pages write it: whole, or with one decimal after a comma.

    >>> format_number(3.0), format_number(12.54)
    ('3', '12,5')
    """
    return str(int(number)) if float(number).is_integer() else f"{number:.1f}".replace(".", ",")


def choropleth(
    values: Mapping[str, Value],
    *,
    measure_nb: str,
    measure_en: str,
    zero_is_gap: bool = False,
    lang: str = "nb",
    only: frozenset[str] | None = None,
) -> Choropleth:
    """Colour each municipality by its value in ``values`` (by kommunenummer).

    Values without a number are drawn in one colour ("in the answer"); numbers in classes
    of blue, and zero in its own warm colour when ``zero_is_gap`` (no system: a gap).
    ``only`` limits the drawing to some municipalities (a region's members).
    """
    shapes = geometry()
    numbers = [v.number for v in values.values() if v.number is not None]
    legend: list[LegendEntry] = []
    classes = _classes(numbers, zero_is_gap)
    if zero_is_gap and any(n == 0 for n in numbers):
        legend.append(LegendEntry(NONE_COLOUR, "0 (ingen)", "0 (none)"))
    palette = _palette(len(classes))
    for (low, high), colour in zip(classes, palette, strict=True):
        label = format_number(low) if low == high else f"{format_number(low)}–{format_number(high)}"
        legend.append(LegendEntry(colour, label, label))
    if any(v.number is None for v in values.values()):
        legend.append(LegendEntry(IN_ANSWER, "i svaret", "in the answer"))
    legend.append(LegendEntry(NO_DATA, "ikke med / ingen data", "not included / no data"))

    def colour_of(value: Value | None) -> str:
        if value is None:
            return NO_DATA
        if value.number is None:
            return IN_ANSWER
        if zero_is_gap and value.number == 0:
            return NONE_COLOUR
        for (low, high), colour in zip(classes, palette, strict=True):
            if value.number <= high or (low == high and value.number == low):
                return colour
        return palette[-1] if palette else NO_DATA

    drawn = [o for o in shapes.outlines if only is None or o.number in only]
    fills = tuple(
        (
            o.number,
            colour_of(values.get(o.number)),
            values[o.number].text if o.number in values else "",
        )
        for o in drawn
    )
    rows = tuple(
        Row(o.number, o.name, values[o.number].text, colour_of(values[o.number]))
        for o in drawn
        if o.number in values
    )
    measure = measure_en if lang == "en" else measure_nb
    svg = _svg(fills, measure, lang, only is not None)
    return Choropleth(svg, tuple(legend), rows, measure_nb, measure_en, len(rows))


@lru_cache(maxsize=64)
def _svg(fills: tuple[tuple[str, str, str], ...], measure: str, lang: str, cropped: bool) -> Markup:
    """The drawing: one linked path per municipality, cropped to those drawn if asked."""
    shapes = geometry()
    by_number = {o.number: o for o in shapes.outlines}
    none = "ingen data" if lang == "nb" else "no data"
    parts = []
    for number, colour, text in fills:
        outline = by_number[number]
        title = f"{outline.name} ({number}): {text or none}"
        parts.append(
            Markup(
                '<a href="/id/kommune/{}" tabindex="-1" aria-label="{}">'
                '<path d="{}" fill="{}" data-kommune="{}"><title>{}</title></path></a>'
            ).format(number, title, outline.d, colour, number, title)
        )
    view = f"0 0 {shapes.width} {shapes.height}"
    if cropped and fills:
        view = _bounds([by_number[n].d for n, _, _ in fills])
    label = ("Kart over kommunene: " if lang == "nb" else "Map of the municipalities: ") + measure
    return Markup(
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="{}" role="group" aria-label="{}">{}</svg>'
    ).format(view, label, Markup("").join(parts))


def _bounds(paths: Sequence[str]) -> str:
    """A viewBox around some outlines, with a margin.

    >>> _bounds(["M10 20l2 0 0 5z"])
    '-10 0 42 45'
    """
    xs: list[int] = []
    ys: list[int] = []
    for d in paths:
        for ring in d.split("z"):
            if not ring:
                continue
            start, _, rest = ring[1:].partition("l")
            x, y = (int(n) for n in start.split())
            xs.append(x)
            ys.append(y)
            steps = [int(n) for n in rest.split()]
            for dx, dy in zip(steps[::2], steps[1::2], strict=True):
                x, y = x + dx, y + dy
                xs.append(x)
                ys.append(y)
    margin = max(20, (max(xs) - min(xs) + max(ys) - min(ys)) // 20)
    left, top = min(xs) - margin, min(ys) - margin
    return f"{left} {top} {max(xs) - min(xs) + 2 * margin} {max(ys) - min(ys) + 2 * margin}"


def attribution(lang: str) -> str:
    return geometry().attribution["en" if lang == "en" else "nb"]


def map_of_rows(
    variables: list[str],
    rows: list[dict[str, dict[str, str]]],
    *,
    lang: str,
    columns: Mapping[str, Mapping[str, str]] | None = None,
    zero_is_gap: bool = False,
) -> Choropleth | None:
    """The map of a query's answer, when it names municipalities by ``kommunenummer``:
    coloured by its first numeric column (several rows of one municipality add up), or
    as "in the answer" when it has none. ``columns`` (a canned query's header) names
    the measure in both languages."""
    if "kommunenummer" not in variables or not rows:
        return None
    numeric = numeric_columns([v for v in variables if v != "kommunenummer"], rows)
    measure = numeric[0] if numeric else None
    in_answer = "i svaret" if lang == "nb" else "in the answer"
    totals: dict[str, float] = {}
    values: dict[str, Value] = {}
    for row in rows:
        number = row.get("kommunenummer", {}).get("value")
        if not number:
            continue
        if measure is None or measure not in row:
            values.setdefault(number, Value(None, in_answer))
            continue
        totals[number] = totals.get(number, 0.0) + float(row[measure]["value"])
        total = totals[number]
        values[number] = Value(total, format_number(total))
    title = (columns or {}).get(measure or "", {})
    return choropleth(
        values,
        measure_nb=title.get("nb", measure or "i svaret"),
        measure_en=title.get("en", measure or "in the answer"),
        zero_is_gap=zero_is_gap,
        lang=lang,
    )
