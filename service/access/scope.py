"""What a write token may change: which graphs, which subjects, and what an update writes.

The rule, stated once (docs/access.md explains it to people):

* A graph belongs to a municipality when its IRI is
  ``<base>graph/kommune/<kommunenummer>/…``; uploads by a municipality token go
  there. A municipality (or region) token writes only graphs of its own
  municipalities, and in them only triples about its own municipality's things:
  subjects whose IRI the shapes' IRI templates put under a kommunenummer
  (``id/bruk/5616/…``, ``id/datasett/5616/…``, ``id/integrasjon/5616/…``), the
  graph itself (its PROV metadata), blank nodes and source-file hashes (``ni:``).
* Whom a triple speaks about counts as well as its subject, blank nodes included:
  a municipality token may not name another municipality as the one a usage,
  dataset, agreement or processing activity belongs to (``kg:usedBy``,
  ``dct:publisher``, ``dpv:hasDataController``, any triple whose object is another
  municipality), may not tie a record to another municipality's record through
  the property that says whose it is (an integration's ``kg:integrationSource``),
  and may not type anything (a blank node neither) as a catalogue or shared class
  (``kg:Application``, ``kg:Municipality``, …), which would skip the proposal step.
* Applications and vendors are the shared catalogue (``<base>graph/catalogue``).
  A municipality token cannot write them; what its upload says about them
  becomes a proposal (``<base>graph/proposal/<id>``) that an admin approves.
* The audit graph (``<base>graph/audit``) is written by the service only, never
  by a user's update or Graph Store request, whatever the token.
* Admin tokens may write every other graph.

Which subjects are "municipal" is read from the shapes (the first variable of a
sheet's IRI template names a municipality, or a municipal thing), so a new sheet
needs no change here.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from rdflib import RDF, BNode, Dataset, URIRef, Variable
from rdflib.term import Node

from loaders.classes import classes
from loaders.columns import sheets
from loaders.mapping import slug
from loaders.namespaces import KG, PREFIXES

_PARSING = threading.Lock()
"""rdflib's parser (pyparsing) is not thread-safe: two threads parsing at once fail
with errors like "postParse2() missing 1 required positional argument"."""


def catalogue_classes() -> frozenset[URIRef]:
    """Shared catalogue entries (``kgsh:sharing kgsh:Catalogue``): one per product or
    company, used by every municipality."""
    return frozenset(c.iri for c in classes() if c.sharing == "catalogue")


@dataclass(frozen=True)
class Principal:
    """Who is writing: the holder of a token, by name (never the token)."""

    name: str
    role: str
    municipalities: frozenset[str] = frozenset()

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def scope_nb_en(self) -> tuple[str, str]:
        """What the holder may write, said to a person."""
        if self.is_admin:
            return ("alle grafer unntatt revisjonsloggen", "every graph except the audit graph")
        numbers = ", ".join(sorted(self.municipalities))
        return (f"data for kommune {numbers}", f"data of municipality {numbers}")


def audit_graph(base: str) -> str:
    return f"{base}graph/audit"


def catalogue_graph(base: str) -> str:
    return f"{base}graph/catalogue"


def proposal_graph(base: str, identifier: str) -> str:
    return f"{base}graph/proposal/{identifier}"


def municipality_graph(base: str, number: str, name: str) -> str:
    """The graph of one municipality's source.

    >>> municipality_graph("http://x.test/", "5616", "Hasvik Systemer.xlsx")
    'http://x.test/graph/kommune/5616/hasvik-systemer-xlsx'
    """
    return f"{base}graph/kommune/{number}/{slug(name)}"


def graph_owner(base: str, graph: str) -> str | None:
    """The kommunenummer a graph belongs to, if it belongs to one.

    >>> graph_owner("http://x.test/", "http://x.test/graph/kommune/5616/a")
    '5616'
    >>> graph_owner("http://x.test/", "http://x.test/graph/source/a") is None
    True
    """
    match = re.match(re.escape(f"{base}graph/kommune/") + r"(\d{4})/", graph)
    return match.group(1) if match else None


def may_write_graph(principal: Principal, base: str, graph: str) -> bool:
    if graph == audit_graph(base):
        return False
    if principal.is_admin:
        return True
    return graph_owner(base, graph) in principal.municipalities


def _expand(curie: str) -> str:
    prefix, _, local = curie.partition(":")
    return PREFIXES[prefix] + local


@cache
def subject_kinds() -> tuple[tuple[str, str], ...]:
    """(IRI path prefix, kind) per sheet; kind is municipal, catalogue or shared."""
    kinds: dict[URIRef, str] = {}
    prefixes: dict[URIRef, str] = {}
    pending = list(sheets())
    for _ in range(len(pending) + 1):  # municipal-ness can come through another class
        for sheet in pending:
            prefixes[sheet.target_class] = sheet.iri_template.split("{", 1)[0]
            first = re.findall(r"\{([^}]+)\}", sheet.iri_template)[:1]
            targets: set[URIRef] = set()
            for column in sheet.columns:
                if first and column.path == URIRef(_expand(first[0])):
                    targets |= set(column.target_classes)
            if sheet.target_class in catalogue_classes():
                kinds[sheet.target_class] = "catalogue"
            elif KG.Municipality in targets or any(kinds.get(t) == "municipal" for t in targets):
                kinds[sheet.target_class] = "municipal"
            else:
                kinds.setdefault(sheet.target_class, "shared")
    return tuple(sorted(((prefixes[c], k) for c, k in kinds.items()), key=lambda p: p[0]))


def subject_kind(base: str, iri: str) -> tuple[str, str | None]:
    """(kind, kommunenummer) of a subject IRI; kind "other" outside the templates.

    >>> subject_kind("http://x.test/", "http://x.test/id/bruk/5616/visma#c-1")
    ('municipal', '5616')
    >>> subject_kind("http://x.test/", "http://x.test/id/applikasjon/visma")
    ('catalogue', None)
    """
    for prefix, kind in subject_kinds():
        if iri.startswith(base + prefix):
            if kind == "municipal":
                return kind, iri[len(base + prefix) :].split("/", 1)[0].split("#", 1)[0]
            return kind, None
    return "other", None


@cache
def owner_properties() -> dict[URIRef, str]:
    """Property → "municipality" or "municipal": the first variable of a sheet's IRI
    template, which says whose a record is (``kg:usedBy`` of a usage, ``dct:publisher``
    of a dataset, ``kg:integrationSource`` of an integration). Read from the shapes."""
    kinds = dict(subject_kinds())
    found: dict[URIRef, str] = {}
    for sheet in sheets():
        first = re.findall(r"\{([^}]+)\}", sheet.iri_template)[:1]
        if not first:
            continue
        path = URIRef(_expand(first[0]))
        for column in sheet.columns:
            if column.path != path:
                continue
            for target in column.target_classes:
                if target == KG.Municipality:
                    found[path] = "municipality"
                elif any(kinds.get(p) == "municipal" for p in _class_prefixes(target)):
                    found.setdefault(path, "municipal")
    return found


@cache
def _class_kinds() -> dict[URIRef, str]:
    """Class → catalogue, shared or municipal, from the sheets (one class per sheet)."""
    prefixes = dict(subject_kinds())
    return {sheet.target_class: prefixes[sheet.iri_template.split("{", 1)[0]] for sheet in sheets()}


def _class_prefixes(target: URIRef) -> list[str]:
    return [s.iri_template.split("{", 1)[0] for s in sheets() if s.target_class == target]


def _municipality(base: str, term: Node) -> str | None:
    """The kommunenummer when ``term`` is a municipality's IRI (``<base>id/kommune/NNNN``)."""
    if not isinstance(term, URIRef):
        return None
    match = re.fullmatch(re.escape(f"{base}id/kommune/") + r"(\d{4})", str(term))
    return match.group(1) if match else None


Triple = tuple[Node, Node, Node]


def statement_problems(
    principal: Principal, base: str, graph: str, triples: Iterable[Triple]
) -> list[str]:
    """What in ``triples`` speaks about something outside ``principal``'s scope, sorted.

    Each problem is the offending term (an IRI, or the triple when the term is a
    variable or a blank node's type). Admins have none.
    """
    if principal.is_admin:
        return []
    owners = owner_properties()
    classes = _class_kinds()
    problems: set[str] = set()
    for subject, predicate, obj in triples:
        if isinstance(subject, Variable) or not may_describe(principal, base, graph, subject):
            problems.add(f"{subject.n3()}")
        if not isinstance(predicate, URIRef):
            problems.add(f"{subject.n3()} {predicate.n3()} {obj.n3()}")
            continue
        if predicate == RDF.type:
            kind = classes.get(obj) if isinstance(obj, URIRef) else "unknown"
            if kind in ("catalogue", "shared", "unknown"):
                problems.add(f"{subject.n3()} a {obj.n3()}")
            continue
        owner = _municipality(base, obj)
        if owner is not None and owner not in principal.municipalities:
            problems.add(f"{obj.n3()}")
        elif predicate in owners and (
            isinstance(obj, Variable)
            or (owners[predicate] == "municipal" and not _own_municipal(principal, base, obj))
            or (owners[predicate] == "municipality" and owner is None)
        ):
            problems.add(f"{subject.n3()} {predicate.n3()} {obj.n3()}")
    return sorted(problems)


def _own_municipal(principal: Principal, base: str, term: Node) -> bool:
    if isinstance(term, BNode):
        return True
    if not isinstance(term, URIRef):
        return False
    kind, owner = subject_kind(base, str(term))
    return kind == "municipal" and owner in principal.municipalities


def may_describe(principal: Principal, base: str, graph: str, subject: Node) -> bool:
    """Whether ``principal`` may write triples about ``subject`` into ``graph``."""
    if principal.is_admin or isinstance(subject, BNode):
        return True
    if not isinstance(subject, URIRef):
        return False
    iri = str(subject)
    if iri == graph or iri.startswith(graph + "#") or iri.startswith("ni:///sha-256;"):
        return True
    kind, owner = subject_kind(base, iri)
    return kind == "municipal" and owner in principal.municipalities


# -- what an update writes ----------------------------------------------------


DEFAULT = "DEFAULT"
"""The default graph as a write target."""


@dataclass
class UpdateWrites:
    """What a SPARQL update may change, read from its parse tree before it runs."""

    graphs: set[str] = field(default_factory=set)
    """Named graphs it may change (DEFAULT for the default graph)."""
    wide: bool = False
    """It may change graphs not named in it (ALL, NAMED, GRAPH ?g in a template)."""
    loads: bool = False
    """It loads a document from a URL (content unknown before it runs)."""
    inserts: dict[str, list[Triple]] = field(default_factory=dict)
    """Graph → the triples it inserts (with Variables where not constant)."""
    sources: set[str] = field(default_factory=set)
    """Graphs ADD, MOVE and COPY copy from."""


def _field(value: Any, key: str) -> Any:
    """A field of rdflib's parse tree (``CompValue.get`` returns the key when absent)."""
    return dict.get(value, key)


def _graph_name(term: Any) -> str:
    if isinstance(term, str) and term.upper() in ("DEFAULT", "ALL", "NAMED"):
        return term.upper()
    return str(term)


def _template(writes: UpdateWrites, clause: Any, default: str, *, insert: bool) -> None:
    if clause is None:
        return
    quads = _field(clause, "quads") or {}
    triples = _field(clause, "triples") or []
    targets: list[tuple[Any, list[Any]]] = [(default, triples)] if triples else []
    targets += list(quads.items())
    for graph, patterns in targets:
        if isinstance(graph, Variable):
            writes.wide = True
            continue
        name = _graph_name(graph)
        writes.graphs.add(name)
        if insert:
            writes.inserts.setdefault(name, []).extend(tuple(t) for t in patterns)


def update_writes(text: str, base: str) -> UpdateWrites:
    """Read which graphs ``text`` writes; raises ValueError when it cannot be parsed."""
    from rdflib.plugins.sparql.algebra import translateUpdate
    from rdflib.plugins.sparql.parser import parseUpdate

    try:
        with _PARSING:
            parsed = translateUpdate(parseUpdate(text), base=base)
    except Exception as error:  # pyparsing and rdflib raise many kinds
        raise ValueError(str(error)) from None
    writes = UpdateWrites()
    for operation in parsed.algebra:
        name = operation.name
        if name in ("InsertData", "DeleteData", "DeleteWhere"):
            _template(writes, operation, DEFAULT, insert=name == "InsertData")
        elif name == "Modify":
            target = _field(operation, "withClause")
            default = str(target) if target is not None else DEFAULT
            _template(writes, _field(operation, "delete"), default, insert=False)
            _template(writes, _field(operation, "insert"), default, insert=True)
        elif name in ("Clear", "Drop", "Create"):
            graph = _graph_name(_field(operation, "graphiri"))
            if graph in ("ALL", "NAMED"):
                writes.wide = True
            else:
                writes.graphs.add(graph)
        elif name == "Load":
            writes.loads = True
            target = _field(operation, "graphiri")
            writes.graphs.add(DEFAULT if target is None else str(target))
        elif name in ("Add", "Move", "Copy"):
            source, target = (_graph_name(g) for g in _field(operation, "graph"))
            writes.graphs.add(target)
            writes.sources.add(source)
            if name == "Move":
                writes.graphs.add(source)
        else:
            writes.wide = True  # an operation we do not know: assume the worst
    return writes


def update_refusal(principal: Principal, base: str, writes: UpdateWrites) -> tuple[str, str] | None:
    """Why ``principal`` may not run an update that writes ``writes``; None when it may."""
    audit = audit_graph(base)
    if audit in writes.graphs or audit in writes.sources:
        return (
            "Revisjonsloggen kan ikke endres med en oppdatering.",
            "The audit graph cannot be changed by an update.",
        )
    if principal.is_admin:
        return None
    if writes.wide:
        return (
            "Nøkkelen din kan bare skrive i egne grafer; navngi hver graf (ikke ALL, NAMED "
            "eller GRAPH ?variabel).",
            "Your token may only write its own graphs; name each graph (not ALL, NAMED "
            "or GRAPH ?variable).",
        )
    if writes.loads:
        return (
            "LOAD er ikke tillatt med en kommunenøkkel; last opp regnearket i stedet.",
            "LOAD is not allowed with a municipality token; upload the spreadsheet instead.",
        )
    foreign = sorted(
        g for g in writes.graphs | writes.sources if not may_write_graph(principal, base, g)
    )
    if foreign:
        default = "standardgrafen / the default graph"
        shown = ", ".join(default if g == DEFAULT else g for g in foreign)
        return (
            f"Nøkkelen gir ikke skrivetilgang til {shown}. Du kan skrive i "
            f"{base}graph/kommune/<kommunenummer>/… for dine kommuner.",
            f"The token does not grant writing {shown}. You may write "
            f"{base}graph/kommune/<kommunenummer>/… of your municipalities.",
        )
    for graph, triples in writes.inserts.items():
        if any(isinstance(t[0], Variable) for t in triples):
            return (
                "Med en kommunenøkkel må hvert subjekt som settes inn være en fast IRI.",
                "With a municipality token every inserted subject must be a fixed IRI.",
            )
        others = statement_problems(principal, base, graph, triples)
        if others:
            return foreign_subject_message(others)
    return None


def trial_refusal(
    principal: Principal, base: str, changed: Iterable[str], added: bytes
) -> tuple[str, str] | None:
    """Why ``principal`` may not write what an update's trial run changed: the graphs
    it changed (``""`` is the default graph) and the quads it added (N-Quads).

    Unlike ``update_refusal`` this reads no text: the variables are bound, so an
    object a variable would bind at run time (another municipality's IRI under any
    property) is seen as it is.
    """
    if principal.is_admin:
        return None
    foreign = sorted(g for g in changed if not g or not may_write_graph(principal, base, g))
    if foreign:
        shown = ", ".join(g or "standardgrafen / the default graph" for g in foreign[:5])
        return (
            f"Oppdateringen ville endre {shown}, som nøkkelen ikke gir skrivetilgang til.",
            f"The update would change {shown}, which the token does not grant writing.",
        )
    dataset = Dataset()
    dataset.parse(data=added, format="nquads")
    problems: set[str] = set()
    for context in dataset.graphs():
        graph = str(context.identifier)
        problems.update(statement_problems(principal, base, graph, context))
    return foreign_subject_message(sorted(problems)) if problems else None


def named_graphs_refusal(
    principal: Principal, base: str, graphs: Iterable[str]
) -> tuple[str, str] | None:
    """Why a municipality token's update may not name ``graphs``; None when it may.

    ``graphs`` are read from the update's tokens (``CheckedText.graphs``), not from a
    parse tree: whatever structure a parser gives the text, a graph the store could
    write or copy from is named there. Stricter than ``update_refusal``: a
    municipality token's update names only graphs it may write, even to read them.
    """
    if principal.is_admin:
        return None
    foreign = sorted(g for g in graphs if not may_write_graph(principal, base, g))
    if not foreign:
        return None
    shown = ", ".join(f"<{g}>" for g in foreign[:5])
    return (
        f"Med en kommunenøkkel kan en oppdatering bare nevne egne grafer, også for å lese: "
        f"{shown}.",
        f"With a municipality token an update may only name its own graphs, reading "
        f"included: {shown}.",
    )


def foreign_subject_message(problems: list[str]) -> tuple[str, str]:
    shown = ", ".join(problems[:5]) + (" …" if len(problems) > 5 else "")
    return (
        f"Nøkkelen gir ikke tilgang til å skrive {shown}: bare om egne kommuners "
        "systembruk, datasett, integrasjoner, avtaler og behandlinger, med egen kommune "
        "som eier; programvare og leverandører foreslås gjennom opplasting.",
        f"The token does not grant writing {shown}: only about its own municipalities' "
        "application usages, datasets, integrations, agreements and processing activities, "
        "owned by its own municipality; applications and vendors are proposed by upload.",
    )
