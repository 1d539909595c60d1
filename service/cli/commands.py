"""The ``kommunegraf`` command.

Exit codes, for scripts: 0 done (valid, loaded), 1 invalid input (nothing
loaded), 2 usage error or unreadable file.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import math
import socket
import sys
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import click
import pyoxigraph as ox
from rdflib import Graph

from loaders.provenance import tool_version
from loaders.rdf_source import SourceError
from loaders.validation import Engine
from service.cli.access import audit, token
from service.cli.exchange import export, import_archimate, import_dcat, template
from service.cli.options import (
    EXIT_INVALID,
    EXIT_USAGE,
    ConfigurableGroup,
    base_option,
    cli_principal,
    configuration,
    fail,
    on_store,
    output_option,
    settings_flags,
    settings_from,
    store_option,
)
from service.settings import Settings, SettingsError
from service.store.embedded import StoreLockedError
from service.store.sources import SourceResult

if TYPE_CHECKING:
    from service.store.backend import EmbeddedBackend


@click.group(
    cls=ConfigurableGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(tool_version(), prog_name="kommunegraf")
def main() -> None:
    """kommunegraf: kunnskapsgraf over kommunal applikasjonsarkitektur.

    Knowledge graph of Norwegian municipal application architecture.
    """


@main.command()
@settings_flags
def serve(**flags: object) -> None:
    """Start tjenesten / Serve the SPARQL endpoint and web pages.

    Every setting has a flag here; flags win over KOMMUNEGRAF_* variables, which win
    over the --config file. SIGTERM or Ctrl-C stops it gracefully: requests in flight
    finish (up to --shutdown-timeout seconds), then the store is flushed and closed.
    """
    import uvicorn

    from service.logs import TextFormatter, setup_logging
    from service.web.app import create_app, make_backend
    from service.web.startup import log_progress, show_progress

    settings = settings_from(**flags)
    if settings.workers != 1:
        fail(
            f"--workers {settings.workers}: kommunegraf kjører som én prosess, fordi bare én "
            "prosess kan skrive til lageret; spørringer kjører allerede i egne prosesser "
            "(--query-workers). Kjør flere instanser bak en lastbalanserer med et eksternt "
            "lager (KOMMUNEGRAF_STORE_URL) for mer. / kommunegraf runs as one process, because "
            "only one process can write to the store; queries already run in processes of "
            "their own (--query-workers). For more, run several instances behind a load "
            "balancer on a remote store (KOMMUNEGRAF_STORE_URL). See docs/operations.md."
        )
    handler = setup_logging(settings)
    # The port first: taken, nothing else is started (no store opened, no demo loading
    # to be stopped half-way), and the message says which port.
    listening = _listen(settings.host, settings.port)
    try:
        backend = make_backend(settings)
    except (StoreLockedError, SettingsError) as error:
        fail(str(error))
    app = create_app(settings, backend)
    progress = app.state.load_progress
    if (
        isinstance(handler, logging.StreamHandler)
        and isinstance(handler.formatter, TextFormatter)
        and sys.stderr.isatty()
    ):
        # A person at a terminal: a progress bar, then where to open the service.
        show_progress(progress, _address(settings.host, settings.port), handler)
    else:
        log_progress(progress)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=settings.host,
            port=settings.port,
            log_config=None,
            log_level=settings.log_level,
            access_log=False,
            timeout_graceful_shutdown=math.ceil(settings.shutdown_timeout) or None,
        )
    )
    with contextlib.suppress(KeyboardInterrupt):  # as uvicorn.run: Ctrl-C is a clean stop
        server.run(sockets=[listening])
    if not server.started:
        sys.exit(3)  # uvicorn's STARTUP_FAILURE, as uvicorn.run exits
    if progress.step == "failed":
        sys.exit(1)


def _listen(host: str, port: int) -> socket.socket:
    """The bound socket the service will listen on, or exit 2 saying why it cannot.

    Why not leave it to uvicorn: it binds only after the app has started (the store
    opened, the demo loading in the background), and a taken port then ended in
    tracebacks from stopping all that half-way ("cannot schedule new futures after
    shutdown") rather than one sentence naming the port. Bound as uvicorn binds it.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listening = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listening.bind((host, port))
    except OSError as error:
        listening.close()
        if error.errno == errno.EADDRINUSE:
            fail(
                f"port {port} er allerede i bruk på {host or '*'}; stopp det som lytter der, "
                f"eller velg en annen med --port / port {port} is already in use on "
                f"{host or '*'}; stop what listens there, or choose another with --port"
            )
        fail(
            f"kan ikke lytte på {host}:{port} / cannot listen on {host}:{port}: "
            f"{error.strerror or error}"
        )
    listening.set_inheritable(True)
    return listening


def _address(host: str, port: int) -> str:
    """The address to open in a browser for a listening host.

    >>> _address("0.0.0.0", 8000), _address("::1", 80)
    ('http://127.0.0.1:8000/', 'http://[::1]:80/')
    """
    if host in {"", "0.0.0.0", "::"}:  # noqa: S104 - naming it, not binding to it
        host = "127.0.0.1"
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


@main.command("config")
@settings_flags
def show_config(**flags: object) -> None:
    """Vis gjeldende innstillinger / Print the effective settings and their sources.

    The output is a valid TOML settings file; secrets are masked. A bad value exits
    2 naming the key, exactly as `serve` would.
    """
    try:
        click.echo(configuration(**flags).describe())
    except SettingsError as error:
        fail(str(error))


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


@main.command()
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
    from service.store.sources import stored_context

    settings = settings_from(store=store_dir, base_iri=base_iri)
    if settings.store is None or not settings.store.is_dir():
        fail(f"{store_dir}: ikke et lager (not a store folder)")
    stored = on_store(
        settings, lambda backend: stored_context(backend, settings.base_iri), reference=False
    )
    return settings.base_iri, stored


@main.command()
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
    from service.store.sources import load_sources, stored_context

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


@main.command()
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
    from service.cli.query import EndpointError, listing, run_local, run_remote
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


_DUMP_FORMATS = {"nq": ox.RdfFormat.N_QUADS, "trig": ox.RdfFormat.TRIG}


@main.command()
@output_option("Fil (file): .nq or .trig")
@store_option
def dump(output: Path, store: str | None) -> None:
    """Skriv hele lageret til fil / Dump every named graph (N-Quads or TriG).

    Works while the service runs: it then dumps the newest committed state.
    """
    rdf_format = _DUMP_FORMATS.get(output.suffix.lstrip(".").lower())
    if rdf_format is None:
        fail(f"{output.name}: bruk .nq eller .trig (use .nq or .trig)")

    async def write(backend: EmbeddedBackend) -> int:
        with output.open("wb") as handle:
            return await asyncio.to_thread(backend.dump, handle, rdf_format)

    # While a service holds the store: the newest state it published (``on_store``).
    count = on_store(settings_from(store=store), write, reference=False)
    click.echo(f"{count} kvader / quads → {output}")


@main.command()
@click.argument("dump_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@store_option
def restore(dump_file: Path, store: str | None) -> None:
    """Erstatt lageret med en dump / Replace the store with a dump (.nq or .trig).

    The old store is kept until the new one is complete, so an interrupted restore
    leaves the old store in place.
    """
    from service.store.embedded import restore as restore_store

    rdf_format = _DUMP_FORMATS.get(dump_file.suffix.lstrip(".").lower())
    if rdf_format is None:
        fail(f"{dump_file.name}: bruk .nq eller .trig (use .nq or .trig)")
    settings = settings_from(store=store)
    if settings.store is None:
        fail("restore trenger et lager på disk (needs an on-disk store)")
    try:
        count = restore_store(dump_file, settings.store, rdf_format)
    except StoreLockedError as error:
        fail(str(error))
    except SyntaxError as error:
        fail(f"{dump_file.name}: ugyldig dump (invalid dump): {error}", EXIT_INVALID)
    click.echo(f"{count} kvader gjenopprettet / quads restored → {settings.store}")


main.add_command(token)
main.add_command(audit)
main.add_command(template)
main.add_command(export)
main.add_command(import_dcat)
main.add_command(import_archimate)
