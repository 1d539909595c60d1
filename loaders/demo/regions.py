"""Regional cooperations (interkommunale samarbeid) of the demo, with their members.

The cooperations and their members are real, from public material (the
cooperations' and the municipalities' own web pages, as remembered, not fetched
for this build; issue 19 corrected five of them against the cooperations' own
pages). Only memberships we are confident of are listed; how sure we are is said
per region (``confidence``), per member where one is unconfirmed (``unconfirmed``,
written into the region's description in the graph too), and in README.md. A
member is written as its name in the 2024 municipality structure, with ``@NN``
(the county number) where the name alone is ambiguous.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Region:
    name: str
    members: tuple[str, ...]
    description_nb: str
    confidence: str
    """"high": the member list is well known; "medium": the core members are, some may
    be missing."""
    unconfirmed: tuple[str, ...] = ()
    """Members listed although their membership is not confirmed by a public source."""


REGIONS: tuple[Region, ...] = (
    Region(
        "Kongsbergregionen",
        ("Kongsberg", "Flesberg", "Rollag", "Nore og Uvdal", "Notodden", "Hjartdal", "Tinn"),
        "Regionrådet for sju kommuner i Numedal, Kongsberg og Øst-Telemark.",
        "high",
    ),
    Region(
        # Formerly Midt-Telemarkrådet (issue 19).
        "Nome og Midt-Telemark interkommunale politiske råd",
        ("Midt-Telemark", "Nome"),
        "Det interkommunale politiske rådet for Nome og Midt-Telemark "
        "(tidligere Midt-Telemarkrådet). Midt-Telemark er tidligere Bø og Sauherad.",
        "high",
    ),
    Region(
        "Vest-Telemarkrådet",
        ("Fyresdal", "Kviteseid", "Nissedal", "Seljord", "Tokke", "Vinje"),
        "Regionrådet for de seks kommunene i Vest-Telemark.",
        "high",
    ),
    Region(
        "Grenlandssamarbeidet",
        ("Bamble", "Drangedal", "Kragerø", "Porsgrunn", "Siljan", "Skien"),
        "Samarbeidet mellom de seks Grenlandskommunene.",
        "high",
    ),
    Region(
        # The current name; formerly Vest-Finnmark regionråd. Seven members (issue 19).
        "Vest-Finnmark Rådet",
        ("Alta", "Hammerfest", "Hasvik", "Loppa", "Måsøy", "Nordkapp", "Porsanger"),
        "Det interkommunale politiske rådet for de sju kommunene i Vest-Finnmark "
        "(tidligere Vest-Finnmark regionråd).",
        "high",
    ),
    Region(
        # Today four members (issue 19); the other Sunnmøre municipalities are in the
        # Sunnmøre regional council, a different body.
        "eKommune Sunnmøre",
        ("Ålesund", "Giske", "Sula", "Fjord"),
        "Digitaliseringssamarbeidet for Ålesund, Giske, Sula og Fjord.",
        "high",
    ),
    Region(
        "Værnesregionen",
        ("Stjørdal", "Meråker", "Selbu", "Tydal", "Frosta", "Malvik"),
        "Interkommunalt samarbeid i Trøndelag med felles IT-tjeneste.",
        "medium",
    ),
    Region(
        "IKT Indre Namdal",
        ("Grong", "Høylandet", "Lierne", "Namsskogan", "Røyrvik", "Snåsa"),
        "Felles IKT-tjeneste for kommunene i Indre Namdal i Trøndelag.",
        "medium",
        unconfirmed=("Snåsa",),
    ),
    Region(
        "Regionrådet for Hallingdal",
        ("Flå", "Nesbyen", "Gol", "Hemsedal", "Ål", "Hol"),
        "Samarbeid mellom de seks kommunene i Hallingdal.",
        "high",
    ),
    Region(
        "Valdres regionråd",
        ("Etnedal", "Nord-Aurdal", "Sør-Aurdal", "Vestre Slidre", "Øystre Slidre", "Vang"),
        "Samarbeid mellom de seks kommunene i Valdres.",
        "high",
    ),
    Region(
        "Regionrådet for Nord-Gudbrandsdalen",
        ("Dovre", "Lesja", "Lom", "Sel", "Skjåk", "Vågå"),
        "Samarbeid mellom de seks kommunene i Nord-Gudbrandsdalen.",
        "high",
    ),
    Region(
        "Listerrådet",
        ("Farsund", "Flekkefjord", "Hægebostad", "Kvinesdal", "Lyngdal", "Sirdal"),
        "Regionrådet for de seks kommunene i Lister i Agder.",
        "high",
    ),
    Region(
        "Hadeland regionråd",
        ("Gran", "Lunner", "Jevnaker"),
        "Samarbeid mellom de tre Hadeland-kommunene.",
        "high",
    ),
)

# Approximate inhabitants (rounded, about 2024) of the largest municipalities; only
# used to size their portfolios, not stored in the graph. Others are drawn at random.
POPULATION: dict[str, int] = {
    "Oslo": 717_000,
    "Bergen": 291_000,
    "Trondheim": 214_000,
    "Stavanger": 148_000,
    "Bærum": 130_000,
    "Kristiansand": 116_000,
    "Drammen": 104_000,
    "Asker": 96_000,
    "Lillestrøm": 93_000,
    "Fredrikstad": 84_000,
    "Sandnes": 82_000,
    "Tromsø": 78_000,
    "Sandefjord": 66_000,
    "Nordre Follo": 62_000,
    "Sarpsborg": 58_000,
    "Tønsberg": 58_000,
    "Skien": 56_000,
    "Bodø": 53_000,
    "Ålesund": 58_000,
    "Moss": 51_000,
    "Larvik": 48_000,
    "Arendal": 46_000,
    "Indre Østfold": 46_000,
    "Ullensaker": 41_000,
    "Karmøy": 43_000,
    "Haugesund": 38_000,
    "Porsgrunn": 37_000,
    "Ringsaker": 35_000,
    "Hamar": 32_000,
    "Gjøvik": 31_000,
    "Lillehammer": 29_000,
    "Kongsberg": 28_000,
    "Molde": 32_000,
    "Halden": 31_000,
    "Alta": 21_000,
}
