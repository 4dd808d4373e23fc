"""The composition commands: compose, harmonize, infill, transition and continue. Each reads
its input, runs the task with the sampler options of :mod:`counterpoint.cli.options`, and
writes the result."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from counterpoint.cli.options import Checkpoint, Output, Seed, Tempo, sampling_options, user_errors

if TYPE_CHECKING:  # torch is imported only when a command runs
    from counterpoint.sampling.config import SamplerConfig


def _finish(result, output: Path, tempo: float) -> None:
    from counterpoint.io import write_chorale

    for notice in result.notices:
        typer.echo(f"note: {notice}", err=True)
    write_chorale(result.chorale, output, tempo_bpm=tempo)
    typer.echo(f"wrote {output} ({len(result.chorale)} steps)")


def _check_output(output: Path) -> None:
    from counterpoint.io import suffix_of

    suffix_of(output)


@user_errors
@sampling_options
def compose(
    output: Output,
    measures: Annotated[int, typer.Option(help="length in 4/4 measures")] = 4,
    checkpoint: Checkpoint = None,
    config: SamplerConfig | None = None,  # from the sampler options (sampling_options)
    seed: Seed = 0,
    tempo: Tempo = 80,
) -> None:
    """Compose a new four-voice piece from scratch."""
    from counterpoint.model.registry import load_model
    from counterpoint.tasks import compose as run

    _check_output(output)
    config = config
    _finish(run(load_model(checkpoint), measures, config, seed), output, tempo)


@user_errors
@sampling_options
def harmonize(
    melody: Annotated[
        Path, typer.Argument(help="a melody (.mid, .musicxml, ...) or a piece whose --voices are kept")
    ],
    output: Output,
    voices: Annotated[str, typer.Option(help="the given voice(s), e.g. soprano or soprano,bass")] = "soprano",
    checkpoint: Checkpoint = None,
    config: SamplerConfig | None = None,  # from the sampler options (sampling_options)
    seed: Seed = 0,
    tempo: Tempo = 80,
) -> None:
    """Write the other voices under (or around) a given melody."""
    from counterpoint.errors import MultipleVoicesError
    from counterpoint.io import read_chorale, read_melody
    from counterpoint.model.registry import load_model
    from counterpoint.music.representation import parse_voices
    from counterpoint.tasks import harmonize as run

    _check_output(output)
    given = parse_voices(voices)
    try:  # a one-line file is the melody, whatever voice it is written for
        piece = read_melody(melody) if len(given) == 1 else read_chorale(melody)
    except MultipleVoicesError:  # a multi-voice file: keep its named voices
        piece = read_chorale(melody)
    config = config
    _finish(run(load_model(checkpoint), piece, given, config, seed), output, tempo)


@user_errors
@sampling_options
def infill(
    piece: Annotated[Path, typer.Argument(help="a four-voice piece")],
    output: Output,
    from_step: Annotated[int, typer.Option("--from-step", help="first 16th step to rewrite")] = 0,
    to_step: Annotated[
        int | None, typer.Option("--to-step", help="step after the last to rewrite (default: the end)")
    ] = None,
    voices: Annotated[str, typer.Option(help="voices to rewrite")] = "soprano,alto,tenor,bass",
    checkpoint: Checkpoint = None,
    config: SamplerConfig | None = None,  # from the sampler options (sampling_options)
    seed: Seed = 0,
    tempo: Tempo = 80,
) -> None:
    """Erase a time window of some voices and rewrite it."""
    from counterpoint.io import read_chorale
    from counterpoint.model.registry import load_model
    from counterpoint.music.representation import parse_voices
    from counterpoint.tasks import infill as run

    _check_output(output)
    chorale = read_chorale(piece)
    result = run(
        load_model(checkpoint),
        chorale,
        from_step,
        to_step,
        parse_voices(voices),
        config,
        seed,
    )
    _finish(result, output, tempo)


@user_errors
@sampling_options
def transition(
    opening: Annotated[Path, typer.Argument(help="the piece to start from")],
    closing: Annotated[Path, typer.Argument(help="the piece to arrive at")],
    output: Output,
    measures: Annotated[int, typer.Option(help="length of the bridge in measures")] = 2,
    checkpoint: Checkpoint = None,
    config: SamplerConfig | None = None,  # from the sampler options (sampling_options)
    seed: Seed = 0,
    tempo: Tempo = 80,
) -> None:
    """Write a bridge from one fragment into another."""
    from counterpoint.io import read_chorale
    from counterpoint.model.registry import load_model
    from counterpoint.tasks import transition as run

    _check_output(output)
    result = run(
        load_model(checkpoint),
        read_chorale(opening),
        read_chorale(closing),
        measures,
        config,
        seed,
    )
    _finish(result, output, tempo)


@user_errors
@sampling_options
def continue_(
    piece: Annotated[Path, typer.Argument(help="the piece to extend")],
    output: Output,
    measures: Annotated[int, typer.Option(help="measures to add")] = 2,
    checkpoint: Checkpoint = None,
    config: SamplerConfig | None = None,  # from the sampler options (sampling_options)
    seed: Seed = 0,
    tempo: Tempo = 80,
) -> None:
    """Extend a piece by some measures."""
    from counterpoint.io import read_chorale
    from counterpoint.model.registry import load_model
    from counterpoint.tasks import continue_piece

    _check_output(output)
    result = continue_piece(
        load_model(checkpoint),
        read_chorale(piece),
        measures,
        config,
        seed,
    )
    _finish(result, output, tempo)
