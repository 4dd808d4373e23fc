"""``python -m counterpoint`` runs the command line."""

from counterpoint.cli import app

app(prog_name="counterpoint")
