"""The service's configuration, in one typed object, and where each value came from.

Every other module receives a ``Settings`` and reads nothing from the environment
itself. A value comes from, strongest first:

1. a command-line flag (``--query-timeout 10``),
2. an environment variable (``KOMMUNEGRAF_QUERY_TIMEOUT=10``),
3. the TOML file given by ``--config FILE`` or ``KOMMUNEGRAF_CONFIG`` (``query_timeout = 10``),
4. the default below.

Flags beat the environment so that one run can be changed without editing the
deployment; the environment beats the file so that containers can override a file
baked into an image. Names are derived from the fields: field ``query_timeout`` is
TOML key ``query_timeout``, variable ``KOMMUNEGRAF_QUERY_TIMEOUT`` and flag
``--query-timeout``; the parser follows the field's type. Adding a setting is
therefore one field here (``setting(default, nb, en)``, with its help text), and a line
in the table of docs/operations.md; secrets (``setting(..., secret=True)``) are masked
by ``kommunegraf config`` and never get a flag, so they cannot show in a process list.

Unknown keys in the file, unknown ``KOMMUNEGRAF_*`` variables and bad values stop
start-up with a message that names the key and where it came from.
"""

from __future__ import annotations

import math
import types
import typing
import urllib.parse
from collections.abc import Mapping
from dataclasses import MISSING, Field, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from loaders.engines import ENGINES, Engine
from loaders.namespaces import DEFAULT_BASE_IRI

ENV_PREFIX = "KOMMUNEGRAF_"
CONFIG_ENV = "KOMMUNEGRAF_CONFIG"
"""The variable naming the TOML file when ``--config`` is not given."""
MEMORY = ":memory:"
"""What ``store`` is set to for a throw-away store (written as None in Python)."""
LOG_LEVELS = ("debug", "info", "warning", "error")
QUERY_STORES = ("auto", "memory", "disk")
LOG_FORMATS = ("auto", "json", "text")
MIN_TOKEN_LENGTH = 32
"""Shortest admin token accepted: a guessable token is no protection, and a short one
would also be masked in the logs wherever its letters happen to occur."""
MASK = "********"
_SECRET_QUERY_KEYS = ("key", "token", "secret", "password", "passwd", "pwd", "auth")


class SettingsError(ValueError):
    """A configuration value is invalid; the message names the key."""

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


def setting(
    default: Any, nb: str, en: str, *, secret: bool = False, none_text: str | None = None
) -> Any:
    """A field of ``Settings``: its default, help text (bokmål, English) and handling.

    ``secret`` masks the value in ``kommunegraf config``, gives it no flag and leaves it
    out of the repr; ``none_text`` is the word that means None in a file, variable or flag.
    One call per field, so the field list reads as a table of settings.
    """
    return field(
        default=default,
        repr=not secret,
        metadata={"nb": nb, "en": en, "secret": secret, "none_text": none_text},
    )


@dataclass(frozen=True)
class Settings:
    store: Path | None = setting(
        Path("data/store"),
        "lagermappe; :memory: gir et midlertidig lager",
        "store folder; :memory: for a throw-away store",
        none_text=MEMORY,
    )
    base_iri: str = setting(
        DEFAULT_BASE_IRI,
        "grunn-IRI for alle ressurser, slutter med /",
        "base IRI of every resource, ending in /",
    )
    host: str = setting("127.0.0.1", "adresse å lytte på", "listen address")
    port: int = setting(8000, "port", "port")
    workers: int = setting(
        1,
        "HTTP-prosesser; bare 1 (én skriver), se docs/operations.md",
        "HTTP worker processes; only 1 (one writer), see docs/operations.md",
    )
    query_timeout: float = setting(
        30.0,
        "sekunder en spørring får kjøre før den stoppes (HTTP 503)",
        "seconds a query may run before it is stopped (HTTP 503)",
    )
    upload_timeout: float = setting(
        180.0,
        "sekunder en opplasting får bruke på kontrollen, ventetid medregnet (HTTP 503)",
        "seconds an upload's check may take, waiting included (HTTP 503)",
    )
    query_workers: int = setting(
        2,
        "spørreprosesser; hver kjører én spørring om gangen",
        "query worker processes; each runs one query at a time",
    )
    query_reserved: int = setting(
        1,
        "spørreprosesser holdt av til korte spørringer (høyst query_workers - 1)",
        "query workers kept for cheap queries (at most query_workers - 1)",
    )
    query_queue: int = setting(
        64,
        "spørringer som kan vente i hver kø før nye avvises (429/503 med Retry-After)",
        "queries that may wait in each lane before new ones are refused (429/503, Retry-After)",
    )
    query_store: str = setting(
        "auto",
        "hvor spørreprosessene leser lageret: memory (en kopi i minnet per prosess, ca. 2x "
        "lagerets størrelse på disk hver; lette spørringer ca. 3x raskere), disk, eller auto "
        "(memory når kopiene får plass i halvparten av ledig minne)",
        "where query workers read the store: memory (a copy in memory per worker, about 2x the "
        "store's size on disk each; light queries about 3x faster), disk, or auto (memory "
        "when the copies fit in half of the available memory)",
    )
    answer_cache_mb: int = setting(
        64,
        "minne (MB) til svar fra /sparql på lagerets gjeldende tilstand; 0 slår det av",
        "memory (MB) for /sparql answers on the store's current state; 0 turns it off",
    )
    token: str | None = setting(
        None,
        "skrivenøkkel (Bearer); uten den er tjenesten skrivebeskyttet",
        "bearer token for writes; without it the service is read-only",
        secret=True,
    )
    max_body_bytes: int = setting(
        10 * 1024 * 1024,
        "største forespørsel som tas imot (byte)",
        "largest request body accepted (bytes)",
    )
    service_allow: tuple[str, ...] = setting(
        (),
        "IRI-prefikser SERVICE og LOAD kan hente fra (kommaseparert); tomt = ingen",
        "IRI prefixes SERVICE and LOAD may reach (comma-separated); empty = none",
    )
    store_url: str | None = setting(
        None,
        "ekstern SPARQL 1.1-spørretjeneste i stedet for det innebygde lageret",
        "remote SPARQL 1.1 query endpoint instead of the embedded store",
    )
    update_url: str | None = setting(
        None, "dens oppdateringstjeneste (standard: store_url)", "its update endpoint"
    )
    graph_store_url: str | None = setting(
        None, "dens Graph Store Protocol-tjeneste", "its Graph Store Protocol endpoint"
    )
    store_dialect: str = setting(
        "auto",
        "eksternt lagers dialekt: auto (fra Server-overskriften), generic, oxigraph, virtuoso",
        "the remote store's dialect: auto (from its Server header), generic, oxigraph, virtuoso",
    )
    store_user: str | None = setting(None, "brukernavn mot den", "user name for it")
    store_password: str | None = setting(None, "passord mot den", "its password", secret=True)
    tokens: Path | None = setting(
        None,
        "nøkkelfil (TOML, SHA-256-hasher) med kommunenøkler, se docs/access.md",
        "token file (TOML, SHA-256 hashes) with scoped write tokens, see docs/access.md",
    )
    audit_log: Path | None = setting(
        None,
        "revisjonslogg (JSON-linjer); standard: ved siden av lageret på disk",
        "audit log (JSON lines); default: beside the on-disk store",
    )
    log_level: str = setting(
        "info",
        "loggnivå: debug (med spørringstekst), info, warning, error",
        "log level: debug (with query text), info, warning, error",
    )
    log_format: str = setting(
        "auto",
        "json (JSON-linjer), text, eller auto (text på terminal, ellers json)",
        "json (JSON lines), text, or auto (text on a terminal, else json)",
    )
    shutdown_timeout: float = setting(
        30.0,
        "sekunder pågående forespørsler får ved stopp (SIGTERM); 0 = ingen grense",
        "seconds in-flight requests get to finish on shutdown (SIGTERM); 0 = no limit",
    )
    validation_engine: str = setting(
        "sparql",
        "SHACL-motor for opplastinger: sparql (formene kompilert til SPARQL) eller pyshacl "
        "(referansen, langsommere)",
        "SHACL engine for uploads: sparql (the shapes compiled to SPARQL) or pyshacl "
        "(the reference, slower)",
    )
    warm_checks: bool = setting(
        True,
        "spørreprosessene gjør ledig tid til å forberede kontrollen av opplastinger (former, "
        "referansedata), så den første opplastingen går like raskt som de neste",
        "query workers use idle time to prepare the checks of uploads (shapes, reference "
        "data), so the first upload is as fast as the next ones",
    )
    demo: bool = setting(
        True,
        "fyll et tomt lager med demodataene (loaders/demo), ikke bare referansedata",
        "fill an empty store with the demo data (loaders/demo), not only reference data",
    )
    demo_cache: str = setting(
        "auto",
        "mappe for en kontrollert kopi av demodataene, så neste første oppstart tar sekunder; "
        "auto = ~/.cache/kommunegraf, off = ingen",
        "folder for a checked copy of the demo data, so the next first start takes seconds; "
        "auto = ~/.cache/kommunegraf, off = none",
    )

    def __post_init__(self) -> None:
        if not self.base_iri.startswith(("http://", "https://")) or not self.base_iri.endswith("/"):
            _invalid(
                "base_iri",
                self.base_iri,
                "må være en http(s)-IRI som slutter med /",
                "must be an http(s) IRI ending in /",
            )
        if not self.query_timeout > 0 or math.isinf(self.query_timeout):
            _invalid("query_timeout", self.query_timeout, "må være over 0", "must be > 0")
        if not self.upload_timeout > 0 or math.isinf(self.upload_timeout):
            _invalid("upload_timeout", self.upload_timeout, "må være over 0", "must be > 0")
        if self.query_workers < 1:
            _invalid("query_workers", self.query_workers, "må være minst 1", "must be ≥ 1")
        if self.query_reserved < 0:
            _invalid("query_reserved", self.query_reserved, "kan ikke være negativ", "must be ≥ 0")
        if self.query_store not in QUERY_STORES:
            _invalid("query_store", self.query_store, "ukjent verdi", f"not one of {QUERY_STORES}")
        if self.answer_cache_mb < 0:
            _invalid(
                "answer_cache_mb", self.answer_cache_mb, "kan ikke være negativ", "must be ≥ 0"
            )
        if self.query_queue < 1:
            _invalid("query_queue", self.query_queue, "må være minst 1", "must be ≥ 1")
        if not 0 < self.port < 65536:
            _invalid("port", self.port, "er ikke et portnummer", "is not a port number")
        if self.workers < 1:
            _invalid("workers", self.workers, "må være minst 1", "must be ≥ 1")
        if not self.max_body_bytes > 0:
            _invalid("max_body_bytes", self.max_body_bytes, "må være over 0", "must be > 0")
        if not self.shutdown_timeout >= 0 or math.isinf(self.shutdown_timeout):
            _invalid(
                "shutdown_timeout", self.shutdown_timeout, "kan ikke være negativ", "must be ≥ 0"
            )
        if self.log_level not in LOG_LEVELS:
            _invalid("log_level", self.log_level, "ukjent nivå", f"not one of {LOG_LEVELS}")
        if self.log_format not in LOG_FORMATS:
            _invalid("log_format", self.log_format, "ukjent format", f"not one of {LOG_FORMATS}")
        if self.token and len(self.token) < MIN_TOKEN_LENGTH:
            # The value is never shown: it is a secret, even a bad one.
            raise SettingsError(
                f"{ENV_PREFIX}TOKEN (token): nøkkelen har {len(self.token)} tegn, men må ha "
                f"minst {MIN_TOKEN_LENGTH}; lag en med `python -c 'import secrets; "
                f"print(secrets.token_urlsafe(32))'` (the admin token has {len(self.token)} "
                f"characters and needs at least {MIN_TOKEN_LENGTH})",
                "token",
            )
        if self.validation_engine not in ENGINES:
            _invalid(
                "validation_engine", self.validation_engine, "ukjent motor", f"not one of {ENGINES}"
            )

    @property
    def engine(self) -> Engine:
        """``validation_engine`` as the type the loaders take."""
        return "pyshacl" if self.validation_engine == "pyshacl" else "sparql"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Defaults, the ``KOMMUNEGRAF_CONFIG`` file and ``KOMMUNEGRAF_*`` variables; no flags.

        >>> Settings.from_env({"KOMMUNEGRAF_PORT": "8080"}).port
        8080
        >>> Settings.from_env({"KOMMUNEGRAF_STORE": ":memory:"}).store is None
        True
        """
        from service.configuration import resolve  # it builds Settings: imported when used

        return resolve(environ=environ).settings

    def with_overrides(self, **overrides: Any) -> Settings:
        """Apply command-line flags that were given (None means not given).

        Text is parsed as the field's type, so flags can be passed through as typed.
        """
        return replace(self, **parsed_flags(overrides))


def parsed_flags(flags: Mapping[str, Any]) -> dict[str, Any]:
    """The flags that were given (None means not given), text parsed as the field's type;
    an unknown one is a ``SettingsError``."""
    given: dict[str, Any] = {}
    for key, value in flags.items():
        if value is None:
            continue
        spec = SPECS.get(key)
        if spec is None:
            raise SettingsError(f"{key}: ukjent innstilling (unknown setting)", key)
        given[key] = spec.parse_text(value, spec.flag) if isinstance(value, str) else value
    return given


def _invalid(key: str, value: object, nb: str, en: str) -> typing.NoReturn:
    name = ENV_PREFIX + key.upper()
    raise SettingsError(f"{name} ({key}): {value!r} {nb} ({en})", key)


_TRUE = frozenset({"1", "true", "yes", "on", "ja"})
_FALSE = frozenset({"0", "false", "no", "off", "nei"})


@dataclass(frozen=True)
class Spec:
    """How one field is named and parsed in each source; derived from the field."""

    name: str
    kind: type
    """The field's type without None: str, int, float, bool, Path or tuple."""
    optional: bool
    default: Any
    nb: str
    en: str
    secret: bool
    none_text: str | None

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def parse_text(self, text: str, where: str) -> Any:
        """A value from a variable or a flag; ``where`` names it in errors."""
        text = text.strip()
        if self.optional and text in ("", self.none_text):
            return None
        if self.kind is bool:
            if text.lower() in _TRUE:
                return True
            if text.lower() in _FALSE:
                return False
            self._wrong(where, text, "er ikke sann/usann", "is not true/false")
        if self.kind is int:
            try:
                return int(text)
            except ValueError:
                self._wrong(where, text, "er ikke et heltall", "is not an integer")
        if self.kind is float:
            try:
                number = float(text)
            except ValueError:
                self._wrong(where, text, "er ikke et tall", "is not a number")
            if math.isnan(number):
                self._wrong(where, text, "er ikke et tall", "is not a number")
            return number
        if self.kind is tuple:
            return tuple(part.strip() for part in text.split(",") if part.strip())
        if self.kind is Path:
            return Path(text)
        return text

    def parse_toml(self, value: object, where: str) -> Any:
        """A value from the TOML file, which is already typed."""
        if isinstance(value, str):
            if self.kind in (str, Path) or (self.optional and value in ("", self.none_text)):
                return self.parse_text(value, where)
            if self.kind is tuple:
                return self.parse_text(value, where)
        elif isinstance(value, bool):
            if self.kind is bool:
                return value
        elif self.kind is int and isinstance(value, int):
            return value
        elif self.kind is float and isinstance(value, int | float):
            return self.parse_text(str(value), where)
        elif (
            self.kind is tuple
            and isinstance(value, list)
            and all(isinstance(v, str) for v in value)
        ):
            return tuple(value)
        expected = {
            str: ("en tekst", "a string"),
            Path: ("en sti (tekst)", "a path (string)"),
            int: ("et heltall", "an integer"),
            float: ("et tall", "a number"),
            bool: ("true eller false", "true or false"),
            tuple: ("en liste av tekster", "a list of strings"),
        }[self.kind]
        self._wrong(where, value, f"skal være {expected[0]}", f"must be {expected[1]}")

    def _wrong(self, where: str, value: object, nb: str, en: str) -> typing.NoReturn:
        raise SettingsError(f"{where}: {value!r} {nb} ({en})", self.name)

    def shown(self, value: object) -> str:
        """The value as TOML, masked when secret; a comment when it is None."""
        if value is None:
            return "# (ikke satt / not set)"
        if self.secret:
            return f'"{MASK}"'
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return repr(value)
        if isinstance(value, tuple):
            return "[" + ", ".join(_toml_string(str(v)) for v in value) + "]"
        return _toml_string(masked_url(str(value)))


def masked_url(text: str) -> str:
    """``text`` with the credentials a URL may carry masked: the user info's password
    (or a lone user name, which is often a token) and query values named like keys.

    >>> masked_url("https://bruker:hemmelig@sparql.example/q?apikey=abc&x=1")
    'https://bruker:********@sparql.example/q?apikey=********&x=1'
    >>> masked_url("https://TOKEN123@sparql.example/q"), masked_url("/var/lib/store")
    ('https://********@sparql.example/q', '/var/lib/store')
    """
    if "://" not in text:
        return text
    try:
        parts = urllib.parse.urlsplit(text)
    except ValueError:
        return MASK
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user, colon, _ = userinfo.partition(":")
        netloc = f"{user}:{MASK}@{host}" if colon else f"{MASK}@{host}"
    query = "&".join(
        f"{key}={MASK}" if any(word in key.lower() for word in _SECRET_QUERY_KEYS) else item
        for item in parts.query.split("&")
        if item
        for key in [item.partition("=")[0]]
    )
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc, query=query))


def url_secrets(text: str | None) -> list[str]:
    """The credentials inside a URL (what ``masked_url`` hides), for the log masking."""
    if not text or "://" not in text:
        return []
    try:
        parts = urllib.parse.urlsplit(text)
    except ValueError:
        return []
    found = [parts.password] if parts.password else []
    if parts.username and parts.password is None:
        found.append(parts.username)
    for key, value in urllib.parse.parse_qsl(parts.query):
        if value and any(word in key.lower() for word in _SECRET_QUERY_KEYS):
            found.append(value)
    return found


def _toml_string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in escaped) + '"'


def _spec(item: Field[Any], hint: Any) -> Spec:
    arguments = typing.get_args(hint)
    optional = isinstance(hint, types.UnionType) and type(None) in arguments
    if optional:
        rest = [a for a in arguments if a is not type(None)]
        hint = rest[0] if len(rest) == 1 else hint
    kind = typing.get_origin(hint) or hint
    if kind not in (str, int, float, bool, Path, tuple):
        raise TypeError(f"Settings.{item.name}: type {hint} has no parser; add one in Spec")
    if kind is tuple and typing.get_args(hint) not in ((str, Ellipsis),):
        raise TypeError(f"Settings.{item.name}: only tuple[str, ...] is supported")
    default = item.default if item.default is not MISSING else None
    meta: Mapping[str, Any] = item.metadata
    return Spec(
        name=item.name,
        kind=kind,
        optional=optional,
        default=default,
        nb=meta.get("nb") or "",
        en=meta.get("en") or item.name.replace("_", " "),
        secret=bool(meta.get("secret")) or not item.repr,
        none_text=meta.get("none_text"),
    )


def _specs() -> dict[str, Spec]:
    hints = typing.get_type_hints(Settings)
    return {item.name: _spec(item, hints[item.name]) for item in fields(Settings)}


SPECS: dict[str, Spec] = _specs()
"""Every setting by field name, in declaration order."""
