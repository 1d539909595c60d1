"""Tests of the SHACL shapes in shapes/, the spreadsheet contract of kommunegraf.

The shapes are checked three ways:

- structure: every file parses, the union passes SHACL-SHACL (meta-SHACL), and
  every column (property shape) carries what the spreadsheet template is built
  from: sh:name, sh:description and sh:message in nb and en, sh:order and sh:group;
- behaviour: a small valid graph with every class conforms, and each targeted
  invalid variant of it fails with exactly the expected results
  (focus node, sh:resultPath, constraint component);
- the modulus-11 constraint component against an independent Python check.

Validation runs as the loaders run it: pyshacl, inference "none", the ontology
(if present) as ont_graph; the behaviour tests run on both kinds of data graph
pyshacl 0.40 accepts, an rdflib Graph and a pyoxigraph Store (the ontology is
then loaded into the store: pyshacl cannot mix an ont_graph into a Store).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyoxigraph
import pytest
from pyshacl import validate as pyshacl_validate
from pyshacl.entrypoints import meta_validate
from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.collection import Collection
from rdflib.namespace import RDF, RDFS, SH, SKOS
from rdflib.term import Node

ROOT = Path(__file__).parents[2]
SHAPES_DIR = ROOT / "shapes"
ONTOLOGY_FILE = ROOT / "ontology" / "kommunegraf.ttl"
FIXTURES = Path(__file__).parent / "fixtures"
BASE = "http://127.0.0.1:8000/"

KG = Namespace("https://w3id.org/kommunegraf/ontology#")
KGSH = Namespace("https://w3id.org/kommunegraf/shapes#")
DCAT = Namespace("http://www.w3.org/ns/dcat#")
DCT = Namespace("http://purl.org/dc/terms/")
VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
SCHEMA = Namespace("https://schema.org/")
CV = Namespace("http://data.europa.eu/m8g/")
ELI = Namespace("http://data.europa.eu/eli/ontology#")
ORG = Namespace("http://www.w3.org/ns/org#")

MODULUS11 = KGSH.Modulus11ConstraintComponent
XSD_INTEGER = URIRef("http://www.w3.org/2001/XMLSchema#integer")
MODULUS11_WEIGHTS = (3, 2, 7, 6, 5, 4, 3, 2)

# file -> (node shape, target class, sheet); one node shape per class.
CLASS_FILES: dict[str, tuple[URIRef, URIRef, URIRef]] = {
    "municipality.ttl": (KGSH.MunicipalityShape, KG.Municipality, KGSH.MunicipalitySheet),
    "county.ttl": (KGSH.CountyShape, KG.County, KGSH.CountySheet),
    "region.ttl": (KGSH.RegionShape, KG.Region, KGSH.RegionSheet),
    "vendor.ttl": (KGSH.VendorShape, KG.Vendor, KGSH.VendorSheet),
    "application.ttl": (KGSH.ApplicationShape, KG.Application, KGSH.ApplicationSheet),
    "application-usage.ttl": (
        KGSH.ApplicationUsageShape,
        KG.ApplicationUsage,
        KGSH.UsageSheet,
    ),
    "national-component.ttl": (
        KGSH.NationalComponentShape,
        KG.NationalComponent,
        KGSH.NationalComponentSheet,
    ),
    "statutory-service.ttl": (
        KGSH.StatutoryServiceShape,
        KG.StatutoryService,
        KGSH.ServiceSheet,
    ),
    "dataset.ttl": (KGSH.DatasetShape, KG.Dataset, KGSH.DatasetSheet),
    "legal-basis.ttl": (KGSH.LegalBasisShape, KG.LegalBasis, KGSH.LegalBasisSheet),
    "integration.ttl": (KGSH.IntegrationShape, KG.Integration, KGSH.IntegrationSheet),
    "processing-activity.ttl": (
        KGSH.ProcessingActivityShape,
        KG.ProcessingActivity,
        KGSH.ProcessingSheet,
    ),
    "data-processing-agreement.ttl": (
        KGSH.DataProcessingAgreementShape,
        KG.DataProcessingAgreement,
        KGSH.DpaSheet,
    ),
    "contract.ttl": (KGSH.ContractShape, KG.Contract, KGSH.ContractSheet),
}
SHAPE_FILES = ["common.ttl", *CLASS_FILES]

# The sheet names fixed by the vocabulary design.
SHEET_LABELS: dict[URIRef, tuple[str, str]] = {
    KGSH.MunicipalitySheet: ("Kommuner", "Municipalities"),
    KGSH.CountySheet: ("Fylker", "Counties"),
    KGSH.RegionSheet: ("Regioner", "Regions"),
    KGSH.VendorSheet: ("Leverandører", "Vendors"),
    KGSH.ApplicationSheet: ("Applikasjoner", "Applications"),
    KGSH.UsageSheet: ("Systemportefølje", "Application portfolio"),
    KGSH.NationalComponentSheet: ("Nasjonale komponenter", "National components"),
    KGSH.ServiceSheet: ("Tjenester", "Services"),
    KGSH.DatasetSheet: ("Datasett", "Datasets"),
    KGSH.LegalBasisSheet: ("Hjemler", "Legal bases"),
    KGSH.IntegrationSheet: ("Integrasjoner", "Integrations"),
    KGSH.ProcessingSheet: ("Behandlingsprotokoll", "Records of processing"),
    KGSH.DpaSheet: ("Databehandleravtaler", "Data processing agreements"),
    KGSH.ContractSheet: ("Kontrakter", "Contracts"),
}

SPARQL_PROLOGUE = f"""
BASE <{BASE}>
PREFIX ar: <http://publications.europa.eu/resource/authority/access-right/>
PREFIX cv: <http://data.europa.eu/m8g/>
PREFIX dcat: <http://www.w3.org/ns/dcat#>
PREFIX dct: <http://purl.org/dc/terms/>
PREFIX eli: <http://data.europa.eu/eli/ontology#>
PREFIX kg: <https://w3id.org/kommunegraf/ontology#>
PREFIX lrt: <https://data.norge.no/vocabulary/legal-resource-type#>
PREFIX org: <http://www.w3.org/ns/org#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX schema: <https://schema.org/>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
PREFIX vcard: <http://www.w3.org/2006/vcard/ns#>
PREFIX xsd: <http://www.w3.org/2001/XMLSchema#>
"""

PathKey = URIRef | tuple[Node, ...] | None


def iri(relative: str) -> URIRef:
    """An instance IRI, relative to the test base IRI."""
    return URIRef(BASE + relative)


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    """One sh:ValidationResult, reduced to what the tests compare."""

    focus: Node
    path: PathKey
    component: Node
    severity: Node
    messages: frozenset[Literal]


def parse_shape_file(name: str) -> Graph:
    graph = Graph()
    graph.parse(SHAPES_DIR / name, format="turtle")
    return graph


def load_shapes() -> Graph:
    graph = Graph()
    for name in SHAPE_FILES:
        graph.parse(SHAPES_DIR / name, format="turtle")
    return graph


def load_ontology() -> Graph | None:
    if not ONTOLOGY_FILE.exists():
        return None
    graph = Graph()
    graph.parse(ONTOLOGY_FILE, format="turtle")
    return graph


def load_valid() -> Graph:
    graph = Graph()
    graph.parse(FIXTURES / "valid.ttl", format="turtle", publicID=BASE)
    return graph


def to_store(*graphs: Graph) -> pyoxigraph.Store:
    store = pyoxigraph.Store()
    for graph in graphs:
        store.load(graph.serialize(format="nt", encoding="utf-8"), pyoxigraph.RdfFormat.N_TRIPLES)
    return store


BACKENDS = ["rdflib", "oxigraph"]


def run_validation(
    data: Graph,
    shapes: Graph,
    ontology: Graph | None,
    *,
    backend: str = "rdflib",
    inference: str = "none",
    allow_warnings: bool = False,
) -> tuple[bool, Graph, str]:
    # pyshacl accepts a pyoxigraph.Store at run time; its annotations do not say so
    data_graph: Any = data
    ont_graph = ontology
    if backend == "oxigraph":
        data_graph = to_store(data) if ontology is None else to_store(data, ontology)
        ont_graph = None
    outcome: tuple[bool, Any, str] = pyshacl_validate(
        data_graph,
        shacl_graph=shapes,
        ont_graph=ont_graph,
        inference=inference,
        allow_warnings=allow_warnings,
    )
    conforms, report, text = outcome
    assert isinstance(report, Graph)
    return bool(conforms), report, text


def path_key(report: Graph, path: Node | None) -> PathKey:
    """sh:resultPath as an IRI, a tuple (sequence path) or None (node-level result)."""
    if path is None:
        return None
    if isinstance(path, BNode):
        return tuple(Collection(report, path))
    assert isinstance(path, URIRef)
    return path


def results(report: Graph) -> set[Result]:
    found: set[Result] = set()
    for node in report.subjects(RDF.type, SH.ValidationResult):
        focus = report.value(node, SH.focusNode)
        component = report.value(node, SH.sourceConstraintComponent)
        severity = report.value(node, SH.resultSeverity)
        assert focus is not None and component is not None and severity is not None
        messages = frozenset(
            m for m in report.objects(node, SH.resultMessage) if isinstance(m, Literal)
        )
        found.add(
            Result(
                focus,
                path_key(report, report.value(node, SH.resultPath)),
                component,
                severity,
                messages,
            )
        )
    return found


def literals(graph: Graph, subject: Node, predicate: URIRef) -> list[Literal]:
    return [o for o in graph.objects(subject, predicate) if isinstance(o, Literal)]


def languages(graph: Graph, subject: Node, predicate: URIRef) -> list[str | None]:
    return sorted(
        (lit.language for lit in literals(graph, subject, predicate)), key=lambda x: x or ""
    )


def column_shapes(shapes: Graph) -> list[tuple[Node, Node]]:
    """(node shape, property shape) for every column: sh:property of a class's node shape."""
    pairs: list[tuple[Node, Node]] = []
    for node_shape in shapes.subjects(SH.targetClass, None):
        pairs.extend((node_shape, p) for p in shapes.objects(node_shape, SH.property))
    return pairs


def modulus11_valid(number: str) -> bool:
    """Independent reference implementation of the organisation-number check."""
    digits = [int(c) for c in number]
    remainder = sum(w * d for w, d in zip(MODULUS11_WEIGHTS, digits[:8], strict=True)) % 11
    check = 0 if remainder == 0 else 11 - remainder
    return check != 10 and check == digits[8]


@pytest.fixture(scope="module")
def shapes() -> Graph:
    return load_shapes()


@pytest.fixture(scope="module")
def ontology() -> Graph | None:
    return load_ontology()


# --------------------------------------------------------------------------
# structure of the shapes
# --------------------------------------------------------------------------


def test_no_unexpected_shape_files() -> None:
    assert sorted(p.name for p in SHAPES_DIR.glob("*.ttl")) == sorted(SHAPE_FILES)


@pytest.mark.parametrize("name", SHAPE_FILES)
def test_shape_file_parses(name: str) -> None:
    assert len(parse_shape_file(name)) > 0


def test_union_passes_meta_shacl(shapes: Graph) -> None:
    conforms, _report, text = meta_validate(shapes)
    assert conforms, text
    # The same check as the loaders can ask for it: raises if the shapes are invalid.
    outcome = pyshacl_validate(Graph(), shacl_graph=shapes, meta_shacl=True)
    assert outcome[0]


def test_meta_shacl_rejects_a_broken_shape(shapes: Graph) -> None:
    broken = Graph()
    for triple in shapes:
        broken.add(triple)
    broken.set((KGSH["MunicipalityShape-municipalityNumber"], SH.minCount, Literal("one")))
    conforms, _report, _text = meta_validate(broken)
    assert not conforms


@pytest.mark.parametrize("name", list(CLASS_FILES))
def test_one_node_shape_per_class(name: str) -> None:
    graph = parse_shape_file(name)
    node_shape, target_class, _sheet = CLASS_FILES[name]
    assert list(graph.subjects(SH.targetClass, None)) == [node_shape]
    assert (node_shape, RDF.type, SH.NodeShape) in graph
    assert graph.value(node_shape, SH.targetClass) == target_class
    assert languages(graph, node_shape, RDFS.label) == ["en", "nb"]


@pytest.mark.parametrize("name", list(CLASS_FILES))
def test_every_column_is_annotated(name: str) -> None:
    graph = parse_shape_file(name)
    node_shape, _target_class, sheet = CLASS_FILES[name]
    columns = list(graph.objects(node_shape, SH.property))
    assert columns
    problems: list[str] = []
    for column in columns:
        where = f"{name}: {column}"
        for predicate in (SH.name, SH.description, SH.message):
            langs = languages(graph, column, predicate)
            if langs != ["en", "nb"]:
                problems.append(f"{where}: {predicate} languages {langs}, want en+nb")
        orders = list(graph.objects(column, SH.order))
        if len(orders) != 1 or not (
            isinstance(orders[0], Literal) and orders[0].datatype == XSD_INTEGER
        ):
            problems.append(f"{where}: needs exactly one integer sh:order, has {orders}")
        if list(graph.objects(column, SH.group)) != [sheet]:
            problems.append(f"{where}: sh:group must be {sheet}")
        if graph.value(column, SH.path) is None:
            problems.append(f"{where}: no sh:path")
    assert not problems, "\n".join(problems)


def test_column_orders_are_1_to_n_within_each_sheet(shapes: Graph) -> None:
    by_sheet: dict[Node, list[int]] = {}
    for _node_shape, column in column_shapes(shapes):
        sheet = shapes.value(column, SH.group)
        order = shapes.value(column, SH.order)
        assert sheet is not None and isinstance(order, Literal)
        by_sheet.setdefault(sheet, []).append(int(order))
    assert set(by_sheet) == set(SHEET_LABELS)
    for sheet, orders in by_sheet.items():
        assert sorted(orders) == list(range(1, len(orders) + 1)), (sheet, sorted(orders))


def test_sheets_have_names_and_positions() -> None:
    graph = parse_shape_file("common.ttl")
    groups = set(graph.subjects(RDF.type, SH.PropertyGroup))
    assert groups == set(SHEET_LABELS)
    positions: list[int] = []
    for group, (nb, en) in SHEET_LABELS.items():
        labels = {lit.language: str(lit) for lit in literals(graph, group, RDFS.label)}
        assert labels == {"nb": nb, "en": en}, group
        order = graph.value(group, SH.order)
        assert isinstance(order, Literal)
        positions.append(int(order))
    assert sorted(positions) == list(range(1, len(SHEET_LABELS) + 1))


def test_every_organisation_number_column_has_the_modulus11_check(shapes: Graph) -> None:
    columns = list(shapes.subjects(SH.path, KG.organisationNumber))
    assert len(columns) == 4  # municipality, county, region, vendor
    for column in columns:
        assert shapes.value(column, KGSH.modulus11) == Literal(True), column
        assert shapes.value(column, SH.pattern) == Literal("^[0-9]{9}$"), column


def test_dropdowns_list_every_concept_of_one_scheme(shapes: Graph, ontology: Graph | None) -> None:
    """Each sh:in list is exactly the concepts of one concept scheme of the ontology."""
    if ontology is None:
        pytest.skip("ontology/kommunegraf.ttl not present")
    lrt = "https://data.norge.no/vocabulary/legal-resource-type#"
    dropdowns = 0
    for _node_shape, column in column_shapes(shapes):
        in_list = shapes.value(column, SH["in"])
        if in_list is None:
            continue
        dropdowns += 1
        values = list(Collection(shapes, in_list))
        assert all(isinstance(v, URIRef) for v in values), column
        if all(str(v).startswith(lrt) for v in values):
            continue  # dct:type of legal bases: the legal-resource-type vocabulary
        for value in values:
            assert (value, RDF.type, SKOS.Concept) in ontology, value
        schemes = {ontology.value(v, SKOS.inScheme) for v in values}
        assert len(schemes) == 1, (column, schemes)
        [scheme] = schemes
        assert set(ontology.subjects(SKOS.inScheme, scheme)) == set(values), column
        assert len(set(values)) == len(values), column
    assert dropdowns == 17  # 10 (a distribution's format and licence too), 7 in the GDPR sheets


def test_kg_terms_used_by_the_shapes_exist_in_the_ontology(
    shapes: Graph, ontology: Graph | None
) -> None:
    if ontology is None:
        pytest.skip("ontology/kommunegraf.ttl not present")
    used: set[Node] = set()
    for predicate in (SH.path, SH.targetClass, SH["class"]):
        used.update(shapes.objects(None, predicate))
    kg_terms = {t for t in used if isinstance(t, URIRef) and t.startswith(str(KG))}
    missing = sorted(t for t in kg_terms if (t, None, None) not in ontology)
    assert not missing


# --------------------------------------------------------------------------
# behaviour: valid and invalid examples
# --------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_valid_examples_conform(backend: str, shapes: Graph, ontology: Graph | None) -> None:
    data = load_valid()
    # every class has at least one instance in the fixture
    for _shape, target_class, _sheet in CLASS_FILES.values():
        assert (None, RDF.type, target_class) in data, target_class
    conforms, report, text = run_validation(data, shapes, ontology, backend=backend)
    assert conforms, text
    assert not results(report)


def test_valid_examples_conform_with_rdfs_inference(shapes: Graph, ontology: Graph | None) -> None:
    if ontology is None:
        pytest.skip("ontology/kommunegraf.ttl not present")
    conforms, _report, text = run_validation(load_valid(), shapes, ontology, inference="rdfs")
    assert conforms, text


@dataclass(frozen=True)
class Case:
    id: str
    update: str
    expected: frozenset[tuple[Node, PathKey, Node]]


def case(id: str, update: str, *expected: tuple[Node, PathKey, Node]) -> Any:
    return pytest.param(Case(id, update, frozenset(expected)), id=id)


MUNICIPALITY = iri("id/kommune/4203")
USAGE = iri("id/bruk/4203/eksempel-barnehage")
DATASET = iri("id/datasett/4203/barnehageplasser")
CONTACT_EMAIL = (DCAT.contactPoint, VCARD.hasEmail)
ACT = URIRef("https://lovdata.no/eli/lov/2005/06/17/64")
SECTION = iri("id/hjemmel/barnehageloven-12")
SERVICE = iri("id/tjeneste/barnehageplass")
INTEGRATION = iri("id/integrasjon/4203/barnehage-id-porten")
CONTRACT = iri("id/kontrakt/4203/avtale-eksempel-barnehage-2023")

INVALID_CASES = [
    case(
        "municipality-number-three-digits",
        """DELETE DATA { <id/kommune/4203> kg:municipalityNumber "4203" } ;
           INSERT DATA { <id/kommune/4203> kg:municipalityNumber "420" }""",
        (MUNICIPALITY, KG.municipalityNumber, SH.PatternConstraintComponent),
    ),
    case(
        "municipality-number-as-integer",
        """DELETE DATA { <id/kommune/4203> kg:municipalityNumber "4203" } ;
           INSERT DATA { <id/kommune/4203> kg:municipalityNumber 4203 }""",
        (MUNICIPALITY, KG.municipalityNumber, SH.DatatypeConstraintComponent),
    ),
    case(
        "municipality-without-number",
        """DELETE DATA { <id/kommune/4203> kg:municipalityNumber "4203" }""",
        (MUNICIPALITY, KG.municipalityNumber, SH.MinCountConstraintComponent),
    ),
    case(
        "organisation-number-wrong-check-digit",
        """DELETE DATA { <id/kommune/4203> kg:organisationNumber "940493021" } ;
           INSERT DATA { <id/kommune/4203> kg:organisationNumber "991825828" }""",
        (MUNICIPALITY, KG.organisationNumber, MODULUS11),
    ),
    case(
        "vendor-organisation-number-wrong-check-digit",
        """DELETE DATA { <id/leverandor/987654325> kg:organisationNumber "987654325" } ;
           INSERT DATA { <id/leverandor/987654325> kg:organisationNumber "987654321" }""",
        (iri("id/leverandor/987654325"), KG.organisationNumber, MODULUS11),
    ),
    case(
        "organisation-number-eight-digits-is-a-pattern-error-only",
        """DELETE DATA { <id/fylke/42> kg:organisationNumber "921707134" } ;
           INSERT DATA { <id/fylke/42> kg:organisationNumber "92170713" }""",
        (iri("id/fylke/42"), KG.organisationNumber, SH.PatternConstraintComponent),
    ),
    case(
        "county-number-three-digits",
        """DELETE DATA { <id/fylke/42> kg:countyNumber "42" } ;
           INSERT DATA { <id/fylke/42> kg:countyNumber "042" }""",
        (iri("id/fylke/42"), KG.countyNumber, SH.PatternConstraintComponent),
    ),
    case(
        "municipality-with-county-and-successor",
        """INSERT DATA { <id/kommune/0906> kg:county <id/fylke/42> }""",
        (iri("id/kommune/0906"), None, SH.XoneConstraintComponent),
    ),
    case(
        "municipality-with-neither-county-nor-successor",
        """DELETE DATA { <id/kommune/4203> kg:county <id/fylke/42> }""",
        (MUNICIPALITY, None, SH.XoneConstraintComponent),
    ),
    case(
        "municipality-with-two-counties",
        """INSERT DATA { <id/fylke/40> a kg:County ; kg:countyNumber "40" ;
                           rdfs:label "Telemark" .
                         <id/kommune/4203> kg:county <id/fylke/40> }""",
        (MUNICIPALITY, KG.county, SH.MaxCountConstraintComponent),
    ),
    case(
        "region-without-members",
        """DELETE DATA { <id/region/ostre-agder> org:hasMember <id/kommune/4203> }""",
        (iri("id/region/ostre-agder"), ORG.hasMember, SH.MinCountConstraintComponent),
    ),
    case(
        "application-with-unknown-category",
        """DELETE DATA { <id/applikasjon/eksempel-barnehage>
                             kg:applicationCategory kg:CategoryKindergarten } ;
           INSERT DATA { <id/applikasjon/eksempel-barnehage>
                             kg:applicationCategory kg:CategoryGames }""",
        (
            iri("id/applikasjon/eksempel-barnehage"),
            KG.applicationCategory,
            SH.InConstraintComponent,
        ),
    ),
    case(
        "bad-hosting-value",
        """DELETE DATA { <id/bruk/4203/eksempel-barnehage> kg:hosting kg:HostingSaaS } ;
           INSERT DATA { <id/bruk/4203/eksempel-barnehage> kg:hosting "SaaS" }""",
        (USAGE, KG.hosting, SH.InConstraintComponent),
    ),
    case(
        "usage-without-hosting",
        """DELETE DATA { <id/bruk/4203/eksempel-barnehage> kg:hosting kg:HostingSaaS }""",
        (USAGE, KG.hosting, SH.MinCountConstraintComponent),
    ),
    case(
        "negative-cost",
        """DELETE DATA { <id/bruk/4203/eksempel-barnehage> kg:annualCost 350000.00 } ;
           INSERT DATA { <id/bruk/4203/eksempel-barnehage> kg:annualCost "-1.50"^^xsd:decimal }""",
        (USAGE, KG.annualCost, SH.MinInclusiveConstraintComponent),
    ),
    case(
        "negative-number-of-users",
        """DELETE DATA { <id/bruk/4203/eksempel-barnehage>
                             kg:numberOfUsers "120"^^xsd:nonNegativeInteger } ;
           INSERT DATA { <id/bruk/4203/eksempel-barnehage> kg:numberOfUsers -5 }""",
        (USAGE, KG.numberOfUsers, SH.MinInclusiveConstraintComponent),
    ),
    case(
        "number-of-users-as-text",
        """DELETE DATA { <id/bruk/4203/eksempel-barnehage>
                             kg:numberOfUsers "120"^^xsd:nonNegativeInteger } ;
           INSERT DATA { <id/bruk/4203/eksempel-barnehage> kg:numberOfUsers "ca. 120" }""",
        (USAGE, KG.numberOfUsers, SH.OrConstraintComponent),
        (USAGE, KG.numberOfUsers, SH.MinInclusiveConstraintComponent),
    ),
    case(
        "contract-end-not-a-date",
        """DELETE DATA { <id/kontrakt/4203/avtale-eksempel-barnehage-2023>
                             schema:endDate "2027-12-31"^^xsd:date } ;
           INSERT DATA { <id/kontrakt/4203/avtale-eksempel-barnehage-2023>
                             schema:endDate "31.12.2027" }""",
        (CONTRACT, SCHEMA.endDate, SH.DatatypeConstraintComponent),
        # a text is no date, so it is not before or after the other dates either
        (CONTRACT, SCHEMA.startDate, SH.LessThanConstraintComponent),
        (CONTRACT, SCHEMA.endDate, SH.LessThanConstraintComponent),
    ),
    case(
        "phase-out-before-in-use",
        """DELETE DATA { <id/bruk/4203/eksempel-arkiv> kg:phaseOutDate "2026-06-01"^^xsd:date } ;
           INSERT DATA { <id/bruk/4203/eksempel-arkiv> kg:phaseOutDate "2011-01-01"^^xsd:date }""",
        (iri("id/bruk/4203/eksempel-arkiv"), KG.inUseDate, SH.LessThanConstraintComponent),
    ),
    case(
        "successor-not-an-application",
        """DELETE DATA { <id/bruk/4203/eksempel-arkiv>
                             kg:plannedSuccessor <id/applikasjon/eksempel-barnehage> } ;
           INSERT DATA { <id/bruk/4203/eksempel-arkiv>
                             kg:plannedSuccessor <id/applikasjon/finnes-ikke> }""",
        (iri("id/bruk/4203/eksempel-arkiv"), KG.plannedSuccessor, SH.ClassConstraintComponent),
    ),
    case(
        "contract-ends-before-it-starts",
        """DELETE DATA { <id/kontrakt/4203/avtale-eksempel-barnehage-2023>
                             schema:endDate "2027-12-31"^^xsd:date } ;
           INSERT DATA { <id/kontrakt/4203/avtale-eksempel-barnehage-2023>
                             schema:endDate "2022-12-31"^^xsd:date }""",
        (CONTRACT, SCHEMA.startDate, SH.LessThanConstraintComponent),
    ),
    case(
        "contract-notice-period-negative",
        """DELETE DATA { <id/kontrakt/4203/avtale-eksempel-barnehage-2023>
                             kg:noticePeriodMonths "6"^^xsd:nonNegativeInteger } ;
           INSERT DATA { <id/kontrakt/4203/avtale-eksempel-barnehage-2023>
                             kg:noticePeriodMonths -3 }""",
        (CONTRACT, KG.noticePeriodMonths, SH.MinInclusiveConstraintComponent),
    ),
    case(
        "usage-without-used-by",
        """DELETE DATA { <id/bruk/4203/eksempel-barnehage> kg:usedBy <id/kommune/4203> }""",
        (USAGE, KG.usedBy, SH.MinCountConstraintComponent),
    ),
    case(
        "usage-used-by-a-county",
        """DELETE DATA { <id/bruk/4203/eksempel-barnehage> kg:usedBy <id/kommune/4203> } ;
           INSERT DATA { <id/bruk/4203/eksempel-barnehage> kg:usedBy <id/fylke/42> }""",
        (USAGE, KG.usedBy, SH.ClassConstraintComponent),
    ),
    case(
        "usage-supports-an-untyped-service",
        """INSERT DATA { <id/bruk/4203/eksempel-barnehage>
                             kg:supportsService <id/tjeneste/finnes-ikke> }""",
        (USAGE, KG.supportsService, SH.ClassConstraintComponent),
    ),
    case(
        "service-theme-not-from-los",
        """INSERT DATA {
             <http://publications.europa.eu/resource/authority/data-theme/EDUC> a skos:Concept .
             <id/tjeneste/barnehageplass> cv:thematicArea
                 <http://publications.europa.eu/resource/authority/data-theme/EDUC> }""",
        (SERVICE, CV.thematicArea, SH.PatternConstraintComponent),
    ),
    case(
        "service-without-legal-basis",
        """DELETE DATA { <id/tjeneste/barnehageplass>
                             cv:hasLegalResource <id/hjemmel/barnehageloven-12> }""",
        (SERVICE, CV.hasLegalResource, SH.MinCountConstraintComponent),
    ),
    case(
        "service-name-without-language",
        """DELETE DATA { <id/tjeneste/barnehageplass> rdfs:label "Barnehageplass"@nb } ;
           INSERT DATA { <id/tjeneste/barnehageplass> rdfs:label "Barnehageplass" }""",
        (SERVICE, RDFS.label, SH.DatatypeConstraintComponent),
        (SERVICE, RDFS.label, SH.QualifiedMinCountConstraintComponent),
    ),
    case(
        "service-with-two-names-in-one-language",
        """INSERT DATA { <id/tjeneste/barnehageplass> rdfs:label "Plass i barnehage"@nb }""",
        (SERVICE, RDFS.label, SH.UniqueLangConstraintComponent),
    ),
    case(
        "contact-email-not-mailto",
        """DELETE { ?contact vcard:hasEmail ?email }
           INSERT { ?contact vcard:hasEmail <https://www.arendal.kommune.no/kontakt> }
           WHERE { <id/datasett/4203/barnehageplasser> dcat:contactPoint ?contact .
                   ?contact vcard:hasEmail ?email }""",
        (DATASET, CONTACT_EMAIL, SH.PatternConstraintComponent),
    ),
    case(
        "contact-email-as-text",
        """DELETE { ?contact vcard:hasEmail ?email }
           INSERT { ?contact vcard:hasEmail "postmottak@arendal.kommune.no" }
           WHERE { <id/datasett/4203/barnehageplasser> dcat:contactPoint ?contact .
                   ?contact vcard:hasEmail ?email }""",
        (DATASET, CONTACT_EMAIL, SH.NodeKindConstraintComponent),
        (DATASET, CONTACT_EMAIL, SH.PatternConstraintComponent),
    ),
    case(
        "dataset-without-publisher",
        """DELETE DATA { <id/datasett/4203/barnehageplasser> dct:publisher <id/kommune/4203> }""",
        (DATASET, DCT.publisher, SH.MinCountConstraintComponent),
    ),
    case(
        "dataset-with-unknown-access-right",
        """DELETE DATA { <id/datasett/4203/barnehageplasser> dct:accessRights ar:NON_PUBLIC } ;
           INSERT DATA { <id/datasett/4203/barnehageplasser> dct:accessRights ar:OPEN }""",
        (DATASET, DCT.accessRights, SH.InConstraintComponent),
    ),
    case(
        "dataset-distribution-access-url-not-http",
        """DELETE { ?dist dcat:accessURL ?url }
           INSERT { ?dist dcat:accessURL <ftp://data.arendal.kommune.no/barnehage> }
           WHERE { <id/datasett/4203/barnehageplasser> dcat:distribution ?dist .
                   ?dist dcat:accessURL ?url }""",
        (DATASET, (DCAT.distribution, DCAT.accessURL), SH.PatternConstraintComponent),
    ),
    case(
        "legal-basis-act-that-is-also-a-section",
        """INSERT DATA { <https://lovdata.no/eli/lov/2005/06/17/64> kg:section "1" ;
                             eli:is_part_of <id/hjemmel/barnehageloven-12> }""",
        (ACT, None, SH.XoneConstraintComponent),
    ),
    case(
        "legal-basis-section-without-section-number",
        """DELETE DATA { <id/hjemmel/barnehageloven-12> kg:section "12" }""",
        (SECTION, None, SH.XoneConstraintComponent),
    ),
    case(
        "legal-basis-section-with-paragraph-sign",
        """DELETE DATA { <id/hjemmel/barnehageloven-12> kg:section "12" } ;
           INSERT DATA { <id/hjemmel/barnehageloven-12> kg:section "§ 12" }""",
        (SECTION, KG.section, SH.PatternConstraintComponent),
    ),
    case(
        "legal-basis-of-unknown-type",
        """DELETE DATA { <https://lovdata.no/eli/lov/2005/06/17/64> dct:type lrt:act } ;
           INSERT DATA { <https://lovdata.no/eli/lov/2005/06/17/64> dct:type lrt:decision }""",
        (ACT, DCT.type, SH.InConstraintComponent),
    ),
    case(
        "integration-target-is-a-dataset",
        """DELETE DATA { <id/integrasjon/4203/barnehage-id-porten>
                             kg:integrationTarget <id/nasjonal-komponent/id-porten> } ;
           INSERT DATA { <id/integrasjon/4203/barnehage-id-porten>
                             kg:integrationTarget <id/datasett/4203/barnehageplasser> }""",
        (INTEGRATION, KG.integrationTarget, SH.OrConstraintComponent),
    ),
    case(
        "integration-without-source",
        """DELETE DATA { <id/integrasjon/4203/barnehage-id-porten>
                             kg:integrationSource <id/bruk/4203/eksempel-barnehage> }""",
        (INTEGRATION, KG.integrationSource, SH.MinCountConstraintComponent),
    ),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("bad", INVALID_CASES)
def test_invalid_example_fails_where_expected(
    bad: Case, backend: str, shapes: Graph, ontology: Graph | None
) -> None:
    data = load_valid()
    before = set(data)
    data.update(SPARQL_PROLOGUE + bad.update)
    assert set(data) != before, "the update changed nothing"
    conforms, report, text = run_validation(data, shapes, ontology, backend=backend)
    assert not conforms
    found = results(report)
    assert {(r.focus, r.path, r.component) for r in found} == bad.expected, text
    for result in found:
        assert result.severity == SH.Violation, text
        langs = {m.language for m in result.messages}
        assert {"nb", "en"} <= langs, f"result without nb+en message:\n{text}"


def test_missing_recommended_values_are_warnings(shapes: Graph, ontology: Graph | None) -> None:
    data = load_valid()
    data.update(
        SPARQL_PROLOGUE
        + """DELETE WHERE { <id/bruk/4203/eksempel-barnehage> schema:softwareVersion ?v } ;
             DELETE WHERE { <id/integrasjon/4203/barnehage-id-porten> rdfs:label ?l } ;
             DELETE WHERE { <id/kontrakt/4203/avtale-eksempel-barnehage-2023>
                                kg:contractor ?vendor ; schema:startDate ?start }"""
    )
    conforms, report, text = run_validation(data, shapes, ontology)
    assert not conforms
    assert {(r.focus, r.path, r.component, r.severity) for r in results(report)} == {
        (USAGE, SCHEMA.softwareVersion, SH.MinCountConstraintComponent, SH.Warning),
        (INTEGRATION, RDFS.label, SH.MinCountConstraintComponent, SH.Warning),
        # issue 22: a contract from an old workbook's contract end column has neither
        (CONTRACT, KG.contractor, SH.MinCountConstraintComponent, SH.Warning),
        (CONTRACT, SCHEMA.startDate, SH.MinCountConstraintComponent, SH.Warning),
    }, text
    conforms, _report, text = run_validation(data, shapes, ontology, allow_warnings=True)
    assert conforms, text


# --------------------------------------------------------------------------
# the modulus-11 constraint component
# --------------------------------------------------------------------------


def test_modulus11_reference_implementation() -> None:
    for good in ("991825827", "974760673", "971032146", "940493021", "910000020"):
        assert modulus11_valid(good), good
    for bad in ("991825828", "974760674", "910000080", "910000089"):
        assert not modulus11_valid(bad), bad


# On an rdflib graph pyshacl re-parses the validator's query for every value
# (about 0.1 s each), so the rdflib run gets a smaller sample.
@pytest.mark.parametrize(("backend", "sample_size"), [("rdflib", 20), ("oxigraph", 150)])
def test_modulus11_component_agrees_with_python(
    backend: str, sample_size: int, shapes: Graph, ontology: Graph | None
) -> None:
    rng = random.Random(20240101)  # noqa: S311 - test data, not cryptography
    numbers = {f"{rng.randrange(10**8, 10**9):09d}" for _ in range(sample_size)}
    # the published examples, a check digit 0 (remainder 0) and check digits 10 (never valid)
    numbers |= {"991825827", "974760673", "971032146", "910000020", "910000080", "910000085"}
    # make sure both outcomes are well represented: add valid numbers
    for prefix in range(80000000, 80000000 + sample_size // 2):
        numbers |= {f"{prefix}{d}" for d in "0123456789" if modulus11_valid(f"{prefix}{d}")}
    data = Graph()
    vendors: dict[Node, str] = {}
    for number in sorted(numbers):
        vendor = iri(f"id/leverandor/{number}")
        vendors[vendor] = number
        data.add((vendor, RDF.type, KG.Vendor))
        data.add((vendor, RDFS.label, Literal(f"Leverandør {number}")))
        data.add((vendor, KG.organisationNumber, Literal(number)))
    _conforms, report, text = run_validation(data, shapes, ontology, backend=backend)
    found = results(report)
    assert {r.component for r in found} <= {MODULUS11}, text
    flagged = {vendors[r.focus] for r in found}
    expected = {n for n in numbers if not modulus11_valid(n)}
    assert min(len(expected), len(numbers - expected)) >= sample_size // 3
    assert flagged == expected


@pytest.mark.parametrize("backend", BACKENDS)
def test_modulus11_result_explains_itself(
    backend: str, shapes: Graph, ontology: Graph | None
) -> None:
    data = load_valid()
    data.update(
        SPARQL_PROLOGUE
        + """DELETE DATA { <id/kommune/4203> kg:organisationNumber "940493021" } ;
             INSERT DATA { <id/kommune/4203> kg:organisationNumber "991825828" }"""
    )
    _conforms, report, _text = run_validation(data, shapes, ontology, backend=backend)
    [result] = results(report)
    by_lang: dict[str | None, list[str]] = {}
    for message in result.messages:
        by_lang.setdefault(message.language, []).append(str(message))
    assert any("kontrollsiffer" in m for m in by_lang["nb"])
    assert any("check digit" in m for m in by_lang["en"])


@pytest.mark.parametrize("backend", BACKENDS)
def test_modulus11_component_on_a_node_shape_and_switched_off(backend: str) -> None:
    """The component is reusable: on a node shape (value = focus), and `false` disables it."""
    shapes = parse_shape_file("common.ttl")
    shapes.parse(
        data="""
        @prefix kg: <https://w3id.org/kommunegraf/ontology#> .
        @prefix kgsh: <https://w3id.org/kommunegraf/shapes#> .
        @prefix sh: <http://www.w3.org/ns/shacl#> .
        @prefix ex: <http://example.org/> .
        ex:OrganisationNumbers a sh:NodeShape ;
            sh:targetObjectsOf kg:organisationNumber ; kgsh:modulus11 true .
        ex:Off a sh:PropertyShape ;
            sh:targetSubjectsOf kg:organisationNumber ;
            sh:path kg:organisationNumber ; kgsh:modulus11 false .
        """,
        format="turtle",
    )
    data = Graph()
    data.add((iri("a"), KG.organisationNumber, Literal("991825827")))
    data.add((iri("b"), KG.organisationNumber, Literal("991825828")))
    _conforms, report, text = run_validation(data, shapes, None, backend=backend)
    # the focus node is the literal itself (Oxigraph reads it back as ^^xsd:string)
    assert {(str(r.focus), r.component) for r in results(report)} == {("991825828", MODULUS11)}, (
        text
    )
