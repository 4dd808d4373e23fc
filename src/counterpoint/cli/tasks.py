"""The composition commands: compose, harmonize, infill, transition and continue. Each reads
its input as a :class:`~counterpoint.music.piece.Piece` (notes with their onsets, the file's key,
time signature and name), runs the task with the sampler options of
:mod:`counterpoint.cli.options`, and writes the result with the input's notes exactly as they
were, its time signature, pickup, tempo (unless ``--tempo`` says another) and its name as the
title."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from counterpoint.cli.options import Checkpoint, Output, Seed, Tempo, sampling_options, user_errors

if TYPE_CHECKING:  # torch is imported only when a command runs
    from counterpoint.model.network import Coconet
    from counterpoint.music.piece import Piece
    from counterpoint.sampling.config import SamplerConfig
    from counterpoint.tasks import TaskResult


def _sample(
    output: Path,
    checkpoint: str | None,
    tempo: float | None,
    run: Callable[[Coconet, Piece | None], TaskResult],
    read: Callable[[], Piece] | None = None,
) -> None:
    """What every command does around its task: refuse an unknown output format before any work,
    ``read`` the input, load the model, ``run`` the task on both, report the result's notices and
    write it (in the key, metre, title, tempo and pickup of the input; ``tempo``, when given,
    wins over the input's)."""
    from counterpoint import __version__
    from counterpoint.io import suffix_of, write_piece
    from counterpoint.model.registry import DEFAULT, load_model

    suffix_of(output)
    given = read() if read else None
    result = run(load_model(checkpoint), given)
    for notice in result.notices:
        typer.echo(f"note: {notice}", err=True)
    model = f"the model {checkpoint or DEFAULT}"
    arranger = f"written by counterpoint {__version__} (Coconet) with {model}"
    write_piece(result.piece(given), output, tempo_bpm=tempo, arranger=arranger)
    typer.echo(f"wrote {output} ({len(result.chorale)} steps)")


def _read_given(path: Path, given: list[int]) -> Piece:
    """The piece whose ``given`` voices harmonize keeps: a one-line file is the melody, moved into
    the one given voice whatever voice it is written for; a multi-voice file keeps its voices."""
    from counterpoint.errors import MultipleVoicesError
    from counterpoint.io import read_melody_piece, read_piece

    try:
        piece = read_melody_piece(path) if len(given) == 1 else read_piece(path)
        if len(given) == 1:
            order = [given[0], *(v for v in range(4) if v != given[0])]  # soprano -> given voice
            piece = piece.with_pitches(piece.pitches[:, order].copy(), piece.onset[:, order].copy())
    except MultipleVoicesError:  # a multi-voice file: keep its named voices
        piece = read_piece(path)
    return piece


@user_errors
@sampling_options
def compose(
    output: Output,
    measures: Annotated[int, typer.Option(help="length in 4/4 measures")] = 4,
    checkpoint: Checkpoint = None,
    config: SamplerConfig | None = None,  # from the sampler options (sampling_options)
    seed: Seed = 0,
    tempo: Tempo = None,
) -> None:
    """Compose a new four-voice piece from scratch."""
    from counterpoint.tasks import compose as run

    _sample(output, checkpoint, tempo, lambda model, _: run(model, measures, config, seed))


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
    tempo: Tempo = None,
) -> None:
    """Write the other voices under (or around) a given melody."""
    from counterpoint.music.representation import parse_voices
    from counterpoint.tasks import harmonize as run

    def accompany(model: Coconet, piece: Piece) -> TaskResult:
        return run(model, piece, parse_voices(voices), config, seed)

    _sample(output, checkpoint, tempo, accompany, lambda: _read_given(melody, parse_voices(voices)))


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
    tempo: Tempo = None,
) -> None:
    """Erase a time window of some voices and rewrite it."""
    from counterpoint.io import read_piece
    from counterpoint.music.representation import parse_voices
    from counterpoint.tasks import infill as run

    def rewrite(model: Coconet, given: Piece) -> TaskResult:
        return run(model, given, from_step, to_step, parse_voices(voices), config, seed)

    _sample(output, checkpoint, tempo, rewrite, lambda: read_piece(piece))


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
    tempo: Tempo = None,
) -> None:
    """Write a bridge from one fragment into another."""
    from counterpoint.io import read_piece
    from counterpoint.tasks import transition as run

    def bridge(model: Coconet, first: Piece) -> TaskResult:
        return run(model, first, read_piece(closing), measures, config, seed)

    _sample(output, checkpoint, tempo, bridge, lambda: read_piece(opening))


@user_errors
@sampling_options
def continue_(
    piece: Annotated[Path, typer.Argument(help="the piece to extend")],
    output: Output,
    measures: Annotated[int, typer.Option(help="measures to add")] = 2,
    checkpoint: Checkpoint = None,
    config: SamplerConfig | None = None,  # from the sampler options (sampling_options)
    seed: Seed = 0,
    tempo: Tempo = None,
) -> None:
    """Extend a piece by some measures."""
    from counterpoint.io import read_piece
    from counterpoint.tasks import continue_piece

    def extend(model: Coconet, given: Piece) -> TaskResult:
        return continue_piece(model, given, measures, config, seed)

    _sample(output, checkpoint, tempo, extend, lambda: read_piece(piece))
