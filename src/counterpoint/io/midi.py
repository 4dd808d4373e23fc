"""MIDI in and out (mido): one track per voice (named, with tempo); held notes are one long note."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import mido
import numpy as np

from counterpoint.errors import (
    FileFormatError,
    MultipleVoicesError,
    TooManyVoicesError,
)
from counterpoint.io.files import DEFAULT_TEMPO_BPM, existing_file, write_atomically
from counterpoint.io.lines import lines_to_chorale, monophonic
from counterpoint.limits import MAX_FILE_STEPS
from counterpoint.music.notes import notes
from counterpoint.music.representation import NUM_VOICES, SILENCE, STEPS_PER_QUARTER, VOICES

TICKS_PER_BEAT = 480

# General MIDI programs: a church organ sounds well for chorales in any player.
MIDI_PROGRAM = 19


# --------------------------------------------------------------------------- helpers


# --------------------------------------------------------------------------- MIDI


def _midi_notes(midi: mido.MidiFile) -> list[list[tuple[int, int, int, int]]]:
    """Per track: notes ``(start_step, end_step, pitch, channel)`` quantized to 16ths."""
    scale = STEPS_PER_QUARTER / midi.ticks_per_beat
    tracks = []
    for track in midi.tracks:
        tick = 0
        sounding: dict[tuple[int, int], int] = {}
        found: list[tuple[int, int, int, int]] = []
        for message in track:
            tick += message.time
            if message.type not in ("note_on", "note_off"):
                continue
            key = (message.channel, message.note)
            if message.type == "note_on" and message.velocity > 0:
                sounding.setdefault(key, tick)
            elif key in sounding:
                begin = sounding.pop(key)
                start, end = round(begin * scale), round(tick * scale)
                if end > start:  # notes shorter than half a 16th vanish in quantization
                    found.append((start, end, message.note, message.channel))
        tracks.append(found)
    return [track for track in tracks if track]


def _open_midi(path: str | os.PathLike) -> tuple[Path, mido.MidiFile]:
    path = existing_file(path)
    try:
        midi = mido.MidiFile(path)
    except Exception as error:  # mido raises many types for corrupt files
        raise FileFormatError(f"{path}: not a readable MIDI file ({error})") from None
    return path, midi


def read_midi_melody(path: str | os.PathLike) -> np.ndarray:
    """One monophonic line from a MIDI file, as an int array ``(steps,)`` (``SILENCE`` for
    rests). The file must hold exactly one track (or one channel) with notes."""
    path, midi = _open_midi(path)
    tracks = _midi_notes(midi)
    if not tracks:
        raise FileFormatError(f"{path}: no notes found")
    if len(tracks) > 1:
        raise MultipleVoicesError(f"{path}: {len(tracks)} tracks hold notes; a melody file must have one")
    events = [(start, end, pitch) for start, end, pitch, _ in tracks[0]]
    chorale = lines_to_chorale([monophonic(events, str(path))], str(path))
    return chorale[:, 0]


def _assign_voices(pitches: list[int], last: list[int]) -> list[int]:
    """Give each voice one of the distinct sounding ``pitches`` (high to low): voices keep
    their order, every pitch is sung, and a pitch sung by two voices is a unison. Among such
    assignments, the one nearest to each voice's last pitch wins."""
    count = len(pitches)
    best, best_cost = None, None
    # choose where the voice sequence S, A, T, B moves on to the next lower pitch
    for splits in itertools.combinations(range(1, NUM_VOICES), count - 1):
        index = [sum(1 for split in splits if split <= voice) for voice in range(NUM_VOICES)]
        cost = sum(abs(last[v] - pitches[index[v]]) for v in range(NUM_VOICES))
        if best_cost is None or cost < best_cost:
            best, best_cost = index, cost
    return [pitches[i] for i in best]


def _split_voices(events: list[tuple[int, int, int]], name: str) -> list[list[tuple[int, int, int]]]:
    """Assign the notes of one polyphonic track to voices. One track cannot tell a unison
    from a rest, so whenever fewer than four pitches sound, some voices double (see
    :func:`_assign_voices`); a step where nothing sounds is a rest in every voice."""
    steps = max(end for _, end, _ in events)
    if steps > MAX_FILE_STEPS:
        raise FileFormatError(f"{name}: {steps} steps is longer than the {MAX_FILE_STEPS} allowed")
    sounding: list[set[int]] = [set() for _ in range(steps)]
    for start, end, pitch in events:
        for step in range(start, end):
            sounding[step].add(pitch)
    chorale = np.full((steps, NUM_VOICES), SILENCE, dtype=np.int64)
    last = [72, 64, 57, 48]  # typical pitches of S, A, T, B
    for step, pitches in enumerate(sounding):
        if len(pitches) > NUM_VOICES:
            raise TooManyVoicesError(
                f"{name}: {len(pitches)} notes sound at step {step}; at most 4 voices are allowed"
            )
        if pitches:
            chorale[step] = last = _assign_voices(sorted(pitches, reverse=True), last)
    return [
        [(start, start + length, pitch) for start, length, pitch in notes(chorale[:, voice])]
        for voice in range(NUM_VOICES)
    ]


def read_midi_chorale(path: str | os.PathLike) -> np.ndarray:
    """A chorale from a MIDI file: four tracks (or channels) with notes, one per voice, ordered
    high to low by mean pitch; or one track whose notes are assigned to voices."""
    path, midi = _open_midi(path)
    tracks = _midi_notes(midi)
    if not tracks:
        raise FileFormatError(f"{path}: no notes found")
    if len(tracks) == 1:
        channels = sorted({channel for *_, channel in tracks[0]})
        if 1 < len(channels) <= NUM_VOICES:
            tracks = [[n for n in tracks[0] if n[3] == channel] for channel in channels]
    if len(tracks) > NUM_VOICES:
        raise TooManyVoicesError(f"{path}: {len(tracks)} tracks hold notes; at most 4 voices")
    lines = [[(start, end, pitch) for start, end, pitch, _ in track] for track in tracks]
    if len(lines) == 1:
        return lines_to_chorale(_split_voices(lines[0], str(path)), str(path))
    lines.sort(key=lambda line: -np.mean([pitch for *_, pitch in line]))
    lines = [
        monophonic(line, str(path), VOICES[index] if len(lines) == NUM_VOICES else "track")
        for index, line in enumerate(lines)
    ]
    return lines_to_chorale(lines, str(path))


def write_midi(
    chorale: np.ndarray,
    path: str | os.PathLike,
    tempo_bpm: float = DEFAULT_TEMPO_BPM,
    starts: np.ndarray | None = None,
) -> None:
    """Write a type-1 MIDI file: a tempo track and one named track per voice. ``starts``
    (optional bool ``(steps, 4)``) marks repeated notes to strike again."""
    midi = midi_file(chorale, tempo_bpm, starts)
    write_atomically(path, lambda temporary: midi.save(temporary))


def midi_file(
    chorale: np.ndarray, tempo_bpm: float = DEFAULT_TEMPO_BPM, starts: np.ndarray | None = None
) -> mido.MidiFile:
    """The :class:`mido.MidiFile` of a chorale (see :func:`write_midi`)."""
    chorale = np.asarray(chorale)
    ticks_per_step = TICKS_PER_BEAT // STEPS_PER_QUARTER
    midi = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT)
    conductor = mido.MidiTrack()
    conductor.append(mido.MetaMessage("track_name", name="counterpoint", time=0))
    conductor.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo_bpm), time=0))
    conductor.append(mido.MetaMessage("time_signature", numerator=4, denominator=4, time=0))
    conductor.append(mido.MetaMessage("end_of_track", time=0))
    midi.tracks.append(conductor)
    for voice in range(chorale.shape[1]):
        track = mido.MidiTrack()
        track.append(mido.MetaMessage("track_name", name=VOICES[voice].capitalize(), time=0))
        track.append(mido.Message("program_change", program=MIDI_PROGRAM, channel=voice, time=0))
        now = 0
        for start, length, pitch in notes(chorale[:, voice], None if starts is None else starts[:, voice]):
            begin, end = start * ticks_per_step, (start + length) * ticks_per_step
            track.append(mido.Message("note_on", note=pitch, velocity=80, channel=voice, time=begin - now))
            track.append(mido.Message("note_off", note=pitch, velocity=0, channel=voice, time=end - begin))
            now = end
        track.append(mido.MetaMessage("end_of_track", time=0))
        midi.tracks.append(track)
    return midi


# --------------------------------------------------------------------------- MusicXML


# --------------------------------------------------------------------------- arrays


# --------------------------------------------------------------------------- dispatch


