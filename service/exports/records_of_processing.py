"""One municipality's record of processing activities (GDPR Article 30), read and written.

Why a module of its own: the printable page, the spreadsheet download and
``kommunegraf export gdpr`` show the same record. The activities come from the
canned query ``gdpr-record-of-processing``, so the fields, their order and their
nb/en headings are those of that query's header; the agreements' headings are the
column names of the data processing agreement shape. Nothing is defined twice.

The record is read through the backend (deadline, worker processes) by the web
route, or in-process from the store by the CLI; both build the same ``Record``.
"""

from __future__ import annotations

import datetime
import io
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import pyoxigraph as ox
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet
from rdflib import URIRef
from rdflib.namespace import FOAF, RDFS

from loaders.columns import sheet_for_class
from loaders.namespaces import DPV, KG, sparql_prologue
from service.settings import Settings
from service.sparql.canned import ParameterError, canned_queries

if TYPE_CHECKING:
    from service.store.backend import Backend

QUERY = "gdpr-record-of-processing"
XLSX_MEDIA = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EXIT_INVALID = 1

ARTICLE_30: dict[str, str] = {
    "activityName": "1 b",
    "purpose": "1 b",
    "dataSubjects": "1 c",
    "personalData": "1 c",
    "specialCategories": "1 c",
    "criminalOffenceData": "1 c",
    "recipients": "1 d",
    "thirdCountries": "1 e",
    "transferSafeguards": "1 e",
    "retentionPeriod": "1 f",
    "securityMeasures": "1 g",
    "dataProtectionOfficer": "1 a",
}
"""The paragraph of Article 30 each field answers; the controller itself is 30(1)(a)."""

_BOOLEAN_FIELDS = {"criminalOffenceData", "dpiaConducted"}

# The agreement columns, by the property the shape's column is about.
_AGREEMENT_PATHS: dict[str, URIRef] = {
    "agreementName": RDFS.label,
    "processorName": DPV.hasDataProcessor,
    "subProcessors": KG.subProcessor,
    "signedDate": KG.signedDate,
    "expiryDate": KG.expiryDate,
    "document": FOAF.page,
}

_CONTROLLER_QUERY = """
SELECT ?name ?organisationNumber ?homepage WHERE {
  ?kommune a kg:Municipality ; rdfs:label ?name .
  OPTIONAL { ?kommune kg:organisationNumber ?organisationNumber }
  OPTIONAL { ?kommune foaf:homepage ?homepage }
}
LIMIT 1
"""

_AGREEMENTS_QUERY = """
SELECT ?agreement ?agreementName ?processorName
       (GROUP_CONCAT(DISTINCT ?subProcessorName; separator="; ") AS ?subProcessors)
       ?signedDate ?expiryDate ?document
WHERE {
  ?agreement a kg:DataProcessingAgreement ;
             dpv:hasDataController ?kommune ;
             rdfs:label ?agreementName ;
             dpv:hasDataProcessor ?processor .
  FILTER(LANG(?agreementName) = "nb")
  ?processor rdfs:label ?processorName .
  OPTIONAL { ?agreement kg:subProcessor/rdfs:label ?subProcessorName }
  OPTIONAL { ?agreement kg:signedDate ?signedDate }
  OPTIONAL { ?agreement kg:expiryDate ?expiryDate }
  OPTIONAL { ?agreement foaf:page ?document }
}
GROUP BY ?agreement ?agreementName ?processorName ?signedDate ?expiryDate ?document
ORDER BY ?processorName ?agreementName
"""


@dataclass(frozen=True)
class Field:
    """One column of the record: a variable of the query and its headings."""

    name: str
    nb: str
    en: str

    @property
    def article(self) -> str | None:
        return ARTICLE_30.get(self.name)


@dataclass(frozen=True)
class Record:
    kommunenummer: str
    controller: dict[str, str]
    """name, organisationNumber, homepage of the municipality (Art. 30(1)(a))."""
    fields: tuple[Field, ...]
    activities: list[dict[str, str]]
    agreement_fields: tuple[Field, ...]
    agreements: list[dict[str, str]]
    generated: datetime.date

    def display(self, field: Field, row: dict[str, str], lang: str = "nb") -> str:
        """A value as a reader sees it: yes/no for flags, empty when not recorded."""
        value = row.get(field.name, "")
        if field.name in _BOOLEAN_FIELDS:
            yes, no = ("Ja", "Nei") if lang == "nb" else ("Yes", "No")
            return yes if value == "true" else no
        return value


def record_fields() -> tuple[Field, ...]:
    """The record's fields, from the canned query's header (the activity IRI left out)."""
    columns = canned_queries()[QUERY].columns
    return tuple(
        Field(name, text["nb"], text["en"]) for name, text in columns.items() if name != "activity"
    )


def agreement_fields() -> tuple[Field, ...]:
    """The agreement columns, headed as in the Databehandleravtaler sheet."""
    sheet = sheet_for_class(KG.DataProcessingAgreement)
    by_path = {column.path: column for column in sheet.columns}
    return tuple(
        Field(name, by_path[path].name_nb, by_path[path].name_en)
        for name, path in _AGREEMENT_PATHS.items()
    )


def queries(kommunenummer: str, base_iri: str) -> tuple[str, str, str]:
    """(controller, activities, agreements) queries for one municipality.

    Raises ``service.sparql.canned.ParameterError`` unless ``kommunenummer`` is
    four digits; the municipality is bound by VALUES, never pasted as text.
    """
    activities = canned_queries()[QUERY].bind({"kommune": kommunenummer}, base_iri)
    iri = ox.NamedNode(f"{base_iri}id/kommune/{kommunenummer}")
    values = f"VALUES ?kommune {{ {iri} }}\n"

    def bound(template: str) -> str:
        position = template.index("WHERE {") + len("WHERE {")
        return sparql_prologue() + template[:position] + "\n  " + values + template[position:]

    return bound(_CONTROLLER_QUERY), activities, bound(_AGREEMENTS_QUERY)


Select = Callable[[str], Awaitable[list[dict[str, str]]]]


async def read_record(select: Select, kommunenummer: str, base_iri: str) -> Record | None:
    """The record, or None when no municipality has that number."""
    controller_query, activities_query, agreements_query = queries(kommunenummer, base_iri)
    controller = await select(controller_query)
    if not controller:
        return None
    return Record(
        kommunenummer=kommunenummer,
        controller=controller[0],
        fields=record_fields(),
        activities=await select(activities_query),
        agreement_fields=agreement_fields(),
        agreements=await select(agreements_query),
        generated=datetime.date.today(),
    )


# -- the spreadsheet --------------------------------------------------------------

_BOLD = Font(bold=True)
_TITLE = Font(bold=True, size=14)
_WRAP = Alignment(wrap_text=True, vertical="top")


def _text(sheet: Worksheet, row: int, column: int, value: str) -> None:
    """A cell that is always text: a value like "=HYPERLINK(...)" must not become a formula."""
    cell = sheet.cell(row=row, column=column)
    cell.value = value
    cell.data_type = "s"
    cell.alignment = _WRAP


def _table(
    sheet: Worksheet,
    first_row: int,
    fields: tuple[Field, ...],
    rows: Iterator[list[str]],
) -> None:
    for position, field in enumerate(fields, start=1):
        _text(sheet, first_row, position, field.nb)
        _text(sheet, first_row + 1, position, field.en)
        sheet.cell(row=first_row, column=position).font = _BOLD
        sheet.column_dimensions[get_column_letter(position)].width = 28
    for offset, values in enumerate(rows, start=first_row + 2):
        for position, value in enumerate(values, start=1):
            _text(sheet, offset, position, value)
    sheet.freeze_panes = sheet.cell(row=first_row + 2, column=2)


def xlsx_bytes(record: Record) -> bytes:
    """The record as a workbook: the activities on one sheet, the agreements on another."""
    book = Workbook()
    activities = book.active
    assert activities is not None
    activities.title = "Behandlingsprotokoll"
    name = record.controller.get("name", record.kommunenummer)
    _text(activities, 1, 1, f"Protokoll over behandlingsaktiviteter – {name}")
    activities.cell(row=1, column=1).font = _TITLE
    _text(activities, 2, 1, "Record of processing activities (GDPR art. 30)")
    controller = (
        f"Behandlingsansvarlig / Controller: {name} (kommunenummer {record.kommunenummer}"
        + (
            f", org.nr. {record.controller['organisationNumber']}"
            if record.controller.get("organisationNumber")
            else ""
        )
        + ")"
    )
    _text(activities, 3, 1, controller)
    _text(activities, 4, 1, f"Utskrift / Printed: {record.generated.isoformat()}")
    _table(
        activities,
        6,
        record.fields,
        ([record.display(f, row) for f in record.fields] for row in record.activities),
    )
    agreements = book.create_sheet("Databehandleravtaler")
    _text(agreements, 1, 1, f"Databehandleravtaler / Data processing agreements – {name}")
    agreements.cell(row=1, column=1).font = _TITLE
    _table(
        agreements,
        3,
        record.agreement_fields,
        ([row.get(f.name, "") for f in record.agreement_fields] for row in record.agreements),
    )
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def file_name(record: Record) -> str:
    return f"behandlingsprotokoll-{record.kommunenummer}.xlsx"


def write_xlsx(record: Record, path: Path) -> None:
    path.write_bytes(xlsx_bytes(record))


def export_record(kommunenummer: str | None, output: Path, settings: Settings) -> Iterator[str]:
    """``kommunegraf export gdpr``: the record of one municipality as an .xlsx file.

    Reads the store as the catalogue export does (the store itself, or the newest
    snapshot a running server published). Yields the lines to print; raises
    ``ExportError`` with the exit code.
    """
    from service.cli.export import ExportError
    from service.cli.options import on_store
    from service.store.reads import select

    if kommunenummer is None:
        raise ExportError("export gdpr trenger --kommune NNNN (needs --kommune NNNN)")
    if output.suffix.lower() != ".xlsx":
        raise ExportError(f"{output.name}: protokollen skrives som .xlsx (written as .xlsx)")

    async def read(backend: Backend) -> Record | None:
        try:
            return await read_record(partial(select, backend), kommunenummer, settings.base_iri)
        except ParameterError:
            return None

    record = on_store(settings, read)
    if record is None:
        raise ExportError(
            f"Ukjent kommunenummer {kommunenummer!r} (unknown municipality number)",
            EXIT_INVALID,
        )
    write_xlsx(record, output)
    yield (
        f"{len(record.activities)} behandlingsaktiviteter og {len(record.agreements)} "
        f"databehandleravtaler / processing activities and data processing agreements "
        f"→ {output}"
    )
