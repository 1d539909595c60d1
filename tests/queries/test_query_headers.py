"""The headers of queries/*.rq: the one definition of each query's API."""

from __future__ import annotations

import re

import pyoxigraph as ox
import pytest

from service.sparql.canned import (
    PARAMETER_TYPES,
    CannedQuery,
    QueryDefinitionError,
    canned_queries,
    parse_query,
)
from service.sparql.text_checks import check_text

QUERIES = sorted(canned_queries().values(), key=lambda q: q.name)
BASE = "http://127.0.0.1:8000/"


def test_the_questions_of_the_issue_each_have_a_query() -> None:
    assert len(QUERIES) >= 15


@pytest.mark.parametrize("query", QUERIES, ids=lambda q: q.name)
def test_header_columns_are_the_projected_variables(query: CannedQuery) -> None:
    bound = query.bind({p.name: _sample(p.type) for p in query.parameters if p.required}, BASE)
    solutions = ox.Store().query(bound)
    assert isinstance(solutions, ox.QuerySolutions)
    assert [v.value for v in solutions.variables] == list(query.columns)


@pytest.mark.parametrize("query", QUERIES, ids=lambda q: q.name)
def test_every_parameter_variable_is_used_at_the_top_level(query: CannedQuery) -> None:
    for parameter in query.parameters:
        assert re.search(rf"\?{parameter.name}\b", query.text), parameter.name


def _sample(kind: str) -> str:
    return {
        "kommunenummer": "5616",
        "iri": "http://127.0.0.1:8000/id/x",
        "text": "x",
        "integer": "1",
        "date": "2026-01-01",
    }[kind]


HEADER = """#+ title: {nb: T, en: T}
#+ description: {nb: D, en: D}
#+ columns: {x: {nb: X, en: X}}
"""


@pytest.mark.parametrize(
    ("header", "complaint"),
    [
        (
            "#+ title: {nb: T}\n#+ description: {nb: D, en: D}\n#+ columns: {x: {nb: X, en: X}}\n",
            "title",
        ),
        (HEADER + "#+ colour: red\n", "unknown header keys"),
        (HEADER + "#+ parameters: {p: {type: colour, description: {nb: P, en: P}}}\n", "type"),
        (HEADER + "#+ parameters: {p-q: {type: text, description: {nb: P, en: P}}}\n", "variable"),
        (
            HEADER
            + "#+ parameters: {p: {type: integer, default: x, description: {nb: P, en: P}}}\n",
            "bad default",
        ),
        (HEADER + "#+ timeout: -1\n", "timeout"),
        ("#+ title: [unclosed\n", "YAML"),
    ],
)
def test_a_broken_header_is_refused_naming_what_is_wrong(header: str, complaint: str) -> None:
    with pytest.raises(QueryDefinitionError, match=complaint):
        parse_query("broken", header + "SELECT ?x WHERE { ?x ?p ?o }")


def test_parameter_types_are_the_documented_ones() -> None:
    assert PARAMETER_TYPES == ("kommunenummer", "iri", "text", "integer", "date")


@pytest.mark.parametrize("query", QUERIES, ids=lambda q: q.name)
def test_the_text_that_runs_parses_in_the_store(query: CannedQuery) -> None:
    """What the store runs is the strictly read text (``check_text``), not the file:
    both must parse, or the query answers 400 on every call."""
    ox.Store().query(check_text(query.text, update=False, base="http://b/", allow=()).text)
