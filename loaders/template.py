"""The spreadsheet template, generated from the shapes.

Everything about the columns comes from ``loaders.columns`` (and so from the
shapes); the dropdown lists come from the ontology's concept schemes and from the
reference data. Changing a shape changes the template, and nothing else needs to.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import IO

from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet
from rdflib import Graph, Literal, URIRef
from rdflib.graph import ReadOnlyGraphAggregate
from rdflib.namespace import DCTERMS, RDF, RDFS, SKOS, XSD
from rdflib.term import Node

from loaders.columns import Column, Sheet, sheets
from loaders.namespaces import DEFAULT_BASE_IRI, KG
from loaders.reference import reference_graph
from loaders.resolver import Resolver
from loaders.validation import ontology_graph

HEADER_ROWS = 2
"""Row 1 holds the Norwegian headers, row 2 the English ones; data starts at row 3."""
FIRST_DATA_ROW = HEADER_ROWS + 1
LAST_DATA_ROW = 5000
REQUIRED_MARK = " *"

_REQUIRED_FILL = PatternFill("solid", fgColor="F4B183")
_RECOMMENDED_FILL = PatternFill("solid", fgColor="FFE699")
_OPTIONAL_FILL = PatternFill("solid", fgColor="D9E1F2")
_LISTS_SHEET = "Lister"

# Reference classes whose members are offered as dropdown lists.
_REFERENCE_LISTS = (
    KG.Municipality,
    KG.County,
    KG.StatutoryService,
    KG.NationalComponent,
    KG.LegalBasis,
    SKOS.Concept,
)


def label(graph: Graph, node: Node, lang: str = "nb") -> str:
    """The best display label of a node: rdfs:label, else skos:prefLabel, in ``lang``.

    >>> g = Graph()
    >>> _ = g.add((URIRef("urn:x"), RDFS.label, Literal("Kongsberg")))
    >>> label(g, URIRef("urn:x"))
    'Kongsberg'
    """
    candidates: list[Literal] = []
    for predicate in (RDFS.label, SKOS.prefLabel):
        candidates += [o for o in graph.objects(node, predicate) if isinstance(o, Literal)]
    for wanted in (lang, None, "nb", "en"):
        for candidate in candidates:
            if candidate.language == wanted:
                return str(candidate)
    return str(candidates[0]) if candidates else str(node)


def _reference_entries(reference: Graph, cls: URIRef) -> list[str]:
    """Display values for the members of a reference class, as users may type them."""
    if cls == KG.Municipality:
        current = reference.subjects(KG.county, None)
        return sorted(
            f"{reference.value(m, KG.municipalityNumber)} {label(reference, m)}" for m in current
        )
    if cls == KG.County:
        return sorted(
            f"{reference.value(c, KG.countyNumber)} {label(reference, c)}"
            for c in reference.subjects(RDF.type, KG.County)
        )
    if cls == SKOS.Concept:  # LOS themes: the concepts of the theme structure
        members = {
            c
            for c in reference.subjects(RDF.type, SKOS.Concept)
            if str(c).startswith("https://psi.norge.no/los/tema/")
        }
    else:
        members = set(reference.subjects(RDF.type, cls))
    return sorted({label(reference, m) for m in members}, key=str.casefold)


def header(column: Column, lang: str = "nb") -> str:
    name = column.name_nb if lang == "nb" else column.name_en
    return name + (REQUIRED_MARK if column.required and lang == "nb" else "")


def _comment(column: Column) -> Comment:
    kind = (
        "Påkrevd / Required"
        if column.required
        else "Anbefalt / Recommended"
        if column.recommended
        else "Valgfri / Optional"
    )
    several = (
        "\nFlere verdier: skill med semikolon. / Several values: separate with semicolons."
        if column.multiple
        else ""
    )
    text = f"{kind}\n\n{column.description_nb}\n\n{column.description_en}{several}"
    comment = Comment(text, "kommunegraf")
    comment.width, comment.height = 360, 200
    return comment


class _Lists:
    """The hidden sheet holding one dropdown list per column; each list is written once."""

    def __init__(self, workbook: Workbook) -> None:
        self.sheet = workbook.create_sheet(_LISTS_SHEET)
        self.sheet.sheet_state = "hidden"
        self._ranges: dict[tuple[str, ...], str] = {}

    def range_for(self, title: str, values: Iterable[str]) -> str:
        entries = tuple(values)
        if entries not in self._ranges:
            column = len(self._ranges) + 1
            letter = get_column_letter(column)
            self.sheet.cell(row=1, column=column, value=title)
            for row, value in enumerate(entries, start=2):
                self.sheet.cell(row=row, column=column, value=value)
            last = len(entries) + 1
            self._ranges[entries] = f"{quote_sheetname(_LISTS_SHEET)}!${letter}$2:${letter}${last}"
        return self._ranges[entries]


def _dropdown(column: Column, ontology: Graph, reference: Graph) -> list[str] | None:
    if column.values:
        return [label(ontology, value) for value in column.values]
    for cls in column.target_classes:
        if cls in _REFERENCE_LISTS:
            return _reference_entries(reference, cls)
    return None


def _name_column_range(target: URIRef, all_sheets: Iterable[Sheet]) -> str | None:
    """A reference to rows of another sheet of the same workbook: its name column."""
    for sheet in all_sheets:
        if sheet.target_class == target:
            for index, column in enumerate(sheet.columns, start=1):
                if column.path == RDFS.label:
                    letter = get_column_letter(index)
                    return (
                        f"{quote_sheetname(sheet.name_nb)}!${letter}${FIRST_DATA_ROW}:"
                        f"${letter}${LAST_DATA_ROW}"
                    )
    return None


def _validation(column: Column, formula: str, cell_range: str) -> DataValidation:
    validation = DataValidation(
        type="list",
        formula1=f"={formula}",
        allow_blank=True,
        # Controlled values (sh:in) must come from the list; references may also be
        # typed as a number or a name the loader resolves, so their list only helps.
        showErrorMessage=bool(column.values) and not column.multiple,
        errorStyle="stop",
        errorTitle="Ugyldig verdi / Invalid value",
        error="Velg en verdi fra listen. / Choose a value from the list.",
        showInputMessage=True,
        promptTitle=column.name_nb[:32],
        prompt=(column.description_nb[:250]),
    )
    validation.add(cell_range)
    return validation


def _write_guide(sheet: Worksheet, all_sheets: list[Sheet]) -> None:
    lines = [
        ("Slik fyller du ut malen", "How to fill in the template"),
        ("", ""),
        (
            "Hvert ark beskriver én slags ting. Rad 1 har kolonnenavn på norsk, rad 2 på engelsk; "
            "skriv data fra rad 3.",
            "Each sheet describes one kind of thing. Row 1 has the column names in Norwegian, "
            "row 2 in English; write data from row 3.",
        ),
        (
            "Kolonner merket * er påkrevd (oransje). Gule kolonner anbefales. Blå er valgfrie.",
            "Columns marked * are required (orange). Yellow columns are recommended. "
            "Blue ones are optional.",
        ),
        (
            "Hold musen over et kolonnenavn for å se hva kolonnen betyr.",
            "Hover over a column name to see what the column means.",
        ),
        (
            "Skriv kommuner som nummer eller navn (3303 eller Kongsberg), applikasjoner og "
            "leverandører med navn. Flere verdier i én celle skilles med semikolon.",
            "Write municipalities as number or name (3303 or Kongsberg), applications and vendors "
            "by name. Separate several values in one cell with semicolons.",
        ),
        (
            "Tall kan skrives på norsk (1 234 567, 1.234,50 kr), datoer som 31.12.2026, "
            "ja/nei for ja-nei-spørsmål.",
            "Numbers may be written the Norwegian way (1 234 567, 1.234,50 kr), dates as "
            "31.12.2026, ja/nei (yes/no) for yes-no questions.",
        ),
        (
            "Sjekk filen med «kommunegraf validate FIL» før du laster den opp; "
            "en fil med feil blir ikke lastet i det hele tatt.",
            "Check the file with 'kommunegraf validate FILE' before uploading it; "
            "a file with errors is not loaded at all.",
        ),
        ("", ""),
        ("Ark", "Sheets"),
    ]
    heading = len(lines)
    lines += [(s.name_nb, s.name_en) for s in all_sheets]
    for row, (nb, en) in enumerate(lines, start=1):
        sheet.cell(row=row, column=1, value=nb)
        sheet.cell(row=row, column=2, value=en).font = Font(italic=True, color="595959")
    sheet["A1"].font = Font(bold=True, size=14)
    sheet["B1"].font = Font(bold=True, size=14, italic=True, color="595959")
    sheet.cell(row=heading, column=1).font = Font(bold=True)
    for letter in ("A", "B"):
        sheet.column_dimensions[letter].width = 90
        for cell in sheet[letter]:
            cell.alignment = Alignment(wrap_text=True, vertical="top")


def _write_sheet(
    workbook: Workbook,
    sheet: Sheet,
    all_sheets: list[Sheet],
    lists: _Lists,
    ontology: Graph,
    reference: Graph,
) -> None:
    worksheet = workbook.create_sheet(sheet.name_nb[:31])
    for index, column in enumerate(sheet.columns, start=1):
        letter = get_column_letter(index)
        nb_cell = worksheet.cell(row=1, column=index, value=header(column, "nb"))
        en_cell = worksheet.cell(row=2, column=index, value=header(column, "en"))
        nb_cell.font = Font(bold=True)
        en_cell.font = Font(italic=True, color="595959")
        nb_cell.fill = en_cell.fill = (
            _REQUIRED_FILL
            if column.required
            else _RECOMMENDED_FILL
            if column.recommended
            else _OPTIONAL_FILL
        )
        nb_cell.comment = _comment(column)
        worksheet.column_dimensions[letter].width = max(14, min(40, len(column.name_nb) + 6))
        cells = f"{letter}{FIRST_DATA_ROW}:{letter}{LAST_DATA_ROW}"
        entries = _dropdown(column, ontology, reference)
        formula = lists.range_for(column.name_nb, entries) if entries else None
        if formula is None and column.target_classes:
            formula = _name_column_range(column.target_classes[0], all_sheets)
        if formula is not None:
            worksheet.add_data_validation(_validation(column, formula, cells))
    worksheet.freeze_panes = f"A{FIRST_DATA_ROW}"


def write_template(path: Path | IO[bytes], base_iri: str = DEFAULT_BASE_IRI) -> None:
    """Write the xlsx template: a guide sheet, one sheet per group, hidden lists."""
    build_template(base_iri).save(path)


def build_template(base_iri: str = DEFAULT_BASE_IRI, reference: Graph | None = None) -> Workbook:
    """The template workbook: a guide sheet, one sheet per group, hidden lists.

    ``reference`` is the reference data when the caller holds it already (the service
    keeps it parsed): parsing it again took most of the time of a blank template.
    """
    all_sheets = list(sheets())
    ontology = ontology_graph()
    if reference is None:
        reference = reference_graph(base_iri)
    workbook = Workbook()
    guide = workbook.active
    assert guide is not None
    guide.title = "Veiledning"
    _write_guide(guide, all_sheets)
    lists = _Lists(workbook)
    for sheet in all_sheets:
        _write_sheet(workbook, sheet, all_sheets, lists, ontology, reference)
    workbook.move_sheet(_LISTS_SHEET, offset=len(workbook.sheetnames))
    return workbook


def write_csv_templates(folder: Path) -> list[Path]:
    """One CSV per sheet (semicolon-separated, UTF-8 with BOM so Excel reads æøå)."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for sheet in sheets():
        path = folder / f"{sheet.name_nb}.csv"
        with path.open("w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.writer(handle, delimiter=";")
            writer.writerow([header(c, "nb") for c in sheet.columns])
            writer.writerow([header(c, "en") for c in sheet.columns])
        written.append(path)
    return written


# -- a municipality's current data, in the same workbook ----------------------


def municipal_prefixes(base_iri: str, number: str) -> dict[URIRef, str]:
    """Per class, the IRI prefix of a municipality's own rows (usages, datasets, ...).

    The shapes' IRI templates say it: a class whose template starts with the
    municipality's key ("id/bruk/{kg:usedBy}/...", "id/integrasjon/{kg:integrationSource}/
    ...", whose key starts with the municipality's) has the municipality's rows under
    ``<base>id/bruk/<number>/``.

    >>> prefixes = municipal_prefixes("http://x.test/", "4203")
    >>> prefixes[KG.ApplicationUsage]
    'http://x.test/id/bruk/4203/'
    >>> KG.Application in prefixes
    False
    """
    found: dict[URIRef, str] = {}
    municipal: set[URIRef] = {KG.Municipality}
    all_sheets = list(sheets())
    for _ in range(len(all_sheets)):  # a class can be municipal through another class
        for sheet in all_sheets:
            head, _, rest = sheet.iri_template.partition("{")
            first = rest.split("}", 1)[0]
            column = next((c for c in sheet.columns if _curie(c.path) == first), None)
            if column is not None and municipal & set(column.target_classes):
                municipal.add(sheet.target_class)
                found[sheet.target_class] = f"{base_iri}{head}{number}/"
    return found


def _curie(path: object) -> str:
    if not isinstance(path, URIRef):
        return ""
    from loaders.namespaces import PREFIXES

    for prefix, namespace in PREFIXES.items():
        if str(path).startswith(str(namespace)):
            return f"{prefix}:{str(path)[len(str(namespace)) :]}"
    return str(path)


@lru_cache(maxsize=4)
def _context_resolver(reference: Graph) -> Resolver:
    """The ontology's and the reference data's names, indexed once per reference graph.

    Why: indexing them again for every workbook, merged with the stored names into a
    fresh graph, was a third of a national ``/template?kommune=`` (10 s of 30).
    """
    ontology = ontology_graph()
    return Resolver.from_graphs(ontology, ontology, reference)


@dataclass(frozen=True)
class StoredNames:
    """The stored catalogue's names (``stored_context``) and their index over the
    reference data's, made once for as long as the store's data stays the same.

    Why: indexing the national demo's 29,000 stored triples was most of a pre-filled
    workbook's time, and they are the same for every municipality until the next write
    (``service.exports.municipality_workbook`` keeps one per data generation).
    """

    reference: Graph
    graph: Graph
    resolver: Resolver


def stored_names(names: Graph, reference: Graph) -> StoredNames:
    """``names`` indexed over ``reference``'s names (whose index is made once per graph)."""
    resolver = _context_resolver(reference).overlay()
    resolver.add_graph(names)
    return StoredNames(reference, names, resolver)


class _Namer:
    """Writes a reference the way a person would, as a name the loader resolves back.

    The names are read through layers (reference data, the stored catalogue, the
    municipality's own rows) rather than one merged copy: the reference layer's index
    is built once (``_context_resolver``), the stored names' once per data generation
    (``StoredNames``), the municipality's rows on top of them (an overlay).
    """

    def __init__(self, stored: StoredNames, data: Graph, base_iri: str) -> None:
        self.names = ReadOnlyGraphAggregate([stored.reference, stored.graph, data])
        self.resolver = stored.resolver.overlay()
        self.resolver.add_graph(data)
        self.base = base_iri

    def usage_name(self, usage: Node) -> str | None:
        """ "4203 Public 360": the form the loader knows a municipality's usage by."""
        application = self.names.value(usage, KG.application)
        municipality = self.names.value(usage, KG.usedBy)
        if application is None or municipality is None:
            return None
        number = self.names.value(municipality, KG.municipalityNumber)
        shown = str(number) if number is not None else str(municipality).rsplit("/", 1)[-1]
        return f"{shown} {label(self.names, application)}"

    def name(self, node: Node, classes: tuple[URIRef, ...]) -> str:
        if KG.Municipality in classes:
            number = self.names.value(node, KG.municipalityNumber)
            return str(number) if number is not None else str(node).rsplit("/", 1)[-1]
        if (node, RDF.type, KG.ApplicationUsage) in self.names:
            usage = self.usage_name(node)
            if usage is not None:
                return usage
        candidates = [label(self.names, node)]
        candidates += [str(o) for p in (DCTERMS.identifier,) for o in self.names.objects(node, p)]
        for candidate in candidates:
            found: set[URIRef] = set()
            for cls in classes:
                found |= self.resolver.known(cls, candidate)
            if found == {node}:
                return candidate
        return str(node)  # the IRI itself always resolves


def _cell(value: Node, column: Column, ontology: Graph, namer: _Namer) -> object:
    if column.values:
        return label(ontology, value)
    if column.target_classes:
        return namer.name(value, column.target_classes)
    if isinstance(value, URIRef):
        return str(value).removeprefix("mailto:")
    if not isinstance(value, Literal):
        return str(value)
    if value.datatype == XSD.boolean:
        return "ja" if value.toPython() else "nei"
    if value.datatype in {XSD.date, XSD.integer, XSD.nonNegativeInteger, XSD.decimal}:
        python = value.toPython()
        if isinstance(python, Decimal):
            return int(python) if python == python.to_integral_value() else float(python)
        return python
    return str(value)


def _values(data: Graph, subject: Node, path: object) -> list[Node]:
    nodes: list[Node] = [subject]
    for predicate in path if isinstance(path, tuple) else (path,):
        nodes = sorted({o for n in nodes for o in data.objects(n, predicate)}, key=str)
    return nodes


def _row(subject: Node, sheet: Sheet, data: Graph, ontology: Graph, namer: _Namer) -> list[object]:
    row: list[object] = []
    for column in sheet.columns:
        values = _values(data, subject, column.path)
        if isinstance(column.path, URIRef) and column.datatype == RDF.langString:
            tagged: list[Node] = [
                v for v in values if isinstance(v, Literal) and v.language in {"nb", None}
            ]
            values = tagged or values
        cells = [_cell(v, column, ontology, namer) for v in values]
        if not cells:
            row.append(None)
        elif len(cells) == 1:
            row.append(cells[0])
        else:
            row.append("; ".join(str(c) for c in sorted(cells, key=str)))
    return row


def write_municipality_workbook(
    path: Path | IO[bytes],
    number: str,
    data: Graph,
    names: Graph | StoredNames,
    base_iri: str,
    reference: Graph | None = None,
) -> dict[str, int]:
    """The template with the municipality's current rows filled in; rows per sheet.

    ``data`` holds the municipality's own resources (every triple of each, and of
    their helper nodes); ``names`` what they refer to in the stored catalogue (types,
    names and identifiers), as a graph or already indexed (``stored_names``, then over
    its own reference data); ``reference`` the reference data (parsed here unless
    given; pass the same graph each time and its names are indexed once). Each value
    is written the way the loader reads it back, so uploading the workbook unchanged
    gives the same triples: nothing changes.
    """
    if isinstance(names, StoredNames):
        reference = names.reference
    elif reference is None:
        reference = reference_graph(base_iri)
    stored = names if isinstance(names, StoredNames) else stored_names(names, reference)
    workbook = build_template(base_iri, reference)
    ontology = ontology_graph()
    namer = _Namer(stored, data, base_iri)
    prefixes = municipal_prefixes(base_iri, number)
    counts: dict[str, int] = {}
    for sheet in sheets():
        prefix = prefixes.get(sheet.target_class)
        if prefix is None:
            continue
        subjects = [
            s
            for s in data.subjects(RDF.type, sheet.target_class)
            if isinstance(s, URIRef) and str(s).startswith(prefix) and "#" not in s
        ]
        rows = [_row(s, sheet, data, ontology, namer) for s in subjects]
        rows.sort(key=lambda r: [str(c) if c is not None else "" for c in r])
        worksheet = workbook[sheet.name_nb[:31]]
        for row in rows:
            worksheet.append(row)
        counts[sheet.name_nb] = len(rows)
    workbook.save(path)
    return counts
