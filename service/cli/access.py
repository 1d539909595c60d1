"""``kommunegraf token`` (create, list, revoke write tokens) and ``kommunegraf audit``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from service.cli.options import cli_principal, fail, settings_from
from service.settings import Settings

if TYPE_CHECKING:
    from datetime import datetime

    from service.access.tokens import TokenFile


def _token_file(settings: Settings, path: Path | None) -> TokenFile:
    from service.access.tokens import TokenFile

    chosen = path or settings.tokens
    if chosen is None:
        fail("ingen nøkkelfil: sett KOMMUNEGRAF_TOKENS eller bruk --file (no token file)")
    return TokenFile(chosen)


def _audit_token_change(settings: Settings, detail: str, numbers: tuple[str, ...]) -> None:
    from service.access.audit import AuditLog, log_path, new_event

    event = new_event(
        cli_principal(), "token", settings.base_iri, detail=detail, municipalities=numbers
    )
    AuditLog(log_path(settings)).append(event)


_tokens_option = click.option(
    "--file",
    "token_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Nøkkelfil (token file) [env KOMMUNEGRAF_TOKENS]",
)


@click.group()
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

    settings = settings_from()
    if admin == bool(numbers):
        fail("gi enten --admin eller --kommune (give either --admin or --kommune)")
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
        fail(str(error))
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
        entries = _token_file(settings_from(), token_path).entries()
    except TokenFileError as error:
        fail(str(error))
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

    settings = settings_from()
    try:
        revoked = _token_file(settings, token_path).revoke(which)
    except TokenFileError as error:
        fail(str(error))
    if not revoked:
        fail(f"ingen aktiv nøkkel heter eller begynner med {which!r} (no such active token)")
    for entry in revoked:
        detail = f"trukket tilbake / revoked {entry.digest[:12]} «{entry.name}»"
        _audit_token_change(settings, detail, entry.municipalities)
        click.echo(f"Trukket tilbake / revoked: {entry.digest[:12]} {entry.name}")


@click.command()
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

    settings = settings_from()
    path = log_file or log_path(settings)
    if path is None:
        fail("ingen revisjonslogg for et lager i minnet (no audit log for a :memory: store)")
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
