"""The ``kommunegraf`` command.

Exit codes, for scripts: 0 done (valid, loaded), 1 invalid input (nothing
loaded), 2 usage error or unreadable file.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click
import pyoxigraph as ox
from rdflib import Graph

from loaders.provenance import tool_version
from loaders.rdf_source import SourceError
from loaders.validation import Engine
from service.cli.options import ConfigurableGroup, configuration, settings_flags
from service.settings import Settings, SettingsError
from service.store.embedded import StoreLockedError
from service.store.sources import SourceResult

if TYPE_CHECKING:
    from datetime import datetime

    from service.access.scope import Principal
    from service.access.tokens import TokenFile
    from service.store.embedded import KnowledgeStore

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

    from service.logs import setup_logging
    from service.web.app import create_app, make_backend

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
            _fail(f"{path}: finnes ikke eller er ikke en fil (does not exist or is not a file)")
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
@_engine_option
def validate(
    files: tuple[Path, ...], base_iri: str | None, report_path: Path | None, engine: Engine
) -> None:
    """Sjekk filer mot formene uten å laste / Validate files, load nothing.

    Reads spreadsheets (xlsx, xlsm, ods, csv) and RDF files (Turtle, N-Triples,
    RDF/XML, JSON-LD).
    """
    results = _check(files, _settings(base_iri=base_iri).base_iri, report_path, engine=engine)
    sys.exit(0 if all(r.report.conforms for r in results) else EXIT_INVALID)


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@_store_option
@_base_option
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
    from service.store.embedded import open_store
    from service.store.sources import load_reference, stored_context

    settings = _settings(store=store, base_iri=base_iri)
    try:
        with open_store(settings.store) as knowledge:
            stored = stored_context(knowledge, settings.base_iri)
            results = _check(files, settings.base_iri, report_path, stored, engine)
            if not all(r.report.conforms for r in results):
                click.echo("Ingenting ble lastet. / Nothing was loaded.", err=True)
                sys.exit(EXIT_INVALID)
            if knowledge.is_empty():
                load_reference(knowledge, settings.base_iri)
            _audited_load(knowledge, settings, results)
    except StoreLockedError as error:
        _fail(str(error))
    for r in results:
        click.echo(f"Lastet / loaded {r.path.name} → <{r.graph_iri}>")


def _audited_load(
    knowledge: KnowledgeStore, settings: Settings, results: list[SourceResult]
) -> None:
    """Load, and record each source in the audit trail as the command line's write."""
    from service.access.audit import change, new_event, record_in_store, store_graph_keys
    from service.store.sources import load_sources

    before = {r.graph_iri: store_graph_keys(knowledge, r.graph_iri) for r in results}
    load_sources(knowledge, results)
    for r in results:
        after = store_graph_keys(knowledge, r.graph_iri)
        event = new_event(
            _cli_principal(),
            "load",
            settings.base_iri,
            [change(r.graph_iri, before[r.graph_iri], after)],
            data=r.data,
            file_name=r.path.name,
        )
        record_in_store(knowledge, settings, event)


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
    from service.cli.query import EndpointError, format_local, listing, run_remote
    from service.sparql.canned import ParameterError, canned_queries

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
            _fail(str(error))
    if endpoint:
        try:
            output = run_remote(endpoint, fmt, canned=canned, params=values, sparql=text)
        except EndpointError as error:
            _fail(str(error))
        click.echo(output, nl=False)
        return
    from service.store.embedded import open_store
    from service.store.sources import load_reference

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
    from service.store.embedded import open_store, published_snapshot

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
    from service.store.embedded import restore as restore_store

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


@main.command()
@click.argument("profile", type=click.Choice(["dcat", "cpsv", "gdpr", "archimate"]))
@click.option(
    "--kommune",
    default=None,
    metavar="NNNN",
    help="Bare denne kommunen (only this municipality), e.g. 4203",
)
@click.option(
    "--region",
    default=None,
    metavar="NAVN",
    help="archimate: regionens medlemmer (a region's members), e.g. kongsbergregionen",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    required=True,
    help="Fil (file): .ttl, .rdf or .jsonld; .xlsx for gdpr; .xml or .zip for archimate",
)
@_store_option
@_base_option
def export(
    profile: str,
    kommune: str | None,
    region: str | None,
    output: Path,
    store: str | None,
    base_iri: str | None,
) -> None:
    """Eksporter DCAT-AP-NO eller CPSV-AP-NO / Export DCAT-AP-NO (dcat) or CPSV-AP-NO (cpsv).

    The same catalogue as GET /catalog (dcat) and the same services as GET /services
    (cpsv). Datasets that cannot be published yet are left out and listed with the
    reason. gdpr: the record of processing activities (art. 30) of --kommune as .xlsx,
    the same as GET /kommune/NNNN/behandlingsprotokoll. archimate: the portfolio of
    --kommune or --region as an ArchiMate 3.1 exchange file (.xml) or Archi's CSV import
    files (.zip), the same as GET /kommune/NNNN/archimate.xml. Works while the service
    runs: it then reads the newest committed state.
    """
    from service.cli.export import ExportError, export_archimate, export_file
    from service.exports.records_of_processing import export_record

    settings = _settings(store=store, base_iri=base_iri)
    try:
        if region is not None and profile != "archimate":
            raise ExportError("--region gjelder bare archimate (--region is for archimate only)")
        lines = (
            export_record(kommune, output, settings)
            if profile == "gdpr"
            else export_archimate(kommune, region, output, settings)
            if profile == "archimate"
            else export_file(profile, kommune, output, settings)
        )
        for line in lines:
            click.echo(line)
    except ExportError as error:
        _fail(str(error), error.code)


@main.command("import-dcat")
@click.argument("source", metavar="FIL_ELLER_URL")
@_store_option
@_base_option
def import_dcat(source: str, store: str | None, base_iri: str | None) -> None:
    """Les en DCAT-AP-NO-katalog og koble datasettene / Link a DCAT-AP-NO catalogue's datasets.

    FIL_ELLER_URL (FILE_OR_URL) is a catalogue in Turtle, RDF/XML or JSON-LD, e.g. one
    exported from data.norge.no. Each harvested dataset is linked to the dataset in the
    graph with the same identifier, or the same publisher and title; the links replace
    the named graph of that source (<base>graph/felles-datakatalog/...).
    """
    from service.cli.export import ExportError, import_catalogue

    settings = _settings(store=store, base_iri=base_iri)
    try:
        for line in import_catalogue(source, settings):
            click.echo(line)
    except ExportError as error:
        _fail(str(error), error.code)


@main.command("import-archimate")
@click.argument("source", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    required=True,
    help="Arbeidsboken som skrives (the workbook to write), .xlsx",
)
@click.option(
    "--kommune",
    default=None,
    metavar="NNNN",
    help="Kommunen radene gjelder (the municipality the rows are for), e.g. 4203",
)
@_base_option
def import_archimate(source: Path, output: Path, kommune: str | None, base_iri: str | None) -> None:
    """Fra ArchiMate til arbeidsbok / An ArchiMate exchange file to a pre-filled workbook.

    Each Application Component (with its properties and the Business Services it serves)
    becomes a row of the spreadsheet template. Nothing is written to the store: check the
    workbook, then validate and upload it as usual (kommunegraf validate / load, /upload).
    """
    from service.exports.archimate_import import (
        ExchangeFileError,
        read_exchange,
        workbook_bytes,
    )

    if output.suffix.lower() != ".xlsx":
        _fail(f"{output.name}: arbeidsboken skrives som .xlsx (the workbook is written as .xlsx)")
    if kommune is not None and not (len(kommune) == 4 and kommune.isdigit()):
        _fail(f"--kommune {kommune!r}: fire siffer, f.eks. 4203 (four digits, e.g. 4203)")
    settings = _settings(base_iri=base_iri)
    try:
        applications = read_exchange(source.read_bytes())
    except ExchangeFileError as error:
        _fail(f"{source}: {error}", EXIT_INVALID)
    output.write_bytes(workbook_bytes(applications, kommune, settings.base_iri))
    click.echo(f"{len(applications)} applikasjoner / applications → {output}")


CLI_ACTOR = "kommandolinjen / command line"
"""Who the audit trail says wrote, for commands run on the server itself."""


def _cli_principal() -> Principal:
    import getpass

    from service.access.scope import Principal

    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "?"
    return Principal(f"{CLI_ACTOR} ({user})", "admin")


def _token_file(settings: Settings, path: Path | None) -> TokenFile:
    from service.access.tokens import TokenFile

    chosen = path or settings.tokens
    if chosen is None:
        _fail("ingen nøkkelfil: sett KOMMUNEGRAF_TOKENS eller bruk --file (no token file)")
    return TokenFile(chosen)


def _audit_token_change(settings: Settings, detail: str, numbers: tuple[str, ...]) -> None:
    from service.access.audit import AuditLog, log_path, new_event

    event = new_event(
        _cli_principal(), "token", settings.base_iri, detail=detail, municipalities=numbers
    )
    AuditLog(log_path(settings)).append(event)


_tokens_option = click.option(
    "--file",
    "token_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Nøkkelfil (token file) [env KOMMUNEGRAF_TOKENS]",
)


@main.group()
def token() -> None:
    """Skrivenøkler / Write tokens: create, list, revoke (the file holds hashes only)."""


@token.command("create")
@click.option(
    "--name", required=True, help="Hvem nøkkelen er til (holder), f.eks. 'Hasvik systemeier'"
)
@click.option("--kommune", "numbers", multiple=True, help="Kommunenummer (repeat for several)")
@click.option("--region", default=None, help="Regionens navn; --kommune gir medlemmene (members)")
@click.option("--admin", is_flag=True, help="Administrator: kan skrive alt (may write everything)")
@click.option(
    "--expires",
    type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
    default=None,
    help="Utløper (expires), YYYY-MM-DD (UTC)",
)
@_tokens_option
def token_create(
    name: str,
    numbers: tuple[str, ...],
    region: str | None,
    admin: bool,
    expires: datetime | None,
    token_path: Path | None,
) -> None:
    """Lag en nøkkel; den vises bare nå / Make a token; it is shown only now."""
    from datetime import UTC

    from service.access.tokens import TokenFileError

    settings = _settings()
    if admin == bool(numbers):
        _fail("gi enten --admin eller --kommune (give either --admin or --kommune)")
    role = "admin" if admin else "region" if region else "municipality"
    try:
        secret, entry = _token_file(settings, token_path).create(
            name,
            role,
            tuple(dict.fromkeys(numbers)),
            region,
            expires.replace(tzinfo=UTC) if expires is not None else None,
        )
    except TokenFileError as error:
        _fail(str(error))
    scope = ", ".join(entry.municipalities) or "alt / everything"
    detail = f"opprettet / created {entry.digest[:12]} «{name}» ({role}: {scope})"
    _audit_token_change(settings, detail, entry.municipalities)
    click.echo(secret)
    click.echo(
        f"Nøkkelen over vises bare nå; filen lagrer bare hashen {entry.digest[:12]}….\n"
        f"The token above is shown only this once; the file keeps only its hash.",
        err=True,
    )


@token.command("list")
@_tokens_option
def token_list(token_path: Path | None) -> None:
    """Vis nøklene (uten selve nøklene) / List tokens (never the tokens themselves)."""
    from service.access.tokens import TokenFileError

    try:
        entries = _token_file(_settings(), token_path).entries()
    except TokenFileError as error:
        _fail(str(error))
    rows = [
        [
            e.digest[:12],
            e.name,
            e.role,
            ",".join(e.municipalities) or "-",
            e.expires.date().isoformat() if e.expires else "-",
            e.state(),
        ]
        for e in sorted(entries.values(), key=lambda e: e.name)
    ]
    click.echo(
        _table(["hash", "navn/name", "rolle/role", "kommuner", "utløper/expires", "status"], rows)
    )


@token.command("revoke")
@click.argument("which")
@_tokens_option
def token_revoke(which: str, token_path: Path | None) -> None:
    """Trekk tilbake en nøkkel (navn eller hashprefiks) / Revoke by name or hash prefix."""
    from service.access.tokens import TokenFileError

    settings = _settings()
    try:
        revoked = _token_file(settings, token_path).revoke(which)
    except TokenFileError as error:
        _fail(str(error))
    if not revoked:
        _fail(f"ingen aktiv nøkkel heter eller begynner med {which!r} (no such active token)")
    for entry in revoked:
        detail = f"trukket tilbake / revoked {entry.digest[:12]} «{entry.name}»"
        _audit_token_change(settings, detail, entry.municipalities)
        click.echo(f"Trukket tilbake / revoked: {entry.digest[:12]} {entry.name}")


@main.command()
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
    default=None,
    help="Fra og med (from), YYYY-MM-DD (UTC)",
)
@click.option("--kommune", default=None, help="Bare endringer som gjelder kommunen (kommunenummer)")
@click.option("--json", "as_json", is_flag=True, help="JSON-linjer (JSON lines), som i loggen")
@click.option(
    "--log",
    "log_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Revisjonslogg (audit log) [env KOMMUNEGRAF_AUDIT_LOG, default beside the store]",
)
def audit(
    since: datetime | None, kommune: str | None, as_json: bool, log_file: Path | None
) -> None:
    """Vis endringsloggen / Show the audit trail: who wrote what, when."""
    from datetime import UTC

    from service.access.audit import AuditLog, log_path

    settings = _settings()
    path = log_file or log_path(settings)
    if path is None:
        _fail("ingen revisjonslogg for et lager i minnet (no audit log for a :memory: store)")
    start = since.replace(tzinfo=UTC) if since is not None else None
    events = AuditLog(path).events(since=start, municipality=kommune)
    if as_json:
        for event in events:
            click.echo(event.to_json())
        return
    rows = [
        [
            e.time[:19],
            e.actor,
            e.action,
            ",".join(e.municipalities) or "-",
            "; ".join(c.graph for c in e.changes) or e.detail or "-",
            str(e.added),
            str(e.removed),
            (e.file_sha256 or "")[:12] or "-",
        ]
        for e in events
    ]
    click.echo(
        _table(
            ["tid/time", "hvem/who", "hva/what", "kommuner", "grafer/graphs", "+", "-", "sha256"],
            rows,
        )
    )


def _table(names: list[str], rows: list[list[str]]) -> str:
    widths = [max([len(n), *(len(r[i]) for r in rows)]) for i, n in enumerate(names)]
    lines = ["  ".join(n.ljust(w) for n, w in zip(names, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(lines) + f"\n({len(rows)} rader / rows)"
