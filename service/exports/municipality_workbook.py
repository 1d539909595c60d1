"""A municipality's current data as the template workbook, ready to edit and upload again.

Why: next year's update should start from this year's answers, not a blank sheet.
The workbook is the same template (``loaders.template``), with the municipality's
own rows filled in the way the loader reads them back, so that uploading it
unchanged changes nothing. The same code serves ``GET /template?kommune=NNNN`` and
``kommunegraf template --kommune NNNN``; only how the store is read differs.
"""

from __future__ import annotations

import asyncio
import io
import re
from collections import Counter

from rdflib import URIRef

from loaders.template import municipal_prefixes, write_municipality_workbook
from service.store.reads import Construct
from service.store.sources import reference_context, stored_context_query

XLSX_MEDIA = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

NUMBER = re.compile(r"\d{4}")
"""A kommunenummer: four digits (checked before it goes into a query)."""


def municipality_data_query(base_iri: str, number: str) -> str:
    """Every triple of the municipality's own resources and of their helper nodes."""
    if not NUMBER.fullmatch(number):
        raise ValueError(f"not a kommunenummer: {number!r}")
    pairs = " ".join(
        f'(<{cls}> "{prefix}")' for cls, prefix in municipal_prefixes(base_iri, number).items()
    )
    return f"""CONSTRUCT {{ ?s ?p ?o . ?o ?hp ?ho }} WHERE {{
      VALUES (?type ?prefix) {{ {pairs} }}
      ?s a ?type .
      FILTER(STRSTARTS(STR(?s), ?prefix))
      ?s ?p ?o .
      OPTIONAL {{
        ?o ?hp ?ho .
        FILTER(isIRI(?o) && STRSTARTS(STR(?o), CONCAT(STR(?s), "#")))
      }}
    }}"""


def known_municipality_query(number: str) -> str:
    if not NUMBER.fullmatch(number):
        raise ValueError(f"not a kommunenummer: {number!r}")
    return (
        "CONSTRUCT { ?m <https://w3id.org/kommunegraf/ontology#municipalityNumber> ?n } "
        "WHERE { ?m <https://w3id.org/kommunegraf/ontology#municipalityNumber> ?n "
        f'FILTER(STR(?n) = "{number}") }}'
    )


_HOLDS = URIRef("urn:kommunegraf:holds")


def _graphs_query(base_iri: str, number: str) -> str:
    """Which named graphs hold the municipality's rows (as triples, for ``Construct``)."""
    pairs = " ".join(
        f'(<{cls}> "{prefix}")' for cls, prefix in municipal_prefixes(base_iri, number).items()
    )
    return f"""CONSTRUCT {{ ?g <{_HOLDS}> ?s }} WHERE {{
      VALUES (?type ?prefix) {{ {pairs} }}
      GRAPH ?g {{ ?s a ?type }}
      FILTER(STRSTARTS(STR(?s), ?prefix))
    }}"""


async def municipality_workbook(
    construct: Construct, base_iri: str, number: str
) -> tuple[str, bytes]:
    """The file name and xlsx bytes of municipality ``number``'s filled-in workbook.

    The file is named after the graph that holds most of the municipality's rows
    (``kommune-4203-arendal.xlsx`` for the demo's graph ``…/graph/source/kommune-4203-
    arendal``), so that uploading it again replaces that graph rather than adding a
    copy beside it.
    """
    data = await construct(municipality_data_query(base_iri, number))
    names = await construct(stored_context_query(base_iri))
    holders = Counter(str(g) for g in (await construct(_graphs_query(base_iri, number))).subjects())
    stem = holders.most_common(1)[0][0].rstrip("/").rsplit("/", 1)[-1] if holders else ""
    name = f"{stem or f'kommune-{number}'}.xlsx"

    def build() -> bytes:
        output = io.BytesIO()
        write_municipality_workbook(
            output, number, data, names, base_iri, reference_context(base_iri)
        )
        return output.getvalue()

    return name, await asyncio.to_thread(build)
