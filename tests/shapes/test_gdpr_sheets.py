"""The GDPR sheets (records of processing, data processing agreements) through the loader.

The shapes in shapes/processing-activity.ttl and shapes/data-processing-agreement.ttl
are the contract: a filled template must load with every art. 30 field as triples,
and each bad row must be reported at its sheet, row and column, including the
rules that span columns (an art. 9 condition for special categories, a law for
art. 6(1)(c)/(e), a safeguard for a transfer out of the EEA).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import openpyxl
import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import RDF, XSD

from loaders.namespaces import DEFAULT_BASE_IRI, DPV, KG, VCARD
from loaders.reference import reference_graph
from loaders.report import Issue
from loaders.spreadsheet import CheckedSpreadsheet, check_spreadsheet
from loaders.template import write_template

BASE = DEFAULT_BASE_IRI
PROCESSING = "Behandlingsprotokoll"
AGREEMENTS = "Databehandleravtaler"

GOOD_ACTIVITY: list[object] = [
    "3303 Kongsberg",
    "Elevadministrasjon",
    "Føre elevopplysninger, vurdering og fravær i grunnskolen.",
    "Elever; Foresatte",
    "Identitet; Kontaktopplysninger; Opplæring og vurdering",
    "Helseopplysninger",
    None,
    "Art. 6 nr. 1 e – allmennhetens interesse eller offentlig myndighet",
    "9-2-g",
    "Opplæringslova § 2-1",
    "Til eleven slutter, deretter avlevering til arkivdepot.",
    "Statsforvalteren; Statistisk sentralbyrå",
    "US",
    "Standard personvernbestemmelser (art. 46 nr. 2 c)",
    "Visma Flyt Skole",
    None,
    "ja",
    "2025-03-01",
    "Akseptabel risiko etter tiltak",
    "2025-02-01",
    "Tilgangsstyring, logging og kryptering.",
    "personvernombud@kongsberg.kommune.no",
    "Demo",
]
GOOD_AGREEMENT: list[object] = [
    "3303 Kongsberg",
    "Databehandleravtale Visma Flyt Skole",
    "Visma Software AS",
    "Eksempel Sky Ltd",
    "15.01.2024",
    "31.12.2027",
    "https://www.kongsberg.kommune.no/avtaler/dba-visma",
    None,
]


@cache
def _reference() -> Graph:
    return reference_graph(BASE)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "mal.xlsx"
    write_template(path)
    return path


def _check(
    template: Path,
    target: Path,
    activities: list[list[object]],
    agreements: list[list[object]],
) -> tuple[CheckedSpreadsheet, dict[str, list[int]]]:
    """Fill the template, check it, and say at which row each appended row landed."""
    workbook = openpyxl.load_workbook(template)
    workbook["Leverandører"].append(["Visma Software AS", "974760673", "https://www.visma.no"])
    workbook["Leverandører"].append(["Eksempel Sky Ltd", None, None])
    workbook["Applikasjoner"].append(
        ["Visma Flyt Skole", "Visma Software AS", "Skoleadministrasjon", "Skolesystem", None]
    )
    workbook["Systemportefølje"].append(
        ["3303 Kongsberg", "Visma Flyt Skole", "2024.3", "SaaS / sky", "I bruk", "Rektor"]
    )
    rows: dict[str, list[int]] = {PROCESSING: [], AGREEMENTS: []}
    for sheet, new_rows in ((PROCESSING, activities), (AGREEMENTS, agreements)):
        for row in new_rows:
            workbook[sheet].append(row)
            rows[sheet].append(workbook[sheet].max_row)
    workbook.save(target)
    return check_spreadsheet(target, BASE, _reference()), rows


def _errors(checked: CheckedSpreadsheet) -> list[Issue]:
    return [i for i in checked.report.issues if i.severity == "error"]


def test_good_rows_load_with_every_field(template: Path, tmp_path: Path) -> None:
    # Art. 6(1)(b) and no special categories, transfer or law: nothing else is required.
    by_contract = _variant(
        GOOD_ACTIVITY, "Avtale", F=None, H="6-1-b", I=None, J=None, M=None, N=None, K=None
    )
    checked, _rows = _check(
        template, tmp_path / "ok.xlsx", [GOOD_ACTIVITY, by_contract], [GOOD_AGREEMENT]
    )
    assert checked.report.conforms, [i.place() + " " + i.message_en for i in _errors(checked)]
    graph = checked.graph
    activity = URIRef(BASE + "id/behandling/3303/elevadministrasjon")
    assert (activity, RDF.type, KG.ProcessingActivity) in graph
    kongsberg = URIRef(BASE + "id/kommune/3303")
    assert graph.value(activity, DPV.hasDataController) == kongsberg
    assert set(graph.objects(activity, DPV.hasDataSubject)) == {
        KG.SubjectPupils,
        KG.SubjectGuardians,
    }
    assert set(graph.objects(activity, KG.personalDataCategory)) == {
        KG.DataIdentity,
        KG.DataContact,
        KG.DataEducation,
    }
    assert graph.value(activity, KG.specialCategoryData) == KG.SpecialHealth
    assert graph.value(activity, KG.gdprLegalBasis) == KG.Art6PublicTask
    assert graph.value(activity, KG.specialCategoryCondition) == KG.Art9SubstantialPublicInterest
    assert graph.value(activity, KG.nationalLegalBasis) == URIRef(
        BASE + "id/hjemmel/opplaeringslova-2-1"
    )
    assert len(set(graph.objects(activity, KG.recipientCategory))) == 2
    assert graph.value(activity, KG.thirdCountry) == Literal("US")
    assert graph.value(activity, KG.transferSafeguard) == KG.TransferStandardClauses
    assert graph.value(activity, KG.processedIn) == URIRef(BASE + "id/bruk/3303/visma-flyt-skole")
    assert graph.value(activity, KG.dpiaConducted) == Literal(True)
    assert graph.value(activity, KG.dpiaDate) == Literal("2025-03-01", datatype=XSD.date)
    assert graph.value(activity, KG.dpiaOutcome) == KG.DpiaAcceptableWithMeasures
    assert graph.value(activity, KG.riskAssessmentDate) == Literal("2025-02-01", datatype=XSD.date)
    dpo = graph.value(activity, DPV.hasDataProtectionOfficer)
    assert dpo is not None
    assert graph.value(dpo, VCARD.hasEmail) == URIRef("mailto:personvernombud@kongsberg.kommune.no")

    agreement = URIRef(BASE + "id/databehandleravtale/3303/databehandleravtale-visma-flyt-skole")
    assert (agreement, RDF.type, KG.DataProcessingAgreement) in graph
    assert graph.value(agreement, DPV.hasDataController) == kongsberg
    assert graph.value(agreement, DPV.hasDataProcessor) == URIRef(
        BASE + "id/leverandor/visma-software-as"
    )
    sky = URIRef(BASE + "id/leverandor/eksempel-sky-ltd")
    assert graph.value(agreement, KG.subProcessor) == sky
    assert graph.value(agreement, KG.signedDate) == Literal("2024-01-15", datatype=XSD.date)
    assert graph.value(agreement, KG.expiryDate) == Literal("2027-12-31", datatype=XSD.date)


def _variant(base: list[object], name: str, **cells: object) -> list[object]:
    """``base`` with a new name (column B) and the given cells (by letter) replaced."""
    row = list(base)
    row[1] = name
    for letter, value in cells.items():
        row[ord(letter) - ord("A")] = value
    return row


# (sheet, row variant, column letter, column name, words of the nb message)
BAD_ROWS = [
    (
        PROCESSING,
        _variant(GOOD_ACTIVITY, "Ugyldig grunnlag", H="Art. 6 nr. 1 x"),
        "H",
        "Behandlingsgrunnlag (art. 6)",
        "ikke et gyldig valg",
    ),
    (
        PROCESSING,
        _variant(GOOD_ACTIVITY, "Uten unntak", I=None),
        "I",
        "Unntak (art. 9)",
        "artikkel 9 nr. 2",
    ),
    (
        PROCESSING,
        _variant(GOOD_ACTIVITY, "Uten lov", J=None),
        "J",
        "Supplerende rettsgrunnlag (lov)",
        "fastsatt i lov",
    ),
    (
        PROCESSING,
        _variant(GOOD_ACTIVITY, "EØS-land", M="SE"),
        "M",
        "Overføring til land utenfor EØS",
        "ikke er med i EØS",
    ),
    (
        PROCESSING,
        _variant(GOOD_ACTIVITY, "Uten overføringsgrunnlag", N=None),
        "N",
        "Overføringsgrunnlag",
        "trenger et overføringsgrunnlag",
    ),
    (
        PROCESSING,
        _variant(GOOD_ACTIVITY, "Uten registrerte", D=None),
        "D",
        "Kategorier registrerte",
        "Minst én kategori registrerte",
    ),
    (
        PROCESSING,
        _variant(GOOD_ACTIVITY, "DPIA ukjent", Q="kanskje"),
        "Q",
        "DPIA gjennomført",
        "",
    ),
    (
        AGREEMENTS,
        _variant(GOOD_AGREEMENT, "Ukjent leverandør", C="Visma Softwar AS"),
        "C",
        "Leverandør (databehandler)",
        "Mente du",
    ),
    (
        AGREEMENTS,
        _variant(GOOD_AGREEMENT, "Utløpt før signert", F="01.01.2020"),
        "E",
        "Signert dato",
        "før utløpsdatoen",
    ),
]


def test_each_bad_row_is_reported_at_its_cell(template: Path, tmp_path: Path) -> None:
    activities = [row for sheet, row, *_ in BAD_ROWS if sheet == PROCESSING]
    agreements = [row for sheet, row, *_ in BAD_ROWS if sheet == AGREEMENTS]
    checked, rows = _check(
        template,
        tmp_path / "bad.xlsx",
        [GOOD_ACTIVITY, *activities],
        [GOOD_AGREEMENT, *agreements],
    )
    errors = _errors(checked)
    assert not checked.report.conforms
    good_rows = {(PROCESSING, rows[PROCESSING][0]), (AGREEMENTS, rows[AGREEMENTS][0])}
    assert not [e for e in errors if (e.sheet, e.row) in good_rows]
    expected_places = set()
    index = {PROCESSING: 1, AGREEMENTS: 1}
    for sheet, _row, letter, column_name, words in BAD_ROWS:
        row_number = rows[sheet][index[sheet]]
        index[sheet] += 1
        expected_places.add((sheet, row_number, letter))
        found = [e for e in errors if (e.sheet, e.row, e.column) == (sheet, row_number, letter)]
        assert found, f"nothing reported at {sheet}!{letter}{row_number}: {errors}"
        assert all(e.column_name == column_name for e in found)
        assert any(words in e.message_nb for e in found), found
        assert all(e.message_en for e in found)
    # nothing is reported anywhere else
    assert {(e.sheet, e.row, e.column) for e in errors} == expected_places
