"""Files in and out: MIDI (mido), MusicXML (music21), and the package's own array formats.

Everything here converts between files and the ``(steps, 4)`` chorale array of
:mod:`counterpoint.music.representation`. Reading quantizes to the 16th-note grid; writing goes
through a temporary file and an atomic rename, so a failed write never leaves half a file.

File types, chosen by extension:

- ``.mid`` / ``.midi``: one track per voice (named, with tempo); held notes are one long note.
- ``.musicxml`` / ``.xml`` / ``.mxl``: four parts with clefs, 4/4, an estimated key signature.
- ``.npy``: the chorale array itself; ``.json``: ``{"chorale": [[s, a, t, b], ...]}``.
"""

from __future__ import annotations

import itertools
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import mido
import numpy as np

from counterpoint.errors import (
    FileFormatError,
    MissingFileError,
    MultipleVoicesError,
    NotMonophonicError,
    TooManyVoicesError,
)
from counterpoint.music.notes import notes
from counterpoint.music.representation import NUM_VOICES, SILENCE, STEPS_PER_QUARTER, VOICES

MIDI_SUFFIXES = (".mid", ".midi")
MUSICXML_SUFFIXES = (".musicxml", ".xml", ".mxl")
ARRAY_SUFFIXES = (".npy", ".json")
ALL_SUFFIXES = MIDI_SUFFIXES + MUSICXML_SUFFIXES + ARRAY_SUFFIXES
TICKS_PER_BEAT = 480
DEFAULT_TEMPO_BPM = 80
MAX_STEPS = 16 * 1024  # far beyond any chorale; guards against absurd files

# General MIDI programs: a church organ sounds well for chorales in any player.
MIDI_PROGRAM = 19


# --------------------------------------------------------------------------- helpers


def _suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in ALL_SUFFIXES:
        raise FileFormatError(
            f"{path}: unknown file type {suffix or '(none)'!r}; use one of {', '.join(ALL_SUFFIXES)}"
        )
    return suffix


def _existing(path: str | os.PathLike) -> Path:
    path = Path(path)
    if not path.exists():
        raise MissingFileError(f"{path}: no such file")
    if not path.is_file():
        raise FileFormatError(f"{path}: not a file")
    return path


def write_atomically(path: str | os.PathLike, write: Callable[[Path], None]) -> None:
    """Call ``write(temporary_path)``, then rename the result onto ``path`` in one step."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(handle)
    try:
        write(Path(temporary))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp makes files private; outputs are not
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _lines_to_chorale(lines: list[list[tuple[int, int, int]]], name: str) -> np.ndarray:
    """Chorale from up to four lists of notes ``(start_step, end_step, pitch)``."""
    if len(lines) > NUM_VOICES:
        raise TooManyVoicesError(f"{name}: {len(lines)} voices found, at most 4 are allowed")
    ends = [end for line in lines for _, end, _ in line]
    if not ends:
        raise FileFormatError(f"{name}: no notes found")
    steps = max(ends)
    if steps > MAX_STEPS:
        raise FileFormatError(f"{name}: {steps} steps is longer than the {MAX_STEPS} allowed")
    chorale = np.full((steps, NUM_VOICES), SILENCE, dtype=np.int64)
    for voice, line in enumerate(lines):
        for start, end, pitch in line:
            chorale[start:end, voice] = pitch
    return chorale


def _monophonic(
    events: list[tuple[int, int, int]], name: str, voice: str = "melody"
) -> list[tuple[int, int, int]]:
    """Quantized notes of one line, each cut where the next begins; chords are an error."""
    events = sorted(events)
    line: list[tuple[int, int, int]] = []
    for index, (start, end, pitch) in enumerate(events):
        if index + 1 < len(events) and events[index + 1][0] == start:
            raise NotMonophonicError(
                f"{name}: the {voice} has a chord at step {start} "
                f"(pitches {pitch} and {events[index + 1][2]}); one line is expected"
            )
        if index + 1 < len(events):
            end = min(end, events[index + 1][0])
        if end > start:
            line.append((start, end, pitch))
    return line


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
    path = _existing(path)
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
    chorale = _lines_to_chorale([_monophonic(events, str(path))], str(path))
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
    if steps > MAX_STEPS:
        raise FileFormatError(f"{name}: {steps} steps is longer than the {MAX_STEPS} allowed")
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
        return _lines_to_chorale(_split_voices(lines[0], str(path)), str(path))
    lines.sort(key=lambda line: -np.mean([pitch for *_, pitch in line]))
    lines = [
        _monophonic(line, str(path), VOICES[index] if len(lines) == NUM_VOICES else "track")
        for index, line in enumerate(lines)
    ]
    return _lines_to_chorale(lines, str(path))


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


def score_to_chorale(score, name: str) -> np.ndarray:
    """A chorale from a music21 score with four parts (or a one-part melody), high to low.

    Chords inside a part keep their top note for soprano and alto and their bottom note for
    tenor and bass (Bach's final chords sometimes split a voice)."""
    from music21 import chord, note

    parts = list(score.parts) if hasattr(score, "parts") and len(score.parts) else [score]
    if len(parts) > NUM_VOICES:
        raise TooManyVoicesError(f"{name}: {len(parts)} parts found, at most 4 are allowed")
    lines = []
    for index, part in enumerate(parts):
        line = []
        for element in part.flatten().notes:
            start = round(float(element.offset) * STEPS_PER_QUARTER)
            end = round(float(element.offset + element.quarterLength) * STEPS_PER_QUARTER)
            if end <= start:
                continue  # grace notes and notes shorter than half a 16th
            if isinstance(element, chord.Chord):
                midis = sorted(p.midi for p in element.pitches)
                pitch = midis[-1] if index < 2 or len(parts) == 1 else midis[0]
            elif isinstance(element, note.Note):
                pitch = element.pitch.midi
            else:
                continue
            line.append((start, end, pitch))
        lines.append(_monophonic(line, name, VOICES[index] if len(parts) > 1 else "melody"))
    return _lines_to_chorale(lines, name)


def _parse_score(path: Path):
    from music21 import converter

    try:
        return converter.parse(str(path))
    except Exception as error:  # music21 raises many types for malformed files
        raise FileFormatError(f"{path}: not a readable MusicXML file ({error})") from None


def read_musicxml(path: str | os.PathLike) -> np.ndarray:
    """A chorale (or a one-part melody in the soprano column) from a MusicXML file."""
    path = _existing(path)
    return score_to_chorale(_parse_score(path), str(path))


def _spell(midi: int, key) -> object:
    """A music21 pitch for ``midi`` spelled to suit ``key`` (in-scale names first, then sharps
    in sharp keys and flats in flat keys)."""
    from music21 import pitch as m21pitch

    candidate = m21pitch.Pitch(midi=midi)
    scale_names = {p.name for p in key.getScale("major" if key.mode == "major" else "minor").pitches}
    options = [candidate, *candidate.getAllCommonEnharmonics(alterLimit=1)]
    for option in options:
        if option.name in scale_names:
            return option
    prefer_flats = key.sharps < 0
    for option in options:
        alter = option.accidental.alter if option.accidental else 0
        if (alter < 0) == prefer_flats and abs(alter) <= 1:
            return option
    return candidate


def to_score(chorale: np.ndarray, tempo_bpm: float = DEFAULT_TEMPO_BPM, starts: np.ndarray | None = None):
    """A music21 score of a chorale: four parts with clefs, 4/4, estimated key signature.
    ``starts`` (optional bool ``(steps, 4)``) marks repeated notes to strike again."""
    from music21 import clef, key, meter, note, stream, tempo

    chorale = np.asarray(chorale)
    score = stream.Score()
    probe = stream.Stream()
    for pitch in chorale[chorale != SILENCE].ravel():
        probe.append(note.Note(midi=int(pitch)))
    estimated = probe.analyze("key") if len(probe.notes) else key.Key("C")
    clefs = [clef.TrebleClef, clef.TrebleClef, clef.Treble8vbClef, clef.BassClef]
    for voice in range(chorale.shape[1]):
        part = stream.Part(id=VOICES[voice].capitalize())
        part.partName = VOICES[voice].capitalize()
        part.append(clefs[voice]())
        part.append(key.KeySignature(estimated.sharps))
        part.append(meter.TimeSignature("4/4"))
        if voice == 0:
            part.append(tempo.MetronomeMark(number=tempo_bpm))
        line = chorale[:, voice]
        strikes = None if starts is None else starts[:, voice]
        start = 0
        for step in range(1, len(line) + 1):
            if step == len(line) or line[step] != line[start] or (strikes is not None and strikes[step]):
                length = (step - start) / STEPS_PER_QUARTER
                if line[start] == SILENCE:
                    element = note.Rest(quarterLength=length)
                else:
                    element = note.Note(quarterLength=length)
                    element.pitch = _spell(int(line[start]), estimated)
                part.append(element)
                start = step
        score.insert(0, part)
    return score.makeNotation()


def write_musicxml(
    chorale: np.ndarray, path: str | os.PathLike, tempo_bpm: float = DEFAULT_TEMPO_BPM
) -> None:
    """Write a chorale as MusicXML (``.musicxml``/``.xml`` plain, ``.mxl`` compressed)."""
    score = to_score(chorale, tempo_bpm)
    suffix = Path(path).suffix.lower()
    kind = "mxl" if suffix == ".mxl" else "musicxml"
    write_atomically(path, lambda temporary: score.write(kind, fp=str(temporary)))


# --------------------------------------------------------------------------- arrays


def read_array(path: str | os.PathLike) -> np.ndarray:
    """A chorale from ``.npy`` (the array) or ``.json`` (``{"chorale": rows}`` or rows)."""
    path = _existing(path)
    try:
        if path.suffix.lower() == ".npy":
            array = np.load(path, allow_pickle=False)
        else:
            data = json.loads(path.read_text())
            array = np.asarray(data["chorale"] if isinstance(data, dict) else data)
    except (ValueError, KeyError, OSError, TypeError) as error:
        raise FileFormatError(f"{path}: not a readable chorale array ({error})") from None
    if array.ndim == 1:
        array = np.stack([array] + [np.full_like(array, SILENCE)] * 3, axis=1)
    if array.ndim != 2 or array.shape[1] != NUM_VOICES or array.size == 0:
        raise FileFormatError(f"{path}: expected a (steps, 4) array, got shape {array.shape}")
    if not np.issubdtype(array.dtype, np.number):
        raise FileFormatError(f"{path}: chorale entries must be MIDI pitch numbers")
    return array.astype(np.int64)


def write_array(chorale: np.ndarray, path: str | os.PathLike) -> None:
    chorale = np.asarray(chorale, dtype=np.int64)
    if Path(path).suffix.lower() == ".npy":
        write_atomically(path, lambda temporary: np.save(temporary, chorale))
    else:
        text = json.dumps({"voices": list(VOICES), "chorale": chorale.tolist()})
        write_atomically(path, lambda temporary: temporary.write_text(text))


# --------------------------------------------------------------------------- dispatch


def read_chorale(path: str | os.PathLike) -> np.ndarray:
    """Read a four-voice piece from any supported file, chosen by extension."""
    suffix = _suffix(Path(path))
    if suffix in MIDI_SUFFIXES:
        return read_midi_chorale(path)
    if suffix in MUSICXML_SUFFIXES:
        return read_musicxml(path)
    return read_array(path)


def read_melody(path: str | os.PathLike) -> np.ndarray:
    """Read one line ``(steps,)`` from any supported file (for arrays and scores, the top
    sounding voice of a one-voice file)."""
    suffix = _suffix(Path(path))
    if suffix in MIDI_SUFFIXES:
        return read_midi_melody(path)
    chorale = read_musicxml(path) if suffix in MUSICXML_SUFFIXES else read_array(path)
    used = [voice for voice in range(NUM_VOICES) if (chorale[:, voice] != SILENCE).any()]
    if len(used) != 1:
        raise MultipleVoicesError(f"{path}: {len(used)} voices hold notes; a melody file must have one")
    return chorale[:, used[0]]


def write_chorale(chorale: np.ndarray, path: str | os.PathLike, tempo_bpm: float = DEFAULT_TEMPO_BPM) -> None:
    """Write a chorale to any supported file, chosen by extension; atomically."""
    suffix = _suffix(Path(path))
    if suffix in MIDI_SUFFIXES:
        write_midi(chorale, path, tempo_bpm)
    elif suffix in MUSICXML_SUFFIXES:
        write_musicxml(chorale, path, tempo_bpm)
    else:
        write_array(chorale, path)
