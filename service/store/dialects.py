"""What differs between SPARQL servers, one class per server (as Skosmos does).

The remote store (``service.store.remote``) speaks plain SPARQL 1.1 Query, Update and
the Graph Store Protocol; everything a particular server does differently lives here
and only here, so a reader finds a store's quirks in one place and the rest of the
service sees standard answers. ``Generic`` is SPARQL 1.1 as written; ``Oxigraph`` and
``Virtuoso`` are tested against real processes (tests/service/test_remote_store.py,
tests/service/test_virtuoso.py). The dialect is chosen by ``KOMMUNEGRAF_STORE_DIALECT``
or, by default, from the ``Server`` header of the store's first answer.

What this layer does for each server:

- ``write_graph`` writes a graph's triples in updates the server accepts (all in *one*
  request, so a replacement stays all or nothing);
- ``answer`` turns a server's own answer format into the standard one;
- ``system_graphs`` are graphs the server keeps for itself, which are not data.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import ClassVar

from rdflib import BNode, Graph
from rdflib.term import Node

from service.settings import SettingsError
from service.store.embedded import safe_ntriples

SPARQL_RESULTS = "http://www.w3.org/2005/sparql-results#"


class Dialect:
    """SPARQL 1.1 as the recommendations write it: the default for unknown servers."""

    name: ClassVar[str] = "generic"
    system_graphs: ClassVar[tuple[str, ...]] = ()
    """Graphs the server keeps for its own use; never data, never dropped by kommunegraf."""
    system_graph_prefixes: ClassVar[tuple[str, ...]] = ()

    def write_graph(self, graph_iri: str, data: Graph) -> str:
        """Update operations (no trailing ``;``) that add ``data`` to ``graph_iri``."""
        return f"INSERT DATA {{ GRAPH <{graph_iri}> {{\n{safe_ntriples(data)}\n}} }}"

    def replace_graph(self, graph_iri: str, data: Graph) -> str:
        """One update request that makes ``data`` the whole of ``graph_iri``."""
        return f"DROP SILENT GRAPH <{graph_iri}> ;\n" + self.write_graph(graph_iri, data)

    def answer(self, form: str | None, media: str | None, body: bytes) -> bytes:
        """The answer as SPARQL 1.1 writes it (a standard server's bytes are kept)."""
        return body

    def data_graph_filter(self, variable: str = "?g") -> str:
        """A FILTER keeping ``variable`` to graphs that hold data (not the server's own)."""
        tests = [f"{variable} != <{graph}>" for graph in self.system_graphs]
        tests += [
            f'!STRSTARTS(STR({variable}), "{prefix}")' for prefix in self.system_graph_prefixes
        ]
        return f"FILTER ({' && '.join(tests)})" if tests else ""

    def any_quad(self) -> str:
        """ASK whether the store holds any data at all (a first start when not)."""
        if not (self.system_graphs or self.system_graph_prefixes):
            return "ASK { { GRAPH ?g { ?s ?p ?o } } UNION { ?s ?p ?o } }"
        return f"ASK {{ GRAPH ?g {{ ?s ?p ?o }} {self.data_graph_filter()} }}"


class Oxigraph(Dialect):
    """``oxigraph serve`` (0.4, 0.5): standard SPARQL 1.1 answers and updates.

    What differs is configuration, not dialect: it needs ``--union-default-graph``, and
    with it refuses ``USING`` in updates (docs/remote-store.md).
    """

    name = "oxigraph"


_VIRTUOSO_CHUNK = 2000
"""Triples per ``INSERT DATA`` operation. Virtuoso 7's SPARQL parser runs out of stack
("SP030: memory exhausted") near 5,000 triples in one operation; many operations in one
request are fine (60,000 triples in 2,000-triple operations tested)."""


class Virtuoso(Dialect):
    """OpenLink Virtuoso 7 (Debian's ``virtuoso-opensource-7-bin``, 7.2.5).

    - ASK answers in JSON and XML are a table with one variable ``__ASK_RETVAL``: one row
      holding 1 for true, no row for false. Turned into the standard boolean here.
    - ``INSERT DATA`` refuses blank nodes ("SP031: Blank node is not allowed in a
      constant clause") and more than about 5,000 triples: the triples are split into
      operations of ``_VIRTUOSO_CHUNK``, the blank-node ones written as
      ``INSERT { … } WHERE { }`` with every triple of one blank node in the same
      operation (a template's blank node is new in each operation). All operations go
      in one request, which Virtuoso commits as one transaction.
    - It keeps graphs of its own (``virtrdf:``, LDP, the endpoint's description); the
      default graph of a query is the union of *all* graphs, these included.
    - Language tags come back in lower case (``"Hei"@nb-no`` for ``@nb-NO``); BCP 47 tags
      are case-insensitive, so ``langMatches`` and ``lang() = "nb"`` are unaffected.
    - ``GROUP_CONCAT`` of a group without values is ``""`` where the embedded store
      leaves it unbound. Not translated here: ``IF(COUNT(?x) > 0, GROUP_CONCAT(…), …)``
      makes Virtuoso 7.2.5's SQL compiler fail ("SQ156: Internal Optimized compiler
      error … sqlo_place_exp"); the canned queries join in a grouped subquery instead and
      leave an empty join unbound outside it.
    - Its JSON results write an ``xsd:boolean`` as ``1``/``0``: written ``true``/``false``.
      (A boolean *computed* in a query, ``EXISTS`` bound to a variable, is an
      ``xsd:integer`` there; the canned queries write such a value with ``STRDT``.)
    """

    name = "virtuoso"
    system_graphs = ("http://www.w3.org/ns/ldp#", "http://localuriqaserver/sparql")
    system_graph_prefixes = ("http://www.openlinksw.com/",)

    def write_graph(self, graph_iri: str, data: Graph) -> str:
        operations = []
        plain, blank = _split_blank(data)
        for chunk in _chunks(plain, _VIRTUOSO_CHUNK):
            operations.append(
                f"INSERT DATA {{ GRAPH <{graph_iri}> {{\n{safe_ntriples(chunk)}\n}} }}"
            )
        for chunk in _chunks(blank, _VIRTUOSO_CHUNK):
            operations.append(
                f"INSERT {{ GRAPH <{graph_iri}> {{\n{safe_ntriples(chunk)}\n}} }} WHERE {{ }}"
            )
        return " ;\n".join(operations) or f"CREATE SILENT GRAPH <{graph_iri}>"

    def answer(self, form: str | None, media: str | None, body: bytes) -> bytes:
        if form == "SELECT" and media in _JSON_RESULTS and _BOOLEAN.encode() in body:
            return _standard_booleans(body)
        if form != "ASK" or media is None:
            return body
        if media in _JSON_RESULTS:
            try:
                document = json.loads(body)
                rows = document["results"]["bindings"]
            except (ValueError, KeyError, TypeError):
                return body
            truth = any(str(row.get("__ASK_RETVAL", {}).get("value")) == "1" for row in rows)
            return json.dumps({"head": {}, "boolean": truth}).encode()
        if media in {"application/sparql-results+xml", "application/xml", "text/xml"}:
            if b"__ASK_RETVAL" not in body:
                return body
            truth = bool(re.search(rb"<literal[^>]*>\s*1\s*</literal>", body))
            return (
                f'<?xml version="1.0"?>\n<sparql xmlns="{SPARQL_RESULTS}"><head/>'
                f"<boolean>{'true' if truth else 'false'}</boolean></sparql>\n"
            ).encode()
        return body


_JSON_RESULTS = frozenset({"application/sparql-results+json", "application/json"})
_BOOLEAN = "http://www.w3.org/2001/XMLSchema#boolean"
_BOOLEAN_VALUES = {"1": "true", "0": "false"}


def _standard_booleans(body: bytes) -> bytes:
    """Virtuoso's JSON results write an ``xsd:boolean`` value as ``1``/``0`` (its XML
    results write ``true``/``false``): written as the canonical ``true``/``false``.

    >>> term = b'{"datatype": "' + _BOOLEAN.encode() + b'", "value": "1"}'
    >>> _standard_booleans(b'{"results": {"bindings": [{"b": ' + term + b'}]}}')
    ... # doctest: +ELLIPSIS
    b'...: "true"}}]}}'
    """
    try:
        document = json.loads(body)
        rows = document["results"]["bindings"]
    except (ValueError, KeyError, TypeError):
        return body
    for row in rows:
        for term in row.values():
            if term.get("datatype") == _BOOLEAN and term.get("value") in _BOOLEAN_VALUES:
                term["value"] = _BOOLEAN_VALUES[term["value"]]
    return json.dumps(document, ensure_ascii=False).encode()


def _split_blank(
    data: Graph,
) -> tuple[list[tuple[Node, Node, Node]], list[list[tuple[Node, Node, Node]]]]:
    """The triples without blank nodes, and the others grouped so that each group holds
    every triple of the blank nodes it mentions (connected through shared blank nodes)."""
    plain: list[tuple[Node, Node, Node]] = []
    parent: dict[Node, Node] = {}

    def root(node: Node) -> Node:
        while parent.setdefault(node, node) != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    blank_triples = []
    for s, p, o in data:
        blanks = [term for term in (s, o) if isinstance(term, BNode)]
        if not blanks:
            plain.append((s, p, o))
            continue
        blank_triples.append((s, p, o))
        first = root(blanks[0])
        for other in blanks[1:]:
            parent[root(other)] = first
    groups: dict[Node, list[tuple[Node, Node, Node]]] = {}
    for s, p, o in blank_triples:
        key = root(s if isinstance(s, BNode) else o)
        groups.setdefault(key, []).append((s, p, o))
    return plain, list(groups.values())


Triple = tuple[Node, Node, Node]


def _chunks(items: Iterable[Triple | list[Triple]], size: int) -> Iterator[Graph]:
    """Graphs of at most ``size`` triples; a group (a list of triples) is never split,
    so one larger than ``size`` makes a chunk of its own."""
    chunk = Graph()
    for item in items:
        triples: list[Triple] = item if isinstance(item, list) else [item]
        if len(chunk) and len(chunk) + len(triples) > size:
            yield chunk
            chunk = Graph()
        for triple in triples:
            chunk.add(triple)
    if len(chunk):
        yield chunk


DIALECTS: dict[str, type[Dialect]] = {d.name: d for d in (Dialect, Oxigraph, Virtuoso)}
"""Every dialect by the name ``KOMMUNEGRAF_STORE_DIALECT`` takes."""


def is_system_graph(iri: str) -> bool:
    """Whether ``iri`` names a graph some server keeps for itself (never kommunegraf data).

    >>> is_system_graph("http://www.openlinksw.com/schemas/virtrdf#"), is_system_graph("urn:x")
    (True, False)
    """
    return any(
        iri in dialect.system_graphs or iri.startswith(dialect.system_graph_prefixes)
        for dialect in DIALECTS.values()
    )


def named(name: str) -> Dialect | None:
    """The dialect called ``name``; ``None`` for "auto" (read from the server)."""
    if name == "auto":
        return None
    try:
        return DIALECTS[name]()
    except KeyError:
        raise SettingsError(
            f"KOMMUNEGRAF_STORE_DIALECT: {name!r} er ukjent (unknown); "
            f"velg / choose auto, {', '.join(DIALECTS)}",
            "store_dialect",
        ) from None


def detect(server_header: str | None) -> Dialect:
    """The dialect for a server that introduced itself with ``server_header``.

    >>> detect("Virtuoso/07.20.3229 (Linux) x86_64-pc-linux-gnu").name
    'virtuoso'
    >>> detect("Oxigraph/0.5.2").name, detect(None).name
    ('oxigraph', 'generic')
    """
    header = (server_header or "").lower()
    if header.startswith("virtuoso"):
        return Virtuoso()
    if header.startswith("oxigraph"):
        return Oxigraph()
    return Dialect()
