"""/metrics on a real server: the series move when queries, timeouts and loads happen.

The exposition is read with prometheus_client's own parser, so a malformed line
fails the test, not just a missing number.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from service import metrics
from service.store.embedded import KnowledgeStore
from service.store.sources import check_sources, load_sources
from tests.conftest import Server, start_server, stop_server
from tests.service.access import ADMIN, start_access_server, usage, workbook
from tests.service.client import call

DEADLINE = 2.0
RUNAWAY = "SELECT (COUNT(*) AS ?c) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(scope="module")
def metered() -> Iterator[Server]:
    running = start_server(":memory:", "--query-timeout", str(DEADLINE), "--query-workers", "2")
    yield running
    stop_server(running)


def _parse(text: str) -> Samples:
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def scrape(server: Server) -> Samples:
    answer = call(server.url, "GET", "/metrics")
    assert answer.status == 200
    assert answer.media == "text/plain" and "version=0.0.4" in answer.headers["content-type"]
    return _parse(answer.text)


def value(samples: Samples, metric: str, /, **labels: str) -> float:
    return samples.get((metric, frozenset(labels.items())), 0.0)


def test_reference_load_at_start_and_store_size(metered: Server) -> None:
    samples = scrape(metered)
    loaded = value(samples, "kommunegraf_loads_total", source="reference")
    assert loaded >= 5
    assert value(samples, "kommunegraf_load_triples_total") > 10_000
    assert value(samples, "kommunegraf_load_duration_seconds_count") == loaded
    # One named graph per reference source, and the audit graph that records their load;
    # the store holds what was loaded plus provenance.
    assert value(samples, "kommunegraf_store_graphs") == loaded + 1
    assert value(samples, "kommunegraf_store_triples") > value(
        samples, "kommunegraf_load_triples_total"
    )
    assert value(samples, "kommunegraf_query_workers") == 2
    assert value(samples, "kommunegraf_build_info", version="0.1.0") == 1


def test_a_sparql_query_moves_request_and_query_series(metered: Server) -> None:
    """Three requests, three texts: each is run by a worker (the answer cache keys on the
    exact text; ``test_sparql_http`` covers what it answers)."""
    before = scrape(metered)
    for n in range(3):
        query = f"ASK {{ ?s ?p ?o }} # {n}"
        assert call(metered.url, "GET", "/sparql", params={"query": query}).status == 200
    after = scrape(metered)
    key = {"method": "GET", "route": "/sparql", "status": "200"}
    assert (
        value(after, "kommunegraf_http_requests_total", **key)
        == value(before, "kommunegraf_http_requests_total", **key) + 3
    )
    count = "kommunegraf_query_duration_seconds_count"
    assert (
        value(after, count, kind="sparql", name="")
        == value(before, count, kind="sparql", name="") + 3
    )
    assert value(
        after, "kommunegraf_query_duration_seconds_bucket", kind="sparql", name="", le="+Inf"
    ) == value(after, count, kind="sparql", name="")


def test_answers_from_the_cache_are_counted_apart_from_queries_run(metered: Server) -> None:
    before = scrape(metered)
    for _ in range(3):
        query = "ASK { ?s ?p ?o } # the same text three times"
        assert call(metered.url, "GET", "/sparql", params={"query": query}).status == 200
    after = scrape(metered)
    count = "kommunegraf_query_duration_seconds_count"
    assert value(after, count, kind="sparql", name="") == (
        value(before, count, kind="sparql", name="") + 1
    )
    for result, more in (("hit", 2), ("miss", 1)):
        assert value(after, "kommunegraf_answer_cache_total", result=result) == (
            value(before, "kommunegraf_answer_cache_total", result=result) + more
        )


def test_pages_and_canned_queries_are_labelled(metered: Server) -> None:
    listed = call(metered.url, "GET", "/queries", headers={"Accept": "application/json"})
    assert listed.status == 200
    free = [
        q["name"]
        for q in json.loads(listed.body)
        if not any(p["required"] for p in q["parameters"])
    ]
    assert free, "no canned query without required parameters"
    name = free[0]
    before = scrape(metered)
    answer = call(
        metered.url,
        "GET",
        f"/queries/{name}",
        headers={"Accept": "application/sparql-results+json"},
    )
    assert answer.status == 200, answer.text
    assert call(metered.url, "GET", "/", headers={"Accept": "text/html"}).status == 200
    after = scrape(metered)
    count = "kommunegraf_query_duration_seconds_count"
    assert value(after, count, kind="canned", name=name) > value(
        before, count, kind="canned", name=name
    )
    assert value(after, count, kind="page", name="") > value(before, count, kind="page", name="")
    key = {"method": "GET", "route": f"/queries/{name}", "status": "200"}
    assert value(after, "kommunegraf_http_requests_total", **key) >= 1


def test_a_timeout_is_counted_and_active_queries_show_while_it_runs(metered: Server) -> None:
    before = scrape(metered)
    outcome: dict[str, int] = {}

    def runaway() -> None:
        outcome["status"] = call(metered.url, "GET", "/sparql", params={"query": RUNAWAY}).status

    thread = threading.Thread(target=runaway)
    thread.start()
    # Scraped until the server has it (a sleep of DEADLINE / 2 scraped before the query
    # arrived on a busy machine); ``before`` measured the store, so no scrape queries.
    during = scrape(metered)
    while value(during, "kommunegraf_active_queries") < 1 and thread.is_alive():
        time.sleep(0.02)
        during = scrape(metered)
    thread.join(timeout=DEADLINE * 10)
    after = scrape(metered)

    assert outcome["status"] == 503
    assert value(during, "kommunegraf_active_queries") >= 1
    assert value(after, "kommunegraf_active_queries") == 0
    timeouts = "kommunegraf_query_timeouts_total"
    assert (
        value(after, timeouts, kind="sparql", name="")
        == value(before, timeouts, kind="sparql", name="") + 1
    )
    key = {"method": "GET", "route": "/sparql", "status": "503"}
    assert (
        value(after, "kommunegraf_http_requests_total", **key)
        == value(before, "kommunegraf_http_requests_total", **key) + 1
    )


def test_unmatched_paths_share_one_series(metered: Server) -> None:
    call(metered.url, "GET", "/no/such/path/4711")
    samples = scrape(metered)
    routes = {
        dict(labels).get("route")
        for (name, labels) in samples
        if name == "kommunegraf_http_requests_total"
    }
    assert not any(route and "4711" in route for route in routes)


def test_an_upload_over_http_moves_the_load_and_audit_series(tmp_path: Path) -> None:
    """A workbook loaded through POST /upload, and one refused, on a real server."""
    access = start_access_server("embedded", tmp_path)
    try:
        before = scrape(access.server)
        good = workbook(tmp_path, "katalog.xlsx", [usage("5616 Hasvik")])
        assert access.upload(good, ADMIN).status == 200
        bad = workbook(tmp_path, "feil.xlsx", [["5616 Hasvik", "Finnes Ikke", "", "", "", "", ""]])
        assert access.upload(bad, ADMIN).status == 422
        after = scrape(access.server)
    finally:
        stop_server(access.server)

    def moved(metric: str, **labels: str) -> float:
        return value(after, metric, **labels) - value(before, metric, **labels)

    assert moved("kommunegraf_loads_total", source="spreadsheet") == 1
    assert moved("kommunegraf_load_rows_total") == 3  # vendor, application, usage
    assert moved("kommunegraf_load_triples_total") > 0
    assert moved("kommunegraf_load_duration_seconds_count") == 1
    assert moved("kommunegraf_loads_rejected_total", source="spreadsheet") == 1
    assert moved("kommunegraf_audit_events_total", action="load") == 1
    assert moved("kommunegraf_store_graphs") >= 1


def _own_samples() -> Samples:
    return _parse(metrics.exposition().decode())


def test_loads_and_rejected_loads_are_counted(tmp_path: Path) -> None:
    """A real load through ``service.store.sources`` into a real store, in this process."""
    good = tmp_path / "extra.ttl"
    good.write_text('<urn:kommunegraf:test> <urn:kommunegraf:note> "ok" .\n', encoding="utf-8")
    bad = tmp_path / "vendor.ttl"
    bad.write_text(
        "@prefix kg: <https://w3id.org/kommunegraf/ontology#> .\n"
        "<http://127.0.0.1:8000/id/leverandor/x> a kg:Vendor .\n",
        encoding="utf-8",
    )
    before = _own_samples()
    store = KnowledgeStore(None)
    try:
        results = check_sources([good], "http://127.0.0.1:8000/")
        assert results[0].report.conforms
        load_sources(store, results)
        rejected = check_sources([bad], "http://127.0.0.1:8000/")
        assert not rejected[0].report.conforms
        with pytest.raises(ValueError, match="refusing"):
            load_sources(store, rejected)
    finally:
        store.close()
    after = _own_samples()
    assert (
        value(after, "kommunegraf_loads_total", source="rdf")
        == value(before, "kommunegraf_loads_total", source="rdf") + 1
    )
    assert (
        value(after, "kommunegraf_load_triples_total")
        == value(before, "kommunegraf_load_triples_total") + 1
    )
    assert (
        value(after, "kommunegraf_loads_rejected_total", source="rdf")
        == value(before, "kommunegraf_loads_rejected_total", source="rdf") + 1
    )


def test_audit_events_are_counted_by_action() -> None:
    before = _own_samples()
    metrics.count_audit_event("load")
    metrics.count_audit_event("load")
    after = _own_samples()
    name = "kommunegraf_audit_events_total"
    assert value(after, name, action="load") == value(before, name, action="load") + 2
