"""The GDPR canned queries on a hand-built fixture, against answers worked out by hand.

``gdpr_fixture.ttl`` tells the story of each row; every date counts from 2026-12-02.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from loaders.namespaces import DEFAULT_BASE_IRI
from service.sparql.canned import ParameterError, canned_queries
from service.store.embedded import KnowledgeStore
from tests.queries.running import Row, column, fixture_store, run

BASE = DEFAULT_BASE_IRI
FIXTURE = Path(__file__).with_name("gdpr_fixture.ttl")
TODAY = "2026-12-02"


@pytest.fixture(scope="module")
def store() -> Iterator[KnowledgeStore]:
    with fixture_store(FIXTURE) as knowledge:
        yield knowledge


def names(rows: list[Row], *keys: str) -> list[tuple[str, ...]]:
    return [tuple(row.get(key, "") for key in keys) for row in rows]


def test_special_categories_without_dpia(store: KnowledgeStore) -> None:
    rows = run(store, "gdpr-special-categories-without-dpia")
    # Hammerfest's health-station processing has a DPIA; Alta's two have none.
    assert names(rows, "municipalityName", "activityName", "specialCategories") == [
        ("Alta", "Elevadministrasjon", "Helseopplysninger"),
        ("Alta", "Politiattest for ansatte", ""),
    ]
    assert column(rows, "criminalOffenceData") == ["false", "true"]


def test_special_categories_without_dpia_in_one_municipality(store: KnowledgeStore) -> None:
    assert run(store, "gdpr-special-categories-without-dpia", kommune="5603") == []


def test_applications_without_a_valid_agreement(store: KnowledgeStore) -> None:
    rows = run(store, "gdpr-applications-without-dpa", today=TODAY)
    # Alta WebSak is covered by the Acos agreement; Hammerfest WebSak is retired.
    assert names(rows, "municipalityName", "applicationName", "vendorName", "expiredAgreement") == [
        ("Alta", "Visma Flyt Skole", "Visma Software AS", "false"),
        ("Hammerfest - Hámmerfeasta", "Foreldreapp", "Appfabrikken AS", "false"),
        ("Hammerfest - Hámmerfeasta", "Visma Flyt Skole", "Visma Software AS", "true"),
    ]
    assert rows[0]["hosting"] == "SaaS / sky"


def test_an_agreement_counts_until_it_expires(store: KnowledgeStore) -> None:
    rows = run(store, "gdpr-applications-without-dpa", today="2026-06-30", kommune="5603")
    assert names(rows, "applicationName") == [("Foreldreapp",)]


def test_agreements_expiring_within_six_months(store: KnowledgeStore) -> None:
    rows = run(store, "gdpr-agreements-expiring", months="6", today=TODAY)
    # A2 expired already, A3 has no expiry date.
    assert names(rows, "municipalityName", "agreementName", "vendorName", "expiryDate") == [
        ("Alta", "Databehandleravtale Acos", "Acos AS", "2027-03-31"),
    ]


def test_agreements_expiring_boundary(store: KnowledgeStore) -> None:
    # 2027-03-31 is three months and 29 days after 2026-12-02; 2027-03-02 would be within 3.
    assert run(store, "gdpr-agreements-expiring", months="3", today=TODAY) == []
    assert len(run(store, "gdpr-agreements-expiring", months="4", today=TODAY)) == 1
    assert run(store, "gdpr-agreements-expiring", today=TODAY, kommune="5603") == []


def test_transfers_outside_the_eea(store: KnowledgeStore) -> None:
    rows = run(store, "gdpr-transfers-outside-eea")
    assert names(
        rows, "municipalityName", "activityName", "countries", "safeguards", "systemsOutsideEEA"
    ) == [
        (
            "Alta",
            "Elevadministrasjon",
            "US",
            "Standard personvernbestemmelser (art. 46 nr. 2 c)",
            "Visma Flyt Skole",
        ),
        # recorded without a transfer, but its system keeps data outside the EEA
        ("Hammerfest - Hámmerfeasta", "Foreldrekontakt", "", "", "Foreldreapp"),
    ]


def test_record_of_processing_of_alta(store: KnowledgeStore) -> None:
    rows = run(store, "gdpr-record-of-processing", kommune="5601")
    assert column(rows, "activityName") == [
        "Elevadministrasjon",
        "Politiattest for ansatte",
        "Saksbehandling",
    ]
    first = rows[0]
    assert first["purpose"] == "Føre elevopplysninger og vurdering i grunnskolen."
    assert set(first["dataSubjects"].split("; ")) == {"Elever", "Foresatte"}
    assert set(first["personalData"].split("; ")) == {"Identitet", "Opplæring og vurdering"}
    assert first["specialCategories"] == "Helseopplysninger"
    assert first["criminalOffenceData"] == "false"
    assert first["lawfulBases"] == (
        "Art. 6 nr. 1 e – allmennhetens interesse eller offentlig myndighet"
    )
    assert first["specialCategoryConditions"] == "Art. 9 nr. 2 g – viktige allmenne interesser"
    assert first["nationalLegalBases"] == "Opplæringslova § 2-1"
    assert set(first["recipients"].split("; ")) == {"Statsforvalteren", "Statistisk sentralbyrå"}
    assert first["thirdCountries"] == "US"
    assert first["transferSafeguards"] == "Standard personvernbestemmelser (art. 46 nr. 2 c)"
    assert first["retentionPeriod"] == "Til eleven slutter, deretter arkiv."
    assert first["securityMeasures"] == "Tilgangsstyring og logging."
    assert first["systems"] == "Visma Flyt Skole"
    assert first["dpiaConducted"] == "false"
    assert "dpiaDate" not in first
    assert first["riskAssessmentDate"] == "2025-02-01"
    assert first["dataProtectionOfficer"] == "personvernombud@alta.kommune.no"
    assert rows[1]["criminalOffenceData"] == "true"


def test_record_of_processing_needs_a_municipality() -> None:
    with pytest.raises(ParameterError):
        canned_queries()["gdpr-record-of-processing"].bind({}, BASE)
