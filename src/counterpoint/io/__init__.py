"""Files in and out: MIDI (mido), MusicXML (music21), and the package's own array formats.

Everything here converts between files and the ``(steps, 4)`` chorale array of
:mod:`counterpoint.music.representation`. Reading quantizes to the 16th-note grid; writing goes
through a temporary file and an atomic rename, so a failed write never leaves half a file.

File types, chosen by extension:

- ``.mid`` / ``.midi``: one track per voice (named, with tempo); held notes are one long note.
- ``.musicxml`` / ``.xml`` / ``.mxl``: four parts with clefs, 4/4, an estimated key signature.
- ``.npy``: the chorale array itself; ``.json``: ``{"chorale": [[s, a, t, b], ...]}``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from counterpoint.errors import FileFormatError, MultipleVoicesError
from counterpoint.io.arrays import read_array, write_array
from counterpoint.io.files import DEFAULT_TEMPO_BPM
from counterpoint.io.midi import read_midi_chorale, read_midi_melody, write_midi
from counterpoint.io.musicxml import read_musicxml, write_musicxml
from counterpoint.music.representation import NUM_VOICES, SILENCE

MIDI_SUFFIXES = (".mid", ".midi")


MUSICXML_SUFFIXES = (".musicxml", ".xml", ".mxl")


ARRAY_SUFFIXES = (".npy", ".json")


ALL_SUFFIXES = MIDI_SUFFIXES + MUSICXML_SUFFIXES + ARRAY_SUFFIXES


def suffix_of(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in ALL_SUFFIXES:
        raise FileFormatError(
            f"{path}: unknown file type {suffix or '(none)'!r}; use one of {', '.join(ALL_SUFFIXES)}"
        )
    return suffix


def read_chorale(path: str | os.PathLike) -> np.ndarray:
    """Read a four-voice piece from any supported file, chosen by extension."""
    suffix = suffix_of(Path(path))
    if suffix in MIDI_SUFFIXES:
        return read_midi_chorale(path)
    if suffix in MUSICXML_SUFFIXES:
        return read_musicxml(path)
    return read_array(path)


def read_melody(path: str | os.PathLike) -> np.ndarray:
    """Read one line ``(steps,)`` from any supported file (for arrays and scores, the top
    sounding voice of a one-voice file)."""
    suffix = suffix_of(Path(path))
    if suffix in MIDI_SUFFIXES:
        return read_midi_melody(path)
    chorale = read_musicxml(path) if suffix in MUSICXML_SUFFIXES else read_array(path)
    used = [voice for voice in range(NUM_VOICES) if (chorale[:, voice] != SILENCE).any()]
    if len(used) != 1:
        raise MultipleVoicesError(f"{path}: {len(used)} voices hold notes; a melody file must have one")
    return chorale[:, used[0]]


def write_chorale(chorale: np.ndarray, path: str | os.PathLike, tempo_bpm: float = DEFAULT_TEMPO_BPM) -> None:
    """Write a chorale to any supported file, chosen by extension; atomically."""
    suffix = suffix_of(Path(path))
    if suffix in MIDI_SUFFIXES:
        write_midi(chorale, path, tempo_bpm)
    elif suffix in MUSICXML_SUFFIXES:
        write_musicxml(chorale, path, tempo_bpm)
    else:
        write_array(chorale, path)
