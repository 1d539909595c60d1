"""What an analyst asks of each class, shown below a resource's own statements.

``SECTIONS`` maps a class (its local name in ``kg:``) to the function that looks up
its sections; the template of the same name (``resource_<class>.html``) shows them.
The statements every resource page shows, the labels and the dependency lookups
these build on are in ``service.pages.resource_views``.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from service.pages.resource_views import (
    PROLOGUE,
    dependencies,
    iri_term,
    values,
)
from service.sparql.canned import canned_queries
from service.store.backend import Reader
from service.store.reads import select


async def municipality_sections(backend: Reader, iri: str) -> tuple[dict[str, Any], set[str]]:
    node = iri_term(iri)
    # Independent lookups run side by side (the query pool has several workers).
    usages, datasets, regions, others, former = await asyncio.gather(
        select(
            backend,
            PROLOGUE
            + f"""SELECT ?usage ?app ?service ?version ?hosting ?lifecycle WHERE {{
              ?usage kg:usedBy {node} ; kg:application ?app .
              OPTIONAL {{ ?usage kg:supportsService ?service }}
              OPTIONAL {{ ?usage schema:softwareVersion ?version }}
              OPTIONAL {{ ?usage kg:hosting ?hosting }}
              OPTIONAL {{ ?usage kg:lifecycleStatus ?lifecycle }}
            }}""",
        ),
        select(
            backend,
            PROLOGUE
            + f"""SELECT ?dataset ?personal WHERE {{
              ?dataset a kg:Dataset ; dct:publisher {node} .
              OPTIONAL {{ ?dataset kg:personalData ?personal }}
            }}""",
        ),
        select(
            backend,
            PROLOGUE + f"SELECT DISTINCT ?region WHERE {{ ?region org:hasMember {node} }}",
        ),
        # Neighbours in two steps, the candidates then bound by VALUES: as one query
        # the engine started from every usage in the graph (1 s, not 0.1 s, on the demo).
        select(
            backend,
            PROLOGUE
            + f"""SELECT DISTINCT ?other WHERE {{
              {{ ?group org:hasMember {node}, ?other }}
              UNION {{ {node} kg:county ?county . ?other kg:county ?county }}
              FILTER(?other != {node})
            }}""",
        ),
        select(backend, PROLOGUE + f"SELECT ?old WHERE {{ ?old dct:isReplacedBy {node} }}"),
    )
    by_service: dict[str, dict[str, dict[str, str]]] = defaultdict(dict)
    for row in usages:
        by_service[row.get("service", "")][row["usage"]] = row
    mine = sorted({row["app"] for row in usages})

    async def neighbours_of() -> list[dict[str, str]]:
        if not (others and mine):
            return []
        return await select(
            backend,
            PROLOGUE
            + f"""SELECT DISTINCT ?app ?other WHERE {{
              VALUES ?other {{ {values([row["other"] for row in others])} }}
              VALUES ?app {{ {values(mine)} }}
              ?theirs kg:usedBy ?other ; kg:application ?app .
            }}""",
        )

    neighbours, landscape = await asyncio.gather(
        neighbours_of(),
        dependencies(
            backend,
            sorted({row["usage"] for row in usages}),
            set(mine),
            ("Integrasjonslandskapet", "The integration landscape"),
        ),
    )
    shared: dict[str, list[str]] = defaultdict(list)
    for row in neighbours:
        shared[row["app"]].append(row["other"])
    iris: set[str] = set()
    for row in usages:
        iris.update(v for k, v in row.items() if k in ("usage", "app", "service", "hosting"))
        iris.update(v for k, v in row.items() if k == "lifecycle")
    iris.update(r["dataset"] for r in datasets)
    iris.update(r["personal"] for r in datasets if "personal" in r)
    iris.update(r["region"] for r in regions)
    iris.update(shared)
    iris.update(m for members in shared.values() for m in members)
    iris.update(r["old"] for r in former)
    iris |= landscape.iris()
    return {
        "dependencies": landscape,
        "by_service": {k: list(v.values()) for k, v in by_service.items()},
        "datasets": datasets,
        "regions": [r["region"] for r in regions],
        "shared": dict(shared),
        "former": [r["old"] for r in former],
    }, iris


async def application_sections(backend: Reader, iri: str) -> tuple[dict[str, Any], set[str]]:
    node = iri_term(iri)
    rows = await select(
        backend,
        PROLOGUE
        + f"""SELECT ?usage ?municipality ?version ?hosting ?lifecycle ?location ?service WHERE {{
          ?usage kg:application {node} ; kg:usedBy ?municipality .
          OPTIONAL {{ ?usage schema:softwareVersion ?version }}
          OPTIONAL {{ ?usage kg:hosting ?hosting }}
          OPTIONAL {{ ?usage kg:lifecycleStatus ?lifecycle }}
          OPTIONAL {{ ?usage kg:dataLocation ?location }}
          OPTIONAL {{ ?usage kg:supportsService ?service }}
        }}""",
    )
    usages: dict[str, dict[str, Any]] = {}
    for row in rows:
        usage = usages.setdefault(row["usage"], {**row, "services": []})
        if "service" in row and row["service"] not in usage["services"]:
            usage["services"].append(row["service"])
    # Bound by VALUES: matching the application through the usage made the engine
    # start from every integration in the graph.
    depending, impact = await asyncio.gather(
        dependencies(
            backend,
            sorted(usages),
            {iri},
            ("Integrasjoner og felleskomponenter", "Integrations and common components"),
        ),
        impact_rows(backend, "system-retirement", application=iri),
    )
    components: dict[str, set[str]] = defaultdict(set)
    for use in depending.national:
        components[use["component"]].add(use["usage"])
    iris = {v for row in rows for k, v in row.items() if k != "version"}
    iris |= depending.iris()
    iris |= impact_iris(impact)
    ordered = sorted(usages.values(), key=lambda u: u["municipality"])
    return {
        "usages": ordered,
        "integrations": depending.integrations,
        "dependencies": depending,
        "national": {c: len(u) for c, u in components.items()},
        "impact": impact,
    }, iris


IMPACT_LIMIT = 200
"""Rows of an impact query shown on a page; the whole answer is one link away."""


async def impact_rows(backend: Reader, query: str, **parameters: str) -> list[dict[str, str]]:
    """A canned impact query (``law-impact``, ``system-retirement``, ``vendor-failure``),
    bound as ``/queries`` binds it, for a section of a page."""
    text = canned_queries()[query].bind(parameters, "")
    return await select(backend, text)


def impact_iris(rows: list[dict[str, str]]) -> set[str]:
    return {
        v
        for row in rows
        for k, v in row.items()
        if k in ("kommune", "system", "affected", "service", "application", "vendor")
    }


async def vendor_sections(backend: Reader, iri: str) -> tuple[dict[str, Any], set[str]]:
    rows = await select(
        backend,
        PROLOGUE
        + f"""SELECT ?app (COUNT(DISTINCT ?municipality) AS ?users) WHERE {{
          ?app kg:vendor {iri_term(iri)} .
          OPTIONAL {{ ?usage kg:application ?app ; kg:usedBy ?municipality }}
        }} GROUP BY ?app ORDER BY DESC(?users)""",
    )
    impact = await impact_rows(backend, "vendor-failure", vendor=iri)
    return {"applications": rows, "impact": impact}, {r["app"] for r in rows} | impact_iris(impact)


async def service_sections(backend: Reader, iri: str) -> tuple[dict[str, Any], set[str]]:
    node = iri_term(iri)
    legal, systems, coverage = await asyncio.gather(
        select(
            backend,
            PROLOGUE
            + f"""SELECT ?basis ?act WHERE {{
              {node} cv:hasLegalResource ?basis . OPTIONAL {{ ?basis eli:is_part_of ?act }}
            }}""",
        ),
        select(
            backend,
            PROLOGUE
            + f"""SELECT ?app (COUNT(DISTINCT ?municipality) AS ?users) WHERE {{
              ?usage kg:supportsService {node} ; kg:application ?app ; kg:usedBy ?municipality .
            }} GROUP BY ?app ORDER BY DESC(?users) ?app""",
        ),
        # Of the municipalities that have recorded any system, how many have one for
        # this service: the rest are the gap an analyst looks for.
        select(
            backend,
            PROLOGUE
            + f"""SELECT (COUNT(DISTINCT ?reporting) AS ?reported)
                     (COUNT(DISTINCT ?covered) AS ?covering) WHERE {{
              {{ ?usage kg:usedBy ?reporting }}
              UNION {{ ?usage kg:supportsService {node} ; kg:usedBy ?covered }}
            }}""",
        ),
    )
    iris = {v for row in legal for v in row.values()} | {r["app"] for r in systems}
    top = max((int(r["users"]) for r in systems), default=0)
    counts = coverage[0] if coverage else {}
    return {
        "legal": legal,
        "systems": systems,
        "top": top,
        "reported": int(counts.get("reported", 0)),
        "covering": int(counts.get("covering", 0)),
    }, iris


async def dataset_sections(backend: Reader, iri: str) -> tuple[dict[str, Any], set[str]]:
    rows = await select(
        backend,
        PROLOGUE
        + f"""SELECT ?usage ?app ?municipality WHERE {{
          {iri_term(iri)} kg:storedIn ?usage .
          OPTIONAL {{ ?usage kg:application ?app }}
          OPTIONAL {{ ?usage kg:usedBy ?municipality }}
        }}""",
    )
    return {"stored": rows}, {v for row in rows for v in row.values()}


async def legal_basis_sections(backend: Reader, iri: str) -> tuple[dict[str, Any], set[str]]:
    node = iri_term(iri)
    services = await select(
        backend,
        PROLOGUE
        + f"""SELECT DISTINCT ?service ?via WHERE {{
          {{ ?service cv:hasLegalResource {node} BIND({node} AS ?via) }}
          UNION {{ ?via eli:is_part_of {node} . ?service cv:hasLegalResource ?via }}
        }}""",
    )
    datasets = await select(
        backend,
        PROLOGUE
        + f"""SELECT DISTINCT ?dataset ?how WHERE {{
          VALUES ?how {{ kg:legalBasisForProcessing kg:legalBasisForRestriction
                        kg:legalBasisForAccess }}
          {{ ?dataset ?how {node} }} UNION {{ ?part eli:is_part_of {node} . ?dataset ?how ?part }}
        }} LIMIT 500""",
    )
    impact = await impact_rows(backend, "law-impact", law=iri)
    iris = {v for row in services for v in row.values()}
    iris.update(r["dataset"] for r in datasets)
    by_service: dict[str, dict[str, Any]] = {}
    for row in impact:
        summary = by_service.setdefault(
            row["service"],
            {"municipalities": set(), "systems": defaultdict(set), "vendors": set(), "data": 0},
        )
        summary["municipalities"].add(row["kommune"])
        summary["systems"][row["application"]].add(row["kommune"])
        if "vendor" in row:
            summary["vendors"].add(row["vendor"])
        if row.get("datasets"):
            summary["data"] += len(row["datasets"].split("; "))
    iris |= impact_iris(impact)
    return {"services": services, "datasets": datasets, "impact": by_service}, iris


async def usage_sections(backend: Reader, iri: str) -> tuple[dict[str, Any], set[str]]:
    """One municipality's use of one application: its integrations and components, drawn."""
    rows = await select(
        backend,
        PROLOGUE + f"SELECT ?app WHERE {{ {iri_term(iri)} kg:application ?app }} LIMIT 1",
    )
    own = {rows[0]["app"]} if rows else set()
    depending = await dependencies(
        backend,
        [iri],
        own,
        ("Integrasjoner og felleskomponenter", "Integrations and common components"),
    )
    return {"dependencies": depending, "integrations": depending.integrations}, (
        depending.iris() | own
    )


@dataclass(frozen=True)
class Cell:
    apps: list[str]
    shared: set[str]


async def region_sections(backend: Reader, iri: str) -> tuple[dict[str, Any], set[str]]:
    """Members, and the services × members matrix with the system each member uses."""
    node = iri_term(iri)
    members = [
        r["member"]
        for r in await select(
            backend, PROLOGUE + f"SELECT ?member WHERE {{ {node} org:hasMember ?member }}"
        )
    ]
    rows = await select(
        backend,
        PROLOGUE
        + f"""SELECT DISTINCT ?service ?member ?app WHERE {{
          {node} org:hasMember ?member .
          ?usage kg:usedBy ?member ; kg:application ?app ; kg:supportsService ?service .
        }}""",
    )
    matrix: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        matrix[row["service"]][row["member"]].append(row["app"])
    shared_by_service: dict[str, set[str]] = {}
    for service, by_member in matrix.items():
        counts: dict[str, int] = defaultdict(int)
        for apps in by_member.values():
            for app in set(apps):
                counts[app] += 1
        shared_by_service[service] = {app for app, n in counts.items() if n > 1}
    cells = {
        service: {
            member: Cell(sorted(set(apps)), shared_by_service[service] & set(apps))
            for member, apps in by_member.items()
        }
        for service, by_member in matrix.items()
    }
    reuse: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        if row["app"] in shared_by_service[row["service"]]:
            reuse[row["app"]].add(row["member"])
    iris = set(members) | {v for row in rows for v in row.values()}
    return {
        "members": members,
        "cells": cells,
        "reuse": {app: sorted(m) for app, m in reuse.items()},
    }, iris


SECTIONS = {
    "Municipality": municipality_sections,
    "Application": application_sections,
    "Vendor": vendor_sections,
    "StatutoryService": service_sections,
    "Dataset": dataset_sections,
    "LegalBasis": legal_basis_sections,
    "Region": region_sections,
    "ApplicationUsage": usage_sections,
}
"""Class (local name in kg:) → its sections; the template of the same name shows them."""
