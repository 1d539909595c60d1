"""The strict reading of SPARQL (check_text) and USING rewriting, without a server."""

from __future__ import annotations

import json
import subprocess
import sys

import pyoxigraph as ox
import pytest

from service.sparql.dataset import DatasetConflictError, with_dataset
from service.sparql.text_checks import MAX_OPERATORS, RefusedTextError, check_text, is_allowed

BASE = "http://base.example/"
EVIL = "http://169.254.169.254/latest/"
ALLOWED = "https://data.norge.no/sparql"


def targets(text: str, *, update: bool = False) -> list[str]:
    return list(check_text(text, update=update, base=BASE, allow=[ALLOWED]).targets)


def refusal(text: str, *, update: bool = False) -> RefusedTextError:
    with pytest.raises(RefusedTextError) as caught:
        check_text(text, update=update, base=BASE, allow=[ALLOWED])
    return caught.value


@pytest.mark.parametrize(
    "text",
    [
        f"SELECT * {{ SERVICE <{EVIL}> {{ ?s ?p ?o }} }}",
        f"select * {{ service silent <{EVIL}> {{ ?s ?p ?o }} }}",
        "SELECT * { SERVICE ?x { ?s ?p ?o } }",
        f"PREFIX e: <{EVIL}> SELECT * {{ SERVICE e:x {{ ?s ?p ?o }} }}",
        f"BASE <{EVIL}> SELECT * {{ SERVICE <rel> {{ ?s ?p ?o }} }}",
        f"ASK {{ ?s ?p true.SERVICE SILENT<{EVIL}> {{ ?s ?p ?o }} }}",
    ],
)
def test_service_outside_the_allow_list_is_refused(text: str) -> None:
    assert refusal(text).status == 403


def test_allowed_service_targets_are_reported() -> None:
    text = "PREFIX n: <https://data.norge.no/> ASK { SERVICE n:sparql {} }"
    assert targets(text) == [ALLOWED]


@pytest.mark.parametrize(
    "text",
    [
        f"ASK {{ SERVICESILENT<{EVIL}> {{ ?s ?p ?o }} }}",
        f"PREFIX ex: <{EVIL}> ASK {{ SERVICEex:foo {{ ?s ?p ?o }} }}",
        f"ASK {{ \\u0053ERVICE <{EVIL}> {{ ?s ?p ?o }} }}",
        f'SELECT * {{ ?s ?p "x\\u0022 . SERVICE <{EVIL}> {{}} " }}',
        f"SELECT * {{ ?s ?p ?o }} # c\rSERVICE <{EVIL}> {{}}",
        f"SELECT * {{ ?s ?p ?o # c\u2028SERVICE <{EVIL}> {{}} }}",
        f"SELECT * {{ ?s ?p ?o # c\x85SERVICE <{EVIL}> {{}} }}",
        f"PREFIX ex: <http://a:> ASK {{ ?s ?p ex:SERVICE<{EVIL}>{{}} }}",
        f"ASK {{\xa0SERVICE <{EVIL}> {{}} }}",
        f"ASK {{ SERVICE\x00 <{EVIL}> {{}} }}",
    ],
    ids=[
        "glued-silent",
        "glued-prefix",
        "escaped-keyword",
        "escaped-quote",
        "bare-cr-ends-comment",
        "line-separator",
        "next-line",
        "invalid-expansion",
        "no-break-space",
        "nul",
    ],
)
def test_texts_the_readers_may_read_differently_are_refused(text: str) -> None:
    assert refusal(text).status == 400


@pytest.mark.parametrize(
    "text",
    [
        f'SELECT * {{ ?s ?p "SERVICE <{EVIL}> {{}}" }}',
        f"SELECT * {{ ?s ?p '''service <{EVIL}>''' }}",
        f"# SERVICE <{EVIL}>\nASK {{}}",
        "PREFIX kg: <https://w3id.org/kommunegraf/ontology#> ASK { ?s a kg:StatutoryService }",
        "SELECT ?service { ?service ?p ?o }",
        "SELECT * { ?s a <http://example.org/PublicService> }",
    ],
)
def test_the_word_where_it_is_no_keyword_fetches_nothing(text: str) -> None:
    assert targets(text) == []


def test_the_text_run_has_no_comments_prologue_or_prefixed_names() -> None:
    text = "PREFIX e: <x/> # note\r\nSELECT ?s { ?s e:p -1, 'a'@nb, \"b\"^^e:t }"
    assert check_text(text, update=False, base=BASE, allow=[]).text == (
        "SELECT ?s { ?s <http://base.example/x/p> -1 , 'a'@nb , \"b\"^^ <http://base.example/x/t> }"
    )


def test_load_is_checked_like_service() -> None:
    assert refusal(f"LOAD <{EVIL}data.nt> INTO GRAPH <http://example.org/g>", update=True)
    assert targets(f"LOAD <{ALLOWED}> INTO GRAPH <http://example.org/g>", update=True) == [ALLOWED]
    assert targets("SELECT * { ?load ?p ?o }", update=True) == []


def test_operators_are_counted_outside_data_and_values() -> None:
    chain = "SELECT * { " + " ".join(["MINUS {}"] * (MAX_OPERATORS + 1)) + " }"
    assert refusal(chain).status == 400
    rows = "SELECT * { VALUES ?x { " + " ".join(["-1"] * 10 * MAX_OPERATORS) + " } }"
    # SELECT, *, { and VALUES; not the rows
    assert check_text(rows, update=False, base=BASE, allow=[]).operators == 4
    data = "INSERT DATA { " + " . ".join(f"<a> <b> {-i}" for i in range(5000)) + " }"
    assert check_text(data, update=True, base=BASE, allow=[]).operators == 0


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


_LINKS = {
    "MINUS": ("", "MINUS { }", ""),
    "BIND": ("", "BIND (1 AS ?v{i})", ""),
    "UNION": ("", "{ } UNION", " { }"),
    "OPTIONAL": ("", "OPTIONAL { }", ""),
    "FILTER": ("", "FILTER (true)", ""),
    "EXISTS": ("FILTER (", "EXISTS { } &&", " true)"),
    "||": ("FILTER (", "true ||", " true)"),
    "&&": ("FILTER (", "true &&", " true)"),
    "+": ("BIND (", "1 +", " 1 AS ?x)"),
    "*": ("BIND (", "1 *", " 1 AS ?x)"),
    "!": ("FILTER (", "!", " true)"),
    "path|": ("?s ", "<urn:p> |", " <urn:p> ?o"),
    "subselect": ("", "{ SELECT * { } } UNION", " { }"),
}


def _longest_chain_within_budget(kind: str) -> str:
    before, link, after = _LINKS[kind]

    def text(length: int) -> str:
        chain = " ".join(link.replace("{i}", str(i)) for i in range(length))
        return f"SELECT * {{ {before}{chain}{after} }}"

    def fits(length: int) -> bool:
        try:
            check_text(text(length), update=False, base=BASE, allow=[])
        except RefusedTextError:
            return False
        return True

    length = 1
    while fits(length * 2):
        length *= 2
    low, high = length, length * 2
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if fits(middle) else (low, middle)
    return text(low)


def test_every_chain_within_the_operator_budget_runs_without_a_crash() -> None:
    # The budget's margin, measured: each chain as long as the budget lets through runs
    # in pyoxigraph on a thread's default stack (as updates run in the server) without
    # crashing the process; 3,000 MINUS crashed it.
    texts = [_longest_chain_within_budget(kind) for kind in _LINKS]
    program = (
        "import json, sys, threading, pyoxigraph as ox\n"
        "def run():\n"
        "    for text in json.load(sys.stdin):\n"
        "        result = ox.Store().query(text)\n"
        "        list(result) if not isinstance(result, ox.QueryBoolean) else bool(result)\n"
        "        print('ok', flush=True)\n"
        "thread = threading.Thread(target=run)\n"
        "thread.start()\n"
        "thread.join()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program],
        input=json.dumps(texts),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, (done.returncode, done.stderr[-500:])
    assert done.stdout.split() == ["ok"] * len(texts)


def test_every_graph_named_is_read_from_the_tokens() -> None:
    text = (
        "PREFIX g: <http://g/> WITH g:w INSERT { GRAPH g:a { <s> <p> 1 } } USING g:u "
        "USING NAMED g:n WHERE { GRAPH g:r { } } ; COPY SILENT GRAPH g:c TO GRAPH g:t ; "
        "LOAD SILENT <https://data.norge.no/sparql> INTO GRAPH g:i ; DROP SILENT GRAPH g:d ; "
        "CLEAR DEFAULT ; ADD DEFAULT TO g:x"
    )
    checked = check_text(text, update=True, base=BASE, allow=[ALLOWED])
    assert checked.graphs == tuple(f"http://g/{n}" for n in "waunrctidx")


@pytest.mark.parametrize(("function", "value"), [("COALESCE", '"a"'), ("CONCAT", '"ax"')])
def test_regression_a_function_glued_to_its_bracket_stays_glued(function: str, value: str) -> None:
    """oxigraph 0.5 reads ``COALESCE(`` but refuses ``COALESCE (``; the strict reading
    put a space between every two tokens, so canned queries using COALESCE or CONCAT
    failed with "expected ENCODE_FOR_URI" (the catalogue's to-do list among them)."""
    query = f'SELECT ?c WHERE {{ BIND({function}("a", "x") AS ?c) }}'
    checked = check_text(query, update=False, base="http://b/", allow=[]).text
    assert f"{function}(" in checked
    solutions = ox.Store().query(checked)
    assert isinstance(solutions, ox.QuerySolutions)
    assert [str(row["c"]) for row in solutions] == [value]


@pytest.mark.parametrize(
    ("text", "volatile"),
    [
        ("SELECT (NOW() AS ?t) {}", True),
        ("select (now ( ) as ?t) {}", True),
        ("SELECT * { BIND(rand() AS ?r) }", True),
        ("SELECT (UUID() AS ?u) (STRUUID() AS ?s) {}", True),
        ("SELECT (BNODE() AS ?b) {}", True),
        ('SELECT * { BIND("NOW()" AS ?t) } # RAND()', False),
        ("PREFIX e: <http://e/> SELECT ?now { ?now e:now <http://x/NOW> }", False),
        ("CONSTRUCT { [] <http://p/> _:b } { ?s ?p ?o }", False),
    ],
)
def test_volatile_functions_are_read_from_the_tokens(text: str, volatile: bool) -> None:
    """Only a call oxigraph would run counts: not a string, comment, variable or IRI;
    template blank nodes are labels only (``text_checks.VOLATILE``)."""
    assert check_text(text, update=False, base=BASE, allow=[]).volatile is volatile
