"""What ``kommunegraf query`` does: list canned queries, run one or any SPARQL text.

The command runs against the local store or a running server (``--endpoint``), and both
paths end in the same table printer; the click command (at the end) only parses arguments.

>>> print(table(["a", "bb"], [["1", "x"], ["22", ""]]))
a   bb
--  --
1   x
22
(2 rader / rows)
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import pyoxigraph as ox
from rdflib import Graph, URIRef

from service.cli.options import fail, on_store, settings_from, store_option

if TYPE_CHECKING:
    from loaders.changes import Changes
    from service.sparql.canned import CannedQuery
    from service.store.backend import Backend

SOLUTION_FORMATS = {
    "csv": ox.QueryResultsFormat.CSV,
    "tsv": ox.QueryResultsFormat.TSV,
    "json": ox.QueryResultsFormat.JSON,
    "xml": ox.QueryResultsFormat.XML,
}


class EndpointError(RuntimeError):
    """The server answered with an error, or could not be reached; the message says which."""


def listing(language: str = "nb") -> str:
    """The canned queries, one paragraph each: name, title, parameters."""
    from service.sparql.canned import canned_queries

    lines = []
    for query in sorted(canned_queries().values(), key=lambda q: q.name):
        lines.append(f"{query.name}\n  {query.title['nb']} / {query.title['en']}")
        for p in query.parameters:
            need = "påkrevd / required" if p.required else f"standard / default {p.default or '-'}"
            lines.append(f"  --param {p.name}=<{p.type}>  ({need}) {p.description[language]}")
    return "\n".join(lines) + "\n"


def table(names: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Rows as aligned columns, for reading in a terminal."""
    widths = [max([len(n), *(len(r[i]) for r in rows)]) for i, n in enumerate(names)]
    lines = ["  ".join(n.ljust(w) for n, w in zip(names, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    return "\n".join(lines) + f"\n({len(rows)} rader / rows)"


async def run_local(text: str, fmt: str, timeout: float | None, backend: Backend) -> str:
    """Run ``text`` on the store through ``backend`` (a worker, the deadline) and show it.

    Solutions come as SPARQL JSON and are shown as asked (table, or re-serialised as
    CSV, TSV, JSON or XML); graphs come in the RDF format asked for.
    """
    answer = await backend.execute(
        text,
        solutions_media="application/sparql-results+json",
        graph_media="application/n-triples" if fmt == "nt" else "text/turtle",
        timeout=timeout,
    )
    if answer.kind == "graph":
        return answer.body.decode()
    return format_local(ox.parse_query_results(answer.body, format=ox.QueryResultsFormat.JSON), fmt)


def format_local(results: ox.QuerySolutions | ox.QueryBoolean | ox.QueryTriples, fmt: str) -> str:
    """Results of a query in the format asked for."""
    if isinstance(results, ox.QueryTriples):
        rdf = ox.RdfFormat.N_TRIPLES if fmt == "nt" else ox.RdfFormat.TURTLE
        return (results.serialize(format=rdf) or b"").decode()
    if isinstance(results, ox.QueryBoolean):
        return ("true" if bool(results) else "false") + "\n"
    if fmt != "table":
        chosen = SOLUTION_FORMATS.get(fmt, ox.QueryResultsFormat.TSV)
        return (results.serialize(format=chosen) or b"").decode()
    names = [v.value for v in results.variables]
    rows = [[_value(solution[name]) for name in names] for solution in results]
    return table(names, rows) + "\n"


def _value(term: object) -> str:
    if term is None:
        return ""
    if isinstance(term, ox.Literal | ox.NamedNode | ox.BlankNode):
        return term.value
    return str(term)


def run_remote(
    endpoint: str,
    fmt: str,
    *,
    canned: CannedQuery | None = None,
    params: Mapping[str, str] | None = None,
    sparql: str | None = None,
    timeout: float = 120.0,
) -> str:
    """Run a canned query or SPARQL text on a running kommunegraf (or any SPARQL endpoint)."""
    base = endpoint.rstrip("/")
    wire = "json" if fmt == "table" else fmt
    if canned is not None:
        query = urllib.parse.urlencode({**(params or {}), "format": wire})
        url = f"{base}/queries/{canned.name}?{query}"
    else:
        media = {"turtle": "text/turtle", "nt": "application/n-triples"}.get(wire, wire)
        query = urllib.parse.urlencode({"query": sparql or "", "format": media})
        url = f"{base}/sparql?{query}"
    if not url.startswith(("http://", "https://")):
        raise EndpointError(f"{endpoint}: bruk en http(s)-adresse (use an http(s) address)")
    request = urllib.request.Request(url, headers={"User-Agent": "kommunegraf-cli"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            body: bytes = response.read()
    except urllib.error.HTTPError as error:
        raise EndpointError(
            f"{endpoint} svarte / answered {error.code}:\n{error.read().decode(errors='replace')}"
        ) from None
    except OSError as error:
        raise EndpointError(f"{endpoint}: ingen kontakt (cannot connect): {error}") from None
    if fmt != "table":
        return body.decode()
    document = json.loads(body)
    if "boolean" in document:
        return ("true" if document["boolean"] else "false") + "\n"
    names = document["head"]["vars"]
    rows = [
        [binding.get(name, {}).get("value", "") for name in names]
        for binding in document["results"]["bindings"]
    ]
    return table(names, rows) + "\n"


def remote_context(endpoint: str) -> tuple[str, Graph]:
    """The base IRI of a running kommunegraf, and what an upload there may refer to.

    Why: ``kommunegraf validate --endpoint`` checks a workbook the way the service's
    upload would, so it needs the names the service knows (its shared catalogue and
    every municipality's usages) and the base IRI its resources are minted under.
    """
    found = json.loads(run_remote(endpoint, "json", sparql=_BASE_QUERY))
    graphs = [b["g"]["value"] for b in found["results"]["bindings"]]
    if not graphs:
        raise EndpointError(
            f"{endpoint}: ingen referansedata; er dette en kommunegraf-tjeneste? "
            "(no reference data; is this a kommunegraf service?)"
        )
    base = graphs[0].split("graph/reference/", 1)[0]
    from service.store.names import stored_context_query

    triples = run_remote(endpoint, "nt", sparql=stored_context_query(base), timeout=300.0)
    return base, Graph().parse(data=triples, format="nt")


_BASE_QUERY = """SELECT ?g WHERE {
  GRAPH ?g { ?s a <https://w3id.org/kommunegraf/ontology#County> }
  FILTER(CONTAINS(STR(?g), "/graph/reference/"))
} LIMIT 1"""


def remote_changes(endpoint: str, base: str, graph: Graph, stem: str, rows: Any) -> Changes:
    """What loading ``graph`` (a checked file named ``stem``) would change on a running
    service: its records against what the service holds for them, and the records of the
    graph it would replace (the service's graph of the same name), as an upload's
    dry run compares them (``loaders.changes``)."""
    from loaders.changes import compare
    from loaders.provenance import not_graph_description
    from service.access.uploads import as_stored

    new = as_stored(set(graph))
    subjects = sorted({s for s, _, _ in new if isinstance(s, URIRef)}, key=str)
    current, replaced = Graph(), Graph()
    holders: set[str] = set()
    for start in range(0, len(subjects), 200):
        values = " ".join(f"<{s}>" for s in subjects[start : start + 200])
        current.parse(
            data=run_remote(
                endpoint,
                "nt",
                sparql=f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ VALUES ?s {{ {values} }} ?s ?p ?o }}",
                timeout=300.0,
            ),
            format="nt",
        )
        found = json.loads(
            run_remote(
                endpoint,
                "json",
                sparql="SELECT DISTINCT ?g WHERE { VALUES ?s { "
                + values
                + " } GRAPH ?g { ?s ?p ?o } }",
            )
        )
        holders |= {b["g"]["value"] for b in found["results"]["bindings"]}
    for holder in sorted(h for h in holders if h.startswith(base) and h.endswith("/" + stem)):
        replaced.parse(
            data=run_remote(
                endpoint,
                "nt",
                sparql=f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH <{holder}> {{ ?s ?p ?o "
                f"{not_graph_description(holder)} }} }}",
                timeout=300.0,
            ),
            format="nt",
        )
    new_graph = Graph()
    for triple in new:
        new_graph.add(triple)
    return compare(current, new_graph, replaced, rows)


@click.command()
@click.argument("query", required=False)
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="NAVN=VERDI",
    help="Parameter til en ferdig spørring (a canned query's parameter), e.g. kommune=5616",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "tsv", "json", "xml", "turtle", "nt"]),
    default="table",
    show_default=True,
)
@click.option(
    "--endpoint",
    default=None,
    metavar="URL",
    help="Kjør mot en tjeneste som kjører (run against a running server), e.g. "
    "http://127.0.0.1:8000",
)
@store_option
def query(
    query: str | None,
    params: tuple[str, ...],
    fmt: str,
    endpoint: str | None,
    store: str | None,
) -> None:
    """Ferdige spørringer og SPARQL / Canned queries and SPARQL.

    Without QUERY: list the canned queries. QUERY is a canned query's name (with
    --param NAME=VALUE for its parameters), SPARQL text, or @FILE to read SPARQL from.
    """
    # The canned queries' parser is imported here, not at the top: ``kommunegraf --help``
    # imports this module.
    from service.sparql.canned import ParameterError, canned_queries

    if query is None:
        click.echo(listing(), nl=False)
        return
    canned = canned_queries().get(query)
    values: dict[str, str] = {}
    for param in params:
        name, equals, value = param.partition("=")
        if not equals or not name.strip():
            fail(f"--param {param!r}: skriv NAVN=VERDI (write NAME=VALUE)")
        values[name.strip()] = value
    if values and canned is None:
        fail(f"--param gjelder ferdige spørringer; {query!r} er ingen (is not a canned query)")
    text = query
    if canned is None and query.startswith("@"):
        try:
            text = Path(query[1:]).read_text(encoding="utf-8")
        except OSError as error:
            fail(f"{query[1:]}: {error.strerror} (cannot read)")
    settings = settings_from(store=store)
    if canned is not None and not endpoint:
        # With --endpoint the service binds them: it also knows the short forms
        # (region=kongsbergregionen), which need its store.
        try:
            text = canned.bind(values, settings.base_iri)
        except ParameterError as error:
            fail(str(error))
    if endpoint:
        try:
            output = run_remote(endpoint, fmt, canned=canned, params=values, sparql=text)
        except EndpointError as error:
            fail(str(error))
        click.echo(output, nl=False)
        return
    timeout = canned.timeout if canned is not None else None
    click.echo(on_store(settings, partial(run_local, text, fmt, timeout)), nl=False)
