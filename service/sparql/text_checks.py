r"""Reading user SPARQL before it runs: SERVICE and LOAD targets, and USING clauses.

Why this exists: SERVICE (in queries and updates) and LOAD (in updates) make the
server fetch a URL of the client's choosing, which would turn the endpoint into a
tool for reaching hosts behind our firewall (server-side request forgery). Only
IRIs under a prefix in ``Settings.service_allow`` may be reached.

Why it is careful: a plain search for the word misses ``service`` in lower case and
refuses the word inside a string; worse, oxigraph's parser needs no space around
keywords (``SERVICESILENT<http://…>{…}`` and ``SERVICEex:x {…}`` both run), so a
tokenizer that splits on word boundaries can be fooled. The check therefore has
two steps:

1. A tokenizer that follows the SPARQL grammar's terminals sets apart what can
   never be a keyword: string literals, comments, variables, language tags and the
   local part of prefixed names (``kg:StatutoryService``). If no other token
   (keywords, prefixes of prefixed names, IRIs, anything else) contains the
   letters "service" (or "load" in an update), there is no SERVICE or LOAD. This
   is the fast path almost every query takes.
2. Otherwise rdflib's SPARQL parser builds the parse tree, and every
   ServiceGraphPattern and Load in it is checked. A text rdflib cannot parse is
   refused rather than guessed at.

The SPARQL specification says ``\uXXXX`` escapes are replaced before parsing, which
Jena and rdflib do and oxigraph does not (outside strings and IRIs). A text with
escapes could therefore hide a SERVICE from one reading and not the other, so both
readings are checked, and the request must pass both.

>>> find_remote_targets('SELECT * { ?s ?p "SERVICE <http://x>" }', update=False, base="http://b/")
[]
>>> find_remote_targets("ASK { service silent <http://x/> {} }", update=False, base="http://b/")
['http://x/']
>>> find_remote_targets("ASK { SERVICE ?where {} }", update=False, base="http://b/")
[None]
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

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
_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")
_PARSING = threading.Lock()
"""rdflib's parser (pyparsing) is not thread-safe: two threads parsing at once fail
with errors like "postParse2() missing 1 required positional argument"."""
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
    if not IRI.fullmatch(text):
        return False
    try:
        ox.NamedNode(text)
    except ValueError:
        return False
    return True


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


def expand_escapes(text: str) -> str:
    r"""Replace ``\uXXXX`` and ``\UXXXXXXXX`` everywhere, as the specification says.

    >>> expand_escapes(r"\u0053ERVICE")
    'SERVICE'
    """

    def expand(match: re.Match[str]) -> str:
        code = int(match.group(1) or match.group(2), 16)
        return chr(code) if code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else match.group()

    return _ESCAPE.sub(expand, text)


_NEVER_KEYWORDS = {"ws", "comment", "string", "var", "lang", "number"}


def _mentions(text: str, words: Sequence[str]) -> bool:
    """True if a token that could hold a keyword contains one of ``words``."""
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup
        if kind in _NEVER_KEYWORDS:
            continue
        # Only the prefix of a prefixed name can hide a keyword: oxigraph reads
        # "SERVICEex:x" as SERVICE ex:x, but never reads a keyword after the colon.
        checked = (match.group("prefix") or "") if kind == "pname" else match.group()
        lowered = checked.lower()
        if any(word in lowered for word in words):
            return True
    return False


def _readings(text: str) -> list[str]:
    expanded = expand_escapes(text)
    return [text] if expanded == text else [text, expanded]


MAX_NESTING = 128
"""Deepest nesting of { }, ( ) and [ ] a query or update may have.

oxigraph's SPARQL parser recurses once per level and overflows its native stack
between about 2,000 and 10,000 levels: a segmentation fault, not an error. In a
query worker that costs a worker; an update runs in the server process and would
take the whole service down. Real queries nest a dozen levels at most.
"""


def too_deeply_nested(text: str) -> bool:
    """Whether brackets outside strings, IRIs and comments nest deeper than MAX_NESTING.

    >>> too_deeply_nested("SELECT * { " * 200 + "}" * 200)
    True
    >>> too_deeply_nested('SELECT * { ?s ?p "' + "{" * 500 + '" }')
    False
    """
    if sum(text.count(bracket) for bracket in "{([") <= MAX_NESTING:
        return False  # the fast path: too few brackets to nest that deep
    depth = 0
    for match in _TOKEN.finditer(text):
        # IRIs count too: the tokenizer can read "<" as an IRI where oxigraph reads
        # less-than (see the module docstring), and their brackets then matter.
        if match.lastgroup not in ("other", "iri"):
            continue
        for character in match.group():
            if character in "{([":
                depth += 1
                if depth > MAX_NESTING:
                    return True
            elif character in "})]":
                depth -= 1
    return False


class UncheckableError(ValueError):
    """The text mentions SERVICE or LOAD, and rdflib's parser cannot read it."""


def may_reach_out(text: str, *, update: bool) -> bool:
    """Whether the text may contain SERVICE (or LOAD): cheap, and never wrong when False."""
    lowered = text.lower()
    words = ("service", "load") if update else ("service",)
    if "\\u" not in lowered and not any(word in lowered for word in words):
        return False
    return any(_mentions(reading, words) for reading in _readings(text))


def find_remote_targets(text: str, *, update: bool, base: str) -> list[str | None]:
    """The IRIs that SERVICE and LOAD in ``text`` would fetch; None for a variable.

    Raises UncheckableError when the text needs parsing and rdflib cannot parse it.
    Parsing takes milliseconds, so callers run this in a thread.
    """
    if not may_reach_out(text, update=update):
        return []
    targets: list[str | None] = []
    for index, reading in enumerate(_readings(text)):
        targets.extend(_parsed_targets(reading, update=update, base=base, expanded=index > 0))
    return targets


def _parsed_targets(text: str, *, update: bool, base: str, expanded: bool) -> list[str | None]:
    from rdflib.plugins.sparql import parser
    from rdflib.plugins.sparql.algebra import translatePName, translatePrologue, traverse

    try:
        with _PARSING:
            if update:
                tree = parser.UpdateUnit.parse_string(text, parse_all=True)[0]
                pairs = list(zip(tree.prologue or [], tree.request or [], strict=False))
            else:
                parsed = parser.Query.parse_string(text, parse_all=True)
                pairs = [(parsed[0], parsed[1])]
        found: list[Any] = []
        prologue = None
        for prologue_part, operation in pairs:
            prologue = translatePrologue(prologue_part, base, None, prologue)
            resolved = traverse(operation, visitPost=partial(translatePName, prologue=prologue))
            _collect(resolved, found)
    except Exception as error:
        reading = " (med \\u-kodene utvidet / with \\u escapes expanded)" if expanded else ""
        raise UncheckableError(f"{type(error).__name__}: {error}{reading}") from None
    return [_target(node) for node in found]


def _collect(node: Any, found: list[Any]) -> None:
    from pyparsing import ParseResults
    from rdflib.plugins.sparql.parserutils import CompValue

    if isinstance(node, CompValue):
        if node.name == "ServiceGraphPattern":
            found.append(node.get("term"))
        elif node.name == "Load":
            found.append(node.get("iri"))
        for value in node.values():
            _collect(value, found)
    elif isinstance(node, list | tuple | ParseResults):
        for item in node:
            _collect(item, found)


def _target(term: Any) -> str | None:
    from rdflib import URIRef

    return str(term) if isinstance(term, URIRef) else None


def is_allowed(iri: str, allow: Sequence[str]) -> bool:
    """Whether ``iri`` lies under one of the allowed prefixes.

    The prefix must end where a path, query or fragment starts, so an allowed
    ``https://data.norge.no`` does not let ``https://data.norge.no.evil.example/``
    or ``https://data.norge.no@evil.example/`` through.

    >>> is_allowed("https://data.norge.no/sparql", ["https://data.norge.no"])
    True
    >>> is_allowed("https://data.norge.no.evil.example/", ["https://data.norge.no"])
    False
    """
    for prefix in allow:
        if not prefix or not iri.startswith(prefix):
            continue
        rest = iri[len(prefix) :]
        if prefix.endswith(("/", "#", "?", "&", "=")) or not rest or rest[0] in "/?#":
            return True
    return False


class DatasetConflictError(ValueError):
    """using-graph-uri/using-named-graph-uri given for an update that has USING or WITH."""


def with_dataset(update: str, using: Sequence[str], using_named: Sequence[str]) -> str:
    """Apply the protocol's using-graph-uri and using-named-graph-uri to an update.

    The protocol defines them as USING and USING NAMED clauses on every operation
    with a WHERE, so that is what they become: the clauses are written in before
    each top-level WHERE; a ``DELETE WHERE { P }``, which cannot take USING, is
    written as the equivalent ``DELETE { P } USING … WHERE { P }``. The graph IRIs
    must match ``IRI`` (checked by the caller), so they cannot break out of <…>.

    >>> with_dataset("INSERT { ?s a <C> } WHERE { ?s ?p ?o }", ["http://g"], [])
    'INSERT { ?s a <C> }  USING <http://g> WHERE { ?s ?p ?o }'
    >>> with_dataset("DELETE WHERE { ?s ?p ?o }", [], ["http://n"])
    'DELETE { ?s ?p ?o }  USING NAMED <http://n> WHERE { ?s ?p ?o }'
    """
    if not using and not using_named:
        return update
    clause = "".join(f" USING <{g}>" for g in using)
    clause += "".join(f" USING NAMED <{g}>" for g in using_named)
    significant = [t for t in tokens(update) if t.kind not in ("ws", "comment")]
    edits: list[tuple[int, int, str]] = []
    depth = 0
    previous: str | None = None
    for index, token in enumerate(significant):
        if token.text == "{":
            depth += 1
        elif token.text == "}":
            depth -= 1
        elif depth == 0 and token.kind == "word":
            word = token.text.upper()
            if word in ("USING", "WITH"):
                raise DatasetConflictError(word)
            if word == "WHERE" and previous == "DELETE":
                end = _group_end(significant, index + 1)
                if end is not None:
                    pattern = update[significant[index + 1].start : end]
                    edits.append((token.start, end, f"{pattern} {clause} WHERE {pattern}"))
            elif word == "WHERE":
                edits.append((token.start, token.start, f"{clause} "))
        previous = token.text.upper() if depth == 0 and token.kind == "word" else None
    for start, end, text in reversed(edits):
        update = update[:start] + text + update[end:]
    return update


def _group_end(significant: list[Token], opening: int) -> int | None:
    """The end offset of the { … } group whose "{" is ``significant[opening]``."""
    if opening >= len(significant) or significant[opening].text != "{":
        return None
    depth = 0
    for token in significant[opening:]:
        if token.text == "{":
            depth += 1
        elif token.text == "}":
            depth -= 1
            if depth == 0:
                return token.end
    return None
