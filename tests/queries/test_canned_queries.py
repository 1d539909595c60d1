"""Each canned query on a hand-built fixture, against answers worked out by hand.

The fixture (``fixture.ttl``) sits beside this file with the story of each row;
the reference data (municipalities, services, national components, the ontology's
concept labels) is loaded beside it, as the service does.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyoxigraph as ox
import pytest

from service.store.embedded import KnowledgeStore
from tests.queries.running import BASE, column, fixture_store, run

FIXTURE = Path(__file__).with_name("fixture.ttl")
REGION = f"{BASE}id/region/testregion"
WEBSAK = f"{BASE}id/applikasjon/websak"


@pytest.fixture(scope="module")
def store() -> Iterator[KnowledgeStore]:
    with fixture_store(FIXTURE) as knowledge:
        yield knowledge


def test_application_users_leaves_out_retired_use(store: KnowledgeStore) -> None:
    rows = run(store, "application-users", application=WEBSAK)
    assert column(rows, "kommunenummer") == ["3303", "5601", "5603"]  # not Hasvik: retired
    alta = rows[1]
    assert alta["municipalityName"] == "Alta"
    assert alta["version"] == "2024.1"
    assert alta["hosting"] == "SaaS / sky"
    assert alta["lifecycle"] == "I bruk"
    assert rows[2]["hosting"] == "Interkommunalt IT-samarbeid"


def test_reuse_candidates_name_the_members_using_something_else(store: KnowledgeStore) -> None:
    rows = run(store, "reuse-candidates", region=REGION, minimum="2")
    found = {
        (r["serviceName"], r["applicationName"], r["users"], r["otherName"]): r.get(
            "otherApplicationName", ""
        )
        for r in rows
    }
    # Archive: WebSak in Alta and Hammerfest (Hasvik's is retired); Hasvik runs Elements.
    # School: Flyt Skole in Alta (phasing out still counts) and Hammerfest; Hasvik: nothing.
    # SFO and building cases: one member each, below the minimum.
    assert found == {
        ("Arkiv og dokumentasjonsforvaltning", "Acos WebSak", "2", "Hasvik"): "Elements",
        ("Grunnskoleopplæring", "Visma Flyt Skole", "2", "Hasvik"): "",
    }


def test_reuse_candidates_minimum_three_finds_none(store: KnowledgeStore) -> None:
    assert run(store, "reuse-candidates", region=REGION, minimum="3") == []


def test_service_matrix_for_the_region(store: KnowledgeStore) -> None:
    rows = run(store, "service-matrix", service=f"{BASE}id/tjeneste/arkiv", region=REGION)
    assert [(r["municipalityName"], r.get("applicationName", ""), r["sharedBy"]) for r in rows] == [
        ("Alta", "Acos WebSak", "2"),
        ("Hammerfest - Hámmerfeasta", "Acos WebSak", "2"),
        ("Hasvik", "Elements", "1"),
    ]
    assert rows[0]["vendorName"] == "Acos AS"


def test_service_matrix_for_a_county_lists_members_without_a_system(
    store: KnowledgeStore,
) -> None:
    rows = run(
        store,
        "service-matrix",
        service=f"{BASE}id/tjeneste/grunnskole",
        county=f"{BASE}id/fylke/56",
    )
    assert len(rows) == 18  # Finnmark's 18 municipalities of 2024
    with_system = {r["municipalityName"]: r["applicationName"] for r in rows if "application" in r}
    assert with_system == {
        "Alta": "Visma Flyt Skole",
        "Hammerfest - Hámmerfeasta": "Visma Flyt Skole",
    }


def test_service_gaps_of_hasvik(store: KnowledgeStore) -> None:
    rows = run(store, "service-gaps", kommune="5616")
    services = column(rows, "service")
    total = len(canned_services(store))
    assert f"{BASE}id/tjeneste/arkiv" not in services  # Elements supports it
    assert f"{BASE}id/tjeneste/grunnskole" in services
    assert len(services) == total - 1


def canned_services(store: KnowledgeStore) -> list[str]:
    solutions = store.query(
        "SELECT DISTINCT ?s { ?s a <https://w3id.org/kommunegraf/ontology#StatutoryService> }"
    )
    assert isinstance(solutions, ox.QuerySolutions)
    return [s["s"].value for s in solutions]


def test_service_gaps_of_an_unknown_municipality_is_empty(store: KnowledgeStore) -> None:
    assert run(store, "service-gaps", kommune="9999") == []


def test_vendor_concentration(store: KnowledgeStore) -> None:
    """An area is a top-level LOS theme: the fixture's services (archive under Åpenhet,
    building cases under Bygging, school and SFO under Grunnskole) fall under three of them,
    and their Kommune-LOS words add none (issue 19 made them count as 12 areas)."""
    rows = run(store, "vendor-concentration")
    table = {
        (r["areaName"], r["vendorName"]): (
            r["municipalities"],
            r["areaMunicipalities"],
            float(r["share"]),
            float(r["largestShare"]),
        )
        for r in rows
    }
    # Demokrati og innbyggerrettigheter (archive, LOS theme Åpenhet): Acos in Alta,
    # Hammerfest and Kongsberg; Tietoevry in Hasvik (whose WebSak is retired).
    democracy = "Demokrati og innbyggerrettigheter"
    assert table[(democracy, "Acos AS")] == ("3", "4", 75.0, 75.0)
    assert table[(democracy, "Tietoevry Norway AS")] == ("1", "4", 25.0, 75.0)
    assert table[("Bygg og eiendom", "Acos AS")] == ("1", "1", 100.0, 100.0)
    # School and SFO are both under Grunnskole: one area, Alta counted once.
    assert table[("Skole og utdanning", "Visma Software AS")] == ("2", "2", 100.0, 100.0)
    assert len(table) == 4
    assert {r["area"] for r in rows} == {
        "https://psi.norge.no/los/tema/demokrati-og-innbyggerrettigheter",
        "https://psi.norge.no/los/tema/bygg-og-eiendom",
        "https://psi.norge.no/los/tema/skole-og-utdanning",
    }


def test_vendor_concentration_counts_a_service_under_a_sub_theme_in_its_top_level_area(
    store: KnowledgeStore,
) -> None:
    """Building cases are linked to the sub-theme Bygging and to the Kommune-LOS words
    Byggesak, Melding om bygging and Nabovarsel: Alta's WebSak counts once, under the
    top-level theme Bygg og eiendom, and neither the sub-theme nor a word is an area."""
    service = f"{BASE}id/tjeneste/byggesaksbehandling"
    themes = store.query(f"SELECT ?t {{ <{service}> <http://data.europa.eu/m8g/thematicArea> ?t }}")
    assert isinstance(themes, ox.QuerySolutions)
    linked = {s["t"].value for s in themes}
    assert "https://psi.norge.no/los/tema/bygging" in linked
    assert "https://psi.norge.no/los/ord/byggesak" in linked
    areas = {r["area"] for r in run(store, "vendor-concentration")}
    assert "https://psi.norge.no/los/tema/bygg-og-eiendom" in areas
    assert not areas & linked


def test_personal_data_without_legal_basis(store: KnowledgeStore) -> None:
    rows = run(store, "personal-data-without-legal-basis")
    assert [(r["datasetName"], r["municipalityName"], r["applicationName"]) for r in rows] == [
        ("Byggesaksarkiv", "Alta", "Acos WebSak")
    ]
    assert run(store, "personal-data-without-legal-basis", kommune="5603") == []


def test_datasets_not_in_felles_datakatalog(store: KnowledgeStore) -> None:
    rows = run(store, "datasets-not-in-felles-datakatalog")
    assert column(rows, "datasetName") == ["Byggesaksarkiv", "Elevregister"]
    assert run(store, "datasets-not-in-felles-datakatalog", kommune="5603") == []


def test_national_components_per_municipality(store: KnowledgeStore) -> None:
    rows = run(store, "national-components")
    assert [(r["municipalityName"], r["componentName"], r["applications"]) for r in rows] == [
        ("Alta", "KS SvarUt og SvarInn", "Acos WebSak"),
        ("Hammerfest - Hámmerfeasta", "ID-porten", "Visma Flyt Skole"),
    ]  # Hasvik's Altinn use is retired
    assert len(run(store, "national-components", kommune="5603")) == 1


def test_national_components_per_region(store: KnowledgeStore) -> None:
    rows = run(store, "national-components-by-region", region=REGION)
    assert [(r["componentName"], r["users"], r["members"]) for r in rows] == [
        ("ID-porten", "1", "3"),
        ("KS SvarUt og SvarInn", "1", "3"),
    ]


def test_contracts_ending_within_twelve_months(store: KnowledgeStore) -> None:
    rows = run(store, "contracts-ending", months="12", today="2026-12-02")
    found = [(r["municipalityName"], r["applicationName"], r.get("contractEnd", "")) for r in rows]
    # Hasvik 2026-12-31, Alta 2027-03-31, Hammerfest 2027-12-02 (exactly 12 months),
    # Alta's school system (phasing out). Not Kongsberg's 2027-12-03, not the retired one.
    assert found == [
        ("Hasvik", "Elements", "2026-12-31"),
        ("Alta", "Acos WebSak", "2027-03-31"),
        ("Hammerfest - Hámmerfeasta", "Acos WebSak", "2027-12-02"),
        ("Alta", "Visma Flyt Skole", "2030-01-01"),
    ]
    assert rows[3]["phasingOut"] == "true"


def test_contracts_ending_within_one_month_of_one_municipality(store: KnowledgeStore) -> None:
    rows = run(store, "contracts-ending", months="1", today="2026-12-02", kommune="5616")
    assert column(rows, "applicationName") == ["Elements"]


def test_annual_cost_splits_a_system_over_its_services(store: KnowledgeStore) -> None:
    rows = run(store, "annual-cost", kommune="5601")
    costs = {r["serviceName"]: float(r["annualCost"]) for r in rows}
    assert costs == {
        "Arkiv og dokumentasjonsforvaltning": 50000.0,
        "Byggesaksbehandling": 50000.0,
        "Grunnskoleopplæring": 25000.0,
        "Skolefritidsordning (SFO)": 25000.0,
    }


def test_annual_cost_per_region(store: KnowledgeStore) -> None:
    (row,) = run(store, "annual-cost-by-region", region=REGION)
    # 100 000 + 50 000 (Alta) + 80 000 + 60 000 (Hammerfest) + 30 000 (Hasvik; retired left out)
    assert (row["members"], float(row["annualCost"]), float(row["costPerMember"])) == (
        "3",
        320000.0,
        106667.0,
    )


def test_integrations_in_and_out(store: KnowledgeStore) -> None:
    rows = run(store, "integrations", application=WEBSAK)
    found = {(r["direction"], r["counterpartName"], r["method"]) for r in rows}
    assert found == {
        ("inn / in", "Visma Flyt Skole", "Filoverføring"),
        ("ut / out", "KS SvarUt og SvarInn", "API"),
    }


def test_similar_municipalities_by_jaccard(store: KnowledgeStore) -> None:
    rows = run(store, "similar-municipalities", kommune="5601")
    # Alta: WebSak, Flyt Skole. Hammerfest the same (1.0); Kongsberg WebSak only (1/2);
    # Hasvik shares nothing that is not retired.
    assert [(r["otherName"], r["shared"], r["theirs"], float(r["jaccard"])) for r in rows] == [
        ("Hammerfest - Hámmerfeasta", "2", "2", 1.0),
        ("Kongsberg", "1", "1", 0.5),
    ]
    assert {r["mine"] for r in rows} == {"2"}


def test_law_chain_of_the_archive_act(store: KnowledgeStore) -> None:
    rows = run(store, "law-chain", act="https://lovdata.no/eli/lov/2025/06/20/96")
    found = {
        (r["serviceName"], r.get("applicationName", ""), r["municipalities"], r["datasets"])
        for r in rows
    }
    # WebSak: Alta, Hammerfest, Kongsberg; datasets Byggesaksarkiv and Postjournal.
    assert found == {
        ("Arkiv og dokumentasjonsforvaltning", "Acos WebSak", "3", "2"),
        ("Arkiv og dokumentasjonsforvaltning", "Elements", "1", "0"),
    }
    assert {r["legalBases"] for r in rows} == {"Arkivlova § 5; Arkivlova § 14"} or all(
        r["legalBases"].count("§") == 2 for r in rows
    )


def test_hosting_mix_of_the_region(store: KnowledgeStore) -> None:
    rows = run(store, "hosting-mix", region=REGION)
    found = {(r["hosting"].rsplit("#", 1)[1], r["systems"], float(r["share"])) for r in rows}
    assert found == {
        ("HostingSaaS", "3", 60.0),
        ("HostingRegionalIT", "1", 20.0),
        ("HostingOnPremises", "1", 20.0),
    }


def test_current_municipality_for_an_old_number(store: KnowledgeStore) -> None:
    (row,) = run(store, "current-municipality", kommune="5433")
    assert (row["name"], row["currentNumber"], row["currentName"]) == ("Hasvik", "5616", "Hasvik")
    (same,) = run(store, "current-municipality", kommune="5616")
    assert same["currentNumber"] == "5616"
