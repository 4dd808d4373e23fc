"""MusicXML in and out (music21).

Reading: tied notes are one note (ties stripped), a repeated note stays two; the parts go to
voices by :mod:`counterpoint.io.lines`; the file's key signature, time signature, title and
(first) tempo are kept, and a first measure shorter than its time signature says is a pickup.
Writing: four parts with clefs, title, composer and arranger lines, the piece's time
signature, key signature and tempo (a metronome mark, which music21 writes with its sound
tempo), notes spelled by :mod:`counterpoint.music.spelling` with the accidentals a bar prints
(an F-sharp then an F in one bar shows a natural), and notes longer than their bar tied over
the barline. A pickup is a short first measure, number 0, marked implicit (as notation
programs write an upbeat), so that MuseScore and others number the first full bar 1.
"""

from __future__ import annotations

import datetime
import os
from pathlib import Path

import numpy as np

from counterpoint.errors import FileFormatError
from counterpoint.io.files import existing_file, write_atomically
from counterpoint.io.lines import Event, melody, parts_to_piece
from counterpoint.music.notes import segments
from counterpoint.music.piece import DEFAULT_TIME_SIGNATURE, Piece, steps_per_bar, written_metre
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


def _facts(score) -> tuple[int | None, str, str | None, float | None]:
    """The score's first key signature (fifths), first time signature, title and first tempo
    (a metronome mark or a sound tempo, in quarter notes a minute)."""
    flat = score.flatten()
    signatures = flat.getElementsByClass("KeySignature")
    metres = flat.getElementsByClass("TimeSignature")
    marks = [mark.getQuarterBPM() for mark in flat.getElementsByClass("MetronomeMark")]
    fifths = int(signatures[0].sharps) if len(signatures) else None
    metre = written_metre(metres[0].ratioString) if len(metres) else DEFAULT_TIME_SIGNATURE
    title = score.metadata.bestTitle if getattr(score, "metadata", None) is not None else None
    tempo = next((float(bpm) for bpm in marks if bpm), None)
    return fifths, metre, title, tempo


def _pickup(part, metre: str) -> int:
    """16ths in a first measure shorter than a bar of ``metre`` (0: a full first measure)."""
    measures = part.getElementsByClass("Measure")
    if not len(measures):
        return 0
    length = round(float(measures[0].duration.quarterLength) * STEPS_PER_QUARTER)
    return length if 0 < length < steps_per_bar(metre) else 0


def score_to_piece(score, name: str, melody_only: bool = False) -> Piece:
    """The piece of a music21 score: its parts given to voices (see :mod:`counterpoint.io.lines`)."""
    parts = list(score.parts) if hasattr(score, "parts") and len(score.parts) else [score]
    events = [_part_events(part, len(parts), index) for index, part in enumerate(parts)]
    if melody_only:
        for part in events:
            melody(part, name)
    fifths, metre, title, tempo = _facts(score)
    pickup = _pickup(parts[0], metre)
    return parts_to_piece(events, name, fifths, metre, title or Path(name).stem, tempo, pickup)


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
    """The pitches ``(steps, 4)`` of :func:`read_musicxml_piece`, from a downbeat."""
    return read_musicxml_piece(path).aligned_pitches()


def _bar_notes(piece: Piece, voice: int) -> list[tuple[int, int, int, bool]]:
    """A voice's notes and rests as ``(start, length, pitch, tied_over)``, cut at barlines: a
    note that crosses a barline goes on tied (``tied_over`` is True for the later parts)."""
    result = []
    for start, length, pitch in segments(piece.pitches[:, voice], piece.onset[:, voice]):
        end, first = start + length, True
        while start < end:
            stop = min(end, (piece.bar_of(start) + 1) * piece.steps_per_bar - piece.lead)
            result.append((start, stop - start, pitch, not first and pitch != SILENCE))
            start, first = stop, False
    return result


def _music21_name(spelling: Spelling) -> str:
    return f"{spelling.letter}{'#' * max(spelling.alter, 0)}{'-' * max(-spelling.alter, 0)}{spelling.octave}"


def _empty_measures(piece: Piece) -> list:
    """The piece's music21 measures, empty: a pickup is measure 0, short and implicit (not
    counted), and the first full bar is measure 1."""
    from music21 import stream

    first = 0 if piece.pickup else 1
    measures = [stream.Measure(number=first + bar) for bar in range(piece.bar_of(piece.steps - 1) + 1)]
    if piece.pickup:
        measures[0].showNumber = stream.enums.ShowNumber.NEVER  # written implicit="yes"
        measures[0].paddingLeft = piece.lead / STEPS_PER_QUARTER
    return measures


def _measures(piece: Piece, voice: int, names: np.ndarray, fifths: int) -> list:
    """One voice's music21 measures: its notes cut at barlines and tied, each spelled as
    ``names`` says, with the accidentals its bars print."""
    from music21 import note, tie
    from music21 import pitch as m21pitch

    written = _bar_notes(piece, voice)
    sounding = [entry for entry in written if entry[2] != SILENCE]
    spellings = [Spelling.parse(names[start, voice]) for start, *_ in sounding]
    bars = [piece.bar_of(start) for start, *_ in sounding]
    shown = iter(accidentals(spellings, bars, fifths, [entry[3] for entry in sounding]))
    spelled = iter(spellings)
    measures = _empty_measures(piece)
    tied_on = [entry[3] for entry in written[1:]] + [False]
    for (start, length, pitch, tied_over), tied_next in zip(written, tied_on, strict=True):
        duration = length / STEPS_PER_QUARTER
        if pitch == SILENCE:
            measures[piece.bar_of(start)].append(note.Rest(quarterLength=duration))
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
        measures[piece.bar_of(start)].append(element)
    return measures


def to_score(
    piece: Piece | np.ndarray,
    tempo_bpm: float | None = None,
    onset: np.ndarray | None = None,
    arranger: str = DEFAULT_ARRANGER,
):
    """A music21 score of a piece (or a chorale array with optional ``onset``): title,
    composer and arranger, four parts with clefs, time and key signature, a metronome mark
    (``tempo_bpm``, else the piece's tempo), spelled notes, a pickup where the piece has one."""
    from music21 import clef, key, metadata, meter, stream, tempo

    piece = Piece.of(piece, onset).with_tempo(tempo_bpm)
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
            measures[0].insert(0, tempo.MetronomeMark(number=piece.tempo))
        part.append(measures)
        score.insert(0, part)
    return score


def write_musicxml(
    piece: Piece | np.ndarray,
    path: str | os.PathLike,
    tempo_bpm: float | None = None,
    onset: np.ndarray | None = None,
    arranger: str = DEFAULT_ARRANGER,
) -> None:
    """Write a piece as MusicXML (``.musicxml``/``.xml`` plain, ``.mxl`` compressed)."""
    score = to_score(piece, tempo_bpm, onset, arranger)
    kind = "mxl" if Path(path).suffix.lower() == ".mxl" else "musicxml"
    write_atomically(path, lambda temporary: score.write(kind, fp=str(temporary)))
