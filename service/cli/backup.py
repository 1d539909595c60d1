"""``kommunegraf dump`` and ``kommunegraf restore``: the whole store to a file and back."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

import click
import pyoxigraph as ox

from service.cli.options import (
    EXIT_INVALID,
    fail,
    on_store,
    output_option,
    settings_from,
    store_option,
)
from service.store.embedded import StoreLockedError

if TYPE_CHECKING:
    from service.store.backend import EmbeddedBackend

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
