"""``python -m supportdesk.cli`` runs the same command line as ``supportdesk``."""

from . import main

main()
