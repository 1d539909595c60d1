"""Settings: precedence flag > env > file > default, sources, masking, start-up errors.

The error tests run the real ``kommunegraf`` command as a subprocess, since what
matters is what an operator sees when start-up fails: exit code 2 and a message
naming the key.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from service.configuration import resolve
from service.settings import SPECS, Settings, SettingsError
from tests.cli import kommunegraf

CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith("KOMMUNEGRAF_")}


def _kommunegraf(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return kommunegraf(*args, env=env, timeout=timeout, inherit_settings=False)


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "kommunegraf.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_flag_beats_env_beats_file_beats_default(tmp_path: Path) -> None:
    config = _config(
        tmp_path,
        'port = 7000\nhost = "::1"\nquery_timeout = 5\nservice_allow = ["https://a.test/"]\n',
    )
    env = {"KOMMUNEGRAF_PORT": "7100", "KOMMUNEGRAF_QUERY_TIMEOUT": "7.5"}
    resolved = resolve({"port": "7200", "host": None}, env, config)
    settings = resolved.settings
    assert settings.port == 7200 and resolved.sources["port"] == "flag --port"
    assert settings.query_timeout == 7.5
    assert resolved.sources["query_timeout"] == "env KOMMUNEGRAF_QUERY_TIMEOUT"
    assert settings.host == "::1" and resolved.sources["host"] == f"file {config}"
    assert settings.service_allow == ("https://a.test/",)
    assert settings.query_workers == Settings().query_workers
    assert "query_workers" not in resolved.sources


def test_config_file_from_environment(tmp_path: Path) -> None:
    config = _config(tmp_path, 'store = ":memory:"\nlog_format = "text"\n')
    settings = resolve(environ={"KOMMUNEGRAF_CONFIG": str(config)}).settings
    assert settings.store is None and settings.log_format == "text"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"KOMMUNEGRAF_SERVICE_ALLOW": " https://a.test/ , https://b.test/,"}, 2),
        ({"KOMMUNEGRAF_SERVICE_ALLOW": ""}, 0),
    ],
)
def test_lists_from_the_environment(env: dict[str, str], expected: int) -> None:
    assert len(resolve(environ=env).settings.service_allow) == expected


def test_an_empty_optional_variable_means_not_set() -> None:
    assert resolve(environ={"KOMMUNEGRAF_STORE_URL": ""}).settings.store_url is None


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"KOMMUNEGRAF_PORT": "eighty"}, "KOMMUNEGRAF_PORT"),
        ({"KOMMUNEGRAF_PORT": "70000"}, "KOMMUNEGRAF_PORT"),
        ({"KOMMUNEGRAF_QUERY_TIMEOUT": "nan"}, "KOMMUNEGRAF_QUERY_TIMEOUT"),
        ({"KOMMUNEGRAF_QUERY_TIMEOUT": "0"}, "KOMMUNEGRAF_QUERY_TIMEOUT"),
        ({"KOMMUNEGRAF_LOG_LEVEL": "loud"}, "KOMMUNEGRAF_LOG_LEVEL"),
        ({"KOMMUNEGRAF_QUERY_STORE": "ram"}, "KOMMUNEGRAF_QUERY_STORE"),
        ({"KOMMUNEGRAF_BASE_IRI": "ftp://x/"}, "KOMMUNEGRAF_BASE_IRI"),
        ({"KOMMUNEGRAF_QUERY_TIMOUT": "3"}, "KOMMUNEGRAF_QUERY_TIMEOUT"),  # suggestion
    ],
)
def test_bad_environment_values_name_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError) as raised:
        resolve(environ=env)
    assert named in str(raised.value)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("prot = 8000\n", "prot"),
        ('port = "8000"\n', "port"),
        ("port = true\n", "port"),
        ("query_timeout = -1\n", "query_timeout"),
        ("service_allow = [1, 2]\n", "service_allow"),
        ("port = \n", "TOML"),
    ],
)
def test_bad_file_values_name_the_key(tmp_path: Path, text: str, named: str) -> None:
    config = _config(tmp_path, text)
    with pytest.raises(SettingsError) as raised:
        resolve(environ={}, config_file=config)
    assert named in str(raised.value)
    assert str(config) in str(raised.value) or named == "query_timeout"


def test_a_value_checked_after_parsing_says_where_it_came_from(tmp_path: Path) -> None:
    config = _config(tmp_path, "query_workers = 0\n")
    with pytest.raises(SettingsError, match=r"query_workers.*\[file .*kommunegraf\.toml\]"):
        resolve(environ={}, config_file=config)


def test_every_field_has_a_variable_a_key_and_a_flag_unless_secret() -> None:
    for name, spec in SPECS.items():
        assert spec.env == "KOMMUNEGRAF_" + name.upper()
        assert spec.flag == "--" + name.replace("_", "-")
    assert SPECS["token"].secret and SPECS["store_password"].secret
    assert not SPECS["port"].secret


def test_bad_flag_fails_start_up_naming_it() -> None:
    done = _kommunegraf("serve", "--store", ":memory:", "--port", "eighty")
    assert done.returncode == 2
    assert "--port" in done.stderr and "eighty" in done.stderr
    assert "heltall" in done.stderr and "integer" in done.stderr


def test_bad_environment_value_fails_start_up_naming_it() -> None:
    done = _kommunegraf("serve", env={"KOMMUNEGRAF_QUERY_WORKERS": "0"})
    assert done.returncode == 2
    assert "KOMMUNEGRAF_QUERY_WORKERS" in done.stderr
    assert "env KOMMUNEGRAF_QUERY_WORKERS" in done.stderr


def test_unknown_variable_fails_start_up_naming_it() -> None:
    done = _kommunegraf("serve", env={"KOMMUNEGRAF_TOKNE": "x"})
    assert done.returncode == 2
    assert "KOMMUNEGRAF_TOKNE" in done.stderr and "KOMMUNEGRAF_TOKEN?" in done.stderr


def test_unknown_file_key_fails_start_up_naming_it(tmp_path: Path) -> None:
    config = _config(tmp_path, "query_timeout = 3\nquery_wrokers = 4\n")
    done = _kommunegraf("serve", "--config", str(config))
    assert done.returncode == 2
    assert "query_wrokers" in done.stderr and "ukjent" in done.stderr
    assert "unknown" in done.stderr and "query_workers?" in done.stderr


def test_missing_config_file_fails_start_up(tmp_path: Path) -> None:
    done = _kommunegraf("serve", env={"KOMMUNEGRAF_CONFIG": str(tmp_path / "none.toml")})
    assert done.returncode == 2 and "none.toml" in done.stderr


def test_more_than_one_http_worker_is_refused_with_the_reason() -> None:
    done = _kommunegraf("serve", "--store", ":memory:", "--workers", "2")
    assert done.returncode == 2
    assert "én skriver" in done.stderr or "skrive til lageret" in done.stderr
    assert "one process can write" in done.stderr and "--query-workers" in done.stderr


def test_config_command_shows_values_sources_and_masks_secrets(tmp_path: Path) -> None:
    config = _config(
        tmp_path,
        'store = ":memory:"\nquery_timeout = 12\ntoken = "file-secret-0123456789abcdef0123"\n',
    )
    done = _kommunegraf(
        "config",
        "--config",
        str(config),
        "--port",
        "9123",
        env={"KOMMUNEGRAF_STORE_PASSWORD": "env-secret", "KOMMUNEGRAF_QUERY_WORKERS": "3"},
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "port = 9123  # flag --port" in lines
    assert "query_workers = 3  # env KOMMUNEGRAF_QUERY_WORKERS" in lines
    assert f"query_timeout = 12.0  # file {config}" in lines
    assert 'store = ":memory:"  # file ' + str(config) in lines
    assert 'token = "********"  # file ' + str(config) in lines
    assert 'store_password = "********"  # env KOMMUNEGRAF_STORE_PASSWORD' in lines
    assert "secret" not in done.stdout
    assert 'host = "127.0.0.1"  # default' in lines


def test_config_output_is_a_settings_file_that_gives_the_same_settings(tmp_path: Path) -> None:
    first = _kommunegraf("config", "--port", "9124", "--service-allow", "https://a.test/,x:y")
    assert first.returncode == 0, first.stderr
    saved = _config(tmp_path, first.stdout)
    again = resolve(environ={}, config_file=saved).settings
    assert again.port == 9124 and again.service_allow == ("https://a.test/", "x:y")
    assert again == Settings(port=9124, service_allow=("https://a.test/", "x:y"))


def test_secrets_have_no_flag() -> None:
    done = _kommunegraf("serve", "--help")
    assert done.returncode == 0
    assert "--token " not in done.stdout and "--store-password" not in done.stdout
    assert "--query-timeout" in done.stdout and "KOMMUNEGRAF_QUERY_TIMEOUT" in done.stdout


def test_settings_documented_in_operations_guide() -> None:
    """Every setting appears in docs/operations.md with its variable, flag and key."""
    guide = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text("utf-8")
    missing = [
        name
        for name, spec in SPECS.items()
        if spec.env not in guide
        or f"`{name}`" not in guide
        or (not spec.secret and spec.flag not in guide)
    ]
    assert not missing, f"add to docs/operations.md: {missing}"
