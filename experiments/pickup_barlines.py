"""Where the barlines of a piece with an upbeat fall in the files counterpoint writes (issue 39):
every four-part Bach chorale of music21's corpus whose first measure is short (a pickup), read
as counterpoint reads it and written back.

- MusicXML: are the measures numbered and placed as the editors placed them (a measure an editor
  split at a repeat sign counts as one)?
- MIDI, as written (the notes after the rest of the pickup's bar) and, for comparison, with the
  notes from the file's start (the other choice): where does music21, which puts bar 1 at the
  start of a MIDI file, put each soprano note in its bar, against where the editors put it? And
  does counterpoint read the pickup back?

    PYTHONPATH=src python experiments/pickup_barlines.py [--limit 40]
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import replace
from pathlib import Path

from music21 import converter, corpus

from counterpoint.io import read_piece, write_piece
from counterpoint.io.musicxml import score_to_piece
from counterpoint.music.piece import steps_per_bar


def bar_starts(score) -> list[tuple[int, float]]:
    starts: list[tuple[int, float]] = []
    for measure in score.parts[0].getElementsByClass("Measure"):
        if not starts or starts[-1][0] != measure.number:
            starts.append((measure.number, float(measure.offset)))
    return starts


def in_bar(score, lead: float, bar: float) -> list[float]:
    """Each soprano note's place in its bar (quarters), bar 1 starting ``lead`` before the file
    (tied notes are one note)."""
    return [round((float(n.offset) + lead) % bar, 3) for n in score.parts[0].stripTies().flatten().notes]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=40, help="chorales with a pickup to try")
    args = parser.parse_args()
    tried = xml_same = read_back = 0
    placed = {"after the rest of the bar": 0, "from the file's start": 0}
    notes = 0
    with tempfile.TemporaryDirectory() as folder:
        for path in corpus.getComposer("bach"):
            score = corpus.parse(path)
            if len(score.parts) != 4:
                continue
            piece = score_to_piece(score, Path(str(path)).name)
            if not piece.pickup or tried >= args.limit:
                continue
            tried += 1
            bar = steps_per_bar(piece.time_signature) / 4
            editors = in_bar(score, piece.lead / 4, bar)
            notes += len(editors)
            write_piece(piece, Path(folder) / "back.musicxml")
            xml_same += bar_starts(converter.parse(str(Path(folder) / "back.musicxml"))) == bar_starts(score)
            for way, written in (
                ("after the rest of the bar", piece),
                ("from the file's start", replace(piece, pickup=0)),
            ):
                write_piece(written, Path(folder) / "back.mid")
                music21 = in_bar(converter.parse(str(Path(folder) / "back.mid")), 0.0, bar)
                if len(music21) == len(editors):  # else: counted as misplaced
                    placed[way] += sum(a == b for a, b in zip(music21, editors, strict=True))
            read_back += read_piece(Path(folder) / "back.mid").pickup == 0  # the other way: lost
            write_piece(piece, Path(folder) / "back.mid")
            read_back += read_piece(Path(folder) / "back.mid").pickup == piece.pickup
    print(f"{tried} chorales with a pickup, {notes} soprano notes")
    print(f"MusicXML: measures numbered and placed as the editors did in {xml_same} of {tried}")
    for way, count in placed.items():
        print(f"MIDI with the notes {way}: music21 puts {count} of {notes} notes where the editors did")
    print(f"counterpoint reads the pickup back (and none from the other file): {read_back} of {2 * tried}")


if __name__ == "__main__":
    main()
