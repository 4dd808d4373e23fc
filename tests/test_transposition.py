"""Any key, any octave: a melody whose span a voice can sing is harmonized wherever it is written
and comes back note for note; a span too wide is one sentence (CLI exit 2, server 422)."""

import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from counterpoint.cli import app
from counterpoint.data import masks
from counterpoint.errors import PitchOutOfRangeError
from counterpoint.io.midi import write_midi
from counterpoint.music.representation import SILENCE, transpose
from counterpoint.music.rules import VOICE_RANGES
from counterpoint.music.transposition import DEFAULT_RULE, choose_shift, fitting_shifts, limits, pitch_name
from counterpoint.sampling.config import SamplerConfig
from counterpoint.server import ServerSettings, create_app
from counterpoint.tasks import harmonize, melody_to_chorale

FAST = SamplerConfig(passes=2)
# B-flat 3 up to F5 and back (19 semitones: a soprano sings 21, but no octave shift fits)
LOW_AND_HIGH = np.repeat([58, 62, 65, 70, 74, 77, 72, 70], 2)
# F-sharp major from F-sharp 5 up to F-sharp 6: a soprano's span, an octave above a soprano
F_SHARP_HIGH = np.repeat([78, 80, 82, 83, 85, 87, 89, 90], 2)
# B-flat 2 to C-sharp 5: 27 semitones, wider than any soprano
TOO_WIDE = np.repeat([46, 60, 73, 65], 2)
TOO_WIDE_SENTENCE = "the melody spans 27 semitones (B♭2 to C♯5); a soprano sings at most 21 (C4 to A5)"


def _shift(melody: np.ndarray, rule: str = "octave") -> int:
    return choose_shift(melody_to_chorale(melody), masks.harmonize_mask(len(melody), [0]), rule)


def _written_in_range(result) -> bool:
    """The written voices, moved by the shift the model wrote at, lie in their ranges."""
    moved = transpose(result.chorale, result.shift)
    return all(
        low <= pitch <= high
        for voice, (low, high) in enumerate(VOICE_RANGES)
        if voice
        for pitch in moved[:, voice][moved[:, voice] != SILENCE]
    )


def test_the_rule_keeps_an_octave_where_one_fits_and_else_moves_least():
    assert _shift(np.array([62, 69, 71])) == 0
    assert _shift(np.array([62, 69, 71]) + 24) == -24
    assert _shift(LOW_AND_HIGH) == 2  # into C4..G5: the least move that fits
    assert fitting_shifts(melody_to_chorale(LOW_AND_HIGH), masks.harmonize_mask(16, [0])) == [2, 3, 4]
    assert _shift(F_SHARP_HIGH) == -12


def test_the_key_rule_moves_to_the_nearest_key_the_model_knows_well():
    assert _shift(np.array([62, 66, 69, 67, 66, 64, 62]), "key") == 0  # D major: well known
    assert _shift(F_SHARP_HIGH, "key") == -11  # F-sharp major written in G major
    # the register rule also centres the span where Bach's sopranos sit (middle B-flat 4)
    assert _shift(np.array([62, 66, 69, 71]), "register") == 3  # D major 62..71 -> F major
    assert _shift(F_SHARP_HIGH, "register") == -13  # F-sharp 5..6 -> F major, middle A4
    with pytest.raises(ValueError, match="unknown transposition rule"):
        _shift(F_SHARP_HIGH, "fifths")


def test_a_melody_from_b_flat_3_to_f5_is_harmonized_and_comes_back_exactly(tiny_model):
    result = harmonize(tiny_model, LOW_AND_HIGH, sampler=FAST)
    np.testing.assert_array_equal(result.chorale[:, 0], LOW_AND_HIGH)
    assert result.shift == 2 and (result.chorale[:, 1:] != SILENCE).all() and _written_in_range(result)


def test_a_melody_in_f_sharp_major_high_up_comes_back_in_its_own_octave(tiny_model):
    result = harmonize(tiny_model, F_SHARP_HIGH, sampler=FAST)
    np.testing.assert_array_equal(result.chorale[:, 0], F_SHARP_HIGH)
    # written about an octave down, and the harmony moved back up with it
    assert result.shift == _shift(F_SHARP_HIGH, DEFAULT_RULE) in (-13, -12, -11) and _written_in_range(result)
    assert result.chorale[:, 3].min() >= VOICE_RANGES[3][0] + 11


def test_a_span_too_wide_is_one_sentence(tiny_model):
    with pytest.raises(PitchOutOfRangeError) as error:
        harmonize(tiny_model, TOO_WIDE, sampler=FAST)
    assert str(error.value) == TOO_WIDE_SENTENCE
    # given voices that each fit, but not under one shift
    apart = np.full((2, 4), SILENCE)
    apart[:, 0], apart[:, 3] = [58, 59], [60, 66]
    with pytest.raises(PitchOutOfRangeError) as error:
        harmonize(tiny_model, apart, [0, 3], sampler=FAST)
    assert str(error.value) == (
        "the given soprano and bass are too far apart to move into their ranges together: the "
        "soprano must move up 2 semitones or more and the bass may move up 0 at most"
    )


def test_notes_too_low_for_a_harmony_in_midi_are_one_sentence(tiny_model):
    # a soprano at MIDI 10..20 would put the bass below MIDI 0 once moved back
    with pytest.raises(PitchOutOfRangeError, match="lie too low for the other voices to be written below"):
        harmonize(tiny_model, np.array([10, 15, 20]), sampler=FAST)
    assert fitting_shifts(melody_to_chorale(np.array([24, 30])), masks.harmonize_mask(2, [0]))[-1] == 36


def test_pitch_names():
    assert [pitch_name(p) for p in (58, 60, 61, 81, 46)] == ["B♭3", "C4", "C♯4", "A5", "B♭2"]


def test_a_span_too_wide_exits_2_from_the_cli(tmp_path, tiny_checkpoint):
    melody = tmp_path / "wide.mid"
    write_midi(melody_to_chorale(TOO_WIDE), melody)
    result = CliRunner().invoke(
        app, ["harmonize", str(melody), "-o", str(tmp_path / "out.mid"), "-c", str(tiny_checkpoint)]
    )
    assert result.exit_code == 2 and TOO_WIDE_SENTENCE in result.output
    assert "Traceback" not in result.output and not (tmp_path / "out.mid").exists()


def test_the_server_says_the_sentence_with_422_and_health_gives_the_limits(tiny_model):
    with TestClient(create_app(ServerSettings(batch_window_s=0.005), model=tiny_model)) as client:
        rows = [[int(p), -1, -1, -1] for p in TOO_WIDE]
        response = client.post("/api/harmonize", json={"chorale": rows, "passes": 2})
        assert response.status_code == 422 and response.json()["error"] == TOO_WIDE_SENTENCE
        rows = [[int(p), -1, -1, -1] for p in LOW_AND_HIGH]
        data = client.post("/api/harmonize", json={"chorale": rows, "passes": 2}).json()
        assert np.array(data["chorales"][0])[:, 0].tolist() == LOW_AND_HIGH.tolist()
        health = client.get("/api/health").json()
    assert health["transposition"] == limits()
    assert health["transposition"]["max_span"] == [21, 22, 23, 30]
