"""Proposals: shared catalogue entries a municipality suggests, until an admin decides.

Applications and vendors are shared by every municipality (DigiOrden's and
KITOS's shared-catalogue pattern), so one municipality's spelling of "Visma Flyt
Skole" must not change what everyone sees. What a municipality token's upload
says about them is kept as a proposal in its own graph
(``<base>graph/proposal/<id>``): a ``kg:Proposal`` with who proposed it, for which
municipality, from which source graph, and the proposed triples as one N-Triples
literal. Kept as a literal, the proposed triples are not data yet: they do not
show up as applications in any query (the default graph is the union of all
graphs), only as a proposal readers can list. Approval moves them into the
shared catalogue graph (``<base>graph/catalogue``); rejection drops them.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import pyoxigraph as ox
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, RDF, RDFS, XSD

from loaders.namespaces import KG
from service.access.scope import Principal, proposal_graph
from service.store.embedded import safe_ntriples


@dataclass(frozen=True)
class Proposal:
    id: str
    graph: str
    proposer: str
    municipalities: tuple[str, ...]
    created: str
    source: str
    subjects: tuple[str, ...]


def proposal_iri(base: str, identifier: str) -> str:
    return f"{base}proposal/{identifier}"


def new_proposal(
    principal: Principal, base: str, source_graph: str, data: Graph
) -> tuple[str, Graph]:
    """The proposal graph's IRI and content for ``data`` proposed by ``principal``."""
    identifier = uuid.uuid4().hex[:16]
    subject = URIRef(proposal_iri(base, identifier))
    content = Graph()
    content.add((subject, RDF.type, KG.Proposal))
    content.add((subject, DCTERMS.creator, Literal(principal.name)))
    now = datetime.now(UTC).isoformat(timespec="seconds")
    content.add((subject, DCTERMS.created, Literal(now, datatype=XSD.dateTime)))
    content.add((subject, DCTERMS.source, URIRef(source_graph)))
    for number in sorted(principal.municipalities):
        content.add((subject, DCTERMS.spatial, URIRef(f"{base}id/kommune/{number}")))
    for proposed in sorted({s for s in data.subjects() if isinstance(s, URIRef)}):
        if "#" not in proposed:
            content.add((subject, KG.proposes, proposed))
            for label in data.objects(proposed, RDFS.label):
                content.add((subject, RDFS.label, Literal(f"Forslag / proposal: {label}")))
    content.add((subject, KG.proposedTriples, Literal(safe_ntriples(data))))
    return proposal_graph(base, identifier), content


LIST_QUERY = """
PREFIX kg: <https://w3id.org/kommunegraf/ontology#>
PREFIX dct: <http://purl.org/dc/terms/>
SELECT ?g ?p ?creator ?created ?source
  (GROUP_CONCAT(DISTINCT STR(?place); separator=" ") AS ?places)
  (GROUP_CONCAT(DISTINCT STR(?thing); separator=" ") AS ?things)
WHERE { GRAPH ?g {
  ?p a kg:Proposal ; dct:creator ?creator ; dct:created ?created ; dct:source ?source .
  OPTIONAL { ?p dct:spatial ?place } OPTIONAL { ?p kg:proposes ?thing }
} FILTER(STRSTARTS(STR(?g), "%s")) }
GROUP BY ?g ?p ?creator ?created ?source ORDER BY ?created
"""


def proposals_from_json(body: bytes) -> list[Proposal]:
    """Read the answer of ``LIST_QUERY`` (SPARQL JSON results)."""
    found = []
    for row in json.loads(body)["results"]["bindings"]:
        graph = row["g"]["value"]
        places = row.get("places", {}).get("value", "").split()
        found.append(
            Proposal(
                id=graph.rsplit("/", 1)[-1],
                graph=graph,
                proposer=row["creator"]["value"],
                municipalities=tuple(p.rsplit("/", 1)[-1] for p in places),
                created=row["created"]["value"],
                source=row["source"]["value"],
                subjects=tuple(row.get("things", {}).get("value", "").split()),
            )
        )
    return found


def content_query(graph: str) -> str:
    """The proposed triples of one proposal graph."""
    return (
        "PREFIX kg: <https://w3id.org/kommunegraf/ontology#>\n"
        f"SELECT ?t WHERE {{ GRAPH {ox.NamedNode(graph)} {{ ?p kg:proposedTriples ?t }} }}"
    )


def proposed_graph(ntriples: str) -> Graph:
    return Graph().parse(data=ntriples, format="nt")
