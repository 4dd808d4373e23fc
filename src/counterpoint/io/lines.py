"""Quantized note lines to a chorale array: shared by the MIDI and the MusicXML readers."""

from __future__ import annotations

import numpy as np

from counterpoint.errors import (
    FileFormatError,
    NotMonophonicError,
    TooManyVoicesError,
)
from counterpoint.limits import MAX_FILE_STEPS
from counterpoint.music.representation import NUM_VOICES, SILENCE


def lines_to_chorale(lines: list[list[tuple[int, int, int]]], name: str) -> np.ndarray:
    """Chorale from up to four lists of notes ``(start_step, end_step, pitch)``."""
    if len(lines) > NUM_VOICES:
        raise TooManyVoicesError(f"{name}: {len(lines)} voices found, at most 4 are allowed")
    ends = [end for line in lines for _, end, _ in line]
    if not ends:
        raise FileFormatError(f"{name}: no notes found")
    steps = max(ends)
    if steps > MAX_FILE_STEPS:
        raise FileFormatError(f"{name}: {steps} steps is longer than the {MAX_FILE_STEPS} allowed")
    chorale = np.full((steps, NUM_VOICES), SILENCE, dtype=np.int64)
    for voice, line in enumerate(lines):
        for start, end, pitch in line:
            chorale[start:end, voice] = pitch
    return chorale


def monophonic(
    events: list[tuple[int, int, int]], name: str, voice: str = "melody"
) -> list[tuple[int, int, int]]:
    """Quantized notes of one line, each cut where the next begins; chords are an error."""
    events = sorted(events)
    line: list[tuple[int, int, int]] = []
    for index, (start, end, pitch) in enumerate(events):
        if index + 1 < len(events) and events[index + 1][0] == start:
            raise NotMonophonicError(
                f"{name}: the {voice} has a chord at step {start} "
                f"(pitches {pitch} and {events[index + 1][2]}); one line is expected"
            )
        if index + 1 < len(events):
            end = min(end, events[index + 1][0])
        if end > start:
            line.append((start, end, pitch))
    return line
