"""What the commands share: the options they have in common, each declared once, the sampler
options added to a command by :func:`sampling_options`, and :func:`user_errors`, which turns
a user's mistake into one line on stderr and exit status 2."""

from __future__ import annotations

import functools
import inspect
from pathlib import Path
from typing import Annotated

import typer

from counterpoint.errors import CounterpointError
from counterpoint.limits import TEMPO_LIMITS_BPM
from counterpoint.model.registry import DEFAULT, SHIPPED

Checkpoint = Annotated[
    str | None,
    typer.Option(
        "--checkpoint",
        "-c",
        help=f"a checkpoint path or a shipped model ({', '.join(SHIPPED)}); default: {DEFAULT}",
    ),
]
Output = Annotated[Path, typer.Option("--output", "-o", help="output .mid/.musicxml/.mxl/.npy/.json")]
Seed = Annotated[int, typer.Option(help="the same seed gives the same piece (on the same precision)")]
Tempo = Annotated[
    float | None,
    typer.Option(
        help="tempo of the written file, quarter notes per minute (default: the input file's, else 80)",
        min=TEMPO_LIMITS_BPM[0],
        max=TEMPO_LIMITS_BPM[1],
    ),
]

Sampler = Annotated[str, typer.Option(help="gibbs, independent, ancestral, confidence")]
Passes = Annotated[
    int | None, typer.Option("--passes", help="sampler passes over the piece (default: the sampler's own)")
]
OldPasses = Annotated[int | None, typer.Option("--steps", hidden=True, help="deprecated: use --passes")]
Temperature = Annotated[float, typer.Option(help="0 = most likely notes; 1 = the model's distribution")]
AvoidParallels = Annotated[
    bool,
    typer.Option(
        "--avoid-parallels/--allow-parallels",
        help="steer the sampler away from parallel fifths and octaves (--allow-parallels: the network alone)",
    ),
]
Precision = Annotated[
    str,
    typer.Option(
        help="network arithmetic: auto (int8 where the model has an int8 file, else bfloat16 on CPUs "
        "with native bf16, else float32), float32, bfloat16 or int8"
    ),
]

# The sampler's options, in the order --help lists them: (name, type, default)
SAMPLER_OPTIONS = (
    ("sampler", Sampler, "gibbs"),
    ("passes", Passes, None),
    ("steps", OldPasses, None),
    ("temperature", Temperature, 0.99),
    ("avoid_parallels", AvoidParallels, True),
    ("precision", Precision, "auto"),
)


def sampler_config(sampler: str, passes: int | None, steps: int | None, **settings):
    """The :class:`~counterpoint.sampling.config.SamplerConfig` the options describe; ``--steps``,
    the old name of ``--passes``, still works, with a warning."""
    from counterpoint.sampling.config import SamplerConfig

    if steps is not None:
        typer.echo("warning: --steps is deprecated (a step is a 16th note): use --passes", err=True)
        passes = steps if passes is None else passes
    return SamplerConfig(method=sampler, passes=passes, **settings)


def sampling_options(command):
    """Give ``command`` the sampler's options (:data:`SAMPLER_OPTIONS`) in place of its
    ``config`` parameter, which receives the :class:`SamplerConfig` they describe."""
    signature = inspect.signature(command)
    names = [name for name, _, _ in SAMPLER_OPTIONS]
    added = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=kind)
        for name, kind, default in SAMPLER_OPTIONS
    ]
    # typer reads the signature: its annotations must be objects, not the strings that
    # ``from __future__ import annotations`` leaves (``config``'s may not even be importable)
    kept = [
        parameter.replace(kind=inspect.Parameter.KEYWORD_ONLY, annotation=_evaluated(parameter, command))
        for parameter in signature.parameters.values()
        if parameter.name != "config"
    ]

    @functools.wraps(command)
    def wrapper(**kwargs):
        options = {name: kwargs.pop(name) for name in names}
        return command(config=sampler_config(**options), **kwargs)

    wrapper.__signature__ = signature.replace(parameters=kept + added)
    wrapper.__annotations__ = {parameter.name: parameter.annotation for parameter in kept + added}
    return wrapper


def _evaluated(parameter: inspect.Parameter, command):
    annotation = parameter.annotation
    return eval(annotation, command.__globals__) if isinstance(annotation, str) else annotation  # noqa: S307


def user_errors(command):
    """Turn a user error into one line on stderr and exit status 2."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except CounterpointError as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(2) from None
        except ValueError as error:  # e.g. an unknown voice name
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(2) from None
        except OSError as error:  # e.g. an output folder that may not be written to
            typer.echo(f"error: {error.strerror or error}: {error.filename or ''}".rstrip(": "), err=True)
            raise typer.Exit(2) from None

    return wrapper
