"""SHACL validation of uploads: regressions pinned by the bug they were."""

from __future__ import annotations

import pyoxigraph as ox
from rdflib import RDF, Graph, URIRef

from loaders.context import layered_context
from loaders.namespaces import DEFAULT_BASE_IRI
from loaders.oxigraph_terms import parse_ntriples, parsed_triples
from loaders.problems import Problem
from loaders.reference import reference_graph
from loaders.shacl_store import CONTEXT_GRAPH, context_quads
from loaders.validation import shapes_graph, validate

PREFIXES = """
@prefix dct: <http://purl.org/dc/terms/> .
@prefix kg: <https://w3id.org/kommunegraf/ontology#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
"""


def _problems(turtle: str, focus: str) -> list[Problem]:
    data = Graph().parse(data=PREFIXES + turtle, format="turtle", publicID=DEFAULT_BASE_IRI)
    report = validate(data, reference_graph(DEFAULT_BASE_IRI))
    return [p for p in report.errors if p.focus_node == DEFAULT_BASE_IRI + focus]


def _paths(problems: list[Problem]) -> set[str | None]:
    return {p.path for p in problems}


def test_focus_nodes_do_not_switch_off_qualified_value_shapes() -> None:
    """pySHACL 0.40 skipped nested shapes when given focus nodes (loaders/pyshacl_focus_fix)."""
    english_only = _problems(
        '<id/datasett/x> a kg:Dataset ; rdfs:label "Only English"@en ; '
        "dct:publisher <id/kommune/5616> .",
        "id/datasett/x",
    )
    bokmal = _problems(
        '<id/datasett/y> a kg:Dataset ; rdfs:label "Bare bokmål"@nb ; '
        "dct:publisher <id/kommune/5616> .",
        "id/datasett/y",
    )
    label = "http://www.w3.org/2000/01/rdf-schema#label"
    assert label in _paths(english_only)
    assert label not in _paths(bokmal)


def test_focus_nodes_do_not_switch_off_sh_or() -> None:
    """An integration's target is ``sh:or`` of two classes: a statutory service must not pass."""
    problems = _problems(
        '<id/integrasjon/x> a kg:Integration ; rdfs:label "X"@nb ; '
        "kg:integrationTarget <id/tjeneste/barnehage> .",
        "id/integrasjon/x",
    )
    assert "https://w3id.org/kommunegraf/ontology#integrationTarget" in _paths(problems)


def test_blank_node_subjects_do_not_crash_validation() -> None:
    """pySHACL raised TypeError for a blank node among the focus nodes."""
    data = Graph().parse(
        data=PREFIXES + '[] a kg:Integration ; rdfs:label "Uten navn"@nb .', format="turtle"
    )
    report = validate(data, reference_graph(DEFAULT_BASE_IRI))
    integration = "https://w3id.org/kommunegraf/ontology#integrationSource"
    assert integration in {p.path for p in report.errors}  # still checked: source missing


def test_regression_pyshacl_wrote_into_the_shared_shapes_graph() -> None:
    """pySHACL added two triples to the shapes it was given, the process's one shapes
    graph: after a check with ``--engine pyshacl``, /shapes served two triples more
    (seen as a flaky tests/docs/test_pages.py when test_engines ran first)."""
    before = set(shapes_graph())
    data = Graph().parse(
        data=PREFIXES + '<id/integrasjon/x> a kg:Integration ; rdfs:label "X"@nb .',
        format="turtle",
        publicID=DEFAULT_BASE_IRI,
    )
    validate(data, reference_graph(DEFAULT_BASE_IRI), engine="pyshacl")
    assert set(shapes_graph()) == before


def test_regression_stored_names_remembered_after_the_store_changed() -> None:
    """The checks remember each context layer's triples as quads (``_referenced_quads``):
    a stored layer that changed must be read again, not answered from the memo."""
    kg = "https://w3id.org/kommunegraf/ontology#"
    stored = Graph().parse(
        data=PREFIXES + "<id/bruk/oslo/x> a kg:ApplicationUsage .",
        format="turtle",
        publicID=DEFAULT_BASE_IRI,
    )
    context = layered_context(Graph(), stored)  # the stored names as a third layer
    data = Graph().parse(
        data=PREFIXES + '<id/integrasjon/x> a kg:Integration ; rdfs:label "X"@nb ; '
        "kg:integrationSource <id/bruk/oslo/x> .",
        format="turtle",
        publicID=DEFAULT_BASE_IRI,
    )
    source = kg + "integrationSource"
    assert source not in {p.path for p in validate(data, context).errors}
    stored.remove((URIRef(DEFAULT_BASE_IRI + "id/bruk/oslo/x"), RDF.type, None))
    assert source in {p.path for p in validate(data, context).errors}


def test_regression_parsed_triples_only_while_the_graph_is_unchanged() -> None:
    """The checks read a referenced node's triples as pyoxigraph parsed them
    (``oxigraph_terms.parsed_triples``): the same quads as converting rdflib's terms, none
    for a node with a typed literal (rdflib may rewrite its lexical form), and nothing
    once the graph changed."""
    graph = parse_ntriples(
        b'<urn:a> <urn:p> "x"@nb .\n<urn:a> <urn:p> "y" .\n<urn:a> <urn:q> <urn:c> .\n'
        b'<urn:b> <urn:q> "01"^^<http://www.w3.org/2001/XMLSchema#integer> .\n'
    )
    parsed = parsed_triples(graph)
    assert parsed is not None
    assert parsed[URIRef("urn:b")] is None
    made = {
        ox.Quad(t.subject, t.predicate, t.object, CONTEXT_GRAPH)
        for t in parsed[URIRef("urn:a")] or ()
    }
    assert made == set(context_quads(graph.triples((URIRef("urn:a"), None, None))))
    graph.add((URIRef("urn:a"), URIRef("urn:q"), URIRef("urn:d")))
    assert parsed_triples(graph) is None
