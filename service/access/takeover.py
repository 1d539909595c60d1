"""One record, one graph: a load takes over the records it brings from the graph that held them.

Why: every query reads the union of the named graphs. The national demo (and any
workbook an administrator loads) sits in ``<base>graph/source/<file>``; a
municipality's own uploads and edits in the browser form go to
``<base>graph/kommune/<nr>/<file>``. Written side by side, a record edited by the
municipality would show its old value from the administrator's graph and its new
value from the municipality's: two values, until an administrator removed one.

The rule, decided once here for the upload API, the upload page, the edit form and
``kommunegraf load``:

* **A municipality's load takes over.** When the records of a municipality's
  workbook are held by an administrator's source graph that holds nothing but that
  municipality's records (the demo's ``graph/source/kommune-4203-arendal``), that
  graph is dropped whole in the same transaction as the new graph is written. (The
  municipality's own other graphs are its own business, as before: it may keep
  several workbooks, and replacing one never touches another.) A source graph is never
  edited triple by triple: it is as the administrator loaded it, or gone. The
  dry run counts the dropped graph's records as replaced (a record the new file
  leaves out is "removed"), and the audit event lists both graphs' changes.
* **A source graph that holds other data too** (several municipalities, the
  catalogue) cannot be taken over by one municipality: the load is refused with a
  message to ask an administrator.
* **An administrator's reload does not undo a municipality's edits.** Loading a
  source whose records a municipality's graph now holds is refused, naming that
  graph: the municipality's values are newer, and writing the old file beside
  them would give two values again. The administrator downloads
  ``/template?kommune=<nr>`` for the current values, or removes the municipality's
  graph first (``DELETE /store?graph=…``, audited) to go back to the file.
"""

from __future__ import annotations

from collections.abc import Iterable

from rdflib import RDF, URIRef

from loaders.mapping import Triple
from loaders.report import Issue
from service.access.scope import Principal, subject_kind
from service.store.backend import Backend
from service.store.reads import select

_BATCH = 200


def records(triples: Iterable[Triple]) -> list[URIRef]:
    """The typed records of ``triples`` (an rdflib graph, or an upload's triples; helper
    nodes ``<record>#x`` go with their record)."""
    # Compared as text: rdflib's ``==`` runs in Python, and this runs on the event loop
    # (10 ms for Oslo's 4,400 triples, this 0.5).
    found = {
        s
        for s, p, _ in triples
        if isinstance(p, URIRef) and _same_text(p, _TYPE) and isinstance(s, URIRef)
        if "#" not in s
    }
    return sorted(found, key=str)


_TYPE = str(RDF.type)
_same_text = str.__eq__


async def holders(backend: Backend, graph_iri: str, subjects: Iterable[URIRef]) -> set[str]:
    """The named graphs other than ``graph_iri`` that type one of ``subjects``."""
    subjects = list(subjects)
    found: set[str] = set()
    for start in range(0, len(subjects), _BATCH):
        values = " ".join(f"<{s}>" for s in subjects[start : start + _BATCH])
        rows = await select(
            backend,
            f"SELECT DISTINCT ?g WHERE {{ VALUES ?s {{ {values} }} GRAPH ?g {{ ?s a ?t }} "
            f"FILTER(?g != <{graph_iri}>) }}",
        )
        found |= {row["g"] for row in rows}
    return found


async def _foreign(backend: Backend, base: str, graph: str, number: str) -> list[str]:
    """Records in ``graph`` that are not municipality ``number``'s (at most a few)."""
    rows = await select(
        backend,
        f"SELECT DISTINCT ?s WHERE {{ GRAPH <{graph}> {{ ?s a ?t }} "
        f'FILTER(isIRI(?s) && !STRSTARTS(STR(?s), "{graph}") && !STRSTARTS(STR(?s), "ni:")) }}',
    )
    return sorted(
        row["s"] for row in rows if subject_kind(base, row["s"]) != ("municipal", number)
    )[:3]


async def _replaceable(backend: Backend, base: str, graph: str, number: str) -> bool:
    """Whether a token of municipality ``number`` may drop ``graph`` whole: an
    administrator's source holding nothing but its records."""
    return graph.startswith(f"{base}graph/source/") and not await _foreign(
        backend, base, graph, number
    )


async def takeover(
    backend: Backend, base: str, principal: Principal, graph_iri: str, graph: Iterable[Triple]
) -> tuple[list[Issue], tuple[str, ...]]:
    """Errors that stop the load, and the graphs it replaces besides ``graph_iri``
    (``graph``: what the load writes there, an rdflib graph or its triples)."""
    held = await holders(backend, graph_iri, records(graph))
    issues: list[Issue] = []
    dropped: list[str] = []
    municipal = f"{base}graph/kommune/"
    for other in sorted(held):
        if principal.is_admin:
            if other.startswith(municipal):
                issues.append(_edited_by_municipality(other, base))
            continue  # an administrator's sources overlapping each other: as before
        number = next(
            (
                n
                for n in sorted(principal.municipalities)
                if graph_iri.startswith(f"{municipal}{n}/")
            ),
            None,
        )
        if number is not None and other.startswith(f"{municipal}{number}/"):
            continue  # another workbook of the same municipality: left as it is
        if number is not None and await _replaceable(backend, base, other, number):
            dropped.append(other)
        else:
            issues.append(_shared_source(other))
    return issues, tuple(dropped)


def _edited_by_municipality(graph: str, base: str) -> Issue:
    number = graph.removeprefix(f"{base}graph/kommune/").split("/", 1)[0]
    return Issue(
        "error",
        f"Kommune {number} har selv endret disse postene (grafen <{graph}>) etter at kildefilen "
        "ble lastet. Å laste kildefilen på nytt ville vise to verdier. Last ned "
        f"/template?kommune={number} for de gjeldende verdiene, eller fjern kommunens graf "
        f"først (DELETE /store?graph=…, logget) for å gå tilbake til filen.",
        f"Municipality {number} has edited these records itself (graph <{graph}>) since the "
        "source file was loaded. Loading the source file again would show two values. "
        f"Download /template?kommune={number} for the current values, or remove the "
        "municipality's graph first (DELETE /store?graph=…, audited) to go back to the file.",
        value=graph,
    )


def _shared_source(graph: str) -> Issue:
    return Issue(
        "error",
        f"Postene ligger i grafen <{graph}> sammen med data denne nøkkelen ikke kan erstatte. "
        "Lagret ved siden av ville de vise to verdier; be en administrator laste opp filen, "
        "eller dele kildefilen per kommune.",
        f"The records are held by the graph <{graph}> together with data this token may not "
        "replace. Written beside it they would show two values; ask an administrator to upload "
        "the file, or to split the source file by municipality.",
        value=graph,
    )
