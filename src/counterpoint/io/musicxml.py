"""MusicXML in and out (music21).

Reading: tied notes are one note (ties stripped), a repeated note stays two; the parts go to
voices by :mod:`counterpoint.io.lines`; the file's key signature, time signature and title are
kept. Writing: four parts with clefs, title, composer and arranger lines, the piece's time
signature and key signature, notes spelled by :mod:`counterpoint.music.spelling` with the
accidentals a bar prints (an F-sharp then an F in one bar shows a natural), and notes longer
than their bar tied over the barline.
"""

from __future__ import annotations

import datetime
import os
from pathlib import Path

import numpy as np

from counterpoint.errors import FileFormatError
from counterpoint.io.files import DEFAULT_TEMPO_BPM, existing_file, write_atomically
from counterpoint.io.lines import Event, melody, parts_to_piece
from counterpoint.music.notes import segments
from counterpoint.music.piece import DEFAULT_TIME_SIGNATURE, Piece, written_metre
from counterpoint.music.representation import NUM_VOICES, SILENCE, STEPS_PER_QUARTER, VOICES
from counterpoint.music.spelling import Spelling, accidentals, chorale_key, spell_chorale

COMPOSER = "counterpoint"
DEFAULT_ARRANGER = "harmonized by counterpoint (Coconet, counterpoint by convolution)"


def _part_events(part, parts: int, index: int, strip_ties: bool = True) -> list[Event]:
    """A part's notes in 16ths. In a score of several parts, a chord keeps its top note for
    soprano and alto and its bottom note for tenor and bass (Bach's final chords sometimes
    split a voice); a single part keeps every note of a chord (it is split into voices)."""
    from music21 import chord, note

    found: list[Event] = []
    for element in (part.stripTies() if strip_ties else part).flatten().notes:
        start = float(element.offset) * STEPS_PER_QUARTER
        end = float(element.offset + element.quarterLength) * STEPS_PER_QUARTER
        if isinstance(element, chord.Chord):
            midis = sorted(p.midi for p in element.pitches)
            if parts > 1:
                midis = [midis[-1] if index < 2 else midis[0]]
            found.extend((start, end, pitch) for pitch in midis)
        elif isinstance(element, note.Note):
            found.append((start, end, element.pitch.midi))
    return found


def score_to_chorale(score, name: str) -> np.ndarray:
    """The pitches of an editor's four-part score (the training corpus), voices in the score's
    order; a part's second voice is cut where the next note begins."""
    parts = list(score.parts)
    lines = [
        melody(_part_events(part, len(parts), index, strip_ties=False), name, VOICES[index], strict=False)
        for index, part in enumerate(parts)
    ]
    steps = max((end for line in lines for _, end, _ in line), default=0)
    if not steps:
        raise FileFormatError(f"{name}: no notes found")
    chorale = np.full((steps, NUM_VOICES), SILENCE, dtype=np.int64)
    for voice, line in enumerate(lines):
        for start, end, pitch in line:
            chorale[start:end, voice] = pitch
    return chorale


def _facts(score) -> tuple[int | None, str, str | None]:
    """The score's first key signature (fifths), first time signature and title."""
    flat = score.flatten()
    signatures = flat.getElementsByClass("KeySignature")
    metres = flat.getElementsByClass("TimeSignature")
    fifths = int(signatures[0].sharps) if len(signatures) else None
    metre = written_metre(metres[0].ratioString) if len(metres) else DEFAULT_TIME_SIGNATURE
    title = score.metadata.bestTitle if getattr(score, "metadata", None) is not None else None
    return fifths, metre, title


def score_to_piece(score, name: str, melody_only: bool = False) -> Piece:
    """The piece of a music21 score: its parts given to voices (see :mod:`counterpoint.io.lines`)."""
    parts = list(score.parts) if hasattr(score, "parts") and len(score.parts) else [score]
    events = [_part_events(part, len(parts), index) for index, part in enumerate(parts)]
    if melody_only:
        for part in events:
            melody(part, name)
    fifths, metre, title = _facts(score)
    return parts_to_piece(events, name, fifths, metre, title or Path(name).stem)


def _parse_score(path: Path):
    from music21 import converter

    try:
        return converter.parse(str(path))
    except Exception:  # music21 raises many types for malformed files
        raise FileFormatError(f"{path.name}: not a readable MusicXML file") from None


def read_musicxml_piece(path: str | os.PathLike, melody_only: bool = False) -> Piece:
    """The piece a MusicXML file holds; with ``melody_only``, chords and overlaps are refused."""
    path = existing_file(path)
    return score_to_piece(_parse_score(path), path.name, melody_only)


def read_musicxml(path: str | os.PathLike) -> np.ndarray:
    """The pitches ``(steps, 4)`` of :func:`read_musicxml_piece`."""
    return read_musicxml_piece(path).pitches


def _bar_notes(line: np.ndarray, onset: np.ndarray, bar: int) -> list[tuple[int, int, int, bool]]:
    """A voice's notes and rests as ``(start, length, pitch, tied_over)``, cut at barlines: a
    note that crosses a barline goes on tied (``tied_over`` is True for the later parts)."""
    result = []
    for start, length, pitch in segments(line, onset):
        end, first = start + length, True
        while start < end:
            stop = min(end, (start // bar + 1) * bar)
            result.append((start, stop - start, pitch, not first and pitch != SILENCE))
            start, first = stop, False
    return result


def _music21_name(spelling: Spelling) -> str:
    return f"{spelling.letter}{'#' * max(spelling.alter, 0)}{'-' * max(-spelling.alter, 0)}{spelling.octave}"


def _measures(piece: Piece, voice: int, names: np.ndarray, fifths: int) -> list:
    """One voice's music21 measures: its notes cut at barlines and tied, each spelled as
    ``names`` says, with the accidentals its bars print."""
    from music21 import note, stream, tie
    from music21 import pitch as m21pitch

    bar = piece.steps_per_bar
    written = _bar_notes(piece.pitches[:, voice], piece.onset[:, voice], bar)
    sounding = [entry for entry in written if entry[2] != SILENCE]
    spellings = [Spelling.parse(names[start, voice]) for start, *_ in sounding]
    bars = [start // bar for start, *_ in sounding]
    shown = iter(accidentals(spellings, bars, fifths, [entry[3] for entry in sounding]))
    spelled = iter(spellings)
    measures = [stream.Measure(number=number + 1) for number in range(-(-piece.steps // bar))]
    tied_on = [entry[3] for entry in written[1:]] + [False]
    for (start, length, pitch, tied_over), tied_next in zip(written, tied_on, strict=True):
        duration = length / STEPS_PER_QUARTER
        if pitch == SILENCE:
            measures[start // bar].append(note.Rest(quarterLength=duration))
            continue
        element = note.Note(_music21_name(next(spelled)), quarterLength=duration)
        sign = next(shown)
        if sign is not None and element.pitch.accidental is None:
            element.pitch.accidental = m21pitch.Accidental("natural")
        if element.pitch.accidental is not None:  # printed only where the bar needs it
            element.pitch.accidental.displayStatus = sign is not None
        if tied_over or tied_next:
            kind = "continue" if tied_over and tied_next else "stop" if tied_over else "start"
            element.tie = tie.Tie(kind)
        measures[start // bar].append(element)
    return measures


def to_score(
    piece: Piece | np.ndarray,
    tempo_bpm: float = DEFAULT_TEMPO_BPM,
    onset: np.ndarray | None = None,
    arranger: str = DEFAULT_ARRANGER,
):
    """A music21 score of a piece (or a chorale array with optional ``onset``): title,
    composer and arranger, four parts with clefs, time and key signature, spelled notes."""
    from music21 import clef, key, metadata, meter, stream, tempo

    piece = Piece.of(piece, onset)
    signature = chorale_key(piece.pitches, piece.onset, piece.fifths)
    names = spell_chorale(piece.pitches, piece.onset, signature)
    score = stream.Score()
    score.metadata = metadata.Metadata()
    score.metadata.title = piece.title or f"Chorale, {datetime.date.today().isoformat()}"
    score.metadata.composer = COMPOSER
    score.metadata.add("arranger", arranger)
    clefs = [clef.TrebleClef, clef.TrebleClef, clef.Treble8vbClef, clef.BassClef]
    for voice in range(NUM_VOICES):
        part = stream.Part(id=VOICES[voice].capitalize())
        part.partName = VOICES[voice].capitalize()
        measures = _measures(piece, voice, names, signature.fifths)
        metre = meter.TimeSignature(piece.time_signature)
        signs = (clefs[voice](), key.KeySignature(signature.fifths), metre)
        for sign in signs:
            measures[0].insert(0, sign)
        if voice == 0:
            measures[0].insert(0, tempo.MetronomeMark(number=tempo_bpm))
        part.append(measures)
        score.insert(0, part)
    return score


def write_musicxml(
    piece: Piece | np.ndarray,
    path: str | os.PathLike,
    tempo_bpm: float = DEFAULT_TEMPO_BPM,
    onset: np.ndarray | None = None,
    arranger: str = DEFAULT_ARRANGER,
) -> None:
    """Write a piece as MusicXML (``.musicxml``/``.xml`` plain, ``.mxl`` compressed)."""
    score = to_score(piece, tempo_bpm, onset, arranger)
    kind = "mxl" if Path(path).suffix.lower() == ".mxl" else "musicxml"
    write_atomically(path, lambda temporary: score.write(kind, fp=str(temporary)))
