"""Parameters are bound as terms through VALUES, never pasted as query text."""

from __future__ import annotations

import pyoxigraph as ox
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.sparql.canned import CannedQuery, ParameterError, parse_query

BASE = "http://127.0.0.1:8000/"
ECHO = parse_query(
    "echo",
    """#+ title: {nb: Ekko, en: Echo}
#+ description: {nb: Gir parameterne tilbake, en: Returns the parameters}
#+ parameters:
#+   kommune: {type: kommunenummer, description: {nb: K, en: K}}
#+   thing: {type: iri, description: {nb: I, en: I}}
#+   text: {type: text, description: {nb: T, en: T}}
#+   number: {type: integer, default: 5, min: 0, max: 100, description: {nb: N, en: N}}
#+   day: {type: date, description: {nb: D, en: D}}
#+ columns:
#+   kommune: {nb: K, en: K}
#+   thing: {nb: I, en: I}
#+   text: {nb: T, en: T}
#+   number: {nb: N, en: N}
#+   day: {nb: D, en: D}
SELECT ?kommune ?thing ?text ?number ?day WHERE { }
""",
)


def echo(query: CannedQuery = ECHO, **values: str) -> dict[str, ox.NamedNode | ox.Literal]:
    solutions = ox.Store().query(query.bind(values, BASE))
    assert isinstance(solutions, ox.QuerySolutions)
    (row,) = list(solutions)
    return {v.value: row[v.value] for v in solutions.variables if row[v.value] is not None}


def test_each_type_becomes_its_term() -> None:
    got = echo(kommune="5616", thing="https://example.org/a", text="Hasvik", day="2026-12-02")
    assert got["kommune"] == ox.NamedNode(BASE + "id/kommune/5616")
    assert got["thing"] == ox.NamedNode("https://example.org/a")
    assert got["text"] == ox.Literal("Hasvik")
    assert got["number"] == ox.Literal("5", datatype=ox.NamedNode(_xsd("integer")))
    assert got["day"] == ox.Literal("2026-12-02", datatype=ox.NamedNode(_xsd("date")))


def _xsd(name: str) -> str:
    return "http://www.w3.org/2001/XMLSchema#" + name


def test_optional_parameters_left_out_are_unbound() -> None:
    assert set(echo()) == {"number"}  # only the one with a default


TRICKS = [
    '"',
    "'",
    "}",
    '"} UNION { ?s ?p ?o } #',
    "> } UNION { ?s ?p ?o",
    "http://x/a> } UNION { ?s ?p ?o } <http://x/b",
    "http://x/with space",
    "http://x/{brace}",
    '5616"',
    "5616 } UNION {",
    "1; DROP ALL",
    "1 } UNION { ?s ?p ?o",
    '2026-12-02"^^<x> } UNION {',
]


@pytest.mark.parametrize("trick", TRICKS)
@pytest.mark.parametrize("name", ["kommune", "thing", "number", "day"])
def test_injection_into_typed_parameters_is_refused(name: str, trick: str) -> None:
    with pytest.raises(ParameterError) as caught:
        ECHO.bind({name: trick}, BASE)
    assert caught.value.parameter == name


@pytest.mark.parametrize("trick", TRICKS)
def test_injection_into_text_is_bound_harmlessly(trick: str) -> None:
    assert echo(text=trick)["text"] == ox.Literal(trick.strip())


@given(
    st.text(max_size=200).filter(lambda t: not any(ord(c) < 32 or 127 <= ord(c) < 160 for c in t))
)
@settings(max_examples=200, deadline=None)
def test_any_text_comes_back_as_itself(text: str) -> None:
    got = echo(text=text)
    if text.strip():
        assert got["text"] == ox.Literal(text.strip())
    else:
        assert "text" not in got


def test_control_characters_and_overlong_text_are_refused() -> None:
    for bad in ("a\x00b", "a\nb", "x" * 201):
        with pytest.raises(ParameterError):
            ECHO.bind({"text": bad}, BASE)


def test_out_of_range_and_unknown_and_missing_parameters_name_the_parameter() -> None:
    with pytest.raises(ParameterError, match="number"):
        ECHO.bind({"number": "101"}, BASE)
    with pytest.raises(ParameterError, match="colour") as caught:
        ECHO.bind({"colour": "red"}, BASE)
    assert "kommune" in caught.value.en  # lists what the query does take
    required = parse_query(
        "req",
        """#+ title: {nb: R, en: R}
#+ description: {nb: R, en: R}
#+ parameters: {kommune: {type: kommunenummer, required: true, description: {nb: K, en: K}}}
#+ columns: {kommune: {nb: K, en: K}}
SELECT ?kommune WHERE { }""",
    )
    with pytest.raises(ParameterError, match="required") as missing:
        required.bind({}, BASE)
    assert missing.value.parameter == "kommune"


def test_a_where_inside_a_string_or_comment_does_not_misplace_the_block() -> None:
    query = parse_query(
        "tricky",
        """#+ title: {nb: T, en: T}
#+ description: {nb: T, en: T}
#+ parameters: {n: {type: integer, default: 1, description: {nb: N, en: N}}}
#+ columns: {n: {nb: N, en: N}, s: {nb: S, en: S}}
# WHERE { in a comment
SELECT ?n ?s WHERE { BIND("WHERE {" AS ?s) }""",
    )
    assert echo(query)["n"] == ox.Literal("1", datatype=ox.NamedNode(_xsd("integer")))
