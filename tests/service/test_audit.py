"""Every write leaves one audit entry, with the right counts, in the file and the graph."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.access.audit import AuditEvent, AuditLog, new_event
from service.web.startup import FIRST_START
from tests.conftest import start_server, stop_server
from tests.service.access import ADMIN, HASVIK, Access, start_access_server, usage, workbook
from tests.service.client import bearer, call


@pytest.fixture(scope="module")
def access(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Access]:
    running = start_access_server("embedded", tmp_path_factory.mktemp("audit"))
    try:
        yield running
    finally:
        stop_server(running.server)


def _latest(access: Access, count_before: int) -> AuditEvent:
    events = access.events()
    assert len(events) == count_before + 1, events[count_before:]
    return events[-1]


def test_an_upload_is_recorded_with_its_counts_and_file_hash(
    access: Access, tmp_path: Path
) -> None:
    path = workbook(tmp_path, "hasvik.xlsx", [usage("5616 Hasvik")])
    seen = len(access.events())
    assert access.upload(path, access.tokens["hasvik"]).status == 200
    event = _latest(access, seen)
    graph = access.graph(HASVIK, "hasvik")
    assert (event.actor, event.role, event.action) == ("Hasvik systemeier", "municipality", "load")
    assert event.municipalities == (HASVIK,)
    assert event.file_name == "hasvik.xlsx"
    assert event.file_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    loaded, proposal = event.changes
    assert (loaded.graph, loaded.added, loaded.removed) == (graph, access.size(graph), 0)
    assert proposal.graph.startswith(f"{access.base}graph/proposal/")
    assert proposal.added == access.size(proposal.graph) > 0

    # the same file again: what changed is the load's own metadata, nothing else
    assert access.upload(path, access.tokens["hasvik"]).status == 200
    again = access.events()[-1].changes[0]
    assert again.added == again.removed > 0
    assert again.added < loaded.added


def test_updates_are_counted_triple_by_triple(access: Access) -> None:
    graph = access.graph(HASVIK, "notater")
    subject = f"{access.base}id/bruk/{HASVIK}/visma-flyt-skole"
    token = access.tokens["hasvik"]
    seen = len(access.events())
    insert = f'INSERT DATA {{ GRAPH <{graph}> {{ <{subject}> <urn:a> "1" , "2" }} }}'
    assert access.update(insert, token).status == 200
    event = _latest(access, seen)
    assert (event.action, event.changes[0].graph) == ("update", graph)
    assert (event.added, event.removed) == (2, 0)
    # inserting what is there adds nothing; deleting one removes one
    assert access.update(insert, token).status == 200
    assert (access.events()[-1].added, access.events()[-1].removed) == (0, 0)
    delete = f'DELETE DATA {{ GRAPH <{graph}> {{ <{subject}> <urn:a> "1" }} }}'
    assert access.update(delete, token).status == 200
    assert (access.events()[-1].added, access.events()[-1].removed) == (0, 1)


def test_graph_store_writes_are_counted(access: Access) -> None:
    graph = access.graph(HASVIK, "store")
    subject = f"{access.base}id/bruk/{HASVIK}/x"
    headers = bearer(access.tokens["hasvik"]) | {"Content-Type": "application/n-triples"}
    three = "".join(f'<{subject}> <urn:p> "{n}" .\n' for n in range(3)).encode()
    seen = len(access.events())
    assert call(access.url, "PUT", "/store", params={"graph": graph}, body=three, headers=headers)
    assert (_latest(access, seen).added, access.events()[-1].removed) == (3, 0)
    two = f'<{subject}> <urn:p> "2" .\n<{subject}> <urn:p> "3" .\n'.encode()
    call(access.url, "POST", "/store", params={"graph": graph}, body=two, headers=headers)
    assert (access.events()[-1].added, access.events()[-1].removed) == (1, 0)
    one = f'<{subject}> <urn:p> "9" .\n'.encode()
    call(access.url, "PUT", "/store", params={"graph": graph}, body=one, headers=headers)
    assert (access.events()[-1].added, access.events()[-1].removed) == (1, 4)
    call(access.url, "DELETE", "/store", params={"graph": graph}, headers=headers)
    last = access.events()[-1]
    assert (last.action, last.added, last.removed) == ("graph-store", 0, 1)
    assert len(access.events()) == seen + 4


def test_a_refused_write_records_nothing(access: Access) -> None:
    seen = len(access.events())
    text = f'INSERT DATA {{ GRAPH <{access.base}graph/source/x> {{ <urn:a> <urn:b> "c" }} }}'
    assert access.update(text, access.tokens["hasvik"]).status == 403
    assert access.update(text, None).status == 401
    assert len(access.events()) == seen


def test_approval_is_recorded(access: Access, tmp_path: Path) -> None:
    path = workbook(tmp_path, "hasvik-katalog.xlsx", [usage("5616 Hasvik")])
    assert access.upload(path, access.tokens["hasvik"]).status == 200
    proposal = access.events()[-1].changes[1].graph
    size = access.size(proposal)
    identifier = proposal.rsplit("/", 1)[-1]
    seen = len(access.events())
    answer = call(access.url, "POST", f"/proposals/{identifier}/approve", headers=bearer(ADMIN))
    assert answer.status == 200, answer.text
    event = _latest(access, seen)
    catalogue, dropped = event.changes
    assert (event.action, event.actor, event.role) == ("approval", "KOMMUNEGRAF_TOKEN", "admin")
    assert catalogue.graph == f"{access.base}graph/catalogue"
    assert catalogue.added == access.size(catalogue.graph) > 0
    assert (dropped.graph, dropped.added, dropped.removed) == (proposal, 0, size)


def test_readers_can_query_the_audit_graph(access: Access) -> None:
    rows = access.select(
        """PREFIX prov: <http://www.w3.org/ns/prov#>
        PREFIX foaf: <http://xmlns.com/foaf/0.1/>
        PREFIX kg: <https://w3id.org/kommunegraf/ontology#>
        SELECT ?activity ?action (SUM(?added) AS ?plus) WHERE {
          ?activity a prov:Activity ; kg:action ?action ; prov:wasAssociatedWith ?agent .
          ?agent foaf:name "Hasvik systemeier" .
          ?entity prov:wasGeneratedBy ?activity ; kg:triplesAdded ?added .
        } GROUP BY ?activity ?action"""
    )
    by_id = {row["activity"].rsplit("/", 1)[-1]: row for row in rows}
    mine = [e for e in access.events() if e.actor == "Hasvik systemeier" and e.changes]
    assert mine and {e.id for e in mine} <= set(by_id)
    for event in mine:
        assert int(by_id[event.id]["plus"]) == event.added
        assert by_id[event.id]["action"] == event.action


def test_a_wide_admin_update_cannot_erase_the_audit_graph(access: Access) -> None:
    audit = f"{access.base}graph/audit"
    before = access.size(audit)
    wipe = "DELETE { GRAPH ?g { ?s ?p ?o } } WHERE { GRAPH ?g { ?s ?p ?o } FILTER(?g = <%s>) }"
    assert access.update(wipe % audit, ADMIN).status == 200
    assert access.size(audit) > before  # rebuilt from the file, with this update in it
    assert access.events()[-1].detail.startswith("netto")


def test_tokens_are_never_in_the_log(access: Access) -> None:
    text = access.audit_log.read_text(encoding="utf-8")
    assert text and all(token not in text for token in [ADMIN, *access.tokens.values()])
    for line in text.splitlines():
        json.loads(line)  # one JSON object per line


def test_the_audit_command_filters_by_municipality_and_date(access: Access) -> None:
    def run(*args: str) -> list[AuditEvent]:
        command = [sys.executable, "-m", "service", "audit", "--json"]
        done = subprocess.run(
            [*command, "--log", str(access.audit_log), *args],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return [AuditEvent.from_json(line) for line in done.stdout.splitlines()]

    everything = run()
    assert [e.id for e in everything] == [e.id for e in access.events()]
    hasvik = run("--kommune", HASVIK)
    assert hasvik and all(HASVIK in e.municipalities for e in hasvik)
    assert run("--kommune", "0301") == []
    assert run("--since", "2999-01-01") == []
    table = subprocess.run(
        [sys.executable, "-m", "service", "audit", "--log", str(access.audit_log)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Hasvik systemeier" in table.stdout


def test_the_log_is_appended_to_never_rewritten(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    first = AuditEvent("a", "2024-01-01T00:00:00+00:00", "X", "admin", "update")
    log.append(first)
    start = (tmp_path / "audit.jsonl").read_bytes()
    log.append(AuditEvent("b", "2024-01-02T00:00:00+00:00", "Y", "admin", "update"))
    assert (tmp_path / "audit.jsonl").read_bytes().startswith(start)
    assert [e.id for e in log.events()] == ["a", "b"]
    from datetime import date

    assert [e.id for e in log.events(since=date(2024, 1, 2))] == ["b"]


def test_the_load_command_is_audited_too(tmp_path: Path) -> None:
    path = workbook(tmp_path, "katalog.xlsx", [])
    log = tmp_path / "audit.jsonl"
    store = tmp_path / "store"
    env = {**os.environ, "KOMMUNEGRAF_AUDIT_LOG": str(log)}
    done = subprocess.run(
        [sys.executable, "-m", "service", "load", "--store", str(store), str(path)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    # The new store got the reference data first, a write recorded like the load itself.
    reference, event = AuditLog(log).events()
    assert (reference.action, reference.file_name) == ("load", None)
    assert "reference data into an empty store" in reference.detail
    assert reference.actor.startswith("kommandolinjen / command line")
    assert reference.added > 1000 and reference.removed == 0
    assert all("/graph/reference/" in c.graph for c in reference.changes)
    assert (event.action, event.role, event.file_name) == ("load", "admin", "katalog.xlsx")
    assert event.actor.startswith("kommandolinjen / command line")
    assert event.file_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert event.added > 0 and event.removed == 0
    asked = subprocess.run(
        [
            sys.executable,
            "-m",
            "service",
            "query",
            "--store",
            str(store),
            "--format",
            "csv",
            "SELECT ?n WHERE { ?e <https://w3id.org/kommunegraf/ontology#triplesAdded> ?n }",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert asked.returncode == 0, asked.stderr
    assert str(event.added) in asked.stdout.split()[1:]


def test_regression_audit_trail_survived_deleting_the_store(tmp_path: Path) -> None:
    """The default trail ``<store>-audit.jsonl`` lies beside the store folder, so deleting
    the folder left it behind, and a fresh store's trail began with the gone store's
    writes. Now an empty store sets such a trail aside under a dated name (kept), and its
    own trail starts with its first load.

    That load (in tests the reference data alone: the demo is off) is a write like any
    other: one "load" event that names every graph it wrote and how many triples,
    announced before and recorded after; a later start writes none."""
    log = tmp_path / "store-audit.jsonl"  # the default, beside the store folder
    gone = new_event(FIRST_START, "load", "http://x/", detail="the deleted store's load")
    AuditLog(log).append(gone)  # what is left of a store whose folder was deleted
    server = start_server(str(tmp_path / "store"))
    try:
        answer = call(
            server.url,
            "GET",
            "/sparql",
            params={
                "query": "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g"
            },
            headers={"Accept": "application/sparql-results+json"},
        )
        assert answer.status == 200, answer.text
        rows = json.loads(answer.body)["results"]["bindings"]
        sizes = {r["g"]["value"]: int(r["n"]["value"]) for r in rows}
    finally:
        stop_server(server)
    (event,) = AuditLog(log).events()
    assert (event.action, event.actor, event.role) == ("load", FIRST_START.name, "admin")
    assert "first start: reference data" in event.detail
    audit = next(g for g in sizes if g.endswith("/graph/audit"))
    assert {c.graph: c.added for c in event.changes} == {
        g: n for g, n in sizes.items() if g != audit
    }
    assert event.added > 1000 and event.removed == 0
    assert AuditLog(log).pending() == []
    stop_server(start_server(str(tmp_path / "store")))
    assert [e.id for e in AuditLog(log).events()] == [event.id]
    (kept,) = tmp_path.glob("store-audit.until-*.jsonl")
    assert [e.id for e in AuditLog(kept).events()] == [gone.id]
