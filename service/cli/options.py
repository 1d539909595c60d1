"""What every command shares: options made from the settings, exit codes, failing.

A new setting needs no CLI code:

``settings_flags`` gives a command one flag per setting (``--query-timeout`` for
``query_timeout``), with its help text, variable and default taken from the field;
secrets get none, so a token never shows in a process list. ``--config FILE`` is
added to every command of a ``ConfigurableGroup`` (and to the group itself), so
``kommunegraf serve --config prod.toml`` and ``kommunegraf --config prod.toml load``
both work.
"""

from __future__ import annotations

import asyncio
import importlib
import sys
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from service.configuration import Configuration, flag_specs, help_text, resolve
from service.settings import CONFIG_ENV, Settings, SettingsError

if TYPE_CHECKING:
    from service.access.scope import Principal
    from service.store.backend import EmbeddedBackend

_CONFIG_KEY = "kommunegraf.config"
F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")
_METAVARS: dict[type, str] = {int: "INTEGER", float: "NUMBER", Path: "PATH", tuple: "A,B,..."}


def _remember_config(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
    if value is not None:
        ctx.meta[_CONFIG_KEY] = value


def config_option() -> click.Option:
    return click.Option(
        ["--config"],
        type=click.Path(path_type=Path, dir_okay=False),
        default=None,
        expose_value=False,
        is_eager=True,
        callback=_remember_config,
        help=f"TOML-fil med innstillinger (settings file) [env {CONFIG_ENV}]; "
        "flagg > miljø > fil / flags > env > file",
    )


def config_file() -> Path | None:
    """The ``--config`` given to this command or its group, if any."""
    ctx = click.get_current_context(silent=True)
    value = ctx.meta.get(_CONFIG_KEY) if ctx is not None else None
    return value if isinstance(value, Path) else None


def configuration(**flags: Any) -> Configuration:
    """Defaults < ``--config`` file < environment < ``flags``; raises SettingsError."""
    return resolve(flags, config_file=config_file())


class ConfigurableGroup(click.Group):
    """A group whose commands all take ``--config``, each imported only when used.

    ``lazy_commands`` maps a command's name to ``"module:attribute"``; the module is
    imported when the command runs or its help is shown (click's "lazily loading
    subcommands" pattern), so ``kommunegraf validate`` never imports the server and
    a spawned worker that re-imports the ``kommunegraf`` script imports no command.
    """

    def __init__(
        self, *args: Any, lazy_commands: Mapping[str, str] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.params.append(config_option())
        self.lazy_commands = dict(lazy_commands or {})

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        if not any(p.name == "config" for p in cmd.params):
            cmd.params.append(config_option())
        super().add_command(cmd, name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy_commands:
            module_name, attribute = self.lazy_commands[cmd_name].split(":")
            command = getattr(importlib.import_module(module_name), attribute)
            if not isinstance(command, click.Command):
                raise TypeError(f"{module_name}:{attribute} is not a click command")
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)


def settings_flags(function: F) -> F:
    """Add a flag for every non-secret setting the command does not declare itself.

    Put it right under ``@main.command()`` so it sees the command's own options.
    Values arrive as text (or a bool) under the field's name, None when not given;
    ``service.configuration.resolve`` parses them, so errors name the flag.
    """
    declared = getattr(function, "__click_params__", [])
    taken = {opt for param in declared for opt in param.opts + param.secondary_opts}
    taken |= {param.name for param in declared}
    for spec in reversed(flag_specs()):
        name = spec.flag
        if name in taken or spec.name in taken or f"--no-{name[2:]}" in taken:
            continue
        if spec.kind is bool:
            decls = [f"{name}/--no-{name[2:]}"]
            option = click.option(*decls, spec.name, default=None, help=help_text(spec))
        else:
            option = click.option(
                name,
                spec.name,
                type=str,
                default=None,
                metavar=_METAVARS.get(spec.kind, "TEXT"),
                help=help_text(spec),
            )
        function = option(function)
    return function


EXIT_INVALID = 1
EXIT_USAGE = 2

store_option = click.option(
    "--store",
    type=str,
    default=None,
    help="Lagermappe, eller :memory: (store folder) [env KOMMUNEGRAF_STORE, default data/store]",
)
base_option = click.option(
    "--base-iri",
    default=None,
    help="Grunn-IRI for alle ressurser (base IRI) [env KOMMUNEGRAF_BASE_IRI]",
)


def output_option(help_text: str) -> Callable[[F], F]:
    """``-o/--output FILE``, required: where a command writes; ``help_text`` says what."""
    return click.option(
        "-o", "--output", type=click.Path(path_type=Path), required=True, help=help_text
    )


def settings_from(**overrides: object) -> Settings:
    """Defaults < --config file < KOMMUNEGRAF_* < flags; a bad value exits 2 naming it."""
    try:
        return configuration(**overrides).settings
    except SettingsError as error:
        fail(str(error))


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    click.echo(f"kommunegraf: {message}", err=True)
    sys.exit(code)


CLI_ACTOR = "kommandolinjen / command line"
"""Who the audit trail says wrote, for commands run on the server itself."""


def cli_principal() -> Principal:
    import getpass

    from service.access.scope import Principal

    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "?"
    return Principal(f"{CLI_ACTOR} ({user})", "admin")


async def _load_reference(backend: EmbeddedBackend, settings: Settings) -> None:
    """An empty store gets the reference data first, as a service's first start gives it;
    a write like any other, so audited (announced, marked, recorded) as the command line's."""
    from service.access.audit import Auditor, new_event
    from service.store.sources import load_reference

    audit = Auditor(settings, backend)
    detail = "referansedata i et tomt lager / reference data into an empty store"
    principal = cli_principal()
    event = new_event(principal, "load", settings.base_iri, detail=detail)
    async with audit.announced(event):
        await asyncio.to_thread(load_reference, backend, settings.base_iri)
    await audit.record_filled(event, principal)


def on_store(
    settings: Settings,
    work: Callable[[EmbeddedBackend], Awaitable[T]],
    *,
    write: bool = False,
    reference: bool = True,
) -> T:
    """Run ``work`` on the store as every command reaches it.

    That is ``service.store.backend.command_backend``: the ``Backend`` the routes use, so
    each read runs in a worker process with the service's deadline and each write goes
    through the calls the audit trail marks. A store that cannot be opened, and an error
    the store raised (a deadline passed, malformed SPARQL), end the command with their
    message and exit 2: the command line's one reading of a ``ServiceError``, as the
    exception handler is HTTP's.
    """
    from service.errors import ServiceError, attempt
    from service.store.backend import command_backend
    from service.store.embedded import StoreLockedError

    async def run() -> T | ServiceError:
        async with command_backend(settings, write=write) as backend:
            if reference and backend.is_empty():
                await _load_reference(backend, settings)
            return await attempt(work(backend))

    try:
        done = asyncio.run(run())
    except StoreLockedError as error:
        fail(str(error))
    if isinstance(done, ServiceError):
        fail(f"{done.nb} / {done.en}" + (f"\n{done.detail}" if done.detail else ""))
    return done
