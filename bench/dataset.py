"""A deterministic, synthetic application-portfolio dataset for the benchmark.

Everything here except the reference data is MADE UP: vendors, applications and
which municipality uses what are drawn from a seeded random generator. The
municipalities are the real ones in loaders/reference/municipalities.ttl, and the
regions are groups of real municipalities modelled on real regional councils and
IT cooperations (their membership is approximate and only serves the benchmark).

Written in the project's vocabulary (ontology/kommunegraf.ttl):

- one named graph per municipality with its kg:ApplicationUsage records
  (kg:usedBy, kg:application, kg:hosting, kg:lifecycleStatus, kg:supportsService,
  kg:usesNationalComponent, ...);
- one graph with the made-up vendors and applications, one with the regions;
- the bundled reference data, one graph per file, in the graphs ``kommunegraf serve``
  loads it into on an empty store, without the PROV records of the load (they carry
  timestamps and blank nodes, which would make the output differ run to run).

Output: ``bench.nq`` (N-Quads, every graph) for kommunegraf and ``oxigraph serve``,
``union.nt`` (N-Triples, the union of the graphs) for rdflib-endpoint, and
``manifest.json`` with the counts and checksums.
"""

from __future__ import annotations

import hashlib
import json
import random
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import pyoxigraph as ox
from rdflib import Graph

from loaders.namespaces import DEFAULT_BASE_IRI
from loaders.paths import reference_dir
from loaders.reference import reference_sources

GENERATOR_VERSION = 2
"""Bump when the generated data changes for the same seed and size."""

BASE = DEFAULT_BASE_IRI
KG = "https://w3id.org/kommunegraf/ontology#"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
ORG = "http://www.w3.org/ns/org#"
DCT = "http://purl.org/dc/terms/"
PROV = "http://www.w3.org/ns/prov#"
SCHEMA = "https://schema.org/"
XSD = "http://www.w3.org/2001/XMLSchema#"

# (ontology concept, IRI slug, Norwegian label, number of products,
#  how many of them one municipality uses: min, max)
CATEGORIES: tuple[tuple[str, str, str, int, int, int], ...] = (
    ("CategoryCaseArchive", "sak-arkiv", "sak/arkiv", 6, 1, 2),
    ("CategoryFinance", "okonomi", "økonomi", 6, 1, 2),
    ("CategoryPayrollHR", "lonn-hr", "lønn/HR", 6, 1, 2),
    ("CategorySchoolAdministration", "skoleadministrasjon", "skoleadministrasjon", 5, 1, 2),
    ("CategoryKindergarten", "barnehage", "barnehage", 5, 1, 2),
    ("CategoryHealthCareRecord", "journal", "helse- og omsorgsjournal", 8, 1, 3),
    ("CategoryChildWelfare", "barnevern", "barnevern", 4, 1, 1),
    ("CategoryBuildingCase", "byggesak", "byggesak", 6, 1, 2),
    ("CategoryGIS", "kart-gis", "kart/GIS", 12, 2, 4),
    ("CategoryEducationPortal", "oppvekstportal", "oppvekstportal", 6, 1, 2),
    ("CategoryLibrary", "bibliotek", "bibliotek", 4, 1, 1),
    ("CategoryCultureSchool", "kulturskole", "kulturskole", 3, 1, 1),
    ("CategoryWaterSewage", "vann-avlop", "vann/avløp", 10, 1, 3),
    ("CategoryPropertyManagement", "eiendom", "eiendomsforvaltning", 12, 1, 3),
    ("CategoryCitizenDialogue", "innbyggerdialog", "innbyggerdialog", 20, 2, 5),
)
OTHER = ("CategoryOther", "annet", "annet")
VENDORS = 40

# Groups of real municipalities (kommunenummer, 2024), after real regional councils
# and IT cooperations. Membership is approximate: the data is synthetic anyway.
REGIONS: dict[str, tuple[str, ...]] = {
    "Vest-Telemark": ("4022", "4028", "4030", "4032", "4034", "4036"),
    "Grenland": ("4001", "4003", "4010", "4012", "4014", "4016"),
    "Kongsbergregionen": ("3303", "3334", "3336", "3338", "4005", "4024", "4026"),
    "Hallingdal": ("3320", "3322", "3324", "3326", "3328", "3330"),
    "Valdres": ("3449", "3450", "3451", "3452", "3453", "3454"),
    "Nord-Gudbrandsdal": ("3431", "3432", "3433", "3434", "3435", "3437"),
    "Midt-Gudbrandsdal": ("3436", "3438", "3439"),
    "Lillehammer-regionen": ("3405", "3440", "3441"),
    "Nord-Østerdal": ("3424", "3426", "3427", "3428", "3429", "3430"),
    "Sør-Østerdal": ("3419", "3420", "3421", "3422", "3423", "3425"),
    "Glåmdalen": ("3401", "3414", "3415", "3416", "3417", "3418"),
    "Hamarregionen": ("3403", "3411", "3412", "3413"),
    "Gjøvikregionen": ("3407", "3442", "3443", "3447", "3448"),
    "Hadeland": ("3234", "3236", "3446"),
    "Indre Østfold": ("3116", "3118", "3120", "3122", "3124"),
    "Follo": ("3207", "3212", "3214", "3216", "3218", "3220"),
    "Øvre Romerike": ("3209", "3228", "3230", "3238", "3240", "3242"),
    "Nedre Romerike": ("3205", "3222", "3224", "3226", "3232"),
    "Setesdal": ("4218", "4219", "4220", "4221", "4222"),
    "Lister": ("4206", "4207", "4225", "4226", "4227", "4228"),
    "Østre Agder": ("4201", "4202", "4203", "4211", "4212", "4213", "4214", "4217"),
    "Kristiansandregionen": ("4204", "4205", "4215", "4216", "4223"),
    "Dalane": ("1101", "1111", "1112", "1114"),
    "Jæren": ("1119", "1120", "1121", "1122"),
    "Haugalandet": ("1106", "1145", "1146", "1149", "1151", "1160", "4611", "4612"),
    "Sunnhordland": ("4613", "4614", "4615", "4616", "4617", "4625"),
    "Hardanger": ("4618", "4619", "4620", "4622"),
    "Nordhordland": ("4628", "4629", "4630", "4631", "4632", "4633", "4634", "4635"),
    "Sogn": ("4638", "4639", "4640", "4641", "4642", "4643", "4644"),
    "Nordfjord": ("4602", "4648", "4649", "4650", "4651"),
    "Søre Sunnmøre": ("1511", "1514", "1515", "1516", "1517", "1520", "1577"),
    "Romsdal": ("1506", "1535", "1539", "1547", "1557", "1579"),
    "Nordmøre": ("1505", "1554", "1560", "1563", "1566", "1573", "1576"),
    "Trondheimsregionen": ("5001", "5028", "5029", "5031", "5035", "5054", "5059"),
    "Værnesregionen": ("5031", "5032", "5033", "5034", "5035", "5036"),
    "Innherred": ("5037", "5038", "5053"),
    "Namdal": ("5007", "5042", "5043", "5044", "5045", "5046", "5047", "5049", "5052", "5060"),
    "Salten": ("1804", "1837", "1838", "1839", "1840", "1841", "1845", "1848", "1875"),
    "Lofoten": ("1856", "1857", "1859", "1860", "1865", "1874"),
    "Vesterålen": ("1851", "1866", "1867", "1868", "1870", "1871"),
    "Sør-Helgeland": ("1811", "1812", "1813", "1815", "1816"),
    "Nord-Troms": ("5536", "5538", "5540", "5542", "5544", "5546"),
    "Midt-Troms": ("5516", "5518", "5520", "5522", "5524", "5526", "5528", "5530"),
    "Øst-Finnmark": ("5605", "5607", "5624", "5626", "5628", "5630", "5632", "5634", "5636"),
    "Vest-Finnmark": ("5601", "5603", "5610", "5612", "5614", "5616", "5618", "5620", "5622"),
}

HOSTING = (
    ("HostingOnPremises", 25),
    ("HostingRegionalIT", 25),
    ("HostingVendor", 20),
    ("HostingSaaS", 30),
)
LIFECYCLE = (
    ("LifecycleInUse", 80),
    ("LifecyclePhasingOut", 8),
    ("LifecyclePlanned", 7),
    ("LifecycleRetired", 5),
)
LOCATION = (("LocationNorway", 70), ("LocationEEA", 25), ("LocationOutsideEEA", 5))
OWNERS = (
    "Kommunalsjef oppvekst",
    "Kommunalsjef helse og omsorg",
    "Økonomisjef",
    "Personalsjef",
    "IKT-leder",
    "Arkivleder",
    "Teknisk sjef",
    "Kultursjef",
    "Plan- og byggesaksleder",
)
EXPECTED_TRIPLES_PER_USAGE = 5 + 0.8 + 0.7 + 0.6 + 0.5 + 0.4 + 1.5 + 0.8 + 0.5
"""Always 5 (type, usedBy, application, hosting, lifecycle), then the optional values
with their probabilities (version .8, owner .7, users .6, cost .5, contract end .4,
services 0-3, national components 0-2 (mean .8), data location .5)."""


@dataclass(frozen=True)
class DatasetInfo:
    seed: int
    target_triples: int
    generator_version: int
    quads: int
    union_triples: int
    graphs: int
    reference_triples: int
    municipalities: int
    regions: int
    region_memberships: int
    vendors: int
    applications: int
    usages: int
    nquads_sha256: str


@dataclass(frozen=True)
class Dataset:
    nquads: Path
    union: Path
    info: DatasetInfo


def slug(text: str) -> str:
    """Lower-case ASCII slug, æ→ae ø→o å→a (the project's convention).

    >>> slug("Øvre Romerike")
    'ovre-romerike'
    """
    text = text.casefold().replace("æ", "ae").replace("ø", "o").replace("å", "a")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "-".join("".join(c if c.isalnum() else " " for c in text).split())


def iri(value: str) -> str:
    return f"<{value}>"


def literal(value: str, *, lang: str | None = None, datatype: str | None = None) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    if lang:
        return f'"{escaped}"@{lang}'
    if datatype:
        return f'"{escaped}"^^<{datatype}>'
    return f'"{escaped}"'


def application_iri(application_slug: str) -> str:
    return f"{BASE}id/applikasjon/{application_slug}"


class _Writer:
    """Collects N-Quads lines and the union of their triples, in a stable order."""

    def __init__(self) -> None:
        self.quads: list[str] = []
        self.triples: dict[str, None] = {}

    def add(self, graph: str, subject: str, predicate: str, obj: str) -> None:
        triple = f"{subject} {iri(predicate)} {obj}"
        self.quads.append(f"{triple} {iri(graph)} .\n")
        self.triples[f"{triple} .\n"] = None

    def add_ntriples(self, graph: str, ntriples: str) -> int:
        count = 0
        for line in ntriples.splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            assert line.endswith(" ."), line
            triple = line[:-2].rstrip()
            self.quads.append(f"{triple} {iri(graph)} .\n")
            self.triples[f"{triple} .\n"] = None
            count += 1
        return count


def _reference_graphs() -> list[tuple[str, Graph]]:
    """Each bundled reference file parsed against the base IRI, with its graph IRI."""
    return [
        (
            source.graph_iri(BASE),
            Graph().parse(source.path, format=source.rdf_format, publicID=BASE),
        )
        for source in reference_sources()
    ]


def _municipalities() -> list[tuple[str, str]]:
    """Current municipalities (those with a county): (number, IRI), by number."""
    store = ox.Store()
    store.load(path=str(reference_dir() / "municipalities.ttl"), base_iri=BASE)
    query = f"""SELECT ?n ?m WHERE {{
        ?m <{KG}municipalityNumber> ?n ; <{KG}county> ?county }} ORDER BY ?n"""
    rows = []
    for solution in store.query(query):  # type: ignore[union-attr]
        number, municipality = solution[0], solution[1]
        assert isinstance(number, ox.Literal) and isinstance(municipality, ox.NamedNode)
        rows.append((number.value, municipality.value))
    return rows


def _subjects_of_type(graphs: Sequence[tuple[str, Graph]], rdf_class: str) -> list[str]:
    from rdflib import RDF, URIRef

    found = {str(s) for _, g in graphs for s in g.subjects(RDF.type, URIRef(rdf_class))}
    return sorted(found)


def _weighted(rng: random.Random, table: Sequence[tuple[str, int]]) -> str:
    return rng.choices([name for name, _ in table], weights=[w for _, w in table])[0]


def _pick(rng: random.Random, items: Sequence[str], weights: Sequence[float], k: int) -> list[str]:
    """``k`` distinct items, weighted, without replacement (Efraimidis-Spirakis)."""
    keyed = sorted(
        ((rng.random() ** (1.0 / w), item) for item, w in zip(items, weights, strict=True)),
        reverse=True,
    )
    return [item for _, item in keyed[:k]]


def _popularity(count: int, skew: float = 1.1) -> list[float]:
    """Zipf-like weights: product 1 is the market leader, the tail is long."""
    return [1.0 / (rank + 1) ** skew for rank in range(count)]


def generate(out_dir: Path, *, seed: int = 42, target_triples: int = 500_000) -> Dataset:
    """Write the dataset into ``out_dir`` (reused when the same seed and size exist)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    nquads, union, manifest = (
        out_dir / "bench.nq",
        out_dir / "union.nt",
        out_dir / "manifest.json",
    )
    if manifest.exists() and nquads.exists() and union.exists():
        info = DatasetInfo(**json.loads(manifest.read_text(encoding="utf-8")))
        if (info.seed, info.target_triples, info.generator_version) == (
            seed,
            target_triples,
            GENERATOR_VERSION,
        ):
            return Dataset(nquads, union, info)

    rng = random.Random(seed)  # noqa: S311 - reproducible data, not secrets
    out = _Writer()

    reference = _reference_graphs()
    reference_triples = sum(
        out.add_ntriples(g, "\n".join(sorted(data.serialize(format="nt").splitlines())))
        for g, data in reference
    )
    services = _subjects_of_type(reference, f"{KG}StatutoryService")
    components = _subjects_of_type(reference, f"{KG}NationalComponent")
    municipalities = _municipalities()
    by_number = dict(municipalities)
    assert services and components and municipalities

    # Regions: real municipality groups.
    regions_graph = f"{BASE}graph/source/bench-regioner"
    _graph_note(out, regions_graph)
    memberships = 0
    for name, members in REGIONS.items():
        region = iri(f"{BASE}id/region/{slug(name)}")
        out.add(regions_graph, region, RDF_TYPE, iri(f"{KG}Region"))
        out.add(regions_graph, region, f"{RDFS}label", literal(name))
        for number in members:
            if number not in by_number:
                raise ValueError(f"region {name}: no current municipality {number}")
            out.add(regions_graph, region, f"{ORG}hasMember", iri(by_number[number]))
            memberships += 1

    # How many usages a municipality has, on average, to reach the target size.
    per_usage = EXPECTED_TRIPLES_PER_USAGE
    core_products = sum(c[3] for c in CATEGORIES)
    budget = target_triples - reference_triples - len(out.quads)
    budget -= (VENDORS * 2) + core_products * 5
    # The core categories alone give each municipality about 25 usages (~115k triples
    # in all): that is the smallest dataset; above it the "other" category fills up.
    mean_usages = max(0, round(budget / (len(municipalities) * per_usage)))
    core_mean = sum((c[4] + c[5]) / 2 for c in CATEGORIES)
    other_products = max(100, round(4 * max(0.0, mean_usages - core_mean)))

    # Made-up vendors and applications.
    catalog_graph = f"{BASE}graph/source/bench-katalog"
    _graph_note(out, catalog_graph)
    vendors = [iri(f"{BASE}id/leverandor/fiktiv-leverandor-{i:02d}") for i in range(1, VENDORS + 1)]
    for i, vendor in enumerate(vendors, start=1):
        out.add(catalog_graph, vendor, RDF_TYPE, iri(f"{KG}Vendor"))
        out.add(catalog_graph, vendor, f"{RDFS}label", literal(f"Fiktiv Leverandør {i:02d} AS"))
    products: list[tuple[str, list[str], list[float], int, int]] = []
    categories = [*CATEGORIES, (*OTHER, other_products, 0, 0)]
    for concept, cat_slug, label, count, low, high in categories:
        slugs = [f"syntetisk-{cat_slug}-{k:02d}" for k in range(1, count + 1)]
        for k, app_slug in enumerate(slugs, start=1):
            app = iri(application_iri(app_slug))
            out.add(catalog_graph, app, RDF_TYPE, iri(f"{KG}Application"))
            out.add(
                catalog_graph, app, f"{RDFS}label", literal(f"Syntetisk {label} {k:02d}", lang="nb")
            )
            out.add(catalog_graph, app, f"{KG}vendor", rng.choice(vendors))
            out.add(catalog_graph, app, f"{KG}applicationCategory", iri(f"{KG}{concept}"))
            out.add(
                catalog_graph,
                app,
                f"{DCT}description",
                literal("Oppdiktet applikasjon for ytelsestest (made up).", lang="nb"),
            )
        products.append((cat_slug, slugs, _popularity(count), low, high))

    # Each municipality's portfolio, in its own graph.
    usages = 0
    for number, municipality in municipalities:
        graph = f"{BASE}graph/source/bench-portefolje-{number}"
        _graph_note(out, graph)
        chosen: list[str] = []
        for _, slugs, weights, low, high in products[:-1]:
            chosen += _pick(rng, slugs, weights, rng.randint(low, high))
        _, other_slugs, other_weights, _, _ = products[-1]
        wanted = round(mean_usages * rng.uniform(0.6, 1.4))
        chosen += _pick(rng, other_slugs, other_weights, max(0, wanted - len(chosen)))
        for app_slug in chosen:
            _usage(out, rng, graph, number, municipality, app_slug, services, components)
            usages += 1

    body = "".join(out.quads).encode("utf-8")
    nquads.write_bytes(body)
    union.write_text("".join(out.triples), encoding="utf-8")
    graphs = len({line.rsplit(" ", 2)[1] for line in out.quads})
    info = DatasetInfo(
        seed=seed,
        target_triples=target_triples,
        generator_version=GENERATOR_VERSION,
        quads=len(out.quads),
        union_triples=len(out.triples),
        graphs=graphs,
        reference_triples=reference_triples,
        municipalities=len(municipalities),
        regions=len(REGIONS),
        region_memberships=memberships,
        vendors=len(vendors),
        applications=sum(len(p[1]) for p in products),
        usages=usages,
        nquads_sha256=hashlib.sha256(body).hexdigest(),
    )
    manifest.write_text(json.dumps(asdict(info), indent=2) + "\n", encoding="utf-8")
    return Dataset(nquads, union, info)


def _graph_note(out: _Writer, graph: str) -> None:
    out.add(graph, iri(graph), RDF_TYPE, iri(f"{PROV}Entity"))
    out.add(
        graph,
        iri(graph),
        f"{RDFS}comment",
        literal("Synthetic benchmark data: made up, not a real portfolio.", lang="en"),
    )


def _usage(
    out: _Writer,
    rng: random.Random,
    graph: str,
    number: str,
    municipality: str,
    app_slug: str,
    services: Sequence[str],
    components: Sequence[str],
) -> None:
    usage = iri(f"{BASE}id/bruk/{number}/{app_slug}")

    def add(predicate: str, obj: str) -> None:
        out.add(graph, usage, predicate, obj)

    add(RDF_TYPE, iri(f"{KG}ApplicationUsage"))
    add(f"{KG}usedBy", iri(municipality))
    add(f"{KG}application", iri(application_iri(app_slug)))
    add(f"{KG}hosting", iri(KG + _weighted(rng, HOSTING)))
    add(f"{KG}lifecycleStatus", iri(KG + _weighted(rng, LIFECYCLE)))
    if rng.random() < 0.8:
        add(f"{SCHEMA}softwareVersion", literal(f"{rng.randint(1, 12)}.{rng.randint(0, 9)}"))
    if rng.random() < 0.7:
        add(f"{KG}systemOwner", literal(rng.choice(OWNERS)))
    if rng.random() < 0.6:
        add(
            f"{KG}numberOfUsers",
            literal(str(rng.randint(1, 500)), datatype=f"{XSD}nonNegativeInteger"),
        )
    if rng.random() < 0.5:
        cost = f"{rng.randint(5, 2000) * 1000}.00"
        add(f"{KG}annualCost", literal(cost, datatype=f"{XSD}decimal"))
    if rng.random() < 0.4:
        date = f"{rng.randint(2025, 2031)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        # a contract of its own covering the usage (issue 22), as the loader makes them
        contract = iri(f"{BASE}id/kontrakt/{number}/avtale-{app_slug}")
        out.add(graph, contract, RDF_TYPE, iri(f"{KG}Contract"))
        out.add(graph, contract, f"{KG}contractingAuthority", iri(municipality))
        out.add(graph, contract, f"{KG}covers", iri(application_iri(app_slug)))
        out.add(graph, contract, f"{SCHEMA}endDate", literal(date, datatype=f"{XSD}date"))
    for service in _sample(rng, services, rng.randint(0, 3)):
        add(f"{KG}supportsService", iri(service))
    for component in _sample(rng, components, rng.choice((0, 0, 1, 1, 2))):
        add(f"{KG}usesNationalComponent", iri(component))
    if rng.random() < 0.5:
        add(f"{KG}dataLocation", iri(KG + _weighted(rng, LOCATION)))


def _sample(rng: random.Random, items: Sequence[str], k: int) -> Iterable[str]:
    return rng.sample(list(items), k) if k else ()
