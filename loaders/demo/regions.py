"""Regional cooperations (interkommunale samarbeid) of the demo, with their members.

The cooperations and their members are real, from public material (the
cooperations' and the municipalities' own web pages, as remembered, not fetched
for this build; issue 19 corrected five of them against the cooperations' own
pages). Only memberships we are confident of are listed; how sure we are is said
per region (``confidence``), per member where one is unconfirmed (``unconfirmed``,
written into the region's description in the graph too), and in README.md. A
member is written as its name in the 2024 municipality structure, with ``@NN``
(the county number) where the name alone is ambiguous. The list is ``regions.toml``
beside this file.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path


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


REGIONS_FILE = Path(__file__).with_name("regions.toml")
"""The cooperations, one ``[[region]]`` table each: data, kept apart from the code."""


def _regions(path: Path = REGIONS_FILE) -> tuple[Region, ...]:
    with path.open("rb") as data:
        tables = tomllib.load(data)["region"]
    return tuple(
        Region(
            table["name"],
            tuple(table["members"]),
            table["description"],
            table["confidence"],
            tuple(table.get("unconfirmed", ())),
        )
        for table in tables
    )


REGIONS: tuple[Region, ...] = _regions()

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
