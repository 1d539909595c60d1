"""What a resource page shows: its own statements, then what an analyst asks of its class.

Every lookup is a SPARQL query through the backend (the same deadline and worker
processes as any user query, never on the event loop). IRIs are written into query
text only through ``pyoxigraph.NamedNode``, which rejects anything that is not an
IRI, so a crafted path cannot change a query.

Pages first collect IRIs, then fetch all their labels in one query
(``Names.fetch``), choosing each label by the reader's language.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pyoxigraph as ox
from markupsafe import Markup

from loaders.namespaces import sparql_prologue
from service.pages.dependency_graph import DependencyGraph
from service.pages.render import link
from service.pages.term_names import compact, term_name
from service.sparql.canned import canned_queries
from service.store.backend import Backend
from service.store.reads import select, select_terms

KG = "https://w3id.org/kommunegraf/ontology#"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
PROLOGUE = sparql_prologue()
INCOMING_LIMIT = 500
OUTGOING_LIMIT = 2000

_LANGUAGE_ORDER = {"nb": ("nb", "", "nn", "no", "en"), "en": ("en", "", "nb", "nn", "no")}


def iri_term(iri: str) -> str:
    """``<iri>`` for query text; raises ValueError for anything that is not an IRI."""
    return str(ox.NamedNode(iri))


def values(iris: list[str]) -> str:
    return " ".join(iri_term(iri) for iri in iris)


def local_name(iri: str) -> str:
    """The last segment of an IRI, for things without a label.

    >>> local_name("http://x.test/id/kommune/4203")
    '4203'
    """
    return iri.rstrip("/").rsplit("#", 1)[-1].rsplit("/", 1)[-1] or iri


def _chunks(iris: list[str], size: int = 400) -> list[list[str]]:
    return [iris[start : start + size] for start in range(0, len(iris), size)]


class Names:
    """Labels and links of the IRIs a page mentions, in the reader's language."""

    def __init__(self, base_iri: str, lang: str) -> None:
        self.base_iri = base_iri
        self.lang = lang
        self.labels: dict[str, str] = {}
        self.described: set[str] = set()

    async def fetch(self, backend: Backend, iris: set[str]) -> None:
        """Labels of ``iris`` (and, for IRIs outside the base, whether we describe them).

        Three small queries rather than one with OPTIONALs: a left join whose right
        side mentions an outside variable is evaluated on its own by the engine,
        which costs a scan of every usage on a big graph.
        """
        wanted = sorted(i for i in iris if i not in self.labels and i.startswith("http"))
        found: dict[str, dict[str, str]] = defaultdict(dict)
        for chunk in _chunks(wanted):
            for row in await select_terms(
                backend,
                PROLOGUE
                + f"""SELECT ?x ?l WHERE {{
                  VALUES ?x {{ {values(chunk)} }} ?x rdfs:label|skos:prefLabel|dct:title ?l
                }}""",
            ):
                label = row["l"]
                found[row["x"]["value"]].setdefault(
                    label.get("xml:lang", "").lower(), label["value"]
                )
        unnamed = [i for i in wanted if i not in found]
        for chunk in _chunks(unnamed):
            # A usage has no name of its own: "application – municipality".
            for row in await select_terms(
                backend,
                PROLOGUE
                + f"""SELECT ?x ?app ?owner WHERE {{
                  VALUES ?x {{ {values(chunk)} }}
                  ?x kg:application/rdfs:label ?app ; kg:usedBy/rdfs:label ?owner .
                }}""",
            ):
                usage = f"{row['app']['value']} – {row['owner']['value']}"
                found[row["x"]["value"]].setdefault(row["app"].get("xml:lang", "").lower(), usage)
        outside = [i for i in wanted if not i.startswith((self.base_iri, KG))]
        for chunk in _chunks(outside):
            rows = await select(
                backend,
                f"""SELECT ?x WHERE {{
                  VALUES ?x {{ {values(chunk)} }} FILTER EXISTS {{ ?x ?p ?o }}
                }}""",
            )
            self.described.update(row["x"] for row in rows)
        order = _LANGUAGE_ORDER.get(self.lang, _LANGUAGE_ORDER["nb"])
        for iri, by_language in found.items():
            for language in (*order, *sorted(by_language)):
                if language in by_language:
                    self.labels[iri] = by_language[language]
                    break

    def label(self, iri: str) -> str:
        return self.labels.get(iri) or local_name(iri)

    def sorted(self, iris: Iterable[str]) -> list[str]:
        """IRIs in the order of their labels, as a reader looks for them."""
        return sorted(iris, key=lambda iri: (self.label(iri).casefold(), iri))

    def href(self, iri: str) -> str:
        """Where a link to ``iri`` goes: its page here when the graph describes it.

        IRIs under the base are served at their own path, the ontology's terms at
        their documentation; other IRIs the graph describes (Lovdata acts, LOS
        themes) get a page at ``/ressurs?iri=``; anything else is a link out.
        """
        if iri.startswith(self.base_iri):
            return "/" + quote(iri[len(self.base_iri) :], safe="/:@!$&'()*+,;=-._~%")
        if iri.startswith(KG):
            return "/ontology#" + quote(iri[len(KG) :], safe="")
        if iri in self.described:
            return "/ressurs?iri=" + quote(iri, safe="")
        return iri

    def a(self, iri: str) -> Markup:
        """A link with the label as its text; markup in the label is escaped."""
        return link(self.href(iri), self.label(iri))

    def term(self, iri: str) -> str:
        """A vocabulary term's name, capitalised; its prefixed name if it has none."""
        name = term_name(iri, self.lang)
        return name[:1].upper() + name[1:] if name else compact(iri)


@dataclass(frozen=True)
class Value:
    """One object of a statement: a link or a literal."""

    iri: str | None = None
    text: str = ""
    lang: str = ""
    datatype: str = ""


@dataclass
class Description:
    iri: str
    types: list[str] = field(default_factory=list)
    outgoing: dict[str, list[Value]] = field(default_factory=dict)
    incoming: dict[str, list[str]] = field(default_factory=dict)
    incoming_truncated: bool = False
    sections: dict[str, Any] = field(default_factory=dict)

    @property
    def exists(self) -> bool:
        return bool(self.outgoing or self.incoming)

    def first(self, predicate: str) -> str | None:
        for value in self.outgoing.get(predicate, []):
            return value.iri or value.text
        return None

    def has_type(self, local: str) -> bool:
        return KG + local in self.types


async def successors(backend: Backend, iri: str) -> list[str]:
    """The IRIs that replaced this one (an old kommunenummer): one, or several if the
    municipality was split; sorted."""
    rows = await select(
        backend,
        PROLOGUE + f"SELECT ?next WHERE {{ {iri_term(iri)} dct:isReplacedBy ?next }} LIMIT 20",
    )
    return sorted({row["next"] for row in rows})


async def describe(backend: Backend, iri: str) -> Description:
    """The resource's own statements and the statements that point at it."""
    node = iri_term(iri)
    description = Description(iri)
    rows, incoming = await asyncio.gather(
        select_terms(backend, f"SELECT ?p ?o WHERE {{ {node} ?p ?o }} LIMIT {OUTGOING_LIMIT}"),
        select_terms(
            backend,
            f"SELECT ?s ?p WHERE {{ ?s ?p {node} FILTER(isIRI(?s)) }} LIMIT {INCOMING_LIMIT + 1}",
        ),
    )
    for row in rows:
        predicate, term = row["p"]["value"], row["o"]
        if predicate == RDF_TYPE:
            description.types.append(term["value"])
        value = (
            Value(iri=term["value"])
            if term["type"] == "uri"
            else Value(
                text=term["value"],
                lang=term.get("xml:lang", ""),
                datatype=term.get("datatype", ""),
            )
        )
        description.outgoing.setdefault(predicate, []).append(value)
    description.incoming_truncated = len(incoming) > INCOMING_LIMIT
    for row in incoming[:INCOMING_LIMIT]:
        description.incoming.setdefault(row["p"]["value"], []).append(row["s"]["value"])
    return description


def mentioned(description: Description) -> set[str]:
    """Every IRI the generic part of the page shows."""
    iris = {description.iri, *description.types, *description.outgoing, *description.incoming}
    for found in description.outgoing.values():
        iris.update(v.iri for v in found if v.iri)
    for subjects in description.incoming.values():
        iris.update(subjects)
    return iris


# Class-specific sections. Each returns plain data with IRIs and the set of IRIs
# it mentions; the template turns IRIs into labelled links.


@dataclass
class Dependencies:
    """The integrations of some usages and the national components they use, for the
    drawn graph (``service.pages.dependency_graph``) and the table beside it."""

    integrations: list[dict[str, str]]
    """integration, source, target, sourceApp / targetApp (when a usage), method."""
    national: list[dict[str, str]]
    """usage, app, component: recorded with kg:usesNationalComponent."""
    own: set[str]
    """The applications the page is about (drawn highlighted)."""
    title: tuple[str, str]
    """The picture's title, (nb, en)."""

    def iris(self) -> set[str]:
        found = {v for row in self.integrations for v in row.values()}
        found.update(v for row in self.national for v in row.values())
        return found

    def components(self) -> list[tuple[str, list[str]]]:
        """Each national component with the usages recorded as using it."""
        found: dict[str, list[str]] = defaultdict(list)
        for row in self.national:
            found[row["component"]].append(row["usage"])
        return sorted(found.items())

    def end(self, row: dict[str, str], side: str) -> str:
        """What a node stands for: the application of a usage, or the component itself."""
        return row.get(f"{side}App") or row[side]

    def graph(self, names: Names) -> DependencyGraph:
        nb, en = self.title
        title = en if names.lang == "en" else nb
        edges = len(self.integrations) + len(self.national)
        description = (
            f"{edges} integrations and uses of national common components; the same facts "
            "are in the table below."
            if names.lang == "en"
            else f"{edges} integrasjoner og bruk av nasjonale felleskomponenter; de samme "
            "opplysningene står i tabellen under."
        )
        graph = DependencyGraph(title, description)

        def add(iri: str, is_app: bool) -> None:
            kind = "self" if iri in self.own else "application" if is_app else "national"
            graph.node(iri, names.label(iri), kind, names.href(iri))

        for row in self.integrations:
            source, target = self.end(row, "source"), self.end(row, "target")
            add(source, "sourceApp" in row)
            add(target, "targetApp" in row)
            named = names.labels.get(row["integration"])
            method = names.label(row["method"]) if "method" in row else ""
            graph.edge(source, target, named or method)
        uses = "uses" if names.lang == "en" else "bruker"
        for row in self.national:
            add(row["app"], True)
            add(row["component"], False)
            graph.edge(row["component"], row["app"], uses)
        return graph


async def dependencies(
    backend: Backend, usages: list[str], own: set[str], title: tuple[str, str]
) -> Dependencies:
    """Integrations into and out of ``usages`` and the national components they use."""
    if not usages:
        return Dependencies([], [], own, title)
    integrations: list[dict[str, str]] = []
    national: list[dict[str, str]] = []
    for chunk in _chunks(sorted(usages)):
        found, uses = await asyncio.gather(
            select(
                backend,
                PROLOGUE
                + f"""SELECT DISTINCT ?integration ?source ?target ?sourceApp ?targetApp ?method
                WHERE {{
                  VALUES ?usage {{ {values(chunk)} }}
                  {{ ?integration kg:integrationSource ?usage }}
                  UNION {{ ?integration kg:integrationTarget ?usage }}
                  ?integration kg:integrationSource ?source ; kg:integrationTarget ?target .
                  OPTIONAL {{ ?source kg:application ?sourceApp }}
                  OPTIONAL {{ ?target kg:application ?targetApp }}
                  OPTIONAL {{ ?integration kg:integrationMethod ?method }}
                }} LIMIT 2000""",
            ),
            select(
                backend,
                PROLOGUE
                + f"""SELECT DISTINCT ?usage ?app ?component WHERE {{
                  VALUES ?usage {{ {values(chunk)} }}
                  ?usage kg:usesNationalComponent ?component ; kg:application ?app .
                }}""",
            ),
        )
        integrations += [row for row in found if row not in integrations]
        national += uses
    return Dependencies(integrations, national, own, title)


async def municipality_sections(backend: Backend, iri: str) -> tuple[dict[str, Any], set[str]]:
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
    neighbours: list[dict[str, str]] = []
    if others and mine:
        neighbours = await select(
            backend,
            PROLOGUE
            + f"""SELECT DISTINCT ?app ?other WHERE {{
              VALUES ?other {{ {values([row["other"] for row in others])} }}
              VALUES ?app {{ {values(mine)} }}
              ?theirs kg:usedBy ?other ; kg:application ?app .
            }}""",
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
    landscape = await dependencies(
        backend,
        sorted({row["usage"] for row in usages}),
        set(mine),
        ("Integrasjonslandskapet", "The integration landscape"),
    )
    iris |= landscape.iris()
    return {
        "dependencies": landscape,
        "by_service": {k: list(v.values()) for k, v in by_service.items()},
        "datasets": datasets,
        "regions": [r["region"] for r in regions],
        "shared": dict(shared),
        "former": [r["old"] for r in former],
    }, iris


async def application_sections(backend: Backend, iri: str) -> tuple[dict[str, Any], set[str]]:
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


async def impact_rows(backend: Backend, query: str, **parameters: str) -> list[dict[str, str]]:
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


async def vendor_sections(backend: Backend, iri: str) -> tuple[dict[str, Any], set[str]]:
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


async def service_sections(backend: Backend, iri: str) -> tuple[dict[str, Any], set[str]]:
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


async def dataset_sections(backend: Backend, iri: str) -> tuple[dict[str, Any], set[str]]:
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


async def legal_basis_sections(backend: Backend, iri: str) -> tuple[dict[str, Any], set[str]]:
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


async def usage_sections(backend: Backend, iri: str) -> tuple[dict[str, Any], set[str]]:
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


async def region_sections(backend: Backend, iri: str) -> tuple[dict[str, Any], set[str]]:
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
