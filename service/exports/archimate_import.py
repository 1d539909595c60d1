"""An ArchiMate exchange file's application components → a pre-filled workbook.

Why a workbook and never a write: what an architect models in Archi has not been checked
against the shapes, names must be resolved against the catalogue ("did you mean ...?"),
and every write is reviewed and audited. So the import fills the same template
``kommunegraf template`` writes (generated from the shapes) and the architect uploads it
the normal way, where it is validated and, for a municipal token, reviewed.

What is read: every Application Component that is not a national common component (or
another municipality's system, as our own export marks them), its properties (matched by
the names our export gives them, in bokmål or English, and a few common spellings), the
Business Services it serves (→ "Støtter tjenester") and the national components serving it
(→ "Bruker nasjonale komponenter"). A contract end date property becomes a row of the
Kontrakter sheet covering the component (named as the loader names a contract from an old
workbook's contract end column; no start, which is recommended, not required). Columns are
found by their path in the shapes, so a renamed column needs no change here.
"""

from __future__ import annotations

import datetime
import io
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as safe_xml
from openpyxl import load_workbook
from rdflib import URIRef
from rdflib.namespace import RDFS

from loaders.columns import sheet_for_class
from loaders.namespaces import DEFAULT_BASE_IRI, KG, SCHEMA
from loaders.old_contract_end import contract_name
from loaders.template import write_template
from service.exports.archimate import NS, PROPERTIES

XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
MAX_BYTES = 20_000_000
"""An exchange file of a whole region is a few megabytes; anything far larger is refused."""

_OTHERS = ("Annen kommunes system", "Nasjonal felleskomponent")
_CONTRACT_NOTE = "Fra ArchiMate-egenskapen «Avtalen utløper». Start og oppsigelsestid er ukjent."


class ExchangeFileError(ValueError):
    """The file is not an ArchiMate exchange file we can read; the message is bilingual."""


@dataclass
class ImportedApplication:
    name: str
    properties: dict[str, str] = field(default_factory=dict)
    """By our property key (``version``, ``hosting``, ...)."""
    services: list[str] = field(default_factory=list)
    national: list[str] = field(default_factory=list)
    description: str = ""


def _aliases() -> dict[str, str]:
    """Property names (case-folded) → our key: our own names, each half of them, extras."""
    found: dict[str, str] = {}
    for definition in PROPERTIES:
        found[definition.name.casefold()] = definition.key
        for half in definition.name.split(" / "):
            found.setdefault(half.strip().casefold(), definition.key)
    extra = {
        "cost": "cost",
        "annual cost": "cost",
        "kostnad": "cost",
        "lifecycle": "lifecycle",
        "status": "lifecycle",
        "livsløp": "lifecycle",
        "supplier": "vendor",
        "leverandør": "vendor",
        "owner": "owner",
        "users": "users",
        "brukere": "users",
    }
    for name, key in extra.items():
        found.setdefault(name, key)
    return found


def _text(node: Element, tag: str) -> str:
    """The first ``tag`` child's text, preferring bokmål, then any language."""
    children = node.findall(f"{{{NS}}}{tag}")
    for child in children:
        if child.get("{http://www.w3.org/XML/1998/namespace}lang") in ("nb", "no"):
            return (child.text or "").strip()
    return (children[0].text or "").strip() if children else ""


def read_exchange(data: bytes) -> list[ImportedApplication]:
    """The application components of an exchange file, sorted by name.

    Refuses a DTD (no entities are ever expanded) and anything that is not an ArchiMate
    3.x model.
    """
    if len(data) > MAX_BYTES:
        raise ExchangeFileError(
            f"Filen er for stor (over {MAX_BYTES} byte). / The file is too large "
            f"(over {MAX_BYTES} bytes)."
        )
    try:
        root = safe_xml(data, forbid_dtd=True)
    except DefusedXmlException:
        raise ExchangeFileError(
            "Filen har en DTD eller entiteter; det godtas ikke. / The file has a DTD or "
            "entities; that is not accepted."
        ) from None
    except ParseError as error:
        raise ExchangeFileError(
            f"Filen er ikke gyldig XML. / The file is not well-formed XML. ({error})"
        ) from None
    if root.tag != f"{{{NS}}}model":
        raise ExchangeFileError(
            "Filen er ikke en ArchiMate-modell i utvekslingsformatet (rotelementet skal være "
            f"model i {NS}). / The file is not an ArchiMate exchange model (the root element "
            f"must be model in {NS})."
        )
    aliases = _aliases()
    definitions: dict[str, str] = {}
    for definition in root.iter(f"{{{NS}}}propertyDefinition"):
        key = aliases.get(_text(definition, "name").casefold())
        if key is not None:
            definitions[definition.get("identifier", "")] = key
    elements: dict[str, tuple[str, str]] = {}
    applications: dict[str, ImportedApplication] = {}
    for element in root.iter(f"{{{NS}}}element"):
        identifier = element.get("identifier", "")
        kind = element.get(XSI_TYPE, "")
        name = _text(element, "name")
        elements[identifier] = (kind, name)
        if kind != "ApplicationComponent" or not name:
            continue
        properties: dict[str, str] = {}
        holder = element.find(f"{{{NS}}}properties")
        for prop in holder if holder is not None else []:
            key = definitions.get(prop.get("propertyDefinitionRef", ""))
            value = _text(prop, "value")
            if key is not None and value:
                properties[key] = value
        if properties.get("kind", "").startswith(_OTHERS):
            continue
        applications[identifier] = ImportedApplication(
            name, properties, description=_text(element, "documentation")
        )
    for relationship in root.iter(f"{{{NS}}}relationship"):
        if relationship.get(XSI_TYPE) != "Serving":
            continue
        source, target = relationship.get("source", ""), relationship.get("target", "")
        source_kind, source_name = elements.get(source, ("", ""))
        target_kind, target_name = elements.get(target, ("", ""))
        if source in applications and target_kind == "BusinessService" and target_name:
            applications[source].services.append(target_name)
        elif (
            target in applications
            and source_kind == "ApplicationComponent"
            and source not in applications
            and source_name
        ):
            applications[target].national.append(source_name)
    if not applications:
        raise ExchangeFileError(
            "Fant ingen applikasjonskomponenter (ApplicationComponent) i modellen. / "
            "Found no application components in the model."
        )
    return sorted(applications.values(), key=lambda a: (a.name.casefold(), a.name))


_USAGE_COLUMNS = {
    KG.usedBy: "municipality",
    KG.application: "name",
    SCHEMA.softwareVersion: "version",
    KG.hosting: "hosting",
    KG.lifecycleStatus: "lifecycle",
    KG.systemOwner: "owner",
    KG.numberOfUsers: "users",
    KG.annualCost: "cost",
    KG.supportsService: "services",
    KG.usesNationalComponent: "national",
    KG.dataLocation: "location",
}
_CONTRACT_COLUMNS = {
    KG.contractingAuthority: "municipality",
    RDFS.label: "contract name",
    KG.contractor: "vendor",
    KG.covers: "name",
    SCHEMA.endDate: "contract",
    URIRef("http://purl.org/dc/terms/description"): "contract note",
}
"""A component's contract end date becomes a row of the Kontrakter sheet (issue 22)."""
_APPLICATION_COLUMNS = {
    RDFS.label: "name",
    KG.vendor: "vendor",
    KG.applicationCategory: "category",
    URIRef("http://purl.org/dc/terms/description"): "description",
}


def _typed(what: str, text: str) -> str | int | float | datetime.date:
    """Numbers and dates as the spreadsheet's own types, so the loader reads them as typed."""
    try:
        if what == "users":
            return int(text)
        if what == "cost":
            return float(text)
        if what == "contract":
            return datetime.date.fromisoformat(text)
    except ValueError:
        pass  # left as text: the upload reports it with its row and column
    return text


def _value(
    application: ImportedApplication, what: str, kommune: str | None
) -> str | int | float | datetime.date:
    if what == "name":
        return application.name
    if what == "municipality" and kommune:
        return kommune
    if what == "services":
        return "; ".join(dict.fromkeys(application.services))
    if what == "national":
        return "; ".join(dict.fromkeys(application.national))
    if what == "description":
        return application.description
    if what == "contract name":
        return contract_name(application.name)
    if what == "contract note":
        return _CONTRACT_NOTE
    return _typed(what, application.properties.get(what, ""))


def _row(columns: dict[URIRef, str], sheet_class: URIRef) -> list[str | None]:
    return [
        columns.get(c.path) if isinstance(c.path, URIRef) else None
        for c in sheet_for_class(sheet_class).columns
    ]


def workbook_bytes(
    applications: list[ImportedApplication],
    kommune: str | None = None,
    base_iri: str = DEFAULT_BASE_IRI,
) -> bytes:
    """The template with one application row and one portfolio row per component.

    ``kommune`` (a kommunenummer) fills the municipality column; without it, the
    component's "Kommune / Municipality" property does.
    """
    with tempfile.TemporaryDirectory() as folder:
        template = Path(folder) / "mal.xlsx"
        write_template(template, base_iri)
        book = load_workbook(template)
    usage_sheet = sheet_for_class(KG.ApplicationUsage)
    application_sheet = sheet_for_class(KG.Application)
    usage_keys = _row(_USAGE_COLUMNS, KG.ApplicationUsage)
    application_keys = _row(_APPLICATION_COLUMNS, KG.Application)
    contract_sheet = sheet_for_class(KG.Contract)
    contract_keys = _row(_CONTRACT_COLUMNS, KG.Contract)
    seen: set[str] = set()
    for application in applications:
        if application.name not in seen:
            seen.add(application.name)
            book[application_sheet.name_nb[:31]].append(
                [_value(application, k, kommune) if k else None for k in application_keys]
            )
        book[usage_sheet.name_nb[:31]].append(
            [_value(application, k, kommune) if k else None for k in usage_keys]
        )
        if application.properties.get("contract"):
            book[contract_sheet.name_nb[:31]].append(
                [_value(application, k, kommune) if k else None for k in contract_keys]
            )
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
