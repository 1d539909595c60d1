"""The token file: hashes on disk, never tokens; revoked and expired tokens refused."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from service.access.tokens import TokenFile, TokenFileError, hash_token, parse_tokens
from tests import cli
from tests.conftest import stop_server
from tests.service.access import HASVIK, Access, start_access_server
from tests.service.client import bearer, call


def kommunegraf(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return cli.kommunegraf(*args, env=env, timeout=120)


def test_token_create_prints_the_token_once_and_stores_only_its_hash(tmp_path: Path) -> None:
    env = {
        "KOMMUNEGRAF_TOKENS": str(tmp_path / "tokens.toml"),
        "KOMMUNEGRAF_AUDIT_LOG": str(tmp_path / "audit.jsonl"),
    }
    made = kommunegraf(
        "token", "create", "--name", "Hasvik systemeier", "--kommune", HASVIK, env=env
    )
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert len(token) > 40 and "\n" not in token
    on_disk = (tmp_path / "tokens.toml").read_text(encoding="utf-8")
    assert token not in on_disk and hash_token(token) in on_disk
    assert (tmp_path / "tokens.toml").stat().st_mode & 0o077 == 0  # owner only

    listed = kommunegraf("token", "list", env=env)
    assert listed.returncode == 0 and "Hasvik systemeier" in listed.stdout
    assert token not in listed.stdout and "active" in listed.stdout
    entry = TokenFile(tmp_path / "tokens.toml").find(token)
    assert entry is not None and entry.municipalities == (HASVIK,)

    revoked = kommunegraf("token", "revoke", "Hasvik systemeier", env=env)
    assert revoked.returncode == 0, revoked.stderr
    assert "revoked" in kommunegraf("token", "list", env=env).stdout
    audit = (tmp_path / "audit.jsonl").read_text(encoding="utf-8")
    assert audit.count('"action": "token"') == 2 and token not in audit


def test_token_create_needs_a_scope_and_a_file(tmp_path: Path) -> None:
    env = {"KOMMUNEGRAF_TOKENS": str(tmp_path / "t.toml")}
    assert kommunegraf("token", "create", "--name", "X", env=env).returncode == 2
    bad = kommunegraf("token", "create", "--name", "X", "--kommune", "56", env=env)
    assert bad.returncode == 2 and "kommuner" in bad.stderr
    no_file = kommunegraf("token", "list", env={"KOMMUNEGRAF_TOKENS": ""})
    assert no_file.returncode == 2 and "KOMMUNEGRAF_TOKENS" in no_file.stderr


def test_the_file_round_trips_and_bad_files_say_where() -> None:
    digest = "c" * 64
    text = f'[tokens.{digest}]\nname = "Alta IT"\nrole = "municipality"\nkommuner = ["5601"]\n'
    assert parse_tokens(text)[digest].municipalities == ("5601",)
    for broken in (
        "[tokens.abc]\nname='x'\nrole='admin'\n",
        f"[tokens.{digest}]\nname='x'\nrole='king'\n",
        f"[tokens.{digest}]\nname='x'\nrole='municipality'\n",
        "not toml [",
    ):
        with pytest.raises(TokenFileError):
            parse_tokens(broken)


def test_expiry_and_revocation_are_states(tmp_path: Path) -> None:
    tokens = TokenFile(tmp_path / "tokens.toml")
    _, soon = tokens.create("A", "admin", expires=datetime.now(UTC) + timedelta(hours=1))
    assert soon.state() == "active"
    assert soon.state(datetime.now(UTC) + timedelta(hours=2)) == "expired"
    assert [e.name for e in tokens.revoke("A")] == ["A"]
    assert tokens.revoke("A") == []  # already revoked


@pytest.fixture(scope="module")
def access(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Access]:
    running = start_access_server("embedded", tmp_path_factory.mktemp("tokens"))
    try:
        yield running
    finally:
        stop_server(running.server)


def test_a_token_revoked_while_the_service_runs_is_refused_at_once(access: Access) -> None:
    graph = access.graph(HASVIK, "revoke")
    subject = f"{access.base}id/bruk/{HASVIK}/x"
    text = f'INSERT DATA {{ GRAPH <{graph}> {{ <{subject}> <urn:p> "1" }} }}'
    token, entry = TokenFile(access.token_file).create("Midlertidig", "municipality", (HASVIK,))
    assert access.update(text, token).status == 200
    env = {
        "KOMMUNEGRAF_TOKENS": str(access.token_file),
        "KOMMUNEGRAF_AUDIT_LOG": str(access.audit_log),
    }
    done = kommunegraf("token", "revoke", entry.digest[:12], env=env)
    assert done.returncode == 0, done.stderr
    answer = access.update(text, token)
    assert answer.status == 403
    assert "trukket tilbake" in answer.text and "revoked" in answer.text


def test_an_expired_token_is_refused(access: Access) -> None:
    answer = call(
        access.url,
        "DELETE",
        "/store",
        params={"graph": access.graph(HASVIK, "x")},
        headers=bearer(access.tokens["expired"]),
    )
    assert answer.status == 403 and "utløpt" in answer.text and "expired" in answer.text


def test_a_broken_token_file_stops_writes_with_a_message_not_a_500(access: Access) -> None:
    original = access.token_file.read_bytes()
    try:
        access.token_file.write_text("this is [ not toml", encoding="utf-8")
        answer = access.update("CLEAR SILENT GRAPH <urn:g>", access.tokens["hasvik"])
        assert answer.status == 503
        assert "Nøkkelfilen" in answer.text and "token file" in answer.text
    finally:
        access.token_file.write_bytes(original)
    assert access.update("CLEAR SILENT GRAPH <urn:g>", "no-such-token").status == 403
