"""The service's configuration, in one typed object.

Values come from ``KOMMUNEGRAF_*`` environment variables, overridden by
command-line flags; every other module receives a ``Settings`` and reads nothing
from the environment itself.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from loaders.namespaces import DEFAULT_BASE_IRI


class SettingsError(ValueError):
    """A configuration value is invalid; the message names the key."""


@dataclass(frozen=True)
class Settings:
    store: Path | None = Path("data/store")
    """On-disk store folder; None keeps the store in memory (tests, demos)."""
    base_iri: str = DEFAULT_BASE_IRI
    """Every minted IRI starts with this; it must end with a slash."""
    host: str = "127.0.0.1"
    port: int = 8000
    query_timeout: float = 30.0
    """Seconds a query may run before its worker is killed (HTTP 503)."""
    query_workers: int = 2
    """Query worker processes; each runs one query at a time."""
    token: str | None = field(default=None, repr=False)
    """Bearer token for writes (update, graph store, upload); None = read-only service."""
    max_body_bytes: int = 10 * 1024 * 1024
    """Largest request body accepted (queries, updates, uploads)."""
    service_allow: tuple[str, ...] = ()
    """IRI prefixes a user query may reach with SERVICE; empty = SERVICE refused."""
    store_url: str | None = None
    """A remote SPARQL 1.1 query endpoint to use instead of the embedded store."""
    update_url: str | None = None
    """Its update endpoint (default: store_url)."""
    graph_store_url: str | None = None
    """Its Graph Store Protocol endpoint, if it has one."""
    store_user: str | None = None
    store_password: str | None = field(default=None, repr=False)
    tokens: Path | None = None
    """Token file (TOML, SHA-256 hashes) with scoped write tokens; see docs/access.md."""
    audit_log: Path | None = None
    """Append-only JSON-lines audit log; None = beside an on-disk store, none in memory."""

    def __post_init__(self) -> None:
        if not self.base_iri.startswith(("http://", "https://")) or not self.base_iri.endswith("/"):
            raise SettingsError(
                f"KOMMUNEGRAF_BASE_IRI: {self.base_iri!r} må være en http(s)-IRI som slutter "
                "med / (must be an http(s) IRI ending in /)"
            )
        if not self.query_timeout > 0:
            raise SettingsError(
                f"KOMMUNEGRAF_QUERY_TIMEOUT: {self.query_timeout} må være over 0 (must be > 0)"
            )
        if self.query_workers < 1:
            raise SettingsError(
                f"KOMMUNEGRAF_QUERY_WORKERS: {self.query_workers} må være minst 1 (must be ≥ 1)"
            )
        if not 0 < self.port < 65536:
            raise SettingsError(f"KOMMUNEGRAF_PORT: {self.port} er ikke et portnummer (not a port)")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read the ``KOMMUNEGRAF_*`` variables named after the fields.

        >>> Settings.from_env({"KOMMUNEGRAF_PORT": "8080"}).port
        8080
        >>> Settings.from_env({"KOMMUNEGRAF_STORE": ":memory:"}).store is None
        True
        """
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        if "KOMMUNEGRAF_STORE" in env:
            values["store"] = _store_path(env["KOMMUNEGRAF_STORE"])
        if "KOMMUNEGRAF_BASE_IRI" in env:
            values["base_iri"] = env["KOMMUNEGRAF_BASE_IRI"]
        if "KOMMUNEGRAF_HOST" in env:
            values["host"] = env["KOMMUNEGRAF_HOST"]
        for key in ("token", "store_url", "update_url", "graph_store_url", "store_user"):
            if f"KOMMUNEGRAF_{key.upper()}" in env:
                values[key] = env[f"KOMMUNEGRAF_{key.upper()}"] or None
        if "KOMMUNEGRAF_STORE_PASSWORD" in env:
            values["store_password"] = env["KOMMUNEGRAF_STORE_PASSWORD"] or None
        for key in ("tokens", "audit_log"):
            if env.get(f"KOMMUNEGRAF_{key.upper()}"):
                values[key] = Path(env[f"KOMMUNEGRAF_{key.upper()}"])
        if "KOMMUNEGRAF_SERVICE_ALLOW" in env:
            allowed = env["KOMMUNEGRAF_SERVICE_ALLOW"].split(",")
            values["service_allow"] = tuple(a.strip() for a in allowed if a.strip())
        numbers: tuple[tuple[str, type[int] | type[float]], ...] = (
            ("port", int),
            ("query_timeout", float),
            ("query_workers", int),
            ("max_body_bytes", int),
        )
        for key, convert in numbers:
            name = f"KOMMUNEGRAF_{key.upper()}"
            if name in env:
                try:
                    values[key] = convert(env[name])
                except ValueError:
                    raise SettingsError(
                        f"{name}: {env[name]!r} er ikke et tall (not a number)"
                    ) from None
        return cls(**values)

    def with_overrides(self, **overrides: Any) -> Settings:
        """Apply command-line flags that were given (None means not given)."""
        given = {key: value for key, value in overrides.items() if value is not None}
        if isinstance(given.get("store"), str):
            given["store"] = _store_path(given["store"])
        return replace(self, **given)


def _store_path(value: str) -> Path | None:
    return None if value == ":memory:" else Path(value)
