"""RDF files as a source: the format a file is in, read into a graph.

Spreadsheets are the usual source; RDF files are for reference data and for
tools that already speak RDF. Either way the result is a graph and the bytes it
came from, so provenance can name the exact file.
"""

from __future__ import annotations

import xml.parsers.expat
from pathlib import Path

from rdflib import Graph, Literal

RDF_FORMATS = {
    ".ttl": "turtle",
    ".nt": "nt",
    ".n3": "n3",
    ".rdf": "xml",
    ".owl": "xml",
    ".xml": "xml",
    ".jsonld": "json-ld",
    ".trig": "trig",
    ".nq": "nquads",
}


MAX_LITERAL_CHARS = 100_000
"""Longest literal accepted from a client (Graph Store bodies, imported catalogues):
names and descriptions are far shorter, and a bound keeps one value from costing
the service without limit."""
_XML_FORMATS = frozenset({"xml", "trix"})
_PROLOG_CHUNK = 64 * 1024


class SourceError(ValueError):
    """A file cannot be read as a source; the message says why in nb and en."""


class _RootReachedError(Exception):
    """The prolog is over: nothing after the root element can declare a DTD."""


def refuse_dtd(data: bytes) -> None:
    """Raise ``SourceError`` when an XML document declares a DTD (and so entities).

    A DTD's nested entities expand exponentially ("billion laughs": 945 bytes cost
    150 s of CPU in rdflib's RDF/XML parser), and neither rdflib nor the store has
    a switch to refuse them. No RDF/XML needs a DTD, so any is refused. Only the
    prolog is read, by the same XML parser (expat) that rdflib uses, in whatever
    encoding the document declares; it stops at the root element, where a DTD can
    no longer appear. A document that is not well-formed is left to the RDF parser
    to explain.

    >>> refuse_dtd(b'<?xml version="1.0"?><rdf:RDF xmlns:rdf="urn:x"/>')
    >>> refuse_dtd(b'<!DOCTYPE r [<!ENTITY a "b">]><r>&a;</r>')
    Traceback (most recent call last):
    ...
    loaders.rdf_source.SourceError: XML med DTD ...
    """

    def declared(*_: object) -> None:
        raise SourceError(
            "XML med DTD (<!DOCTYPE>, <!ENTITY>) tas ikke imot; RDF/XML trenger aldri en. / "
            "XML with a DTD (<!DOCTYPE>, <!ENTITY>) is not accepted; RDF/XML never needs one."
        )

    def root(*_: object) -> None:
        raise _RootReachedError

    parser = xml.parsers.expat.ParserCreate()
    parser.StartDoctypeDeclHandler = declared
    parser.EntityDeclHandler = declared
    parser.StartElementHandler = root
    try:
        for start in range(0, len(data), _PROLOG_CHUNK):
            parser.Parse(data[start : start + _PROLOG_CHUNK], False)
        parser.Parse(b"", True)
    except (_RootReachedError, xml.parsers.expat.ExpatError):
        return


def parse_untrusted(data: bytes, rdf_format: str, base_iri: str | None = None) -> Graph:
    """Parse RDF a client sent: no DTD in XML, no literal over ``MAX_LITERAL_CHARS``.

    Raises ``SourceError`` for what is refused; the parser's own errors pass through.

    >>> len(parse_untrusted(b'<urn:a> <urn:b> "x" .', "nt"))
    1
    >>> parse_untrusted(b'<urn:a> <urn:b> "' + b"x" * 100_001 + b'" .', "nt")
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    loaders.rdf_source.SourceError: En litteral har 100001 tegn...
    """
    if rdf_format in _XML_FORMATS:
        refuse_dtd(data)
    graph = Graph().parse(data=data, format=rdf_format, publicID=base_iri)
    for _, _, value in graph:
        if isinstance(value, Literal) and len(value) > MAX_LITERAL_CHARS:
            raise SourceError(
                f"En litteral har {len(value)} tegn; høyst {MAX_LITERAL_CHARS} tas imot. / "
                f"A literal has {len(value)} characters; at most {MAX_LITERAL_CHARS} are "
                "accepted."
            )
    return graph


def rdf_format(path: Path) -> str:
    """The rdflib parser name for a file, by its extension.

    >>> rdf_format(Path("kommune.TTL"))
    'turtle'
    """
    try:
        return RDF_FORMATS[path.suffix.lower()]
    except KeyError:
        known = ", ".join(sorted(RDF_FORMATS))
        raise SourceError(
            f"{path.name}: ukjent filtype {path.suffix!r}, kjente er {known} "
            f"(unknown file type; known types are {known})"
        ) from None


def read_rdf(path: Path, base_iri: str) -> tuple[Graph, bytes]:
    """Parse ``path``; relative IRIs resolve against ``base_iri``."""
    fmt = rdf_format(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise SourceError(f"{path}: kan ikke leses (cannot be read): {error.strerror}") from error
    if fmt in _XML_FORMATS:
        refuse_dtd(data)
    graph = Graph()
    try:
        graph.parse(data=data, format=fmt, publicID=base_iri)
    except Exception as error:  # rdflib raises many unrelated types for bad syntax
        raise SourceError(f"{path.name}: ugyldig RDF (invalid RDF): {error}") from error
    return graph, data
