"""The ``kommunegraf`` command: the group, and which module holds each command.

Exit codes, for scripts: 0 done (valid, loaded), 1 invalid input (nothing
loaded), 2 usage error or unreadable file.

A command's module is imported only when that command is used (``ConfigurableGroup``):
keep this module's imports light, since every command and every worker process that
re-imports the ``kommunegraf`` script pays for them.
"""

from __future__ import annotations

import click

from loaders.provenance import tool_version
from service.cli.options import ConfigurableGroup

_COMMANDS = {
    "serve": "service.cli.serve:serve",
    "config": "service.cli.serve:show_config",
    "validate": "service.cli.load:validate",
    "load": "service.cli.load:load",
    "query": "service.cli.query:query",
    "dump": "service.cli.exchange:dump",
    "restore": "service.cli.exchange:restore",
    "token": "service.cli.access:token",
    "audit": "service.cli.access:audit",
    "template": "service.cli.exchange:template",
    "export": "service.cli.exchange:export",
    "import-dcat": "service.cli.exchange:import_dcat",
    "import-archimate": "service.cli.exchange:import_archimate",
}


@click.group(
    cls=ConfigurableGroup,
    lazy_commands=_COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(tool_version(), prog_name="kommunegraf")
def main() -> None:
    """kommunegraf: kunnskapsgraf over kommunal applikasjonsarkitektur.

    Knowledge graph of Norwegian municipal application architecture.
    """
