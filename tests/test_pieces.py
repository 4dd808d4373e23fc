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
            assert back.time_signature == melody.metre, melody.title


def test_the_set_has_what_the_round_trips_must_keep(melodies):
    repeated = tied = rests = 0
    for melody in melodies:
        piece = melody.piece()
        line, struck = piece.pitches[:, 0], piece.onset[:, 0]
        repeated += int((struck[1:] & (line[1:] == line[:-1])).sum())
        rests += int((line == SILENCE).any())
        bar = piece.steps_per_bar
        tied += sum(
            1 for _, onset, length in melody.sounding() if onset // bar != (onset + length - 1) // bar
        )
    assert repeated > 50 and tied > 0 and rests > 0


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
        kept.append(_same_notes(back, given) and back.time_signature == melody.metre)
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
