"""The ``counterpoint`` command line (typer): data, convert, train, compose, harmonize, infill,
transition, continue, evaluate, serve.

Every user error (a :class:`~counterpoint.errors.CounterpointError`) is printed as one line
on stderr and exits with status 2; nothing is half-written.
"""

from __future__ import annotations

import typer

from counterpoint.cli.data import convert, data
from counterpoint.cli.evaluate import evaluate
from counterpoint.cli.models import combine, export, quantize
from counterpoint.cli.serve import serve
from counterpoint.cli.tasks import compose, continue_, harmonize, infill, transition
from counterpoint.cli.train import train

app = typer.Typer(
    help="Compose and harmonize four-voice chorales in the style of J. S. Bach (Coconet).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# in the order ``counterpoint --help`` lists them
for command in (data, convert, train, export, combine, quantize, compose, harmonize, infill, transition):
    app.command()(command)
app.command("continue")(continue_)
app.command()(evaluate)
app.command()(serve)
