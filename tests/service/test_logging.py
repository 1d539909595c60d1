"""Logs of a real server: JSON lines, request ids, and what must never be written."""

from __future__ import annotations

import io
import json
import logging
import re
import time
from collections.abc import Iterator

import pytest

from service.logs import JsonFormatter, TextFormatter, setup_logging
from service.settings import Settings
from tests.conftest import Server, start_server, stop_server
from tests.service.client import bearer, call

TOKEN = "tok-very-secret-4711-0123456789a"  # noqa: S105 - a test token
PERSON = "Ola Nordmann"
QUERY = f'SELECT * WHERE {{ ?s ?p "{PERSON}" }} LIMIT 1'


def _serve(**env: str) -> Server:
    return start_server(":memory:", env={"KOMMUNEGRAF_TOKEN": TOKEN, **env})


@pytest.fixture(scope="module")
def info_server() -> Iterator[Server]:
    running = _serve(KOMMUNEGRAF_LOG_FORMAT="json")
    yield running
    stop_server(running)


def _json_lines(server: Server) -> list[dict[str, object]]:
    return [json.loads(line) for line in server.log_text().splitlines() if line.strip()]


def _logged(server: Server, request_id: str) -> list[dict[str, object]]:
    """The lines of one request; its access line is written just after the response."""
    deadline = time.monotonic() + 10
    while True:
        lines = [e for e in _json_lines(server) if e.get("request_id") == request_id]
        if any(e["logger"] == "kommunegraf.access" for e in lines) or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def test_request_id_is_kept_when_sane_and_returned(info_server: Server) -> None:
    answer = call(
        info_server.url,
        "GET",
        "/sparql",
        params={"query": QUERY},
        headers={"X-Request-ID": "req-abc.123", **bearer(TOKEN)},
    )
    assert answer.status == 200
    assert answer.headers["x-request-id"] == "req-abc.123"
    access = _logged(info_server, "req-abc.123")
    assert access, "no log line carries the request id"
    (line,) = [e for e in access if e["logger"] == "kommunegraf.access"]
    assert line["route"] == "/sparql" and line["status"] == 200 and line["method"] == "GET"
    assert line["path"] == "/sparql"  # the query string (the query text) is not logged


@pytest.mark.parametrize("given", ["bad id with spaces", "x" * 300, "a\u00e6b", ""])
def test_a_bad_request_id_is_replaced(info_server: Server, given: str) -> None:
    headers = {"X-Request-ID": given.encode("utf-8").decode("latin-1")}
    answer = call(info_server.url, "GET", "/health/live", headers=headers)
    assert re.fullmatch(r"[0-9a-f]{32}", answer.headers["x-request-id"])


def test_every_request_gets_an_id(info_server: Server) -> None:
    first = call(info_server.url, "GET", "/health/live").headers["x-request-id"]
    second = call(info_server.url, "GET", "/health/live").headers["x-request-id"]
    assert first != second


def test_no_tokens_query_text_or_client_address_at_info(info_server: Server) -> None:
    call(info_server.url, "GET", "/sparql", params={"query": QUERY}, headers=bearer(TOKEN))
    update = call(
        info_server.url,
        "POST",
        "/sparql",
        body=b"update=INSERT+DATA+%7B%7D",
        headers={"Content-Type": "application/x-www-form-urlencoded", **bearer("wrong-4711")},
    )
    _logged(info_server, update.headers["x-request-id"])
    text = info_server.log_text()
    lines = _json_lines(info_server)  # every line is JSON
    assert lines and all({"time", "level", "logger", "message"} <= e.keys() for e in lines)
    assert TOKEN not in text and "wrong-4711" not in text
    assert PERSON not in text and "SELECT" not in text
    for entry in lines:
        if entry["logger"] == "kommunegraf.access":
            assert "127.0.0.1" not in json.dumps(entry) and "client" not in entry


def test_query_text_only_at_debug_and_still_no_token() -> None:
    running = _serve(KOMMUNEGRAF_LOG_LEVEL="debug", KOMMUNEGRAF_LOG_FORMAT="text")
    try:
        answer = call(running.url, "GET", "/sparql", params={"query": QUERY}, headers=bearer(TOKEN))
        assert answer.status == 200
        text = running.log_text()
    finally:
        stop_server(running)
    with_query = [line for line in text.splitlines() if PERSON in line]
    assert with_query and all(" DEBUG " in line for line in with_query)
    assert TOKEN not in text


def _record(message: str, **extra: object) -> logging.LogRecord:
    record = logging.makeLogRecord({"name": "t", "levelno": logging.INFO, "levelname": "INFO"})
    record.msg = message
    record.__dict__.update(extra)
    return record


@pytest.mark.parametrize("formatter", [JsonFormatter, TextFormatter])
def test_formatters_mask_authorization_values_and_secrets(
    formatter: type[JsonFormatter] | type[TextFormatter],
) -> None:
    line = formatter(["s3cr3t-pass"]).format(
        _record("header Authorization: Bearer abc.def-123 and s3cr3t-pass", note="Basic dXNlcg==")
    )
    assert "abc.def-123" not in line and "s3cr3t-pass" not in line and "dXNlcg==" not in line
    assert "********" in line


def test_auto_format_is_json_off_a_terminal() -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    access_disabled = logging.getLogger("uvicorn.access").disabled
    setup_logging(Settings(store=None), stream)
    try:
        logging.getLogger("kommunegraf.test").warning("hei / hello")
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        logging.getLogger("uvicorn.access").disabled = access_disabled
    assert json.loads(stream.getvalue().splitlines()[-1])["message"] == "hei / hello"
