"""The project's SHACL shapes compiled to SPARQL, for the store to evaluate itself.

Why: pySHACL walks rdflib graphs triple by triple and was more than half of the time
of a load. The shapes are ours and use a known subset of SHACL Core, so each
constraint becomes one SELECT that finds its violations (``?this``, ``?value``),
following the SPARQL definitions of the core components in the SHACL
specification (§ 4) and the SPARQL-based constraint components (§ 6). pyoxigraph
evaluates them over the new data and the context it references, in one pass per
batch (``loaders.validation``).

What is compiled: targets (``sh:targetClass``, ``sh:targetSubjectsOf``,
``sh:target`` of a ``sh:SPARQLTarget``), predicate and sequence paths, and the
components ``sh:minCount``, ``sh:maxCount``, ``sh:datatype``, ``sh:nodeKind``,
``sh:class``, ``sh:pattern``, ``sh:in``, ``sh:languageIn``, ``sh:uniqueLang``,
``sh:minInclusive`` and the other range components, ``sh:lessThan``, ``sh:or``,
``sh:and``, ``sh:not``, ``sh:xone``, ``sh:node``, ``sh:qualifiedValueShape`` with
``sh:qualifiedMinCount``/``sh:qualifiedMaxCount``, and any SPARQL-based constraint
component with an ``sh:SPARQLAskValidator``. A pattern the store's regex engine
cannot compile (Rust's has no look-around) is checked in Python with ``re``, as
pySHACL does. Anything else raises :class:`UnsupportedShapeError`; the caller then runs that
shape with pySHACL and says so in the log.

Each query keeps only focus nodes that are subjects of the new data (the named
graph :data:`DATA_GRAPH`): the context is there to be referenced, not re-checked.
The focus nodes of a node shape are found once per batch, by a query of their own
(:attr:`CompiledShapes.focus`), and written into :data:`FOCUS_GRAPH`; each check
then looks them up there instead of finding them again (two thirds of a batch's
query time went to finding the same focus nodes for every check of a shape).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from functools import cache

import pyoxigraph as ox
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import RDF, RDFS, SH, XSD
from rdflib.term import Node

from loaders.namespaces import PREFIXES
from loaders.shacl_compiled import (
    Check,
    CompiledShapes,
    Run,
    Severity,
    UnsupportedShapeError,
    iri,
    path_sparql,
    path_text,
    rdf_list,
    term,
)

DATA_GRAPH = "urn:x-kommunegraf:validation:data"
"""The named graph holding the triples under validation; the context is in others."""

FOCUS_GRAPH = "urn:x-kommunegraf:validation:focus"
"""The named graph holding each node shape's focus nodes among the new data, as
``?this FOCUS_OF <key>`` (:attr:`CompiledShapes.focus`); not part of the checks' default graph."""

FOCUS_OF = "urn:x-kommunegraf:validation:focusOf"


_SEVERITIES: dict[Node, Severity] = {SH.Violation: "error", SH.Warning: "warning", SH.Info: "info"}

_CASTS = {XSD.boolean, XSD.integer, XSD.decimal, XSD.date, XSD.dateTime, XSD.time, XSD.double}
"""Datatypes whose well-formedness a SPARQL cast to themselves checks."""

_INTEGER_RANGES: dict[Node, str] = {
    XSD.nonNegativeInteger: "?v >= 0",
    XSD.positiveInteger: "?v > 0",
    XSD.nonPositiveInteger: "?v <= 0",
    XSD.negativeInteger: "?v < 0",
}

_NODE_KINDS: dict[Node, str] = {
    SH.IRI: "isIRI({v})",
    SH.BlankNode: "isBlank({v})",
    SH.Literal: "isLiteral({v})",
    SH.BlankNodeOrIRI: "(isIRI({v}) || isBlank({v}))",
    SH.BlankNodeOrLiteral: "(isBlank({v}) || isLiteral({v}))",
    SH.IRIOrLiteral: "(isIRI({v}) || isLiteral({v}))",
}

# Parameters read by the compiler; a shape with any other sh: parameter is unsupported.
_DESCRIPTIVE = {
    SH.name,
    SH.description,
    SH.order,
    SH.group,
    SH.message,
    SH.severity,
    SH.path,
    SH.property,
    SH.targetClass,
    SH.targetSubjectsOf,
    SH.target,
    SH.defaultValue,
    SH.deactivated,
}
_RANGES = (
    (SH.minInclusive, ">="),
    (SH.maxInclusive, "<="),
    (SH.minExclusive, ">"),
    (SH.maxExclusive, "<"),
)
"""The value range components (SHACL § 4.3) and the comparison a conforming value passes."""

_HANDLED = {
    SH.minCount,
    SH.maxCount,
    SH.datatype,
    SH.nodeKind,
    SH["class"],
    SH.pattern,
    SH.flags,
    SH["in"],
    SH.languageIn,
    SH.uniqueLang,
    SH.minInclusive,
    SH.maxInclusive,
    SH.minExclusive,
    SH.maxExclusive,
    SH.lessThan,
    SH["or"],
    SH["and"],
    SH["not"],
    SH.xone,
    SH.node,
    SH.qualifiedValueShape,
    SH.qualifiedMinCount,
    SH.qualifiedMaxCount,
}


class _Compiler:
    def __init__(self, shapes: Graph, probe: ox.Store) -> None:
        self.shapes = shapes
        self.probe = probe
        self.counter = 0

    def fresh(self) -> str:
        self.counter += 1
        return f"?_v{self.counter}"

    def one(self, shape: Node, parameter: URIRef) -> Node | None:
        values = list(self.shapes.objects(shape, parameter))
        if len(values) > 1:
            raise UnsupportedShapeError(f"more than one {parameter}")
        return values[0] if values else None

    def check_parameters(self, shape: Node) -> None:
        for predicate in set(self.shapes.predicates(shape)):
            if str(predicate).startswith(str(SH)) and predicate not in _HANDLED | _DESCRIPTIVE:
                raise UnsupportedShapeError(f"{predicate} is not compiled")
        if self.one(shape, SH.deactivated) not in (None, Literal(False)):
            raise UnsupportedShapeError("sh:deactivated")
        flags = self.one(shape, SH.flags)
        if flags is not None and str(flags):
            raise UnsupportedShapeError("sh:flags")

    # --- whether a node conforms to a shape, as a SPARQL expression ---------------

    def regex_runs_in_store(self, pattern: str) -> bool:
        query = f'SELECT (COALESCE(REGEX("", {term(Literal(pattern))}), 0) AS ?r) {{}}'
        (row,) = list(self.probe.query(query))  # type: ignore[arg-type]
        answer = row["r"]
        return isinstance(answer, ox.Literal) and answer.datatype == ox.NamedNode(str(XSD.boolean))

    def value_conditions(
        self, shape: Node, v: str, skip: frozenset[URIRef] = frozenset()
    ) -> list[str]:
        """Expressions, each true when ``v`` passes one value-level constraint of ``shape``."""
        conditions: list[str] = []
        graph = self.shapes
        datatype = self.one(shape, SH.datatype)
        if datatype is not None:
            conditions.append(self.datatype_condition(datatype, v))
        kind = self.one(shape, SH.nodeKind)
        if kind is not None:
            if kind not in _NODE_KINDS:
                raise UnsupportedShapeError(f"sh:nodeKind {kind}")
            conditions.append(_NODE_KINDS[kind].format(v=v))
        for cls in graph.objects(shape, SH["class"]):
            if SH["class"] not in skip:
                conditions.append(f"EXISTS {{ {_instance_of(v, cls)} }}")
        pattern = self.one(shape, SH.pattern)
        if pattern is not None and SH.pattern not in skip:
            if not self.regex_runs_in_store(str(pattern)):
                raise UnsupportedShapeError("a pattern the store cannot run, inside a nested shape")
            conditions.append(f"(!isBlank({v}) && REGEX(STR({v}), {term(Literal(str(pattern)))}))")
        allowed = self.one(shape, SH["in"])
        if allowed is not None:
            members = rdf_list(graph, allowed)
            conditions.append(
                "(" + " || ".join(f"sameTerm({v}, {term(m)})" for m in members) + ")"
                if members
                else "false"
            )
        languages = self.one(shape, SH.languageIn)
        if languages is not None:
            tags = [str(tag) for tag in rdf_list(graph, languages)]
            conditions.append(
                f'(isLiteral({v}) && LANG({v}) != "" && ('
                + " || ".join(f"langMatches(LANG({v}), {term(Literal(t))})" for t in tags)
                + "))"
            )
        for component, operator in _RANGES:
            bound = self.one(shape, component)
            if bound is not None:
                # an incomparable value makes the comparison an error: not conforming
                conditions.append(f"(isLiteral({v}) && {v} {operator} {term(bound)})")
        for combined in ("or", "and", "xone"):
            head = self.one(shape, SH[combined])
            if head is None:
                continue
            parts = [self.conforms(member, v) for member in rdf_list(graph, head)]
            if combined == "or":
                conditions.append("(" + (" || ".join(parts) or "false") + ")")
            elif combined == "and":
                conditions.append("(" + (" && ".join(parts) or "true") + ")")
            else:
                count = " + ".join(f"IF({p}, 1, 0)" for p in parts) or "0"
                conditions.append(f"(({count}) = 1)")
        negated = self.one(shape, SH["not"])
        if negated is not None:
            conditions.append(f"!{self.conforms(negated, v)}")
        for nested in graph.objects(shape, SH.node):
            conditions.append(self.conforms(nested, v))
        return [f"COALESCE({c}, false)" for c in conditions]

    def datatype_condition(self, datatype: Node, v: str) -> str:
        if datatype == RDF.langString:
            return f'(isLiteral({v}) && LANG({v}) != "")'
        if datatype == XSD.string:
            return f'(isLiteral({v}) && LANG({v}) = "" && DATATYPE({v}) = <{XSD.string}>)'
        condition = f"(isLiteral({v}) && DATATYPE({v}) = {iri(datatype)}"
        if datatype in _CASTS:
            cast = f"<{datatype}>(STR({v}))"
            condition += f" && sameTerm({cast}, {cast})"
        elif datatype in _INTEGER_RANGES:
            cast = f"<{XSD.integer}>(STR({v}))"
            condition += " && " + _INTEGER_RANGES[datatype].replace("?v", cast)
        return condition + ")"

    def conforms(self, shape: Node, v: str) -> str:
        """True when node ``v`` conforms to ``shape`` (a nested shape of or/xone/not/node)."""
        self.check_parameters(shape)
        if self.one(shape, SH.qualifiedValueShape) is not None:
            raise UnsupportedShapeError("sh:qualifiedValueShape inside a nested shape")
        if self.one(shape, SH.uniqueLang) is not None or self.one(shape, SH.lessThan) is not None:
            raise UnsupportedShapeError("sh:uniqueLang or sh:lessThan inside a nested shape")
        path = self.one(shape, SH.path)
        conditions: list[str] = []
        if path is None:
            conditions.extend(self.value_conditions(shape, v))
        else:
            steps = path_sparql(self.shapes, path)
            value = self.fresh()
            inner = self.value_conditions(shape, value)
            if inner:
                conditions.append(
                    f"NOT EXISTS {{ {v} {steps} {value} FILTER(!({' && '.join(inner)})) }}"
                )
            for bound, comparison in ((SH.minCount, "<"), (SH.maxCount, ">")):
                limit = self.one(shape, bound)
                if limit is None:
                    continue
                count = int(limit)  # type: ignore[call-overload]
                if comparison == "<" and count > 0:
                    conditions.append(self.at_least(v, steps, count))
                elif comparison == ">":
                    conditions.append(f"!{self.at_least(v, steps, count + 1)}")
        for member in self.shapes.objects(shape, SH.property):
            conditions.append(self.conforms(member, v))
        return "(" + (" && ".join(conditions) or "true") + ")"

    def at_least(self, v: str, steps: str, count: int) -> str:
        """``v`` has at least ``count`` distinct values on the path (an EXISTS pattern)."""
        return f"EXISTS {{ {self.distinct_values(v, steps, count)} }}"

    def distinct_values(self, v: str, steps: str, count: int) -> str:
        """A pattern matching when ``v`` has ``count`` distinct values on the path."""
        values = [self.fresh() for _ in range(count)]
        triples = " ".join(f"{v} {steps} {value} ." for value in values)
        distinct = " && ".join(
            f"!sameTerm({a}, {b})" for i, a in enumerate(values) for b in values[i + 1 :]
        )
        return f"{triples} {f'FILTER({distinct})' if distinct else ''}"


def _messages(shapes: Graph, shape: Node) -> tuple[str, str] | None:
    by_lang: dict[str | None, str] = {}
    for message in shapes.objects(shape, SH.message):
        if isinstance(message, Literal):
            by_lang.setdefault(message.language, str(message))
    if not by_lang:
        return None
    fallback = by_lang.get(None) or next(iter(by_lang.values()))
    return by_lang.get("nb", fallback), by_lang.get("en", fallback)


def _generic(component: str, path: str | None) -> tuple[str, str]:
    where = f" ({path})" if path else ""
    return (f"Brudd på {component}{where}", f"Violation of {component}{where}")


def _focus(shapes: Graph, shape: Node) -> str:
    """A pattern binding ``?this`` once to each focus node of ``shape`` among the new subjects."""
    patterns = [
        f"GRAPH <{DATA_GRAPH}> {{ ?this a ?_class }} ?_class <{RDFS.subClassOf}>* {iri(cls)} ."
        for cls in shapes.objects(shape, SH.targetClass)
    ]
    patterns += [
        f"GRAPH <{DATA_GRAPH}> {{ ?this {iri(p)} ?_object }}"
        for p in shapes.objects(shape, SH.targetSubjectsOf)
    ]
    for target in shapes.objects(shape, SH.target):
        select = shapes.value(target, SH.select)
        if (target, RDF.type, SH.SPARQLTarget) not in shapes or select is None:
            raise UnsupportedShapeError("a sh:target that is not a sh:SPARQLTarget with sh:select")
        patterns.append(
            f"{{ {_where_body(str(select))} }} "
            f"FILTER EXISTS {{ GRAPH <{DATA_GRAPH}> {{ ?this ?_p ?_o }} }}"
        )
    if (shape, SH.targetNode, None) in shapes or (shape, SH.targetObjectsOf, None) in shapes:
        raise UnsupportedShapeError("sh:targetNode / sh:targetObjectsOf")
    union = " UNION ".join(f"{{ {p} }}" for p in patterns)
    return f"{{ SELECT DISTINCT ?this WHERE {{ {union} }} }}"


def _where_body(query: str) -> str:
    """The group graph pattern of a one-variable SELECT or an ASK, without its braces."""
    start, end = query.find("{"), query.rfind("}")
    if start < 0 or end < start:
        raise UnsupportedShapeError("a SPARQL query without a WHERE clause")
    head = query[:start]
    if re.search(r"(?i)\b(prefix|base|from)\b", head):
        raise UnsupportedShapeError("PREFIX, BASE or FROM inside a SHACL query")
    return query[start + 1 : end]


def _with_prologue(query: str) -> str:
    """``query`` with the project's prefixes it may use (a name followed by a colon in
    its text); the compiled checks write whole IRIs, and parsing all 21 declarations
    was a fifth of each query's fixed cost, paid ~200 times a batch."""
    used = [p for p in PREFIXES if re.search(rf"(?<![\w-]){re.escape(p)}:", query)]
    return "".join(f"PREFIX {p}: <{PREFIXES[p]}>\n" for p in used) + query


def _select(focus: str, body: str, projection: str = "?this ?value") -> str:
    return _with_prologue(f"SELECT {projection} WHERE {{ {focus} {body} }}")


def _focus_query(focus: dict[str, str]) -> str:
    union = " UNION ".join(
        f"{{ {pattern} BIND(<{key}> AS ?key) }}" for key, pattern in focus.items()
    )
    return _with_prologue(f"SELECT ?this ?key WHERE {{ {union or '{ FILTER(false) }'} }}")


def _focus_lookup(key: str) -> str:
    """The focus nodes under ``key``, as found for the batch (``shacl_store``)."""
    return f"GRAPH <{FOCUS_GRAPH}> {{ ?this <{FOCUS_OF}> <{key}> }}"


def _instance_of(v: str, cls: Node) -> str:
    return f"{v} <{RDF.type}>/<{RDFS.subClassOf}>* {iri(cls)}"


def _class_runs(
    compiler: _Compiler, shape: Node, values: str, check: Callable[[str, str], Check], key: str
) -> Iterator[Run]:
    """``sh:class`` on the values, each its own query with ``MINUS``: the instances of the
    class found once, not an ``EXISTS`` of the path to the class for every value (three
    times the time). The same rows: the values that are not instances."""
    for cls in compiler.shapes.objects(shape, SH["class"]):
        query = _select(values, f"MINUS {{ {_instance_of('?value', cls)} }}")
        yield Run(query, key, (check("value", query),))


def _fused(values: str, conditions: list[str], checks: list[Check], key: str) -> Run:
    """One query for every value-level check of a shape: the values found once, each
    condition a flag; a row is a value that fails at least one."""
    flags = [f"_f{index}" for index in range(len(conditions))]
    binds = " ".join(f"BIND(!{c} AS ?{f})" for c, f in zip(conditions, flags, strict=True))
    failing = " || ".join(f"?{f}" for f in flags)
    projection = "?this ?value " + " ".join(f"?{f}" for f in flags)
    query = _select(values, f"{binds} FILTER({failing})", projection)
    return Run(query, key, tuple(checks), tuple(flags))


def _value_runs(
    values: str, conditions: list[str], check: Callable[[str, str], Check], component: str, key: str
) -> Iterator[Run]:
    checks = [check(component, _select(values, f"FILTER(!{c})")) for c in conditions]
    if len(checks) > 1:
        yield _fused(values, conditions, checks, key)
    elif checks:
        yield Run(checks[0].query, key, (checks[0],))


def _shape_runs(compiler: _Compiler, shape: Node, key: str, severity: Severity) -> Iterator[Run]:
    """The checks of one top-level shape (node shape, or property shape of one), in the
    queries that run them."""
    shapes = compiler.shapes
    focus = _focus_lookup(key)
    compiler.check_parameters(shape)
    own = shapes.value(shape, SH.severity)
    if own is not None:
        if own not in _SEVERITIES:
            raise UnsupportedShapeError(f"sh:severity {own}")
        severity = _SEVERITIES[own]
    path_node = compiler.one(shape, SH.path)
    path = None if path_node is None else path_text(shapes, path_node)
    messages = _messages(shapes, shape)

    def check(component: str, query: str, pattern: re.Pattern[str] | None = None) -> Check:
        nb, en = messages or _generic(component, path)
        return Check(query, shape, path, severity, nb, en, pattern, key)

    def alone(component: str, query: str, pattern: re.Pattern[str] | None = None) -> Run:
        return Run(query, key, (check(component, query, pattern),))

    if path_node is None:
        value_focus = f"{focus} BIND(?this AS ?value)"
        conditions = compiler.value_conditions(shape, "?value", frozenset({SH["class"]}))
        yield from _value_runs(value_focus, conditions, check, "sh:NodeShape", key)
        yield from _class_runs(compiler, shape, value_focus, check, key)
        return
    steps = path_sparql(shapes, path_node)
    values = f"{focus} ?this {steps} ?value ."
    yield from _cardinality_runs(compiler, shape, focus, steps, check, key)
    pattern = compiler.one(shape, SH.pattern)
    skip: frozenset[URIRef] = frozenset({SH["class"]})
    if pattern is not None and not compiler.regex_runs_in_store(str(pattern)):
        # Python's re, like pySHACL: every value comes back, Python keeps the failures.
        yield alone("sh:pattern", _select(values, ""), re.compile(str(pattern)))
        skip |= {SH.pattern}
    conditions = compiler.value_conditions(shape, "?value", skip)
    yield from _value_runs(values, conditions, check, "value", key)
    yield from _class_runs(compiler, shape, values, check, key)
    if compiler.one(shape, SH.uniqueLang) == Literal(True):
        yield alone(
            "sh:uniqueLang",
            _with_prologue(
                f'SELECT ?this WHERE {{ {values} FILTER(LANG(?value) != "") }} '
                "GROUP BY ?this (LCASE(LANG(?value))) HAVING (COUNT(DISTINCT ?value) > 1)"
            ),
        )
    for other in shapes.objects(shape, SH.lessThan):
        yield alone(
            "sh:lessThan",
            _select(
                values,
                f"?this {iri(other)} ?_other FILTER(!COALESCE(?value < ?_other, false))",
                "?this ?value ?_other",
            ),
        )
    qualified = compiler.one(shape, SH.qualifiedValueShape)
    if qualified is not None:
        good = compiler.conforms(qualified, "?_q")
        counted = (
            f"{{ SELECT ?this (COUNT(DISTINCT ?_q) AS ?_n) WHERE {{ {focus} "
            f"OPTIONAL {{ ?this {steps} ?_q FILTER({good}) }} }} GROUP BY ?this }}"
        )
        low = compiler.one(shape, SH.qualifiedMinCount)
        high = compiler.one(shape, SH.qualifiedMaxCount)
        if low is not None:
            yield alone(
                "sh:qualifiedMinCount",
                _select(counted, f"FILTER(?_n < {int(low)})", "?this"),  # type: ignore[call-overload]
            )
        if high is not None:
            yield alone(
                "sh:qualifiedMaxCount",
                _select(counted, f"FILTER(?_n > {int(high)})", "?this"),  # type: ignore[call-overload]
            )
    for component, query, validator in _sparql_components(compiler, shape, values):
        nb, en = messages or _messages(shapes, validator) or _generic(component, path)
        yield Run(query, key, (Check(query, shape, path, severity, nb, en, focus=key),))


def _cardinality_runs(
    compiler: _Compiler,
    shape: Node,
    focus: str,
    steps: str,
    check: Callable[[str, str], Check],
    key: str,
) -> Iterator[Run]:
    """``sh:minCount`` and ``sh:maxCount``: each its own query, or both one count per focus
    node when the shape has both."""
    minimum = compiler.one(shape, SH.minCount)
    low = int(minimum) if minimum is not None else 0  # type: ignore[call-overload]
    maximum = compiler.one(shape, SH.maxCount)
    high = None if maximum is None else int(maximum)  # type: ignore[call-overload]
    checks = []
    if low > 0:
        test = compiler.at_least("?this", steps, low)
        checks.append(check("sh:minCount", _select(focus, f"FILTER(!{test})", "?this")))
    if high is not None:
        # A join, not FILTER(EXISTS {…}): the same focus nodes, but pyoxigraph evaluated the
        # EXISTS of a sequence path for every focus node by scanning (0.4 s of a batch's 1.9).
        more = compiler.distinct_values("?this", steps, high + 1)
        checks.append(check("sh:maxCount", _select(focus, more, "DISTINCT ?this")))
    if len(checks) == 1:
        yield Run(checks[0].query, key, (checks[0],))
    elif checks:
        counted = (
            f"{{ SELECT ?this (COUNT(DISTINCT ?_c) AS ?_n) WHERE {{ {focus} "
            f"OPTIONAL {{ ?this {steps} ?_c }} }} GROUP BY ?this }}"
        )
        flags = f"BIND(?_n < {low} AS ?_few) BIND(?_n > {high} AS ?_many)"
        query = _select(counted, f"{flags} FILTER(?_few || ?_many)", "?this ?_few ?_many")
        yield Run(query, key, tuple(checks), ("_few", "_many"))


def _sparql_components(
    compiler: _Compiler, shape: Node, values: str
) -> Iterator[tuple[str, str, Node]]:
    """SPARQL-based constraint components whose parameters ``shape`` sets (SHACL § 6).

    Each ASK validator becomes ``FILTER NOT EXISTS { its body }`` with the
    parameters bound before it: a value for which the ASK is false is a violation.
    """
    shapes = compiler.shapes
    for component in shapes.subjects(RDF.type, SH.ConstraintComponent):
        parameters = list(shapes.objects(component, SH.parameter))
        bindings: dict[str, Node] = {}
        for parameter in parameters:
            predicate = shapes.value(parameter, SH.path)
            value = shapes.value(shape, predicate) if isinstance(predicate, URIRef) else None
            if value is not None and isinstance(predicate, URIRef):
                bindings[_local_name(predicate)] = value
        if not bindings:
            continue
        if len(bindings) != len(parameters):
            raise UnsupportedShapeError(f"{component}: optional parameters")
        validator = shapes.value(component, SH.validator)
        ask = None if validator is None else shapes.value(validator, SH.ask)
        if validator is None or ask is None or compiler.one(shape, SH.path) is None:
            raise UnsupportedShapeError(f"{component}: only an sh:validator with sh:ask on values")
        body = _where_body(re.sub(r"\$(\w+)", r"?\1", str(ask)))
        binds = " ".join(f"BIND({term(v)} AS ?{name})" for name, v in bindings.items())
        yield str(component), _select(values, f"{binds} FILTER NOT EXISTS {{ {body} }}"), validator


def _local_name(iri: URIRef) -> str:
    return re.split(r"[#/]", str(iri))[-1]


@cache
def compile_shapes(shapes: Graph) -> CompiledShapes:
    """Compile every node shape with targets, and each of its property shapes."""
    probe = ox.Store()
    compiled = CompiledShapes()
    roots = {
        s
        for p in (SH.targetClass, SH.targetSubjectsOf, SH.target)
        for s in shapes.subjects(p, None)
    }
    for index, root in enumerate(sorted(roots, key=str)):
        compiler = _Compiler(shapes, probe)
        try:
            focus = _focus(shapes, root)
        except UnsupportedShapeError as error:
            compiled.fallback[root] = (root, str(error))
            continue
        key = f"urn:x-kommunegraf:validation:shape:{index}"
        compiled.focus[key] = focus
        for top in [root, *sorted(shapes.objects(root, SH.property), key=str)]:
            try:
                runs = list(_shape_runs(compiler, top, key, "error"))
                compiled.runs.extend(runs)
                compiled.checks.extend(check for run in runs for check in run.checks)
            except UnsupportedShapeError as error:
                compiled.fallback[top] = (root, str(error))
    compiled.focus_query = _focus_query(compiled.focus)
    return compiled
