"""Generate the national demo dataset: spreadsheets in the template format.

``python -m loaders.demo.generate [--scale K] [--out DIR] [--seed N]``

Why spreadsheets and not RDF: the demo must go through the same loaders and SHACL
shapes as a municipality's own upload, so what the demo shows is what the loaders
accept. The output is one shared-catalogue workbook (vendors, applications,
regions) and one workbook per municipality (its portfolio, datasets and
integrations), so every source belongs to one municipality or to the shared
catalogue (per-municipality write scopes) and sources validate in parallel.

Everything is seeded, and the "today" of the data is fixed (``GENERATED_ON``), so
the same seed gives byte-identical workbooks. ``--scale K`` multiplies every
portfolio and dataset list by K with synthetic product copies; for benchmarks only.

Contributors: the workbooks are filled by the functions in ``CONTRIBUTORS``, in
order. Each gets the ``Demo`` and adds rows with ``demo.add(workbook, cls, row)``,
a row being ``{property path: cell value}`` for a sheet defined by the shapes; each
draws from its own random stream (``demo.rng(name)``), so adding one never changes
what the others write. Another part of the demo (e.g. GDPR processing activities)
is one line: ``CONTRIBUTORS.append(loaders.demo.gdpr.add_processing_activities)``.
"""

from __future__ import annotations

import argparse
import datetime
import io
import math
import os
import random
import re
import sys
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from openpyxl import Workbook
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, ORG, RDFS

from loaders.columns import Path as ColumnPath
from loaders.columns import Sheet, sheet_for_class
from loaders.demo import CATALOGUE_FILE
from loaders.demo import DATA_DIR as DEMO_DATA_DIR
from loaders.demo.catalogue import KINDS, VENDORS, Kind, Product, all_products, kind
from loaders.demo.contracts import add_contracts_and_lifecycles
from loaders.demo.datasets import NONE, TEMPLATES, DatasetTemplate
from loaders.demo.gdpr import add_processing_activities
from loaders.demo.regions import POPULATION, REGIONS
from loaders.mapping import slug
from loaders.namespaces import DEFAULT_BASE_IRI, KG, SCHEMA, VCARD
from loaders.reference import reference_graph
from loaders.template import header

DATA_DIR = DEMO_DATA_DIR
GENERATED_ON = datetime.date(2026, 12, 1)
"""The demo's "today": contract end dates are drawn relative to it."""
SEED = 2026
_ZIP_TIME = (2026, 12, 1, 0, 0, 0)

Cell = str | int | float | datetime.date | None
Row = dict[ColumnPath, Cell]


@dataclass(frozen=True)
class Municipality:
    number: str
    name: str
    county: str
    population: int | None
    """Known approximate population (largest municipalities only)."""

    @property
    def file_name(self) -> str:
        return f"kommune-{self.number}-{slug(self.name)}.xlsx"


@dataclass
class Usage:
    """What the portfolio contributor decided, for the contributors after it."""

    product: Product
    kind: Kind
    shared_in: str | None = None
    """The region whose members share this system, if shared."""
    contract_end: datetime.date | None = None
    """When its contract ends (``contracts.py`` makes the contract); None if planned."""

    def ref(self, municipality: Municipality) -> str:
        """How another sheet of the same workbook refers to this usage."""
        return f"{municipality.number} {self.product.name}"


@dataclass
class DemoWorkbook:
    file_name: str
    rows: dict[URIRef, list[Row]] = field(default_factory=dict)

    def row_count(self) -> int:
        return sum(len(rows) for rows in self.rows.values())


@dataclass
class Demo:
    seed: int
    scale: int
    reference: Graph
    municipalities: list[Municipality]
    catalogue: DemoWorkbook
    workbooks: dict[str, DemoWorkbook]
    """Per municipality number."""
    products: list[Product] = field(default_factory=list)
    portfolios: dict[str, list[Usage]] = field(default_factory=dict)
    datasets: dict[str, list[tuple[DatasetTemplate, str, str]]] = field(default_factory=dict)
    """Per municipality: (template, dataset ID, the usage ref it is stored in or "")."""
    region_of: dict[str, str] = field(default_factory=dict)

    def rng(self, name: str) -> random.Random:
        return random.Random(f"{self.seed}:{name}")  # noqa: S311 - reproducible, not secret

    def add(self, workbook: DemoWorkbook, cls: URIRef, row: Row) -> None:
        columns = {c.path for c in sheet_for_class(cls).columns}
        unknown = [p for p in row if p not in columns]
        if unknown:
            raise KeyError(f"no column {unknown} in the sheet for {cls}")
        workbook.rows.setdefault(cls, []).append(row)

    def workbook_of(self, municipality: Municipality) -> DemoWorkbook:
        return self.workbooks[municipality.number]


Contributor = Callable[[Demo], None]


# -- reference look-ups -----------------------------------------------------------


def _municipalities(reference: Graph) -> list[Municipality]:
    found = []
    for subject in reference.subjects(KG.county, None):
        county = reference.value(reference.value(subject, KG.county), KG.countyNumber)
        name = str(reference.value(subject, RDFS.label))
        number = str(reference.value(subject, KG.municipalityNumber))
        plain = _plain_name(name)
        found.append(Municipality(number, plain, str(county), POPULATION.get(plain)))
    return sorted(found, key=lambda m: m.number)


# The Norwegian part of the official names that also have Sami or Kven forms: the
# order of the parts differs between municipalities, so it is written out.
_NORWEGIAN = {
    "Aarborte - Hattfjelldal": "Hattfjelldal",
    "Fauske - Fuossko": "Fauske",
    "Evenes - Evenášši": "Evenes",
    "Sortland - Suortá": "Sortland",
    "Hábmer - Hamarøy": "Hamarøy",
    "Trondheim - Tråante": "Trondheim",
    "Namsos - Nåavmesjenjaelmie": "Namsos",
    "Rosse - Røros": "Røros",
    "Snåase - Snåsa": "Snåsa",
    "Raarvihke - Røyrvik": "Røyrvik",
    "Harstad - Hárstták": "Harstad",
    "Dielddanuorri - Tjeldsund": "Tjeldsund",
    "Loabák - Lavangen": "Lavangen",
    "Storfjord - Omasvuotna - Omasvuono": "Storfjord",
    "Gáivuotna - Kåfjord - Kaivuono": "Kåfjord",
    "Nordreisa - Ráisa - Raisi": "Nordreisa",
    "Hammerfest - Hámmerfeasta": "Hammerfest",
    "Kárášjohka - Karasjok": "Karasjok",
    "Guovdageaidnu - Kautokeino": "Kautokeino",
    "Porsanger - Porsáŋgu - Porsanki": "Porsanger",
    "Deatnu - Tana": "Tana",
    "Unjárga - Nesseby": "Nesseby",
}


def _plain_name(label: str) -> str:
    """The Norwegian name of a municipality whose label also has Sami or Kven forms.

    >>> _plain_name("Snåase - Snåsa"), _plain_name("Trondheim - Tråante")
    ('Snåsa', 'Trondheim')
    >>> _plain_name("Nore og Uvdal")
    'Nore og Uvdal'
    """
    if " - " in label and label not in _NORWEGIAN:
        raise ValueError(f"which part of {label!r} is the Norwegian name? Add it to _NORWEGIAN")
    return _NORWEGIAN.get(label, label)


def _by_name(municipalities: list[Municipality], member: str) -> Municipality:
    name, _, county = member.partition("@")
    found = [m for m in municipalities if m.name == name and (not county or m.county == county)]
    if len(found) != 1:
        raise ValueError(f"region member {member!r} matches {len(found)} municipalities")
    return found[0]


def _legal_labels(reference: Graph, base_iri: str) -> dict[str, str]:
    labels = {}
    prefix = f"{base_iri}id/hjemmel/"
    for subject in reference.subjects(RDFS.label, None):
        if str(subject).startswith(prefix):
            for label in reference.objects(subject, RDFS.label):
                if isinstance(label, Literal) and label.language == "nb":
                    labels[str(subject)[len(prefix) :]] = str(label)
    return labels


# -- contributors -------------------------------------------------------------------


def add_catalogue(demo: Demo) -> None:
    """Vendors, applications and regions: the shared catalogue workbook."""
    for vendor in VENDORS:
        demo.add(
            demo.catalogue,
            KG.Vendor,
            {
                RDFS.label: vendor.name,
                KG.organisationNumber: made_up_organisation_number(vendor.name),
                FOAF.homepage: vendor.website,
            },
        )
    for product in demo.products:
        what = kind(product.kind)
        demo.add(
            demo.catalogue,
            KG.Application,
            {
                RDFS.label: product.name,
                KG.vendor: product.vendor,
                KG.applicationCategory: what.category,
                DCTERMS.description: what.description_nb,
            },
        )
    for region in REGIONS:
        members = [_by_name(demo.municipalities, m) for m in region.members]
        sure = "sikre" if region.confidence == "high" else "de kjente kjernemedlemmene"
        # No semicolon in the text: in a cell it separates values.
        if region.unconfirmed:
            sure += (
                ", men medlemskapet til "
                + " og ".join(m.split("@")[0] for m in region.unconfirmed)
                + " er ikke bekreftet"
            )
        demo.add(
            demo.catalogue,
            KG.Region,
            {
                RDFS.label: region.name,
                ORG.hasMember: "; ".join(m.number for m in members),
                DCTERMS.description: f"{region.description_nb} Medlemmer: {sure}.",
            },
        )


def _portfolio_size(municipality: Municipality, rng: random.Random) -> int:
    """30–150 usages: by approximate population where known, else drawn small."""
    if municipality.population is None:
        return rng.randint(30, 70)
    return max(30, min(150, round(55 + 17 * math.log2(municipality.population / 10_000))))


def _pick(products: Sequence[Product], rng: random.Random) -> Product:
    return rng.choices(list(products), weights=[p.share for p in products])[0]


def add_portfolios(demo: Demo) -> None:
    """Every municipality's application portfolio; region members mostly share systems."""
    rng = demo.rng("portfolio")
    by_kind: dict[str, list[Product]] = {}
    for product in demo.products:
        by_kind.setdefault(product.kind, []).append(product)
    region_choice: dict[tuple[str, str], Product] = {}
    for region in REGIONS:
        for k in KINDS:
            if k.exclusive and k.key in by_kind:
                region_choice[(region.name, k.key)] = _pick(by_kind[k.key], rng)
        for member in region.members:
            demo.region_of.setdefault(_by_name(demo.municipalities, member).number, region.name)
    for municipality in demo.municipalities:
        target = _portfolio_size(municipality, rng) * demo.scale
        cooperation = demo.region_of.get(municipality.number)
        large = (municipality.population or 0) >= 40_000
        usages: list[Usage] = []
        for k in KINDS:
            if not k.exclusive or k.key not in by_kind:
                continue
            if not large and rng.random() > k.coverage:
                continue  # a service gap, or handled by paper and the sak/arkiv system
            shared = region_choice.get((cooperation, k.key)) if cooperation else None
            # Members share the region's sak/arkiv system always, others mostly.
            if shared is not None and (k.key == "sakarkiv" or rng.random() < 0.8):
                usages.append(Usage(shared, k, cooperation))
            else:
                usages.append(Usage(_pick(by_kind[k.key], rng), k))
        used = {u.product.name for u in usages}
        rest = [p for p in demo.products if not kind(p.kind).exclusive and p.name not in used]
        rng.shuffle(rest)
        for product in rest[: max(0, target - len(usages))]:
            usages.append(Usage(product, kind(product.kind)))
        demo.portfolios[municipality.number] = usages
        for usage in usages:
            demo.add(
                demo.workbook_of(municipality),
                KG.ApplicationUsage,
                _usage_row(municipality, usage, rng),
            )


def _usage_row(municipality: Municipality, usage: Usage, rng: random.Random) -> Row:
    product, what = usage.product, usage.kind
    people = municipality.population or rng.randint(1_000, 25_000)
    size = (people / 10_000) ** 0.6
    if usage.shared_in:
        hosting = "regional-it"
    elif product.cloud:
        hosting = "saas"
    else:
        hosting = rng.choice(["on-premises", "vendor"])
    status = product.status
    draw = rng.random()
    if status == "I bruk" and draw < 0.03:
        status = "Planlagt"
    elif status == "I bruk" and draw < 0.07:
        status = "Under utfasing"
    location = "norway"
    if hosting == "saas":
        location = (
            "non-eea"
            if product.vendor == "Google Norway AS"
            else rng.choice(["norway", "norway", "eea"])
        )
    factor = 0.7 if usage.shared_in else 1.0
    cost = round(what.base_cost * size * factor * rng.uniform(0.7, 1.3), -3)
    end = GENERATED_ON + datetime.timedelta(days=rng.randint(30, 5 * 365))
    components = [c for c in what.components if rng.random() < 0.85]
    note = f"Felles løsning i {usage.shared_in}." if usage.shared_in else None
    usage.contract_end = end if status != "Planlagt" else None
    return {
        KG.usedBy: municipality.number,
        KG.application: product.name,
        SCHEMA.softwareVersion: rng.choice(product.versions) or None,
        KG.hosting: hosting,
        KG.lifecycleStatus: status,
        KG.systemOwner: what.owner,
        KG.numberOfUsers: max(2, round(rng.uniform(0.002, 0.02) * people)),
        KG.annualCost: int(cost) if cost > 0 else None,
        KG.supportsService: "; ".join(what.services) or None,
        KG.usesNationalComponent: "; ".join(components) or None,
        KG.dataLocation: location,
        DCTERMS.description: note,
    }


def add_datasets(demo: Demo) -> None:
    """Datasets per municipality: some personal or sensitive, some without legal basis.

    Their catalogue metadata (themes, contact point, distribution, format, licence) is
    drawn from a stream of its own (``dataset-metadata``), so it changes nothing else.
    """
    rng = demo.rng("datasets")
    metadata = demo.rng("dataset-metadata")
    labels = _legal_labels(demo.reference, DEFAULT_BASE_IRI)
    for municipality in demo.municipalities:
        usages = {u.kind.key: u for u in demo.portfolios[municipality.number]}
        municipal = slug(municipality.name)
        wanted = 8 + round(6 * min(1.0, (municipality.population or 5_000) / 60_000))
        chosen = [t for t in TEMPLATES if t.system in usages or rng.random() < 0.2]
        rng.shuffle(chosen)
        in_catalogue = rng.random() < (0.8 if municipality.population else 0.35)
        diligence = 0.9 if municipality.population else metadata.uniform(0.55, 0.9)
        found: list[tuple[DatasetTemplate, str, str]] = []
        for copy in range(1, demo.scale + 1):
            for position, template in enumerate(sorted(chosen[:wanted], key=lambda t: t.key)):
                suffix = "" if copy == 1 else f" {copy}"
                identifier = f"{municipality.number}-{template.key}" + (
                    "" if copy == 1 else f"-{copy}"
                )
                usage = usages.get(template.system)
                stored = usage.ref(municipality) if usage else ""
                found.append((template, identifier, stored))
                row = _dataset_row(
                    municipality,
                    template,
                    identifier,
                    stored,
                    suffix,
                    labels,
                    rng,
                    in_catalogue,
                )
                # Every municipality's first dataset is described completely, so every
                # municipality with datasets has something in its catalogue.
                row |= _catalogue_metadata(
                    template, municipal, metadata, 1.0 if position == 0 else diligence
                )
                demo.add(demo.workbook_of(municipality), KG.Dataset, row)
        demo.datasets[municipality.number] = found


def _dataset_row(
    municipality: Municipality,
    template: DatasetTemplate,
    identifier: str,
    stored: str,
    suffix: str,
    labels: dict[str, str],
    rng: random.Random,
    in_catalogue: bool,
) -> Row:
    processing = [labels[k] for k in template.processing]
    if template.personal != NONE and rng.random() < template.missing_basis:
        processing = []
    published = in_catalogue and template.access == "PUBLIC" and rng.random() < 0.8
    return {
        RDFS.label: f"{template.name_nb}{suffix}",
        DCTERMS.description: template.description_nb,
        DCTERMS.publisher: municipality.number,
        KG.storedIn: stored or None,
        KG.personalData: template.personal,
        DCTERMS.accessRights: template.access,
        KG.legalBasisForProcessing: "; ".join(processing) or None,
        KG.legalBasisForAccess: "; ".join(labels[k] for k in template.access_basis) or None,
        KG.inFellesDatakatalog: "ja" if published else "nei",
        DCTERMS.identifier: identifier,
    }


_LOS = "https://psi.norge.no/los/tema/"
_DATA_THEME = "http://publications.europa.eu/resource/authority/data-theme/"
_LICENCES = ("NLOD_2_0", "NLOD_2_0", "NLOD_2_0", "CC_BY_4_0", "CC0")
"""NLOD is what most Norwegian municipalities publish under; the weights are made up."""


def _catalogue_metadata(
    template: DatasetTemplate, municipal: str, rng: random.Random, diligence: float
) -> Row:
    """What a municipality fills in to publish the dataset, each field with ``diligence``.

    As a diligent municipality would: themes from LOS and the EU data themes, keywords,
    a contact point, and for open (PUBLIC) data a landing page and a distribution with
    an access and a download address, its format and an open licence. Restricted data
    get an access address (where to ask) but no licence; non-public data no
    distribution. Each field is left out with probability ``1 - diligence``, so a
    realistic share of the catalogue has gaps: a dataset without a theme is left out of
    the catalogue, the others score lower in the metadata-quality check.
    """

    def filled() -> bool:
        return rng.random() < diligence

    site = f"https://www.{municipal}.kommune.no/data/{template.key}"
    themes = [_LOS + t for t in template.themes] + [_DATA_THEME + t for t in template.eu_themes]
    row: Row = {
        DCAT.theme: "; ".join(themes) if themes and filled() else None,
        DCAT.keyword: "; ".join(template.keywords) if filled() else None,
        (DCAT.contactPoint, VCARD.hasEmail): f"postmottak@{municipal}.kommune.no"
        if filled()
        else None,
    }
    if template.access == "PUBLIC":
        row |= {
            DCAT.landingPage: site if filled() else None,
            (DCAT.distribution, DCAT.accessURL): f"{site}/last-ned" if filled() else None,
        }
        if row[(DCAT.distribution, DCAT.accessURL)] is not None:
            extension = template.file_type.lower()
            row |= {
                (DCAT.distribution, DCAT.downloadURL): f"{site}/{template.key}.{extension}"
                if filled()
                else None,
                (DCAT.distribution, DCTERMS.format): template.file_type if filled() else None,
                (DCAT.distribution, DCTERMS.license): rng.choice(_LICENCES) if filled() else None,
            }
    elif template.access == "RESTRICTED" and filled():
        row[(DCAT.distribution, DCAT.accessURL)] = f"{site}/be-om-tilgang"
    return row


# Data flows between kinds of system (from, to), where a municipality has both.
FLOWS: tuple[tuple[str, str, str], ...] = (
    ("lonn", "okonomi", "file"),
    ("turnus", "lonn", "file"),
    ("rekruttering", "lonn", "api"),
    ("pleie", "okonomi", "file"),
    ("barnehage", "okonomi", "file"),
    ("kulturskole", "okonomi", "file"),
    ("eiendomsskatt", "okonomi", "file"),
    ("sosial", "okonomi", "file"),
    ("skole", "sakarkiv", "messaging"),
    ("byggesak", "sakarkiv", "api"),
    ("barnevern", "sakarkiv", "messaging"),
    ("innbygger", "sakarkiv", "api"),
    ("matrikkel", "gis", "database"),
    ("gis", "byggesak", "api"),
    ("skole", "laering", "api"),
    ("helsestasjon", "pleie", "manual"),
    ("innkjop", "okonomi", "api"),
    ("politikk", "sakarkiv", "api"),
)
_STORED_FLOWS = {("lonn", "okonomi"): "lonn", ("barnehage", "okonomi"): "barnehageopptak"}


def add_integrations(demo: Demo) -> None:
    """Integrations to national components and between a municipality's systems."""
    rng = demo.rng("integrations")
    for municipality in demo.municipalities:
        usages = demo.portfolios[municipality.number]
        by_kind = {u.kind.key: u for u in usages if u.kind.exclusive}
        dataset_ids = {t.key: i for t, i, _ in demo.datasets[municipality.number]}
        workbook = demo.workbook_of(municipality)
        for usage in usages:
            if not usage.kind.exclusive:
                continue
            for component in usage.kind.components[:2]:
                if rng.random() < 0.5:
                    continue
                messaging = "SvarUt" in component or component == "eFormidling"
                method = "messaging" if messaging else "api"
                demo.add(
                    workbook,
                    KG.Integration,
                    {
                        RDFS.label: f"{usage.product.name} – {component}",
                        KG.integrationSource: usage.ref(municipality),
                        KG.integrationTarget: component,
                        KG.integrationMethod: method,
                    },
                )
        for source, target, method in FLOWS:
            if source in by_kind and target in by_kind and rng.random() < 0.8:
                a, b = by_kind[source], by_kind[target]
                carried = _STORED_FLOWS.get((source, target))
                demo.add(
                    workbook,
                    KG.Integration,
                    {
                        RDFS.label: f"{a.product.name} – {b.product.name}",
                        KG.integrationSource: a.ref(municipality),
                        KG.integrationTarget: b.ref(municipality),
                        KG.integrationMethod: method,
                        KG.transfersDataset: dataset_ids.get(carried) if carried else None,
                    },
                )


CONTRIBUTORS: list[Contributor] = [
    add_catalogue,
    add_portfolios,
    add_datasets,
    add_integrations,
    add_processing_activities,  # loaders/demo/gdpr.py: records of processing, agreements
    add_contracts_and_lifecycles,  # loaders/demo/contracts.py: contracts, dated lifecycles
]


# -- building and writing ---------------------------------------------------------


def made_up_organisation_number(name: str) -> str:
    """A nine-digit number that passes the modulus-11 check; MADE UP, from ``name``.

    >>> made_up_organisation_number("Sikri AS") == made_up_organisation_number("Sikri AS")
    True
    >>> from loaders.cells import parse_organisation_number
    >>> n = made_up_organisation_number("Sikri AS"); parse_organisation_number(n) == n
    True
    """
    rng = random.Random(f"orgnr:{name}")  # noqa: S311 - reproducible, not secret
    weights = (3, 2, 7, 6, 5, 4, 3, 2)
    while True:
        digits = [9, *(rng.randint(0, 9) for _ in range(7))]
        remainder = sum(d * w for d, w in zip(digits, weights, strict=True)) % 11
        check = 0 if remainder == 0 else 11 - remainder
        if check != 10:
            return "".join(map(str, [*digits, check]))


def scaled_products(scale: int) -> list[Product]:
    """The catalogue; at scale K, K copies of each non-exclusive product."""
    products = list(all_products())
    for copy in range(2, scale + 1):
        products += [
            Product(f"{p.name} {copy}", p.vendor, p.kind, p.versions, p.cloud, p.share, p.status)
            for p in all_products()
            if not kind(p.kind).exclusive
        ]
    return products


def build(seed: int = SEED, scale: int = 1, base_iri: str = DEFAULT_BASE_IRI) -> Demo:
    """Run every contributor; nothing is written yet."""
    reference = reference_graph(base_iri)
    municipalities = _municipalities(reference)
    demo = Demo(
        seed,
        scale,
        reference,
        municipalities,
        DemoWorkbook(CATALOGUE_FILE),
        {m.number: DemoWorkbook(m.file_name) for m in municipalities},
        scaled_products(scale),
    )
    for contributor in CONTRIBUTORS:
        contributor(demo)
    return demo


def _write_sheet(book: Workbook, sheet: Sheet, rows: list[Row]) -> None:
    worksheet = book.create_sheet(sheet.name_nb[:31])
    worksheet.append([header(c, "nb") for c in sheet.columns])
    worksheet.append([header(c, "en") for c in sheet.columns])
    for row in rows:
        worksheet.append([row.get(c.path) for c in sheet.columns])


def workbook_bytes(workbook: DemoWorkbook) -> bytes:
    """The xlsx file, byte-identical for identical rows (fixed times in the zip)."""
    book = Workbook(write_only=True)
    book.properties.created = book.properties.modified = datetime.datetime(2026, 12, 1)
    book.properties.creator = "kommunegraf demo generator"
    ordered = sorted(workbook.rows.items(), key=lambda item: sheet_for_class(item[0]).order)
    for cls, rows in ordered:
        _write_sheet(book, sheet_for_class(cls), rows)
    raw = io.BytesIO()
    book.save(raw)
    fixed = io.BytesIO()
    with zipfile.ZipFile(raw) as source, zipfile.ZipFile(fixed, "w", zipfile.ZIP_DEFLATED) as out:
        for info in source.infolist():
            entry = zipfile.ZipInfo(info.filename, _ZIP_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            content = source.read(info.filename)
            if info.filename == "docProps/core.xml":  # openpyxl stamps the time of saving
                content = re.sub(
                    rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>2026-12-01T00:00:00Z", content
                )
            out.writestr(entry, content)
    return fixed.getvalue()


def write(demo: Demo, out: Path) -> list[Path]:
    """Write every workbook to ``out``; workbooks of an earlier run that are gone go.

    Each file is replaced atomically and only when its bytes change, so a server or
    test reading the folder meanwhile never meets a missing or half-written file.
    """
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for workbook in [demo.catalogue, *demo.workbooks.values()]:
        path = out / workbook.file_name
        content = workbook_bytes(workbook)
        if not path.exists() or path.read_bytes() != content:
            partial = path.with_name(path.name + ".partial")
            partial.write_bytes(content)
            os.replace(partial, path)
        written.append(path)
    for old in set(out.glob("*.xlsx")) - set(written):
        old.unlink()
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m loaders.demo.generate",
        description="Lag demodataene / Generate the national demo workbooks.",
    )
    parser.add_argument("--scale", type=int, default=1, help="multiply usages and datasets (K)")
    parser.add_argument("--out", type=Path, default=DATA_DIR, help="output folder")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    if args.scale < 1:
        parser.error("--scale må være minst 1 (must be at least 1)")
    demo = build(args.seed, args.scale)
    written = write(demo, args.out)
    rows = demo.catalogue.row_count() + sum(w.row_count() for w in demo.workbooks.values())
    print(f"{len(written)} arbeidsbøker / workbooks, {rows} rader / rows → {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
