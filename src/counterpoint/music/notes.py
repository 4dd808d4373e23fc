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


def segments(line: np.ndarray, starts: np.ndarray | None = None) -> list[tuple[int, int, int]]:
    """One voice cut into ``(start_step, length_in_steps, pitch)`` segments, rests included
    (pitch ``SILENCE``): a segment ends where the pitch changes, and, with ``starts`` (bool per
    step), also where ``starts`` is True, so a repeated note (the same pitch struck again)
    stays two notes. The one splitter of a voice into notes."""
    result: list[tuple[int, int, int]] = []
    start = 0
    values = np.asarray(line)
    for step in range(1, len(values) + 1):
        struck = starts is not None and step < len(values) and bool(starts[step])
        if step == len(values) or values[step] != values[start] or struck:
            result.append((start, step - start, int(values[start])))
            start = step
    return result


def notes(line: np.ndarray, starts: np.ndarray | None = None) -> list[tuple[int, int, int]]:
    """The notes of one voice as ``(start_step, length_in_steps, pitch)``, held notes merged
    (:func:`segments` without the rests)."""
    return [segment for segment in segments(line, starts) if segment[2] != SILENCE]
