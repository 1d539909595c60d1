"""What users type (names, numbers, codes) resolved to the IRIs of known nodes.

System owners write "Visma Flyt Skole" or "Kongsberg", not IRIs. Every node that a
cell may refer to is indexed under its labels and identifiers, per class and
superclass; an unknown name is an error that offers the closest known names.

>>> from loaders.validation import ontology_graph
>>> g = Graph().parse(data='''
... @prefix kg: <https://w3id.org/kommunegraf/ontology#> .
... @prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
... <urn:a> a kg:Vendor ; rdfs:label "Visma Software" ; kg:organisationNumber "974760673" .
... ''', format="turtle")
>>> resolver = Resolver.from_graphs(ontology_graph(), g)
>>> str(resolver.resolve((KG.Vendor,), "visma  software"))
'urn:a'
>>> resolver.resolve((KG.Vendor,), "Visma Softwar")
Traceback (most recent call last):
...
loaders.cells.CellError: «Visma Softwar» er ikke kjent som Leverandør. Mente du: ...
"""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, ORG, RDF, RDFS, SKOS
from rdflib.term import Node

from loaders.cells import CellError
from loaders.namespaces import ELI, KG

# Identifier and name properties a node is known by.
KEY_PROPERTIES = (
    RDFS.label,
    SKOS.prefLabel,
    SKOS.altLabel,
    SKOS.notation,
    DCTERMS.identifier,
    KG.municipalityNumber,
    KG.countyNumber,
    KG.organisationNumber,
    ELI.id_local,
)

NAME_PROPERTIES = (RDFS.label, SKOS.prefLabel, SKOS.altLabel)
"""The keys that are names, offered in "did you mean"; the others are identifiers."""

_WANTED: dict[str, URIRef] = {str(p): p for p in (*KEY_PROPERTIES, RDF.type)}
"""What ``Resolver.add_graph`` reads of a graph, by the predicate's text: the one object of
each (an rdflib namespace makes a new IRI at every use, compared with others in Python)."""
_TYPE, _LABEL = _WANTED[str(RDF.type)], _WANTED[str(RDFS.label)]
_NAMES = tuple(_WANTED[str(p)] for p in NAME_PROPERTIES)
_IDS = tuple(_WANTED[str(p)] for p in KEY_PROPERTIES if p not in NAME_PROPERTIES)
_NUMBERS = (_WANTED[str(KG.municipalityNumber)], _WANTED[str(KG.countyNumber)])

# Subclass axioms of the W3C ORG ontology that our ontology relies on but, as a
# vocabulary of its own, does not restate.
_EXTERNAL_SUBCLASSES = {
    ORG.FormalOrganization: {ORG.Organization},
    ORG.OrganizationalCollaboration: {ORG.Organization},
    ORG.OrganizationalUnit: {ORG.Organization},
}


def referable_classes(ontology: Graph, targets: Iterable[Node]) -> frozenset[URIRef]:
    """The classes whose instances a cell may refer to: ``targets`` (the classes the shapes
    require of a value, ``sh:class``) and every class under one of them.

    An upload is checked against the nodes of these classes only: a usage, dataset or
    vendor may be named in a cell, a contract or an integration never is.
    """
    wanted = set(targets)
    resolver = Resolver(ontology)
    known = set(ontology.subjects(RDFS.subClassOf, None)) | set(_EXTERNAL_SUBCLASSES) | wanted
    return frozenset(c for c in known if isinstance(c, URIRef) and resolver._closure(c) & wanted)


Record = tuple[list[Node], list[str], list[str]]
"""A node's types, names and identifiers, as ``Resolver.add`` takes them."""


def records(triples: Iterable[tuple[Node, Node, Node]]) -> dict[URIRef, Record]:
    """Every typed IRI of ``triples`` with its ``Record``, in the order first seen.

    The triples are read in one pass, grouped by subject in a dict: ten lookups per
    subject through rdflib took 4 s for the national catalogue's 29,000 triples.
    """
    found: dict[URIRef, dict[Node, list[Node]]] = {}
    for subject, predicate, value in triples:
        # By the predicate's text, to this module's own terms: comparing the graph's
        # IRIs with them (rdflib compares in Python) was a fifth of indexing stored names.
        wanted = _WANTED.get(str(predicate))
        if wanted is not None and isinstance(subject, URIRef):
            found.setdefault(subject, {}).setdefault(wanted, []).append(value)
    made: dict[URIRef, Record] = {}
    for subject, values in found.items():
        if _TYPE not in values:
            continue
        names = [str(o) for p in _NAMES for o in values.get(p, ())]
        ids = [str(o) for p in _IDS for o in values.get(p, ())]
        numbers = values.get(_NUMBERS[0]) or values.get(_NUMBERS[1])
        if numbers:  # the "3303 Kongsberg" form the template's lists use
            names += [f"{numbers[0]} {o}" for o in values.get(_LABEL, ())]
        made[subject] = (values[_TYPE], names, ids)
    return made


def normalise(text: str) -> str:
    """The form names are compared in: case, spacing and Unicode form do not matter.

    >>> normalise("  Visma\u00a0Flyt   SKOLE ")
    'visma flyt skole'
    """
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


def _class_label(ontology: Graph, cls: URIRef, lang: str = "nb") -> str:
    for value in ontology.objects(cls, RDFS.label):
        if isinstance(value, Literal) and value.language == lang:
            return str(value)
    return str(cls).rsplit("#", 1)[-1].rsplit("/", 1)[-1]


@dataclass
class Resolver:
    """An index of known nodes by class and by normalised name or identifier."""

    ontology: Graph
    _superclasses: dict[Node, set[Node]] = field(default_factory=dict)
    _index: dict[Node, dict[str, set[URIRef]]] = field(default_factory=dict)
    _display: dict[Node, dict[str, str]] = field(default_factory=dict)
    parent: Resolver | None = None
    """Names known before this one (a batch's shared context); never changed through this."""

    @classmethod
    def from_graphs(cls, ontology: Graph, *graphs: Graph) -> Resolver:
        resolver = cls(ontology)
        for graph in graphs:
            resolver.add_graph(graph)
        return resolver

    def _closure(self, cls: Node) -> set[Node]:
        if cls not in self._superclasses:
            seen: set[Node] = {cls}
            todo = [cls]
            while todo:
                current = todo.pop()
                parents = set(self.ontology.objects(current, RDFS.subClassOf))
                parents |= _EXTERNAL_SUBCLASSES.get(current, set())  # type: ignore[call-overload]
                for parent in parents - seen:
                    seen.add(parent)
                    todo.append(parent)
            self._superclasses[cls] = seen
        return self._superclasses[cls]

    def overlay(self) -> Resolver:
        """A resolver that knows everything this one does and adds names of its own.

        A batch indexes its big context once; each workbook's names go into an
        overlay, so one workbook never sees another's and nothing is copied (a copy
        cost each workbook of a national load 50 ms).
        """
        return Resolver(self.ontology, self._superclasses, parent=self)

    def _entries(
        self, iri: URIRef, types: Iterable[Node], names: Iterable[str], ids: Iterable[str]
    ) -> tuple[set[Node], list[str], list[tuple[str, str]]]:
        """What ``add`` indexes ``iri`` under: its classes, its keys, its names as shown."""
        classes: set[Node] = set()
        for cls in types:
            classes |= self._closure(cls)
        names = [n for n in names if n and n.strip()]
        ids = [i for i in ids if i and i.strip()]
        keys = [normalise(name) for name in [*names, *ids, str(iri)]]  # once, not per class
        return classes, keys, list(zip(keys, (name.strip() for name in names), strict=False))

    def add(
        self, iri: URIRef, types: Iterable[Node], names: Iterable[str], ids: Iterable[str] = ()
    ) -> None:
        """Index ``iri`` under every name and identifier, for each of its types and their
        superclasses; only the names are offered as suggestions (an id like
        "helsetjenester-i-hjemmet" next to a name reads as noise)."""
        classes, keys, shown = self._entries(iri, types, names, ids)
        for cls in classes:
            index = self._index.setdefault(cls, {})
            display = self._display.setdefault(cls, {})
            for key in keys:
                index.setdefault(key, set()).add(iri)
            for key, name in shown:
                display.setdefault(key, name)

    def remove(
        self,
        iri: URIRef,
        types: Iterable[Node],
        names: Iterable[str],
        ids: Iterable[str],
        names_of: Callable[[URIRef], Iterable[str]],
    ) -> None:
        """Undo ``add`` of ``iri`` with these values (a stored node a write changed or
        removed: ``loaders.context.NamesGraph``), as if it had never been added: a name it
        shared with other nodes keeps a spelling of theirs (``names_of``: the names ``add``
        was given for another node of this layer, none for one that is itself being
        changed, which is added again after)."""
        classes, keys, shown = self._entries(iri, types, names, ids)
        for cls in classes:
            index = self._index.get(cls, {})
            for key in keys:
                found = index.get(key)
                if found is not None:
                    found.discard(iri)
                    if not found:
                        del index[key]
            display = self._display.get(cls, {})
            for key, _ in shown:
                if display.pop(key, None) is None:
                    continue
                for other in index.get(key, ()):
                    spelled = [n.strip() for n in names_of(other) if normalise(n) == key]
                    if spelled:
                        display[key] = spelled[0]
                        break

    def add_graph(self, graph: Graph) -> None:
        """Index every typed IRI of ``graph`` by its labels and identifiers (``records``)."""
        for subject, (types, names, ids) in records(graph.triples((None, None, None))).items():
            self.add(subject, types, names, ids)

    def known(self, cls: Node, text: str) -> set[URIRef]:
        return self._known(cls, normalise(text))

    def _known(self, cls: Node, key: str) -> set[URIRef]:
        own = self._index.get(cls, {}).get(key, set())
        if self.parent is None:
            return own
        inherited = self.parent._known(cls, key)
        return own | inherited if own and inherited else own or inherited

    def displays(self, cls: Node) -> dict[str, str]:
        """Normalised name → the name as written, for ``cls``, this layer over its parent's."""
        own = self._display.get(cls, {})
        if self.parent is None:
            return own
        inherited = self.parent.displays(cls)
        if not own or not inherited:
            return own or inherited
        merged = dict(inherited)  # the first spelling of a name wins, as in add()
        for key, name in own.items():
            merged.setdefault(key, name)
        return merged

    def own_names(self, cls: Node) -> int:
        """How many names of ``cls`` this layer added: tells a cache of them when to renew."""
        return len(self._display.get(cls, ()))

    def display_names(self, cls: Node) -> list[str]:
        """Every name ``cls`` nodes are known by, as written."""
        return list(self.displays(cls).values())

    def resolve(self, classes: tuple[URIRef, ...], text: str) -> URIRef:
        """The one node of one of ``classes`` called ``text``; else a CellError."""
        found: set[URIRef] = set()
        for cls in classes:
            found |= self.known(cls, text)
        if len(found) == 1:
            return next(iter(found))
        what = " / ".join(_class_label(self.ontology, c) for c in classes)
        what_en = " / ".join(_class_label(self.ontology, c, "en") for c in classes)
        if found:
            shown = ", ".join(sorted(str(f) for f in found))
            raise CellError(
                f"«{text}» kan bety flere {what}: {shown}. Skriv et entydig navn eller nummer.",
                f"'{text}' may mean several {what_en}: {shown}. "
                "Write an unambiguous name or number.",
            )
        suggestions = self.suggest(classes, text)
        maybe_nb = f" Mente du: {', '.join(suggestions)}?" if suggestions else ""
        maybe_en = f" Did you mean: {', '.join(suggestions)}?" if suggestions else ""
        raise CellError(
            f"«{text}» er ikke kjent som {what}.{maybe_nb}",
            f"'{text}' is not a known {what_en}.{maybe_en}",
            suggestions[0] if suggestions else None,
        )

    def suggest(self, classes: tuple[URIRef, ...], text: str, n: int = 3) -> list[str]:
        """The closest known names, for "did you mean ...?"."""
        display: dict[str, str] = {}
        for cls in classes:
            display.update((k, v) for k, v in self.displays(cls).items() if "://" not in k)
        key = normalise(text)
        close = difflib.get_close_matches(key, display, n=n, cutoff=0.6)
        if not close:  # a prefix or a part of a longer name
            close = [k for k in display if key and (k.startswith(key) or key in k)][:n]
        return [display[k] for k in close]
