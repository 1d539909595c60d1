"""Cells as RDF literals, by the datatype a column's shape gives: one parser per datatype."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from rdflib import Literal, URIRef
from rdflib.namespace import RDF, XSD
from rdflib.term import Node

from loaders.cells.dates import parse_date
from loaders.cells.errors import Raw
from loaders.cells.numbers import parse_decimal, parse_integer
from loaders.cells.text import parse_boolean, parse_text


def _literal(parser: Callable[[Raw], object], datatype: URIRef) -> Callable[[Raw], Node | None]:
    def convert(raw: Raw) -> Node | None:
        value = parser(raw)
        if value is None:
            return None
        return Literal(value, datatype=XSD.decimal if isinstance(value, Decimal) else datatype)

    return convert


def _text_literal(lang: str | None) -> Callable[[Raw], Node | None]:
    def convert(raw: Raw) -> Node | None:
        text = parse_text(raw)
        return None if text is None else Literal(text, lang=lang)

    return convert


LITERAL_PARSERS: dict[URIRef, Callable[[Raw], Node | None]] = {
    XSD.string: _text_literal(None),
    RDF.langString: _text_literal("nb"),
    XSD.integer: _literal(parse_integer, XSD.integer),
    XSD.nonNegativeInteger: _literal(parse_integer, XSD.nonNegativeInteger),
    XSD.decimal: _literal(parse_decimal, XSD.decimal),
    XSD.date: _literal(parse_date, XSD.date),
    XSD.boolean: _literal(parse_boolean, XSD.boolean),
}
