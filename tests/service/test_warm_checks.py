"""The query workers warm up the checks of uploads while idle (``service.store.warm_up``),
so that a user's first upload does not pay for the shapes, the ontology and the
reference data (Oslo's first check: 1.4-1.6 CPU s, the next ones 0.2)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.conftest import stop_server
from tests.service.access import ADMIN, start_access_server
from tests.service.client import call

WORKERS = 1
"""One query worker: half the warm-up's CPU of the default two, which a loaded machine
(``make test``'s two processes) gives a nice-19 thread only in its idle moments."""


def _metric(url: str, name: str) -> float:
    found = re.search(rf"^{re.escape(name)} (\S+)$", call(url, "GET", "/metrics").text, re.M)
    return float(found.group(1)) if found else 0.0


def test_the_first_upload_is_checked_by_a_warmed_up_worker(tmp_path: Path) -> None:
    access = start_access_server(
        "embedded",
        tmp_path,
        {
            "KOMMUNEGRAF_WARM_CHECKS": "true",
            "KOMMUNEGRAF_QUERY_WORKERS": str(WORKERS),
            "KOMMUNEGRAF_QUERY_RESERVED": "0",
        },
    )
    try:
        url = access.server.url
        # A worker says it is warm in its replies; it warms only after a second without
        # requests (WARM_NICE: a loaded machine gives it little), so ask rarely, and
        # each time another query (the answer cache would answer the same one itself).
        deadline = time.monotonic() + 240
        asked = 0
        while _metric(url, "kommunegraf_query_workers_checks_warm") < WORKERS:
            if time.monotonic() > deadline:
                pytest.fail("the query workers never warmed up the checks of uploads")
            time.sleep(3)
            for _ in range(WORKERS):  # one query each: an idle worker takes the next one
                asked += 1
                query = f"ASK {{ FILTER({asked} > 0) }}"
                assert call(url, "GET", "/sparql", params={"query": query}).status == 200
        vendors = tmp_path / "Leverandører.csv"
        vendors.write_text("Navn;Organisasjonsnummer\nVisma Software AS;974760673\n", "utf-8")
        answer = access.upload(vendors, ADMIN, dry_run=True)
        assert answer.status == 200, answer.text
        checks = "kommunegraf_upload_checks_total"
        assert _metric(url, checks + '{cold="false"}') == 1
        assert _metric(url, checks + '{cold="true"}') == 0
    finally:
        stop_server(access.server)
