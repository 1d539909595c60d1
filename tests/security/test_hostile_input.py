"""Hostile input at the HTTP level: each is refused or neutralised with a clear
message, and the server keeps answering afterwards.

What is tested elsewhere and not repeated here: the workbook reader's limits one
by one (``tests/loaders/test_workbook.py``), SERVICE and LOAD to other hosts with
a canary server that must not be reached, body limits at a small limit, chunked
bodies and lying Content-Lengths (``tests/service/test_update.py``), JSON-LD
remote contexts and IRIs that would break out of SPARQL
(``tests/service/test_graph_store.py``), and injection through canned-query
parameters (``tests/queries``).
"""

from __future__ import annotations

import http.client
import json
import socket
import urllib.parse
import zipfile
from pathlib import Path

import openpyxl
import pytest

from tests.conftest import Server
from tests.security.conftest import TOKEN, alive, quad_count, stream_body
from tests.service.client import Answer, bearer, call

MB = 1024 * 1024
LIMIT = 10 * MB
"""The default ``max_body_bytes``: the guarded server runs with it."""


# --- 100 MB bodies ------------------------------------------------------------------


def _peak_rss_reset(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # resets VmHWM, the peak RSS


def _peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc/<pid>/status")


UPLOADS = [
    ("PUT", "/store?graph=http://example.org/sec/big", "text/turtle", True),
    ("POST", "/sparql", "application/sparql-query", False),
    ("POST", "/sparql", "application/sparql-update", True),
    ("POST", "/sparql", "application/x-www-form-urlencoded", False),
    ("POST", "/upload?name=stor.csv", "text/csv", True),
]


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "content-length"])
@pytest.mark.parametrize(
    ("method", "target", "media", "with_token"),
    UPLOADS,
    ids=["store-put", "sparql-query", "sparql-update", "sparql-form", "upload"],
)
def test_a_100_mb_body_is_refused_without_being_held(
    guarded: Server, method: str, target: str, media: str, with_token: bool, chunked: bool
) -> None:
    headers = {"Content-Type": media, **(bearer(TOKEN) if with_token else {})}
    baseline = _baseline_rss(guarded)
    _peak_rss_reset(guarded.process.pid)
    status, body, _ = stream_body(guarded, method, target, headers, 100 * MB, chunked)
    assert status == 413, body
    assert b"for stor" in body and b"too large" in body
    # The server never held the body: its peak memory grew by less than the body.
    assert _peak_rss(guarded.process.pid) < baseline + 3 * LIMIT
    assert alive(guarded)


_BASELINE: dict[int, int] = {}


def _baseline_rss(server: Server) -> int:
    """The server's peak memory over a few ordinary requests (measured once)."""
    pid = server.process.pid
    if pid not in _BASELINE:
        _peak_rss_reset(pid)
        for _ in range(3):
            assert alive(server)
        _BASELINE[pid] = _peak_rss(pid)
    return _BASELINE[pid]


def test_the_upload_form_refuses_100_mb(guarded: Server) -> None:
    status, body, _ = stream_body(
        guarded,
        "POST",
        "/upload/form",
        {"Content-Type": "multipart/form-data; boundary=x"},
        100 * MB,
        chunked=False,
    )
    assert status == 413, body
    assert alive(guarded)


# --- long and deep SPARQL -----------------------------------------------------------


def _query(server: Server, text: str, *, token: bool = False, update: bool = False) -> Answer:
    media = "application/sparql-update" if update else "application/sparql-query"
    headers = {"Content-Type": media, "Accept": "application/sparql-results+json"}
    return call(
        server.url,
        "POST",
        "/sparql",
        body=text.encode(),
        headers={**headers, **(bearer(TOKEN) if token else {})},
    )


def test_a_1_mb_query_is_answered_like_any_other(guarded: Server) -> None:
    values = " ".join(f'"verdi {n}"' for n in range(80_000))
    text = f"SELECT (COUNT(*) AS ?n) WHERE {{ VALUES ?v {{ {values} }} }}"
    assert len(text) > MB
    answer = _query(guarded, text)
    assert answer.status == 200, answer.text[:500]
    assert json.loads(answer.body)["results"]["bindings"][0]["n"]["value"] == "80000"


def test_a_1_mb_query_that_mentions_service_is_answered_like_any_other(guarded: Server) -> None:
    # SERVICE is found among the tokens of the one strict reading, not by a parser in
    # the server process (rdflib took 50 s for 1 MB), so the size needs no special cap.
    values = " ".join(f'"verdi {n}"' for n in range(80_000))
    text = f"PREFIX service: <http://example.org/> SELECT * {{ VALUES ?v {{ {values} }} }}"
    answer = _query(guarded, text)
    assert answer.status == 200, answer.text[:300]


def test_a_1_mb_url_is_refused_by_the_http_layer(guarded: Server) -> None:
    query = urllib.parse.quote("SELECT * { ?s ?p ?o } #" + "x" * MB)
    address = urllib.parse.urlsplit(guarded.url)
    assert address.hostname is not None and address.port is not None
    status = None
    with socket.create_connection((address.hostname, address.port), timeout=30) as sock:
        try:
            sock.sendall(f"GET /sparql?query={query} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            response = http.client.HTTPResponse(sock)
            response.begin()
            status = response.status
        except OSError:
            pass  # the connection was closed without an answer: refused as well
    assert status in (None, 400, 414, 431)
    assert alive(guarded)


NESTED = {
    "groups": "SELECT * WHERE " + "{" * 10_000 + " ?s ?p ?o " + "}" * 10_000,
    "parentheses": "SELECT * WHERE { ?s ?p ?o FILTER(" + "(" * 10_000 + "?o" + ")" * 10_000 + ") }",
    "brackets": "SELECT * WHERE { ?s ?p " + "[ <urn:p> " * 10_000 + "]" * 10_000 + " }",
}


@pytest.mark.parametrize("text", NESTED.values(), ids=NESTED.keys())
def test_deeply_nested_queries_are_refused_before_the_parser(guarded: Server, text: str) -> None:
    answer = _query(guarded, text)
    assert answer.status == 400, answer.text[:300]
    assert "nøstet" in answer.text and "nests" in answer.text
    assert alive(guarded)


def test_brackets_inside_an_iri_reach_the_store_inside_the_iri(guarded: Server) -> None:
    # "<?s&&((…?o>" is an IRI to the strict reading, and the store is given it as one.
    deep = "(" * 10_000 + "?o>?s" + ")" * 10_000
    text = "SELECT * WHERE { ?s ?p ?o FILTER(?o<?s&&" + deep + ") }"
    answer = _query(guarded, text)
    assert answer.status == 400, answer.text[:300]
    assert alive(guarded)


def test_a_deeply_nested_update_cannot_take_the_server_down(guarded: Server) -> None:
    text = "INSERT { <urn:a> <urn:b> <urn:c> } WHERE " + "{" * 10_000 + "}" * 10_000
    before = quad_count(guarded)
    answer = _query(guarded, text, token=True, update=True)
    assert answer.status == 400
    assert "nests" in answer.text
    assert guarded.process.poll() is None
    assert quad_count(guarded) == before


def test_ordinary_nesting_still_runs(guarded: Server) -> None:
    text = "SELECT * WHERE " + "{" * 60 + " ?s ?p ?o " + "}" * 60 + " LIMIT 1"
    assert _query(guarded, text).status == 200


def test_nesting_just_under_the_limit_leaves_every_worker_answering(guarded: Server) -> None:
    # A shape the parser spends more stack on per level: whatever the answer (a worker
    # that crashes is replaced, 503), every later query is answered.
    text = "SELECT * WHERE { " + "OPTIONAL { " * 120 + "?s ?p ?o " + "}" * 120 + " } LIMIT 1"
    first = _query(guarded, text)
    assert first.status in (200, 400, 503), first.text[:300]
    for _ in range(6):
        assert alive(guarded)


# --- spreadsheets through /upload ---------------------------------------------------


def _upload(server: Server, name: str, body: bytes) -> Answer:
    return call(
        server.url,
        "POST",
        f"/upload?name={urllib.parse.quote(name)}&dry_run=1",
        body=body,
        headers={"Content-Type": "application/octet-stream", **bearer(TOKEN)},
    )


def _refusal(answer: Answer) -> str:
    """The reasons an upload was refused, from its JSON report, as one text."""
    assert answer.status == 400, answer.text[:500]
    summary = json.loads(answer.body)
    assert summary["loaded"] is False
    return json.dumps(summary["report"], ensure_ascii=False)


@pytest.fixture(scope="module")
def workbook(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("hostile") / "kommune.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Applikasjoner"
    sheet.append(["Kommune", "System"])
    sheet.append(["Tokke", "Acos"])
    book.save(path)
    return path


def _rewritten(source: Path, target: Path, extra: dict[str, bytes]) -> bytes:
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            data = old.read(info.filename)
            new.writestr(info.filename, extra.pop(info.filename, data))
        for name, data in extra.items():
            new.writestr(name, data)
    return target.read_bytes()


def test_a_zip_bomb_upload_is_refused(guarded: Server, workbook: Path, tmp_path: Path) -> None:
    path = tmp_path / "bombe.xlsx"
    path.write_bytes(workbook.read_bytes())
    with (
        zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED, compresslevel=9) as archive,
        archive.open("xl/media/nuller.bin", "w", force_zip64=True) as member,
    ):
        for _ in range(300):
            member.write(bytes(MB))
    assert path.stat().st_size < MB
    reasons = _refusal(_upload(guarded, "bombe.xlsx", path.read_bytes()))
    assert "zip-bombe" in reasons and "zip bomb" in reasons
    assert alive(guarded)


def test_billion_laughs_in_an_xlsx_upload_is_refused(
    guarded: Server, workbook: Path, tmp_path: Path
) -> None:
    entities = '<!DOCTYPE lolz [<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{n} "{("&lol" + (str(n - 1) if n > 1 else "") + ";") * 10}">'
        for n in range(1, 10)
    )
    with zipfile.ZipFile(workbook) as archive:
        sheet = archive.read("xl/worksheets/sheet1.xml").decode()
    sheet = sheet.replace("<worksheet ", entities + "]><worksheet ", 1)
    sheet = sheet.replace("<t>Tokke</t>", "<t>&lol9;</t>", 1)
    assert "&lol9;" in sheet
    data = _rewritten(
        workbook, tmp_path / "latter.xlsx", {"xl/worksheets/sheet1.xml": sheet.encode()}
    )
    reasons = _refusal(_upload(guarded, "latter.xlsx", data))
    assert "XML-bombe" in reasons and "XML bomb" in reasons
    assert alive(guarded)


def test_a_csv_with_a_nul_byte_is_refused(guarded: Server) -> None:
    reasons = _refusal(_upload(guarded, "nul.csv", b"Kommune;System\nB\x00rum;Acos\n"))
    assert "NUL-byte" in reasons and "NUL bytes" in reasons


# --- markup and control characters in labels ----------------------------------------


def test_markup_and_control_characters_in_labels_are_escaped_on_pages(guarded: Server) -> None:
    base = guarded.url + "/"
    subject = f"{base}id/test/skadelig"
    label = '<script>alert("x")</script><img src=x onerror=alert(1)>\u0007\u202e\u0000slutt'
    turtle = (
        "@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n"
        f"<{subject}> rdfs:label {json.dumps(label)}@nb ; rdfs:comment "
        f'"</title><a href=\\"javascript:alert(1)\\">klikk</a>" .\n'
    )
    put = call(
        guarded.url,
        "PUT",
        "/store?graph=" + urllib.parse.quote(f"{base}graph/test/skadelig"),
        body=turtle.encode(),
        headers={"Content-Type": "text/turtle", **bearer(TOKEN)},
    )
    assert put.status in (201, 204), put.text
    page = call(guarded.url, "GET", "/id/test/skadelig", headers={"Accept": "text/html"})
    assert page.status == 200, page.text[:300]
    html = page.text
    assert "&lt;script&gt;" in html
    assert "<script>alert" not in html and "<img src=x" not in html
    assert '<a href="javascript:' not in html
    search = call(guarded.url, "GET", "/sok", params={"q": '<script>alert("q")</script>'})
    assert search.status == 200
    assert "<script>alert(" not in search.text
    # The RDF views carry the characters escaped, and they parse back to the same label.
    ntriples = call(
        guarded.url, "GET", "/id/test/skadelig", headers={"Accept": "application/n-triples"}
    )
    assert ntriples.status == 200
    assert b"\x00" not in ntriples.body and b"\x07" not in ntriples.body


# --- paths and headers --------------------------------------------------------------

TRAVERSALS = [
    "/id/../../etc/passwd",
    "/id/%2e%2e/%2e%2e/etc/passwd",
    "/id/..%2f..%2f..%2fetc%2fpasswd",
    "/id/kommune/..%2f..%2f..%2f..%2fetc%2fpasswd",
    "/id/%2e%2e%2f%2e%2e%2fpyproject.toml",
    "/id/%00",
    "/id/..%5c..%5cpyproject.toml",
    "/static/../pyproject.toml",
    "/static/%2e%2e/%2e%2e/pyproject.toml",
    "/static/..%2f..%2fpyproject.toml",
    "/static/..%2f..%2fservice%2fsettings.py",
    "/docs/..%2f..%2fpyproject.toml",
    "/docs/%2e%2e%2f%2e%2e%2fREADME.md",
    "/ontology/..%2f..%2fpyproject.toml",
    "/queries/..%2f..%2fpyproject.toml",
    "/sporringer/..%2f..%2fpyproject.toml",
    "/catalog/..%2f..%2fetc%2fpasswd",
    "/services/..%2f..%2fetc%2fpasswd",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_path_traversal_finds_nothing(guarded: Server, path: str) -> None:
    answer = call(guarded.url, "GET", path, headers={"Accept": "text/html"})
    if answer.status in (301, 302, 303, 307, 308):
        # A redirect (e.g. /docs/x.md to /docs/x) must stay on this host and lead nowhere.
        location = answer.headers["location"]
        assert location.startswith("/") and not location.startswith("//"), location
        answer = call(guarded.url, "GET", location, headers={"Accept": "text/html"})
    assert answer.status in (400, 404, 406), (answer.status, answer.text[:200])
    for secret in (b"root:x:0:0", b"[project]", b"KOMMUNEGRAF_", b"build-backend"):
        assert secret not in answer.body


@pytest.mark.parametrize(
    "accept",
    [
        "*/*;q=nan",
        "text/html;q=1e999, */*;q=-1",
        ",".join(f"type{n}/sub{n};q=0.{n % 10}" for n in range(2000)),
        "application/sparql-results+json;q=0",
        "\u00e6\u00f8\u00e5/x",
    ],
    ids=["nan", "huge-and-negative-q", "2000-types", "refused-only", "latin1"],
)
def test_odd_accept_headers_are_negotiated_or_refused(guarded: Server, accept: str) -> None:
    answer = call(
        guarded.url,
        "GET",
        "/sparql",
        params={"query": "ASK {}"},
        headers={"Accept": accept.encode("utf-8").decode("latin-1")},
    )
    assert answer.status in (200, 406), answer.text[:300]


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/finnes-ikke", 404), ("GET", "/static/finnes-ikke.css", 404), ("DELETE", "/", 405)],
)
def test_unknown_paths_and_methods_are_refused_in_both_languages(
    guarded: Server, method: str, path: str, status: int
) -> None:
    answer = call(guarded.url, method, path)
    assert answer.status == status
    assert answer.media == "text/plain"
    assert answer.text.splitlines()[0] in ("Fant ikke siden.", "Metoden er ikke tillatt her.")
    assert answer.text.splitlines()[1] in ("Not found.", "Method not allowed here.")
