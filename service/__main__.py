"""``python -m service`` runs the ``kommunegraf`` command."""

from service.cli import main

main()
