"""The ``kommunegraf`` command: the group, and which module holds each command.

Exit codes, for scripts: 0 done (valid, loaded), 1 invalid input (nothing
loaded), 2 usage error or unreadable file.
"""

from __future__ import annotations

import click

from loaders.provenance import tool_version
from service.cli.access import audit, token
from service.cli.exchange import dump, export, import_archimate, import_dcat, restore, template
from service.cli.load import load, validate
from service.cli.options import ConfigurableGroup
from service.cli.query import query
from service.cli.serve import serve, show_config


@click.group(
    cls=ConfigurableGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(tool_version(), prog_name="kommunegraf")
def main() -> None:
    """kommunegraf: kunnskapsgraf over kommunal applikasjonsarkitektur.

    Knowledge graph of Norwegian municipal application architecture.
    """


for command in (
    serve,
    show_config,
    validate,
    load,
    query,
    dump,
    restore,
    token,
    audit,
    template,
    export,
    import_dcat,
    import_archimate,
):
    main.add_command(command)
