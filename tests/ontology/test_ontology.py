"""The OWL ontology: it parses, is labelled in nb/nn/en, and declares the whole design."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import pytest
from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, OWL, RDF, RDFS, SKOS

REPOSITORY = Path(__file__).parents[2]
ONTOLOGY_FILE = REPOSITORY / "ontology" / "kommunegraf.ttl"
SHAPES_DIR = REPOSITORY / "shapes"

KG = Namespace("https://w3id.org/kommunegraf/ontology#")
ONTOLOGY = URIRef("https://w3id.org/kommunegraf/ontology")
VANN = Namespace("http://purl.org/vocab/vann/")
ACCESS_RIGHT = Namespace("http://publications.europa.eu/resource/authority/access-right/")
ACCESS_RIGHT_SCHEME = URIRef("http://publications.europa.eu/resource/authority/access-right")

LABEL_LANGUAGES = ("nb", "nn", "en")
DEFINITION_LANGUAGES = ("nb", "en")

# --- the binding design (vocabulary.md) -------------------------------------

CLASSES = frozenset(
    {
        "Proposal",
        "Municipality",
        "County",
        "Region",
        "Vendor",
        "Application",
        "ApplicationUsage",
        "NationalComponent",
        "StatutoryService",
        "Dataset",
        "LegalBasis",
        "Integration",
        "ProcessingActivity",
        "DataProcessingAgreement",
        "Contract",
    }
)
OBJECT_PROPERTIES = frozenset(
    {
        "proposes",
        "county",
        "vendor",
        "applicationCategory",
        "usedBy",
        "application",
        "hosting",
        "lifecycleStatus",
        "supportsService",
        "usesNationalComponent",
        "dataLocation",
        "provider",
        "storedIn",
        "personalData",
        "legalBasisForProcessing",
        "legalBasisForRestriction",
        "legalBasisForAccess",
        "integrationSource",
        "integrationTarget",
        "integrationMethod",
        "transfersDataset",
        "personalDataCategory",
        "specialCategoryData",
        "gdprLegalBasis",
        "specialCategoryCondition",
        "nationalLegalBasis",
        "transferSafeguard",
        "processedIn",
        "usesDataset",
        "dpiaOutcome",
        "subProcessor",
        "contractingAuthority",
        "contractor",
        "covers",
        "procuredJointlyBy",
        "plannedSuccessor",
    }
)
DATATYPE_PROPERTIES = frozenset(
    {
        "proposedTriples",
        "action",
        "role",
        "triplesAdded",
        "triplesRemoved",
        "municipalityNumber",
        "organisationNumber",
        "countyNumber",
        "systemOwner",
        "numberOfUsers",
        "annualCost",
        "contractEndDate",
        "inFellesDatakatalog",
        "section",
        "purpose",
        "retentionPeriod",
        "recipientCategory",
        "thirdCountry",
        "securityMeasures",
        "criminalOffenceData",
        "dpiaConducted",
        "dpiaDate",
        "riskAssessmentDate",
        "signedDate",
        "expiryDate",
        "noticePeriodMonths",
        "optionEndDate",
        "annualValue",
        "responsibleRole",
        "inUseDate",
        "phaseOutDate",
        "retirementDate",
    }
)
# At most one value wherever the property is used.
FUNCTIONAL_PROPERTIES = frozenset(
    {
        "proposedTriples",
        "action",
        "role",
        "triplesAdded",
        "triplesRemoved",
        "municipalityNumber",
        "organisationNumber",
        "countyNumber",
        "county",
        "vendor",
        "usedBy",
        "application",
        "hosting",
        "lifecycleStatus",
        "systemOwner",
        "numberOfUsers",
        "annualCost",
        "contractEndDate",
        "dataLocation",
        "provider",
        "personalData",
        "inFellesDatakatalog",
        "section",
        "integrationSource",
        "integrationTarget",
        "integrationMethod",
        "criminalOffenceData",
        "dpiaConducted",
        "dpiaDate",
        "dpiaOutcome",
        "riskAssessmentDate",
        "signedDate",
        "expiryDate",
        "contractingAuthority",
        "contractor",
        "procuredJointlyBy",
        "plannedSuccessor",
        "noticePeriodMonths",
        "optionEndDate",
        "annualValue",
        "responsibleRole",
        "inUseDate",
        "phaseOutDate",
        "retirementDate",
    }
)
SCHEMES: dict[str, frozenset[str]] = {
    "HostingScheme": frozenset(
        {"HostingOnPremises", "HostingRegionalIT", "HostingVendor", "HostingSaaS"}
    ),
    "LifecycleScheme": frozenset(
        {"LifecyclePlanned", "LifecycleInUse", "LifecyclePhasingOut", "LifecycleRetired"}
    ),
    "PersonalDataScheme": frozenset({"NoPersonalData", "PersonalData", "SensitivePersonalData"}),
    "DataLocationScheme": frozenset({"LocationNorway", "LocationEEA", "LocationOutsideEEA"}),
    "IntegrationMethodScheme": frozenset(
        {
            "IntegrationAPI",
            "IntegrationFileTransfer",
            "IntegrationDatabase",
            "IntegrationMessaging",
            "IntegrationManual",
        }
    ),
    "ApplicationCategoryScheme": frozenset(
        {
            "CategoryCaseArchive",
            "CategoryFinance",
            "CategoryPayrollHR",
            "CategorySchoolAdministration",
            "CategoryKindergarten",
            "CategoryHealthCareRecord",
            "CategoryChildWelfare",
            "CategoryBuildingCase",
            "CategoryGIS",
            "CategoryEducationPortal",
            "CategoryLibrary",
            "CategoryCultureSchool",
            "CategoryWaterSewage",
            "CategoryPropertyManagement",
            "CategoryCitizenDialogue",
            "CategoryOther",
        }
    ),
    # GDPR (records of processing, data processing agreements)
    "DataSubjectScheme": frozenset(
        {
            "SubjectResidents",
            "SubjectChildren",
            "SubjectPupils",
            "SubjectGuardians",
            "SubjectEmployees",
            "SubjectJobApplicants",
            "SubjectPatients",
            "SubjectApplicants",
            "SubjectPropertyOwners",
            "SubjectContactPersons",
            "SubjectOther",
        }
    ),
    "PersonalDataCategoryScheme": frozenset(
        {
            "DataIdentity",
            "DataContact",
            "DataFinancial",
            "DataEmployment",
            "DataEducation",
            "DataFamily",
            "DataSocial",
            "DataProperty",
            "DataLocation",
            "DataImages",
            "DataLogs",
        }
    ),
    "SpecialCategoryScheme": frozenset(
        {
            "SpecialRacialEthnic",
            "SpecialPolitical",
            "SpecialReligious",
            "SpecialTradeUnion",
            "SpecialGenetic",
            "SpecialBiometric",
            "SpecialHealth",
            "SpecialSexLife",
        }
    ),
    "GdprArticle6Scheme": frozenset(
        {
            "Art6Consent",
            "Art6Contract",
            "Art6LegalObligation",
            "Art6VitalInterests",
            "Art6PublicTask",
            "Art6LegitimateInterests",
        }
    ),
    "GdprArticle9Scheme": frozenset(
        {
            "Art9ExplicitConsent",
            "Art9Employment",
            "Art9VitalInterests",
            "Art9NotForProfit",
            "Art9MadePublic",
            "Art9LegalClaims",
            "Art9SubstantialPublicInterest",
            "Art9HealthSocialCare",
            "Art9PublicHealth",
            "Art9Archiving",
        }
    ),
    "TransferSafeguardScheme": frozenset(
        {
            "TransferAdequacy",
            "TransferStandardClauses",
            "TransferBindingCorporateRules",
            "TransferDerogation",
        }
    ),
    "DpiaOutcomeScheme": frozenset(
        {"DpiaAcceptable", "DpiaAcceptableWithMeasures", "DpiaPriorConsultation"}
    ),
}
ACCESS_RIGHTS = {
    ACCESS_RIGHT.PUBLIC: "Allmenn tilgang",
    ACCESS_RIGHT.RESTRICTED: "Betinget tilgang",
    ACCESS_RIGHT.NON_PUBLIC: "Ikke-allmenn tilgang",
}

_DCAT = "http://www.w3.org/ns/dcat#"
_DCT = "http://purl.org/dc/terms/"
_ELI = "http://data.europa.eu/eli/ontology#"
_DPV = "https://w3id.org/dpv#"
# Standard terms the design uses on kg instances; the ontology labels them for display.
REUSED_TERMS = tuple(
    URIRef(iri)
    for iri in (
        "http://www.w3.org/ns/org#hasMember",
        _DCT + "isReplacedBy",
        _DCT + "replaces",
        "http://data.europa.eu/m8g/hasLegalResource",
        "http://data.europa.eu/m8g/thematicArea",
        _DCT + "publisher",
        _DCT + "accessRights",
        "https://schema.org/softwareVersion",
        _ELI + "is_part_of",
        _ELI + "id_local",
        _DCAT + "theme",
        _DCAT + "keyword",
        _DCAT + "landingPage",
        _DCAT + "contactPoint",
        "http://www.w3.org/2006/vcard/ns#hasEmail",
        _DCAT + "distribution",
        _DCAT + "accessURL",
        "http://xmlns.com/foaf/0.1/homepage",
        str(RDFS.label),
        _DCT + "description",
        _DCT + "identifier",
        str(SKOS.altLabel),
        _DCT + "type",
        _DPV + "Process",
        _DPV + "ControllerProcessorAgreement",
        _DPV + "hasDataController",
        _DPV + "hasDataProcessor",
        _DPV + "hasDataSubject",
        _DPV + "hasPersonalData",
        _DPV + "hasLegalBasis",
        _DPV + "hasRecipient",
        _DPV + "hasDataProtectionOfficer",
        "http://xmlns.com/foaf/0.1/page",
        "http://purl.org/procurement/public-contracts#Contract",
        "http://purl.org/procurement/public-contracts#contractingAuthority",
        "https://schema.org/provider",
        "https://schema.org/startDate",
        "https://schema.org/endDate",
    )
)

NOTATION = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


# --- helpers -----------------------------------------------------------------


@pytest.fixture(scope="module")
def ontology() -> Graph:
    return Graph().parse(ONTOLOGY_FILE, format="turtle")


def in_kg(node: object) -> bool:
    """A term of the kg: namespace (the bare namespace IRI itself is not a term)."""
    return isinstance(node, URIRef) and str(node).startswith(str(KG)) and str(node) != str(KG)


def kg_subjects(graph: Graph, types: Iterable[URIRef]) -> list[URIRef]:
    """The kg: IRIs typed with any of ``types``."""
    found = {
        subject
        for rdf_type in types
        for subject in graph.subjects(RDF.type, rdf_type)
        if isinstance(subject, URIRef) and in_kg(subject)
    }
    return sorted(found)


def kg_terms(graph: Graph) -> list[URIRef]:
    return kg_subjects(graph, (OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty))


def kg_properties(graph: Graph) -> list[URIRef]:
    return kg_subjects(graph, (OWL.ObjectProperty, OWL.DatatypeProperty))


def language_problems(
    graph: Graph, subject: URIRef, predicate: URIRef, languages: Iterable[str]
) -> list[str]:
    """Each language in ``languages`` must have exactly one non-empty literal."""
    tags = [
        obj.language
        for obj in graph.objects(subject, predicate)
        if isinstance(obj, Literal) and str(obj).strip()
    ]
    problems = []
    for language in languages:
        count = tags.count(language)
        if count != 1:
            problems.append(
                f"{short(graph, subject)} has {count} {short(graph, predicate)}@{language}"
            )
    return problems


def short(graph: Graph, node: URIRef) -> str:
    return node.n3(graph.namespace_manager)


# --- the ontology node ---------------------------------------------------------


def test_ontology_parses_and_uses_the_kg_namespace() -> None:
    graph = Graph().parse(ONTOLOGY_FILE, format="turtle")
    assert len(graph) > 0
    assert any(in_kg(subject) for subject in graph.subjects())


def test_exactly_one_ontology_with_version_and_licence(ontology: Graph) -> None:
    ontologies = list(ontology.subjects(RDF.type, OWL.Ontology))
    assert ontologies == [ONTOLOGY]
    assert ontology.value(ONTOLOGY, OWL.versionInfo) == Literal("0.1.0")
    assert isinstance(ontology.value(ONTOLOGY, OWL.versionIRI), URIRef)
    assert ontology.value(ONTOLOGY, DCTERMS.license) == URIRef(
        "https://www.apache.org/licenses/LICENSE-2.0"
    )
    assert ontology.value(ONTOLOGY, DCTERMS.creator) == Literal("kommunegraf contributors")
    assert ontology.value(ONTOLOGY, DCTERMS.created) is not None
    assert ontology.value(ONTOLOGY, VANN.preferredNamespacePrefix) == Literal("kg")
    assert str(ontology.value(ONTOLOGY, VANN.preferredNamespaceUri)) == str(KG)
    problems = language_problems(ontology, ONTOLOGY, DCTERMS.title, LABEL_LANGUAGES)
    problems += language_problems(ontology, ONTOLOGY, DCTERMS.description, DEFINITION_LANGUAGES)
    assert not problems, "\n".join(problems)


# --- classes and properties ------------------------------------------------------


def test_every_kg_term_has_labels_definitions_and_is_defined_by(ontology: Graph) -> None:
    terms = kg_terms(ontology)
    assert terms
    problems: list[str] = []
    for term in terms:
        problems += language_problems(ontology, term, RDFS.label, LABEL_LANGUAGES)
        problems += language_problems(ontology, term, SKOS.definition, DEFINITION_LANGUAGES)
        if (term, RDFS.isDefinedBy, ONTOLOGY) not in ontology:
            problems.append(f"{short(ontology, term)} lacks rdfs:isDefinedBy the ontology")
    assert not problems, "\n".join(problems)


def test_every_kg_class_specialises_a_standard_term(ontology: Graph) -> None:
    classes = kg_subjects(ontology, (OWL.Class,))
    assert classes
    orphans = [
        short(ontology, cls)
        for cls in classes
        if not any(
            isinstance(parent, URIRef) and not in_kg(parent)
            for parent in ontology.objects(cls, RDFS.subClassOf)
        )
    ]
    assert not orphans, f"kg classes without a standard superclass: {orphans}"


def test_every_kg_property_has_domain_and_range(ontology: Graph) -> None:
    properties = kg_properties(ontology)
    assert properties
    problems = [
        f"{short(ontology, prop)} has {len(values)} {short(ontology, predicate)}"
        for prop in properties
        for predicate in (RDFS.domain, RDFS.range)
        if len(values := list(ontology.objects(prop, predicate))) != 1
    ]
    assert not problems, "\n".join(problems)


def test_the_designed_classes_and_properties_are_declared(ontology: Graph) -> None:
    expected = (
        [(KG[name], OWL.Class) for name in sorted(CLASSES)]
        + [(KG[name], OWL.ObjectProperty) for name in sorted(OBJECT_PROPERTIES)]
        + [(KG[name], OWL.DatatypeProperty) for name in sorted(DATATYPE_PROPERTIES)]
    )
    missing = [
        f"{short(ontology, term)} a {short(ontology, kind)}"
        for term, kind in expected
        if (term, RDF.type, kind) not in ontology
    ]
    assert not missing, "missing declarations:\n" + "\n".join(missing)
    declared = {str(term) for term in kg_terms(ontology)}
    designed = {str(KG[name]) for name in CLASSES | OBJECT_PROPERTIES | DATATYPE_PROPERTIES}
    assert declared == designed, f"terms outside the design: {sorted(declared - designed)}"


def test_functional_properties_are_those_with_at_most_one_value(ontology: Graph) -> None:
    functional = {
        str(prop)
        for prop in kg_properties(ontology)
        if (prop, RDF.type, OWL.FunctionalProperty) in ontology
    }
    assert functional == {str(KG[name]) for name in FUNCTIONAL_PROPERTIES}


# --- concept schemes ---------------------------------------------------------------


def test_the_designed_concept_schemes_are_complete(ontology: Graph) -> None:
    problems: list[str] = []
    for scheme_name, concept_names in sorted(SCHEMES.items()):
        scheme = KG[scheme_name]
        if (scheme, RDF.type, SKOS.ConceptScheme) not in ontology:
            problems.append(f"{scheme_name} is not a skos:ConceptScheme")
        problems += language_problems(ontology, scheme, SKOS.prefLabel, LABEL_LANGUAGES)
        members = {str(c) for c in ontology.subjects(SKOS.inScheme, scheme)}
        tops = {str(c) for c in ontology.objects(scheme, SKOS.hasTopConcept)}
        top_of = {str(c) for c in ontology.subjects(SKOS.topConceptOf, scheme)}
        designed = {str(KG[name]) for name in concept_names}
        for what, found in (("members", members), ("top concepts", tops), ("topConceptOf", top_of)):
            if found != designed:
                problems.append(
                    f"{scheme_name} {what}: missing {sorted(designed - found)}, "
                    f"extra {sorted(found - designed)}"
                )
    assert not problems, "\n".join(problems)


def test_every_kg_concept_is_labelled_defined_and_in_exactly_one_scheme(ontology: Graph) -> None:
    schemes = {KG[name] for name in SCHEMES}
    concepts = set(kg_subjects(ontology, (SKOS.Concept,)))
    concepts |= {
        c
        for scheme in schemes
        for c in ontology.subjects(SKOS.inScheme, scheme)
        if isinstance(c, URIRef)
    }
    assert concepts
    problems: list[str] = []
    notations: dict[tuple[str, str], URIRef] = {}
    for concept in sorted(concepts):
        name = short(ontology, concept)
        if (concept, RDF.type, SKOS.Concept) not in ontology:
            problems.append(f"{name} is not a skos:Concept")
        problems += language_problems(ontology, concept, SKOS.prefLabel, LABEL_LANGUAGES)
        problems += language_problems(ontology, concept, SKOS.definition, DEFINITION_LANGUAGES)
        in_schemes = list(ontology.objects(concept, SKOS.inScheme))
        if len(in_schemes) != 1 or in_schemes[0] not in schemes:
            problems.append(f"{name} is in schemes {in_schemes}, not in exactly one kg scheme")
            continue
        scheme = in_schemes[0]
        if (concept, SKOS.topConceptOf, scheme) not in ontology:
            problems.append(f"{name} is not skos:topConceptOf its scheme")
        codes = [str(n) for n in ontology.objects(concept, SKOS.notation)]
        if len(codes) != 1 or not NOTATION.match(codes[0]):
            problems.append(f"{name} needs one short lower-case skos:notation, has {codes}")
            continue
        key = (str(scheme), codes[0])
        if key in notations:
            problems.append(f"{name} repeats notation {codes[0]!r} of {notations[key]}")
        notations[key] = concept
    assert not problems, "\n".join(problems)


def test_eu_access_right_concepts_have_norwegian_labels(ontology: Graph) -> None:
    problems: list[str] = []
    for concept, label_nb in ACCESS_RIGHTS.items():
        problems += language_problems(ontology, concept, SKOS.prefLabel, LABEL_LANGUAGES)
        if (concept, SKOS.prefLabel, Literal(label_nb, lang="nb")) not in ontology:
            problems.append(f"{concept} lacks the prefLabel {label_nb!r}@nb")
        if (concept, SKOS.inScheme, ACCESS_RIGHT_SCHEME) not in ontology:
            problems.append(f"{concept} is not in the EU access-right scheme")
    assert not problems, "\n".join(problems)


# --- reused terms --------------------------------------------------------------------


def test_reused_terms_have_display_labels(ontology: Graph) -> None:
    problems: list[str] = []
    for term in REUSED_TERMS:
        problems += language_problems(ontology, term, RDFS.label, LABEL_LANGUAGES)
    assert not problems, "\n".join(problems)


def test_reused_terms_are_only_labelled_never_redefined(ontology: Graph) -> None:
    """Outside kg:, the ontology may describe only the EU authority tables the data takes
    values from (access rights; a distribution's file type and licence); others get labels."""
    schemes = {
        ACCESS_RIGHT_SCHEME,
        URIRef("http://publications.europa.eu/resource/authority/file-type"),
        URIRef("http://publications.europa.eu/resource/authority/licence"),
    }
    in_schemes = {c for scheme in schemes for c in ontology.subjects(SKOS.inScheme, scheme)}
    described_elsewhere = {ONTOLOGY, *schemes, *ACCESS_RIGHTS, *in_schemes}
    redefined = sorted(
        f"{short(ontology, subject)} {short(ontology, predicate)}"
        for subject, predicate in ontology.subject_predicates()
        if isinstance(subject, URIRef)
        and not in_kg(subject)
        and subject not in described_elsewhere
        and isinstance(predicate, URIRef)
        and predicate != RDFS.label
    )
    assert not redefined, "statements about reused terms:\n" + "\n".join(redefined)


# --- the shapes use only declared terms ---------------------------------------


def test_every_kg_iri_in_the_shapes_is_declared(ontology: Graph) -> None:
    shape_files = sorted(SHAPES_DIR.glob("*.ttl"))
    if not shape_files:
        pytest.skip(f"no shape files in {SHAPES_DIR} yet")
    declared = {subject for subject in ontology.subjects(RDF.type, None) if in_kg(subject)}
    undeclared: list[str] = []
    for path in shape_files:
        shapes = Graph().parse(path, format="turtle")
        used = {node for triple in shapes for node in triple if in_kg(node)}
        undeclared += [f"{path.name}: {node}" for node in sorted(used - declared, key=str)]
    assert not undeclared, "kg: IRIs used in shapes but not declared:\n" + "\n".join(undeclared)
