import json
from pathlib import Path

import numpy as np
import pytest

from counterpoint.data.melodies import STEPS_PER_BAR, read_melodies
from counterpoint.errors import FileFormatError
from counterpoint.music.notes import notes
from counterpoint.music.representation import SILENCE
from counterpoint.music.rules import VOICE_RANGES

MELODIES = Path(__file__).resolve().parents[1] / "examples" / "melodies.json"


@pytest.fixture(scope="module")
def melodies():
    return read_melodies(MELODIES)


def test_the_set_has_a_dozen_tunes_in_several_keys_and_metres(melodies):
    assert 12 <= len(melodies) <= 15
    assert len({m.key for m in melodies}) >= 8
    assert {m.metre for m in melodies} == set(STEPS_PER_BAR)
    assert not any("bach" in m.title.lower() for m in melodies)


def test_the_set_has_repeated_notes_rests_and_ties_over_barlines(melodies):
    repeated = rests = ties = 0
    for melody in melodies:
        sounding = melody.sounding()
        pairs = zip(sounding, sounding[1:], strict=False)
        repeated += sum(a[0] == b[0] and a[1] + a[2] == b[1] for a, b in pairs)
        rests += sum(pitch == SILENCE for pitch, _, _ in melody.notes)
        bar = melody.steps_per_bar
        ties += sum(start // bar != (start + length - 1) // bar for pitch, start, length in sounding)
    assert repeated >= 50 and rests >= 3 and ties >= 2


def test_a_melody_becomes_a_pitch_line_with_its_onsets(melodies):
    for melody in melodies:
        pitches, onset = melody.line()
        assert pitches.shape == onset.shape == (melody.steps,)
        # the notes come back note for note: repeated notes stay two notes, rests stay rests
        assert notes(pitches, onset) == [(start, length, pitch) for pitch, start, length in melody.sounding()]
        assert not onset[pitches == SILENCE].any()


def test_every_melody_fits_a_soprano_after_the_smallest_octave_shift(melodies):
    low, high = VOICE_RANGES[0]
    for melody in melodies:
        pitches = np.array([pitch for pitch, _, _ in melody.sounding()])
        shifts = [
            12 * k for k in range(-3, 4) if low <= pitches.min() + 12 * k and pitches.max() + 12 * k <= high
        ]
        assert shifts, f"{melody.title} ({pitches.min()}..{pitches.max()}) fits no soprano octave"
        shift = min(shifts, key=abs)
        assert low <= pitches.min() + shift and pitches.max() + shift <= high


def test_a_broken_melody_file_is_one_sentence(tmp_path):
    path = tmp_path / "set.json"
    path.write_text(
        json.dumps(
            {
                "melodies": [
                    {"title": "Gap", "key": "C major", "metre": "4/4", "notes": [[60, 0, 4], [62, 8, 4]]}
                ]
            }
        )
    )
    with pytest.raises(FileFormatError, match="Gap: the note at 16th 8 does not follow"):
        read_melodies(path)
    path.write_text("not json")
    with pytest.raises(FileFormatError, match="set.json: not a melody set"):
        read_melodies(path)
    path.write_text(
        json.dumps({"melodies": [{"title": "Waltz", "key": "C", "metre": "6/8", "notes": [[60, 0, 6]]}]})
    )
    with pytest.raises(FileFormatError, match="metre 6/8"):
        read_melodies(path)
