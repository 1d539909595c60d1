r"""Reading user SPARQL before it runs: one strict reading that is checked and run.

Why this exists: SERVICE (in queries and updates) and LOAD (in updates) make the
server fetch a URL of the client's choosing, which would turn the endpoint into a
tool for reaching hosts behind our firewall (server-side request forgery); only
IRIs under a prefix in ``Settings.service_allow`` may be reached. Updates must
stay within the writer's scope (``service.write_scope``). And some texts crash
oxigraph's parser or evaluator (a segmentation fault, not an error).

Why it is one reading: the checks used to read the client's text with rdflib's
grammar while oxigraph ran the same text with its own, and wherever the two lexers
disagree (a ``#`` comment ends at a bare carriage return for oxigraph but not for
rdflib; oxigraph reads keywords without a word boundary, so ``SERVICEex:x`` is
``SERVICE ex:x`` to it and a prefixed name to rdflib; ``\uXXXX`` escapes) text
reached the executor that no check saw. Now ``check_text`` reads the text once
with a strict tokenizer that refuses every character and escape the readers could
disagree on, and writes a new text from its tokens: no comments, no prologue, only
exact keywords, every IRI absolute. SERVICE and LOAD targets are read from those
tokens; the write-scope check parses that new text; the executor runs that new
text. See docs/security.md.

>>> check_text('SELECT * { ?s ?p "SERVICE <http://x>" }', update=False, base="http://b/",
...            allow=[]).targets
()
>>> check_text("ASK { service silent <http://x/> {} }", update=False, base="http://b/",
...            allow=["http://x/"]).targets
('http://x/',)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from service.errors import ServiceError
from service.sparql.lexer import EXACT_WORDS, KEYWORDS, OX_LOCAL, STRICT, is_absolute_iri

# -- the one reading that is checked and run ------------------------------------

MAX_NESTING = 128
"""Deepest nesting of { }, ( ) and [ ] a query or update may have.

oxigraph's SPARQL parser recurses once per level and overflows its native stack
between about 2,000 and 10,000 levels: a segmentation fault, not an error. Real
queries nest a dozen levels at most.
"""

MAX_OPERATORS = 1000
"""Most operators that deepen oxigraph's trees a query or update may hold.

A flat chain of ``MINUS {}``, ``BIND``, ``UNION``, ``OPTIONAL``, ``FILTER``, ``||``,
``&&``, ``+``, ``*``, ``!``, ``|`` or ``/`` becomes a tree as deep as the chain is
long, and oxigraph's optimiser and evaluator recurse over it: measured with
pyoxigraph 0.5 on an 8 MB thread stack, 2,500 ``MINUS {}`` or ``BIND`` run and 3,000
crash the process; the other chains crash between 5,000 and 20,000. Real queries
hold a few dozen. What sits in ``INSERT DATA``, ``DELETE DATA`` and ``VALUES``
blocks is flat (100,000 triples or rows run) and is not counted.
"""

_DEEPENING_WORDS = frozenset(
    {"UNION", "OPTIONAL", "MINUS", "FILTER", "BIND", "EXISTS", "SERVICE", "GRAPH", "VALUES"}
    | {"SELECT", "LATERAL"}
)
_DEEPENING_MARKS = frozenset({"||", "&&", "+", "-", "*", "/", "|", "^", "!", "{"})

_FORBIDDEN = re.compile(
    "[\x00-\x08\x0b\x0c\x0d\x0e-\x1f\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff\ud800-\udfff]"
)
"""Characters refused anywhere, strings included.

Control characters (C0 but tab and line feed, DEL, C1 with U+0085), a carriage
return not followed by a line feed, the Unicode line and paragraph separators, the
byte-order mark, noncharacters and lone surrogates: readers disagree on whether
they end a comment or a line (oxigraph ends a ``#`` comment at a bare carriage
return, rdflib does not), and no query needs them.
"""

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
_FLAT_OPENERS = frozenset({"DATA", "VALUES"})


class RefusedTextError(ServiceError, ValueError):
    """A query or update that is refused before any parser runs it, and why (nb, en)."""

    def __init__(self, status: int, nb: str, en: str, detail: str = "") -> None:
        if status == 400 and not en.startswith("Malformed SPARQL"):
            # The words clients and tests know a syntax error by.
            nb, en = f"Ugyldig SPARQL: {nb}", f"Malformed SPARQL: {en}"
        super().__init__(status, nb, en, detail)

    def __str__(self) -> str:
        return f"{self.en} {self.detail}".strip()


@dataclass(frozen=True)
class CheckedText:
    """A query or update as it will run, and what it would fetch.

    ``text`` is written anew from the tokens: no comments, no prologue, every IRI
    absolute between ``<`` and ``>`` (prefixed names and relative IRIs resolved
    here), one space or line break between tokens. The executor runs exactly this
    text and every later check reads exactly it, so no two readers of the client's
    own text need agree.
    """

    text: str
    targets: tuple[str, ...] = ()
    """IRIs SERVICE and LOAD would fetch, in order (all on the allow-list)."""
    operators: int = 0
    """Operators that deepen oxigraph's trees (see MAX_OPERATORS)."""
    graphs: tuple[str, ...] = ()
    """Every graph IRI the text names where a graph goes (after GRAPH, WITH, INTO, TO,
    USING, NAMED, FROM, CLEAR, DROP, CREATE, ADD, MOVE, COPY): read from the tokens,
    so a scope check on them needs no parser to agree with the store's."""
    volatile: bool = False
    """Whether the text calls a function whose value is new at each run (``VOLATILE``):
    its answer must not be reused (``service.store.answers``)."""


def _where(text: str, offset: int) -> str:
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return f"{line}:{column}"


def _resolve(reference: str, base: str) -> str:
    """``reference`` made absolute against ``base`` (RFC 3986, as ``urljoin`` does)."""
    if _SCHEME.match(reference):
        return reference
    from urllib.parse import urljoin

    return urljoin(base, reference)


def _unreadable(text: str, position: int) -> RefusedTextError:
    shown = text[position : position + 20]
    return RefusedTextError(
        400,
        f"Teksten kan ikke leses ved {_where(text, position)}.",
        f"The text cannot be read at {_where(text, position)}.",
        f"{shown!r}: skriv IRI-er uten \\-koder og mellomrom, strenger bare med "
        "\\t \\b \\n \\r \\f \\\" \\' \\\\ / write IRIs without \\ escapes or spaces, "
        "strings with only those escapes",
    )


def check_text(text: str, *, update: bool, base: str, allow: Sequence[str]) -> CheckedText:
    r"""Read ``text`` once, strictly, and write the one text that is checked and run.

    Raises RefusedTextError (400 for what cannot be read or is too deep, 403 for SERVICE
    or LOAD outside ``allow``). Why it is safe to check this text without a parser:
    its words are only exact keywords, prefixed names are gone (a prefix can hide
    a keyword from one reader: oxigraph reads ``SERVICEex:x`` as ``SERVICE ex:x``,
    and a prefixed name whose IRI is invalid as a shorter name and more text), and
    without prefixes the inside of an IRI cannot be read as an expression after a
    ``<``. So a SERVICE or LOAD oxigraph could see is a ``SERVICE`` or ``LOAD`` word
    here, and the IRI after it is the one it would fetch.

    >>> check_text("select * # SERVICE <http://x/>\n{ ?s a ?o }", update=False,
    ...            base="http://b/", allow=[]).text
    'select *\n{ ?s a ?o }'
    >>> check_text("PREFIX e: <e/> ASK { e:x e:y 1 }", update=False, base="http://b/",
    ...            allow=[]).text
    'ASK { <http://b/e/x> <http://b/e/y> 1 }'
    >>> check_text("ASK { SERVICE ?x {} }", update=False, base="http://b/", allow=[])
    ... # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    service.sparql.text_checks.RefusedTextError: SERVICE and LOAD may only fetch ...
    """
    text = text.replace("\r\n", "\n")
    bad = _FORBIDDEN.search(text)
    if bad is not None:
        code = f"U+{ord(bad.group()):04X}"
        raise RefusedTextError(
            400,
            f"Teksten har et tegn som ikke godtas ({code}) ved {_where(text, bad.start())}.",
            f"The text has a character that is not accepted ({code}) at "
            f"{_where(text, bad.start())}.",
            "Kontrolltegn, CR uten LF, U+2028/U+2029 og BOM godtas ikke / control "
            "characters, CR without LF, U+2028/U+2029 and BOM are refused",
        )
    prefixes: dict[str, str] = {}
    current_base = base
    out: list[str] = []
    significant: list[tuple[str, str]] = []  # (kind, value) of each token written
    last_kind = last_value = ""
    gap: str | None = ""  # whitespace seen since the last token: None = none at all
    pending: list[str] = []  # PREFIX or BASE being read: [keyword, (prefix)]
    fetches = names_graphs = False  # a SERVICE or LOAD word; a word a graph follows
    volatile = False  # a call of a function new at every run (VOLATILE)
    # Every token must start where the one before ended: ``finditer`` tries each place
    # first as ``STRICT.match`` would, so a token found further on means the text at
    # ``position`` starts no terminal (no terminal matches the empty string).
    position = 0
    for match in STRICT.finditer(text):
        if match.start() != position:
            raise _unreadable(text, position)
        position = match.end()
        kind = match.lastgroup or ""
        if kind == "ws":
            if gap != "\n":
                gap = "\n" if "\n" in match.group() else " "
            continue
        if kind == "comment":
            gap = gap or " "
            continue
        if kind == "prefix" or kind == "local":
            kind = "pname"
        value = match.group()
        if kind == "word":
            upper = value.upper()
            fetches = fetches or upper in _FETCH_WORDS
            names_graphs = names_graphs or upper in _GRAPH_WORDS
            volatile = volatile or upper in VOLATILE
            if upper not in KEYWORDS and value not in EXACT_WORDS:
                raise RefusedTextError(
                    400,
                    f"«{value[:40]}» ved {_where(text, match.start())} er ikke et SPARQL-ord.",
                    f"'{value[:40]}' at {_where(text, match.start())} is not a SPARQL keyword.",
                    "Skriv nøkkelord hver for seg / write keywords apart",
                )
            if (upper == "PREFIX" or upper == "BASE") and not pending:
                pending = [upper]
                continue
        if pending:
            if pending[0] == "PREFIX" and len(pending) == 1:
                if kind != "pname" or match.group("local"):
                    raise _prologue_refusal(text, match.start())
                pending.append(match.group("prefix") or "")
                continue
            if kind != "iri":
                raise _prologue_refusal(text, match.start())
            iri = _resolve(value[1:-1], current_base)
            if not is_absolute_iri(iri):
                raise _iri_refusal(text, match.start(), value)
            if pending[0] == "BASE":
                current_base = iri
            else:
                prefixes[pending[1]] = iri
            pending = []
            continue
        if kind == "iri":
            iri = _resolve(value[1:-1], current_base)
            if not is_absolute_iri(iri):
                raise _iri_refusal(text, match.start(), value)
            value = f"<{iri}>"
        elif kind == "pname":
            value = _expanded(text, match, prefixes)
            kind = "iri"
        if out:
            glued = gap is None and (
                (last_kind == "mark" and last_value in "+-" and kind == "number")
                or (last_kind == "string" and kind in ("lang", "mark") and value in ("^^",))
                or (last_kind == "string" and kind == "lang")
                # oxigraph 0.5 reads "COALESCE(" but not "COALESCE (" (nor CONCAT):
                # a function's name stays glued to its bracket as it was written.
                or (last_kind == "word" and value == "(")
            )
            if not glued:
                out.append(gap or " ")
        out.append(value)
        significant.append((kind, value))
        last_kind, last_value = kind, value
        gap = None
    if position != len(text):
        raise _unreadable(text, position)
    if pending:
        raise _prologue_refusal(text, len(text))
    operators = _budget(significant)
    # Both readings look only at the words noted above: without one, they find nothing.
    targets = _remote_targets(significant, allow) if fetches else []
    graphs = _graph_names(significant) if names_graphs else ()
    return CheckedText("".join(out), tuple(targets), operators, graphs, volatile)


_FETCH_WORDS = frozenset({"SERVICE", "LOAD"})


VOLATILE = frozenset({"NOW", "RAND", "UUID", "STRUUID", "BNODE"})
"""Functions whose value is new at every run: NOW is the time of the query's execution,
RAND, UUID and STRUUID fresh values per call (SPARQL 1.1 §17.4), and BNODE a node
distinct from those of any other call. An answer of a text that calls one is never
reused: the same text asked twice must show two times, two random numbers.

Read from the tokens ``check_text`` writes, as SERVICE is: a word of that text is an
exact keyword, and these words are nothing but the functions' names (a ``?now``, an
``ex:now``, a ``"NOW()"`` or a comment is not a word; ``now ( )`` is). Blank nodes in a
CONSTRUCT template or written ``[]``/``_:b`` are not volatile: they are fresh labels
only, whose names mean nothing outside one answer, so an answer that repeats them
says the same thing. BNODE() is counted anyway (it is rare, and an answer that is not
reused is never wrong)."""

_GRAPH_WORDS = frozenset(
    {"GRAPH", "WITH", "INTO", "TO", "USING", "NAMED", "FROM"}
    | {"CLEAR", "DROP", "CREATE", "ADD", "MOVE", "COPY"}
)


def _graph_names(significant: list[tuple[str, str]]) -> tuple[str, ...]:
    """The IRIs right after a word that a graph follows (SILENT and GRAPH skipped)."""
    names: list[str] = []
    for index, (kind, value) in enumerate(significant):
        if kind != "word" or value.upper() not in _GRAPH_WORDS:
            continue
        following = significant[index + 1 : index + 4]
        while (
            following
            and following[0][0] == "word"
            and following[0][1].upper()
            in (
                "SILENT",
                "GRAPH",
                "NAMED",
            )
        ):
            following = following[1:]
        if following and following[0][0] == "iri":
            names.append(following[0][1][1:-1])
    return tuple(dict.fromkeys(names))


def _prologue_refusal(text: str, offset: int) -> RefusedTextError:
    return RefusedTextError(
        400,
        f"PREFIX eller BASE ved {_where(text, offset)} er ikke skrevet riktig.",
        f"PREFIX or BASE at {_where(text, offset)} is not written correctly.",
        "PREFIX navn: <IRI> / BASE <IRI>",
    )


def _iri_refusal(text: str, offset: int, shown: str) -> RefusedTextError:
    return RefusedTextError(
        400,
        f"IRI-en ved {_where(text, offset)} er ikke en gyldig IRI.",
        f"The IRI at {_where(text, offset)} is not a valid IRI.",
        shown[:200],
    )


def _expanded(text: str, match: re.Match[str], prefixes: dict[str, str]) -> str:
    """A prefixed name as the IRI it stands for, between < and >."""
    prefix = match.group("prefix") or ""
    local = match.group("local") or ""
    if prefix not in prefixes:
        raise RefusedTextError(
            400,
            f"Prefikset «{prefix}:» ved {_where(text, match.start())} er ikke deklarert.",
            f"The prefix '{prefix}:' at {_where(text, match.start())} is not declared.",
        )
    if local and not OX_LOCAL.fullmatch(local):
        raise RefusedTextError(
            400,
            f"Navnet «{match.group()[:60]}» ved {_where(text, match.start())} har flere "
            "punktum-grupper; skriv hele IRI-en.",
            f"The name '{match.group()[:60]}' at {_where(text, match.start())} has more "
            "than one group of dots; write the whole IRI.",
        )
    iri = prefixes[prefix] + local.replace("\\", "")
    if not is_absolute_iri(iri):
        raise _iri_refusal(text, match.start(), match.group())
    return f"<{iri}>"


def _budget(significant: list[tuple[str, str]]) -> int:
    """Count the deepening operators; refuse past MAX_OPERATORS or MAX_NESTING."""
    operators = depth = 0
    flat_until: int | None = None  # the depth at which a DATA or VALUES block closes
    opener: str | None = None
    for kind, value in significant:
        word = value.upper() if kind == "word" else None
        if value in ("{", "(", "["):
            depth += 1
            if depth > MAX_NESTING:
                raise RefusedTextError(
                    400,
                    f"Teksten har klammer nøstet mer enn {MAX_NESTING} nivåer dypt.",
                    f"The text nests brackets more than {MAX_NESTING} levels deep.",
                )
            if value == "{" and opener is not None and flat_until is None:
                flat_until = depth
        elif value in ("}", ")", "]"):
            if flat_until is not None and value == "}" and depth == flat_until:
                flat_until = None
            depth -= 1
        if word in _FLAT_OPENERS:
            opener = word
        elif value == "{" or word is not None:
            opener = None
        if flat_until is not None:
            continue
        if (word in _DEEPENING_WORDS) or (kind == "mark" and value in _DEEPENING_MARKS):
            operators += 1
    if operators > MAX_OPERATORS:
        raise RefusedTextError(
            400,
            f"Teksten har {operators} operatorer (UNION, OPTIONAL, MINUS, FILTER, BIND, "
            f"||, &&, + …); høyst {MAX_OPERATORS} er tillatt.",
            f"The text has {operators} operators (UNION, OPTIONAL, MINUS, FILTER, BIND, "
            f"||, &&, + …); at most {MAX_OPERATORS} are allowed.",
            "Del den opp, eller bruk VALUES / split it, or use VALUES",
        )
    return operators


def _remote_targets(significant: list[tuple[str, str]], allow: Sequence[str]) -> list[str]:
    """The IRIs after each SERVICE and LOAD; refuses variables and IRIs not allowed."""
    targets: list[str] = []
    refused: list[str] = []
    for index, (kind, value) in enumerate(significant):
        if kind != "word" or value.upper() not in _FETCH_WORDS:
            continue
        following = significant[index + 1 : index + 3]
        if following and following[0][0] == "word" and following[0][1].upper() == "SILENT":
            following = following[1:]
        if following and following[0][0] == "iri":
            target = following[0][1][1:-1]
            (targets if is_allowed(target, allow) else refused).append(target)
        else:
            refused.append("?")
    if refused:
        shown = ", ".join("<variabel / variable>" if t == "?" else f"<{t}>" for t in refused)
        allowed = ", ".join(allow) or "(ingen / none)"
        raise RefusedTextError(
            403,
            "SERVICE og LOAD kan bare hente fra adresser som er tillatt "
            "(KOMMUNEGRAF_SERVICE_ALLOW); en variabel som adresse er aldri tillatt.",
            "SERVICE and LOAD may only fetch from allowed addresses "
            "(KOMMUNEGRAF_SERVICE_ALLOW); a variable as the address is never allowed.",
            f"Avvist / refused: {shown}\nTillatt / allowed: {allowed}",
        )
    return targets


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
