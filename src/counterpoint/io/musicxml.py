"""MusicXML in and out (music21): four parts with clefs, 4/4, an estimated key signature."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from counterpoint.errors import (
    FileFormatError,
    TooManyVoicesError,
)
from counterpoint.io.files import DEFAULT_TEMPO_BPM, existing_file, write_atomically
from counterpoint.io.lines import lines_to_chorale, monophonic
from counterpoint.music.notes import segments
from counterpoint.music.representation import NUM_VOICES, SILENCE, STEPS_PER_QUARTER, VOICES


def score_to_chorale(score, name: str) -> np.ndarray:
    """A chorale from a music21 score with four parts (or a one-part melody), high to low.

    Chords inside a part keep their top note for soprano and alto and their bottom note for
    tenor and bass (Bach's final chords sometimes split a voice)."""
    from music21 import chord, note

    parts = list(score.parts) if hasattr(score, "parts") and len(score.parts) else [score]
    if len(parts) > NUM_VOICES:
        raise TooManyVoicesError(f"{name}: {len(parts)} parts found, at most 4 are allowed")
    lines = []
    for index, part in enumerate(parts):
        line = []
        for element in part.flatten().notes:
            start = round(float(element.offset) * STEPS_PER_QUARTER)
            end = round(float(element.offset + element.quarterLength) * STEPS_PER_QUARTER)
            if end <= start:
                continue  # grace notes and notes shorter than half a 16th
            if isinstance(element, chord.Chord):
                midis = sorted(p.midi for p in element.pitches)
                pitch = midis[-1] if index < 2 or len(parts) == 1 else midis[0]
            elif isinstance(element, note.Note):
                pitch = element.pitch.midi
            else:
                continue
            line.append((start, end, pitch))
        lines.append(monophonic(line, name, VOICES[index] if len(parts) > 1 else "melody"))
    return lines_to_chorale(lines, name)


def _parse_score(path: Path):
    from music21 import converter

    try:
        return converter.parse(str(path))
    except Exception as error:  # music21 raises many types for malformed files
        raise FileFormatError(f"{path}: not a readable MusicXML file ({error})") from None


def read_musicxml(path: str | os.PathLike) -> np.ndarray:
    """A chorale (or a one-part melody in the soprano column) from a MusicXML file."""
    path = existing_file(path)
    return score_to_chorale(_parse_score(path), str(path))


def _spell(midi: int, key) -> object:
    """A music21 pitch for ``midi`` spelled to suit ``key`` (in-scale names first, then sharps
    in sharp keys and flats in flat keys)."""
    from music21 import pitch as m21pitch

    candidate = m21pitch.Pitch(midi=midi)
    scale_names = {p.name for p in key.getScale("major" if key.mode == "major" else "minor").pitches}
    options = [candidate, *candidate.getAllCommonEnharmonics(alterLimit=1)]
    for option in options:
        if option.name in scale_names:
            return option
    prefer_flats = key.sharps < 0
    for option in options:
        alter = option.accidental.alter if option.accidental else 0
        if (alter < 0) == prefer_flats and abs(alter) <= 1:
            return option
    return candidate


def to_score(chorale: np.ndarray, tempo_bpm: float = DEFAULT_TEMPO_BPM, starts: np.ndarray | None = None):
    """A music21 score of a chorale: four parts with clefs, 4/4, estimated key signature.
    ``starts`` (optional bool ``(steps, 4)``) marks repeated notes to strike again."""
    from music21 import clef, key, meter, note, stream, tempo

    chorale = np.asarray(chorale)
    score = stream.Score()
    probe = stream.Stream()
    for pitch in chorale[chorale != SILENCE].ravel():
        probe.append(note.Note(midi=int(pitch)))
    estimated = probe.analyze("key") if len(probe.notes) else key.Key("C")
    clefs = [clef.TrebleClef, clef.TrebleClef, clef.Treble8vbClef, clef.BassClef]
    for voice in range(chorale.shape[1]):
        part = stream.Part(id=VOICES[voice].capitalize())
        part.partName = VOICES[voice].capitalize()
        part.append(clefs[voice]())
        part.append(key.KeySignature(estimated.sharps))
        part.append(meter.TimeSignature("4/4"))
        if voice == 0:
            part.append(tempo.MetronomeMark(number=tempo_bpm))
        strikes = None if starts is None else starts[:, voice]
        for _, steps, pitch in segments(chorale[:, voice], strikes):
            if pitch == SILENCE:
                element = note.Rest(quarterLength=steps / STEPS_PER_QUARTER)
            else:
                element = note.Note(quarterLength=steps / STEPS_PER_QUARTER)
                element.pitch = _spell(pitch, estimated)
            part.append(element)
        score.insert(0, part)
    return score.makeNotation()


def write_musicxml(
    chorale: np.ndarray, path: str | os.PathLike, tempo_bpm: float = DEFAULT_TEMPO_BPM
) -> None:
    """Write a chorale as MusicXML (``.musicxml``/``.xml`` plain, ``.mxl`` compressed)."""
    score = to_score(chorale, tempo_bpm)
    suffix = Path(path).suffix.lower()
    kind = "mxl" if suffix == ".mxl" else "musicxml"
    write_atomically(path, lambda temporary: score.write(kind, fp=str(temporary)))
