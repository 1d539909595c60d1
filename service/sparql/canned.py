"""Canned queries: the ``.rq`` files in ``queries/`` and their headers.

Why the header is parsed here and nowhere else: it is the only definition of a
query's API (title, parameters and their types, columns). The HTTP routes, the
OpenAPI document, the web gallery and the CLI all read a ``CannedQuery``, so a
parameter added to a header appears everywhere at once. The format is described in
``queries/README.md``.

Why parameters go through a ``VALUES`` block: a value is parsed into an RDF term by
its declared type and written by pyoxigraph's own serialiser, so no character of
user input is ever read as query syntax. The same bound text runs on the embedded
store and on any remote SPARQL 1.1 server (which knows nothing of pyoxigraph's
substitutions).

>>> query = parse_query("demo", '''#+ title: {nb: Demo, en: Demo}
... #+ description: {nb: D, en: D}
... #+ parameters:
... #+   n: {type: integer, default: 3, description: {nb: Antall, en: Count}}
... #+ columns:
... #+   n: {nb: Antall, en: Count}
... SELECT ?n WHERE { }''')
>>> print(query.bind({"n": "5"}, "http://example.org/"))
#+ title: {nb: Demo, en: Demo}
...
SELECT ?n WHERE { VALUES (?n) { ("5"^^<http://www.w3.org/2001/XMLSchema#integer>) }
}
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any, Literal

import pyoxigraph as ox
import yaml

from loaders.namespaces import PREFIXES
from loaders.paths import queries_dir
from service.errors import ServiceError
from service.sparql.lexer import IRI, is_absolute_iri, tokens
from service.sparql.text_checks import RefusedTextError, check_text

ParameterType = Literal["kommunenummer", "iri", "text", "integer", "date"]
PARAMETER_TYPES: tuple[ParameterType, ...] = ("kommunenummer", "iri", "text", "integer", "date")
TEXT_LIMIT = 200
"""Longest text parameter: labels and names are short; a long value is a mistake or an attack."""

_NAME = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")
_VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_KOMMUNENUMMER = re.compile(r"^[0-9]{4}$")
_XSD = "http://www.w3.org/2001/XMLSchema#"


class QueryDefinitionError(ValueError):
    """A ``.rq`` file whose header breaks the format; the message names file and key."""


class ParameterError(ServiceError, ValueError):
    """A parameter value that cannot be bound (422); the message names the parameter.

    ``reason_nb`` and ``reason_en`` say what is wrong without the name, for a form that
    shows the name beside them.
    """

    def __init__(self, parameter: str, nb: str, en: str) -> None:
        super().__init__(
            422, f"Parameteren {parameter}: {nb}.", f"The parameter {parameter}: {en}."
        )
        self.parameter = parameter
        self.reason_nb = nb
        self.reason_en = en

    def __str__(self) -> str:
        return f"{self.parameter}: {self.reason_nb} / {self.reason_en}"


@dataclass(frozen=True)
class Parameter:
    name: str
    type: ParameterType
    description: Mapping[str, str]
    required: bool = False
    default: str | None = None
    iri_class: str | None = None
    """For ``iri`` parameters: the class the resource should belong to (expanded IRI)."""
    minimum: int | None = None
    maximum: int | None = None

    def to_term(self, raw: str, base_iri: str) -> ox.NamedNode | ox.Literal:
        """Check ``raw`` against the type and make the RDF term it stands for.

        >>> p = Parameter("k", "kommunenummer", {})
        >>> p.to_term(" 4203 ", "http://x/")
        <NamedNode value=http://x/id/kommune/4203>
        >>> p.to_term('4203"}', "http://x/")
        Traceback (most recent call last):
        ...
        service.sparql.canned.ParameterError: k: ...
        """
        value = raw.strip()
        if self.type == "kommunenummer":
            if not _KOMMUNENUMMER.match(value):
                raise ParameterError(
                    self.name,
                    f"«{_show(value)}» er ikke et kommunenummer (fire sifre, f.eks. 4203)",
                    f"'{_show(value)}' is not a municipality number (four digits, e.g. 4203)",
                )
            return ox.NamedNode(f"{base_iri}id/kommune/{value}")
        if self.type == "iri":
            if not is_absolute_iri(value) or not value.startswith(("http://", "https://")):
                raise ParameterError(
                    self.name,
                    f'«{_show(value)}» er ikke en absolutt http(s)-IRI uten mellomrom, <, >, " '
                    "eller klammer",
                    f"'{_show(value)}' is not an absolute http(s) IRI without spaces, <, >, \" "
                    "or braces",
                )
            return ox.NamedNode(value)
        if self.type == "integer":
            if not re.fullmatch(r"[+-]?[0-9]{1,12}", value):
                raise ParameterError(
                    self.name,
                    f"«{_show(value)}» er ikke et helt tall",
                    f"'{_show(value)}' is not a whole number",
                )
            number = int(value)
            low = self.minimum if self.minimum is not None else -(10**12)
            high = self.maximum if self.maximum is not None else 10**12
            if not low <= number <= high:
                raise ParameterError(
                    self.name,
                    f"{number} er utenfor {low}–{high}",
                    f"{number} is outside {low}–{high}",
                )
            return ox.Literal(str(number), datatype=ox.NamedNode(_XSD + "integer"))
        if self.type == "date":
            try:
                day = (
                    date.fromisoformat(value) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) else None
                )
            except ValueError:
                day = None
            if day is None:
                raise ParameterError(
                    self.name,
                    f"«{_show(value)}» er ikke en dato på formen ÅÅÅÅ-MM-DD",
                    f"'{_show(value)}' is not a date of the form YYYY-MM-DD",
                )
            return ox.Literal(day.isoformat(), datatype=ox.NamedNode(_XSD + "date"))
        if len(raw) > TEXT_LIMIT or any(unicodedata.category(c) == "Cc" for c in raw):
            raise ParameterError(
                self.name,
                f"teksten må ha høyst {TEXT_LIMIT} tegn og ingen kontrolltegn",
                f"the text must be at most {TEXT_LIMIT} characters with no control characters",
            )
        return ox.Literal(value)

    def openapi(self) -> dict[str, Any]:
        """This parameter as an OpenAPI query parameter object."""
        schema: dict[str, Any] = {"type": "string"}
        if self.type == "integer":
            schema = {"type": "integer"}
            if self.minimum is not None:
                schema["minimum"] = self.minimum
            if self.maximum is not None:
                schema["maximum"] = self.maximum
        elif self.type == "date":
            schema["format"] = "date"
        elif self.type == "kommunenummer":
            schema["pattern"] = _KOMMUNENUMMER.pattern
        elif self.type == "iri":
            schema["format"] = "iri"
        else:
            schema["maxLength"] = TEXT_LIMIT
        if self.default is not None:
            schema["default"] = int(self.default) if self.type == "integer" else self.default
        description = " / ".join(
            v for v in (self.description.get("nb"), self.description.get("en")) if v
        )
        if self.iri_class:
            description += f" ({self.iri_class})"
        return {
            "name": self.name,
            "in": "query",
            "required": self.required,
            "description": description,
            "schema": schema,
        }


@dataclass(frozen=True)
class CannedQuery:
    name: str
    title: Mapping[str, str]
    description: Mapping[str, str]
    text: str
    parameters: tuple[Parameter, ...] = ()
    columns: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    timeout: float | None = None

    def parameter(self, name: str) -> Parameter | None:
        return next((p for p in self.parameters if p.name == name), None)

    def checked(self, values: Mapping[str, str], base_iri: str) -> str:
        """``bind``, then read strictly like any query sent to /sparql: the text to run.

        A value is written by pyoxigraph, so it cannot change the query's shape, but
        it can hold characters the strict reading refuses (U+2028); those are a
        ``ParameterError`` too.
        """
        text = self.bind(values, base_iri)
        try:
            return check_text(text, update=False, base=base_iri, allow=()).text
        except RefusedTextError as refusal:
            raise ParameterError(", ".join(values), refusal.nb, refusal.en) from None

    def bind(self, values: Mapping[str, str], base_iri: str) -> str:
        """The query text with every parameter bound by a VALUES block.

        Unknown, missing and malformed parameters raise ``ParameterError`` naming
        the parameter; an empty value counts as not given.
        """
        for name in values:
            if self.parameter(name) is None:
                known = ", ".join(p.name for p in self.parameters) or "ingen / none"
                raise ParameterError(
                    name,
                    f"ukjent parameter; spørringen «{self.name}» tar: {known}",
                    f"unknown parameter; query '{self.name}' takes: {known}",
                )
        if not self.parameters:
            return self.text
        terms: list[str] = []
        for parameter in self.parameters:
            raw = values.get(parameter.name, "")
            if not raw.strip():
                raw = parameter.default or ""
            if not raw.strip():
                if parameter.required:
                    raise ParameterError(
                        parameter.name,
                        "parameteren er påkrevd",
                        "the parameter is required",
                    )
                terms.append("UNDEF")
                continue
            terms.append(str(parameter.to_term(raw, base_iri)))
        variables = " ".join(f"?{p.name}" for p in self.parameters)
        block = f" VALUES ({variables}) {{ ({' '.join(terms)}) }}\n"
        position = _where_group_start(self.text)
        return self.text[:position] + block + self.text[position:]


def _show(value: str, limit: int = 60) -> str:
    """A value fit to quote back in a message: bounded, control characters made visible."""
    shown = "".join(c if unicodedata.category(c) != "Cc" else "�" for c in value[:limit])
    return shown + ("…" if len(value) > limit else "")


def _where_group_start(text: str) -> int:
    """The offset just after the "{" that opens the query's top-level WHERE group."""
    seen_where = False
    for token in tokens(text):
        if token.kind == "word" and token.text.upper() == "WHERE":
            seen_where = True
        elif seen_where and token.text == "{":
            return token.end
    raise QueryDefinitionError("the query has no WHERE { … } group to bind parameters in")


def _bilingual(value: object, where: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(value.get(lang), str) and value[lang].strip() for lang in ("nb", "en")
    ):
        raise QueryDefinitionError(f"{where} must have non-empty 'nb' and 'en' texts")
    return {str(k): str(v).strip() for k, v in value.items()}


def _expand(curie: str, where: str) -> str:
    prefix, _, local = curie.partition(":")
    if prefix in PREFIXES and not local.startswith("//"):
        return PREFIXES[prefix] + local
    if IRI.fullmatch(curie):
        return curie
    raise QueryDefinitionError(f"{where}: {curie!r} is neither a known prefixed name nor an IRI")


_PARAMETER_KEYS = {"type", "class", "required", "default", "min", "max", "description"}
_QUERY_KEYS = {"title", "description", "tags", "timeout", "parameters", "columns"}


def _parameter(name: object, spec: object, where: str) -> Parameter:
    if not isinstance(name, str) or not _VARIABLE.match(name):
        raise QueryDefinitionError(
            f"{where}: parameter name {name!r} is not a SPARQL variable name"
        )
    where = f"{where}: parameter {name}"
    if not isinstance(spec, dict):
        raise QueryDefinitionError(f"{where} must be a mapping")
    unknown = set(spec) - _PARAMETER_KEYS
    if unknown:
        raise QueryDefinitionError(f"{where}: unknown keys {sorted(unknown)}")
    kind = spec.get("type")
    if kind not in PARAMETER_TYPES:
        raise QueryDefinitionError(f"{where}: type must be one of {', '.join(PARAMETER_TYPES)}")
    default = spec.get("default")
    parameter = Parameter(
        name=name,
        type=kind,
        description=_bilingual(spec.get("description"), f"{where}: description"),
        required=bool(spec.get("required", False)),
        default=None if default is None else str(default),
        iri_class=_expand(str(spec["class"]), where) if "class" in spec else None,
        minimum=spec.get("min"),
        maximum=spec.get("max"),
    )
    if parameter.required and parameter.default is not None:
        raise QueryDefinitionError(f"{where}: a required parameter has no default")
    if parameter.default is not None:
        try:
            parameter.to_term(parameter.default, "http://example.org/")
        except ParameterError as error:
            raise QueryDefinitionError(f"{where}: bad default: {error.reason_en}") from None
    return parameter


_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""``yaml.safe_load``'s loader, in C (libyaml) where PyYAML has it: the pure-Python one
took 0.7 s of every server start and every ``kommunegraf query`` to read the headers."""


def parse_query(name: str, text: str) -> CannedQuery:
    """Read one ``.rq`` file's header and body; raises ``QueryDefinitionError``."""
    where = f"queries/{name}.rq"
    if not _NAME.match(name):
        raise QueryDefinitionError(f"{where}: the file name must be lower-case words joined by -")
    header_lines = []
    for line in text.splitlines():
        if line.startswith("#+"):
            header_lines.append(line[3:] if line.startswith("#+ ") else line[2:])
        elif line.strip() and not line.startswith("#"):
            break
    try:
        header = yaml.load("\n".join(header_lines), Loader=_SAFE_LOADER) or {}  # noqa: S506
    except yaml.YAMLError as error:
        raise QueryDefinitionError(f"{where}: the header is not valid YAML: {error}") from None
    if not isinstance(header, dict):
        raise QueryDefinitionError(f"{where}: the header must be a YAML mapping")
    unknown = set(header) - _QUERY_KEYS
    if unknown:
        raise QueryDefinitionError(f"{where}: unknown header keys {sorted(unknown)}")
    parameters = header.get("parameters") or {}
    columns = header.get("columns") or {}
    if not isinstance(parameters, dict) or not isinstance(columns, dict) or not columns:
        raise QueryDefinitionError(
            f"{where}: parameters must be a mapping, columns a non-empty one"
        )
    timeout = header.get("timeout")
    if timeout is not None and not (isinstance(timeout, int | float) and timeout > 0):
        raise QueryDefinitionError(f"{where}: timeout must be a positive number of seconds")
    query = CannedQuery(
        name=name,
        title=_bilingual(header.get("title"), f"{where}: title"),
        description=_bilingual(header.get("description"), f"{where}: description"),
        text=text,
        parameters=tuple(_parameter(k, v, where) for k, v in parameters.items()),
        columns={str(k): _bilingual(v, f"{where}: column {k}") for k, v in columns.items()},
        tags=tuple(str(t) for t in header.get("tags") or ()),
        timeout=float(timeout) if timeout is not None else None,
    )
    if query.parameters:
        _where_group_start(text)
    return query


@cache
def _load(directory: Path) -> dict[str, CannedQuery]:
    return {
        path.stem: parse_query(path.stem, path.read_text(encoding="utf-8"))
        for path in sorted(directory.glob("*.rq"))
    }


def canned_queries(directory: Path | None = None) -> dict[str, CannedQuery]:
    """Every canned query by name, read once per process.

    >>> "application-users" in canned_queries()
    True
    """
    return _load((directory or queries_dir()).resolve())
