"""Issue 16, items 1 to 3: the checks read what the store runs, scope covers whom a triple
speaks about, and no text crashes the store.

A real server with an admin token, two municipality tokens (Hasvik 5616, Alta 5601),
an audit log and a SERVICE allow-list pointing at a loopback canary that records
every request. Each attack is one of a class: texts two SPARQL readers read
differently (comments ended by a bare carriage return, other line terminators,
escapes, keywords glued to prefixed names), and flat chains that overflow
oxigraph's recursive parser and evaluator.
"""

from __future__ import annotations

import asyncio
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.canary import Canary
from tests.conftest import stop_server
from tests.service.access import ALTA, HASVIK, Access, start_access_server
from tests.service.client import bearer, call

RDFS = "http://www.w3.org/2000/01/rdf-schema#"


def _query(access: Access, text: str) -> tuple[int, str]:
    answer = call(
        access.url,
        "POST",
        "/sparql",
        body=text.encode("utf-8"),
        headers={
            "Content-Type": "application/sparql-query",
            "Accept": "application/sparql-results+json",
        },
        timeout=60,
    )
    return answer.status, answer.text


def _alive(access: Access) -> bool:
    return access.server.process.poll() is None and _query(access, "ASK {}")[0] == 200


TARGET = "{canary}/secret/sparql"
HIDDEN_SERVICE = {
    "comment-ended-by-bare-cr": "SELECT * {{ ?s ?p ?o # x\rSERVICE <{secret}> {{ ?s ?p ?o }}\n}}",
    "comment-ended-by-nel": "SELECT * {{ ?s ?p ?o # x\x85SERVICE <{secret}> {{ ?s ?p ?o }}\n}}",
    "comment-ended-by-line-separator": (
        "SELECT * {{ ?s ?p ?o # x\u2028SERVICE <{secret}> {{ ?s ?p ?o }}\n}}"
    ),
    "escaped-keyword": "SELECT * {{ \\u0053ERVICE <{secret}> {{ ?s ?p ?o }} }}",
    "escaped-quote": 'SELECT * {{ ?s ?p "x\\u0022 . SERVICE <{secret}> {{}} " }}',
    "keyword-glued-to-a-prefix": (
        "PREFIX s: <{canary}/secret/> PREFIX SERVICEs: <http://e/> "
        "SELECT * {{ SERVICEs:sparql {{}} }}"
    ),
    "keyword-after-an-invalid-expansion": (
        "PREFIX ex: <http://a:> SELECT * {{ ?s ?p ex:SERVICE<{secret}>{{}} }}"
    ),
    "no-break-space": "SELECT * {{\xa0SERVICE <{secret}> {{ ?s ?p ?o }} }}",
}


@pytest.mark.parametrize("template", HIDDEN_SERVICE.values(), ids=HIDDEN_SERVICE.keys())
def test_regression_checker_and_executor_parse_different_texts(
    access: Access, canary: Canary, template: str
) -> None:
    before = len(canary.paths)
    text = template.format(canary=canary.url, secret=TARGET.format(canary=canary.url))
    status, body = _query(access, text)
    assert status in (400, 403), body
    assert canary.paths[before:] == []


def test_regression_an_update_past_a_bare_cr_writes_nothing_unchecked(
    access: Access, canary: Canary
) -> None:
    own = access.graph(HASVIK, "cr")
    other = access.graph(ALTA, "cr")
    audit = f"{access.base}graph/audit"
    audit_size = access.size(audit)
    before = len(canary.paths)
    usage = f"{access.base}id/bruk/{HASVIK}/x"
    hidden = [
        f"INSERT DATA {{ GRAPH <{other}> {{ <{usage}> <{RDFS}label> 'forged' }} }}",
        f"INSERT DATA {{ GRAPH <{audit}> {{ <{usage}> <{RDFS}label> 'forged' }} }}",
        f"LOAD <{canary.url}/secret/data.nt> INTO GRAPH <{other}>",
    ]
    for operation in hidden:
        text = (
            f"INSERT DATA {{ GRAPH <{own}> {{ <{usage}> <{RDFS}label> 'ok' }} }} # \r; {operation}"
        )
        answer = access.update(text, access.tokens["hasvik"])
        assert answer.status == 400, answer.text
    assert access.size(own) == 0 and access.size(other) == 0
    assert access.size(audit) == audit_size
    assert canary.paths[before:] == []


def _chain(kind: str, length: int) -> str:
    links = {
        "MINUS": "MINUS { }",
        "BIND": "BIND (1 AS ?v{i})",
        "UNION": "{ } UNION",
        "OPTIONAL": "OPTIONAL { }",
        "||": "true ||",
        "+": "1 +",
    }
    body = " ".join(links[kind].replace("{i}", str(i)) for i in range(length))
    if kind == "UNION":
        return body + " { }"
    if kind in ("||", "+"):
        return f"FILTER({body} true)" if kind == "||" else f"BIND({body} 1 AS ?sum)"
    return body


@pytest.mark.parametrize("kind", ["MINUS", "BIND", "UNION", "OPTIONAL", "||", "+"])
def test_regression_parser_stack_overflow_costs_no_worker(access: Access, kind: str) -> None:
    workers = access.server.query_workers()
    text = f"SELECT * {{ {_chain(kind, 20_000)} }}"

    def client() -> list[int]:  # two clients in a loop killed 37 workers in 20 s
        return [_query(access, text)[0] for _ in range(5)]

    with ThreadPoolExecutor(2) as pool:
        statuses = [s for answers in pool.map(lambda _: client(), range(2)) for s in answers]
    assert statuses == [400] * 10
    assert "operator" in _query(access, text)[1]
    assert _alive(access)
    assert access.server.query_workers() == workers


def test_regression_checker_and_executor_parse_different_texts_on_a_remote_store(
    tmp_path: Path, canary: Canary
) -> None:
    # The remote server (oxigraph serve) would fetch too: it gets the checked text.
    remote = start_access_server(
        "remote", tmp_path, {"KOMMUNEGRAF_SERVICE_ALLOW": f"{canary.url}/allowed/"}
    )
    try:
        secret = TARGET.format(canary=canary.url)
        for name in ("comment-ended-by-bare-cr", "keyword-after-an-invalid-expansion"):
            before = len(canary.paths)
            text = HIDDEN_SERVICE[name].format(canary=canary.url, secret=secret)
            status, body = _query(remote, text)
            assert status in (400, 403), (name, body)
            assert canary.paths[before:] == [], name
        status, body = _query(remote, f"SELECT * {{ {_chain('MINUS', 20_000)} }}")
        assert status == 400, body[:300]
        assert _alive(remote)
    finally:
        stop_server(remote.server)


def test_regression_parser_stack_overflow_in_an_update_cannot_take_the_server_down(
    access: Access,
) -> None:
    own = access.graph(HASVIK, "deep")
    usage = f"{access.base}id/bruk/{HASVIK}/deep"
    text = (
        f"INSERT {{ GRAPH <{own}> {{ <{usage}> <{RDFS}label> 'x' }} }} "
        f"WHERE {{ {_chain('MINUS', 20_000)} }}"
    )
    answer = access.update(text, access.tokens["hasvik"])
    assert answer.status == 400, answer.text
    assert _alive(access)
    assert access.size(own) == 0


def test_a_crash_while_rehearsing_an_update_costs_one_worker() -> None:
    # Past the operator budget nothing reaches the store; this is the net beneath it:
    # an update is parsed and planned in a worker first, where a crash costs a worker.
    from service.errors import UpdateCrashedError
    from service.store.embedded import KnowledgeStore
    from service.store.worker_tasks import QueryRequest, UpdateRehearsal
    from service.store.workers import QueryPool

    async def run() -> None:
        store = KnowledgeStore(None)
        pool = QueryPool(1)
        await pool.start()
        try:
            crash = f"DELETE {{ ?s ?p ?o }} WHERE {{ {_chain('MINUS', 20_000)} }}"
            with pytest.raises(UpdateCrashedError):
                await pool.rehearse(UpdateRehearsal(crash, store.snapshot, True), 60)
            await pool.rehearse(UpdateRehearsal("DROP ALL", store.snapshot, True), 60)
            ask = QueryRequest("ASK {}", store.snapshot, "application/sparql-results+json", None)
            assert (await pool.execute(ask, 60)).body
        finally:
            pool.close()
            store.close()

    asyncio.run(run())


KG = "https://w3id.org/kommunegraf/ontology#"
DCT = "http://purl.org/dc/terms/"
OSLO = "0301"


def _put(access: Access, graph: str, turtle: str, token: str) -> tuple[int, str]:
    answer = call(
        access.url,
        "PUT",
        "/store?" + urllib.parse.urlencode({"graph": graph}),
        body=turtle.encode("utf-8"),
        headers={"Content-Type": "text/turtle", **bearer(token)},
    )
    return answer.status, answer.text


def _scope_attacks(access: Access) -> dict[str, str]:
    oslo = f"<{access.base}id/kommune/{OSLO}>"
    app = f"<{access.base}id/applikasjon/visma-flyt-skole>"
    own = f"<{access.base}id/bruk/{HASVIK}/x>"
    return {
        "blank-usage-of-oslo": (
            f"_:u a kg:ApplicationUsage ; kg:usedBy {oslo} ; kg:application {app} ."
        ),
        "own-usage-said-to-be-oslos": f"{own} kg:usedBy {oslo} .",
        "blank-application": f'_:a a kg:Application ; <{RDFS}label> "Ikke foreslått" .',
        "own-iri-typed-as-vendor": f"{own} a kg:Vendor .",
        "blank-dataset-of-oslo": f"_:d a kg:Dataset ; <{DCT}publisher> {oslo} .",
        "blank-municipality": f'_:m a kg:Municipality ; <{RDFS}label> "Ny kommune" .',
    }


@pytest.mark.parametrize(
    "attack",
    [
        "blank-usage-of-oslo",
        "own-usage-said-to-be-oslos",
        "blank-application",
        "own-iri-typed-as-vendor",
        "blank-dataset-of-oslo",
        "blank-municipality",
    ],
)
def test_regression_write_scope_looks_only_at_subjects(access: Access, attack: str) -> None:
    graph = access.graph(HASVIK, f"scope-{attack}")
    triples = _scope_attacks(access)[attack]
    token = access.tokens["hasvik"]
    update = f"PREFIX kg: <{KG}> INSERT DATA {{ GRAPH <{graph}> {{ {triples} }} }}"
    answer = access.update(update, token)
    assert answer.status == 403, answer.text
    status, body = _put(access, graph, f"@prefix kg: <{KG}> .\n{triples}\n", token)
    assert status == 403, body
    assert access.size(graph) == 0


def test_regression_write_scope_variables_cannot_name_the_owner(access: Access) -> None:
    graph = access.graph(HASVIK, "scope-variables")
    own = f"<{access.base}id/bruk/{HASVIK}/y>"
    oslo = f"<{access.base}id/kommune/{OSLO}>"
    for template, where in [
        (f"{own} kg:usedBy ?m", f"VALUES ?m {{ {oslo} }}"),
        (f"{own} ?p {oslo}", "VALUES ?p { kg:usedBy }"),
        (f"{own} a ?c", "VALUES ?c { kg:Application }"),
    ]:
        text = (
            f"PREFIX kg: <{KG}> INSERT {{ GRAPH <{graph}> {{ {template} }} }} WHERE {{ {where} }}"
        )
        answer = access.update(text, access.tokens["hasvik"])
        assert answer.status == 403, (template, answer.text)
    assert access.size(graph) == 0


def test_own_records_are_still_written(access: Access) -> None:
    graph = access.graph(HASVIK, "scope-own")
    home = f"<{access.base}id/kommune/{HASVIK}>"
    triples = (
        f"<{access.base}id/bruk/{HASVIK}/z> a kg:ApplicationUsage ; kg:usedBy {home} . "
        f"_:d a kg:Dataset ; <{DCT}publisher> {home} ."
    )
    answer = access.update(
        f"PREFIX kg: <{KG}> INSERT DATA {{ GRAPH <{graph}> {{ {triples} }} }}",
        access.tokens["hasvik"],
    )
    assert answer.status == 200, answer.text
    assert access.size(graph) == 4


def test_a_municipality_update_names_only_its_own_graphs(access: Access) -> None:
    # Read from the tokens, not from a parse tree: whatever structure a parser gives
    # the text, every graph it names is the token's own.
    own = access.graph(HASVIK, "named")
    other = access.graph(ALTA, "named")
    usage = f"<{access.base}id/bruk/{HASVIK}/named>"
    for text in [
        f"INSERT {{ GRAPH <{own}> {{ {usage} <{RDFS}label> ?o }} }} "
        f"WHERE {{ GRAPH <{other}> {{ ?s ?p ?o }} }}",
        f"INSERT {{ GRAPH <{own}> {{ {usage} <{RDFS}label> 'x' }} }} USING <{other}> WHERE {{ }}",
        f"ADD <{other}> TO <{own}>",
    ]:
        answer = access.update(text, access.tokens["hasvik"])
        assert answer.status == 403, (text, answer.text)
    assert access.size(own) == 0
