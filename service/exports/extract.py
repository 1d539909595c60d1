"""What the export reads from the graph.

Why CONSTRUCT into an rdflib graph and map in Python: the same query text runs on
the embedded store (through the query workers and their deadline, for the routes and
the CLI alike) and on a remote SPARQL server; the mapping to DCAT-AP-NO and
CPSV-AP-NO is then a pure function of that graph, testable without a store.

Which datasets are left out is decided by the canned query
``queries/datasets-not-exportable.rq`` and nothing else, so the to-do list a
municipality sees and the catalogue a harvester gets cannot disagree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import pyoxigraph as ox
from rdflib import Graph

from loaders.namespaces import sparql_prologue
from loaders.paths import queries_dir
from service.store.backend import Reader
from service.store.reads import construct, select

NOT_EXPORTABLE = "datasets-not-exportable"
"""The canned query that lists each dataset the catalogue leaves out, with the reason."""

_KOMMUNENUMMER = re.compile(r"^[0-9]{4}$")

_DATASET = "?dataset a kg:Dataset ; dct:publisher ?kommune ."
_BASES = "kg:legalBasisForProcessing|kg:legalBasisForRestriction|kg:legalBasisForAccess"

_DATASETS = (
    # Why several queries, each of distinct subjects: one CONSTRUCT with a UNION per kind
    # of node repeated every theme's and act's triples once per dataset (7.9 MB of
    # N-Triples for 51,000 distinct triples) and took 168 s on the national demo; these
    # take about 9 s together on a busy machine.
    "CONSTRUCT { ?kommune ?p ?o } WHERE { ?kommune a kg:Municipality ; ?p ?o }",
    f"CONSTRUCT {{ ?dataset ?p ?o }} WHERE {{ {_DATASET} ?dataset ?p ?o }}",
    f"""CONSTRUCT {{ ?s ?p ?o }} WHERE {{
      {_DATASET} ?dataset dcat:contactPoint|dcat:distribution ?s . ?s ?p ?o }}""",
    f"""CONSTRUCT {{ ?s ?p ?o }} WHERE {{
      {{ SELECT DISTINCT ?s WHERE {{ {_DATASET} ?dataset dcat:theme ?s }} }} ?s ?p ?o }}""",
    f"""CONSTRUCT {{ ?s ?p ?o }} WHERE {{
      {{ SELECT DISTINCT ?s WHERE {{
        {{ {_DATASET} ?dataset {_BASES} ?s }}
        UNION {{ {_DATASET} ?dataset {_BASES} ?basis .
                 ?basis eli:is_part_of|dct:type|eli:is_part_of/dct:type ?s }}
      }} }}
      ?s ?p ?o }}""",
)

_SERVICES = """
CONSTRUCT { ?s ?p ?o } WHERE {
  {
    ?kommune a kg:Municipality ; kg:county ?county . BIND(?kommune AS ?s)
  } UNION {
    ?service a kg:StatutoryService . BIND(?service AS ?s)
  } UNION {
    ?service a kg:StatutoryService ; cv:hasLegalResource/eli:is_part_of? ?s .
  } UNION {
    ?service a kg:StatutoryService ; cv:hasLegalResource/eli:is_part_of?/dct:type ?s .
  } UNION {
    ?service a kg:StatutoryService ; cv:thematicArea ?s .
  }
  ?s ?p ?o .
}
"""


class UnknownMunicipalityError(LookupError):
    """The kommunenummer is malformed or names no current municipality."""


@dataclass(frozen=True)
class Blocker:
    """One reason one dataset is left out of the catalogue."""

    dataset: str
    dataset_name: str
    kommune: str
    municipality_name: str
    missing: str
    reason_nb: str
    reason_en: str


def municipality_iri(kommunenummer: str, base_iri: str) -> str:
    """The municipality's IRI; raises UnknownMunicipalityError unless four digits.

    >>> municipality_iri("4203", "http://x.test/")
    'http://x.test/id/kommune/4203'
    """
    if not _KOMMUNENUMMER.match(kommunenummer):
        raise UnknownMunicipalityError(kommunenummer)
    return f"{base_iri}id/kommune/{kommunenummer}"


def _restricted(template: str, kommune: str | None) -> str:
    """The query, limited to one municipality by a VALUES block when one is given.

    The block goes after every ``WHERE {`` (subqueries too), so each part of the query
    is restricted where it starts, not only when the parts are joined.
    """
    text = sparql_prologue() + template
    if kommune is None:
        return text
    return text.replace("WHERE {", f"WHERE {{\n  VALUES ?kommune {{ {ox.NamedNode(kommune)} }}")


def datasets_queries(kommune: str | None) -> list[str]:
    """CONSTRUCTs of everything the DCAT-AP-NO mapping reads, for one or all municipalities."""
    return [_restricted(query, kommune) for query in _DATASETS]


def services_query(kommune: str | None) -> str:
    """CONSTRUCT of the statutory services and the current municipalities (or one)."""
    return _restricted(_SERVICES, kommune)


@cache
def _not_exportable_text() -> str:
    return (queries_dir() / f"{NOT_EXPORTABLE}.rq").read_text(encoding="utf-8")


def blockers_query(kommunenummer: str | None, base_iri: str) -> str:
    """The canned query, bound like /queries binds it."""
    from service.sparql.canned import parse_query

    query = parse_query(NOT_EXPORTABLE, _not_exportable_text())
    return query.bind({"kommune": kommunenummer or ""}, base_iri)


def _blockers(rows: list[dict[str, str]]) -> list[Blocker]:
    return [
        Blocker(
            row["dataset"],
            row.get("datasetName", row["dataset"]),
            row["kommune"],
            row.get("municipalityName", ""),
            row["missing"],
            row["reason"],
            row["reasonEn"],
        )
        for row in rows
    ]


@dataclass(frozen=True)
class Source:
    """What the mapping needs: the graph read, and the datasets to leave out."""

    graph: Graph
    blockers: list[Blocker]


async def read_datasets(
    backend: Reader, kommunenummer: str | None, base_iri: str, timeout: float | None = None
) -> Source:
    """Through the backend: each query gets the service's deadline, off the event loop."""
    kommune = None if kommunenummer is None else municipality_iri(kommunenummer, base_iri)
    graph = Graph()
    for query in datasets_queries(kommune):
        graph += await construct(backend, query, timeout)
    rows = await select(backend, blockers_query(kommunenummer, base_iri), timeout)
    return Source(graph, _blockers(rows))


async def read_dataset_texts(
    backend: Reader, kommunenummer: str | None, base_iri: str, timeout: float | None = None
) -> tuple[list[bytes], list[Blocker]]:
    """``read_datasets`` unparsed: each CONSTRUCT's N-Triples, for a build process to read."""
    kommune = None if kommunenummer is None else municipality_iri(kommunenummer, base_iri)
    bodies = []
    for query in datasets_queries(kommune):
        answer = await backend.execute(
            query, solutions_media=None, graph_media="application/n-triples", timeout=timeout
        )
        bodies.append(answer.body)
    rows = await select(backend, blockers_query(kommunenummer, base_iri), timeout)
    return bodies, _blockers(rows)


async def read_services(backend: Reader, kommunenummer: str | None, base_iri: str) -> Graph:
    kommune = None if kommunenummer is None else municipality_iri(kommunenummer, base_iri)
    return await construct(backend, services_query(kommune))
