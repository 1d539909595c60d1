"""SERVICE/LOAD detection and USING rewriting, without a server (fast, many variants)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from service.sparql.text_checks import (
    DatasetConflictError,
    UncheckableError,
    find_remote_targets,
    is_allowed,
    may_reach_out,
    with_dataset,
)

BASE = "http://base.example/"
EVIL = "http://169.254.169.254/latest/"


def targets(text: str, *, update: bool = False) -> list[str | None]:
    return find_remote_targets(text, update=update, base=BASE)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"SELECT * {{ SERVICE <{EVIL}> {{ ?s ?p ?o }} }}", [EVIL]),
        (f"select * {{ service silent <{EVIL}> {{ ?s ?p ?o }} }}", [EVIL]),
        ("SELECT * { SERVICE ?x { ?s ?p ?o } }", [None]),
        (f"PREFIX e: <{EVIL}> SELECT * {{ SERVICE e:x {{ ?s ?p ?o }} }}", [EVIL + "x"]),
        ("SELECT * { SERVICE <rel> { ?s ?p ?o } }", [BASE + "rel"]),
        (f"ASK {{ ?s ?p true.SERVICE SILENT<{EVIL}> {{ ?s ?p ?o }} }}", [EVIL]),
        (f"ASK {{ ?s ?p ?o FILTER(?o<?s)SERVICE#>\n<{EVIL}> {{ ?s ?p ?o }} }}", [EVIL]),
    ],
)
def test_service_targets_are_found(text: str, expected: list[str | None]) -> None:
    assert may_reach_out(text, update=False)
    assert targets(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        f"ASK {{ SERVICESILENT<{EVIL}> {{ ?s ?p ?o }} }}",
        f"PREFIX ex: <{EVIL}> ASK {{ SERVICEex:foo {{ ?s ?p ?o }} }}",
        f"ASK {{ \\u0053ERVICE <{EVIL}> {{ ?s ?p ?o }} }}",
        f'SELECT * {{ ?s ?p "x\\u0022 . SERVICE <{EVIL}> {{}} " }}',
    ],
    ids=["glued-silent", "glued-prefix", "escaped-keyword", "escaped-quote"],
)
def test_texts_the_parsers_may_read_differently_are_uncheckable(text: str) -> None:
    assert may_reach_out(text, update=False)
    with pytest.raises(UncheckableError):
        targets(text)


@pytest.mark.parametrize(
    "text",
    [
        f'SELECT * {{ ?s ?p "SERVICE <{EVIL}> {{}}" }}',
        f"SELECT * {{ ?s ?p '''service <{EVIL}>''' }}",
        f"# SERVICE <{EVIL}>\nASK {{}}",
        "PREFIX kg: <https://w3id.org/kommunegraf/ontology#> ASK { ?s a kg:StatutoryService }",
        "SELECT ?service { ?service ?p ?o }",
        'SELECT * { ?s ?p "x"@service }',
    ],
)
def test_the_word_where_it_cannot_be_a_keyword_needs_no_parsing(text: str) -> None:
    assert not may_reach_out(text, update=False)
    assert targets(text) == []


def test_an_iri_with_the_word_is_parsed_and_allowed() -> None:
    text = "SELECT * { ?s a <http://example.org/PublicService> }"
    assert may_reach_out(text, update=False)
    assert targets(text) == []


def test_load_counts_in_updates_only() -> None:
    update = f"LOAD <{EVIL}data.nt> INTO GRAPH <http://example.org/g>"
    assert targets(update, update=True) == [EVIL + "data.nt"]
    assert not may_reach_out("SELECT * { ?load ?p ?o }", update=True)


def test_parsing_from_many_threads_at_once() -> None:
    texts = [f"SELECT * {{ SERVICE <http://x.example/{i}> {{ ?s ?p ?o }} }}" for i in range(64)]
    with ThreadPoolExecutor(8) as pool:
        found = list(pool.map(targets, texts))
    assert found == [[f"http://x.example/{i}"] for i in range(64)]


@pytest.mark.parametrize(
    ("iri", "allowed"),
    [
        ("https://data.norge.no/sparql", True),
        ("https://data.norge.no", True),
        ("https://data.norge.no.evil.example/", False),
        ("https://data.norge.no@evil.example/", False),
        ("https://data.norge.nop/", False),
    ],
)
def test_allow_list_prefixes_end_at_a_boundary(iri: str, allowed: bool) -> None:
    assert is_allowed(iri, ["https://data.norge.no"]) is allowed


def test_using_goes_before_every_top_level_where_only() -> None:
    text = (
        "INSERT DATA { GRAPH <http://g> { <http://a> <http://b> 'WHERE' } } ; "
        "INSERT { ?s a <http://C> } WHERE { { SELECT ?s WHERE { ?s ?p ?o } } }"
    )
    rewritten = with_dataset(text, ["http://u"], ["http://n"])
    assert rewritten.count("USING <http://u> USING NAMED <http://n> WHERE") == 1
    assert "'WHERE'" in rewritten and "SELECT ?s WHERE" in rewritten


@pytest.mark.parametrize("clause", ["WITH <http://w>", "USING <http://u>"])
def test_using_parameters_conflict_with_with_and_using(clause: str) -> None:
    if clause.startswith("WITH"):
        text = f"{clause} INSERT {{ ?s ?p ?o }} WHERE {{ ?s ?p ?o }}"
    else:
        text = f"INSERT {{ ?s ?p ?o }} {clause} WHERE {{ ?s ?p ?o }}"
    with pytest.raises(DatasetConflictError):
        with_dataset(text, ["http://g"], [])
    assert with_dataset(text, [], []) == text
