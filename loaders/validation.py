"""SHACL validation of new triples against the project's shapes.

Why a module of its own: the same check runs on uploads, on reference data and in
the tests, and its results must come back as plain records (focus node, path,
value, message in nb and en) that a report can map to sheets, rows and columns.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from functools import cache
from pathlib import Path

import pyoxigraph as ox
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import RDF, SH
from rdflib.term import Node

from loaders.context import by_subject, context_layers
from loaders.engines import Engine
from loaders.graph_memo import GraphMemo
from loaders.namespaces import KGSH, bind_prefixes
from loaders.oxigraph_terms import parsed_triples
from loaders.paths import ontology_dir, shapes_dir
from loaders.problems import Problem, Severity, ValidationReport
from loaders.shacl_compiled import path_text
from loaders.shacl_sparql import compile_shapes
from loaders.shacl_store import CONTEXT_GRAPH, context_quads, evaluate

log = logging.getLogger(__name__)

_SEVERITIES: dict[Node, Severity] = {
    SH.Violation: "error",
    SH.Warning: "warning",
    SH.Info: "info",
}


def _turtle_files(folder: Path) -> Graph:
    """Every Turtle file of ``folder`` in one graph, with the project's prefixes."""
    graph = bind_prefixes(Graph())
    for path in sorted(folder.glob("*.ttl")):
        graph.parse(path, format="turtle")
    return graph


@cache
def shapes_graph() -> Graph:
    """The union of every shape file, parsed once per process."""
    return _turtle_files(shapes_dir())


@cache
def _shapes_for_pyshacl() -> Graph:
    """A copy of the project's shapes that pySHACL may change: ``_pyshacl`` explains why."""
    return _copy(shapes_graph())


def _copy(graph: Graph) -> Graph:
    copied = Graph()
    copied += graph
    return copied


@cache
def ontology_graph() -> Graph:
    """The ontology, which also holds the SKOS concept schemes the shapes list."""
    return _turtle_files(ontology_dir())


@cache
def _sparql_checked_paths() -> frozenset[Node]:
    """Paths whose shapes use the SPARQL-based modulus-11 constraint component."""
    shapes = shapes_graph()
    return frozenset(
        path
        for shape in shapes.subjects(KGSH.modulus11, Literal(True))
        if (path := shapes.value(shape, SH.path)) is not None
    )


def _as_store(data: Graph) -> ox.Store:
    """``data`` and the ontology in a pyoxigraph Store, for pyshacl's SPARQL constraints.

    On an rdflib graph pyshacl parses a SPARQL-based constraint's query again for
    every value (about 0.2 s each: 10 s for a catalogue of 50 vendors); on a Store
    it does not. For everything else the rdflib graph is faster, so only data with
    such values goes this way.
    """
    store = ox.Store()
    for graph in (data, ontology_graph()):
        store.load(graph.serialize(format="nt", encoding="utf-8"), ox.RdfFormat.N_TRIPLES)
    return store


def _text(node: Node | None) -> str | None:
    return None if node is None else str(node)


def _messages(results: Graph, result: Node) -> tuple[str, str]:
    by_lang: dict[str | None, str] = {}
    for message in results.objects(result, SH.resultMessage):
        if isinstance(message, Literal):
            by_lang.setdefault(message.language, str(message))
    fallback = by_lang.get(None) or next(iter(by_lang.values()), "")
    return by_lang.get("nb", fallback), by_lang.get("en", fallback)


def _focusable(node: Node) -> bool:
    return isinstance(node, URIRef) and str(node).lower().startswith(
        ("http:", "https:", "urn:", "file:")
    )


def _path(results: Graph, path: Node | None) -> str | None:
    """A result's path as text; a sequence path is its IRIs joined by " / "."""
    if path is None or isinstance(path, URIRef):
        return _text(path)
    for graph in (results, shapes_graph()):
        if (path, RDF.first, None) in graph:
            return path_text(graph, path)
    return str(path)


def _combined(data: Graph, context: Graph | None) -> Graph:
    """``data`` and, of the context, what it references: the graph pySHACL checks."""
    combined = Graph()
    combined += data
    for triple in _referenced([data], context):
        combined.add(triple)
    return combined


def _referenced(
    graphs: Sequence[Graph], context: Graph | None
) -> Iterator[tuple[Node, Node, Node]]:
    """The context's triples about the IRIs ``graphs`` reference but do not describe.

    The shapes look one step from a focus node (sh:class on a referenced node), so
    the referenced nodes' own triples are enough, and copying whole graphs would
    dominate. The ontology is part of every context, so a value like
    ``kg:HostingSaaS`` is known to be a ``skos:Concept``.
    """
    subjects = {s for graph in graphs for s in graph.subjects()}
    objects = {o for graph in graphs for o in graph.objects()}
    return _about(objects - subjects, context)


def _about(nodes: set[Node], context: Graph | None) -> Iterator[tuple[Node, Node, Node]]:
    """The triples of the ontology and ``context`` whose subject is one of ``nodes``' IRIs.

    The ontology and the context's first layer (the reference data, the same for every
    check) are looked up in an index by subject, the rest (stored names) through rdflib.
    """
    layers = [ontology_graph(), *([] if context is None else context_layers(context))]
    indexed = [by_subject(graph) for graph in layers[:2]]
    rest = layers[2:]
    for node in nodes:
        if isinstance(node, URIRef):
            for index in indexed:
                yield from index.get(node, ())
            for graph in rest:
                yield from graph.triples((node, None, None))


_QUADS: GraphMemo[dict[Node, list[ox.Quad]]] = GraphMemo()
"""Per layer of the context (the ontology, the reference data, the stored names a batch or
an upload is checked against): each node's triples as quads of the checks' context graph,
made once per process and layer, and again if the layer grew."""

_KNOWN_NODES = 200_000


def _layer_quads(graph: Graph) -> dict[Node, list[ox.Quad]]:
    """The memo of ``graph``'s nodes as quads (``_QUADS``), emptied when the graph changed."""
    memo = _QUADS.get(graph)
    if memo is None or len(memo) > _KNOWN_NODES:
        memo = _QUADS.put(graph, {})
    return memo


def _referenced_quads(nodes: set[Node], context: Graph | None) -> list[ox.Quad]:
    """``_about`` for the compiled checks, as quads made once per process and context layer.

    An upload's check converted the same municipality, service and class triples again
    every time (16 of Oslo's 100 ms of SHACL), and the stored names a workbook refers to
    (the catalogue's applications and vendors) another 6 ms: an upload against the same
    stored names, and every batch of a national load, finds them here. The ontology and the
    reference data are looked up in an index by subject, the other layers through rdflib
    (an index of a store's names made for one upload would cost more than it saves)."""
    layers = [ontology_graph(), *([] if context is None else context_layers(context))]
    iris = [node for node in nodes if isinstance(node, URIRef)]
    quads: list[ox.Quad] = []
    for position, graph in enumerate(layers):
        index = by_subject(graph) if position < 2 else None
        parsed = parsed_triples(graph)
        memo = _layer_quads(graph)
        for node in iris:
            found = memo.get(node)
            if found is None:
                made = parsed.get(node, ()) if parsed is not None else None
                if made is not None:  # pyoxigraph's own terms: no conversion
                    found = [ox.Quad(t.subject, t.predicate, t.object, CONTEXT_GRAPH) for t in made]
                else:
                    about = (
                        graph.triples((node, None, None)) if index is None else index.get(node, ())
                    )
                    found = context_quads(about)
                memo[node] = found
            quads.extend(found)
    return quads


def _pyshacl(
    data: Graph,
    context: Graph | None,
    shacl: Graph,
    keep: Callable[[Node | None], bool] = lambda shape: True,
) -> list[Problem]:
    """pySHACL on ``data`` and what it references: the oracle, unchanged in behaviour.

    pySHACL is imported here, when first used: the default engine does not need it, and
    it was a third of the imports of every process that checks (0.27 CPU s each)."""
    from pyshacl import validate as shacl_validate

    from loaders import pyshacl_focus_fix

    pyshacl_focus_fix.apply()
    subjects = set(data.subjects())
    combined = _combined(data, context)
    target: Graph | ox.Store = combined
    # Blank nodes get new identities in a Store, so focus nodes could not be found there.
    if any(next(data.triples((None, p, None)), None) for p in _sparql_checked_paths()) and not any(
        isinstance(node, BNode) for node in subjects
    ):
        target = _as_store(combined)
    # pySHACL writes into the shapes graph it is given (owl:Class and owl:DatatypeProperty
    # as subclasses of rdfs:Class and rdf:Property): the shared graph, which /shapes
    # serves and the default engine compiles, must not change, so it gets a copy.
    shacl = _shapes_for_pyshacl() if shacl is shapes_graph() else _copy(shacl)
    _, results, _ = shacl_validate(
        target,  # type: ignore[arg-type]  # pyshacl accepts a Store; its hints do not say so
        shacl_graph=shacl,
        inference="none",
        advanced=True,
        allow_warnings=True,
        inplace=True,
        # Only the new nodes are checked; the context is there to be referenced.
        # pySHACL takes only IRIs of the schemes it knows as focus nodes (a blank node
        # makes it raise TypeError), so with any other subject everything is checked
        # and the results are filtered below instead.
        focus_nodes=(
            [node for node in subjects if isinstance(node, URIRef)]
            if all(_focusable(node) for node in subjects)
            else None
        ),
    )
    assert isinstance(results, Graph)
    problems = []
    for result in results.subjects(RDF.type, SH.ValidationResult):
        focus = results.value(result, SH.focusNode)
        shape = results.value(result, SH.sourceShape)
        if focus not in subjects or not keep(shape):
            continue
        nb, en = _messages(results, result)
        problems.append(
            Problem(
                severity=_SEVERITIES.get(
                    results.value(result, SH.resultSeverity) or SH.Violation, "error"
                ),
                focus_node=str(focus),
                path=_path(results, results.value(result, SH.resultPath)),
                value=_text(results.value(result, SH.value)),
                message_nb=nb,
                message_en=en,
                shape=_text(shape),
            )
        )
    return problems


def validate(
    data: Graph,
    context: Graph | None = None,
    engine: Engine = "sparql",
    shapes: Graph | None = None,
) -> ValidationReport:
    """Validate ``data``; ``context`` holds what it references (reference data, the store).

    Only problems whose focus node is a subject of ``data`` are reported: the
    context was checked when it was loaded, and its problems are not the
    uploader's. ``engine`` "pyshacl" runs pySHACL, the reference the compiled
    SPARQL of the default engine is tested against.
    """
    return validate_batch([data], context, engine, shapes)[0]


Triples = Graph | Sequence[tuple[Node, Node, Node]]
"""A source's triples: an rdflib graph, or the mapped triples themselves (no graph built)."""


def _graph(triples: Triples) -> Graph:
    if isinstance(triples, Graph):
        return triples
    graph = Graph()
    graph.addN((s, p, o, graph) for s, p, o in triples)
    return graph


def validate_batch(
    graphs: Sequence[Triples],
    context: Graph | None = None,
    engine: Engine = "sparql",
    shapes: Graph | None = None,
    ntriples: Sequence[bytes | None] | None = None,
) -> list[ValidationReport]:
    """Validate several sources' graphs in one pass; one report per graph.

    The sources of a batch are checked together (one store, each compiled check
    run once), so a national load pays the fixed cost of a check once, not once per
    workbook. Graphs that describe the same subject are checked in separate passes,
    so that one source's values never count towards another's cardinalities.
    ``shapes`` defaults to the project's shapes (``shapes/``). ``ntriples``: each
    graph's triples as N-Triples too, when the caller has them (a batch writes them for
    the store): the checks' store parses those instead of converting every term. Only
    pyoxigraph's own writing (``embedded.ntriples``): its IRIs are not checked again.
    """
    shapes = shapes_graph() if shapes is None else shapes
    if engine == "pyshacl":
        return [_report(_pyshacl(_graph(graph), context, shapes)) for graph in graphs]
    compiled = compile_shapes(shapes)
    for shape, (_, reason) in compiled.fallback.items():
        log.info("form sjekkes med pySHACL / shape checked with pySHACL: %s (%s)", shape, reason)
    reports = [ValidationReport() for _ in graphs]
    # Each graph is iterated once: rdflib yields a triple at a time through its
    # context index, which cost a national load more than the checks themselves.
    triples = [graph if isinstance(graph, list) else list(graph) for graph in graphs]
    subjects = [{s for s, _, _ in found} for found in triples]
    for group in _disjoint_groups(subjects):
        owner: dict[str, int] = {}
        for index in group:
            for subject in subjects[index]:
                owner.setdefault(_key(subject), index)
        members = [triples[i] for i in group]
        # IRIs and blank nodes only: a literal is never described nor looked up, and
        # hashing each (rdflib does it in Python) cost Oslo's check 1-2 ms. By type, not
        # isinstance: rdflib's terms are ABCs, and asking an IRI whether it is a Literal
        # takes the ABC's slow path (Oslo: 1.3 -> 0.4 ms).
        objects = {o for i in group for _, _, o in triples[i] if type(o) is not Literal}
        described = set().union(*(subjects[i] for i in group))
        texts = [ntriples[i] for i in group] if ntriples is not None else []
        data = None
        # Blank nodes get new labels in N-Triples, so their problems could not be owned.
        if texts and all(texts) and not any(isinstance(n, BNode) for n in described | objects):
            data = b"".join(text or b"" for text in texts)
        known = _referenced_quads(objects - described, context)
        for problem in evaluate(members, (), compiled, data=data, known=known):
            reports[owner[problem.focus_node]].problems.append(problem)
        if compiled.fallback:
            for index in group:
                reports[index].problems.extend(
                    _fallback(_graph(graphs[index]), context, shapes, compiled.fallback)
                )
    for report in reports:
        report.problems.sort(key=_order)
    return reports


def _report(problems: list[Problem]) -> ValidationReport:
    report = ValidationReport(problems)
    report.problems.sort(key=_order)
    return report


def _order(problem: Problem) -> tuple[str, str, str, str]:
    return (problem.focus_node, problem.path or "", problem.message_en, problem.value or "")


def _key(node: Node) -> str:
    return str(node)


def _disjoint_groups(subjects: Sequence[set[Node]]) -> list[list[int]]:
    """Indexes of graphs (given by their ``subjects``) in groups that do not overlap, in order."""
    groups: list[tuple[list[int], set[Node]]] = []
    for index, own in enumerate(subjects):
        for members, seen in groups:
            if not own & seen:
                members.append(index)
                seen |= own
                break
        else:
            groups.append(([index], set(own)))
    return [members for members, _ in groups]


def _fallback(
    data: Graph, context: Graph | None, shapes: Graph, fallback: dict[Node, tuple[Node, str]]
) -> list[Problem]:
    """pySHACL for the shapes the compiler left out, and only for those."""
    subset = Graph()
    roots = {root for root, _ in fallback.values()}
    whole = roots & set(fallback)
    for root in roots:
        subset += shapes.cbd(root)
        if root not in whole:  # only the left-out property shapes, not the compiled ones
            for member in list(subset.objects(root, SH.property)):
                if member not in fallback:
                    subset.remove((root, SH.property, member))
        for member in subset.objects(root, SH.property):
            subset += shapes.cbd(member)
    for component in shapes.subjects(RDF.type, SH.ConstraintComponent):
        subset += shapes.cbd(component)
        for part in (SH.validator, SH.parameter):
            for node in shapes.objects(component, part):
                subset += shapes.cbd(node)
    for ontology in shapes.subjects(SH.declare, None):
        subset += shapes.cbd(ontology)

    def keep(shape: Node | None) -> bool:
        return shape in fallback or any((root, SH.property, shape) in shapes for root in whole)

    return _pyshacl(data, context, subset, keep)
