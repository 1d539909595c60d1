"""The CLI side: ``kommunegraf export dcat|cpsv`` and ``kommunegraf import-dcat``.

Why here and not in ``service.cli.commands``: the commands share the messages and the
exit codes, and the CLI module stays a list of commands. They reach the store as every
command does (``service.cli.options.on_store``): the store itself, or the newest snapshot
a running server published, read with the service's deadline. Each function yields the
lines to print and raises ``ExportError`` with the exit code.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from rdflib import URIRef

from loaders.namespaces import KG
from service.cli.options import EXIT_INVALID, EXIT_USAGE, on_store
from service.exports.cpsv import build_services
from service.exports.dcat import build_catalogues
from service.exports.extract import (
    UnknownMunicipalityError,
    municipality_iri,
    read_datasets,
    read_services,
)
from service.exports.import_dcat import (
    OURS_QUERY,
    ImportResult,
    ImportSourceError,
    import_graph_iri,
    imported_graph,
    link,
    ours_from_rows,
    read_catalogue,
)
from service.exports.output import SUFFIX_MEDIA, serialize
from service.settings import Settings
from service.store.reads import select

if TYPE_CHECKING:
    from service.store.backend import Backend, EmbeddedBackend


class ExportError(Exception):
    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


def export_file(
    profile: str, kommunenummer: str | None, output: Path, settings: Settings
) -> Iterator[str]:
    media = SUFFIX_MEDIA.get(output.suffix.lower())
    if media is None:
        raise ExportError(
            f"{output.name}: bruk .ttl, .rdf eller .jsonld (use .ttl, .rdf or .jsonld)"
        )
    if kommunenummer is not None:
        try:
            municipality_iri(kommunenummer, settings.base_iri)
        except UnknownMunicipalityError:
            raise ExportError(
                f"--kommune {kommunenummer!r}: fire siffer, f.eks. 4203 (four digits, e.g. 4203)"
            ) from None
    lines: list[str] = []
    if profile == "cpsv":
        source = on_store(
            settings, lambda backend: read_services(backend, kommunenummer, settings.base_iri)
        )
        graph = build_services(source)
        found = len(set(source.subjects(KG.county, None)))
        lines.append(f"{found} kommune(r) / municipalities")
    else:
        read = on_store(
            settings, lambda backend: read_datasets(backend, kommunenummer, settings.base_iri)
        )
        source = read.graph
        graph = build_catalogues(
            source, read.blockers, settings.base_iri, keep_empty=kommunenummer is not None
        )
        by_dataset: dict[str, list[str]] = {}
        for blocker in read.blockers:
            by_dataset.setdefault(
                f"{blocker.municipality_name}: {blocker.dataset_name}", []
            ).append(f"{blocker.reason_nb} / {blocker.reason_en}")
        for dataset, reasons in sorted(by_dataset.items()):
            lines.append(f"Holdt utenfor / left out – {dataset}: " + " ".join(reasons))
    if kommunenummer is not None:
        kommune = URIRef(municipality_iri(kommunenummer, settings.base_iri))
        if (kommune, KG.municipalityNumber, None) not in source:
            raise ExportError(f"Ukjent kommunenummer / unknown municipality: {kommunenummer}")
        if profile == "dcat" and (kommune, KG.organisationNumber, None) not in source:
            yield from lines
            raise ExportError(
                f"Kommune {kommunenummer} mangler organisasjonsnummer; ingen katalog å "
                f"publisere (municipality {kommunenummer} has no organisation number; no "
                "catalogue to publish)",
                EXIT_INVALID,
            )
    output.write_bytes(serialize(graph, media))
    yield from lines
    yield f"{len(graph)} tripler / triples → {output}"


def import_catalogue(source: str, settings: Settings) -> Iterator[str]:
    try:
        harvested, data = read_catalogue(source)
    except ImportSourceError as error:
        raise ExportError(str(error), EXIT_USAGE if error.unreadable else EXIT_INVALID) from None
    graph_iri = import_graph_iri(source, settings.base_iri)

    async def write(backend: EmbeddedBackend) -> ImportResult:
        from service.access.audit import Auditor, GraphChange, new_event
        from service.cli.options import cli_principal

        ours = ours_from_rows(await select(backend, OURS_QUERY))
        result = link(harvested, ours, graph_iri)
        graph = imported_graph(result, source, data)
        event = new_event(
            cli_principal(),
            "import-dcat",
            settings.base_iri,
            [GraphChange(graph_iri, 0, 0)],
            data=data,
            file_name=source,
        )
        await Auditor(settings, backend).audited(
            event, graph_iri, partial(asyncio.to_thread, backend.replace_graph, graph_iri, graph)
        )
        return result

    result = on_store(settings, write, write=True)
    yield f"{result.harvested} datasett lest / datasets read from {source}"
    for ours_iri, theirs, how in result.links:
        yield f"Koblet / linked <{ours_iri}> = <{theirs}> ({how})"
    yield (
        f"{len(result.links)} koblet, {len(result.unmatched)} uten treff / "
        f"{len(result.links)} linked, {len(result.unmatched)} unmatched → <{graph_iri}>"
    )


def export_archimate(
    kommunenummer: str | None, region: str | None, output: Path, settings: Settings
) -> Iterator[str]:
    """``kommunegraf export archimate``: the exchange file (.xml) or Archi's CSV (.zip)."""
    from service.exports.archi_csv import to_csv_zip
    from service.exports.archimate import (
        Model,
        Scope,
        UnknownScopeError,
        export_model,
        municipality_scope,
        region_scope,
    )
    from service.exports.archimate_xml import to_exchange_xml

    suffix = output.suffix.lower()
    if suffix not in (".xml", ".zip"):
        raise ExportError(
            f"{output.name}: bruk .xml (ArchiMate-utvekslingsformat) eller .zip (Archi-CSV) "
            "(use .xml for the exchange format or .zip for Archi CSV)"
        )
    if (kommunenummer is None) == (region is None):
        raise ExportError(
            "export archimate trenger enten --kommune NNNN eller --region NAVN "
            "(needs either --kommune NNNN or --region NAME)"
        )

    async def read(backend: Backend) -> tuple[Scope, Model]:
        rows = partial(select, backend)
        scope = (
            await municipality_scope(rows, kommunenummer, settings.base_iri)
            if kommunenummer is not None
            else await region_scope(rows, region or "", settings.base_iri)
        )
        return scope, await export_model(rows, scope)

    try:
        scope, model = on_store(settings, read)
    except UnknownScopeError as error:
        raise ExportError(
            f"Ukjent kommune eller region / unknown municipality or region: {error}",
            EXIT_INVALID,
        ) from None
    output.write_bytes(to_exchange_xml(model) if suffix == ".xml" else to_csv_zip(model))
    yield (
        f"{scope.name}: {len(model.applications())} applikasjoner / applications, "
        f"{len(model.elements)} elementer / elements, {len(model.relationships)} relasjoner / "
        f"relationships → {output}"
    )
