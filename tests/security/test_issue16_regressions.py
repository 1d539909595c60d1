"""Regression tests for the defect classes of issue 16 that are not about SPARQL text.

Each test is named after the class it pins, attacks a real server over HTTP where
the attack is made over HTTP, and failed on the code before the fix. The parser
and write-scope classes (items 1-3) are in their own modules; spreadsheet cell
limits (item 5) are with the workbook reader's tests.
"""

from __future__ import annotations

import html
import json
import logging
import os
import re
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.logs import MASK, JsonFormatter
from tests.cli import kommunegraf
from tests.conftest import Server, start_server, stop_server
from tests.security.conftest import ENTITY_BOMB, TOKEN, alive, quad_count, stream_body
from tests.service.client import Answer, bearer, call

NONCHARACTER = "\ufffe"


# --- item 10: the smaller ones ---------------------------------------------------------


def test_regression_noncharacter_in_iri_parameter(guarded: Server) -> None:
    """U+FFFE passes a pattern check but not the store: 400 naming the parameter, not 500.

    (The canned queries answer 422 for any invalid parameter, as documented there.)
    """
    iri = "http://example.org/x" + NONCHARACTER
    cases = {
        "/queries/application-users": ("application", {"application": iri}),
        "/sparql": ("default-graph-uri", {"query": "ASK {}", "default-graph-uri": iri}),
        "/sparql ": ("named-graph-uri", {"query": "ASK {}", "named-graph-uri": iri}),
        "/ressurs": ("iri", {"iri": iri}),
        "/store": ("graph", {"graph": iri}),
    }
    for path, (name, params) in cases.items():
        answer = call(guarded.url, "GET", path.strip(), params=params)
        expected = 422 if path.startswith("/queries/") else 400
        assert answer.status == expected, (path, answer.status, answer.text)
        assert name in answer.text, (path, answer.text)
    assert alive(guarded)


def test_regression_http_method_label(guarded: Server) -> None:
    """Methods the service does not serve are counted as "other": no series per method.

    A made-up method is refused by the HTTP parser (httptools) before the app sees it; the
    methods the parser knows (WebDAV's among them) reach the app and must share one label.
    """
    for n in range(3):
        assert call(guarded.url, f"XMETHOD{n}", "/").status == 400
    for method in ("PROPFIND", "MKCOL", "LOCK", "PURGE"):
        assert call(guarded.url, method, "/").status in {404, 405}
    metrics = call(guarded.url, "GET", "/metrics").text
    for minted in ("XMETHOD", "PROPFIND", "MKCOL", "LOCK", "PURGE"):
        assert minted not in metrics, minted
    assert re.search(r'kommunegraf_http_requests_total\{method="other"', metrics), metrics[:2000]


def test_regression_config_shows_store_url_credentials() -> None:
    """``kommunegraf config`` masks a password (and key-like query values) in store URLs."""
    done = kommunegraf(
        "config",
        env={
            "KOMMUNEGRAF_STORE_URL": "https://kg:pw-in-url-7731@sparql.example/query?apikey=k-3391",
            "KOMMUNEGRAF_UPDATE_URL": "https://tok-in-user-5120@sparql.example/update",
        },
    )
    assert done.returncode == 0, done.stderr
    for secret in ("pw-in-url-7731", "k-3391", "tok-in-user-5120"):
        assert secret not in done.stdout + done.stderr
    assert "https://kg:********@sparql.example/query" in done.stdout


def test_regression_short_admin_token() -> None:
    """A one-letter admin token is refused at start-up, and the message does not show it."""
    done = kommunegraf("config", env={"KOMMUNEGRAF_TOKEN": "q"})
    assert done.returncode != 0
    assert "32" in done.stderr and "KOMMUNEGRAF_TOKEN" in done.stderr
    assert "'q'" not in done.stderr


def test_regression_log_masking_replaces_parts_of_words() -> None:
    """Secrets are masked as whole tokens only, never inside other words."""
    secret = "x" * 8 + "-abcdefghijklmnopqrstuvwx"
    formatter = JsonFormatter([secret, "s"])
    record = logging.makeLogRecord(
        {"msg": f"token {secret} used; sparql session stays; prefix{secret}suffix"}
    )
    message = json.loads(formatter.format(record))["message"]
    assert message.startswith(f"token {MASK} used; sparql session stays; ")
    assert f"prefix{secret}suffix" in message


@pytest.fixture(scope="module")
def broken_token_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("secret-layout-4417")
    path = folder / "tokens.toml"
    path.write_text("[tokens.nothex]\nname = 3\n", encoding="utf-8")
    running = start_server(":memory:", env={"KOMMUNEGRAF_TOKENS": str(path)})
    yield running
    stop_server(running)


def test_regression_token_file_path_in_error_page(broken_token_file: Server) -> None:
    """A broken token file gives 503 to writers, without the file's path (the log has it)."""
    update = urllib.parse.urlencode({"update": "INSERT DATA { <urn:a> <urn:b> <urn:c> }"})
    answer = call(
        broken_token_file.url,
        "POST",
        "/sparql",
        body=update.encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded", **bearer("a" * 40)},
    )
    assert answer.status == 503, answer.text
    assert "secret-layout-4417" not in answer.text and "tokens.toml" not in answer.text
    page = call(
        broken_token_file.url,
        "POST",
        "/upload/form",
        body=b"token=" + b"a" * 40,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert "secret-layout-4417" not in page.text and "tokens.toml" not in page.text
    assert "secret-layout-4417" in broken_token_file.log_text()


# --- item 6: XML entities in RDF/XML ---------------------------------------------------


HARMLESS_DTD = (
    '<?xml version="1.0" encoding="UTF-16"?>\n<!DOCTYPE rdf:RDF [<!ENTITY ex '
    '"http://example.org/">]>\n<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
    'xmlns:ex="&ex;"><rdf:Description rdf:about="&ex;s"><ex:p>x</ex:p></rdf:Description>'
    "</rdf:RDF>\n".encode("utf-16")
)
"""One plain entity, in UTF-16 (where a byte search for ``<!DOCTYPE`` finds nothing)."""


def _put(server: Server, graph: str, body: bytes, media: str, timeout: float = 60) -> Answer:
    """A Graph Store PUT with the admin token."""
    return call(
        server.url,
        "PUT",
        "/store?graph=" + urllib.parse.quote(graph, safe=""),
        body=body,
        headers={"Content-Type": media, **bearer(TOKEN)},
        timeout=timeout,
    )


def test_regression_xml_entities_in_rdf_xml(guarded: Server) -> None:
    """A DTD in an RDF/XML body is refused at once (400), nested entities or not."""
    before = quad_count(guarded)
    for body in (ENTITY_BOMB, HARMLESS_DTD):
        # timeout: the bomb took minutes before the fix
        answer = _put(guarded, "http://example.org/graph/xml", body, "application/rdf+xml", 20)
        assert answer.status == 400, answer.text
        assert "DTD" in answer.text
    assert quad_count(guarded) == before
    assert alive(guarded)


def test_regression_oversized_literal_in_graph_store_body(guarded: Server) -> None:
    """A literal over the bound is refused with 400 naming the bound."""
    body = b'<http://example.org/s> <http://example.org/p> "' + b"x" * 200_000 + b'" .\n'
    answer = _put(guarded, "http://example.org/graph/long", body, "application/n-triples")
    assert answer.status == 400, answer.text
    assert "100000" in answer.text


def test_regression_xml_entities_in_imported_catalogue(tmp_path: Path) -> None:
    """``kommunegraf import-dcat`` refuses a catalogue with a DTD instead of expanding it."""
    catalogue = tmp_path / "katalog.rdf"
    catalogue.write_bytes(ENTITY_BOMB)
    done = kommunegraf("import-dcat", str(catalogue), "--store", ":memory:", timeout=60)
    assert done.returncode != 0
    assert "DTD" in done.stderr, done.stderr


# --- item 4: "did you mean" cost -------------------------------------------------------


def test_regression_did_you_mean_cost_grows_with_input(guarded: Server) -> None:
    """Six 404s with 8,000-character names at once leave the readiness probe answering.

    Before the fix each took about a minute of difflib against every label; six
    filled the thread pool and ``/health/ready`` gave no answer at all.
    """
    name = "".join(chr(ord("a") + (n * 7) % 26) for n in range(8000))
    targets = [f"/id/kommune/{name}{n}" for n in range(4)] + [
        "/ressurs?" + urllib.parse.urlencode({"iri": f"http://example.org/{name}{n}"})
        for n in range(2)
    ]
    answers: dict[str, int] = {}

    def fetch(target: str) -> None:
        answers[target] = call(guarded.url, "GET", target, headers={"Accept": "text/html"}).status

    threads = [threading.Thread(target=fetch, args=(t,)) for t in targets]
    for thread in threads:
        thread.start()
    probes: list[int] = []
    while not probes or (any(t.is_alive() for t in threads) and len(probes) < 20):
        # Every probe while the 404s are being worked on must answer, within its deadline.
        probes.append(call(guarded.url, "GET", "/health/ready", timeout=15).status)
        time.sleep(0.5)
    for thread in threads:
        thread.join(timeout=60)
    assert probes and set(probes) == {200}, probes
    assert answers == dict.fromkeys(targets, 404)
    # Suggestions still work: a mistyped name finds the municipality.
    page = call(guarded.url, "GET", "/id/kommune/arendall", headers={"Accept": "text/html"})
    assert page.status == 404 and "Arendal" in page.text


def _cpu_seconds(pid: int) -> float:
    """CPU seconds process ``pid`` has used so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_regression_did_you_mean_index_held_the_server_process(guarded: Server) -> None:
    """Issue 16, the load test: after every write the first "did you mean" built the
    index of every name in the server process (2.4 s holding the interpreter on the
    national demo, and every request waited). Now a process of its own builds it from
    the names query's answer: the server's CPU for the 404 that asks for it is a
    fraction of the build's, and the index knows the name just written.
    CPU, not time, so a busy machine does not decide the result."""
    base = guarded.url + "/"
    app = f"{base}id/applikasjon/blabaerplukker"
    body = (
        f"<{app}> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <{KG}Application> .\n"
        f'<{app}> <http://www.w3.org/2000/01/rdf-schema#label> "Blåbærplukker" .\n'
    ).encode()
    graph = f"{base}graph/source/forslagsindeks"
    assert _put(guarded, graph, body, "application/n-triples").status in (200, 201, 204)
    before = _cpu_seconds(guarded.process.pid)
    page = call(guarded.url, "GET", "/id/applikasjon/blabarplukkr", headers={"Accept": "text/html"})
    server_cpu = _cpu_seconds(guarded.process.pid) - before
    assert page.status == 404 and "Blåbærplukker" in page.text, page.text[-2000:]
    built = [
        json.loads(line)
        for line in guarded.log_text().splitlines()
        if "suggestion index built" in line and line.startswith("{")
    ]
    assert built, "no build process: the index was built in the server process"
    build_cpu = float(built[-1]["build_cpu_seconds"])
    assert server_cpu < build_cpu / 2, f"server {server_cpu:.2f} s CPU, build {build_cpu:.2f} s"


# --- item 7: javascript: links, and the headers that back them up ------------------------

KG = "https://w3id.org/kommunegraf/ontology#"
HOSTILE_TARGETS = ("javascript:alert(document.domain)", "data:text/html,x", "vbscript:x")


def _hrefs(page: str) -> list[str]:
    """The targets of the page's links and forms (not ``<link rel=icon href="data:,">``)."""
    found = re.findall(r'<(?:a|form)\b[^>]*\s(?:href|action)="([^"]*)"', page)
    return [html.unescape(h) for h in found]


def test_regression_javascript_links(guarded: Server) -> None:
    """IRIs with other schemes in the data are shown as text on every page, never linked."""
    base = guarded.url + "/"
    usage = f"{base}id/bruk/lenketest"
    triples = "".join(
        f"<{usage}> <{KG}{p}> <{target}> .\n"
        for target in HOSTILE_TARGETS
        for p in ("application", "supportsService")
    )
    body = (
        f"<{usage}> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <{KG}ApplicationUsage> .\n"
        f"<{usage}> <{KG}usedBy> <{base}id/kommune/4203> .\n" + triples
    ).encode()
    graph = f"{base}graph/kommune/4203/lenketest"
    assert _put(guarded, graph, body, "application/n-triples").status in (200, 201, 204)
    for path in ("/id/kommune/4203", "/id/bruk/lenketest"):
        page = call(guarded.url, "GET", path, headers={"Accept": "text/html"})
        assert page.status == 200, page.text
        targets = _hrefs(page.text)
        assert targets, path
        for target in targets:
            scheme = target.split(":", 1)[0].lower() if ":" in target.split("/")[0] else ""
            assert scheme in ("", "http", "https"), (path, target)
    usage_page = call(guarded.url, "GET", "/id/bruk/lenketest", headers={"Accept": "text/html"})
    assert "alert(document.domain)" in usage_page.text  # shown, as text


def test_regression_security_headers(guarded: Server) -> None:
    """Pages, data and errors carry a CSP without inline script or other origins."""
    for path in ("/", "/editor", "/sparql?query=ASK%7B%7D", "/finnes-ikke"):
        answer = call(guarded.url, "GET", path)
        policy = answer.headers.get("content-security-policy", "")
        directives = dict(
            [*part.split(" ", 1), ""][:2] for part in (p.strip() for p in policy.split(";"))
        )
        assert directives.get("script-src") == "'self'", (path, policy)
        assert directives.get("default-src") == "'none'"
        assert directives.get("frame-ancestors") == "'none'"
        assert "http" not in policy  # no other origin anywhere in the policy
        assert answer.headers.get("x-content-type-options") == "nosniff"
        assert answer.headers.get("referrer-policy") == "same-origin"
        assert answer.headers.get("x-frame-options") == "DENY"


# --- item 8: a body read before the token ----------------------------------------------

BOUNDARY = "kommunegraf-test-boundary"


def _send_form_with_big_file(server: Server, token: str, size: int) -> tuple[int, bytes, int]:
    """POST /upload/form, chunked: the token field, then a ``size``-byte file."""
    prefix = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="token"\r\n\r\n{token}\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="stor.csv"\r\n'
        "Content-Type: text/csv\r\n\r\n"
    ).encode()
    media = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    return stream_body(server, "POST", "/upload/form", media, size, True, prefix)


def test_regression_upload_form_reads_body_before_token(guarded: Server) -> None:
    """A wrong token is refused before the file is read: the answer comes early (403)."""
    size = 300 * 1024 * 1024
    status, body, sent = _send_form_with_big_file(guarded, "wrong-token-" + "x" * 30, size)
    assert status == 403, body
    assert "Nøkkelen gir ikke skrivetilgang".encode() in body
    assert sent < size // 4, f"{sent} of {size} bytes were sent before the answer"
    # A valid token still gets as far as the size limit (the file is over it): 413.
    status, body, sent = _send_form_with_big_file(guarded, TOKEN, size)
    assert status == 413, body
    assert sent < size // 4
    assert alive(guarded)
