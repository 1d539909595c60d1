"""How a column's cells are read, worked out once per column from its shape.

Its headers (nb, en and the property's labels), what its cells become (a choice from
a list, a municipality, a reference by name, an organisation number, an address or a
literal) and the names a controlled value may be given by. ``loaders.mapping`` asks
this for every cell, so it is decided here once instead of compared per cell.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from rdflib import Graph, URIRef
from rdflib.namespace import DCTERMS, RDFS, SKOS, XSD
from rdflib.term import Node

from loaders.cells import Raw
from loaders.cells.literals import LITERAL_PARSERS
from loaders.columns import Column
from loaders.context import by_subject
from loaders.namespaces import KG
from loaders.resolver import normalise
from loaders.validation import ontology_graph

NAME_PATHS = (RDFS.label, KG.organisationNumber, DCTERMS.identifier)
"""Columns whose values name their row: another sheet of the workbook may use them."""


_LABEL = str(RDFS.label)
_HEADERS: dict[tuple[int, int], tuple[Column, Graph, int, frozenset[str]]] = {}


def header_keys(column: Column, ontology: Graph) -> frozenset[str]:
    """Every header a column may have: nb and en names, and the property's labels.

    Made once per column and ontology (again if the ontology grew): every sheet of every
    workbook asks for every column's, a millisecond of each upload's reading."""
    found = _HEADERS.get((id(column), id(ontology)))
    if (
        found is not None
        and found[0] is column
        and found[1] is ontology
        and found[2] == len(ontology)
    ):
        return found[3]
    keys = {column.name_nb, column.name_en}
    predicate = column.path if isinstance(column.path, URIRef) else column.path[-1]
    keys |= {str(o) for _, p, o in by_subject(ontology).get(predicate, ()) if str(p) == _LABEL}
    made = frozenset(header_key(k) for k in keys if k)
    if len(_HEADERS) > 4096:  # another ontology (a test's) every time: keep it bounded
        _HEADERS.clear()
    _HEADERS[(id(column), id(ontology))] = (column, ontology, len(ontology), made)
    return made


def header_key(text: str) -> str:
    """Case, spaces, punctuation and the required mark do not matter in headers.

    >>> header_key(" Årlig kostnad (NOK) * ")
    'årligkostnadnok'
    """
    return re.sub(r"[\W_]+", "", text.replace("*", "").casefold())


@lru_cache(maxsize=256)
def choices(values: tuple[Node, ...]) -> dict[str, Node]:
    """A controlled column's values by every normalised name a cell may give them:
    the IRI, its local name, and the concept's labels and notation."""
    about = by_subject(ontology_graph())  # rdflib's own lookups: 8 ms of Oslo's first upload
    found: dict[str, Node] = {}
    for value in values:
        names = [str(value), str(value).rsplit("#", 1)[-1].rsplit("/", 1)[-1]]
        names += [str(o) for _, p, o in about.get(value, ()) if str(p) in _NAMING]
        for name in names:
            found.setdefault(normalise(name), value)
    return found


_NAMING = {str(SKOS.prefLabel), str(SKOS.altLabel), str(SKOS.notation)}


@dataclass(frozen=True)
class ColumnUse:
    """What mapping a column's cells takes, worked out once per column: comparing rdflib
    terms for it in every cell cost a national load seconds."""

    kind: str
    """choice, municipality, reference, organisation number, address or literal."""
    mail: bool
    parser: Callable[[Raw], Node | None] | None
    name: bool | None
    """For a column that names its row (``NAME_PATHS``): whether a name (else an id)."""
    application: bool


_USES: dict[int, tuple[Column, ColumnUse]] = {}


def column_use(column: Column) -> ColumnUse:
    found = _USES.get(id(column))
    if found is not None and found[0] is column:
        return found[1]
    if column.values:
        kind = "choice"
    elif KG.Municipality in column.target_classes:
        kind = "municipality"
    elif column.target_classes:
        kind = "reference"
    elif column.path == KG.organisationNumber:
        kind = "organisation number"
    elif column.node_kind is not None:
        kind = "address"
    else:
        kind = "literal"
    use = ColumnUse(
        kind,
        column.pattern is not None and column.pattern.startswith("^mailto"),
        LITERAL_PARSERS.get(column.datatype or XSD.string),
        (column.path == RDFS.label) if column.path in NAME_PATHS else None,
        column.path == KG.application,
    )
    _USES[id(column)] = (column, use)  # the column is kept, so its id is not reused
    return use
