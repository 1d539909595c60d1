"""Short forms for canned queries' parameters: a slug, a name or a kommunenummer.

Why: an analyst writes ``region=kongsbergregionen`` or ``kommune=Arendal``, not a
URL-encoded IRI. Before a canned query is bound, each IRI parameter with a class
(and each kommunenummer parameter) is looked up in the store: a short form that
names exactly one resource of the class becomes its IRI; a full IRI must name a
resource of the class. Anything else is a 422 naming the parameter, with the
closest names, rather than an empty answer that looks like "nothing found".
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping

from loaders.resolver import normalise
from service.sparql.canned import CannedQuery, Parameter, ParameterError
from service.sparql.lexer import is_absolute_iri
from service.store.backend import Backend
from service.store.reads import select

_LABEL = "<http://www.w3.org/2000/01/rdf-schema#label>"
_IDENTIFIER = "<http://purl.org/dc/terms/identifier>"
_NUMBER = "<https://w3id.org/kommunegraf/ontology#municipalityNumber>"
_MUNICIPALITY = "https://w3id.org/kommunegraf/ontology#Municipality"
_COUNTY = "<https://w3id.org/kommunegraf/ontology#county>"


def _slug(iri: str) -> str:
    return iri.rstrip("/").rsplit("/", 1)[-1].rsplit("#", 1)[-1]


async def _candidates(backend: Backend, cls: str) -> list[dict[str, str]]:
    """Every resource of ``cls`` with the names it may be given by."""
    current = f"?x {_COUNTY} ?county ." if cls == _MUNICIPALITY else ""
    return await select(
        backend,
        f"""SELECT ?x ?label ?id ?number WHERE {{
          ?x a <{cls}> . {current}
          OPTIONAL {{ ?x {_LABEL} ?label }}
          OPTIONAL {{ ?x {_IDENTIFIER} ?id }}
          OPTIONAL {{ ?x {_NUMBER} ?number }}
        }}""",
    )


def _unknown(parameter: Parameter, value: str, names: list[str]) -> ParameterError:
    close = difflib.get_close_matches(
        normalise(value), {normalise(n): n for n in names}, n=3, cutoff=0.6
    )
    shown = [next(n for n in names if normalise(n) == c) for c in close]
    hint_nb = f" Mente du: {', '.join(shown)}?" if shown else ""
    hint_en = f" Did you mean: {', '.join(shown)}?" if shown else ""
    value = value[:80]
    return ParameterError(
        parameter.name,
        f"«{value}» er ikke kjent i grafen; skriv navnet, kortformen (slug) eller IRI-en" + hint_nb,
        f"'{value}' is not known in the graph; write the name, the short form (slug) or the "
        "IRI" + hint_en,
    )


async def _resolve(parameter: Parameter, value: str, backend: Backend) -> str:
    cls = parameter.iri_class if parameter.type == "iri" else _MUNICIPALITY
    if cls is None:
        return value
    full_iri = parameter.type == "iri" and is_absolute_iri(value) and "://" in value
    if full_iri and await select(backend, f"SELECT ?p WHERE {{ <{value}> ?p ?o }} LIMIT 1"):
        return value  # described in the graph (of this class, or one the shapes imply)
    rows = await _candidates(backend, cls)
    if full_iri:
        names = sorted({row.get("label", "") for row in rows} - {""})
        raise _unknown(parameter, _slug(value), names)
    key = normalise(value)
    found: dict[str, str] = {}
    for row in rows:
        forms = {row.get("label", ""), row.get("id", ""), row.get("number", ""), _slug(row["x"])}
        if key in {normalise(f) for f in forms if f}:
            found[row["x"]] = row.get("number", row["x"])
    if len(found) == 1:
        iri, number = next(iter(found.items()))
        return number if parameter.type == "kommunenummer" else iri
    if found:
        labels = sorted({r.get("label", r["x"]) for r in rows if r["x"] in found})
        raise ParameterError(
            parameter.name,
            f"«{value[:80]}» kan bety flere: {', '.join(labels)}; skriv IRI-en",
            f"'{value[:80]}' may mean several: {', '.join(labels)}; write the IRI",
        )
    raise _unknown(parameter, value, sorted({row.get("label", "") for row in rows} - {""}))


async def resolve_short_forms(
    query: CannedQuery, values: Mapping[str, str], backend: Backend
) -> dict[str, str]:
    """``values`` with each short form replaced by what the query binds (IRI or number)."""
    resolved = dict(values)
    # The other parameters' own checks first (a malformed number is named before a
    # name that needs the store), so the cheap errors come as they always did.
    for parameter in query.parameters:
        value = values.get(parameter.name, "").strip()
        resolvable = parameter.type == "kommunenummer" or (
            parameter.type == "iri" and parameter.iri_class is not None
        )
        if value and not resolvable:
            parameter.to_term(value, "http://x.invalid/")
    for parameter in query.parameters:
        value = values.get(parameter.name, "").strip()
        if not value:
            continue
        if parameter.type == "kommunenummer" and re.fullmatch(r"[0-9\s]+", value):
            continue  # a number is checked by the parameter itself
        if parameter.type == "iri" and parameter.iri_class is None:
            continue
        if parameter.type in {"iri", "kommunenummer"}:
            resolved[parameter.name] = await _resolve(parameter, value, backend)
    return resolved
