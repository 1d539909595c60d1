"""``kommunegraf serve`` and ``kommunegraf config``: run the service, show its settings.

Exit codes as in ``service.cli.commands``; ``serve`` also exits 3 when uvicorn cannot start.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import math
import socket
import sys

import click

from service.cli.options import configuration, fail, settings_flags, settings_from
from service.settings import SettingsError
from service.store.embedded import StoreLockedError


@click.command()
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


@click.command("config")
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
