"""What loading a source would change, row by row and column by column.

Why: a system owner wants to see a change before it happens ("the contract of Visma
Flyt Skole ends 2028-07-31 instead of 2027-07-31"), not a count of triples. The
upload's dry run, the upload page, ``kommunegraf validate --endpoint`` and the
browser form compare the same way: the records (subjects) of the new source against
what the store holds for them, each property read as the column the shapes define
for the record's class (``loaders.columns``), so a change names the sheet, the row,
the column and the old and new values.

Pure: triples in (rdflib graphs, or sets of triples; ``compare_lines`` N-Triples
terms), a ``Changes`` out; reading the store is the caller's job.

>>> from rdflib import Graph, Literal, Namespace
>>> from loaders.namespaces import KG
>>> ID = Namespace("http://x.test/id/")
>>> old, new = Graph(), Graph()
>>> for g, end in ((old, "2027-12-31"), (new, "2028-12-31")):
...     _ = g.add((ID["bruk/4203/a"], RDF.type, KG.ApplicationUsage))
...     _ = g.add((ID["bruk/4203/a"], KG.retirementDate, Literal(end)))
>>> changes = compare(old, new, old)
>>> changes.counts()
{'added': 0, 'removed': 0, 'changed': 1}
>>> row = changes.rows[0]
>>> row.column_nb, row.old, row.new
('Avvikles', ['2027-12-31'], ['2028-12-31'])
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Hashable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from rdflib import URIRef
from rdflib.namespace import RDF, RDFS
from rdflib.term import Node

from loaders.columns import Column, sheets
from loaders.oxigraph_terms import Line, line_text

Kind = Literal["added", "removed", "changed"]


@dataclass(frozen=True)
class RowChange:
    """One record added or removed, or one column of a record changed."""

    kind: Kind
    subject: str
    label: str
    """The record's name (its rdfs:label, else the end of its IRI)."""
    sheet: str
    row: int | None
    """The row in the uploaded file (None for a removed record)."""
    column_nb: str = ""
    column_en: str = ""
    old: list[str] = field(default_factory=list)
    new: list[str] = field(default_factory=list)


@dataclass
class Changes:
    rows: list[RowChange] = field(default_factory=list)
    triples_added: int = 0
    triples_removed: int = 0
    triples_unchanged: int = 0

    def counts(self) -> dict[str, int]:
        found = {"added": 0, "removed": 0, "changed": 0}
        for row in self.rows:
            found[row.kind] += 1
        return found

    def as_json(self) -> dict[str, Any]:
        """The ``changes`` object of the upload's answer."""
        return {
            **self.counts(),
            "rows": [asdict(r) for r in self.rows],
            "triples": {
                "added": self.triples_added,
                "removed": self.triples_removed,
                "unchanged": self.triples_unchanged,
            },
        }


def _columns() -> dict[str, tuple[str, dict[str, Column]]]:
    """Class IRI → (sheet name, predicate IRI → column) for single-predicate columns."""
    found: dict[str, tuple[str, dict[str, Column]]] = {}
    for sheet in sheets():
        columns = {str(c.path): c for c in sheet.columns if isinstance(c.path, URIRef)}
        found[str(sheet.target_class)] = (sheet.name_nb, columns)
    return found


Term = Hashable
"""An rdflib term (``compare``) or an N-Triples one (``compare_lines``)."""
Triple = tuple[Term, Term, Term]
_Index = dict[Term, dict[Term, list[Term]]]
"""Subject -> predicate -> objects: what ``compare`` looks up, made in one pass (an
rdflib graph of each side cost an upload of Oslo's workbook 45 ms apiece to build)."""


@dataclass(frozen=True)
class _Terms:
    """What the comparison needs to know of one library's terms."""

    rdf_type: Term
    rdfs_label: Term
    is_iri: Callable[[Any], bool]
    text: Callable[[Any], str]
    """An IRI, a literal's lexical form, a blank node's id."""


def _is_uri(node: object) -> bool:
    return isinstance(node, URIRef)


def _is_iri_line(term: str) -> bool:
    return term[0] == "<"


_RDFLIB = _Terms(RDF.type, RDFS.label, _is_uri, str)
_LINES = _Terms(f"<{RDF.type}>", f"<{RDFS.label}>", _is_iri_line, line_text)


def _index(triples: Collection[Triple]) -> _Index:
    index: _Index = {}
    for s, p, o in triples:
        index.setdefault(s, {}).setdefault(p, []).append(o)
    return index


def compare(
    current: Iterable[tuple[Node, Node, Node]],
    new: Iterable[tuple[Node, Node, Node]],
    replaced: Iterable[tuple[Node, Node, Node]],
    rows: dict[Any, tuple[str, int]] | None = None,
) -> Changes:
    """What replacing ``replaced`` by ``new`` changes, against ``current``.

    ``current`` holds what the store says about the records of ``new`` (from any
    graph), ``replaced`` the graph the load replaces; ``rows`` the (sheet, row) of
    each subject of ``new`` (from the loader). Triples compare as stored (the caller
    canonicalises literals), so an unchanged file changes nothing.
    """
    return _compare(_RDFLIB, current, new, replaced, rows)


def compare_lines(
    current: Iterable[Line],
    new: Iterable[Line],
    replaced: Iterable[Line],
    rows: dict[Any, tuple[str, int]] | None = None,
) -> Changes:
    """``compare`` of triples as N-Triples terms (``comparable_lines``: they compare and
    read as their rdflib terms would, so the answer is the same): an upload's changes,
    without converting the store's answers to rdflib terms. ``rows`` keyed by rdflib
    IRIs, as the loader gives them."""
    return _compare(_LINES, current, new, replaced, rows)


def _compare(
    terms: _Terms,
    current: Iterable[Triple],
    new: Iterable[Triple],
    replaced: Iterable[Triple],
    rows: dict[Any, tuple[str, int]] | None,
) -> Changes:
    is_iri, text = terms.is_iri, terms.text
    # Only IRI subjects are records: other keys never matched one
    row_of = {str(k): v for k, v in (rows or {}).items() if isinstance(k, URIRef)}
    columns = _columns()
    new_set, current_set, replaced_set = set(new), set(current), set(replaced)
    changes = Changes(
        triples_added=len(new_set - current_set),
        triples_removed=len(replaced_set - new_set),
        triples_unchanged=len(new_set & current_set),
    )
    new_index, current_index, replaced_index = (
        _index(new_set),
        _index(current_set),
        _index(replaced_set),
    )

    def records(index: _Index) -> set[Term]:
        """The typed records (helper nodes ``<record>#x`` go with their record)."""
        return {
            s
            for s, about in index.items()
            if terms.rdf_type in about and is_iri(s)
            if "#" not in text(s)
        }

    def label(index: _Index, subject: Term) -> str:
        labels = index.get(subject, {}).get(terms.rdfs_label)
        return text(labels[0]) if labels else text(subject).rstrip("/").rsplit("/", 1)[-1]

    def where(subject: Term, index: _Index) -> tuple[str, dict[str, Column]]:
        for cls in index.get(subject, {}).get(terms.rdf_type, ()):
            if is_iri(cls) and text(cls) in columns:
                return columns[text(cls)]
        return "", {}

    records_new = records(new_index)
    records_old = records(current_index)
    records_replaced = records(replaced_index)
    for subject in sorted(records_new - records_old, key=text):
        sheet, _ = where(subject, new_index)
        row = row_of.get(text(subject), (sheet, None))
        changes.rows.append(
            RowChange("added", text(subject), label(new_index, subject), row[0] or sheet, row[1])
        )
    for subject in sorted(records_replaced - records_new, key=text):
        sheet, _ = where(subject, replaced_index)
        changes.rows.append(
            RowChange("removed", text(subject), label(replaced_index, subject), sheet, None)
        )
    by_record_old: dict[Term, dict[Term, set[Term]]] = defaultdict(lambda: defaultdict(set))
    by_record_new: dict[Term, dict[Term, set[Term]]] = defaultdict(lambda: defaultdict(set))
    for triples, target in ((current_set, by_record_old), (new_set, by_record_new)):
        for s, p, o in triples:
            # helper nodes (``<record>#x``) belong to their record, not compared here
            if is_iri(p) and not (is_iri(s) and "#" in text(s)):
                target[s][p].add(o)
    for subject in sorted(records_new & records_old, key=text):
        sheet, known = where(subject, new_index)
        row = row_of.get(text(subject), (sheet, None))
        before, after = by_record_old[subject], by_record_new[subject]
        for predicate in sorted(set(before) | set(after), key=text):
            column = known.get(text(predicate))
            if column is None or before.get(predicate, set()) == after.get(predicate, set()):
                continue
            changes.rows.append(
                RowChange(
                    "changed",
                    text(subject),
                    label(new_index, subject),
                    row[0] or sheet,
                    row[1],
                    column.name_nb,
                    column.name_en,
                    sorted(text(o) for o in before.get(predicate, set())),
                    sorted(text(o) for o in after.get(predicate, set())),
                )
            )
    return changes


def change_lines(rows: list[dict[str, object]], limit: int = 200) -> str:
    """An audit ``detail`` from a ``changes`` object's rows: one line per change, with
    the record's IRI in angle brackets so a resource page can pick its own lines."""
    lines = []
    for row in rows[:limit]:
        where = f"{row['label']} <{row['subject']}>"
        if row["kind"] == "changed":
            old = "; ".join(str(v) for v in row["old"]) or "–"  # type: ignore[attr-defined]
            new = "; ".join(str(v) for v in row["new"]) or "–"  # type: ignore[attr-defined]
            lines.append(f"{where}: {row['column_nb']}: {old} → {new}")
        else:
            verb = "lagt til / added" if row["kind"] == "added" else "fjernet / removed"
            lines.append(f"{where}: {verb}")
    if len(rows) > limit:
        lines.append(f"… {len(rows) - limit} til / more")
    return "\n".join(lines)
