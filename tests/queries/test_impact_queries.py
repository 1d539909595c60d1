"""The impact queries on a hand-built fixture, against answers worked out by hand.

``impact_fixture.ttl`` tells the story of each usage: Alta runs Visma Flyt Barnehage and
Acos WebSak for kindergarten places (barnehageloven § 10), Hammerfest IST Barnehage for
adapted provision (§ 37), Hasvik IST Barnehage (phasing out) for supervision (§ 53) and a
retired Flyt Barnehage, Kongsberg only a school system (opplæringslova).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from service.store.embedded import KnowledgeStore
from tests.queries.running import BASE, fixture_store, run

FIXTURE = Path(__file__).with_name("impact_fixture.ttl")
BARNEHAGELOVEN = "https://lovdata.no/eli/lov/2005/06/17/64"
SERVICE_GONE = "tjeneste uten system / service left without a system"
BREAKS = "integrasjon brytes / integration breaks"


@pytest.fixture(scope="module")
def store() -> Iterator[KnowledgeStore]:
    with fixture_store(FIXTURE) as knowledge:
        yield knowledge


def test_law_impact_of_barnehageloven_reaches_every_municipality_with_a_system(
    store: KnowledgeStore,
) -> None:
    rows = run(store, "law-impact", law=BARNEHAGELOVEN)
    found = [
        (
            r["serviceName"],
            r["legalBases"],
            r["kommunenummer"],
            r["applicationName"],
            r["vendorName"],
            r.get("datasets", ""),
        )
        for r in rows
    ]
    assert found == [
        ("Barnehage", "Barnehageloven § 10", "5601", "Acos WebSak", "Acos AS", ""),
        (
            "Barnehage",
            "Barnehageloven § 10",
            "5601",
            "Visma Flyt Barnehage",
            "Visma Software AS",
            "Barnehageopptak",  # not Elevregister: that is processed under opplæringslova
        ),
        (
            "Tilrettelagt barnehagetilbud for barn med nedsatt funksjonsevne",
            "Barnehageloven § 37",
            "5603",
            "IST Barnehage",
            "IST AS",
            "",
        ),
        ("Tilsyn med barnehager", "Barnehageloven § 53", "5616", "IST Barnehage", "IST AS", ""),
    ]
    # Hasvik is reached through its system being phased out, not its retired one;
    # Kongsberg has no system for kindergartens.
    assert {r["kommunenummer"] for r in rows} == {"5601", "5603", "5616"}


def test_law_impact_of_one_section(store: KnowledgeStore) -> None:
    rows = run(store, "law-impact", law=f"{BASE}id/hjemmel/barnehageloven-10")
    assert [(r["kommunenummer"], r["applicationName"]) for r in rows] == [
        ("5601", "Acos WebSak"),
        ("5601", "Visma Flyt Barnehage"),
    ]


def _impact(rows: list[dict[str, str]]) -> list[tuple[str, str, str, str, str]]:
    return [
        (
            r["kommunenummer"],
            r["systemName"],
            r["consequence"],
            r["affectedName"],
            r.get("counterpartName", ""),
        )
        for r in rows
    ]


def test_retiring_a_system_breaks_its_integrations(store: KnowledgeStore) -> None:
    rows = run(store, "system-retirement", application=f"{BASE}id/applikasjon/flyt-barnehage")
    # Alta keeps kindergarten places on WebSak, so no service is left; its two
    # integrations break. Hasvik's Flyt Barnehage is retired already.
    assert _impact(rows) == [
        ("5601", "Visma Flyt Barnehage", BREAKS, "Arkivering fra barnehage", "Acos WebSak"),
        ("5601", "Visma Flyt Barnehage", BREAKS, "Innlogging", "ID-porten"),
    ]


def test_retiring_the_only_system_leaves_the_service(store: KnowledgeStore) -> None:
    rows = run(store, "system-retirement", application=f"{BASE}id/applikasjon/ist-barnehage")
    assert _impact(rows) == [
        (
            "5603",
            "IST Barnehage",
            SERVICE_GONE,
            "Tilrettelagt barnehagetilbud for barn med nedsatt funksjonsevne",
            "",
        ),
        ("5616", "IST Barnehage", SERVICE_GONE, "Tilsyn med barnehager", ""),
    ]


def test_a_vendor_failing_leaves_services_without_a_system(store: KnowledgeStore) -> None:
    rows = run(store, "vendor-failure", vendor=f"{BASE}id/leverandor/acos")
    # Alta's kindergarten places stay on Flyt Barnehage (Visma); its archive is left.
    assert _impact(rows) == [
        ("5601", "Acos WebSak", BREAKS, "Arkivering fra barnehage", "Visma Flyt Barnehage"),
        ("5601", "Acos WebSak", SERVICE_GONE, "Arkiv og dokumentasjonsforvaltning", ""),
    ]


def test_a_vendor_failing_takes_all_its_systems(store: KnowledgeStore) -> None:
    """Visma's two systems: Kongsberg's school is left; Alta keeps WebSak for
    kindergarten places, but the integrations of Flyt Barnehage break."""
    rows = run(store, "vendor-failure", vendor=f"{BASE}id/leverandor/visma")
    assert _impact(rows) == [
        ("3303", "Visma Flyt Skole", SERVICE_GONE, "Grunnskoleopplæring", ""),
        ("5601", "Visma Flyt Barnehage", BREAKS, "Arkivering fra barnehage", "Acos WebSak"),
        ("5601", "Visma Flyt Barnehage", BREAKS, "Innlogging", "ID-porten"),
    ]
