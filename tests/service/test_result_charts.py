"""Which chart a query answer gets, from its shape alone."""

from __future__ import annotations

from service.pages.charts import MAX_BARS, Bars, HeatMap, chart

INTEGER = "http://www.w3.org/2001/XMLSchema#integer"


def literal(value: str) -> dict[str, str]:
    return {"type": "literal", "value": value}


def number(value: int) -> dict[str, str]:
    return {"type": "literal", "value": str(value), "datatype": INTEGER}


def iri(value: str) -> dict[str, str]:
    return {"type": "uri", "value": value}


def test_two_named_dimensions_and_a_number_make_a_heat_map() -> None:
    rows = [
        {
            "m": iri(f"http://x/{m}"),
            "municipalityName": literal(m),
            "appName": literal(a),
            "sharedBy": number(n),
        }
        for m, a, n in [("Arendal", "Sak", 3), ("Arendal", "Skole", 1), ("Grimstad", "Sak", 3)]
    ]
    drawn = chart(["m", "municipalityName", "appName", "sharedBy"], rows)
    assert isinstance(drawn, HeatMap)
    assert drawn.rows == ["Arendal", "Grimstad"] and drawn.columns == ["Sak", "Skole"]
    assert drawn.cells[("Grimstad", "Sak")] == ("3", 1.0)
    assert ("Grimstad", "Skole") not in drawn.cells
    assert round(drawn.cells[("Arendal", "Skole")][1], 2) == 0.33


def test_one_dimension_makes_bars_largest_first() -> None:
    rows = [{"name": literal(n), "count": number(c)} for n, c in [("a", 1), ("b", 4), ("c", 2)]]
    drawn = chart(["name", "count"], rows)
    assert isinstance(drawn, Bars)
    assert [(b.label, b.width) for b in drawn.bars] == [("b", 100.0), ("c", 50.0), ("a", 25.0)]


def test_a_dimension_with_one_value_is_left_out_of_the_labels() -> None:
    rows = [
        {"regionName": literal("Vest"), "hostingName": literal(h), "systems": number(n)}
        for h, n in [("SaaS", 2), ("Egen", 1)]
    ]
    drawn = chart(["regionName", "hostingName", "systems"], rows)
    assert isinstance(drawn, Bars)
    assert [b.label for b in drawn.bars] == ["SaaS", "Egen"]


def test_many_rows_are_cut_to_the_largest() -> None:
    rows = [{"name": literal(f"n{i}"), "count": number(i)} for i in range(MAX_BARS + 5)]
    drawn = chart(["name", "count"], rows)
    assert isinstance(drawn, Bars) and drawn.truncated and len(drawn.bars) == MAX_BARS
    assert drawn.bars[0].label == f"n{MAX_BARS + 4}"


def test_no_number_or_no_name_means_no_chart() -> None:
    numbers_as_text = [{"kommunenummer": literal("4203"), "name": literal("Arendal")}]
    assert chart(["kommunenummer", "name"], numbers_as_text) is None
    only_iris = [{"x": iri("http://x/1"), "n": number(1)}]
    assert chart(["x", "n"], only_iris) is None
    assert chart(["name", "count"], []) is None


def test_regression_bar_labels_cut_at_the_left_edge() -> None:
    """Labels were cut to 38 characters and drawn right-aligned at a fixed x, so a long
    one ran past the left edge: now each is shown in full, wrapped, in a column as wide
    as its longest line."""
    long = "Helsetjenester i hjemmet (hjemmesykepleie) – Kommunal akutt døgnenhet (KAD)"
    rows = [
        {"name": literal(n), "count": number(c)}
        for n, c in [(long, 3), ("Kort", 1), ("Uten_mellomrom_" * 4, 2)]
    ]
    drawn = chart(["name", "count"], rows)
    assert isinstance(drawn, Bars)
    assert " ".join(drawn.bars[0].lines) == long and len(drawn.bars[0].lines) > 1
    assert drawn.bars[1].lines == ("Uten_mellomrom_" * 4,)  # one word is never broken
    longest = max(len(line) for bar in drawn.bars for line in bar.lines)
    assert drawn.label_width >= longest * 7
    assert drawn.bar_x > drawn.label_width and drawn.width > drawn.bar_x + 3.4 * 100
    # Rows do not overlap: each starts below the previous one's last line.
    for above, below in zip(drawn.bars, drawn.bars[1:], strict=False):
        assert below.top >= above.top + 15 * len(above.lines)
