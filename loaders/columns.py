"""The spreadsheet contract, read from the SHACL shapes.

The shapes are the only place columns are defined: each ``sh:PropertyGroup`` is a
sheet, each property shape attached to a class's node shape is a column (its
``sh:name`` the header, ``sh:order`` the position, ``sh:in`` the dropdown list,
``sh:minCount`` the required flag). The template, the reader and the row-to-RDF
mapping all take their columns from here, so nothing about them is written twice.

>>> usage = sheet_for_class(KG.ApplicationUsage)
>>> usage.name_nb, [c.name_nb for c in usage.columns][:3]
('Systemportefølje', ['Kommune', 'Applikasjon', 'Versjon'])
>>> usage.columns[0].required, usage.columns[2].required
(True, False)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

from rdflib import Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.namespace import RDF, RDFS, SH
from rdflib.term import Node

from loaders.namespaces import KG, KGSH
from loaders.validation import shapes_graph

Path = URIRef | tuple[URIRef, ...]
"""A predicate, or a sequence path such as (dcat:contactPoint, vcard:hasEmail)."""


@dataclass(frozen=True)
class Column:
    """One column of a sheet: one property shape."""

    shape: URIRef
    path: Path
    name_nb: str
    name_en: str
    description_nb: str
    description_en: str
    order: int
    required: bool
    """A missing value is an error (sh:minCount ≥ 1 with violation severity)."""
    recommended: bool
    """A missing value is a warning (sh:minCount ≥ 1 with warning severity)."""
    multiple: bool
    """The cell may hold several values, separated by semicolons or line breaks."""
    datatype: URIRef | None
    """The datatype to write; the first of an sh:or of datatypes."""
    target_classes: tuple[URIRef, ...]
    """The class(es) a referenced node may have (sh:class, or an sh:or of them)."""
    node_kind: URIRef | None
    """sh:IRI for references and web addresses; None for plain literals."""
    values: tuple[Node, ...]
    """The allowed values (sh:in), for a dropdown; empty when free."""
    pattern: str | None


@dataclass(frozen=True)
class Sheet:
    """One sheet: every column of one class's node shape in one property group."""

    group: URIRef
    name_nb: str
    name_en: str
    order: int
    target_class: URIRef
    node_shape: URIRef
    iri_template: str
    """How a row becomes an IRI (kgsh:iriTemplate), relative to the base IRI."""
    columns: tuple[Column, ...]


def _text(graph: Graph, subject: Node, predicate: URIRef, lang: str) -> str:
    values = [o for o in graph.objects(subject, predicate) if isinstance(o, Literal)]
    for value in values:
        if value.language == lang:
            return str(value)
    return str(values[0]) if values else ""


def _path(graph: Graph, node: Node | None) -> Path:
    if node is None:
        raise ValueError("a property shape without sh:path")
    if isinstance(node, URIRef):
        return node
    items = list(Collection(graph, node))
    if not items or not all(isinstance(i, URIRef) for i in items):
        raise ValueError(f"unsupported sh:path {node!r}: only predicates and sequence paths")
    return tuple(i for i in items if isinstance(i, URIRef))


def _int(graph: Graph, subject: Node, predicate: URIRef) -> int | None:
    value = graph.value(subject, predicate)
    return int(value) if isinstance(value, Literal) else None


def _datatype(graph: Graph, shape: Node) -> URIRef | None:
    direct = graph.value(shape, SH.datatype)
    if isinstance(direct, URIRef):
        return direct
    alternatives = graph.value(shape, SH["or"])
    if alternatives is not None:
        for alternative in Collection(graph, alternatives):
            found = graph.value(alternative, SH.datatype)
            if isinstance(found, URIRef):
                return found
    return None


def _classes(graph: Graph, shape: Node) -> tuple[URIRef, ...]:
    direct = graph.value(shape, SH["class"])
    if isinstance(direct, URIRef):
        return (direct,)
    found: list[URIRef] = []
    alternatives = graph.value(shape, SH["or"])
    if alternatives is not None:
        for alternative in Collection(graph, alternatives):
            cls = graph.value(alternative, SH["class"])
            if isinstance(cls, URIRef):
                found.append(cls)
    return tuple(found)


def _column(graph: Graph, shape: URIRef) -> Column:
    min_count = _int(graph, shape, SH.minCount) or 0
    max_count = _int(graph, shape, SH.maxCount)
    warning = graph.value(shape, SH.severity) == SH.Warning
    in_list = graph.value(shape, SH["in"])
    node_kind = graph.value(shape, SH.nodeKind)
    pattern = graph.value(shape, SH.pattern)
    return Column(
        shape=shape,
        path=_path(graph, graph.value(shape, SH.path)),
        name_nb=_text(graph, shape, SH.name, "nb"),
        name_en=_text(graph, shape, SH.name, "en"),
        description_nb=_text(graph, shape, SH.description, "nb"),
        description_en=_text(graph, shape, SH.description, "en"),
        order=_int(graph, shape, SH.order) or 0,
        required=min_count >= 1 and not warning,
        recommended=min_count >= 1 and warning,
        multiple=max_count is None or max_count > 1,
        datatype=_datatype(graph, shape),
        target_classes=_classes(graph, shape),
        node_kind=node_kind if isinstance(node_kind, URIRef) else None,
        values=tuple(Collection(graph, in_list)) if in_list is not None else (),
        pattern=str(pattern) if pattern is not None else None,
    )


def targeted_shapes(graph: Graph) -> Iterator[tuple[URIRef, URIRef]]:
    """Each named node shape of ``graph`` with the class it targets: what sheets and the
    list of classes are read from."""
    for node_shape in graph.subjects(RDF.type, SH.NodeShape):
        target = graph.value(node_shape, SH.targetClass)
        if isinstance(node_shape, URIRef) and isinstance(target, URIRef):
            yield node_shape, target


def read_sheets(graph: Graph) -> list[Sheet]:
    """Every sheet the shapes define, in workbook order, columns in column order."""
    sheets = []
    for node_shape, target in targeted_shapes(graph):
        by_group: dict[URIRef, list[Column]] = {}
        for shape in graph.objects(node_shape, SH.property):
            group = graph.value(shape, SH.group)
            if isinstance(shape, URIRef) and isinstance(group, URIRef):
                by_group.setdefault(group, []).append(_column(graph, shape))
        for group, columns in by_group.items():
            sheets.append(
                Sheet(
                    group=group,
                    name_nb=_text(graph, group, RDFS.label, "nb"),
                    name_en=_text(graph, group, RDFS.label, "en"),
                    order=_int(graph, group, SH.order) or 0,
                    target_class=target,
                    node_shape=node_shape,
                    iri_template=str(graph.value(node_shape, KGSH.iriTemplate) or ""),
                    columns=tuple(sorted(columns, key=lambda c: c.order)),
                )
            )
    return sorted(sheets, key=lambda s: (s.order, s.name_nb))


@cache
def sheets() -> tuple[Sheet, ...]:
    """The sheets of the project's own shapes, read once per process."""
    return tuple(read_sheets(shapes_graph()))


def sheet_for_class(target_class: URIRef) -> Sheet:
    for sheet in sheets():
        if sheet.target_class == target_class:
            return sheet
    raise KeyError(f"no sheet for {target_class}")


__all__ = ["KG", "Column", "Path", "Sheet", "read_sheets", "sheet_for_class", "sheets"]
