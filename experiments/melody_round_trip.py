"""How many melodies of ``examples/melodies.json`` come back note for note through the CLI:
each is written as a plain one-track MIDI file (its notes, its time signature, nothing else),
harmonized by ``counterpoint harmonize`` with the shipped model, and the output's soprano is
compared with the melody, note for note (pitches and where each note is struck) and metre.

    PYTHONPATH=src python experiments/melody_round_trip.py [--checkpoint jsb]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import mido
import numpy as np

from counterpoint.data.melodies import read_melodies
from counterpoint.io import read_piece

MELODIES = Path(__file__).resolve().parents[1] / "examples" / "melodies.json"


def one_track_midi(path: Path, melody) -> None:
    beats, unit = (int(part) for part in melody.metre.split("/"))
    track, now = mido.MidiTrack([mido.MetaMessage("time_signature", numerator=beats, denominator=unit)]), 0
    for pitch, onset, length in melody.sounding():
        track.append(mido.Message("note_on", note=pitch, velocity=64, time=(onset - now) * 120))
        track.append(mido.Message("note_off", note=pitch, velocity=0, time=length * 120))
        now = onset + length
    midi = mido.MidiFile(ticks_per_beat=480)
    midi.tracks.append(track)
    midi.save(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="jsb")
    args = parser.parse_args()
    melodies = read_melodies(MELODIES)
    kept = 0
    with tempfile.TemporaryDirectory() as folder:
        for index, melody in enumerate(melodies):
            source, output = Path(folder) / f"{index}.mid", Path(folder) / f"{index}-out.mid"
            one_track_midi(source, melody)
            command = [sys.executable, "-m", "counterpoint", "harmonize", str(source), "-o", str(output)]
            done = subprocess.run([*command, "-c", args.checkpoint], capture_output=True, text=True)
            if done.returncode:
                print(f"{melody.title}: refused: {done.stderr.strip()}")
                continue
            back, given = read_piece(output), melody.piece()
            same = (
                np.array_equal(back.pitches[:, 0], given.pitches[:, 0])
                and np.array_equal(back.onset[:, 0], given.onset[:, 0])
                and back.time_signature == melody.metre
            )
            kept += same
            print(f"{melody.title}: {'note for note' if same else 'CHANGED'}")
    print(f"{kept} of {len(melodies)} melodies come back note for note through MIDI harmonize")


if __name__ == "__main__":
    main()
