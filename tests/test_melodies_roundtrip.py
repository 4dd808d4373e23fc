"""The melody set written out note for note: every repeated note, rest and tied note of every
tune survives the MIDI and MusicXML writers when the onsets travel with the pitches."""

from pathlib import Path

import numpy as np
import pytest

from counterpoint.data.melodies import read_melodies
from counterpoint.io.midi import midi_file
from counterpoint.io.musicxml import to_score
from counterpoint.music.representation import SILENCE, STEPS_PER_QUARTER

MELODIES = read_melodies(Path(__file__).resolve().parents[1] / "examples" / "melodies.json")


def as_chorale(melody):
    """The melody in the soprano, the other voices silent, with its onsets."""
    pitches, onset = melody.line()
    chorale = np.full((len(pitches), 4), SILENCE, dtype=np.int64)
    starts = np.zeros(chorale.shape, dtype=bool)
    chorale[:, 0], starts[:, 0] = pitches, onset
    return chorale, starts


@pytest.mark.parametrize("melody", MELODIES, ids=lambda m: m.title.split(" (")[0])
def test_midi_keeps_every_note(melody):
    chorale, starts = as_chorale(melody)
    midi = midi_file(chorale, onset=starts)
    ticks_per_step = midi.ticks_per_beat // STEPS_PER_QUARTER
    written, now, begun = [], 0, {}
    for message in midi.tracks[1]:
        now += message.time
        if message.type == "note_on" and message.velocity > 0:
            begun[message.note] = now
        elif message.type in ("note_on", "note_off"):
            start = begun.pop(message.note)
            written.append((message.note, start // ticks_per_step, (now - start) // ticks_per_step))
    assert written == melody.sounding()


@pytest.mark.parametrize("melody", MELODIES, ids=lambda m: m.title.split(" (")[0])
def test_a_score_keeps_every_note(melody):
    chorale, starts = as_chorale(melody)
    soprano = to_score(chorale, onset=starts).parts[0].stripTies().flatten().notes
    written = [
        (
            n.pitch.midi,
            round(float(n.offset) * STEPS_PER_QUARTER),
            round(float(n.quarterLength) * STEPS_PER_QUARTER),
        )
        for n in soprano
    ]
    assert written == melody.sounding()
