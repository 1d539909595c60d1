"""``kommunegraf validate`` and ``kommunegraf load``: check sources, load them all or none.

Both print the same report per file (``_check``); ``load`` then writes through the audit
trail as the routes do. Exit codes as in ``service.cli.commands``.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import click

from loaders.engines import Engine
from loaders.rdf_source import SourceError
from service.cli.options import (
    EXIT_INVALID,
    EXIT_USAGE,
    base_option,
    cli_principal,
    fail,
    on_store,
    settings_from,
    store_option,
)
from service.settings import Settings

if TYPE_CHECKING:
    from rdflib import Graph

    from service.store.backend import EmbeddedBackend
    from service.store.sources import SourceResult


_report_option = click.option(
    "--report",
    "report_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Skriv rapporten til fil (write the report): .json, .html, .txt, or .xlsx "
    "(an annotated copy of the workbook; one file only)",
)


_engine_option = click.option(
    "--engine",
    type=click.Choice(["sparql", "pyshacl"]),
    default="sparql",
    show_default=True,
    help="SHACL-motor (SHACL engine): sparql, the shapes compiled to SPARQL on pyoxigraph; "
    "pyshacl, the reference (slower)",
)


def _check(
    files: tuple[Path, ...],
    base_iri: str,
    report_path: Path | None,
    stored: Graph | None = None,
    engine: Engine = "sparql",
) -> list[SourceResult]:
    """Check every file, print its report, and exit 2 if a file cannot be read."""
    from service.store.sources import check_sources

    for path in files:
        if not path.is_file():
            fail(f"{path}: finnes ikke eller er ikke en fil (does not exist or is not a file)")
    try:
        if len(files) > 1:
            # A batch (the national demo is 358 workbooks) takes minutes: show how far it is.
            with click.progressbar(
                length=len(files),
                label="Kontrollerer / checking",
                file=sys.stderr,
                show_pos=True,
            ) as bar:
                results = check_sources(
                    list(files),
                    base_iri,
                    stored,
                    progress=lambda _: bar.update(1),
                    engine=engine,
                )
        else:
            results = check_sources(list(files), base_iri, stored, engine=engine)
    except SourceError as error:
        fail(str(error))
    for result in results:
        if result.report.issues:
            click.echo(result.report.to_text())
        state = "gyldig / valid" if result.report.conforms else "UGYLDIG / INVALID"
        count = sum(result.row_counts.values())
        rows = (
            f"{count} {'rad / row' if count == 1 else 'rader / rows'}, "
            if result.row_counts
            else ""
        )
        # The same numbers the load reports: what would be written, nothing else.
        click.echo(f"{result.path.name}: {rows}{result.triples} tripler / triples, {state}")
    if report_path is not None:
        _write_reports(report_path, results)
    if not all(r.report.readable for r in results):
        sys.exit(EXIT_USAGE)
    return results


def _write_reports(path: Path, results: list[SourceResult]) -> None:
    reports = [r.report for r in results]
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        from loaders.annotate import write_annotated

        if len(results) != 1 or not results[0].report.readable:
            fail("--report .xlsx gjelder én lesbar fil (takes one readable file)")
        write_annotated(results[0].report, results[0].path, path)
        return
    if suffix == ".json":
        body = "[\n" + ",\n".join(r.to_json() for r in reports) + "\n]\n"
    elif suffix in {".html", ".htm"}:
        body = "\n".join(r.to_html() for r in reports)
    else:
        body = "\n".join(r.to_text() for r in reports) + "\n"
    path.write_text(body, encoding="utf-8")


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@base_option
@_report_option
@_engine_option
@click.option(
    "--endpoint",
    default=None,
    metavar="URL",
    help="Sjekk mot en tjeneste som kjører, som en opplasting der (check against a running "
    "service, as its upload would), e.g. http://127.0.0.1:8000",
)
@click.option(
    "--store",
    "store_dir",
    default=None,
    metavar="DIR",
    help="Sjekk mot det som er lagret i lageret (check against what a store holds)",
)
def validate(
    files: tuple[Path, ...],
    base_iri: str | None,
    report_path: Path | None,
    engine: Engine,
    endpoint: str | None,
    store_dir: str | None,
) -> None:
    """Sjekk filer mot formene uten å laste / Validate files, load nothing.

    Reads spreadsheets (xlsx, xlsm, ods, csv) and RDF files (Turtle, N-Triples,
    RDF/XML, JSON-LD). Names refer to the files themselves and the reference data;
    with --endpoint (a running service) or --store, also to everything stored there
    (the shared catalogue of applications and vendors, other workbooks), with the
    same messages and suggestions as an upload.
    """
    if endpoint and store_dir:
        fail("--endpoint eller --store, ikke begge (one of them, not both)")
    stored: Graph | None = None
    base = settings_from(base_iri=base_iri).base_iri
    if endpoint:
        from service.cli.query import EndpointError, remote_context

        try:
            base, stored = remote_context(endpoint)
        except EndpointError as error:
            fail(str(error))
    elif store_dir:
        base, stored = _store_context(store_dir, base_iri)
    results = _check(files, base, report_path, stored, engine=engine)
    if endpoint:
        _print_changes(endpoint, base, results, stored)
    sys.exit(0 if all(r.report.conforms for r in results) else EXIT_INVALID)


def _print_changes(
    endpoint: str, base: str, results: list[SourceResult], stored: Graph | None
) -> None:
    """What loading each valid file would change on the service (as the upload's dry run).

    The triples are the checked ones (``rdf_graph``: a checked result keeps them as
    N-Triples, not as its ``graph``, which is empty then and made every file report no
    change); the rows the changes name are read from the file again, mapped only.
    """
    from rdflib import Graph

    from loaders.changes import change_lines
    from loaders.context import layered_context
    from loaders.spreadsheet import SPREADSHEET_SUFFIXES, read_spreadsheet
    from service.cli.query import EndpointError, remote_changes
    from service.store.sources import reference_context

    for result in results:
        if not result.report.conforms:
            continue
        rows = {}
        if result.path.suffix.lower() in SPREADSHEET_SUFFIXES:
            # Layered, not merged: a merged copy of the reference data and the stored
            # names was copied and indexed again here, a quarter of a national
            # ``validate --endpoint``; the layers reuse the reference data's index.
            context = layered_context(reference_context(base), stored or Graph())
            rows = read_spreadsheet(result.path, base, context).rows
        records = Graph()
        for triple in result.rdf_graph():
            if str(triple[0]) != result.graph_iri:  # the file's own provenance
                records.add(triple)
        try:
            found = remote_changes(endpoint, base, records, result.path.stem, rows)
        except EndpointError as error:
            fail(str(error))
        counts = found.counts()
        click.echo(
            f"{result.path.name}: endringer / changes: {counts['added']} nye / added, "
            f"{counts['removed']} fjernet / removed, {counts['changed']} endret / changed"
        )
        shown = change_lines(found.as_json()["rows"], limit=20)
        if shown:
            click.echo(shown)


def _store_context(store_dir: str, base_iri: str | None) -> tuple[str, Graph]:
    """What a store holds for names, read as an upload reads it (a snapshot if a service
    has the store open)."""
    from service.store.names import stored_context

    settings = settings_from(store=store_dir, base_iri=base_iri)
    if settings.store is None or not settings.store.is_dir():
        fail(f"{store_dir}: ikke et lager (not a store folder)")
    stored = on_store(
        settings, lambda backend: stored_context(backend, settings.base_iri), reference=False
    )
    return settings.base_iri, stored


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@store_option
@base_option
@_report_option
@_engine_option
def load(
    files: tuple[Path, ...],
    store: str | None,
    base_iri: str | None,
    report_path: Path | None,
    engine: Engine,
) -> None:
    """Valider og last, alt eller ingenting / Validate, then load all or nothing.

    Each file replaces its own named graph; if any file has an error, nothing is loaded.
    Names in the files may refer to what is already stored (applications, vendors).
    """
    settings = settings_from(store=store, base_iri=base_iri)
    results = on_store(
        settings,
        lambda backend: _audited_load(backend, settings, files, report_path, engine),
        write=True,
    )
    for r in results:
        click.echo(
            f"Lastet / loaded {r.path.name}: {r.triples} tripler / triples → <{r.graph_iri}>"
        )


async def _audited_load(
    backend: EmbeddedBackend,
    settings: Settings,
    files: tuple[Path, ...],
    report_path: Path | None,
    engine: Engine,
) -> list[SourceResult]:
    """Check every file against what is stored; if all are valid, load each into its
    graph, recorded in the audit trail as the command line's write.

    Through the same ``Auditor`` the routes write with. The batch is published as one
    snapshot, so each write is announced and made first, and the changes are counted
    and recorded once the batch is visible to the readers that count them.
    """
    from service.access.audit import Auditor, GraphChange, change, new_event
    from service.store.names import stored_context
    from service.store.sources import load_sources

    stored = await stored_context(backend, settings.base_iri)
    results = _check(files, settings.base_iri, report_path, stored, engine)
    await _refuse_undoing_edits(backend, settings.base_iri, results)
    if not all(r.report.conforms for r in results):
        click.echo("Ingenting ble lastet. / Nothing was loaded.", err=True)
        sys.exit(EXIT_INVALID)
    audit = Auditor(settings, backend)
    before = {r.graph_iri: await audit.graph_keys(r.graph_iri) for r in results}
    events = []
    with backend.deferred_publish():
        for r in results:
            event = new_event(
                cli_principal(),
                "load",
                settings.base_iri,
                [GraphChange(r.graph_iri, 0, 0)],
                data=r.data,
                file_name=r.path.name,
            )
            async with audit.announced(event):
                load_sources(backend, [r])
            events.append(event)
    for r, event in zip(results, events, strict=True):
        loaded = change(r.graph_iri, before[r.graph_iri], await audit.graph_keys(r.graph_iri))
        await audit.record(replace(event, changes=(loaded,)))
    return results


async def _refuse_undoing_edits(
    backend: EmbeddedBackend, base_iri: str, results: list[SourceResult]
) -> None:
    """A source whose records a municipality has since edited in its own graph is not
    loaded again over them (``service.access.takeover``): its report gets the error."""
    from service.access.takeover import takeover
    from service.store.reads import named_graphs

    municipal = f"{base_iri}graph/kommune/"
    if not any(g.startswith(municipal) for g in await named_graphs(backend)):
        return  # nothing edited by a municipality (a first load): nothing to look up
    for result in results:
        if not result.report.conforms:
            continue
        issues, _ = await takeover(
            backend, base_iri, cli_principal(), result.graph_iri, result.rdf_graph()
        )
        if issues:
            result.report.issues.extend(issues)
            click.echo(result.report.to_text())
