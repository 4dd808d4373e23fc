"""How often counterpoint spells a note as the editors of music21's Bach chorales did.

Every four-part Bach chorale that music21 ships as MusicXML has every note spelled by an
editor. This takes each one's notes as bare MIDI pitches on the 16th-note grid, as if read
from a MIDI file without a key signature, spells them with :func:`counterpoint.music.spelling.
spell_chorale`, and compares with the editors' names: the letter and alteration, and the
octave too (B-sharp 3 is not C4). Twice: with the key estimated from the notes, and with the
key signature of the file given. It also compares the accidentals printed within each bar
(:func:`counterpoint.music.spelling.accidentals`) with those the editors printed.

    PYTHONPATH=src nice python benchmarks/spelling.py            # all chorales, 5-15 minutes
    PYTHONPATH=src python benchmarks/spelling.py --limit 20      # a quick check
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from counterpoint.music.spelling import Spelling, accidentals, spell_chorale

STEPS_PER_QUARTER = 4
VOICE_NAMES = ("soprano", "alto", "tenor", "bass")


@dataclass
class WrittenNote:
    """One note as the editors wrote it (a tied note is several)."""

    voice: int
    start: int  # 16th step
    end: int
    midi: int
    spelling: Spelling
    bar: int
    printed: bool  # the editors printed an accidental on it
    tied: bool  # tied over from the note before


def corpus_paths() -> list[Path]:
    """music21's Bach files with editors' spellings (MusicXML; not Humdrum or RomanText)."""
    from music21 import corpus

    return sorted(
        (Path(p) for p in corpus.getComposer("bach") if Path(p).suffix in {".mxl", ".xml", ".musicxml"}),
        key=lambda p: p.name,
    )


def four_parts(score) -> list | None:
    """The sung parts: all parts if four, else those named soprano/alto/tenor/bass."""
    parts = list(score.parts)
    if len(parts) == 4:
        return parts
    named = {}
    for part in parts:
        label = (part.partName or part.id or "").strip().lower()
        for voice in VOICE_NAMES:
            if label.startswith(voice) and voice not in named:
                named[voice] = part
    return [named[v] for v in VOICE_NAMES] if len(named) == 4 else None


def written_notes(parts) -> list[WrittenNote]:
    """Every written note; a chord keeps its top note in soprano and alto and its bottom note
    in tenor and bass, as counterpoint reads a file."""
    from music21 import chord

    result = []
    for voice, part in enumerate(parts):
        for element in part.flatten().notes:
            pitches = sorted(element.pitches, key=lambda p: p.midi)
            pitch = (
                (pitches[-1] if voice < 2 else pitches[0])
                if isinstance(element, chord.Chord)
                else element.pitch
            )
            start = round(float(element.offset) * STEPS_PER_QUARTER)
            end = round(float(element.offset + element.quarterLength) * STEPS_PER_QUARTER)
            alter = int(pitch.accidental.alter) if pitch.accidental is not None else 0
            result.append(
                WrittenNote(
                    voice,
                    start,
                    end,
                    pitch.midi,
                    Spelling(pitch.step, alter, pitch.octave),
                    element.measureNumber or 0,
                    bool(pitch.accidental is not None and pitch.accidental.displayStatus),
                    element.tie is not None and element.tie.type in ("stop", "continue"),
                )
            )
    return result


def grid(written: list[WrittenNote]) -> tuple[np.ndarray, np.ndarray]:
    """The chorale ``(steps, 4)`` and its onsets, as a MIDI file would give them."""
    steps = max(note.end for note in written)
    chorale = np.full((steps, 4), -1, dtype=np.int64)
    onset = np.zeros((steps, 4), dtype=bool)
    for note in written:
        if note.end <= note.start:
            continue  # shorter than half a 16th: not on the grid
        chorale[note.start : note.end, note.voice] = note.midi
        if not note.tied:
            onset[note.start, note.voice] = True
    return chorale, onset


def measure(path: Path, counts: Counter, courtesy: bool = False) -> None:
    from music21 import corpus

    score = corpus.parse(str(path))
    parts = four_parts(score)
    if parts is None:
        counts["skipped"] += 1
        return
    signatures = parts[0].flatten().getElementsByClass("KeySignature")
    fifths = signatures[0].sharps if signatures else 0
    written = written_notes(parts)
    chorale, onset = grid(written)
    counts["chorales"] += 1
    # the notes as struck (a tied note is one), still on the grid with their own pitch
    struck = [n for n in written if not n.tied and n.end > n.start and chorale[n.start, n.voice] == n.midi]
    counts["notes"] += len(struck)
    counts["off grid"] += sum(1 for n in written if not n.tied) - len(struck)
    for label, key in (("estimated", None), ("given", fifths)):
        names = spell_chorale(chorale, onset, key)
        for note in struck:
            ours = Spelling.parse(names[note.start, note.voice])
            counts[label, "letter"] += (ours.letter, ours.alter) == (
                note.spelling.letter,
                note.spelling.alter,
            )
            counts[label, "octave"] += ours == note.spelling
        # accidentals, voice by voice, over the written notes (tied ones included)
        for voice in range(4):
            line = [
                n
                for n in written
                if n.voice == voice and n.end > n.start and chorale[n.start, voice] == n.midi
            ]
            ours = [Spelling.parse(names[n.start, voice]) for n in line]
            printed = accidentals(ours, [n.bar for n in line], fifths, [n.tied for n in line], courtesy)
            for note, sign in zip(line, printed, strict=True):
                counts[label, "written"] += 1
                counts[label, "accidental"] += (sign is not None) == note.printed
                counts[label, "editors print"] += note.printed
                counts[label, "we print"] += sign is not None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="only the first N chorale files")
    parser.add_argument("--courtesy", action="store_true", help="print courtesy accidentals after a barline")
    args = parser.parse_args()
    paths = corpus_paths()[: args.limit]
    counts: Counter = Counter()
    began = time.perf_counter()
    for path in paths:
        measure(path, counts, args.courtesy)
    notes = counts["notes"]
    print(
        f"music21 Bach chorales: {counts['chorales']} of {len(paths)} files with four parts, "
        f"{notes} notes ({counts['off grid']} shorter than a 16th left out), "
        f"{time.perf_counter() - began:.0f} s"
    )
    print(f"{'key':<34}{'letter+alter':>14}{'with octave':>13}{'differ':>8}{'accidentals':>13}")
    rows = (("estimated", "estimated from the notes (MIDI)"), ("given", "signature given (from the file)"))
    for label, title in rows:
        letter = 100 * counts[label, "letter"] / notes
        octave = 100 * counts[label, "octave"] / notes
        printed = 100 * counts[label, "accidental"] / counts[label, "written"]
        differ = notes - counts[label, "octave"]
        print(f"{title:<34}{letter:>13.2f}%{octave:>12.2f}%{differ:>8}{printed:>12.2f}%")
    print(
        f"accidentals: printed or not as the editors did, over {counts['given', 'written']} written notes"
        f"{' (courtesy accidentals after a barline)' if args.courtesy else ''}; editors print "
        f"{counts['given', 'editors print']}, we print {counts['given', 'we print']} (signature given)"
    )


if __name__ == "__main__":
    main()
