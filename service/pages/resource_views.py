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
from service.sparql.canned import Parameter
from service.store.backend import Reader
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

    async def fetch(self, backend: Reader, iris: set[str]) -> None:
        """Labels of ``iris`` (and, for IRIs outside the base, whether we describe them).

        Three small queries rather than one with OPTIONALs: a left join whose right
        side mentions an outside variable is evaluated on its own by the engine,
        which costs a scan of every usage on a big graph.
        """
        wanted = sorted(i for i in iris if i not in self.labels and i.startswith("http"))
        found: dict[str, dict[str, str]] = defaultdict(dict)
        outside = [i for i in wanted if not i.startswith((self.base_iri, KG))]
        # Side by side (each lookup waits its turn for a worker; in turn they waited
        # several times as long under load).
        named, described = await asyncio.gather(
            asyncio.gather(
                *(
                    select_terms(
                        backend,
                        PROLOGUE
                        + f"""SELECT ?x ?l WHERE {{
                  VALUES ?x {{ {values(chunk)} }} ?x rdfs:label|skos:prefLabel|dct:title ?l
                }}""",
                    )
                    for chunk in _chunks(wanted)
                )
            ),
            asyncio.gather(
                *(
                    select(
                        backend,
                        f"""SELECT ?x WHERE {{
                  VALUES ?x {{ {values(chunk)} }} FILTER EXISTS {{ ?x ?p ?o }}
                }}""",
                    )
                    for chunk in _chunks(outside)
                )
            ),
        )
        for row in (row for rows in named for row in rows):
            label = row["l"]
            found[row["x"]["value"]].setdefault(label.get("xml:lang", "").lower(), label["value"])
        self.described.update(row["x"] for rows in described for row in rows)
        unnamed = [i for i in wanted if i not in found]
        # A usage has no name of its own: "application – municipality".
        usages = await asyncio.gather(
            *(
                select_terms(
                    backend,
                    PROLOGUE
                    + f"""SELECT ?x ?app ?owner WHERE {{
                  VALUES ?x {{ {values(chunk)} }}
                  ?x kg:application/rdfs:label ?app ; kg:usedBy/rdfs:label ?owner .
                }}""",
                )
                for chunk in _chunks(unnamed)
            )
        )
        for row in (row for rows in usages for row in rows):
            usage = f"{row['app']['value']} – {row['owner']['value']}"
            found[row["x"]["value"]].setdefault(row["app"].get("xml:lang", "").lower(), usage)
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


async def successors(backend: Reader, iri: str) -> list[str]:
    """The IRIs that replaced this one (an old kommunenummer): one, or several if the
    municipality was split; sorted."""
    rows = await select(
        backend,
        PROLOGUE + f"SELECT ?next WHERE {{ {iri_term(iri)} dct:isReplacedBy ?next }} LIMIT 20",
    )
    return sorted({row["next"] for row in rows})


async def describe(backend: Reader, iri: str) -> Description:
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
    backend: Reader, usages: list[str], own: set[str], title: tuple[str, str]
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


OPTION_LIMIT = 2000
"""An IRI parameter with more candidates than this gets a text box, not a list."""


async def parameter_options(
    backend: Reader, names: Names, parameter: Parameter
) -> list[tuple[str, str]] | None:
    """The resources an IRI parameter can take, labelled and sorted; None when too many."""
    if parameter.type != "iri" or not parameter.iri_class:
        return None
    rows = await select(
        backend,
        PROLOGUE
        + f"""SELECT DISTINCT ?x WHERE {{
          ?x a {iri_term(parameter.iri_class)} .
          FILTER NOT EXISTS {{ ?x dct:isReplacedBy ?later }}
        }} LIMIT {OPTION_LIMIT + 1}""",
    )
    if len(rows) > OPTION_LIMIT:
        return None
    await names.fetch(backend, {row["x"] for row in rows})
    options = [(row["x"], names.label(row["x"])) for row in rows]
    return sorted(options, key=lambda pair: pair[1].casefold())
