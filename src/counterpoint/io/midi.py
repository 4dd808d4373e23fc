"""MIDI in and out (mido).

Reading: each track (or, in a one-track file, each channel) is a part; :mod:`counterpoint.io.lines`
gives the parts their voices. A file's key signature, time signature and (first) tempo are
kept. MIDI has no pickup: a file whose first note comes after a rest shorter than a bar begins
with one (:func:`~counterpoint.music.piece.lift_pickup`).
Writing: a tempo track (named, with tempo, time and key signature) and one named track per
voice (Soprano, Alto, Tenor, Bass); each note is struck where the piece's onset says, so a
repeated note stays two notes and a held note is one long note. A piece with a pickup starts
after a rest of the rest of its first bar (:attr:`~counterpoint.music.piece.Piece.lead`), so
that a sequencer or notation program, which puts bar 1 at the file's start, draws its barlines
where they are; reading the file back gives the pickup again.
"""

from __future__ import annotations

import os
from pathlib import Path

import mido
import numpy as np

from counterpoint.errors import FileFormatError, MultipleVoicesError
from counterpoint.io.files import existing_file, write_atomically
from counterpoint.io.lines import Event, melody, parts_to_piece
from counterpoint.music.notes import notes
from counterpoint.music.piece import DEFAULT_TIME_SIGNATURE, Piece, lift_pickup, written_metre
from counterpoint.music.representation import NUM_VOICES, STEPS_PER_QUARTER, VOICES
from counterpoint.music.spelling import Key, chorale_key

TICKS_PER_BEAT = 480
TEMPO_DECIMALS = 2  # a file's tempo is microseconds a beat: 72 bpm is 833333 us, read as 72.0

# General MIDI programs: a church organ sounds well for chorales in any player.
MIDI_PROGRAM = 19


def _parts(midi: mido.MidiFile) -> list[list[Event]]:
    """Per track with notes: ``(start, end, pitch)`` in 16ths, unrounded. A single track with
    notes on several channels (up to four) is one part per channel."""
    scale = STEPS_PER_QUARTER / midi.ticks_per_beat
    tracks: list[list[tuple[float, float, int, int]]] = []
    for track in midi.tracks:
        tick = 0
        sounding: dict[tuple[int, int], int] = {}
        found = []
        for message in track:
            tick += message.time
            if message.type not in ("note_on", "note_off"):
                continue
            key = (message.channel, message.note)
            if message.type == "note_on" and message.velocity > 0:
                sounding.setdefault(key, tick)
            elif key in sounding:
                found.append((sounding.pop(key) * scale, tick * scale, message.note, message.channel))
        if found:
            tracks.append(found)
    if len(tracks) == 1:
        channels = sorted({channel for *_, channel in tracks[0]})
        if 1 < len(channels) <= NUM_VOICES:
            tracks = [[n for n in tracks[0] if n[3] == channel] for channel in channels]
    return [[(start, end, pitch) for start, end, pitch, _ in track] for track in tracks]


def _facts(midi: mido.MidiFile) -> tuple[int | None, str, float | None]:
    """The file's first key signature (as fifths), time signature and tempo, if it has them."""
    fifths, metre, tempo = None, DEFAULT_TIME_SIGNATURE, None
    messages = [m for track in midi.tracks for m in track if m.is_meta]
    for message in reversed(messages):  # the first of each wins
        if message.type == "key_signature":
            fifths = Key.parse(message.key).fifths
        elif message.type == "time_signature":
            metre = written_metre(f"{message.numerator}/{message.denominator}")
        elif message.type == "set_tempo":
            tempo = round(mido.tempo2bpm(message.tempo), TEMPO_DECIMALS)
    return fifths, metre, tempo


def _open_midi(path: str | os.PathLike) -> tuple[Path, mido.MidiFile]:
    path = existing_file(path)
    try:
        midi = mido.MidiFile(path)
    except Exception:  # mido raises many types for corrupt files
        raise FileFormatError(f"{path.name}: not a readable MIDI file") from None
    return path, midi


def _piece(parts: list[list[Event]], path: Path, midi: mido.MidiFile) -> Piece:
    fifths, metre, tempo = _facts(midi)
    return lift_pickup(parts_to_piece(parts, path.name, fifths, metre, path.stem, tempo))


def read_midi_piece(path: str | os.PathLike) -> Piece:
    """The piece a MIDI file holds, its parts given to voices by :func:`parts_to_piece`."""
    path, midi = _open_midi(path)
    return _piece(_parts(midi), path, midi)


def read_midi_chorale(path: str | os.PathLike) -> np.ndarray:
    """The pitches ``(steps, 4)`` of :func:`read_midi_piece`, from a downbeat."""
    return read_midi_piece(path).aligned_pitches()


def read_midi_melody_piece(path: str | os.PathLike) -> Piece:
    """One melody (a single track or channel with notes, no chords) in the soprano."""
    path, midi = _open_midi(path)
    parts = _parts(midi)
    if len(parts) > 1:
        raise MultipleVoicesError(f"{path.name}: {len(parts)} tracks hold notes; a melody file must have one")
    if parts:
        melody(parts[0], path.name)  # refuses chords and overlapping notes
    return _piece(parts, path, midi)


def read_midi_melody(path: str | os.PathLike) -> np.ndarray:
    """One monophonic line ``(steps,)`` (``SILENCE`` in rests) from a MIDI file, from a downbeat."""
    return read_midi_melody_piece(path).aligned_pitches()[:, 0]


def write_midi(
    piece: Piece | np.ndarray,
    path: str | os.PathLike,
    tempo_bpm: float | None = None,
    onset: np.ndarray | None = None,
) -> None:
    """Write a type-1 MIDI file (see :func:`midi_file`); atomically."""
    midi = midi_file(piece, tempo_bpm, onset)
    write_atomically(path, lambda temporary: midi.save(temporary))


def midi_file(
    piece: Piece | np.ndarray, tempo_bpm: float | None = None, onset: np.ndarray | None = None
) -> mido.MidiFile:
    """The :class:`mido.MidiFile` of a piece (or a chorale array with optional ``onset``):
    a tempo track with tempo (``tempo_bpm``, else the piece's), time and key signature, then
    one named track per voice, its notes after the piece's :attr:`~Piece.lead`."""
    piece = Piece.of(piece, onset).with_tempo(tempo_bpm)
    key = chorale_key(piece.pitches, piece.onset, piece.fifths)
    beats, unit = (int(part) for part in piece.time_signature.split("/"))
    ticks_per_step = TICKS_PER_BEAT // STEPS_PER_QUARTER
    midi = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT)
    conductor = mido.MidiTrack()
    conductor.append(mido.MetaMessage("track_name", name=piece.title or "counterpoint", time=0))
    conductor.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(piece.tempo), time=0))
    conductor.append(mido.MetaMessage("time_signature", numerator=beats, denominator=unit, time=0))
    conductor.append(mido.MetaMessage("key_signature", key=_mido_key(key), time=0))
    conductor.append(mido.MetaMessage("end_of_track", time=0))
    midi.tracks.append(conductor)
    for voice in range(NUM_VOICES):
        track = mido.MidiTrack()
        track.append(mido.MetaMessage("track_name", name=VOICES[voice].capitalize(), time=0))
        track.append(mido.Message("program_change", program=MIDI_PROGRAM, channel=voice, time=0))
        now = 0
        for start, length, pitch in notes(piece.pitches[:, voice], piece.onset[:, voice]):
            begin, end = (piece.lead + start) * ticks_per_step, (piece.lead + start + length) * ticks_per_step
            track.append(mido.Message("note_on", note=pitch, velocity=80, channel=voice, time=begin - now))
            track.append(mido.Message("note_off", note=pitch, velocity=0, channel=voice, time=end - begin))
            now = end
        track.append(mido.MetaMessage("end_of_track", time=0))
        midi.tracks.append(track)
    return midi


def _mido_key(key: Key) -> str:
    """mido's name of a key ("Bb", "F#m"); a signature of 7 sharps or flats in minor has no
    name there, so it is written as its relative major's signature."""
    name = key.tonic + ("m" if key.mode == "minor" else "")
    try:
        mido.MetaMessage("key_signature", key=name)
    except ValueError:
        return Key(key.fifths).tonic
    return name
