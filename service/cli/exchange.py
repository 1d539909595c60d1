"""The commands that move data between the store and other tools' files.

``template`` (the workbook, blank or with a municipality's rows), ``export`` (DCAT-AP-NO,
CPSV-AP-NO, the GDPR record, ArchiMate), ``import-dcat`` and ``import-archimate``; ``dump``
and ``restore`` (the whole store as N-Quads or TriG, and back). ``service.cli.commands``
adds them to ``kommunegraf``. Exit codes as there.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

import click
import pyoxigraph as ox

from service.cli.options import (
    EXIT_INVALID,
    base_option,
    fail,
    on_store,
    output_option,
    settings_from,
    store_option,
)
from service.settings import Settings
from service.store.embedded import StoreLockedError

if TYPE_CHECKING:
    from service.store.backend import Backend, EmbeddedBackend


@click.command()
@click.argument("output", required=False, type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["xlsx", "csv"]),
    default=None,
    help="xlsx (standard) eller csv: én fil per ark i mappen OUTPUT (one file per sheet)",
)
@click.option(
    "--kommune",
    default=None,
    metavar="NNNN",
    help="Fyll inn kommunens nåværende data (fill in the municipality's current data), "
    "from --endpoint or --store",
)
@click.option(
    "--endpoint",
    default=None,
    metavar="URL",
    help="Hent dataene fra en tjeneste som kjører (from a running service)",
)
@store_option
@base_option
def template(
    output: Path | None,
    fmt: str | None,
    kommune: str | None,
    endpoint: str | None,
    store: str | None,
    base_iri: str | None,
) -> None:
    """Lag regnearkmalen fra formene / Write the spreadsheet template from the shapes.

    With --kommune NNNN, the same workbook with the municipality's current rows filled
    in (as GET /template?kommune=NNNN): edit it and upload it again; unchanged, it
    changes nothing. OUTPUT defaults to the name the service gives it.
    """
    from loaders.template import write_csv_templates, write_template

    settings = settings_from(base_iri=base_iri, store=store)
    if kommune is not None:
        name, body = _municipality_workbook(kommune.strip(), endpoint, settings)
        target = output if output is not None else Path(name)
        target.write_bytes(body)
        click.echo(f"Skrev / wrote {target}")
        return
    if output is None:
        fail("OUTPUT mangler (missing): kommunegraf template mal.xlsx")
    if (fmt or ("csv" if output.suffix.lower() != ".xlsx" else "xlsx")) == "csv":
        for path in write_csv_templates(output):
            click.echo(f"Skrev / wrote {path}")
        return
    if output.suffix.lower() != ".xlsx":
        fail(f"{output.name}: malen skrives som .xlsx (the template is written as .xlsx)")
    write_template(output, settings.base_iri)
    click.echo(f"Skrev / wrote {output}")


def _municipality_workbook(
    number: str, endpoint: str | None, settings: Settings
) -> tuple[str, bytes]:
    """A municipality's filled-in workbook, from a running service or from a store."""
    import urllib.error
    import urllib.parse
    import urllib.request

    from service.exports.municipality_workbook import (
        NUMBER,
        known_municipality_query,
        municipality_workbook,
    )
    from service.store.reads import constructor

    if not NUMBER.fullmatch(number):
        fail(f"--kommune {number[:20]}: et kommunenummer har fire siffer (four digits), e.g. 4203")
    if endpoint:
        url = f"{endpoint.rstrip('/')}/template?" + urllib.parse.urlencode({"kommune": number})
        if not url.startswith(("http://", "https://")):
            fail(f"{endpoint}: bruk en http(s)-adresse (use an http(s) address)")
        try:
            with urllib.request.urlopen(url, timeout=300) as response:  # noqa: S310
                disposition = response.headers.get("Content-Disposition", "")
                name = disposition.partition('filename="')[2].rstrip('"') or f"{number}.xlsx"
                return Path(name).name, response.read()
        except urllib.error.HTTPError as error:
            fail(f"{endpoint} svarte / answered {error.code}: {error.read().decode()[:500]}")
        except OSError as error:
            fail(f"{endpoint}: ingen kontakt (cannot connect): {error}")

    if settings.store is None:
        fail("--store eller --endpoint trengs (needed) for --kommune")

    async def read(backend: Backend) -> tuple[str, bytes] | None:
        construct = constructor(backend)
        if not len(await construct(known_municipality_query(number))):
            return None
        return await municipality_workbook(construct, settings.base_iri, number)

    found = on_store(settings, read, reference=False)
    if found is None:
        fail(f"--kommune {number}: ukjent kommunenummer (unknown municipality number)")
    return found


@click.command()
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
@output_option("Fil (file): .ttl, .rdf or .jsonld; .xlsx for gdpr; .xml or .zip for archimate")
@store_option
@base_option
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

    settings = settings_from(store=store, base_iri=base_iri)
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
        fail(str(error), error.code)


@click.command("import-dcat")
@click.argument("source", metavar="FIL_ELLER_URL")
@store_option
@base_option
def import_dcat(source: str, store: str | None, base_iri: str | None) -> None:
    """Les en DCAT-AP-NO-katalog og koble datasettene / Link a DCAT-AP-NO catalogue's datasets.

    FIL_ELLER_URL (FILE_OR_URL) is a catalogue in Turtle, RDF/XML or JSON-LD, e.g. one
    exported from data.norge.no. Each harvested dataset is linked to the dataset in the
    graph with the same identifier, or the same publisher and title; the links replace
    the named graph of that source (<base>graph/felles-datakatalog/...).
    """
    from service.cli.export import ExportError, import_catalogue

    settings = settings_from(store=store, base_iri=base_iri)
    try:
        for line in import_catalogue(source, settings):
            click.echo(line)
    except ExportError as error:
        fail(str(error), error.code)


@click.command("import-archimate")
@click.argument("source", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@output_option("Arbeidsboken som skrives (the workbook to write), .xlsx")
@click.option(
    "--kommune",
    default=None,
    metavar="NNNN",
    help="Kommunen radene gjelder (the municipality the rows are for), e.g. 4203",
)
@base_option
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
        fail(f"{output.name}: arbeidsboken skrives som .xlsx (the workbook is written as .xlsx)")
    if kommune is not None and not (len(kommune) == 4 and kommune.isdigit()):
        fail(f"--kommune {kommune!r}: fire siffer, f.eks. 4203 (four digits, e.g. 4203)")
    settings = settings_from(base_iri=base_iri)
    try:
        applications = read_exchange(source.read_bytes())
    except ExchangeFileError as error:
        fail(f"{source}: {error}", EXIT_INVALID)
    output.write_bytes(workbook_bytes(applications, kommune, settings.base_iri))
    click.echo(f"{len(applications)} applikasjoner / applications → {output}")


_DUMP_FORMATS = {"nq": ox.RdfFormat.N_QUADS, "trig": ox.RdfFormat.TRIG}


@click.command()
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


@click.command()
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
