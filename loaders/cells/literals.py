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

_KNOWN = 65_536
"""Literals remembered per datatype: the same names, dates and numbers recur in every
workbook of a batch, and building an rdflib Literal is the mapping's largest cost."""


def _literal(parser: Callable[[Raw], object], datatype: URIRef) -> Callable[[Raw], Node | None]:
    made: dict[tuple[type, str], Literal] = {}

    def convert(raw: Raw) -> Node | None:
        value = parser(raw)
        if value is None:
            return None
        key = (type(value), str(value))  # 1.0 and 1.00, 1 and True are different literals
        found = made.get(key)
        if found is None:
            if len(made) >= _KNOWN:
                made.clear()
            found = made[key] = Literal(
                value, datatype=XSD.decimal if isinstance(value, Decimal) else datatype
            )
        return found

    return convert


def _text_literal(lang: str | None) -> Callable[[Raw], Node | None]:
    made: dict[str, Literal] = {}

    def convert(raw: Raw) -> Node | None:
        text = parse_text(raw)
        if text is None:
            return None
        found = made.get(text)
        if found is None:
            if len(made) >= _KNOWN:
                made.clear()
            found = made[text] = Literal(text, lang=lang)
        return found

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
