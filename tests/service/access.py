"""What the write-access tests share: a token file, a server that uses it, workbooks.

The tokens are made with ``service.access.tokens.TokenFile``, the same code
``kommunegraf token create`` runs, so the server reads a real file of hashes.
"""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import openpyxl

from loaders.template import write_template
from service.access.audit import AuditEvent, AuditLog
from service.access.tokens import TokenFile
from tests.conftest import Server, start_server_on
from tests.service.client import Answer, bearer, call

ADMIN = "admin-test-token-0123456789abcde"
HASVIK, ALTA = "5616", "5601"


@dataclass
class Access:
    """A running server with its token file, audit log and the tokens made for it."""

    server: Server
    folder: Path
    tokens: dict[str, str]
    """Holder → token: hasvik, alta, region, expired."""

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def base(self) -> str:
        return self.server.url + "/"

    @property
    def token_file(self) -> Path:
        return self.folder / "tokens.toml"

    @property
    def audit_log(self) -> Path:
        return self.folder / "audit.jsonl"

    def events(self) -> list[AuditEvent]:
        return AuditLog(self.audit_log).events()

    def graph(self, number: str, name: str) -> str:
        return f"{self.base}graph/kommune/{number}/{name}"

    def select(self, query: str) -> list[dict[str, str]]:
        answer = call(
            self.url,
            "GET",
            "/sparql",
            params={"query": query},
            headers={"Accept": "application/sparql-results+json"},
        )
        assert answer.status == 200, answer.text
        rows = json.loads(answer.body)["results"]["bindings"]
        return [{k: v["value"] for k, v in row.items()} for row in rows]

    def ask(self, query: str) -> bool:
        answer = call(
            self.url,
            "GET",
            "/sparql",
            params={"query": query},
            headers={"Accept": "application/sparql-results+json"},
        )
        assert answer.status == 200, answer.text
        return bool(json.loads(answer.body)["boolean"])

    def size(self, graph: str) -> int:
        rows = self.select(f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}")
        return int(rows[0]["n"])

    def update(self, text: str, token: str | None) -> Answer:
        headers = {"Content-Type": "application/sparql-update"}
        if token is not None:
            headers |= bearer(token)
        return call(self.url, "POST", "/sparql", body=text.encode(), headers=headers)

    def upload(self, path: Path, token: str | None, *, dry_run: bool = False) -> Answer:
        params = {"name": path.name} | ({"dry_run": "true"} if dry_run else {})
        headers = bearer(token) if token is not None else {}
        return call(
            self.url,
            "POST",
            "/upload?" + urllib.parse.urlencode(params),
            body=path.read_bytes(),
            headers=headers,
        )


def make_tokens(folder: Path) -> dict[str, str]:
    tokens = TokenFile(folder / "tokens.toml")
    past = datetime.now(UTC) - timedelta(days=1)
    made = {
        "hasvik": tokens.create("Hasvik systemeier", "municipality", (HASVIK,))[0],
        "alta": tokens.create("Alta IT", "municipality", (ALTA,))[0],
        "region": tokens.create("Vest-Finnmark IKT", "region", (HASVIK, ALTA), "Vest-Finnmark")[0],
        "expired": tokens.create("Utløpt / expired", "municipality", (HASVIK,), expires=past)[0],
    }
    return made


def start_access_server(
    backend: str, folder: Path, extra_env: dict[str, str] | None = None
) -> Access:
    tokens = make_tokens(folder)
    env = {
        "KOMMUNEGRAF_TOKEN": ADMIN,
        "KOMMUNEGRAF_TOKENS": str(folder / "tokens.toml"),
        "KOMMUNEGRAF_AUDIT_LOG": str(folder / "audit.jsonl"),
        **(extra_env or {}),
    }
    return Access(start_server_on(backend, env=env), folder, tokens)


VENDOR = ["Visma Software AS", "974760673", "https://www.visma.no"]
APPLICATION = [
    "Visma Flyt Skole",
    "Visma Software AS",
    "Skoleadministrasjon",
    "Skoleadministrativt system",
    "https://www.visma.no/flyt-skole",
]


def usage(municipality: str, application: str = "Visma Flyt Skole") -> list[object]:
    return [municipality, application, "2024.3", "SaaS / sky", "I bruk", "Rektor", "40"]


def workbook(
    folder: Path,
    name: str,
    usages: list[list[object]],
    *,
    catalogue: bool = True,
) -> Path:
    """A filled template: the vendor and application rows (unless not wanted) and usages."""
    template = folder / "mal.xlsx"
    if not template.exists():
        write_template(template)
    book = openpyxl.load_workbook(template)
    if catalogue:
        book["Leverandører"].append(VENDOR)
        book["Applikasjoner"].append(APPLICATION)
    for row in usages:
        book["Systemportefølje"].append(row)
    target = folder / name
    book.save(target)
    return target
