"""The ontology's documentation, read from ontology/ and shapes/ rather than written.

A term's labels and definitions live in the ontology; what a value must look
like lives in the shapes. A page that copied either would drift, so the
/ontology and /shapes pages, the class diagram and the column table in the
guides are all built from the model here, and nothing else describes a term.

>>> municipality = ontology_terms()["Municipality"]
>>> municipality.kind, municipality.label_nb, municipality.label_en
('class', 'Kommune', 'Municipality')
>>> [parent.curie for parent in municipality.parents]
['cv:PublicOrganisation', 'org:Organization']
>>> [c.column_nb for c in ontology_terms()["usedBy"].constraints]
['Kommune']
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.namespace import DCTERMS, OWL, RDF, RDFS, SH, SKOS
from rdflib.term import Node

from loaders.columns import Column, Sheet, sheets
from loaders.namespaces import KG, PREFIXES
from loaders.paths import docs_dir
from loaders.validation import ontology_graph, shapes_graph

ONTOLOGY_IRI = URIRef("https://w3id.org/kommunegraf/ontology")

KIND_NAMES = {
    "class": ("Klasse", "Class"),
    "object-property": ("Objektegenskap", "Object property"),
    "datatype-property": ("Dataegenskap", "Datatype property"),
    "concept-scheme": ("Kodeliste", "Concept scheme"),
    "concept": ("Begrep", "Concept"),
}
"""The kinds of term, in the order the page lists them, with their nb/en names."""

_KINDS: tuple[tuple[URIRef, str], ...] = (
    (OWL.Class, "class"),
    (OWL.ObjectProperty, "object-property"),
    (OWL.DatatypeProperty, "datatype-property"),
    (SKOS.ConceptScheme, "concept-scheme"),
    (SKOS.Concept, "concept"),
)


def curie(iri: Node) -> str:
    """The prefixed name of an IRI when a project prefix covers it, else the IRI.

    >>> curie(URIRef("http://www.w3.org/ns/org#Organization"))
    'org:Organization'
    >>> curie(URIRef("https://example.org/x"))
    'https://example.org/x'
    """
    text = str(iri)
    best = ""
    for prefix, namespace in PREFIXES.items():
        if text.startswith(namespace) and len(namespace) > len(PREFIXES.get(best, "")):
            best = prefix
    if best and text[len(PREFIXES[best]) :].replace("_", "a").replace("-", "a").isalnum():
        return f"{best}:{text[len(PREFIXES[best]) :]}"
    return text


def _text(graph: Graph, subject: Node, predicate: URIRef, lang: str) -> str:
    for value in graph.objects(subject, predicate):
        if isinstance(value, Literal) and value.language == lang:
            return str(value)
    return ""


def local_name(iri: Node) -> str | None:
    """The fragment of a kg: IRI, which is its anchor on /ontology; None for others."""
    text = str(iri)
    return text[len(str(KG)) :] if text.startswith(str(KG)) else None


@dataclass(frozen=True)
class Ref:
    """A term another term points to: its prefixed name, labels, and anchor if ours."""

    iri: str
    curie: str
    label_nb: str
    label_en: str
    anchor: str | None


def _ref(graph: Graph, node: Node) -> list[Ref]:
    """One node as references; an owl:unionOf class becomes its members."""
    if isinstance(node, BNode):
        members = graph.value(node, OWL.unionOf)
        return [r for m in Collection(graph, members) for r in _ref(graph, m)] if members else []
    label_nb = _text(graph, node, RDFS.label, "nb") or _text(graph, node, SKOS.prefLabel, "nb")
    label_en = _text(graph, node, RDFS.label, "en") or _text(graph, node, SKOS.prefLabel, "en")
    return [Ref(str(node), curie(node), label_nb, label_en, local_name(node))]


def _refs(graph: Graph, nodes: Iterable[Node]) -> tuple[Ref, ...]:
    found = [r for node in nodes for r in _ref(graph, node)]
    return tuple(sorted(found, key=lambda r: r.curie))


@dataclass(frozen=True)
class Constraint:
    """What one shape demands of a property: one column of one sheet."""

    sheet_nb: str
    sheet_en: str
    column_nb: str
    column_en: str
    class_curie: str
    rules_nb: tuple[str, ...]
    rules_en: tuple[str, ...]


def _min_inclusive(column: Column) -> Literal | None:
    value = shapes_graph().value(column.shape, SH.minInclusive)
    return value if isinstance(value, Literal) else None


def rules(column: Column) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A column's constraints in words, nb and en, for a person filling it in.

    >>> from loaders.columns import sheet_for_class
    >>> nb, en = rules(sheet_for_class(KG.ApplicationUsage).columns[7])
    >>> en
    ('optional', 'at most one value', 'datatype xsd:decimal', 'at least 0')
    """
    nb: list[str] = []
    en: list[str] = []

    def add(text_nb: str, text_en: str) -> None:
        nb.append(text_nb)
        en.append(text_en)

    if column.required:
        add("påkrevd", "required")
    elif column.recommended:
        add("anbefalt (mangler gir en advarsel)", "recommended (missing gives a warning)")
    else:
        add("valgfri", "optional")
    if column.multiple:
        add("flere verdier tillatt (skilt med ;)", "several values allowed (separated by ;)")
    else:
        add("høyst én verdi", "at most one value")
    if column.datatype is not None:
        add(f"datatype {curie(column.datatype)}", f"datatype {curie(column.datatype)}")
    if column.target_classes:
        classes = " eller ".join(curie(c) for c in column.target_classes)
        add(
            f"en kjent {classes}", "a known " + " or ".join(curie(c) for c in column.target_classes)
        )
    elif column.node_kind == SH.IRI:
        add("en nettadresse (IRI)", "a web address (IRI)")
    if column.values:
        labels_nb = ", ".join(_value_label(v, "nb") for v in column.values)
        labels_en = ", ".join(_value_label(v, "en") for v in column.values)
        add(f"én av: {labels_nb}", f"one of: {labels_en}")
    if column.pattern:
        add(f"mønster {column.pattern}", f"pattern {column.pattern}")
    minimum = _min_inclusive(column)
    if minimum is not None:
        add(f"minst {minimum}", f"at least {minimum}")
    return tuple(nb), tuple(en)


def _value_label(value: Node, lang: str) -> str:
    graph = ontology_graph()
    label = _text(graph, value, SKOS.prefLabel, lang) or _text(graph, value, RDFS.label, lang)
    return label or (str(value) if isinstance(value, Literal) else curie(value))


def _constraint(sheet: Sheet, column: Column) -> Constraint:
    nb, en = rules(column)
    return Constraint(
        sheet.name_nb,
        sheet.name_en,
        column.name_nb,
        column.name_en,
        curie(sheet.target_class),
        nb,
        en,
    )


@dataclass(frozen=True)
class Term:
    """One term the ontology defines, with everything its documentation shows."""

    iri: str
    name: str
    """The local name: the anchor on /ontology and the path /ontology/<name>."""
    kind: str
    label_nb: str
    label_nn: str
    label_en: str
    alt_labels: tuple[str, ...]
    definition_nb: str
    definition_en: str
    comments: tuple[str, ...]
    parents: tuple[Ref, ...]
    """The standard (or own) terms it specialises: rdfs:subClassOf / subPropertyOf."""
    domain: tuple[Ref, ...]
    range: tuple[Ref, ...]
    functional: bool
    see_also: tuple[str, ...]
    notation: str
    scheme: tuple[Ref, ...]
    """For a concept: the concept scheme it is in."""
    members: tuple[Ref, ...]
    """For a concept scheme: its concepts; for a class: the properties whose domain it is."""
    constraints: tuple[Constraint, ...]
    """For a property: each shape column that uses it. For a class: its sheet's columns."""

    @property
    def curie(self) -> str:
        return f"kg:{self.name}"


def _kind(graph: Graph, subject: Node) -> str | None:
    types = set(graph.objects(subject, RDF.type))
    for rdf_type, kind in _KINDS:
        if rdf_type in types:
            return kind
    return None


def _constraints_of(subject: URIRef, kind: str) -> tuple[Constraint, ...]:
    def uses(sheet: Sheet, column: Column) -> bool:
        if kind == "class":
            return sheet.target_class == subject
        path = column.path
        return path == subject or (isinstance(path, tuple) and subject in path)

    return tuple(
        _constraint(sheet, column)
        for sheet in sheets()
        for column in sheet.columns
        if uses(sheet, column)
    )


def _term(graph: Graph, subject: URIRef, kind: str) -> Term:
    name = local_name(subject) or str(subject)
    if kind == "concept-scheme":
        members = _refs(graph, graph.subjects(SKOS.inScheme, subject))
    elif kind == "class":
        members = _refs(graph, graph.subjects(RDFS.domain, subject))
    else:
        members = ()
    parents = [
        *graph.objects(subject, RDFS.subClassOf),
        *graph.objects(subject, RDFS.subPropertyOf),
    ]
    return Term(
        iri=str(subject),
        name=name,
        kind=kind,
        label_nb=_text(graph, subject, RDFS.label, "nb")
        or _text(graph, subject, SKOS.prefLabel, "nb"),
        label_nn=_text(graph, subject, RDFS.label, "nn")
        or _text(graph, subject, SKOS.prefLabel, "nn"),
        label_en=_text(graph, subject, RDFS.label, "en")
        or _text(graph, subject, SKOS.prefLabel, "en"),
        alt_labels=tuple(
            sorted(
                f"{o} ({o.language})"
                for o in graph.objects(subject, SKOS.altLabel)
                if isinstance(o, Literal)
            )
        ),
        definition_nb=_text(graph, subject, SKOS.definition, "nb"),
        definition_en=_text(graph, subject, SKOS.definition, "en"),
        comments=tuple(
            sorted(str(o) for o in graph.objects(subject, RDFS.comment) if isinstance(o, Literal))
        ),
        parents=_refs(graph, parents),
        domain=_refs(graph, graph.objects(subject, RDFS.domain)),
        range=_refs(graph, graph.objects(subject, RDFS.range)),
        functional=(subject, RDF.type, OWL.FunctionalProperty) in graph,
        see_also=tuple(sorted(str(o) for o in graph.objects(subject, RDFS.seeAlso))),
        notation=str(graph.value(subject, SKOS.notation) or ""),
        scheme=_refs(graph, graph.objects(subject, SKOS.inScheme)),
        members=members,
        constraints=_constraints_of(subject, kind),
    )


@cache
def ontology_terms() -> dict[str, Term]:
    """Every kg: term by local name, classes first, then properties, schemes, concepts."""
    graph = ontology_graph()
    terms: list[Term] = []
    for subject in set(graph.subjects()):
        if not isinstance(subject, URIRef) or local_name(subject) is None:
            continue
        kind = _kind(graph, subject)
        if kind is not None:
            terms.append(_term(graph, subject, kind))
    order = list(KIND_NAMES)
    terms.sort(key=lambda t: (order.index(t.kind), t.name))
    return {t.name: t for t in terms}


@dataclass(frozen=True)
class OntologyHeader:
    iri: str
    version: str
    title_nb: str
    title_en: str
    description_nb: str
    description_en: str
    license: str
    prefix: str
    namespace: str


@cache
def ontology_header() -> OntologyHeader:
    """The ontology's own metadata, for the top of its page."""
    graph = ontology_graph()
    return OntologyHeader(
        iri=str(ONTOLOGY_IRI),
        version=str(graph.value(ONTOLOGY_IRI, OWL.versionInfo) or ""),
        title_nb=_text(graph, ONTOLOGY_IRI, DCTERMS.title, "nb"),
        title_en=_text(graph, ONTOLOGY_IRI, DCTERMS.title, "en"),
        description_nb=_text(graph, ONTOLOGY_IRI, DCTERMS.description, "nb"),
        description_en=_text(graph, ONTOLOGY_IRI, DCTERMS.description, "en"),
        license=str(graph.value(ONTOLOGY_IRI, DCTERMS.license) or ""),
        prefix="kg",
        namespace=str(KG),
    )


def term_graph(name: str) -> Graph | None:
    """What the ontology says about one term (its triples and their blank nodes)."""
    term = ontology_terms().get(name)
    if term is None:
        return None
    source = ontology_graph()
    result = Graph()
    for prefix, namespace in PREFIXES.items():
        result.bind(prefix, namespace)
    pending: list[Node] = [URIRef(term.iri)]
    seen: set[Node] = set()
    while pending:
        subject = pending.pop()
        if subject in seen:
            continue
        seen.add(subject)
        for predicate, value in source.predicate_objects(subject):
            result.add((subject, predicate, value))
            if isinstance(value, BNode):
                pending.append(value)
    return result


@dataclass(frozen=True)
class ColumnDoc:
    order: int
    name_nb: str
    name_en: str
    path: str
    """The property (or sequence path, joined by /) as prefixed names."""
    anchor: str | None
    description_nb: str
    description_en: str
    rules_nb: tuple[str, ...]
    rules_en: tuple[str, ...]


@dataclass(frozen=True)
class SheetDoc:
    anchor: str
    name_nb: str
    name_en: str
    class_name: str
    iri_template: str
    columns: tuple[ColumnDoc, ...]


def _column_doc(column: Column) -> ColumnDoc:
    steps = column.path if isinstance(column.path, tuple) else (column.path,)
    nb, en = rules(column)
    return ColumnDoc(
        order=column.order,
        name_nb=column.name_nb,
        name_en=column.name_en,
        path=" / ".join(curie(step) for step in steps),
        anchor=local_name(steps[0]) if len(steps) == 1 else None,
        description_nb=column.description_nb,
        description_en=column.description_en,
        rules_nb=nb,
        rules_en=en,
    )


@cache
def spreadsheet_contract() -> tuple[SheetDoc, ...]:
    """Every sheet and column of the template, as the /shapes page and the guides show them."""
    return tuple(
        SheetDoc(
            anchor=local_name(sheet.target_class) or curie(sheet.target_class),
            name_nb=sheet.name_nb,
            name_en=sheet.name_en,
            class_name=local_name(sheet.target_class) or curie(sheet.target_class),
            iri_template=sheet.iri_template,
            columns=tuple(_column_doc(column) for column in sheet.columns),
        )
        for sheet in sheets()
    )


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def columns_markdown() -> str:
    """docs/kolonner.md: the column table for system owners, generated from the shapes.

    ``python -m service.pages.ontology_docs`` rewrites the file; a test fails when it is stale.
    """
    lines = [
        "# Kolonnene i regnearket / The spreadsheet columns",
        "",
        "> Generert av `python -m service.pages.ontology_docs` fra `shapes/`; "
        "ikke rediger for hånd.",
        "> *Generated by `python -m service.pages.ontology_docs` from `shapes/`; "
        "do not edit by hand.*",
        "",
        "Denne siden er generert fra SHACL-formene i `shapes/`, som er kontrakten for "
        "regnearkmalen (`kommunegraf template`). Hvert avsnitt er et ark, hver rad en kolonne.",
        "",
        "*This page is generated from the SHACL shapes in `shapes/`, the contract of the "
        "spreadsheet template (`kommunegraf template`). Each section is a sheet, each row a "
        "column.* Se også / see also: [systemeier.md](systemeier.md), `/shapes` i tjenesten "
        "(in the service).",
        "",
        "Regler / rules: *påkrevd* (required) — mangler verdien, lastes ingenting (nothing is "
        "loaded without it); *anbefalt* (recommended) — mangler den, får du en advarsel "
        "(a warning); *valgfri* (optional).",
    ]
    for sheet in spreadsheet_contract():
        lines += [
            "",
            f"## {sheet.name_nb} / {sheet.name_en}",
            "",
            f"Én rad er én `kg:{sheet.class_name}` (one row is one `kg:{sheet.class_name}`); "
            f"IRI `<base>{sheet.iri_template}`.",
            "",
            "| # | Kolonne / Column | Egenskap / Property | Betydning / Meaning "
            "| Regler / Constraints |",
            "| --- | --- | --- | --- | --- |",
        ]
        for c in sheet.columns:
            lines.append(
                f"| {c.order} | **{_cell(c.name_nb)}** / {_cell(c.name_en)} | `{c.path}` "
                f"| {_cell(c.description_nb)} / *{_cell(c.description_en)}* "
                f"| {_cell('; '.join(c.rules_nb))} / *{_cell('; '.join(c.rules_en))}* |"
            )
    return "\n".join(lines) + "\n"


COLUMNS_FILE = "kolonner.md"


def main() -> None:
    """Rewrite docs/kolonner.md from the shapes."""
    target = docs_dir() / COLUMNS_FILE
    target.write_text(columns_markdown(), encoding="utf-8")
    print(target)


if __name__ == "__main__":
    main()


__all__ = [
    "COLUMNS_FILE",
    "KIND_NAMES",
    "ONTOLOGY_IRI",
    "ColumnDoc",
    "Constraint",
    "OntologyHeader",
    "Ref",
    "SheetDoc",
    "Term",
    "columns_markdown",
    "curie",
    "local_name",
    "ontology_header",
    "ontology_terms",
    "rules",
    "spreadsheet_contract",
    "term_graph",
]
