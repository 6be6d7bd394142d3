"""``python -m flowdeck`` runs the command line."""

from flowdeck.cli import main

main()
