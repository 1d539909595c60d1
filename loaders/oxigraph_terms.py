"""rdflib terms as pyoxigraph terms: the loaders build rdflib graphs, the store is oxigraph.

One converter for every place that hands rdflib data to pyoxigraph (the compiled
SHACL checks, the catalogue exports), so a literal keeps its language or datatype
the same way everywhere.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable

import pyoxigraph as ox
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import XSD
from rdflib.term import Node

from loaders.graph_memo import GraphMemo

OxTerm = ox.NamedNode | ox.BlankNode | ox.Literal


def ox_term(node: Node) -> OxTerm:
    """The pyoxigraph term for an rdflib IRI, blank node or literal (ids and lexical forms kept).

    >>> ox_term(Literal("Bærum", lang="nb"))
    <Literal value=Bærum language=nb>
    """
    if isinstance(node, URIRef):
        return ox.NamedNode(str(node))
    if isinstance(node, BNode):
        return ox.BlankNode(str(node))
    if isinstance(node, Literal):
        if node.language:
            return ox.Literal(str(node), language=node.language)
        if node.datatype is not None:
            return ox.Literal(str(node), datatype=ox.NamedNode(str(node.datatype)))
        return ox.Literal(str(node))
    raise TypeError(f"not an RDF term: {node!r}")


_STRING = str(XSD.string)


def rdflib_terms() -> Callable[[OxTerm], Node]:
    """A converter of pyoxigraph terms to rdflib ones, each converted once: the inverse of
    ``ox_term``, with a plain ``xsd:string`` literal as rdflib's parsers give it (no
    datatype). Building rdflib graphs from pyoxigraph's parsers is about 2.5 times
    faster than rdflib's own parsers (0.4 against 1.0 s for the reference data)."""
    seen: dict[OxTerm, Node] = {}

    def convert(term: OxTerm) -> Node:
        found = seen.get(term)
        if found is None:
            if isinstance(term, ox.NamedNode):
                found = URIRef(term.value)
            elif isinstance(term, ox.BlankNode):
                found = BNode(term.value)
            elif term.language:
                found = Literal(term.value, lang=term.language)
            elif term.datatype.value == _STRING:
                found = Literal(term.value)
            else:
                found = Literal(term.value, datatype=URIRef(term.datatype.value))
            seen[term] = found
        return found

    return convert


Parsed = dict[Node, list[ox.Triple | ox.Quad] | None]
"""An rdflib IRI → the pyoxigraph triples about it that a graph was built from; None for
a subject whose triples are not kept (``_Twin``)."""

_TWINS: GraphMemo[Parsed] = GraphMemo(most=None)


class _Twin:
    """The pyoxigraph triples an rdflib graph is built from, by subject, kept beside it.

    The compiled SHACL checks read a referenced node's triples as pyoxigraph quads:
    converting the rdflib terms back term by term cost an upload's check 20 ms for the
    municipalities, services, applications and vendors it names (Oslo's, after the
    catalogue). Only subjects whose literals rdflib keeps as written are kept (a plain or
    language-tagged string): rdflib may rewrite a typed literal's lexical form
    (``"01"^^xsd:integer`` becomes ``"1"``), and the checks must see what rdflib holds.
    """

    def __init__(self) -> None:
        self.parsed: Parsed = {}

    def add(self, subject: Node, triple: ox.Triple | ox.Quad) -> None:
        if not isinstance(subject, URIRef):
            return
        found = self.parsed.get(subject, [])
        if found is None:
            return
        value = triple.object
        if (
            isinstance(value, ox.Literal)
            and value.language is None
            and value.datatype != _XSD_STRING
        ):
            self.parsed[subject] = None
        else:
            found.append(triple)
            self.parsed[subject] = found

    def keep(self, graph: Graph) -> Graph:
        """Remember the triples as ``graph``'s (``parsed_triples``), while it has as many."""
        _TWINS.put(graph, self.parsed)  # kept no longer than the graph
        return graph


_XSD_STRING = ox.NamedNode(str(XSD.string))


def parsed_triples(graph: Graph) -> Parsed | None:
    """The pyoxigraph triples ``graph`` was built from (``rdflib_graph``, the reference
    data), by subject; None when it was not built so, or has changed size since."""
    return _TWINS.get(graph)


def fresh_terms() -> Callable[[OxTerm], Node]:
    """``rdflib_terms`` with each blank node a fresh one, as rdflib's own parsers make them
    (the same label twice, the same node)."""
    term = rdflib_terms()
    blank: dict[ox.BlankNode, BNode] = {}

    def convert(node: OxTerm) -> Node:
        if isinstance(node, ox.BlankNode):
            found = blank.get(node)
            if found is None:
                found = blank[node] = BNode()
            return found
        return term(node)

    return convert


def rdflib_triples(triples: Iterable[ox.Triple | ox.Quad]) -> set[tuple[Node, Node, Node]]:
    """pyoxigraph's triples as a set of rdflib ones, converted as ``rdflib_graph`` does,
    without the graph: for triples compared as sets (an upload's changes), where rdflib's
    parser took 151 ms for Oslo's 4,384 and this 33.

    >>> len(rdflib_triples(ox.parse(b"<urn:s> <urn:p> _:b .\\n<urn:s> <urn:p> _:b .",
    ...     ox.RdfFormat.N_TRIPLES)))
    1
    """
    convert = fresh_terms()
    return {(convert(t.subject), convert(t.predicate), convert(t.object)) for t in triples}  # type: ignore[arg-type]


def rdflib_graph(triples: Iterable[ox.Triple | ox.Quad]) -> Graph:
    """pyoxigraph's triples (a parser's, a CONSTRUCT's) as an rdflib graph: each blank
    node a fresh one, as rdflib's own parsers make them, the rest as ``rdflib_terms``.

    Why: what the store or a checked source hands on as N-Triples was parsed again by
    rdflib's parser, in Python: the catalogue's 1,249 triples took 33 ms, this 19 ms
    (part of every upload's check, which reads the stored names this way).
    """
    convert = fresh_terms()
    graph = Graph()
    twin = _Twin()

    def kept(t: ox.Triple | ox.Quad) -> Node:
        subject = convert(t.subject)  # type: ignore[arg-type]
        twin.add(subject, t)
        return subject

    graph.addN((kept(t), convert(t.predicate), convert(t.object), graph) for t in triples)  # type: ignore[arg-type]
    return twin.keep(graph)


def parse_ntriples(data: bytes) -> Graph:
    """N-Triples as an rdflib graph, parsed by pyoxigraph (``rdflib_graph``).

    >>> len(parse_ntriples(b'<urn:s> <urn:p> "1"^^<http://www.w3.org/2001/XMLSchema#integer> .'))
    1
    """
    return rdflib_graph(ox.parse(data, ox.RdfFormat.N_TRIPLES))


Line = tuple[str, str, str]
"""A triple as its terms' N-Triples, as pyoxigraph writes them (``comparable_lines``)."""


def comparable_lines(triples: Iterable[ox.Triple | ox.Quad]) -> set[Line]:
    """``rdflib_triples`` as N-Triples terms (pyoxigraph's canonical writing of each), equal
    where the rdflib terms are equal: each blank node a fresh one (``fresh_terms``), a typed
    literal written with the lexical form rdflib rewrites it to (``"1"^^xsd:double`` as
    ``"1.0"``, ``"2027-07-31Z"^^xsd:date`` as ``"2027-07-31"``), so that ``line_text``
    reads what ``str`` of the rdflib term reads. Why: an upload's changes compared Oslo's
    4,400 triples a side as rdflib terms, each converted (30 ms a side) and hashed and
    compared in Python; strings are made in half the time and hash once
    (``loaders.changes.compare_lines``).

    >>> sorted(comparable_lines(ox.parse(
    ...     b'<urn:s> <urn:p> "1"^^<http://www.w3.org/2001/XMLSchema#double> .',
    ...     ox.RdfFormat.N_TRIPLES)))
    [('<urn:s>', '<urn:p>', '"1.0"^^<http://www.w3.org/2001/XMLSchema#double>')]
    """
    fresh = f"_:{uuid.uuid4().hex}"  # these blank nodes, never another answer's
    typed: dict[str, str] = {}
    found: set[Line] = set()
    for t in triples:
        s, p, o = str(t.subject), str(t.predicate), str(t.object)
        if s[0] == "_":
            s = fresh + s[2:]
        if o[0] == "_":
            o = fresh + o[2:]
        elif o[-1] == ">" and o[0] == '"':  # a typed literal other than xsd:string
            written = typed.get(o)
            if written is None:
                value: ox.Literal = t.object  # type: ignore[assignment]
                lexical = str(Literal(value.value, datatype=URIRef(value.datatype.value)))
                written = typed[o] = (
                    o
                    if lexical == value.value
                    else str(ox.Literal(lexical, datatype=value.datatype))
                )
            o = written
        found.add((s, p, o))
    return found


def line_text(term: str) -> str:
    """What ``str`` reads of the rdflib term a ``comparable_lines`` term stands for: an
    IRI, a blank node's id, a literal's lexical form.

    >>> line_text(str(ox.Literal('Bærum "kommune"', language="nb"))), line_text("<urn:x>")
    ('Bærum "kommune"', 'urn:x')
    """
    if term[0] == "<":
        return term[1:-1]
    if term[0] == "_":
        return term[2:]
    literal = next(iter(ox.parse(f"<urn:s> <urn:p> {term} .".encode(), ox.RdfFormat.N_TRIPLES)))
    return str(literal.object.value)
