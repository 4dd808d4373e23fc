"""A voice's notes: where notes start (onsets) and the one splitter of a voice's line into
``(start, length, pitch)`` notes that the files, the evaluation and the server use."""

from __future__ import annotations

import numpy as np

from counterpoint.music.representation import SILENCE


def onsets(chorale: np.ndarray) -> np.ndarray:
    """Boolean ``(steps, 4)``: True where a voice starts a note (its pitch differs from the
    previous step's, or the piece starts). Silence never starts a note."""
    array = np.asarray(chorale)
    starts = np.ones(array.shape, dtype=bool)
    starts[1:] = array[1:] != array[:-1]
    return starts & (array != SILENCE)


def notes(line: np.ndarray, starts: np.ndarray | None = None) -> list[tuple[int, int, int]]:
    """The notes of one voice as ``(start_step, length_in_steps, pitch)``, held notes merged.

    ``starts`` (bool per step), if given, also begins a new note where it is True, so a
    repeated note (same pitch struck again) stays two notes."""
    result: list[tuple[int, int, int]] = []
    start = 0
    values = np.asarray(line)
    for step in range(1, len(values) + 1):
        if (
            step == len(values)
            or values[step] != values[start]
            or (starts is not None and bool(starts[step]))
        ):
            if values[start] != SILENCE:
                result.append((start, step - start, int(values[start])))
            start = step
    return result
