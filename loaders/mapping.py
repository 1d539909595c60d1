"""Rows of a workbook to RDF, each subject remembering its sheet and row.

The columns come from the shapes (``loaders.columns``); the cell parsers from
``loaders.cells``; names are resolved with ``loaders.resolver``. Problems found on
the way become issues pinned to their cell, and the provenance kept here lets the
SHACL results of the next step be pinned the same way.
"""

from __future__ import annotations

import datetime
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import RDF, RDFS, SKOS, XSD
from rdflib.term import Node

from loaders.cells import (
    CellError,
    CellWarning,
    Raw,
    parse_email,
    parse_organisation_number,
    parse_text,
    parse_url,
)
from loaders.column_use import ColumnUse, choices, column_use
from loaders.columns import Column, Path, Sheet
from loaders.context import context_index
from loaders.namespaces import KG, SCHEMA, bind_prefixes
from loaders.old_contract_end import Index, convert
from loaders.report import Issue
from loaders.resolver import normalise
from loaders.sheet_headers import (
    CellRef,
    SheetReading,
    expand,
    read_sheets,
    text_of,
)
from loaders.validation import ontology_graph
from loaders.workbook import RawCell, RawWorkbook, cell_error_messages

_SEPARATORS = re.compile(r"\s*[;\n]\s*")


def slug(text: str) -> str:
    """The IRI-safe form of a name: lower case ASCII, æ→ae, ø→o, å→a, dashes.

    >>> slug("Visma Flyt Skole"), slug("Bærum Økonomi/Lønn"), slug("Tromsø")
    ('visma-flyt-skole', 'baerum-okonomi-lonn', 'tromso')
    """
    text = text.casefold().replace("æ", "ae").replace("ø", "o").replace("å", "a")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")


_cached_slug = lru_cache(maxsize=65536)(slug)
"""``slug`` remembered: every usage row compares its key with every application name."""


# Terms of the hot path, looked up once: an rdflib namespace builds a new IRI on every
# attribute access, which cost a national load about a second.
_TYPE, _LABEL, _STRING = RDF.type, RDFS.label, XSD.string
_MUNICIPALITY, _APPLICATION_CLASS, _USAGE = KG.Municipality, KG.Application, KG.ApplicationUsage
_APPLICATION, _ORGANISATION_NUMBER = KG.application, KG.organisationNumber


Triple = tuple[Node, Node, Node]


@dataclass
class MappedSource:
    """The triples of one workbook and where each came from."""

    triples: dict[Triple, None] = field(default_factory=dict)
    """Every triple once, in the order mapped (a dict as an ordered set).

    Kept as plain tuples: adding a triple to an rdflib graph costs twenty times
    as much, and the compiled checks and the store take the triples as they are.
    ``graph`` builds the rdflib graph for those who need one (pySHACL, the CLI).
    """
    issues: list[Issue] = field(default_factory=list)
    rows: dict[Node, tuple[str, int]] = field(default_factory=dict)
    """Subject (or helper node, e.g. a contact point) → its sheet and row."""
    cells: dict[tuple[Node, Path], CellRef] = field(default_factory=dict)
    """(subject, column path) → the cell the values came from."""
    row_counts: dict[str, int] = field(default_factory=dict)
    _graph: Graph | None = field(default=None, repr=False)

    @property
    def graph(self) -> Graph:
        """The triples as an rdflib graph, built on first use."""
        if self._graph is None:
            self._graph = bind_prefixes(Graph())
            self._graph.addN((s, p, o, self._graph) for s, p, o in self.triples)
        return self._graph


class _Mapper:
    def __init__(self, base_iri: str, context: Graph) -> None:
        self.base = base_iri
        self.context = context
        self.ontology = ontology_graph()
        shared, self.register = context_index(self.ontology, context)
        self.resolver = shared.overlay()
        self.result = MappedSource()
        self.subjects: dict[tuple[str, int], URIRef] = {}
        self.first_row: dict[URIRef, tuple[str, int]] = {}
        self._by_slug: tuple[int, dict[str, list[str]]] | None = None
        self._made: dict[tuple[int, type, Raw], Node | None] = {}
        self._municipalities: dict[
            tuple[int, type, Raw], tuple[URIRef | None, tuple[str, CellWarning | None] | None]
        ] = {}
        """(column, type, value) → the term a cell value became (``_term``)."""
        self._cells_made: dict[tuple[int, type, object], list[Node]] = {}
        """The same for a whole cell (``_add``, once the names stop changing): its terms."""
        self._names_final = False
        self._keys_of: dict[int, dict[int, str]] = {}
        self._naming_of: dict[int, tuple[dict[int, bool], set[int]]] = {}
        """A sheet's (by ``id`` of its reading, kept while mapping) ``_key_names``."""
        """Set once every row is indexed (``map_rows``): a reference then resolves the same
        way in every cell, and is remembered too."""
        self._issued: set[Issue] = set()
        self._error_places: set[tuple[str | None, int | None]] = set()
        """The issues so far, and the (sheet, row) of each error: looked up for every new
        issue, which searching the list made quadratic in a workbook's problems."""

    # -- issues --------------------------------------------------------------

    def issue(
        self,
        severity: str,
        nb: str,
        en: str,
        where: CellRef | tuple[str, int] | str | None = None,
        value: str | None = None,
        suggestion: str | None = None,
    ) -> None:
        sheet = row = column = column_name = None
        if isinstance(where, CellRef):
            sheet, row, column, column_name = (
                where.sheet,
                where.row,
                where.column,
                where.column_name,
            )
        elif isinstance(where, tuple):
            sheet, row = where
        elif isinstance(where, str):
            sheet = where
        issue = Issue(severity, nb, en, sheet, row, column, column_name, value, suggestion)  # type: ignore[arg-type]
        if issue not in self._issued:  # a cell read twice (identity, values) reports once
            self._issued.add(issue)
            self.result.issues.append(issue)
            if severity == "error":
                self._error_places.add((sheet, row))

    # -- sheets and headers --------------------------------------------------

    def read_sheets(self, workbook: RawWorkbook) -> list[SheetReading]:
        return read_sheets(workbook, self.ontology, self.issue)

    # -- values --------------------------------------------------------------

    def _values(self, cell: RawCell, column: Column | None) -> list[Raw]:
        """A cell's values; ``column`` None for a cell no shape describes (one value)."""
        if cell.error is not None:
            nb, en = cell_error_messages(cell.error)
            raise CellError(
                f"Cellen kan ikke leses: {nb}. Rett formelen eller skriv verdien inn direkte.",
                f"The cell cannot be read: {en}. Fix the formula or type the value in directly.",
            )
        value = cell.value
        if value is None or (isinstance(value, str) and not value.strip()):
            return []
        if isinstance(value, datetime.timedelta):
            raise CellError(
                "Cellen er formatert som en varighet; skriv verdien som tekst, tall eller dato.",
                "The cell is formatted as a duration; write the value as text, number or date.",
            )
        if column is not None and column.multiple and isinstance(value, str):
            return [part for part in _SEPARATORS.split(value.strip()) if part]
        return [value]

    def _term(self, raw: Raw, column: Column, where: CellRef) -> Node | None:
        """One cell value as an RDF term, or a CellError saying what is wrong.

        Remembered per workbook by column and value: a workbook repeats its municipality,
        choices and names in every row (Oslo's 4,713 values are 2,002 different ones), and
        converting each again was a third of its mapping. A value that is an error is not
        remembered (it raises again); a municipality number's warning is given again for
        every cell; a reference is remembered only once the names stop changing."""
        use = column_use(column)
        kind = use.kind
        if kind == "municipality":
            return self._municipality(raw, where)
        if kind == "reference" and not self._names_final:
            return self._convert(raw, column, use)
        key = (id(column), raw.__class__, raw)  # 1, 1.0 and True are different cells
        try:
            return self._made[key]
        except KeyError:
            made = self._made[key] = self._convert(raw, column, use)
            return made

    def _municipality(self, raw: Raw, where: CellRef) -> Node | None:
        key = (0, raw.__class__, raw)
        found = self._municipalities.get(key)
        if found is None:
            parsed = self.register.parse(raw)
            term = None if parsed is None else URIRef(f"{self.base}id/kommune/{parsed[0]}")
            found = self._municipalities[key] = (term, parsed)
        term, parsed = found
        if parsed is not None:
            number, warning = parsed
            if warning is not None:
                self.issue(
                    "warning", warning.message_nb, warning.message_en, where, str(raw), number
                )
        return term

    def _convert(self, raw: Raw, column: Column, use: ColumnUse) -> Node | None:
        """``_term`` of a value not seen before in the column (no municipality)."""
        kind = use.kind
        if kind == "choice":
            return self._choice(raw, column)
        if kind == "reference":
            text = parse_text(raw)
            return None if text is None else self.resolver.resolve(column.target_classes, text)
        if kind == "organisation number":
            organisation = parse_organisation_number(raw)
            return None if organisation is None else Literal(organisation)
        if kind == "address":
            address = parse_email(raw) if use.mail else parse_url(raw)
            return None if address is None else URIRef(address)
        parser = use.parser
        if parser is None:
            text = parse_text(raw)
            return None if text is None else Literal(text, datatype=column.datatype)
        return parser(raw)

    def _choice(self, raw: Raw, column: Column) -> Node | None:
        text = parse_text(raw)
        if text is None:
            return None
        found = choices(column.values).get(normalise(text))
        if found is not None:
            return found
        labels = [self._label(v) for v in column.values]
        raise CellError(
            f"«{text}» er ikke et gyldig valg. Gyldige verdier: {', '.join(labels)}.",
            f"'{text}' is not a valid choice. Valid values: {', '.join(labels)}.",
            ", ".join(labels),
        )

    def _label(self, node: Node) -> str:
        for value in self.ontology.objects(node, SKOS.prefLabel):
            if isinstance(value, Literal) and value.language == "nb":
                return str(value)
        return str(node)

    # -- rows ----------------------------------------------------------------

    def _cells(
        self, reading: SheetReading, row: list[RawCell]
    ) -> list[tuple[Column, RawCell, CellRef]]:
        found = reading.cells.get(id(row))
        if found is None:
            sheet = reading.raw.name
            found = reading.cells[id(row)] = [
                (column, cell, CellRef(sheet, cell.row, cell.column_letter, column.name_nb))
                for position, cell in enumerate(row)
                if (column := reading.columns.get(position)) is not None
            ]
        return found

    def _key(self, term: Node) -> str:
        if isinstance(term, URIRef) and str(term).startswith(self.base + "id/"):
            return str(term)[len(self.base) + 3 :].split("/", 1)[1]
        return _cached_slug(str(term))

    def mint(self, reading: SheetReading, row: list[RawCell]) -> URIRef | None:
        """The subject IRI of a row, from its sheet's IRI template."""
        values: dict[str, Node] = {}
        wanted = reading.key_paths
        keys = self._key_names(reading)
        for column, cell, where in self._cells(reading, row):
            if id(column) in keys:
                try:
                    terms = [self._term(v, column, where) for v in self._values(cell, column)]
                except CellError:
                    # An unknown name still identifies the row (by its text), so that the
                    # rest of the workbook can refer to the row; the unknown name itself is
                    # reported, once, when the row's values are mapped.
                    text = self._provisional_key(cell, column)
                    if text is None:
                        return None
                    terms = [Literal(text)]
                if terms and terms[0] is not None:
                    values[keys[id(column)]] = terms[0]
        if len(values) != len(wanted):
            return None
        local = reading.sheet.iri_template
        for name, term in values.items():
            local = local.replace("{" + name + "}", self._key(term))
        return URIRef(self.base + local)

    def _key_names(self, reading: SheetReading) -> dict[int, str]:
        """The columns (by ``id``) whose values the sheet's IRI template names, each with its
        name there: looked up for every cell of every row, where comparing each column's
        path with the template's (rdflib compares IRIs in Python) cost a tenth of indexing."""
        found = self._keys_of.get(id(reading))
        if found is None:
            wanted = reading.key_paths
            found = self._keys_of[id(reading)] = {
                id(column): wanted[column.path]
                for column in reading.columns.values()
                if isinstance(column.path, URIRef) and column.path in wanted
            }
        return found

    def _provisional_key(self, cell: RawCell, column: Column) -> str | None:
        """The text of a name that does not resolve, when the column refers by name."""
        if column_use(column).kind != "reference":
            return None
        try:
            values = self._values(cell, column)
        except CellError:
            return None
        return parse_text(values[0]) if values else None

    def index(self, readings: list[SheetReading]) -> None:
        """Pass 1: mint every row's subject and make it resolvable by name."""
        order = _dependency_order(readings)
        for reading in order:
            for row in reading.rows:
                subject = self.mint(reading, row)
                first = row[0].row if row else 0
                if subject is None:
                    continue
                place = (reading.raw.name, first)
                if subject in self.first_row:
                    earlier = self.first_row[subject]
                    self.issue(
                        "error",
                        f"Raden beskriver det samme som rad {earlier[1]} i arket «{earlier[0]}» "
                        "(samme navn eller nøkkel). Slå radene sammen eller fjern den ene.",
                        f"The row describes the same thing as row {earlier[1]} of sheet "
                        f"'{earlier[0]}' (same name or key). Merge the rows or remove one.",
                        place,
                    )
                    continue
                self.first_row[subject] = place
                self.subjects[place] = subject
                names = self._names(reading, row, subject)
                self.resolver.add(
                    subject,
                    [reading.sheet.target_class],
                    [n for n, is_name in names if is_name],
                    [n for n, is_name in names if not is_name],
                )

    def _names(
        self, reading: SheetReading, row: list[RawCell], subject: URIRef
    ) -> list[tuple[str, bool]]:
        """What the row is known by, each with whether it is a name (else an id)."""
        found: list[tuple[str, bool]] = []
        naming, applications = self._naming_columns(reading)
        for column, cell, _ in self._cells(reading, row):
            # the same keys a stored node is known by (resolver.KEY_PROPERTIES)
            is_name = naming.get(id(column))
            if is_name is not None and cell.value is not None:
                found += [(str(v), is_name) for v in self._values(cell, column)]
        names: list[str] = []
        if reading.sheet.target_class == _USAGE:
            # a usage is known by its application's name, alone or after the municipality
            key = self._key(subject)
            number, _, application = key.partition("/")
            for name in self._application_names().get(application, ()):
                names += [name, f"{number} {name}"]
            for column, cell, _ in self._cells(reading, row):
                text = self._provisional_key(cell, column) if id(column) in applications else None
                if text is not None and not self.resolver.known(_APPLICATION_CLASS, text):
                    names += [text, f"{number} {text}"]  # unknown, reported on its own cell
        return found + [(name, True) for name in names]

    def _naming_columns(self, reading: SheetReading) -> tuple[dict[int, bool], set[int]]:
        """A sheet's columns (by ``id``) that name its rows, each with whether it is a name
        (else an id), and its columns of an application: asked for every row."""
        found = self._naming_of.get(id(reading))
        if found is None:
            columns = list(reading.columns.values())
            uses = [(column, column_use(column)) for column in columns]
            found = self._naming_of[id(reading)] = (
                {id(c): use.name for c, use in uses if use.name is not None},
                {id(c) for c, use in uses if use.application},
            )
        return found

    def _application_names(self) -> dict[str, list[str]]:
        """Every Application name by its slug, made again only when names were added."""
        added = self.resolver.own_names(_APPLICATION_CLASS)
        if self._by_slug is None or self._by_slug[0] != added:
            by_slug: dict[str, list[str]] = {}
            for name in self.resolver.display_names(_APPLICATION_CLASS):
                by_slug.setdefault(_cached_slug(name), []).append(name)
            self._by_slug = (added, by_slug)
        return self._by_slug[1]

    def map_rows(self, readings: list[SheetReading]) -> None:
        """Pass 2: every cell of every indexed row to triples."""
        self._names_final = True
        triples = self.result.triples
        identified = set(self.first_row.values())
        for reading in readings:
            count = 0
            for row in reading.rows:
                place = (reading.raw.name, row[0].row if row else 0)
                subject = self.subjects.get(place)
                if subject is None:
                    # Cell errors first: a key cell that names something unknown is that
                    # error, with its suggestion, and not also a row "lacking" the value.
                    self._check_cells(reading, row)
                    if place not in identified and not self._reported(place):
                        self.issue(
                            "error",
                            "Raden mangler verdier som trengs for å identifisere den "
                            f"({self._key_columns(reading.sheet)}).",
                            "The row lacks values needed to identify it "
                            f"({self._key_columns(reading.sheet, 'en')}).",
                            place,
                        )
                    continue
                count += 1
                triples[(subject, _TYPE, reading.sheet.target_class)] = None
                self.result.rows[subject] = place
                for column, cell, where in self._cells(reading, row):
                    self.result.cells[(subject, column.path)] = where
                    self._add(subject, column, cell, where)
            self.result.row_counts[reading.raw.name] = count

    def convert_old_contract_ends(self, readings: list[SheetReading]) -> None:
        """Pass 3: an old workbook's contract end cells become contracts, each with a
        warning to move it to the Kontrakter sheet (``loaders.old_contract_end``)."""
        old = [r for r in readings if r.old_contract_end is not None]
        if not old:
            return
        index = Index(self.result.triples, self.context)
        made: list[tuple[Node, Node, Node]] = []
        for reading in old:
            position, header = reading.old_contract_end  # type: ignore[misc]
            for row in reading.rows:
                usage = self.subjects.get((reading.raw.name, row[0].row if row else 0))
                if usage is None or position >= len(row):
                    continue
                cell = row[position]
                where = CellRef(reading.raw.name, cell.row, cell.column_letter, header)
                try:
                    values = self._values(cell, None)
                    converted = (
                        convert(
                            base=self.base,
                            usage=usage,
                            raw=values[0],
                            index=index,
                            slug=_cached_slug,
                        )
                        if values
                        else None
                    )
                except CellError as error:
                    self._cell_issue(error, where, cell)
                    continue
                if converted is None:
                    continue
                made += converted.triples
                contract = converted.contract
                self.result.rows[contract] = (reading.raw.name, row[0].row)
                for path in (SCHEMA.endDate, SCHEMA.startDate, KG.contractor, KG.responsibleRole):
                    self.result.cells[(contract, path)] = where
                self.issue(
                    "warning", converted.message_nb, converted.message_en, where, str(cell.value)
                )
        for triple in made:
            self.result.triples[triple] = None

    def _reported(self, place: tuple[str, int]) -> bool:
        return place in self._error_places

    def _key_columns(self, sheet: Sheet, lang: str = "nb") -> str:
        names = []
        for curie in re.findall(r"\{([^}]+)\}", sheet.iri_template):
            for column in sheet.columns:
                if column.path == expand(curie):
                    names.append(column.name_nb if lang == "nb" else column.name_en)
        return ", ".join(names)

    def _check_cells(self, reading: SheetReading, row: list[RawCell]) -> None:
        """Report cell errors of a row that could not be identified, too."""
        for column, cell, where in self._cells(reading, row):
            try:
                for value in self._values(cell, column):
                    self._term(value, column, where)
            except CellError as error:
                self._cell_issue(error, where, cell)

    def _cell_issue(self, error: CellError, where: CellRef, cell: RawCell) -> None:
        self.issue(
            "error",
            error.message_nb,
            error.message_en,
            where,
            text_of(cell) or None,
            error.suggestion,
        )

    def _add(self, subject: URIRef, column: Column, cell: RawCell, where: CellRef) -> None:
        value = cell.value
        key = (id(column), value.__class__, value)
        remember = cell.error is None and self._names_final
        terms = self._cells_made.get(key) if remember else None
        if terms is None:
            try:
                terms = [
                    term
                    for raw in self._values(cell, column)
                    if (term := self._term(raw, column, where)) is not None
                ]
            except CellError as error:
                self._cell_issue(error, where, cell)
                return
            if remember and column_use(column).kind != "municipality":
                self._cells_made[key] = terms  # a municipality's warning is per cell
        triples = self.result.triples
        path = column.path
        if isinstance(path, URIRef):
            for term in terms:
                triples[(subject, path, term)] = None
            return
        for index, term in enumerate(terms):
            node: Node = subject
            for step, predicate in enumerate(path):
                if step == len(path) - 1:
                    triples[(node, predicate, term)] = None
                else:
                    local = str(predicate).rsplit("#", 1)[-1].rsplit("/", 1)[-1]
                    helper = URIRef(f"{subject}#{local}-{index + 1}")
                    triples[(node, predicate, helper)] = None
                    self.result.rows[helper] = self.result.rows[subject]
                    self.result.cells[(helper, path[step + 1])] = where
                    node = helper


def _dependency_order(readings: list[SheetReading]) -> list[SheetReading]:
    """Sheets whose IRIs are referenced by other sheets' IRI templates come first."""
    by_class = {r.sheet.target_class: r for r in readings}
    ordered: list[SheetReading] = []

    def visit(reading: SheetReading, seen: frozenset[URIRef]) -> None:
        if reading in ordered or reading.sheet.target_class in seen:
            return
        for curie in re.findall(r"\{([^}]+)\}", reading.sheet.iri_template):
            for column in reading.sheet.columns:
                if column.path == expand(curie):
                    for target in column.target_classes:
                        if target in by_class:
                            visit(by_class[target], seen | {reading.sheet.target_class})
        ordered.append(reading)

    for reading in readings:
        visit(reading, frozenset())
    return ordered


def map_workbook(workbook: RawWorkbook, base_iri: str, context: Graph) -> MappedSource:
    """Map a read workbook to RDF, against ``context`` (reference data, the store)."""
    mapper = _Mapper(base_iri, context)
    readings = mapper.read_sheets(workbook)
    mapper.index(readings)
    mapper.map_rows(readings)
    mapper.convert_old_contract_ends(readings)
    return mapper.result
