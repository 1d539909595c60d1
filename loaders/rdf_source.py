"""RDF files as a source: the format a file is in, read into a graph.

Spreadsheets are the usual source; RDF files are for reference data and for
tools that already speak RDF. Either way the result is a graph and the bytes it
came from, so provenance can name the exact file.
"""

from __future__ import annotations

from pathlib import Path

from rdflib import Graph

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


class SourceError(ValueError):
    """A file cannot be read as a source; the message says why in nb and en."""


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
    graph = Graph()
    try:
        graph.parse(data=data, format=fmt, publicID=base_iri)
    except Exception as error:  # rdflib raises many unrelated types for bad syntax
        raise SourceError(f"{path.name}: ugyldig RDF (invalid RDF): {error}") from error
    return graph, data
