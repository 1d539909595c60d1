"""The ``kommunegraf`` command.

Exit codes, for scripts: 0 done (valid, loaded), 1 invalid input (nothing
loaded), 2 usage error or unreadable file.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import NoReturn

import click
import pyoxigraph as ox
from rdflib import Graph

from loaders.provenance import tool_version
from loaders.rdf_source import SourceError
from service.cli_options import ConfigurableGroup, configuration, settings_flags
from service.loading import SourceResult
from service.settings import Settings, SettingsError
from service.store import StoreLockedError

EXIT_INVALID = 1
EXIT_USAGE = 2

_store_option = click.option(
    "--store",
    type=str,
    default=None,
    help="Lagermappe, eller :memory: (store folder) [env KOMMUNEGRAF_STORE, default data/store]",
)
_base_option = click.option(
    "--base-iri",
    default=None,
    help="Grunn-IRI for alle ressurser (base IRI) [env KOMMUNEGRAF_BASE_IRI]",
)


def _settings(**overrides: object) -> Settings:
    """Defaults < --config file < KOMMUNEGRAF_* < flags; a bad value exits 2 naming it."""
    try:
        return configuration(**overrides).settings
    except SettingsError as error:
        _fail(str(error))


def _fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    click.echo(f"kommunegraf: {message}", err=True)
    sys.exit(code)


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

    from service.app import create_app, make_backend
    from service.logs import setup_logging

    settings = _settings(**flags)
    if settings.workers != 1:
        _fail(
            f"--workers {settings.workers}: kommunegraf kjører som én prosess, fordi bare én "
            "prosess kan skrive til lageret; spørringer kjører allerede i egne prosesser "
            "(--query-workers). Kjør flere instanser bak en lastbalanserer med et eksternt "
            "lager (KOMMUNEGRAF_STORE_URL) for mer. / kommunegraf runs as one process, because "
            "only one process can write to the store; queries already run in processes of "
            "their own (--query-workers). For more, run several instances behind a load "
            "balancer on a remote store (KOMMUNEGRAF_STORE_URL). See docs/operations.md."
        )
    setup_logging(settings)
    try:
        backend = make_backend(settings)
    except (StoreLockedError, SettingsError) as error:
        _fail(str(error))
    uvicorn.run(
        create_app(settings, backend),
        host=settings.host,
        port=settings.port,
        log_config=None,
        log_level=settings.log_level,
        access_log=False,
        timeout_graceful_shutdown=math.ceil(settings.shutdown_timeout) or None,
    )


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
        _fail(str(error))


_report_option = click.option(
    "--report",
    "report_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Skriv rapporten til fil (write the report): .json, .html, .txt, or .xlsx "
    "(an annotated copy of the workbook; one file only)",
)


def _check(
    files: tuple[Path, ...], base_iri: str, report_path: Path | None, stored: Graph | None = None
) -> list[SourceResult]:
    """Check every file, print its report, and exit 2 if a file cannot be read."""
    from service.loading import check_sources

    for path in files:
        if not path.is_file():
            _fail(f"{path}: finnes ikke eller er ikke en fil (does not exist or is not a file)")
    try:
        results = check_sources(list(files), base_iri, stored)
    except SourceError as error:
        _fail(str(error))
    for result in results:
        if result.report.issues:
            click.echo(result.report.to_text())
        state = "gyldig / valid" if result.report.conforms else "UGYLDIG / INVALID"
        click.echo(f"{result.path.name}: {result.triples} tripler / triples, {state}")
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
            _fail("--report .xlsx gjelder én lesbar fil (takes one readable file)")
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
@_base_option
@_report_option
def validate(files: tuple[Path, ...], base_iri: str | None, report_path: Path | None) -> None:
    """Sjekk filer mot formene uten å laste / Validate files, load nothing.

    Reads spreadsheets (xlsx, xlsm, ods, csv) and RDF files (Turtle, N-Triples,
    RDF/XML, JSON-LD).
    """
    results = _check(files, _settings(base_iri=base_iri).base_iri, report_path)
    sys.exit(0 if all(r.report.conforms for r in results) else EXIT_INVALID)


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@_store_option
@_base_option
@_report_option
def load(
    files: tuple[Path, ...], store: str | None, base_iri: str | None, report_path: Path | None
) -> None:
    """Valider og last, alt eller ingenting / Validate, then load all or nothing.

    Each file replaces its own named graph; if any file has an error, nothing is loaded.
    Names in the files may refer to what is already stored (applications, vendors).
    """
    from service.loading import load_reference, load_sources, stored_context
    from service.store import open_store

    settings = _settings(store=store, base_iri=base_iri)
    try:
        with open_store(settings.store) as knowledge:
            stored = stored_context(knowledge, settings.base_iri)
            results = _check(files, settings.base_iri, report_path, stored)
            if not all(r.report.conforms for r in results):
                click.echo("Ingenting ble lastet. / Nothing was loaded.", err=True)
                sys.exit(EXIT_INVALID)
            if knowledge.is_empty():
                load_reference(knowledge, settings.base_iri)
            load_sources(knowledge, results)
    except StoreLockedError as error:
        _fail(str(error))
    for r in results:
        click.echo(f"Lastet / loaded {r.path.name} → <{r.graph_iri}>")


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
@_store_option
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
    from service.canned_queries import ParameterError, canned_queries
    from service.query_command import EndpointError, format_local, listing, run_remote

    if query is None:
        click.echo(listing(), nl=False)
        return
    canned = canned_queries().get(query)
    values: dict[str, str] = {}
    for param in params:
        name, equals, value = param.partition("=")
        if not equals or not name.strip():
            _fail(f"--param {param!r}: skriv NAVN=VERDI (write NAME=VALUE)")
        values[name.strip()] = value
    if values and canned is None:
        _fail(f"--param gjelder ferdige spørringer; {query!r} er ingen (is not a canned query)")
    text = query
    if canned is None and query.startswith("@"):
        try:
            text = Path(query[1:]).read_text(encoding="utf-8")
        except OSError as error:
            _fail(f"{query[1:]}: {error.strerror} (cannot read)")
    settings = _settings(store=store)
    if canned is not None:
        try:
            text = canned.bind(values, settings.base_iri)
        except ParameterError as error:
            _fail(f"{error.parameter}: {error.nb} / {error.en}")
    if endpoint:
        try:
            output = run_remote(endpoint, fmt, canned=canned, params=values, sparql=text)
        except EndpointError as error:
            _fail(str(error))
        click.echo(output, nl=False)
        return
    from service.loading import load_reference
    from service.store import open_store

    try:
        with open_store(settings.store) as knowledge:
            if knowledge.is_empty():
                load_reference(knowledge, settings.base_iri)
            try:
                results = knowledge.query(text, base_iri=settings.base_iri)
            except SyntaxError as error:
                _fail(f"ugyldig SPARQL (malformed SPARQL): {error}")
            click.echo(format_local(results, fmt), nl=False)
    except StoreLockedError as error:
        _fail(str(error))


_DUMP_FORMATS = {"nq": ox.RdfFormat.N_QUADS, "trig": ox.RdfFormat.TRIG}


@main.command()
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    required=True,
    help="Fil (file): .nq or .trig",
)
@_store_option
def dump(output: Path, store: str | None) -> None:
    """Skriv hele lageret til fil / Dump every named graph (N-Quads or TriG).

    Works while the service runs: it then dumps the newest committed state.
    """
    from service.store import open_store, published_snapshot

    rdf_format = _DUMP_FORMATS.get(output.suffix.lstrip(".").lower())
    if rdf_format is None:
        _fail(f"{output.name}: bruk .nq eller .trig (use .nq or .trig)")
    settings = _settings(store=store)
    try:
        with open_store(settings.store) as knowledge, output.open("wb") as handle:
            knowledge.dump(handle, rdf_format)
            count = len(knowledge)
    except StoreLockedError as error:
        # A server holds the store: dump the newest state it published instead.
        if settings.store is None:
            _fail(str(error))
        try:
            with published_snapshot(settings.store) as snapshot, output.open("wb") as handle:
                snapshot.dump(handle, rdf_format)
                count = len(snapshot)
        except StoreLockedError as no_snapshot:
            _fail(str(no_snapshot))
    click.echo(f"{count} kvader / quads → {output}")


@main.command()
@click.argument("dump_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_store_option
def restore(dump_file: Path, store: str | None) -> None:
    """Erstatt lageret med en dump / Replace the store with a dump (.nq or .trig).

    The old store is kept until the new one is complete, so an interrupted restore
    leaves the old store in place.
    """
    from service.store import restore as restore_store

    rdf_format = _DUMP_FORMATS.get(dump_file.suffix.lstrip(".").lower())
    if rdf_format is None:
        _fail(f"{dump_file.name}: bruk .nq eller .trig (use .nq or .trig)")
    settings = _settings(store=store)
    if settings.store is None:
        _fail("restore trenger et lager på disk (needs an on-disk store)")
    try:
        count = restore_store(dump_file, settings.store, rdf_format)
    except StoreLockedError as error:
        _fail(str(error))
    except SyntaxError as error:
        _fail(f"{dump_file.name}: ugyldig dump (invalid dump): {error}", EXIT_INVALID)
    click.echo(f"{count} kvader gjenopprettet / quads restored → {settings.store}")


_LATER = "Ikke tilgjengelig i denne versjonen ennå. / Not available in this version yet."


@main.command()
@click.argument("output", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["xlsx", "csv"]),
    default=None,
    help="xlsx (standard) eller csv: én fil per ark i mappen OUTPUT (one file per sheet)",
)
@_base_option
def template(output: Path, fmt: str | None, base_iri: str | None) -> None:
    """Lag regnearkmalen fra formene / Write the spreadsheet template from the shapes."""
    from loaders.template import write_csv_templates, write_template

    settings = _settings(base_iri=base_iri)
    if (fmt or ("csv" if output.suffix.lower() != ".xlsx" else "xlsx")) == "csv":
        for path in write_csv_templates(output):
            click.echo(f"Skrev / wrote {path}")
        return
    if output.suffix.lower() != ".xlsx":
        _fail(f"{output.name}: malen skrives som .xlsx (the template is written as .xlsx)")
    write_template(output, settings.base_iri)
    click.echo(f"Skrev / wrote {output}")


@main.command(context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def export(args: tuple[str, ...]) -> None:
    """Eksporter DCAT-AP-NO og CPSV-AP-NO / Export DCAT-AP-NO and CPSV-AP-NO (coming)."""
    _fail(_LATER)
