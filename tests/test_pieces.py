"""Notes, not only pitches (issue 39): every path keeps a piece's notes as written, over the
committed melody set (repeated notes, rests, ties across barlines): MIDI, MusicXML, .npy/.json,
the CLI and the JSON API; a file's parts go to the right voices; written files say what they
are; bad input is one sentence."""

from __future__ import annotations

import json
from pathlib import Path

import mido
import numpy as np
import pytest
from typer.testing import CliRunner

from counterpoint.cli import app
from counterpoint.data.melodies import read_melodies
from counterpoint.errors import FileFormatError, NotMonophonicError
from counterpoint.io import read_melody_piece, read_piece, write_piece
from counterpoint.music.piece import Piece
from counterpoint.music.representation import SILENCE

MELODIES = Path(__file__).resolve().parents[1] / "examples" / "melodies.json"
runner = CliRunner()


@pytest.fixture(scope="module")
def melodies():
    return read_melodies(MELODIES)


def _same_notes(back: Piece, piece: Piece, voice: int = 0) -> bool:
    return np.array_equal(back.pitches[:, voice], piece.pitches[:, voice]) and np.array_equal(
        back.onset[:, voice], piece.onset[:, voice]
    )


def _one_track_midi(path: Path, melody) -> None:
    """A plain one-track MIDI file of a melody, as a notation program or a keyboard writes it."""
    beats, unit = (int(part) for part in melody.metre.split("/"))
    track, now = mido.MidiTrack([mido.MetaMessage("time_signature", numerator=beats, denominator=unit)]), 0
    for pitch, onset, length in melody.sounding():
        track.append(mido.Message("note_on", note=pitch, velocity=64, time=(onset - now) * 120))
        track.append(mido.Message("note_off", note=pitch, velocity=0, time=length * 120))
        now = onset + length
    midi = mido.MidiFile(ticks_per_beat=480)
    midi.tracks.append(track)
    midi.save(path)


@pytest.mark.parametrize("suffix", [".mid", ".musicxml", ".npy", ".json"])
def test_every_melody_comes_back_note_for_note(melodies, tmp_path, suffix):
    for index, melody in enumerate(melodies):
        piece = melody.piece()
        path = tmp_path / f"{index}{suffix}"
        write_piece(piece, path)
        back = read_piece(path)
        assert _same_notes(back, piece), (melody.title, suffix)
        assert back.voices == [0], melody.title
        if suffix != ".npy":  # a .npy file holds notes only
            assert (back.time_signature, back.pickup) == (melody.metre, piece.pickup), melody.title


def test_the_set_has_what_the_round_trips_must_keep(melodies):
    """Repeated notes, notes tied over barlines and pickups (the set writes a pickup after a
    rest; as a piece, that rest is the pickup). Rests inside a tune: see test_io's pickup tests."""
    repeated = tied = pickups = 0
    for melody in melodies:
        piece = melody.piece()
        line, struck = piece.pitches[:, 0], piece.onset[:, 0]
        repeated += int((struck[1:] & (line[1:] == line[:-1])).sum())
        pickups += int(piece.pickup > 0 and melody.line()[0][0] == SILENCE)
        bar = piece.steps_per_bar
        tied += sum(
            1 for _, onset, length in melody.sounding() if onset // bar != (onset + length - 1) // bar
        )
    assert repeated > 50 and tied > 0 and pickups == 3


def test_ties_across_barlines_are_one_note_and_the_musicxml_says_what_it_is(melodies, tmp_path):
    from music21 import converter

    melody = next(m for m in melodies if m.metre == "3/4")
    path = tmp_path / "tune.musicxml"
    write_piece(melody.piece(), path, arranger="written by counterpoint with the jsb model")
    score = converter.parse(str(path))
    assert score.metadata.bestTitle == melody.title
    assert score.metadata.composer == "counterpoint"
    assert "jsb" in str(score.metadata.all())
    assert score.recurse().getElementsByClass("TimeSignature")[0].ratioString == "3/4"
    assert len(score.recurse().getElementsByClass("KeySignature")) == 4
    untitled = tmp_path / "untitled.musicxml"
    from counterpoint.io.musicxml import write_musicxml

    write_musicxml(np.full((16, 4), 60), untitled)
    assert converter.parse(str(untitled)).metadata.bestTitle.startswith("Chorale, 20")


def test_midi_has_key_and_time_signature_tempo_and_track_names(melodies, tmp_path):
    melody = next(m for m in melodies if m.metre == "3/4")
    path = tmp_path / "tune.mid"
    write_piece(melody.piece(), path, tempo_bpm=100)
    midi = mido.MidiFile(path)
    meta = [m for m in midi.tracks[0] if m.is_meta]
    assert [(m.numerator, m.denominator) for m in meta if m.type == "time_signature"] == [(3, 4)]
    assert len([m for m in meta if m.type == "key_signature"]) == 1
    assert [round(mido.tempo2bpm(m.tempo)) for m in meta if m.type == "set_tempo"] == [100]
    names = [m.name for t in midi.tracks[1:] for m in t if m.type == "track_name"]
    assert names == ["Soprano", "Alto", "Tenor", "Bass"]


def test_the_key_signature_of_a_file_travels():
    piece = Piece.of(np.array([[62, 57, 50, 38]] * 16), fifths=-1)
    from counterpoint.io.midi import midi_file

    key = [m.key for m in midi_file(piece).tracks[0] if m.type == "key_signature"]
    assert key == ["Dm"]


def test_old_array_files_load_with_one_note_per_run(tmp_path):
    chorale = np.repeat([[60, 55, 52, 48], [60, 55, 52, 48], [62, 57, 53, 50]], 4, axis=0)
    np.save(tmp_path / "old.npy", chorale)
    (tmp_path / "old.json").write_text(json.dumps({"chorale": chorale.tolist()}))
    (tmp_path / "rows.json").write_text(json.dumps(chorale.tolist()))
    for name in ("old.npy", "old.json", "rows.json"):
        piece = read_piece(tmp_path / name)
        np.testing.assert_array_equal(piece.pitches, chorale)
        assert piece.onset[:, 0].nonzero()[0].tolist() == [0, 8]  # the two C's are one note
        assert (piece.pickup, piece.tempo_bpm) == (0, None)  # no pickup, the default tempo


def test_one_track_is_the_soprano_and_two_tracks_go_by_range(tmp_path):
    from counterpoint.io.midi import read_midi_piece

    one = read_midi_piece(Path(__file__).resolve().parents[1] / "examples" / "melody.mid")
    assert one.voices == [0]
    midi = mido.MidiFile(ticks_per_beat=480)
    for pitches in ([72, 74, 76, 77], [48, 43, 48, 41]):  # a melody and a bass line
        track = mido.MidiTrack()
        for pitch in pitches:
            track.append(mido.Message("note_on", note=pitch, velocity=64, time=0))
            track.append(mido.Message("note_off", note=pitch, velocity=0, time=480))
        midi.tracks.append(track)
    midi.save(tmp_path / "two.mid")
    two = read_piece(tmp_path / "two.mid")
    assert two.voices == [0, 3]
    assert two.pitches[::4, 3].tolist() == [48, 43, 48, 41]


def test_a_legato_overlap_is_trimmed_and_a_longer_one_refused(tmp_path):
    def melody_file(overlap_ticks: int) -> Path:
        track = mido.MidiTrack(
            [
                mido.Message("note_on", note=60, velocity=64, time=0),
                mido.Message("note_on", note=62, velocity=64, time=480),
                mido.Message("note_off", note=60, velocity=0, time=overlap_ticks),
                mido.Message("note_off", note=62, velocity=0, time=480 - overlap_ticks),
            ]
        )
        midi = mido.MidiFile(ticks_per_beat=480)
        midi.tracks.append(track)
        path = tmp_path / f"overlap{overlap_ticks}.mid"
        midi.save(path)
        return path

    assert read_melody_piece(melody_file(60)).pitches[:, 0].tolist() == [60] * 4 + [62] * 4
    with pytest.raises(NotMonophonicError, match="still sounds when 62 starts") as error:
        read_melody_piece(melody_file(240))
    assert str(tmp_path) not in str(error.value) and "\n" not in str(error.value)


def test_bad_files_are_one_sentence_and_exit_status_2(tmp_path, tiny_checkpoint):
    empty = tmp_path / "empty.mid"
    mido.MidiFile().save(empty)
    outside = tmp_path / "outside.json"
    outside.write_text(json.dumps({"chorale": [[200, -1, -1, -1]] * 4}))
    for path, message in (
        (empty, "no notes found"),
        (outside, "200 in the soprano at step 0 is not a MIDI pitch"),
    ):
        with pytest.raises(FileFormatError, match=message):
            read_piece(path)
        result = runner.invoke(
            app, ["harmonize", str(path), "-o", str(tmp_path / "o.mid"), "-c", str(tiny_checkpoint)]
        )
        assert result.exit_code == 2, result.output
        assert result.output.count("\n") == 1 and str(tmp_path) not in result.output


def test_cli_harmonize_keeps_every_melody_note_for_note(melodies, tmp_path, tiny_checkpoint):
    """Harmonize a one-track MIDI of each melody: the soprano comes back note for note, in its
    own metre (the tiny model writes nonsense below it; only the given notes are checked)."""
    kept = []
    for index, melody in enumerate(melodies):
        source, output = tmp_path / f"{index}.mid", tmp_path / f"{index}-out.mid"
        _one_track_midi(source, melody)
        common = ["--passes", "2", "-c", str(tiny_checkpoint), "--precision", "float32"]
        result = runner.invoke(app, ["harmonize", str(source), "-o", str(output), *common])
        assert result.exit_code == 0, result.output
        back, given = read_piece(output), melody.piece()
        facts = (back.time_signature, back.pickup) == (melody.metre, given.pickup)
        kept.append(_same_notes(back, given) and facts)
    assert all(kept), [m.title for m, ok in zip(melodies, kept, strict=True) if not ok]


def test_json_api_keeps_the_given_onsets_and_spells(melodies, tiny_model):
    from fastapi.testclient import TestClient

    from counterpoint.server import create_app

    melody = melodies[0]  # Twinkle: every note struck twice
    piece = melody.piece()
    with TestClient(create_app(model=tiny_model)) as client:
        response = client.post(
            "/api/harmonize",
            json={
                "chorale": piece.pitches.tolist(),
                "onsets": piece.onset.tolist(),
                "voices": ["soprano"],
                "passes": 2,
            },
        )
        assert response.status_code == 200, response.text
        result = response.json()
        onsets = np.asarray(result["onsets"][0])
        np.testing.assert_array_equal(onsets[:, 0], piece.onset[:, 0])
        spellings = result["spellings"][0]
        assert len(spellings) == 4 and spellings[0][0] == "D4"
        streamed = client.post(
            "/api/infill",
            json={
                "chorale": piece.pitches.tolist(),
                "onsets": piece.onset.tolist(),
                "voices": ["alto", "tenor", "bass"],
                "passes": 2,
                "stream": True,
            },
        )
        last = json.loads(streamed.text.strip().splitlines()[-1])
        assert last["done"] and np.array_equal(np.asarray(last["onsets"][0])[:, 0], piece.onset[:, 0])
        assert last["spellings"][0][0][0] == "D4"
        bad = client.post("/api/harmonize", json={"chorale": piece.pitches.tolist(), "onsets": [[True] * 4]})
        assert bad.status_code == 422 and "onsets must have shape" in bad.json()["error"]
        source = Path(__file__).resolve().parents[1] / "examples" / "melody.mid"
        opened = client.post("/api/import", files={"file": ("melody.mid", source.read_bytes())})
        assert opened.status_code == 200 and opened.json()["given"] == ["soprano"]
        empty = client.post("/api/import", files={"file": ("empty.mid", _empty_midi())})
        assert empty.status_code == 422 and empty.json()["error"] == "empty.mid: no notes found"


def _empty_midi() -> bytes:
    import io

    buffer = io.BytesIO()
    mido.MidiFile().save(file=buffer)
    return buffer.getvalue()


def _upbeat_tune() -> Piece:
    """A hymn-like tune in 3/4 with a quarter-note pickup, a repeated note, a rest and a note
    tied over a barline, at 72 quarter notes a minute:  G | C C E | D - (rest) | - C ..."""
    notes = [(67, 4), (72, 4), (72, 4), (76, 4), (74, 8), (SILENCE, 4), (74, 8), (72, 12), (71, 4)]
    pitches = np.full((sum(length for _, length in notes), 4), SILENCE)
    onset = np.zeros(pitches.shape, dtype=bool)
    start = 0
    for pitch, length in notes:
        pitches[start : start + length, 0] = pitch
        onset[start, 0] = pitch != SILENCE
        start += length
    return Piece.of(pitches, onset, time_signature="3/4", title="Upbeat", tempo_bpm=72, pickup=4)


def _bar_starts(score) -> list[tuple[int, float]]:
    """Each measure of a music21 score's first part, as (number, offset in quarters); measures
    an editor split (at a repeat sign, both halves with one number) count as one."""
    starts: list[tuple[int, float]] = []
    for measure in score.parts[0].getElementsByClass("Measure"):
        if not starts or starts[-1][0] != measure.number:
            starts.append((measure.number, float(measure.offset)))
    return starts


@pytest.mark.parametrize("first", [".musicxml", ".mid", ".json"])
def test_a_pickup_and_a_tempo_come_back_through_every_file(tmp_path, first):
    """A tune with an upbeat, written to one file type, then to every other: the same notes,
    the same pickup, the same tempo and metre, every time."""
    tune = _upbeat_tune()
    write_piece(tune, tmp_path / f"in{first}")
    given = read_piece(tmp_path / f"in{first}")
    assert _same_notes(given, tune) and given.steps == tune.steps
    assert (given.pickup, given.tempo_bpm, given.time_signature) == (4, 72.0, "3/4")
    for suffix in (".musicxml", ".mid", ".json", ".npy"):
        write_piece(given, tmp_path / f"out{suffix}")
        back = read_piece(tmp_path / f"out{suffix}")
        assert _same_notes(back, tune), suffix
        if suffix != ".npy":  # a .npy file holds notes only
            assert (back.pickup, back.tempo_bpm, back.time_signature) == (4, 72.0, "3/4"), suffix


def test_the_barlines_of_a_pickup_are_where_notation_programs_put_them(tmp_path):
    """MusicXML: the upbeat is measure 0, short and implicit (so MuseScore numbers the first
    full bar 1), with a metronome mark and a sound tempo. MIDI: the notes start after the
    rest of the first bar, so a program that puts bar 1 at the file's start (music21 here)
    finds every barline where it was."""
    from music21 import converter

    tune = _upbeat_tune()
    write_piece(tune, tmp_path / "tune.musicxml")
    text = (tmp_path / "tune.musicxml").read_text()
    assert '<measure implicit="yes" number="0">' in text and '<sound tempo="72"' in text
    score = converter.parse(str(tmp_path / "tune.musicxml"))
    assert _bar_starts(score) == [(0, 0.0), (1, 1.0), (2, 4.0), (3, 7.0), (4, 10.0)]
    write_piece(tune, tmp_path / "tune.mid")
    score = converter.parse(str(tmp_path / "tune.mid"))
    soprano = score.parts[0].flatten().notes
    assert float(soprano[0].offset) == 2.0  # the pickup: the last beat of a 3/4 bar
    assert [float(n.offset) for n in soprano][1:4] == [3.0, 4.0, 5.0]  # bar 2 starts at 3.0
    assert [float(m.offset) for m in score.parts[0].getElementsByClass("Measure")][:3] == [0.0, 3.0, 6.0]


def test_a_midi_melody_that_starts_mid_bar_has_a_pickup(tmp_path):
    """A plain one-track file whose first note is on beat 4 of 4/4 begins with a pickup of a
    quarter; one whose first note comes after a whole bar's rest keeps the rest."""
    for rest_ticks, pickup, steps in ((3 * 480, 4, 8), (4 * 480, 0, 24)):
        track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(66))])
        track.append(mido.Message("note_on", note=67, velocity=64, time=rest_ticks))
        track.append(mido.Message("note_off", note=67, velocity=0, time=480))
        track.append(mido.Message("note_on", note=72, velocity=64, time=0))
        track.append(mido.Message("note_off", note=72, velocity=0, time=480))
        midi = mido.MidiFile(ticks_per_beat=480)
        midi.tracks.append(track)
        midi.save(tmp_path / "upbeat.mid")
        piece = read_melody_piece(tmp_path / "upbeat.mid")
        assert (piece.pickup, piece.steps, piece.tempo_bpm) == (pickup, steps, 66.0)
        assert piece.bar_of(piece.steps - 4) == 1  # the C is on the first downbeat after the G


def test_arrays_read_from_a_file_with_a_pickup_start_on_a_downbeat(tmp_path):
    """An array cannot say "pickup": read_melody/read_chorale put the rest of the upbeat's bar
    before it, so the array written back to a file in its metre has its pickup (and barlines)
    again."""
    from counterpoint.io import read_chorale, read_melody

    tune = _upbeat_tune()
    for suffix in (".musicxml", ".mid", ".json"):
        write_piece(tune, tmp_path / f"tune{suffix}")
        line = read_melody(tmp_path / f"tune{suffix}")
        assert line[:8].tolist() == [SILENCE] * 8 and line[8:].tolist() == tune.pitches[:, 0].tolist()
        chorale = read_chorale(tmp_path / f"tune{suffix}")
        write_piece(Piece.of(chorale, time_signature="3/4"), tmp_path / "back.mid")
        back = read_piece(tmp_path / "back.mid")
        assert back.pickup == 4 and np.array_equal(back.pitches, tune.pitches), suffix


@pytest.mark.parametrize("name", ["bwv110.7", "bwv269"])
def test_a_bach_chorale_with_an_upbeat_keeps_its_barlines(tmp_path, name):
    """Chorales from music21's corpus that begin with an upbeat, read and written back: the
    measures are numbered and placed as their editors placed them, in MusicXML and in MIDI."""
    from music21 import converter, corpus

    from counterpoint.io.musicxml import score_to_piece

    score = corpus.parse(name)
    piece = score_to_piece(score, name)
    assert piece.pickup == 4
    write_piece(piece, tmp_path / "back.musicxml")
    assert _bar_starts(converter.parse(str(tmp_path / "back.musicxml"))) == _bar_starts(score)
    write_piece(piece, tmp_path / "back.mid")
    back = read_piece(tmp_path / "back.mid")
    assert back.pickup == 4 and np.array_equal(back.pitches, piece.pitches)


def test_a_file_tempo_travels_and_an_explicit_tempo_wins(tmp_path, tiny_checkpoint):
    tune = _upbeat_tune()
    write_piece(tune, tmp_path / "tune.mid")
    converted = runner.invoke(app, ["convert", str(tmp_path / "tune.mid"), str(tmp_path / "tune.musicxml")])
    assert converted.exit_code == 0, converted.output
    assert read_piece(tmp_path / "tune.musicxml").tempo_bpm == 72.0
    common = ["--passes", "1", "-c", str(tiny_checkpoint), "--precision", "float32"]
    for extra, tempo in (([], 72.0), (["--tempo", "100"], 100.0)):
        output = tmp_path / "out.mid"
        command = ["harmonize", str(tmp_path / "tune.mid"), "-o", str(output), *common, *extra]
        result = runner.invoke(app, command)
        assert result.exit_code == 0, result.output
        back = read_piece(output)
        assert back.tempo_bpm == tempo and back.pickup == 4 and _same_notes(back, tune)
    slow = runner.invoke(app, ["convert", str(tmp_path / "tune.mid"), str(tmp_path / "x.mid"), "--tempo=1"])
    assert slow.exit_code == 2


def test_a_bad_pickup_or_tempo_in_a_file_is_one_sentence(tmp_path):
    rows = [[60, -1, -1, -1]] * 8
    for fields, message in (
        ({"pickup": 12, "time_signature": "3/4"}, "a pickup must be a whole number of 16ths shorter"),
        ({"tempo_bpm": "fast"}, "a tempo must be 4 to 1000 quarter notes a minute"),
    ):
        path = tmp_path / "bad.json"
        path.write_text(json.dumps({"chorale": rows, **fields}))
        with pytest.raises(FileFormatError, match=message) as error:
            read_piece(path)
        assert str(error.value).startswith("bad.json: ") and "\n" not in str(error.value)


def test_a_task_keeps_what_the_piece_it_was_given_says(tiny_model):
    from counterpoint.sampling.config import SamplerConfig
    from counterpoint.tasks import harmonize

    tune = _upbeat_tune()
    result = harmonize(tiny_model, tune, sampler=SamplerConfig(passes=1))
    assert result.piece().facts() == tune.facts() and _same_notes(result.piece(), tune)
    assert harmonize(tiny_model, tune.pitches, sampler=SamplerConfig(passes=1)).piece().pickup == 0


def test_continue_and_transition_add_bars_of_the_pieces_metre(tiny_model):
    from counterpoint import tasks
    from counterpoint.music.piece import Piece

    opening = Piece.of(np.array([[72, 67, 64, 48]] * 12), time_signature="3/4")
    assert len(tasks.continue_piece(tiny_model, opening, measures=2).chorale) == 12 + 2 * 12
    bridged = tasks.transition(tiny_model, opening, opening, measures=1)
    assert len(bridged.chorale) == 12 + 12 + 12
    array = tasks.continue_piece(tiny_model, opening.pitches, measures=1)
    assert len(array.chorale) == 12 + 16  # an array has no metre: bars of 4/4
