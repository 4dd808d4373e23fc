"""A set of melodies written note by note (``examples/melodies.json``), for tests and benchmarks.

The file holds public-domain tunes (none by Bach) in several keys and metres, with repeated
notes, rests and notes tied over barlines. Each note is ``[pitch, onset, length]``: a MIDI pitch
or -1 for a rest, its onset in 16ths from the first downbeat (a pickup comes after a rest), and
its length in 16ths. This module reads the file and turns a melody into the representation's
pitch line plus onset flags, so that a repeated note stays two notes; as a
:class:`~counterpoint.music.piece.Piece`, a melody that starts after a rest begins with a pickup.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from counterpoint.errors import FileFormatError
from counterpoint.music.piece import Piece, lift_pickup
from counterpoint.music.representation import NUM_VOICES, SILENCE

# 16ths in a bar of each metre the set uses.
STEPS_PER_BAR = {"2/4": 8, "3/4": 12, "4/4": 16}


@dataclass(frozen=True)
class Melody:
    """One tune: ``notes`` are ``(pitch or SILENCE, onset, length)`` in 16ths, in order."""

    title: str
    key: str
    metre: str
    notes: tuple[tuple[int, int, int], ...]

    @property
    def steps(self) -> int:
        pitch, onset, length = self.notes[-1]
        return onset + length

    @property
    def steps_per_bar(self) -> int:
        return STEPS_PER_BAR[self.metre]

    def line(self) -> tuple[np.ndarray, np.ndarray]:
        """``(pitches, onset)``: the ``(steps,)`` pitch of every 16th (SILENCE in a rest) and
        a bool ``(steps,)`` that is True where a note is struck."""
        pitches = np.full(self.steps, SILENCE, dtype=np.int64)
        onset = np.zeros(self.steps, dtype=bool)
        for pitch, start, length in self.notes:
            pitches[start : start + length] = pitch
            onset[start] = pitch != SILENCE
        return pitches, onset

    def piece(self) -> Piece:
        """The melody in the soprano of a :class:`Piece`, with its metre and title; the rest
        before a pickup is the piece's ``pickup`` (as a MIDI file of it is read)."""
        pitches, onset = self.line()
        chorale = np.full((len(pitches), NUM_VOICES), SILENCE, dtype=np.int64)
        struck = np.zeros(chorale.shape, dtype=bool)
        chorale[:, 0], struck[:, 0] = pitches, onset
        return lift_pickup(Piece.of(chorale, struck, time_signature=self.metre, title=self.title))

    def sounding(self) -> list[tuple[int, int, int]]:
        """The notes without the rests."""
        return [note for note in self.notes if note[0] != SILENCE]


def _melody(entry: dict, where: str) -> Melody:
    """One melody from its JSON object, checked: notes follow each other without gap or overlap."""
    try:
        title, key, metre = str(entry["title"]), str(entry["key"]), str(entry["metre"])
        notes = tuple((int(p), int(o), int(n)) for p, o, n in entry["notes"])
    except (KeyError, TypeError, ValueError) as error:
        raise FileFormatError(f"{where}: a melody needs a title, key, metre and notes ({error})") from None
    if metre not in STEPS_PER_BAR:
        raise FileFormatError(f"{where}: {title}: metre {metre} is not one of {', '.join(STEPS_PER_BAR)}")
    if not notes:
        raise FileFormatError(f"{where}: {title} has no notes")
    expected = 0
    for pitch, onset, length in notes:
        if onset != expected or length <= 0:
            raise FileFormatError(
                f"{where}: {title}: the note at 16th {onset} does not follow the one before"
            )
        if pitch != SILENCE and not 0 <= pitch <= 127:
            raise FileFormatError(f"{where}: {title}: {pitch} is not a MIDI pitch")
        expected = onset + length
    return Melody(title, key, metre, notes)


def read_melodies(path: str | os.PathLike) -> list[Melody]:
    """Every melody in a melody-set file such as ``examples/melodies.json``."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
        entries = data["melodies"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise FileFormatError(f"{path.name}: not a melody set ({error})") from None
    return [_melody(entry, path.name) for entry in entries]
