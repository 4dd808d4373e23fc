"""Files in and out: MIDI (mido), MusicXML (music21), and the package's own array formats.

Everything here converts between files and a :class:`~counterpoint.music.piece.Piece` (a
chorale's pitches plus where each note is struck, with the file's key and time signature, a
title, its tempo and its pickup). Reading quantizes to the 16th-note grid and gives a file's
parts their voices (one part is a melody for the soprano, see :mod:`counterpoint.io.lines`);
writing goes through a temporary file and an atomic rename, so a failed write never leaves
half a file.

File types, chosen by extension:

- ``.mid`` / ``.midi``: one named track per voice, with tempo, time and key signature; a
  pickup is the rest of its bar of silence before the first note (see :mod:`counterpoint.io.midi`).
- ``.musicxml`` / ``.xml`` / ``.mxl``: four parts with clefs, title and credits, the piece's
  time signature, a key signature, a metronome mark, a pickup measure where there is one, notes
  spelled by :mod:`counterpoint.music.spelling`.
- ``.npy`` / ``.json``: pitches and onsets (see :mod:`counterpoint.io.arrays`).

A tempo given to a writer wins over the piece's own (the file's, else
:data:`~counterpoint.music.piece.DEFAULT_TEMPO_BPM`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from counterpoint.errors import FileFormatError, MultipleVoicesError
from counterpoint.io.arrays import read_array_piece, write_array
from counterpoint.io.midi import read_midi_melody_piece, read_midi_piece, write_midi
from counterpoint.io.musicxml import DEFAULT_ARRANGER, read_musicxml_piece, write_musicxml
from counterpoint.music.piece import Piece
from counterpoint.music.representation import SILENCE

MIDI_SUFFIXES = (".mid", ".midi")


MUSICXML_SUFFIXES = (".musicxml", ".xml", ".mxl")


ARRAY_SUFFIXES = (".npy", ".json")


ALL_SUFFIXES = MIDI_SUFFIXES + MUSICXML_SUFFIXES + ARRAY_SUFFIXES


def suffix_of(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in ALL_SUFFIXES:
        raise FileFormatError(
            f"{path.name}: unknown file type {suffix or '(none)'!r}; use one of {', '.join(ALL_SUFFIXES)}"
        )
    return suffix


def read_piece(path: str | os.PathLike) -> Piece:
    """The piece a file holds (any supported type, chosen by extension), its parts given to
    voices: one part is a melody for the soprano, four are the four voices."""
    suffix = suffix_of(Path(path))
    if suffix in MIDI_SUFFIXES:
        return read_midi_piece(path)
    if suffix in MUSICXML_SUFFIXES:
        return read_musicxml_piece(path)
    return read_array_piece(path)


def read_melody_piece(path: str | os.PathLike) -> Piece:
    """One melody, in the soprano: a file whose notes form one line (no chords, no notes
    overlapping by a 16th or more); in an array file, the one voice that holds notes."""
    suffix = suffix_of(Path(path))
    if suffix in MIDI_SUFFIXES:
        return read_midi_melody_piece(path)
    if suffix in MUSICXML_SUFFIXES:
        piece = read_musicxml_piece(path, melody_only=True)
    else:
        piece = read_array_piece(path)
    used = piece.voices
    if len(used) != 1:
        raise MultipleVoicesError(
            f"{Path(path).name}: {len(used)} voices hold notes; a melody file must have one"
        )
    pitches = np.full_like(piece.pitches, SILENCE)
    pitches[:, 0] = piece.pitches[:, used[0]]
    onset = np.zeros_like(piece.onset)
    onset[:, 0] = piece.onset[:, used[0]]
    return piece.with_pitches(pitches, onset)


def read_chorale(path: str | os.PathLike) -> np.ndarray:
    """The pitches ``(steps, 4)`` of :func:`read_piece` (a melody file: the soprano), from
    a downbeat: a pickup comes after the rest of its bar (:meth:`Piece.aligned_pitches`)."""
    return read_piece(path).aligned_pitches()


def read_melody(path: str | os.PathLike) -> np.ndarray:
    """The pitch line ``(steps,)`` of :func:`read_melody_piece`, from a downbeat (as
    :func:`read_chorale`)."""
    return read_melody_piece(path).aligned_pitches()[:, 0]


def write_piece(
    piece: Piece | np.ndarray,
    path: str | os.PathLike,
    tempo_bpm: float | None = None,
    onset: np.ndarray | None = None,
    arranger: str = DEFAULT_ARRANGER,
) -> None:
    """Write a piece (or a chorale array with optional ``onset``) to any supported file,
    chosen by extension; atomically. ``tempo_bpm`` (None: the piece's) wins over the piece's
    tempo, in every file type; ``arranger`` is MusicXML's arranger line."""
    suffix = suffix_of(Path(path))
    piece = Piece.of(piece, onset).with_tempo(tempo_bpm)
    if suffix in MIDI_SUFFIXES:
        write_midi(piece, path)
    elif suffix in MUSICXML_SUFFIXES:
        write_musicxml(piece, path, arranger=arranger)
    else:
        write_array(piece, path)


write_chorale = write_piece  # the older name, for callers that pass an array
