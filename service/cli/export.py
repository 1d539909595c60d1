"""The CLI side: ``kommunegraf export dcat|cpsv`` and ``kommunegraf import-dcat``.

Why here and not in ``service.cli.commands``: the commands share the store handling (the
store itself, or the newest snapshot a running server published) and the
messages, and the CLI module stays a list of commands. Each function yields the
lines to print and raises ``ExportError`` with the exit code.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rdflib import URIRef

from loaders.namespaces import KG
from service.exports.cpsv import build_services
from service.exports.dcat import build_catalogues
from service.exports.extract import (
    Queryable,
    Snapshot,
    UnknownMunicipalityError,
    municipality_iri,
    read_datasets_from_store,
    read_services_from_store,
    select_rows,
)
from service.exports.import_dcat import (
    OURS_QUERY,
    ImportSourceError,
    import_graph_iri,
    imported_graph,
    link,
    ours_from_rows,
    read_catalogue,
)
from service.exports.output import SUFFIX_MEDIA, serialize
from service.settings import Settings
from service.store.embedded import StoreLockedError, open_store, published_snapshot

EXIT_INVALID = 1
EXIT_USAGE = 2


class ExportError(Exception):
    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


@contextmanager
def readable_store(settings: Settings) -> Iterator[Queryable]:
    """The store, or, while a server holds it, the newest state the server published."""
    from service.store.sources import load_reference

    try:
        with open_store(settings.store) as knowledge:
            if knowledge.is_empty():
                load_reference(knowledge, settings.base_iri)
            yield knowledge
            return
    except StoreLockedError as locked:
        if settings.store is None:
            raise ExportError(str(locked)) from None
        error = locked
    try:
        with published_snapshot(settings.store) as snapshot:
            yield Snapshot(snapshot)
    except StoreLockedError:
        raise ExportError(str(error)) from None


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
    with readable_store(settings) as knowledge:
        if profile == "cpsv":
            source = read_services_from_store(knowledge, kommunenummer, settings.base_iri)
            graph = build_services(source)
            found = len(set(source.subjects(KG.county, None)))
            lines.append(f"{found} kommune(r) / municipalities")
        else:
            read = read_datasets_from_store(knowledge, kommunenummer, settings.base_iri)
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
    from service.store.sources import load_reference

    try:
        harvested, data = read_catalogue(source)
    except ImportSourceError as error:
        raise ExportError(str(error), EXIT_USAGE if error.unreadable else EXIT_INVALID) from None
    graph_iri = import_graph_iri(source, settings.base_iri)
    try:
        with open_store(settings.store) as knowledge:
            if knowledge.is_empty():
                load_reference(knowledge, settings.base_iri)
            ours = ours_from_rows(select_rows(knowledge, OURS_QUERY, settings.base_iri))
            result = link(harvested, ours, graph_iri)
            knowledge.replace_graph(graph_iri, imported_graph(result, source, data))
    except StoreLockedError as error:
        raise ExportError(str(error)) from None
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
    import asyncio

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
    with readable_store(settings) as knowledge:

        async def in_process(query: str) -> list[dict[str, str]]:
            return select_rows(knowledge, query, settings.base_iri)

        async def read() -> tuple[Scope, Model]:
            scope = (
                await municipality_scope(in_process, kommunenummer, settings.base_iri)
                if kommunenummer is not None
                else await region_scope(in_process, region or "", settings.base_iri)
            )
            return scope, await export_model(in_process, scope)

        try:
            scope, model = asyncio.run(read())
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
