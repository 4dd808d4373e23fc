import json

import mido
import numpy as np
import pytest

from counterpoint.errors import (
    FileFormatError,
    MissingFileError,
    MultipleVoicesError,
    NotMonophonicError,
    TooManyVoicesError,
)
from counterpoint.io import read_chorale, read_melody, write_chorale
from counterpoint.io.midi import read_midi_chorale, write_midi
from counterpoint.io.musicxml import write_musicxml
from counterpoint.music.representation import SILENCE


def test_midi_round_trip_is_exact(bach, tmp_path):
    for index, piece in enumerate(bach.test[:8]):
        path = tmp_path / f"{index}.mid"
        write_midi(piece, path)
        np.testing.assert_array_equal(read_chorale(path), piece[: len(read_chorale(path))])
        # trailing silence cannot be stored in MIDI; everything else must come back
        back = read_chorale(path)
        assert len(back) == len(piece) or (piece[len(back) :] == SILENCE).all()


def test_midi_tracks_are_named_with_tempo_and_held_notes_are_one_note(chorale, tmp_path):
    path = tmp_path / "c.mid"
    write_midi(chorale, path, tempo_bpm=96)
    midi = mido.MidiFile(path)
    names = [m.name for t in midi.tracks for m in t if m.type == "track_name"]
    assert names[1:] == ["Soprano", "Alto", "Tenor", "Bass"]
    tempos = [m.tempo for m in midi.tracks[0] if m.type == "set_tempo"]
    assert tempos == [mido.bpm2tempo(96)]
    soprano_ons = sum(1 for m in midi.tracks[1] if m.type == "note_on")
    changes = 1 + int((np.diff(chorale[:, 0]) != 0).sum())
    assert soprano_ons == changes  # one note per run of equal pitches


def test_musicxml_round_trip_is_exact(bach, tmp_path):
    from music21 import converter

    for index, piece in enumerate(bach.test[:3]):
        path = tmp_path / f"{index}.musicxml"
        write_musicxml(piece, path)
        np.testing.assert_array_equal(read_chorale(path), piece)
    score = converter.parse(str(tmp_path / "0.musicxml"))
    assert len(score.parts) == 4
    assert score.recurse().getElementsByClass("TimeSignature")[0].ratioString == "4/4"
    assert score.parts[3].recurse().getElementsByClass("Clef")[0].sign == "F"


def test_musicxml_spells_in_the_key(tmp_path):
    from music21 import converter

    # F major: B-flat must be spelled as a flat, not A-sharp
    line = [65, 67, 69, 70, 72, 70, 69, 67, 65, 65, 65, 65]
    piece = np.array([[p, 60, 53, 41] for p in np.repeat(line, 4)])
    path = tmp_path / "f.musicxml"
    write_musicxml(piece, path)
    names = {n.pitch.name for n in converter.parse(str(path)).parts[0].recurse().notes}
    assert "B-" in names and "A#" not in names


def test_array_formats_round_trip(chorale, tmp_path):
    for name in ("c.npy", "c.json"):
        write_chorale(chorale, tmp_path / name)
        np.testing.assert_array_equal(read_chorale(tmp_path / name), chorale)
    data = json.loads((tmp_path / "c.json").read_text())
    assert data["voices"] == ["soprano", "alto", "tenor", "bass"]


def _melody_file(path, notes, ticks=480, track_count=1):
    midi = mido.MidiFile(ticks_per_beat=ticks)
    for _ in range(track_count):
        track = mido.MidiTrack()
        for pitch, start, length in notes:
            track.append(mido.Message("note_on", note=pitch, velocity=64, time=start))
            track.append(mido.Message("note_off", note=pitch, velocity=0, time=length))
        midi.tracks.append(track)
    midi.save(path)


def test_read_melody_quantizes_to_sixteenths(tmp_path):
    path = tmp_path / "m.mid"
    # a quarter, an eighth played slightly late, a half
    _melody_file(path, [(72, 0, 480), (74, 10, 230), (76, 0, 960)])
    melody = read_melody(path)
    assert melody.tolist() == [72] * 4 + [74] * 2 + [76] * 8


def test_one_track_chorale_is_split_into_voices(chorale, tmp_path):
    midi = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    events = []
    piece = chorale[:32]
    for voice in range(4):
        from counterpoint.music.notes import notes

        for start, length, pitch in notes(piece[:, voice]):
            events.append((start * 120, "note_on", pitch))
            events.append(((start + length) * 120, "note_off", pitch))
    events.sort(key=lambda e: (e[0], e[1] == "note_on"))
    now = 0
    for tick, kind, pitch in events:
        track.append(mido.Message(kind, note=pitch, velocity=64 if kind == "note_on" else 0, time=tick - now))
        now = tick
    midi.tracks.append(track)
    path = tmp_path / "one.mid"
    midi.save(path)
    np.testing.assert_array_equal(read_midi_chorale(path), piece)


def test_bad_inputs(tmp_path):
    corrupt = tmp_path / "corrupt.mid"
    corrupt.write_bytes(b"MThd\x00\x00garbage")
    with pytest.raises(FileFormatError, match="not a readable MIDI file"):
        read_chorale(corrupt)
    empty = tmp_path / "empty.mid"
    mido.MidiFile().save(empty)
    with pytest.raises(FileFormatError, match="no notes found"):
        read_melody(empty)
    chords = tmp_path / "chords.mid"
    midi = mido.MidiFile()
    track = mido.MidiTrack(
        [
            mido.Message("note_on", note=60, velocity=64, time=0),
            mido.Message("note_on", note=64, velocity=64, time=0),
            mido.Message("note_off", note=60, velocity=0, time=480),
            mido.Message("note_off", note=64, velocity=0, time=0),
        ]
    )
    midi.tracks.append(track)
    midi.save(chords)
    with pytest.raises(NotMonophonicError, match="chord at step 0"):
        read_melody(chords)
    five = tmp_path / "five.mid"
    _melody_file(five, [(60, 0, 480)], track_count=5)
    with pytest.raises(TooManyVoicesError, match="5 parts"):
        read_chorale(five)
    two = tmp_path / "two.mid"
    _melody_file(two, [(60, 0, 480)], track_count=2)
    with pytest.raises(MultipleVoicesError):
        read_melody(two)
    with pytest.raises(FileFormatError, match="unknown file type '.txt'"):
        read_chorale(tmp_path / "x.txt")
    with pytest.raises(MissingFileError, match="no such file"):
        read_chorale(tmp_path / "missing.mid")
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{not json")
    with pytest.raises(FileFormatError, match="not a readable chorale array"):
        read_chorale(bad_json)


def test_failed_write_leaves_nothing(tmp_path, monkeypatch):
    target = tmp_path / "out.mid"
    target.write_bytes(b"old")

    def explode(self, path):
        raise RuntimeError("disk full")

    monkeypatch.setattr(mido.MidiFile, "save", explode)
    with pytest.raises(RuntimeError):
        write_midi(np.full((4, 4), 60), target)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.mid"]


def test_repeated_notes_stay_apart_with_onsets(tmp_path):
    from counterpoint.io.midi import midi_file
    from counterpoint.io.musicxml import to_score

    # Twinkle: C C G G as quarters; without onsets the two Cs would be one half note
    melody = np.repeat([60, 60, 67, 67], 4)
    chorale = np.stack([melody + 12, melody, melody - 12, melody - 24], axis=1)
    starts = np.zeros_like(chorale, dtype=bool)
    starts[::4] = True
    ons = [m for m in midi_file(chorale, onset=starts).tracks[1] if m.type == "note_on"]
    assert len(ons) == 4
    assert len([m for m in midi_file(chorale).tracks[1] if m.type == "note_on"]) == 2
    assert len(list(to_score(chorale, onset=starts).parts[0].recurse().notes)) == 4


def test_written_files_have_ordinary_permissions(chorale, tmp_path):
    import os

    write_chorale(chorale, tmp_path / "c.mid")
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "c.mid").stat().st_mode & 0o777 == 0o666 & ~umask
