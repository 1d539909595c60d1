"""The usage sheet's old "Avtalen utløper" column, read into contracts (issue 22).

Contracts are records of their own (sheet Kontrakter, ``shapes/contract.ttl``), and
the usage sheet no longer has a contract end date column. Workbooks made from the old
template still have it, and their owners must not lose what they wrote there: each
filled cell becomes a contract of the usage's municipality that covers the usage's
application and ends on that date, and a warning on the cell asks the owner to move it
to the Kontrakter sheet. Nothing is invented: the contract has no start (a start is
recommended, so the shapes warn about it), its vendor is the application's where the
workbook or the store knows one, and its name and comment say where it came from.

The contract holds only what the Kontrakter sheet has columns for, so the pre-filled
template of the municipality lists it there and loads back to the same triples.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, RDF, RDFS, XSD
from rdflib.term import Node

from loaders.cells import Raw
from loaders.cells.literals import LITERAL_PARSERS
from loaders.column_use import header_key
from loaders.namespaces import KG, SCHEMA

HEADERS_NB_EN = ("Avtalen utløper", "Contract end date")
"""The old column's headers (its ``sh:name``s before issue 22)."""
HEADER_KEYS = frozenset(
    header_key(h) for h in (*HEADERS_NB_EN, "avtalens sluttdato", "kg:contractEndDate")
)
"""Every header the old column is recognised by: its names, the deprecated property's
label and its CURIE."""

DESCRIPTION_NB = (
    "Fra kolonnen «Avtalen utløper» i arket Systemportefølje (gammel mal). "
    "Start og oppsigelsestid er ukjent."
)


def contract_name(application: str) -> str:
    """The name of a contract made from an old column: it names what it covers."""
    return f"Avtale {application}"


@dataclass(frozen=True)
class Converted:
    """One contract made from one cell, with the warning that goes with it."""

    contract: URIRef
    triples: list[tuple[Node, Node, Node]]
    message_nb: str
    message_en: str


class Index:
    """What the conversion looks up, gathered from the workbook's triples in one pass."""

    def __init__(self, triples: dict[tuple[Node, Node, Node], None], context: Graph) -> None:
        self.triples = triples
        self.context = context
        self.usages: dict[Node, dict[Node, Node]] = {}
        self.applications: dict[Node, dict[Node, Node]] = {}
        contracts: dict[Node, dict[Node, list[Node]]] = {}
        wanted_usage = {KG.usedBy, KG.application}
        wanted_contract = {KG.contractingAuthority, KG.covers, SCHEMA.endDate}
        for s, p, o in triples:
            if p in wanted_usage:
                self.usages.setdefault(s, {})[p] = o
            elif p in (RDFS.label, KG.vendor):
                self.applications.setdefault(s, {}).setdefault(p, o)
            if p in wanted_contract:
                contracts.setdefault(s, {}).setdefault(p, []).append(o)
        self.moved = {
            (authority, covered, end)
            for values in contracts.values()
            for authority in values.get(KG.contractingAuthority, ())
            for covered in values.get(KG.covers, ())
            for end in values.get(SCHEMA.endDate, ())
        }
        """(municipality, application, end) of every contract the workbook has."""

    def of_application(self, application: Node, predicate: URIRef) -> Node | None:
        found = self.applications.get(application, {}).get(predicate)
        return found if found is not None else self.context.value(application, predicate)


def convert(
    *, base: str, usage: Node, raw: Raw, index: Index, slug: Callable[[str], str]
) -> Converted | None:
    """The contract an old contract-end cell of ``usage``'s row stands for.

    None when the workbook's Kontrakter sheet already has a contract of the municipality
    covering the application and ending that day (the owner moved it, and kept the
    column): the column then adds nothing. A cell that is not a date raises
    ``CellError`` as the column's date cells always did.
    """
    end = LITERAL_PARSERS[XSD.date](raw)
    if end is None:
        return None
    row = index.usages.get(usage, {})
    municipality, application = row.get(KG.usedBy), row.get(KG.application)
    if not isinstance(municipality, URIRef) or not isinstance(application, URIRef):
        return None  # the row's own errors say why
    if (municipality, application, end) in index.moved:
        return None
    name = index.of_application(application, RDFS.label)
    app_name = str(name) if name is not None else str(application).rsplit("/", 1)[-1]
    number = str(municipality).rsplit("/", 1)[-1]
    label = contract_name(app_name)
    contract = URIRef(f"{base}id/kontrakt/{number}/{slug(label)}")
    if (contract, RDF.type, KG.Contract) in index.triples:  # a Kontrakter row of that name
        label = f"{label} ({end})"
        contract = URIRef(f"{base}id/kontrakt/{number}/{slug(label)}")
    made: list[tuple[Node, Node, Node]] = [
        (contract, RDF.type, KG.Contract),
        (contract, KG.contractingAuthority, municipality),
        (contract, RDFS.label, Literal(label, lang="nb")),
        (contract, KG.covers, application),
        (contract, SCHEMA.endDate, end),
        (contract, DCTERMS.description, Literal(DESCRIPTION_NB, lang="nb")),
    ]
    vendor = index.of_application(application, KG.vendor)
    if isinstance(vendor, URIRef):
        made.append((contract, KG.contractor, vendor))
    return Converted(
        contract,
        made,
        f"Kolonnen «Avtalen utløper» er tatt ut av malen: sluttdatoen {end} er lest som "
        f"kontrakten «{label}» (uten startdato). Flytt den til arket Kontrakter, fyll inn "
        "start, leverandør og oppsigelsestid der, og slett kolonnen.",
        f"The column 'Contract end date' has left the template: the end date {end} is "
        f"read as the contract '{label}' (without a start date). Move it to the Contracts "
        "sheet, fill in the start, vendor and notice period there, and delete the column.",
    )


__all__ = ["HEADER_KEYS", "Converted", "Index", "contract_name", "convert"]
