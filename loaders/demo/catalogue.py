"""The shared catalogue of the demo: kinds of system, products and their vendors.

Product and vendor names of the real products are real, public names; which
municipality uses what is made up (see README.md). Vendor–product attributions are
believed right but were not checked against each vendor. Every vendor
organisasjonsnummer is MADE UP (it only passes the modulus-11 check) and must not
be used to look a company up. Vendors marked ``made_up`` do not exist.

A *kind* is a job a municipality needs a system for; it fixes the template
category, the statutory services a product of that kind supports, the national
components it talks to, and whether a municipality runs one product of the kind
(``exclusive``) or may run several. The kinds are ``kinds.toml`` beside this file.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Kind:
    key: str
    category: str
    """The template's Kategori value (a prefLabel or notation of the category concept)."""
    description_nb: str
    description_en: str
    services: tuple[str, ...]
    """dct:identifier of the statutory services (loaders/reference/statutory-services.ttl)."""
    components: tuple[str, ...] = ()
    """rdfs:label@nb of national components (loaders/reference/national-components.ttl)."""
    exclusive: bool = False
    """A municipality runs one product of this kind (one sak/arkiv, one payroll ...)."""
    owner: str = "IT-sjef"
    base_cost: int = 50_000
    """Rough annual cost (NOK) for a municipality of 10,000 inhabitants; made up."""
    coverage: float = 0.6
    """Share of small municipalities that have a system of this kind; made up."""


@dataclass(frozen=True)
class Vendor:
    name: str
    website: str | None = None
    made_up: bool = False


@dataclass(frozen=True)
class Product:
    name: str
    vendor: str | None
    kind: str
    versions: tuple[str, ...] = ("",)
    cloud: bool = False
    """Sold as SaaS; else installed on premises or run by the vendor."""
    share: float = 1.0
    """Relative market weight when a municipality picks a product of its kind; made up."""
    status: str = "I bruk"
    """Typical lifecycle status (a legacy product is being phased out)."""


KINDS_FILE = Path(__file__).with_name("kinds.toml")
"""The kinds, one ``[[kind]]`` table each: data, kept apart from the code."""


def _kinds(path: Path = KINDS_FILE) -> tuple[Kind, ...]:
    with path.open("rb") as data:
        tables: list[dict[str, Any]] = tomllib.load(data)["kind"]
    lists = ("services", "components")
    return tuple(
        Kind(**{**table, **{key: tuple(table.get(key, ())) for key in lists}}) for table in tables
    )


KINDS: tuple[Kind, ...] = _kinds()

VENDORS: tuple[Vendor, ...] = (
    Vendor("Sikri AS", "https://www.sikri.no"),
    Vendor("Tietoevry Norway AS", "https://www.tietoevry.com"),
    Vendor("ACOS AS", "https://www.acos.no"),
    Vendor("Documaster AS", "https://www.documaster.com"),
    Vendor("Visma Software AS", "https://www.visma.no"),
    Vendor("Visma Enterprise AS", "https://www.visma.no/enterprise"),
    Vendor("Unit4 AS", "https://www.unit4.com"),
    Vendor("Xledger AS", "https://www.xledger.com"),
    Vendor("Framsikt AS", "https://www.framsikt.no"),
    Vendor("Sympa AS", "https://www.sympa.com"),
    Vendor("Jobbnorge AS", "https://www.jobbnorge.no"),
    Vendor("Webcruiter AS", "https://www.webcruiter.no"),
    Vendor("IST Norge AS", "https://www.ist.com"),
    Vendor("Vigilo AS", "https://www.vigilo.no"),
    Vendor("itslearning AS", "https://itslearning.com"),
    Vendor("Google Norway AS", "https://workspace.google.com"),
    Vendor("Microsoft Norge AS", "https://www.microsoft.com/nb-no"),
    Vendor("Kidplan AS", "https://www.kidplan.com"),
    Vendor("MyKid AS", "https://www.mykid.no"),
    Vendor("DIPS AS", "https://www.dips.com"),
    Vendor("CompuGroup Medical Norway AS", "https://www.cgm.com/nor_no"),
    Vendor("Infodoc AS", "https://www.infodoc.no"),
    Vendor("Norkart AS", "https://www.norkart.no"),
    Vendor("Norconsult Digital AS", "https://www.norconsult.no"),
    Vendor("Esri Norge AS", "https://www.esri.no"),
    Vendor("Volue AS", "https://www.volue.com"),
    Vendor("Plania AS", "https://www.plania.no"),
    Vendor("Bibliotek-Systemer AS", "https://www.bibsyst.no"),
    Vendor("Axiell Norge AS", "https://www.axiell.com"),
    Vendor("Enonic AS", "https://www.enonic.com"),
    Vendor("Boost.ai AS", "https://www.boost.ai"),
    Vendor("Compilo AS", "https://www.compilo.no"),
    Vendor("Landax AS", "https://www.landax.no"),
    Vendor("Kommuneforlaget AS", "https://www.kf.no"),
    Vendor("Mercell Norge AS", "https://www.mercell.com"),
    Vendor("Safemate AS", "https://www.safemate.no"),
    Vendor("Dignio AS", "https://www.dignio.com"),
    Vendor("Imatis AS", "https://www.imatis.com"),
    Vendor("Gat AS", "https://www.gat.no"),
    Vendor("Valgdirektoratet", "https://www.valg.no"),
    Vendor("Arbeids- og velferdsdirektoratet", "https://www.nav.no"),
    # Made-up vendors: they do not exist; they stand for the many small suppliers.
    Vendor("Fjordtek Kommunesystemer AS", made_up=True),
    Vendor("Nordvarde Systemer AS", made_up=True),
    Vendor("Polarkode AS", made_up=True),
    Vendor("Lysverk Digital AS", made_up=True),
    Vendor("Skarven Software AS", made_up=True),
    Vendor("Kommunedata Innlandet AS", made_up=True),
)

_V = ("23.1", "23.4", "24.1", "24.3", "25.1")

PRODUCTS: tuple[Product, ...] = (
    Product("Elements", "Sikri AS", "sakarkiv", ("5.2", "5.3", "5.4"), True, 4),
    Product("ePhorte", "Sikri AS", "sakarkiv", ("5.8", "6.0"), False, 1, "Under utfasing"),
    Product("Public 360", "Tietoevry Norway AS", "sakarkiv", ("22.1", "23.1", "24.1"), True, 3),
    Product("Acos WebSak", "ACOS AS", "sakarkiv", ("2022", "2023", "2024"), False, 2),
    Product("Documaster", "Documaster AS", "sakarkiv", ("2024.1", "2025.1"), True, 0.5),
    Product("Visma Enterprise Økonomi", "Visma Enterprise AS", "okonomi", _V, False, 4),
    Product("Unit4 ERP", "Unit4 AS", "okonomi", ("7.4", "7.5", "8.0"), True, 3),
    Product("Xledger", "Xledger AS", "okonomi", ("2024", "2025"), True, 1.5),
    Product("Visma Enterprise Lønn", "Visma Enterprise AS", "lonn", _V, False, 4),
    Product("Unit4 Lønn og personal", "Unit4 AS", "lonn", ("7.4", "7.5", "8.0"), True, 2),
    Product("Sympa HR", "Sympa AS", "lonn", ("2025",), True, 0.5),
    Product("Framsikt", "Framsikt AS", "budsjett", ("2025",), True, 3),
    Product("Gat", "Gat AS", "turnus", ("9.2", "9.3"), False, 2),
    Product("Visma Ressursstyring", "Visma Enterprise AS", "turnus", _V, False, 3),
    Product("Jobbnorge", "Jobbnorge AS", "rekruttering", ("2025",), True, 2),
    Product("Webcruiter", "Webcruiter AS", "rekruttering", ("2025",), True, 2),
    Product(
        "Visma Flyt Skole", "Visma Software AS", "skole", ("2024.3", "2025.1", "2025.2"), True, 5
    ),
    Product("IST Extens", "IST Norge AS", "skole", ("2023", "2024"), False, 2),
    Product("Vigilo Skole", "Vigilo AS", "skole", ("2025",), True, 1),
    Product("itslearning", "itslearning AS", "laering", ("2025",), True, 3),
    Product("Google Workspace for Education", "Google Norway AS", "laering", ("2025",), True, 3),
    Product("Microsoft Teams for utdanning", "Microsoft Norge AS", "laering", ("2025",), True, 2),
    Product(
        "Visma Flyt Barnehage", "Visma Software AS", "barnehage", ("2024.3", "2025.1"), True, 5
    ),
    Product("Vigilo Barnehage", "Vigilo AS", "barnehage", ("2025",), True, 1.5),
    Product("Kidplan", "Kidplan AS", "barnehage", ("2025",), True, 1),
    Product("MyKid", "MyKid AS", "barnehage", ("2025",), True, 1),
    Product("Visma Flyt PPT", "Visma Software AS", "ppt", ("2025.1",), True, 2),
    Product("Acos PPT", "ACOS AS", "ppt", ("2023", "2024"), False, 1),
    Product("Gerica", "Tietoevry Norway AS", "pleie", ("24.1", "24.2", "25.1"), False, 4),
    Product("Visma Profil", "Visma Software AS", "pleie", ("9.14", "9.15", "9.16"), False, 4),
    Product("DIPS Front", "DIPS AS", "pleie", ("2024", "2025"), False, 0.7),
    Product("Visma Flyt Helsestasjon", "Visma Software AS", "helsestasjon", ("2025.1",), True, 3),
    Product("HsPro", "Infodoc AS", "helsestasjon", ("2024", "2025"), False, 2),
    Product(
        "CGM Journal", "CompuGroup Medical Norway AS", "legejournal", ("2024", "2025"), False, 2
    ),
    Product("Infodoc Plenario", "Infodoc AS", "legejournal", ("2024", "2025"), False, 2),
    Product(
        "System X",
        "CompuGroup Medical Norway AS",
        "legejournal",
        ("2.9",),
        False,
        0.5,
        "Under utfasing",
    ),
    Product("Visma Flyt Barnevern", "Visma Software AS", "barnevern", ("2025.1",), True, 3),
    Product("Familia", "ACOS AS", "barnevern", ("2023", "2024"), False, 2),
    Product("Modia sosialhjelp", "Arbeids- og velferdsdirektoratet", "sosial", ("2025",), True, 3),
    Product("Socio", "Visma Software AS", "sosial", ("7.2",), False, 1, "Under utfasing"),
    Product("Komtek Byggesak", "Norkart AS", "byggesak", ("2024", "2025"), True, 2),
    Product("Acos Byggesak", "ACOS AS", "byggesak", ("2024",), False, 1),
    Product("ISY Byggesak", "Norconsult Digital AS", "byggesak", ("2024",), False, 1),
    Product("Norkart Kommunekart", "Norkart AS", "gis", ("2025",), True, 3),
    Product("ISY WinMap", "Norconsult Digital AS", "gis", ("13.1", "13.2"), False, 2),
    Product("ArcGIS", "Esri Norge AS", "gis", ("11.1", "11.3"), False, 1.5),
    Product("QGIS", None, "gis", ("3.34", "3.40"), False, 0.5),
    Product("Gisline", "Norkart AS", "matrikkel", ("2024", "2025"), False, 3),
    Product("ISY Eiendom", "Norconsult Digital AS", "matrikkel", ("2024",), False, 2),
    Product("Komtek Eiendomsskatt", "Norkart AS", "eiendomsskatt", ("2024", "2025"), True, 3),
    Product("Komtek Gebyr", "Norkart AS", "eiendomsskatt", ("2024", "2025"), True, 1),
    Product("Plania", "Plania AS", "fdv", ("10.4", "11.0"), True, 3),
    Product("Gemini VA", "Volue AS", "va", ("8.5", "9.0"), False, 3),
    Product("Komtek VA", "Norkart AS", "va", ("2024",), True, 1),
    Product("Bibliofil", "Bibliotek-Systemer AS", "bibliotek", ("2024", "2025"), True, 4),
    Product("Quria", "Axiell Norge AS", "bibliotek", ("2025",), True, 2),
    Product("Koha", None, "bibliotek", ("23.11", "24.05"), False, 0.7),
    Product("Speedadmin", None, "kulturskole", ("2025",), True, 4),
    Product("Acos Søknadssenter", "ACOS AS", "innbygger", ("2024", "2025"), True, 3),
    Product("Enonic XP", "Enonic AS", "nettsted", ("7.13", "7.14"), True, 2),
    Product("Kommune-Kari", "Boost.ai AS", "chatbot", ("2025",), True, 1),
    Product("Microsoft 365", "Microsoft Norge AS", "kontor", ("2025",), True, 6),
    Product("Google Workspace", "Google Norway AS", "kontor", ("2025",), True, 1),
    Product("Compilo", "Compilo AS", "kvalitet", ("2025",), True, 2),
    Product("Landax", "Landax AS", "kvalitet", ("2025",), True, 2),
    Product("KF Kvalitetsstyring", "Kommuneforlaget AS", "kvalitet", ("2025",), True, 2),
    Product("Mercell", "Mercell Norge AS", "innkjop", ("2025",), True, 3),
    Product("EVA Admin", "Valgdirektoratet", "valg", ("2025",), True, 1),
    Product("Safemate", "Safemate AS", "velferd", ("2025",), True, 2),
    Product("Dignio Prevent", "Dignio AS", "velferd", ("2025",), True, 2),
    Product("Imatis", "Imatis AS", "velferd", ("2024",), False, 1),
    Product("KF Infoserie", "Kommuneforlaget AS", "fagsystem", ("2025",), True, 2),
)


# Made-up niche products: (kind, product name suffix); each is sold by several of the
# made-up vendors, so large municipalities have many small systems to choose from.
NICHE: tuple[tuple[str, str], ...] = (
    ("gravplass", "Gravregister"),
    ("bevilling", "Bevilling"),
    ("landbruk", "Landbruk"),
    ("brann", "Brannforebygging"),
    ("renovasjon", "Renovasjon"),
    ("miljohelse", "Miljøhelse"),
    ("integrering", "Voksenopplæring"),
    ("bolig", "Boligutleie"),
    ("veg", "Vegdrift"),
    ("politikk", "Møteportal"),
    ("vigsel", "Timebestilling"),
    ("beredskap", "Krisestøtte"),
    ("fagsystem", "Tilskuddsforvaltning"),
    ("fagsystem", "Utleie av lokaler"),
    ("fagsystem", "Parkering"),
    ("fagsystem", "Havneforvaltning"),
    ("fagsystem", "Skadedyr og hygiene"),
    ("fagsystem", "Friluftskart"),
    ("fagsystem", "Idrettsanlegg"),
    ("fagsystem", "Frivillighetsregister"),
    ("fagsystem", "Energioppfølging"),
    ("fagsystem", "Kjøretøyflåte"),
    ("fagsystem", "Avtaleregister"),
    ("fagsystem", "Arrangementskalender"),
    ("fagsystem", "Ungdomsråd"),
    ("fagsystem", "Matomsorg"),
    ("fagsystem", "Transporttjeneste"),
    ("fagsystem", "Saksinnsyn"),
    ("fagsystem", "Internkontroll HMS"),
    ("fagsystem", "Nøkkelforvaltning"),
)
MADE_UP_VENDORS = tuple(v.name for v in VENDORS if v.made_up)


def niche_products() -> tuple[Product, ...]:
    """Every made-up niche product: each niche sold by four made-up vendors."""
    found = []
    for index, (kind_key, suffix) in enumerate(NICHE):
        for offset in range(4):
            vendor = MADE_UP_VENDORS[(index + offset) % len(MADE_UP_VENDORS)]
            brand = vendor.split()[0]
            versions = ("1.0", "2.1", "3.0")
            found.append(Product(f"{brand} {suffix}", vendor, kind_key, versions, offset != 1, 1))
    return tuple(found)


def all_products() -> tuple[Product, ...]:
    return PRODUCTS + niche_products()


def kind(key: str) -> Kind:
    return next(k for k in KINDS if k.key == key)
