"""``python -m service`` runs the ``kommunegraf`` command."""

from service.cli.commands import main

main()
