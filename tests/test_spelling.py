import numpy as np
import pytest

from counterpoint.music.representation import SILENCE
from counterpoint.music.spelling import (
    Key,
    Spelling,
    accidentals,
    chorale_key,
    estimate_key,
    spell,
    spell_chorale,
)


def names(pitches, key=None, lengths=None, voices=None):
    """Spell one line of notes played one after another."""
    lengths = lengths or [1] * len(pitches)
    onsets = [sum(lengths[:i]) for i in range(len(pitches))]
    return [s.name for s in spell(pitches, onsets, lengths, key, voices)]


def test_a_spelling_reads_and_writes_its_name():
    for text in ("C4", "F#4", "Bb3", "Cbb5", "E##2", "B#3", "Cb4"):
        assert Spelling.parse(text).name == text
    assert Spelling.parse("B#3").midi == 60 == Spelling.parse("Dbb4").midi
    assert Spelling.parse("Cb4").midi == 59
    assert Spelling.at(70, -2) == Spelling("B", -1, 4)
    assert Spelling.at(70, 10) == Spelling("A", 1, 4)
    with pytest.raises(ValueError, match="not a note name"):
        Spelling.parse("H4")
    with pytest.raises(ValueError, match="does not name"):
        Spelling.at(60, 1)


def test_keys_have_names_and_signatures():
    assert Key.parse("G minor") == Key(-2, "minor")
    assert Key.parse("Bb major") == Key(-2, "major") == Key.parse("Bb")
    assert Key.parse("F#m") == Key(3, "minor")
    assert Key(3, "minor").name == "F# minor"
    assert Key(-3).name == "Eb major"
    assert [Key(2).signature_alter(letter) for letter in "CDEFGAB"] == [1, 0, 0, 1, 0, 0, 0]
    assert [Key(-3).signature_alter(letter) for letter in "CDEFGAB"] == [0, 0, -1, 0, 0, -1, -1]
    with pytest.raises(ValueError, match="not a key"):
        Key.parse("H dorian")


def test_c_major_scale_is_spelled_with_naturals():
    scale = [60, 62, 64, 65, 67, 69, 71, 72]
    assert names(scale) == ["C4", "D4", "E4", "F4", "G4", "A4", "B4", "C5"]
    assert names(scale, Key(0)) == names(scale)


def test_a_chromatic_note_is_spelled_by_its_context():
    # in F major, C - B-flat - A in the bass reads with a flat, not A-sharp
    assert names([53, 57, 60, 53, 48, 46, 45, 53]) == ["F3", "A3", "C4", "F3", "C3", "Bb2", "A2", "F3"]
    # in E major the same pitch class is A-sharp, leading to B
    assert names([64, 68, 71, 76, 69, 70, 71, 64]) == ["E4", "G#4", "B4", "E5", "A4", "A#4", "B4", "E4"]


def test_a_chromatic_passing_note_moves_to_the_next_note_by_a_letter():
    # C major, rising D - D-sharp - E: with voices known, the D-sharp resolves up to E
    line = [60, 64, 67, 72, 60, 62, 63, 64, 65, 64, 62, 60]
    assert names(line, voices=[0] * len(line))[5:8] == ["D4", "D#4", "E4"]
    # and a lower chromatic neighbour: E - D-sharp - E
    assert names([64, 63, 64, 67, 72, 60], voices=[0] * 6)[:3] == ["E4", "D#4", "E4"]


def test_g_minor_has_flats_and_a_raised_leading_tone():
    # G - B-flat - D, D - F-sharp - A, G - B-flat - D, F-sharp - G
    piece = [67, 70, 74, 67, 62, 66, 69, 62, 67, 70, 74, 67, 66, 67]
    assert estimate_key(piece, [1] * len(piece)) == Key(-2, "minor")
    spelled = names(piece)
    assert spelled[1] == "Bb4" and spelled[5] == "F#4" and spelled[12] == "F#4"
    assert names(piece, Key(-2, "minor")) == spelled


def test_a_given_key_decides_between_enharmonic_keys():
    scale = [66, 68, 70, 71, 73, 75, 77, 78]
    assert names(scale, Key.parse("Gb major")) == ["Gb4", "Ab4", "Bb4", "Cb5", "Db5", "Eb5", "F5", "Gb5"]
    assert names(scale, Key.parse("F# major")) == ["F#4", "G#4", "A#4", "B4", "C#5", "D#5", "E#5", "F#5"]
    # the signature alone picks major or minor by the notes
    assert estimate_key(scale, [1] * 8, fifths=-6) == Key(-6, "major")
    assert names(scale, -6) == names(scale, Key.parse("Gb major"))


def test_a_key_signature_from_a_file_picks_its_mode():
    a_minor = [69, 72, 76, 69, 64, 68, 71, 64, 69]
    assert estimate_key(a_minor, [1] * len(a_minor), fifths=0) == Key(0, "minor")
    assert estimate_key([], [], fifths=2) == Key(2, "major")
    # six flats: E-flat minor with its D natural, although partitura calls that key D-sharp minor
    e_flat_minor = [63, 66, 70, 63, 58, 62, 65, 63]
    assert estimate_key(e_flat_minor, [1] * 8, fifths=-6) == Key(-6, "minor")
    assert names(e_flat_minor, -6) == ["Eb4", "Gb4", "Bb4", "Eb4", "Bb3", "D4", "F4", "Eb4"]


def test_keys_that_fit_alike_go_to_the_first_in_partitura_order():
    whole_tones = [60, 62, 64, 66, 68, 70]  # C, D, E, F-sharp, A-flat and B-flat major fit alike
    assert estimate_key(whole_tones, [1] * 6) == Key(0, "major")
    assert estimate_key([p + 1 for p in whole_tones], [1] * 6) == Key(-5, "major")  # D-flat first
    chromatic = list(range(60, 72))  # no key to hear: C major, or the signature's major
    assert estimate_key(chromatic, [1] * 12) == Key(0, "major")
    assert estimate_key(chromatic, [1] * 12, fifths=-3) == Key(-3, "major")


def test_voices_in_unison_share_one_name():
    import json
    from pathlib import Path

    from counterpoint.music.notes import notes

    # a G-minor chorale spelled in A major: PS13 names the alto's and the tenor's unison F
    # apart (E-sharp and F), in an order numpy's unstable sort chooses
    fixture = json.loads((Path(__file__).parent / "fixtures" / "chorales.json").read_text())
    chorale = np.array(fixture["valid"][5])
    found = [
        (start, length, pitch) for voice in range(4) for start, length, pitch in notes(chorale[:, voice])
    ]
    starts, lengths, pitches = zip(*found, strict=True)
    spelled = spell(pitches, starts, lengths, Key(3))
    unison = [
        s.name for (start, _, pitch), s in zip(found, spelled, strict=True) if (start, pitch) == (118, 65)
    ]
    assert len(unison) == 2 and len(set(unison)) == 1


def test_spell_chorale_names_every_sounding_step():
    chorale = np.array(
        [
            [67, 62, 58, 43],
            [67, 62, 58, 43],
            [66, 62, 57, 50],
            [67, SILENCE, 58, 43],
        ]
    )
    onset = np.array([[1, 1, 1, 1], [1, 0, 0, 0], [1, 1, 1, 1], [1, 0, 1, 1]], dtype=bool)
    spelled = spell_chorale(chorale, onset)
    assert spelled.shape == chorale.shape
    assert spelled[:, 0].tolist() == ["G4", "G4", "F#4", "G4"]
    assert spelled[:, 1].tolist() == ["D4", "D4", "D4", ""]
    assert spelled[:, 2].tolist() == ["Bb3", "Bb3", "A3", "Bb3"]
    assert spell_chorale(np.full((3, 4), SILENCE)).tolist() == [[""] * 4] * 3
    assert chorale_key(chorale, onset) == Key(-2, "minor") == chorale_key(chorale, onset, fifths=-2)
    # a one-sharp signature: G major (the notes centre on G), not E minor
    assert chorale_key(chorale, onset, fifths=1) == Key(1, "major")
    assert names([60]) == ["C4"] and names([61])[0] in ("C#4", "Db4") and names([]) == []


def test_a_pitch_outside_midi_is_one_sentence():
    with pytest.raises(ValueError, match="128 is not a MIDI pitch"):
        spell([60, 128], [0, 1], [1, 1])


def notes_in(text):
    return [Spelling.parse(name) for name in text.split()]


def test_an_accidental_is_cancelled_within_a_bar():
    # F-sharp then F in one bar: the F prints a natural
    assert accidentals(notes_in("F#4 F4"), [1, 1], 0) == ["sharp", "natural"]
    # a second F-sharp in the bar prints nothing; the next bar starts again
    assert accidentals(notes_in("F#4 G4 F#4 F#4"), [1, 1, 1, 2], 0) == ["sharp", None, None, "sharp"]
    # an accidental holds for its octave only
    assert accidentals(notes_in("F#4 F5"), [1, 1], 0) == ["sharp", None]


def test_accidentals_follow_the_key_signature():
    # G major: F-sharp is in the signature, F natural is not
    assert accidentals(notes_in("F#4 F4 F#4 Bb4"), [1, 1, 1, 1], 1) == [None, "natural", "sharp", "flat"]
    # E-flat major: A-natural, then A-flat again in the same bar
    assert accidentals(notes_in("Ab4 A4 Ab4"), [1, 1, 1], -3) == [None, "natural", "flat"]


def test_a_tied_note_prints_nothing_and_carries_nothing():
    # C-sharp tied over the barline, then C-sharp again in the new bar: printed again
    printed = accidentals(notes_in("C#5 C#5 C#5"), [1, 2, 2], 0, tied=[False, True, False])
    assert printed == ["sharp", None, "sharp"]


def test_courtesy_accidentals_after_a_barline_are_optional():
    assert accidentals(notes_in("F#4 F4"), [1, 2], 0) == ["sharp", None]
    assert accidentals(notes_in("F#4 F4"), [1, 2], 0, courtesy=True) == ["sharp", "natural"]
    with pytest.raises(ValueError, match="one entry per note"):
        accidentals(notes_in("F#4 F4"), [1], 0)


def test_the_melody_set_is_spelled_in_its_own_keys():
    from pathlib import Path

    from counterpoint.data.melodies import read_melodies

    for melody in read_melodies(Path(__file__).resolve().parents[1] / "examples" / "melodies.json"):
        pitches, onsets, lengths = zip(*melody.sounding(), strict=True)
        estimated = spell(pitches, onsets, lengths)
        if melody.key.endswith("dorian"):  # D dorian: no flat, the B is natural
            assert {s.name[:-1] for s in estimated} <= set("CDEFGAB"), melody.title
            continue
        key = Key.parse(melody.key)
        assert spell(pitches, onsets, lengths, key) == estimated, melody.title
        # these tunes keep to their scale: every name lies in the key signature's seven
        assert all(key.fifths - 1 <= s.fifths <= key.fifths + 5 for s in estimated), melody.title
