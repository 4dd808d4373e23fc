import numpy as np
import pytest

from counterpoint.errors import PitchOutOfRangeError, ShapeError
from counterpoint.music.notes import notes, onsets
from counterpoint.music.representation import (
    DEFAULT_RANGE,
    SILENCE,
    PitchRange,
    from_pianoroll,
    parse_voices,
    to_pianoroll,
    transpose,
    transposition_range,
)


def test_one_hot_round_trip_on_real_chorales(bach):
    for piece in bach.test[:10]:
        roll = to_pianoroll(piece)
        assert roll.shape == (4, len(piece), 46)
        assert set(np.unique(roll.sum(-1))) <= {0.0, 1.0}
        np.testing.assert_array_equal(from_pianoroll(roll), piece)


def test_silence_is_an_all_zero_row():
    chorale = np.array([[60, 55, SILENCE, 48], [62, 55, 50, 48]])
    roll = to_pianoroll(chorale)
    assert roll[2, 0].sum() == 0
    assert roll[0, 0, 60 - 36] == 1
    np.testing.assert_array_equal(from_pianoroll(roll), chorale)


def test_configurable_range():
    small = PitchRange(48, 72)
    chorale = np.array([[72, 60, 55, 48]])
    roll = to_pianoroll(chorale, small)
    assert roll.shape == (4, 1, 25)
    np.testing.assert_array_equal(from_pianoroll(roll, small), chorale)
    with pytest.raises(PitchOutOfRangeError, match="outside the model's range 48..72"):
        to_pianoroll(np.array([[80, 60, 55, 48]]), small)


@pytest.mark.parametrize("bad", [np.zeros((3, 3)), np.zeros((0, 4)), np.full((2, 4), 60.5)])
def test_bad_shapes(bad):
    with pytest.raises(ShapeError):
        to_pianoroll(bad)


def test_transposition_keeps_range(bach):
    for piece in bach.train[:20]:
        low, high = transposition_range(piece)
        assert low <= 0 <= high
        for shift in (low, high):
            moved = transpose(piece, shift)
            sounding = moved[moved != SILENCE]
            assert sounding.min() >= DEFAULT_RANGE.low and sounding.max() <= DEFAULT_RANGE.high
        assert (transpose(piece, high)[piece == SILENCE] == SILENCE).all()


def test_notes_merge_held_steps_and_onsets():
    line = np.array([60, 60, 62, SILENCE, 62, 62])
    assert notes(line) == [(0, 2, 60), (2, 1, 62), (4, 2, 62)]
    chorale = np.stack([line] * 4, axis=1)
    assert onsets(chorale)[:, 0].tolist() == [True, False, True, False, True, False]


def test_parse_voices():
    assert parse_voices("alto, tenor") == [1, 2]
    assert parse_voices(["S", "bass"]) == [0, 3]
    with pytest.raises(ValueError, match="unknown voice 'viola'"):
        parse_voices("viola")
