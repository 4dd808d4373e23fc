"""``counterpoint data`` (a dataset's statistics) and ``counterpoint convert`` (between file types)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from counterpoint.cli.options import Tempo, user_errors


def _echo_json(data: dict) -> None:
    typer.echo(json.dumps(data, indent=2))


@user_errors
def data(
    source: Annotated[
        str, typer.Argument(help="'music21' (the shipped corpus) or a JSB .npz/.json path")
    ] = "music21",
    refresh: Annotated[bool, typer.Option(help="re-parse the corpus instead of using the cache")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print statistics as JSON")] = False,
) -> None:
    """Load (and cache) a dataset and print its statistics."""
    from counterpoint.data.datasets import SPLITS, timed_load

    dataset, seconds = timed_load(source, refresh=refresh)
    stats = dataset.statistics()
    stats["load_seconds"] = round(seconds, 3)
    stats["skipped_files"] = dataset.skipped
    if as_json:
        _echo_json(stats)
        return
    total = sum(stats[s]["pieces"] for s in SPLITS)
    typer.echo(f"{dataset.name}: {total} chorales loaded in {seconds:.2f} s")
    for split in SPLITS:
        s = stats[split]
        typer.echo(
            f"  {split:5}: {s['pieces']:4} pieces, {s['steps']:6} steps "
            f"(length {s['min_steps']}/{s['median_steps']}/{s['max_steps']} min/median/max)"
        )
    if dataset.skipped:
        typer.echo(f"  skipped {len(dataset.skipped)} files:")
        for name, reason in sorted(dataset.skipped.items()):
            typer.echo(f"    {name}: {reason}")


@user_errors
def convert(
    source: Annotated[Path, typer.Argument(help="input .mid/.musicxml/.mxl/.xml/.npy/.json")],
    target: Annotated[Path, typer.Argument(help="output file; its extension picks the format")],
    tempo: Tempo = None,
) -> None:
    """Convert between MIDI, MusicXML and the array formats (.npy, .json)."""
    from counterpoint.io import read_piece, suffix_of, write_piece

    suffix_of(target)  # refuse an unknown output type before reading anything
    piece = read_piece(source)  # every note as written, with the file's key, metre, name, tempo, pickup
    write_piece(piece, target, tempo_bpm=tempo, arranger="converted by counterpoint")
    typer.echo(f"wrote {target} ({piece.steps} steps)")
