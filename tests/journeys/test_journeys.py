"""The users' journeys, end to end on the national demo, through HTTP and the CLI (issue 19).

One test per role, each following its guide in docs/: what the people the service is
for actually do, on national-size data, so that a break there fails CI even when every
feature passes on its small fixture.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import openpyxl

from tests.cli import kommunegraf
from tests.conftest import free_port
from tests.journeys.conftest import ARENDAL
from tests.service.access import Access
from tests.service.client import Answer, bearer, call


def _get(access: Access, path: str, accept: str = "*/*", timeout: float = 120) -> Answer:
    return call(access.url, "GET", path, headers={"Accept": accept}, timeout=timeout)


# -- newcomer ------------------------------------------------------------------------


def _first_start(store: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    """``kommunegraf serve`` on an empty store with the demo, as ``make serve`` does."""
    env = {**os.environ, "KOMMUNEGRAF_DEMO": "true", "KOMMUNEGRAF_BASE_IRI": "http://x.test/"}
    with log.open("ab") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "service", "serve", "--port", str(port), "--store", str(store)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=sink,
            start_new_session=True,  # its own process group, killed as a whole
        )


def _answer(url: str, accept: str = "*/*", deadline: float = 60) -> tuple[int, bytes]:
    """The first answer on ``url`` (any status), waiting for the port to open."""
    until = time.monotonic() + deadline
    while True:
        try:
            request = urllib.request.Request(url, headers={"Accept": accept})
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()
        except OSError:
            assert time.monotonic() < until, f"{url}: the port never opened"
            time.sleep(0.1)


def test_newcomer_sees_the_service_at_once_while_the_demo_loads(tmp_path: Path) -> None:
    """The port opens at once; live is 200, ready is 503 with the load's progress, pages
    say the service is loading; a start killed mid-load is loaded again, never half."""
    store, log, port = tmp_path / "store", tmp_path / "serve.log", free_port()
    url = f"http://127.0.0.1:{port}"
    process = _first_start(store, port, log)
    try:
        assert _answer(url + "/health/live")[0] == 200
        status, body = _answer(url + "/health/ready")
        assert status == 503
        load = json.loads(body)["checks"]["load"]
        assert load["step"] in {"starting", "reference", "checking", "writing"}, load
        status, page = _answer(url + "/", accept="text/html")
        assert status == 503 and b'http-equiv="refresh"' in page, page[:300]
        status, body = _answer(url + "/sparql?query=ASK%7B%7D")
        assert status == 503 and json.loads(body)["status"] == "loading"
        # Wait until the demo's workbooks are being checked, then kill it mid-load.
        until = time.monotonic() + 600
        while json.loads(_answer(url + "/health/ready")[1])["checks"]["load"]["total"] < 300:
            assert time.monotonic() < until, "the load never reached the demo"
            time.sleep(0.5)
        status, body = _answer(url + "/health/ready")
        load = json.loads(body)["checks"]["load"]
        # 358 workbooks; the 357 municipal ones are read after the shared catalogue.
        assert load["total"] in {357, 358} and load["description"]["en"], load
        assert f"of {load['total']}" in json.loads(body)["reason"]["en"]
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # a power cut: the server and its workers
        process.wait(timeout=30)
    # JSON lines when not on a terminal.
    first = log.read_text(encoding="utf-8").splitlines()[0]
    assert json.loads(first)["level"]
    port, log = free_port(), tmp_path / "again.log"
    process = _first_start(store, port, log)
    try:
        url = f"http://127.0.0.1:{port}"
        assert _answer(url + "/health/live")[0] == 200
        until = time.monotonic() + 120
        while "tømmes" not in log.read_text(encoding="utf-8"):
            assert time.monotonic() < until, log.read_text(encoding="utf-8")[-3000:]
            time.sleep(0.3)
        assert _answer(url + "/health/ready")[0] == 503
    finally:
        process.terminate()
        process.wait(timeout=60)


def test_newcomer_gets_answers_once_ready(national: Access) -> None:
    """After the load: ready, the home page in numbers, a canned query answers."""
    ready = _get(national, "/health/ready")
    assert ready.status == 200, ready.text
    home = _get(national, "/", "text/html")
    assert home.status == 200 and "Arendal" not in home.text[:0]
    answer = _get(national, "/queries", "application/json")
    assert answer.status == 200 and json.loads(answer.body)


# -- system owner (Arendal, 4203; docs/systemeier.md) -----------------------------------


def test_system_owner_updates_last_years_workbook(national: Access, tmp_path: Path) -> None:
    """Download the municipality's current workbook, check it against the running
    service, upload it unchanged (nothing changes), then make the typical mistakes."""
    page = _get(national, f"/id/kommune/{ARENDAL}", "text/html")
    assert page.status == 200 and f"/template?kommune={ARENDAL}" in page.text
    upload_page = _get(national, "/upload", "text/html")
    assert 'href="/template"' in upload_page.text

    blank = _get(national, "/template")
    assert blank.status == 200
    assert "Systemportefølje" in openpyxl.load_workbook(io.BytesIO(blank.body)).sheetnames

    current = _get(national, f"/template?kommune={ARENDAL}", timeout=300)
    assert current.status == 200, current.text
    name = current.headers["content-disposition"].split('filename="')[1].rstrip('"')
    workbook = tmp_path / name
    workbook.write_bytes(current.body)
    rows = openpyxl.load_workbook(workbook)["Systemportefølje"].max_row - 2
    assert rows > 20

    checked = kommunegraf("validate", str(workbook), "--endpoint", national.url)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    triples = int(checked.stdout.split(" tripler")[0].rsplit(" ", 1)[1])

    dry = call(
        national.url,
        "POST",
        f"/upload?name={name}&dry_run=true",
        body=workbook.read_bytes(),
        headers=bearer(national.tokens["arendal"]),
        timeout=300,
    )
    assert dry.status == 200, dry.text
    summary = json.loads(dry.body)
    assert summary["conforms"] and not summary["loaded"]
    assert summary["triples"] == triples  # the check's count is the load's count
    assert summary["changes"]["added"] == 0 and summary["changes"]["removed"] == 0, summary

    # A new row with a typo in the product's name: one error, with the name it most
    # likely is, and no second error about the row.
    book = openpyxl.load_workbook(workbook)
    sheet = book["Systemportefølje"]
    sheet.append([ARENDAL, "Gerika", None, "SaaS / sky", "I bruk"])
    typo = tmp_path / "typo.xlsx"
    book.save(typo)
    checked = kommunegraf("validate", str(typo), "--endpoint", national.url)
    assert checked.returncode == 1
    errors = [line for line in checked.stdout.splitlines() if ": error: " in line]
    assert len(errors) == 1 and f"B{sheet.max_row}" in errors[0], checked.stdout
    assert "Mente du: Gerica" in checked.stdout, checked.stdout


# -- analyst (docs/analytiker.md) ---------------------------------------------------------


def test_analyst_asks_with_names_not_iris(national: Access) -> None:
    """Short forms (slug, name, kommunenummer) work in the API, the gallery and the CLI;
    an unknown one is a 422 naming the parameter, with names to choose from."""
    base = "/queries/reuse-candidates?region="
    for region in ("kongsbergregionen", "Kongsbergregionen"):
        answer = _get(national, base + region, "application/sparql-results+json")
        assert answer.status == 200, answer.text
        assert json.loads(answer.body)["results"]["bindings"], region
    typo = _get(national, base + "kongsbergregion", "application/sparql-results+json")
    assert typo.status == 422 and "region" in typo.text and "Kongsbergregionen" in typo.text
    unknown = _get(national, base + "https%3A%2F%2Fx.test%2Fid%2Fregion%2Fnone")
    assert unknown.status == 422, unknown.text
    page = _get(
        national, "/sporringer/reuse-candidates?region=kongsbergregionen&run=1", "text/html"
    )
    assert page.status == 200 and "(IRI)" not in page.text
    cli = kommunegraf(
        "query",
        "reuse-candidates",
        "--param",
        "region=Kongsbergregionen",
        "--format",
        "csv",
        "--endpoint",
        national.url,
    )
    assert cli.returncode == 0, cli.stderr
    assert len(cli.stdout.splitlines()) > 1
    old = call(national.url, "GET", "/id/kommune/1201", headers={"Accept": "text/html"})
    assert old.status == 301 and old.headers["location"] == "/id/kommune/4601"
