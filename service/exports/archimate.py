"""A municipality's (or a region's) portfolio as an ArchiMate 3.1 model.

Enterprise architects model in ArchiMate, mostly in Archi; this module reads the portfolio
from the graph into a small model (``Model``); ``service.exports.archimate_xml`` writes it in
The Open Group's Model Exchange File Format and ``service.exports.archi_csv`` as Archi's CSV
import files, so the two can never disagree about what is exported.

The mapping (documented in docs/archimate.md):

- a usage (one municipality's use of one application) → Application Component, with
  version, hosting, lifecycle, cost and the rest as properties;
- the municipality and the vendor → Business Actors (the component serves the
  municipality; the vendor is associated with it);
- a statutory service → Business Service, served by the components supporting it;
- the service's legal basis (act or section, Lovdata ELI) → Requirement, realised by the
  service;
- a national common component → Application Component (marked as national), serving the
  components that use it;
- a dataset → Data Object, accessed (read/write) by the components storing it;
- an integration → Flow relationship between the two components.

Identifiers are derived from the IRIs (``id-`` and a hash), so a re-export of the same
portfolio has the same identifiers and a tool that merges by identifier updates its model
instead of duplicating it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

import pyoxigraph as ox

from loaders.namespaces import sparql_prologue

Select = Callable[[str], Awaitable[list[dict[str, str]]]]
"""Runs a SELECT and returns {variable: value} rows: through the backend, or in-process."""

NS = "http://www.opengroup.org/xsd/archimate/3.0/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
SCHEMA_LOCATION = f"{NS} http://www.opengroup.org/xsd/archimate/3.1/archimate3_Diagram.xsd"
MEDIA_TYPE = "application/xml"

NATIONAL = "Nasjonal felleskomponent / National common component"


@dataclass(frozen=True)
class PropertyDefinition:
    key: str
    name: str
    """What Archi shows as the property's name (bokmål / English)."""
    type: str
    """The exchange format's data type: string, number, date, boolean, currency, time."""


PROPERTIES = (
    PropertyDefinition("iri", "kommunegraf-IRI", "string"),
    PropertyDefinition("application", "Applikasjon (IRI) / Application (IRI)", "string"),
    PropertyDefinition("municipality", "Kommune / Municipality", "string"),
    PropertyDefinition("version", "Versjon / Version", "string"),
    PropertyDefinition("hosting", "Drift / Hosting", "string"),
    PropertyDefinition("lifecycle", "Livsløpsstatus / Lifecycle status", "string"),
    PropertyDefinition("cost", "Årlig kostnad (NOK) / Annual cost (NOK)", "number"),
    PropertyDefinition("contract", "Avtalen utløper / Contract end date", "date"),
    PropertyDefinition("users", "Antall brukere / Number of users", "number"),
    PropertyDefinition("owner", "Systemeier / System owner", "string"),
    PropertyDefinition("location", "Datalagring / Data location", "string"),
    PropertyDefinition("vendor", "Leverandør / Vendor", "string"),
    PropertyDefinition("category", "Kategori / Category", "string"),
    PropertyDefinition("kind", "Type", "string"),
    PropertyDefinition("act", "Lov (ELI) / Act (ELI)", "string"),
    PropertyDefinition("personal", "Personopplysninger / Personal data", "string"),
    PropertyDefinition("method", "Metode / Method", "string"),
)
PROPERTY_BY_KEY = {p.key: p for p in PROPERTIES}


def identifier(*parts: str) -> str:
    """A stable exchange identifier (an xs:ID, and a valid Archi CSV id) for an IRI.

    >>> identifier("http://x.test/id/bruk/4203/websak")
    'id-5827d07c64a99d0671099f4f'
    """
    digest = hashlib.sha256("|".join(parts).encode("utf-8")).hexdigest()
    return "id-" + digest[:24]


@dataclass
class Concept:
    """What the exchange format's elements and relationships both have."""

    id: str
    type: str
    """As the exchange format spells it: ``ApplicationComponent`` for an element;
    ``Serving``, ``Flow``, ``Access``, ``Realization`` or ``Association`` for a relationship."""
    properties: dict[str, str] = field(default_factory=dict, kw_only=True)


@dataclass
class Element(Concept):
    name: str
    layer: int
    """Row band in the generated view: 0 motivation … 4 data."""
    documentation: str = ""


@dataclass
class Relationship(Concept):
    source: str
    target: str
    name: str = ""
    access_type: str | None = None


def _fill(properties: dict[str, str], values: dict[str, str | None]) -> None:
    """Add the values given that are not there yet (the first reading of a fact wins)."""
    for key, value in values.items():
        if value and key not in properties:
            properties[key] = value


@dataclass
class Model:
    id: str
    name: str
    documentation: str
    elements: dict[str, Element] = field(default_factory=dict)
    relationships: dict[str, Relationship] = field(default_factory=dict)

    def element(
        self, iri: str, type_: str, name: str, layer: int, **properties: str | None
    ) -> Element:
        """The element of ``iri`` (made once; later calls fill in missing properties)."""
        key = identifier(iri)
        found = self.elements.get(key)
        if found is None:
            found = Element(key, type_, name, layer, properties={"iri": iri})
            self.elements[key] = found
        _fill(found.properties, properties)
        return found

    def named(
        self, row: dict[str, str], key: str, type_: str, layer: int, **properties: str | None
    ) -> Element:
        """The element of the IRI ``row[key]``, named by ``row[key + "Name"]`` when the
        query found a name, else by its IRI (the queries' ``?xName`` convention)."""
        return self.element(row[key], type_, row.get(f"{key}Name", row[key]), layer, **properties)

    def relate(
        self,
        type_: str,
        source: Element,
        target: Element,
        *,
        iri: str | None = None,
        name: str = "",
        access_type: str | None = None,
        **properties: str | None,
    ) -> Relationship:
        key = identifier(iri) if iri else identifier(type_, source.id, target.id)
        found = self.relationships.get(key)
        if found is None:
            found = Relationship(key, type_, source.id, target.id, name, access_type=access_type)
            if iri:
                found.properties["iri"] = iri
            self.relationships[key] = found
        _fill(found.properties, properties)
        return found

    def applications(self) -> list[Element]:
        """The portfolio's own Application Components (not national, not others')."""
        return [
            e
            for e in self.elements.values()
            if e.type == "ApplicationComponent" and "municipality" in e.properties
        ]


# --- reading -------------------------------------------------------------------------

_USAGES = """
SELECT ?usage ?kommune ?kommuneName ?app ?appName ?vendor ?vendorName ?version ?hosting
       ?lifecycle ?cost ?contract ?users ?owner ?location ?description ?category WHERE {
  VALUES ?kommune { %s }
  ?usage kg:usedBy ?kommune ; kg:application ?app .
  OPTIONAL { ?kommune rdfs:label ?kommuneName }
  OPTIONAL { ?app rdfs:label ?appName }
  OPTIONAL { ?app kg:vendor ?vendor . OPTIONAL { ?vendor rdfs:label ?vendorName } }
  OPTIONAL { ?usage schema:softwareVersion ?version }
  OPTIONAL { ?usage kg:hosting/skos:prefLabel ?hosting FILTER(lang(?hosting) = "nb") }
  OPTIONAL { ?usage kg:lifecycleStatus/skos:prefLabel ?lifecycle FILTER(lang(?lifecycle) = "nb") }
  OPTIONAL { ?usage kg:annualCost ?cost }
  OPTIONAL {  # the municipality's contract covering the application (the latest end)
    SELECT ?kommune ?app (MAX(?end) AS ?contract) WHERE {
      ?c kg:contractingAuthority ?kommune ; kg:covers ?app ; schema:endDate ?end .
    } GROUP BY ?kommune ?app
  }
  OPTIONAL { ?usage kg:numberOfUsers ?users }
  OPTIONAL { ?usage kg:systemOwner ?owner }
  OPTIONAL { ?usage kg:dataLocation/skos:prefLabel ?location FILTER(lang(?location) = "nb") }
  OPTIONAL { ?app dct:description ?description }
  OPTIONAL { ?app kg:applicationCategory/skos:prefLabel ?category FILTER(lang(?category) = "nb") }
}
"""

_SERVICES = """
SELECT ?usage ?service ?serviceName ?basis ?basisName ?act WHERE {
  VALUES ?kommune { %s }
  ?usage kg:usedBy ?kommune ; kg:supportsService ?service .
  OPTIONAL { ?service rdfs:label ?serviceName FILTER(lang(?serviceName) = "nb") }
  OPTIONAL {
    ?service cv:hasLegalResource ?basis .
    OPTIONAL { ?basis rdfs:label ?basisName FILTER(lang(?basisName) = "nb") }
    OPTIONAL { ?basis eli:is_part_of ?act }
  }
}
"""

_NATIONAL = """
SELECT ?usage ?component ?componentName WHERE {
  VALUES ?kommune { %s }
  ?usage kg:usedBy ?kommune ; kg:usesNationalComponent ?component .
  OPTIONAL { ?component rdfs:label ?componentName FILTER(lang(?componentName) = "nb") }
}
"""

_INTEGRATIONS = """
SELECT DISTINCT ?integration ?integrationName ?source ?target ?method WHERE {
  VALUES ?kommune { %s }
  ?usage kg:usedBy ?kommune .
  { ?integration kg:integrationSource ?usage } UNION { ?integration kg:integrationTarget ?usage }
  ?integration kg:integrationSource ?source ; kg:integrationTarget ?target .
  OPTIONAL { ?integration rdfs:label ?integrationName }
  OPTIONAL { ?integration kg:integrationMethod/skos:prefLabel ?method FILTER(lang(?method) = "nb") }
}
"""

_ENDS = """
SELECT ?end ?app ?appName ?owner ?ownerName ?national WHERE {
  VALUES ?end { %s }
  OPTIONAL {
    ?end kg:application ?app ; kg:usedBy ?owner .
    OPTIONAL { ?app rdfs:label ?appName }
    OPTIONAL { ?owner rdfs:label ?ownerName }
  }
  OPTIONAL { ?end a kg:NationalComponent ; rdfs:label ?national FILTER(lang(?national) = "nb") }
}
"""

_DATASETS = """
SELECT ?dataset ?datasetName ?usage ?personal WHERE {
  VALUES ?kommune { %s }
  ?usage kg:usedBy ?kommune .
  ?dataset kg:storedIn ?usage .
  OPTIONAL { ?dataset rdfs:label ?datasetName }
  OPTIONAL { ?dataset kg:personalData/skos:prefLabel ?personal FILTER(lang(?personal) = "nb") }
}
"""


def _values(iris: Iterable[str]) -> str:
    return " ".join(str(ox.NamedNode(iri)) for iri in sorted(set(iris)))


def _query(template: str, iris: Iterable[str]) -> str:
    return sparql_prologue() + template % _values(iris)


def _first(rows: list[dict[str, str]], key: str) -> dict[str, dict[str, str]]:
    """Rows by ``key``, the first row for each (labels in several languages repeat rows)."""
    found: dict[str, dict[str, str]] = {}
    for row in rows:
        found.setdefault(row[key], row)
    return found


async def read_model(select: Select, municipalities: list[str], name: str, scope_iri: str) -> Model:
    """The portfolio of ``municipalities`` (IRIs) as an ArchiMate model named ``name``.

    ``scope_iri`` (the municipality's or region's IRI) gives the model its identifier.
    """
    model = Model(
        identifier("model", scope_iri),
        name,
        f"Eksportert fra kommunegraf / exported from kommunegraf: <{scope_iri}>",
    )
    several = len(municipalities) > 1
    usage_rows = await select(_query(_USAGES, municipalities))
    usages = _first(usage_rows, "usage")
    categories: dict[str, list[str]] = {}
    for row in usage_rows:
        found = categories.setdefault(row["usage"], [])
        if "category" in row and row["category"] not in found:
            found.append(row["category"])
    components: dict[str, Element] = {}
    for usage_iri, row in sorted(usages.items(), key=lambda kv: kv[1].get("appName", "")):
        app_name = row.get("appName", usage_iri)
        owner_name = row.get("kommuneName", row["kommune"])
        component = model.element(
            usage_iri,
            "ApplicationComponent",
            f"{app_name} ({owner_name})" if several else app_name,
            2,
            application=row["app"],
            municipality=owner_name,
            version=row.get("version"),
            hosting=row.get("hosting"),
            lifecycle=row.get("lifecycle"),
            cost=row.get("cost"),
            contract=row.get("contract"),
            users=row.get("users"),
            owner=row.get("owner"),
            location=row.get("location"),
            vendor=row.get("vendorName"),
            category="; ".join(sorted(categories[usage_iri])),
        )
        component.documentation = row.get("description", "")
        components[usage_iri] = component
        actor = model.element(row["kommune"], "BusinessActor", owner_name, 1, kind="Kommune")
        model.relate("Serving", component, actor)
        if "vendor" in row:
            vendor = model.named(row, "vendor", "BusinessActor", 4, kind="Leverandør / Vendor")
            model.relate("Association", vendor, component, name="leverer / supplies")
    if not usages:
        return model
    for row in await select(_query(_SERVICES, municipalities)):
        if row["usage"] not in components:
            continue
        service = model.named(row, "service", "BusinessService", 1)
        model.relate("Serving", components[row["usage"]], service)
        if "basis" in row:
            act = row.get("act", row["basis"])
            requirement = model.named(row, "basis", "Requirement", 0, act=act)
            model.relate("Realization", service, requirement)
    for row in await select(_query(_NATIONAL, municipalities)):
        if row["usage"] not in components:
            continue
        national = model.named(row, "component", "ApplicationComponent", 3, kind=NATIONAL)
        model.relate("Serving", national, components[row["usage"]])
    integrations = _first(await select(_query(_INTEGRATIONS, municipalities)), "integration")
    ends = {r["source"] for r in integrations.values()} | {
        r["target"] for r in integrations.values()
    }
    unknown = ends - set(components)
    described = _first(await select(_query(_ENDS, unknown)), "end") if unknown else {}
    for integration_iri, row in sorted(integrations.items()):
        source = _end(model, components, described, row["source"])
        target = _end(model, components, described, row["target"])
        if source is None or target is None:
            continue
        model.relate(
            "Flow",
            source,
            target,
            iri=integration_iri,
            name=row.get("integrationName", ""),
            method=row.get("method"),
        )
    for row in await select(_query(_DATASETS, municipalities)):
        if row["usage"] not in components:
            continue
        data = model.named(row, "dataset", "DataObject", 4, personal=row.get("personal"))
        model.relate("Access", components[row["usage"]], data, access_type="ReadWrite")
    return model


def _end(
    model: Model,
    components: dict[str, Element],
    described: dict[str, dict[str, str]],
    iri: str,
) -> Element | None:
    """The element at one end of an integration: ours, another municipality's, or national."""
    if iri in components:
        return components[iri]
    row = described.get(iri, {})
    if "national" in row:
        return model.element(iri, "ApplicationComponent", row["national"], 3, kind=NATIONAL)
    if "app" in row:
        owner = row.get("ownerName", row["owner"])
        return model.element(
            iri,
            "ApplicationComponent",
            f"{row.get('appName', row['app'])} ({owner})",
            3,
            kind="Annen kommunes system / Another municipality's system",
        )
    return None


# --- what to export ------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """The municipalities whose portfolio is exported, and what to call the export."""

    iri: str
    name: str
    municipalities: list[str]
    file_stem: str


class UnknownScopeError(LookupError):
    """No current municipality with that number, or no region with that name."""


async def municipality_scope(select: Select, kommunenummer: str, base_iri: str) -> Scope:
    if not (len(kommunenummer) == 4 and kommunenummer.isascii() and kommunenummer.isdigit()):
        raise UnknownScopeError(kommunenummer)
    iri = f"{base_iri}id/kommune/{kommunenummer}"
    rows = await select(
        sparql_prologue()
        + f"""SELECT ?name WHERE {{ {ox.NamedNode(iri)} kg:municipalityNumber ?n .
              OPTIONAL {{ {ox.NamedNode(iri)} rdfs:label ?name }} }}"""
    )
    if not rows:
        raise UnknownScopeError(kommunenummer)
    name = rows[0].get("name", kommunenummer)
    return Scope(iri, f"{name} ({kommunenummer})", [iri], f"archimate-{kommunenummer}")


async def region_scope(select: Select, slug: str, base_iri: str) -> Scope:
    try:
        iri = str(ox.NamedNode(f"{base_iri}id/region/{slug}"))[1:-1]
    except ValueError:
        raise UnknownScopeError(slug) from None
    rows = await select(
        sparql_prologue()
        + f"""SELECT ?member ?name WHERE {{ {ox.NamedNode(iri)} a kg:Region .
              OPTIONAL {{ {ox.NamedNode(iri)} org:hasMember ?member }}
              OPTIONAL {{ {ox.NamedNode(iri)} rdfs:label ?name }} }}"""
    )
    if not rows:
        raise UnknownScopeError(slug)
    members = sorted({r["member"] for r in rows if "member" in r})
    name = rows[0].get("name", slug)
    safe = "".join(c for c in slug if c.isascii() and (c.isalnum() or c in "-_"))
    return Scope(iri, name, members, f"archimate-{safe or 'region'}")


async def export_model(select: Select, scope: Scope) -> Model:
    return await read_model(select, scope.municipalities, scope.name, scope.iri)
