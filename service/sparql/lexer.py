r"""The terminals of SPARQL as oxigraph reads them, and the words it knows.

Why a module of its own: two readers need the same terminals. ``tokens`` is a
lenient tokenizer (a catch-all for any character) for rewriting protocol
parameters into an update (``service.sparql.dataset``); ``STRICT`` is the strict
one ``service.sparql.text_checks`` reads a client's text with, refusing what
oxigraph and rdflib could read differently. ``is_absolute_iri`` is the one test of
an IRI that a parameter, a page and a query text share.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

import pyoxigraph as ox

_HEX = "[0-9A-Fa-f]"
_UCHAR = rf"\\u{_HEX}{{4}}|\\U{_HEX}{{8}}"
_BASE = (
    "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u02ff\u0370-\u037d\u037f-\u1fff\u200c-\u200d"
    "\u2070-\u218f\u2c00-\u2fef\u3001-\ud7ff\uf900-\ufdcf\ufdf0-\ufffd\U00010000-\U000effff"
)
_CHARS_U = _BASE + "_"
_CHARS = _CHARS_U + "\\-0-9\u00b7\u0300-\u036f\u203f-\u2040"
_PLX = rf"%{_HEX}{_HEX}|\\[_~.\-!$&'()*+,;=/?#@%]"
_PREFIX = rf"[{_BASE}](?:[{_CHARS}.]*[{_CHARS}])?"
_LOCAL = rf"(?:[{_CHARS_U}:0-9]|{_PLX})(?:(?:[{_CHARS}.:]|{_PLX})*(?:[{_CHARS}:]|{_PLX}))?"

# One alternative per terminal of the SPARQL grammar that matters here; the order
# decides between alternatives that can start at the same character.
_TOKEN = re.compile(
    rf"""
    (?P<ws>\s+)
    |(?P<comment>\#[^\r\n]*)
    |(?P<string>'''(?:[^'\\]|\\.|'(?!''))*'''
        |\"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\"
        |'(?:[^'\\\r\n]|\\.)*'
        |"(?:[^"\\\r\n]|\\.)*")
    |(?P<iri><(?:[^<>"{{}}|^`\\\x00-\x20]|{_UCHAR})*>)
    |(?P<var>[?$][{_CHARS_U}0-9][{_CHARS_U}0-9\u00b7\u0300-\u036f\u203f-\u2040]*)
    |(?P<lang>@[a-zA-Z]+(?:-[a-zA-Z0-9]+)*)
    |(?P<bnode>_:[{_CHARS_U}0-9](?:[{_CHARS}.]*[{_CHARS}])?)
    |(?P<pname>(?P<prefix>{_PREFIX})?:(?:{_LOCAL})?)
    |(?P<number>[0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?|\.[0-9]+(?:[eE][+-]?[0-9]+)?)
    |(?P<word>[A-Za-z_][A-Za-z0-9_]*)
    |(?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)
IRI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[^<>\"{}|^`\\\x00-\x20]*")
"""An absolute IRI that can be written between < and > in SPARQL as it is."""


def is_absolute_iri(text: str) -> bool:
    """Whether ``text`` is an absolute IRI that the store accepts and SPARQL can quote.

    ``IRI`` alone lets through code points the store refuses (U+FFFE, a stray
    ``%``): those gave 500 where a parameter was checked with the pattern only.
    The store's own parser decides, so the check sees what the executor will.

    >>> is_absolute_iri("http://x/a"), is_absolute_iri("http://x/\ufffe")
    (True, False)
    """
    if len(text) <= _REMEMBERED_IRI_LENGTH:
        return _remembered_absolute_iri(text)
    return _absolute_iri(text)


_REMEMBERED_IRI_LENGTH = 512
"""IRIs up to this long have their verdict remembered (``_remembered_absolute_iri``)."""


def _absolute_iri(text: str) -> bool:
    if not IRI.fullmatch(text):
        return False
    try:
        ox.NamedNode(text)
    except ValueError:
        return False
    return True


@lru_cache(maxsize=4096)
def _remembered_absolute_iri(text: str) -> bool:
    """``_absolute_iri``, remembered: a pure function of the text, and the same IRIs
    (prefixes, classes, properties) come in query after query; each verdict took a
    pattern and a NamedNode (issue 21: a few percent of checking a light query)."""
    return _absolute_iri(text)


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    start: int
    end: int
    prefix: str | None = None


def tokens(text: str) -> Iterator[Token]:
    """The tokens of ``text`` (whitespace and comments included)."""
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup or "other"
        if kind == "prefix":  # the inner group of a prefixed name
            kind = "pname"
        yield Token(kind, match.group(), match.start(), match.end(), match.group("prefix"))


KEYWORDS = frozenset(
    [
        "BASE",
        "PREFIX",
        "SELECT",
        "DISTINCT",
        "REDUCED",
        "AS",
        "CONSTRUCT",
        "WHERE",
        "DESCRIBE",
        "ASK",
        "FROM",
        "NAMED",
        "GROUP",
        "BY",
        "HAVING",
        "ORDER",
        "ASC",
        "DESC",
        "LIMIT",
        "OFFSET",
        "VALUES",
        "LOAD",
        "SILENT",
        "INTO",
        "CLEAR",
        "DROP",
        "CREATE",
        "ADD",
        "TO",
        "MOVE",
        "COPY",
        "INSERT",
        "DATA",
        "DELETE",
        "WITH",
        "USING",
        "DEFAULT",
        "GRAPH",
        "ALL",
        "OPTIONAL",
        "SERVICE",
        "BIND",
        "UNDEF",
        "MINUS",
        "UNION",
        "FILTER",
        "NOT",
        "IN",
        "EXISTS",
        "SEPARATOR",
        "LATERAL",
        "STR",
        "LANG",
        "LANGMATCHES",
        "DATATYPE",
        "BOUND",
        "IRI",
        "URI",
        "BNODE",
        "RAND",
        "ABS",
        "CEIL",
        "FLOOR",
        "ROUND",
        "CONCAT",
        "STRLEN",
        "UCASE",
        "LCASE",
        "ENCODE_FOR_URI",
        "CONTAINS",
        "STRSTARTS",
        "STRENDS",
        "STRBEFORE",
        "STRAFTER",
        "YEAR",
        "MONTH",
        "DAY",
        "HOURS",
        "MINUTES",
        "SECONDS",
        "TIMEZONE",
        "TZ",
        "NOW",
        "UUID",
        "STRUUID",
        "MD5",
        "SHA1",
        "SHA256",
        "SHA384",
        "SHA512",
        "COALESCE",
        "IF",
        "STRLANG",
        "STRDT",
        "SAMETERM",
        "ISIRI",
        "ISURI",
        "ISBLANK",
        "ISLITERAL",
        "ISNUMERIC",
        "REGEX",
        "SUBSTR",
        "REPLACE",
        "COUNT",
        "SUM",
        "MIN",
        "MAX",
        "AVG",
        "SAMPLE",
        "GROUP_CONCAT",
        "TRIPLE",
        "SUBJECT",
        "PREDICATE",
        "OBJECT",
        "ISTRIPLE",
        "ADJUST",
    ]
)
"""Every word oxigraph reads as a keyword (case-insensitive), and only those."""
EXACT_WORDS = frozenset({"a", "true", "false"})
"""Words oxigraph compares case-sensitively."""

_ECHAR = r"""\\[tbnrf"'\\]"""
STRICT = re.compile(
    rf"""
    (?P<ws>[ \t\n]+)
    |(?P<comment>\#[^\n]*)
    |(?P<string>'''(?:(?:'|'')?(?:[^'\\]|{_ECHAR}))*'''
        |\"\"\"(?:(?:"|"")?(?:[^"\\]|{_ECHAR}))*\"\"\"
        |'(?:[^'\\\n]|{_ECHAR})*'
        |"(?:[^"\\\n]|{_ECHAR})*")
    |(?P<iri><[^<>"{{}}|^`\\\x00-\x20]*>)
    |(?P<var>[?$][{_CHARS_U}0-9][{_CHARS_U}0-9\u00b7\u0300-\u036f\u203f-\u2040]*)
    |(?P<lang>@[a-zA-Z]{{1,8}}(?:-[a-zA-Z0-9]{{1,8}})*(?![A-Za-z0-9-]))
    |(?P<bnode>_:[{_CHARS_U}0-9](?:[{_CHARS}.]*[{_CHARS}])?)
    |(?P<pname>(?P<prefix>{_PREFIX})?:(?P<local>{_LOCAL})?)
    |(?P<number>(?:[0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)[eE][+-]?[0-9]+|[0-9]*\.[0-9]+|[0-9]+)
    |(?P<word>[A-Za-z_][A-Za-z0-9_]*)
    |(?P<mark>\^\^|\|\||&&|!=|<=|>=|[{{}}()\[\];,.*/+\-!=<>|^?])
    """,
    re.VERBOSE,
)
"""The SPARQL terminals, as strictly as oxigraph reads them.

Unlike ``_TOKEN`` it has no catch-all: a character that starts no terminal is
refused. Strings take only the escapes ``\\t \\b \\n \\r \\f \\" \\' \\\\`` (no
``\\u``: rdflib replaces those before parsing, oxigraph inside strings only), IRIs
take no escapes at all.
"""
OX_LOCAL = re.compile(
    rf"(?:[{_CHARS_U}:0-9]|{_PLX})(?:[{_CHARS}:]|{_PLX})*(?:\.+(?:[{_CHARS}:]|{_PLX})+)?"
)
"""The local part of a prefixed name as oxigraph 0.5 reads it: one run of dots at most."""
