"""Canned queries over real HTTP, on both backends: listing, running, refusing."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from collections.abc import Iterator

import pytest
from rdflib import Graph

from tests.cli import kommunegraf
from tests.conftest import BACKENDS, Server, start_server_on, stop_server
from tests.queries.test_canned_queries import FIXTURE
from tests.service.client import Answer, bearer, call

TOKEN = "queries-test-token-0123456789abc"  # noqa: S105 (a test token)


@pytest.fixture(scope="module", params=BACKENDS)
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    """A server holding the reference data and the hand-built query fixture."""
    running = start_server_on(request.param, env={"KOMMUNEGRAF_TOKEN": TOKEN})
    base = running.url + "/"
    data = Graph().parse(FIXTURE, format="turtle", publicID=base).serialize(format="nt")
    put = call(
        running.url,
        "PUT",
        "/store",
        params={"graph": base + "graph/test/fixture"},
        body=data.encode(),
        headers={"Content-Type": "application/n-triples", **bearer(TOKEN)},
    )
    assert put.status in (201, 204), put.text
    yield running
    stop_server(running)


def get(server: Server, path: str, accept: str | None = None, **params: str) -> Answer:
    return call(
        server.url, "GET", path, params=params, headers={"Accept": accept} if accept else {}
    )


def test_list_as_json_carries_the_header_metadata(server: Server) -> None:
    answer = get(server, "/queries")
    assert answer.status == 200 and answer.media == "application/json"
    listed = {q["name"]: q for q in json.loads(answer.body)}
    users = listed["application-users"]
    assert users["title"]["nb"] == "Kommuner som bruker en applikasjon"
    assert users["parameters"][0]["name"] == "application"
    assert users["parameters"][0]["required"] is True
    assert [c["name"] for c in users["columns"]][:2] == ["municipality", "kommunenummer"]


def test_list_as_a_page_for_browsers(server: Server) -> None:
    answer = get(server, "/queries", accept="text/html,application/xhtml+xml")
    assert answer.status == 303 and answer.headers["location"] == "/sporringer"
    gallery = get(server, "/sporringer")
    assert "Gjenbrukskandidater i en region" in gallery.text


def test_run_as_json_csv_and_html(server: Server) -> None:
    websak = server.url + "/id/applikasjon/websak"
    answer = get(server, "/queries/application-users", application=websak)
    assert answer.status == 200 and answer.media == "application/sparql-results+json"
    rows = json.loads(answer.body)["results"]["bindings"]
    assert [r["kommunenummer"]["value"] for r in rows] == ["3303", "5601", "5603"]

    as_csv = get(server, "/queries/application-users", accept="text/csv", application=websak)
    assert as_csv.media == "text/csv"
    table = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [r["version"] for r in table] == ["", "2024.1", "2023.2"]

    moved = get(server, "/queries/application-users", format="html", application=websak)
    assert moved.status == 303
    location = moved.headers["location"]
    assert location.startswith("/sporringer/application-users?") and "run=1" in location
    page = call(server.url, "GET", location)
    assert page.status == 200 and page.media == "text/html"
    assert "2024.1" in page.text and "Kommunens navn" in page.text


def test_missing_and_unknown_parameters_are_named(server: Server) -> None:
    missing = get(server, "/queries/application-users")
    assert missing.status == 422 and "application" in missing.text
    unknown = get(server, "/queries/service-gaps", kommune="5616", colour="red")
    assert unknown.status == 422 and "colour" in unknown.text and "kommune" in unknown.text


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("service-gaps", {"kommune": '5616"} UNION {'}),
        ("application-users", {"application": "http://x/a> } UNION { ?s ?p ?o } <http://x/b"}),
        ("application-users", {"application": "http://x/with space"}),
        ("reuse-candidates", {"region": "http://x/r", "minimum": "1 } UNION {"}),
        ("contracts-ending", {"today": '2026-01-01"^^<x>'}),
    ],
)
def test_injection_is_refused_with_422(server: Server, name: str, params: dict[str, str]) -> None:
    answer = get(server, f"/queries/{name}", **params)
    assert answer.status == 422
    assert list(params)[-1] in answer.text  # the tricky value is the last one


def test_unknown_query_and_format(server: Server) -> None:
    unknown = get(server, "/queries/no-such-query")
    assert unknown.status == 404 and "application-users" in unknown.text
    bad = get(server, "/queries/vendor-concentration", format="pdf")
    assert bad.status == 406


def test_each_query_is_in_the_openapi_document_with_its_parameters(server: Server) -> None:
    document = json.loads(get(server, "/openapi.json").body)
    operation = document["paths"]["/queries/reuse-candidates"]["get"]
    parameters = {p["name"]: p for p in operation["parameters"]}
    assert parameters["region"]["required"] is True
    assert parameters["minimum"]["schema"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 400,
        "default": 2,
    }
    assert "/queries/{name}" not in document["paths"]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return kommunegraf("query", *args, timeout=120)


def test_cli_runs_a_canned_query_against_a_running_server(server: Server) -> None:
    websak = server.url + "/id/applikasjon/websak"
    done = _cli("application-users", "--param", f"application={websak}", "--endpoint", server.url)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split()[:3] == ["municipality", "kommunenummer", "municipalityName"]
    assert "(3 rader / rows)" in lines[-1]
    as_csv = _cli(
        "application-users",
        "--param",
        f"application={websak}",
        "--endpoint",
        server.url,
        "--format",
        "csv",
    )
    assert [r["kommunenummer"] for r in csv.DictReader(io.StringIO(as_csv.stdout))] == [
        "3303",
        "5601",
        "5603",
    ]


def test_cli_reports_a_server_side_refusal(server: Server) -> None:
    done = _cli("service-gaps", "--endpoint", server.url)
    assert done.returncode == 2 and "kommune" in done.stderr


def test_cli_lists_and_runs_locally_and_refuses_bad_parameters() -> None:
    listed = _cli("--store", ":memory:")
    assert listed.returncode == 0 and "reuse-candidates" in listed.stdout
    run = _cli("current-municipality", "--param", "kommune=5433", "--store", ":memory:")
    assert run.returncode == 0 and "5616" in run.stdout
    bad = _cli("current-municipality", "--param", 'kommune=54"}', "--store", ":memory:")
    assert bad.returncode == 2 and "kommunenummer" in bad.stderr
    not_canned = _cli("ASK {}", "--param", "x=1", "--store", ":memory:")
    assert not_canned.returncode == 2


def test_regression_gallery_and_api_answered_a_bad_parameter_differently(server: Server) -> None:
    """The gallery said 400 and ``/queries`` 422 for the same bad parameter (issue 17)."""
    api = call(server.url, "GET", "/queries/service-gaps", params={"kommune": "42"})
    page = call(
        server.url,
        "GET",
        "/sporringer/service-gaps",
        params={"run": "1", "kommune": "42"},
        headers={"Accept": "text/html"},
    )
    assert api.status == page.status == 422
    assert "Parameteren kommune" in api.text and "kommunenummer" in page.text
