"""The notes a file's parts hold, to a :class:`~counterpoint.music.piece.Piece`: shared by the
MIDI and the MusicXML readers, so that both give a file's parts the same voices.

A reader hands over each part (track, or channel) as notes ``(start, end, pitch)`` in 16ths,
not yet rounded. Then (:func:`parts_to_piece`):

- one part whose notes do not overlap is a melody, for the soprano; legato overlaps shorter
  than a 16th are trimmed, and a chord or a longer overlap in a melody is refused;
- one part with chords is split into voices (:func:`split_voices`);
- two or three parts are melodies given to the voices their pitches suit (:func:`by_range`);
- four parts are the four voices, high to low; more is an error.

Each note keeps its onset, so a repeated note stays two notes.
"""

from __future__ import annotations

import itertools

import numpy as np

from counterpoint.errors import FileFormatError, NotMonophonicError, ShapeError, TooManyVoicesError
from counterpoint.limits import MAX_FILE_STEPS
from counterpoint.music.piece import DEFAULT_TIME_SIGNATURE, MIDI_LIMITS, Piece
from counterpoint.music.representation import NUM_VOICES, SILENCE
from counterpoint.music.rules import VOICE_RANGES

Event = tuple[float, float, int]  # start and end in 16ths (not yet rounded), MIDI pitch
Note = tuple[int, int, int]  # start and end step, MIDI pitch


def _check(events: list[Event], name: str) -> None:
    low, high = MIDI_LIMITS
    for _, _, pitch in events:
        if not low <= pitch <= high:
            raise FileFormatError(f"{name}: {pitch} is not a MIDI pitch ({low} to {high})")


def _rounded(events: list[Event]) -> list[tuple[int, int, int, float]]:
    """Notes on the grid, sorted, as ``(start, end, pitch, unrounded end)``; a note shorter
    than half a 16th vanishes."""
    found = [(round(start), round(end), pitch, end) for start, end, pitch in events]
    return sorted(note for note in found if note[1] > note[0])


def is_melody(events: list[Event]) -> bool:
    """True when no two notes start together and none overlaps the next by a 16th or more."""
    notes = _rounded(events)
    return all(
        after[0] > before[0] and before[3] - after[0] < 1 for before, after in itertools.pairwise(notes)
    )


def melody(events: list[Event], name: str, voice: str = "melody", strict: bool = True) -> list[Note]:
    """One line of notes on the grid, each ended where the next begins (a legato overlap
    shorter than a 16th is trimmed); a chord or a longer overlap is refused in one sentence.
    Not ``strict`` (an editor's score, whose parts may hold a second voice), any overlap is
    trimmed and only a chord is refused."""
    notes = _rounded(events)
    line: list[Note] = []
    for index, (start, end, pitch, exact_end) in enumerate(notes):
        if index + 1 < len(notes):
            following, _, other, _ = notes[index + 1]
            if following == start:
                raise NotMonophonicError(
                    f"{name}: the {voice} has a chord at step {start} (pitches {pitch} and {other}); "
                    "one line is expected"
                )
            if strict and exact_end - following >= 1:
                raise NotMonophonicError(
                    f"{name}: in the {voice}, the note {pitch} at step {start} still sounds when "
                    f"{other} starts at step {following}; one line is expected"
                )
            end = min(end, following)
        line.append((start, end, pitch))
    return line


def split_voices(events: list[Event], name: str) -> tuple[np.ndarray, np.ndarray]:
    """Pitches and onsets ``(steps, 4)`` of one polyphonic part. One part cannot tell a unison
    from a rest, so whenever fewer than four pitches sound, some voices double (see
    :func:`_assign_voices`); a step where nothing sounds is a rest in every voice."""
    notes = _rounded(events)
    steps = _length(notes, name)
    sounding: list[set[int]] = [set() for _ in range(steps)]
    struck: list[set[int]] = [set() for _ in range(steps)]
    for start, end, pitch, _ in notes:
        struck[start].add(pitch)
        for step in range(start, end):
            sounding[step].add(pitch)
    pitches = np.full((steps, NUM_VOICES), SILENCE, dtype=np.int64)
    onset = np.zeros((steps, NUM_VOICES), dtype=bool)
    last = [72, 64, 57, 48]  # typical pitches of S, A, T, B
    for step, chord in enumerate(sounding):
        if len(chord) > NUM_VOICES:
            raise TooManyVoicesError(
                f"{name}: {len(chord)} notes sound at step {step}; at most 4 voices are allowed"
            )
        if chord:
            pitches[step] = last = _assign_voices(sorted(chord, reverse=True), last)
            onset[step] = [pitch in struck[step] for pitch in pitches[step]]
    return pitches, onset


def _assign_voices(pitches: list[int], last: list[int]) -> list[int]:
    """Give each voice one of the distinct sounding ``pitches`` (high to low): voices keep
    their order, every pitch is sung, and a pitch sung by two voices is a unison. Among such
    assignments, the one nearest to each voice's last pitch wins."""
    best, best_cost = None, None
    # choose where the voice sequence S, A, T, B moves on to the next lower pitch
    for splits in itertools.combinations(range(1, NUM_VOICES), len(pitches) - 1):
        index = [sum(1 for split in splits if split <= voice) for voice in range(NUM_VOICES)]
        cost = sum(abs(last[v] - pitches[index[v]]) for v in range(NUM_VOICES))
        if best_cost is None or cost < best_cost:
            best, best_cost = index, cost
    return [pitches[i] for i in best]


def by_range(lines: list[list[Note]]) -> list[int]:
    """The voice of each line (two to four lines): voices in order, high to low, chosen so that
    the lines' notes fall outside their voices' ranges by the fewest semitones in all (ties:
    the line's middle pitch nearest to its voice's)."""

    def cost(line: list[Note], voice: int) -> tuple[int, float]:
        low, high = VOICE_RANGES[voice]
        outside = sum(max(0, low - p) + max(0, p - high) for _, _, p in line)
        middle = np.mean([p for _, _, p in line]) - (low + high) / 2
        return outside, abs(middle)

    order = sorted(range(len(lines)), key=lambda i: -np.mean([p for _, _, p in lines[i]]))
    best = min(
        itertools.combinations(range(NUM_VOICES), len(lines)),
        key=lambda voices: tuple(
            map(sum, zip(*(cost(lines[i], v) for i, v in zip(order, voices, strict=True)), strict=True))
        ),
    )
    result = [0] * len(lines)
    for line, voice in zip(order, best, strict=True):
        result[line] = voice
    return result


def _length(notes: list, name: str) -> int:
    if not notes:
        raise FileFormatError(f"{name}: no notes found")
    steps = max(note[1] for note in notes)
    if steps > MAX_FILE_STEPS:
        raise FileFormatError(f"{name}: {steps} steps is longer than the {MAX_FILE_STEPS} allowed")
    return steps


def parts_to_piece(
    parts: list[list[Event]],
    name: str,
    fifths: int | None = None,
    time_signature: str = DEFAULT_TIME_SIGNATURE,
    title: str | None = None,
    tempo_bpm: float | None = None,
    pickup: int = 0,
) -> Piece:
    """The piece of a file's parts (see the module's docstring for which voices they become),
    with what the file says of it: key, metre, title, tempo and pickup (one sentence naming the
    file where one of those cannot be)."""
    pitches, onset = _voices(parts, name)
    try:
        return Piece.of(pitches, onset, fifths, time_signature, title, tempo_bpm, pickup)
    except ShapeError as error:
        raise FileFormatError(f"{name}: {error}") from None


def _voices(parts: list[list[Event]], name: str) -> tuple[np.ndarray, np.ndarray]:
    """Pitches and onsets ``(steps, 4)`` of a file's parts."""
    parts = [part for part in parts if _rounded(part)]
    for part in parts:
        _check(part, name)
    if not parts:
        raise FileFormatError(f"{name}: no notes found")
    if len(parts) > NUM_VOICES:
        raise TooManyVoicesError(f"{name}: {len(parts)} parts hold notes; at most 4 voices are allowed")
    if len(parts) == 1 and not is_melody(parts[0]):
        return split_voices(parts[0], name)
    label = "melody" if len(parts) == 1 else "part"
    lines = [melody(part, name, label) for part in parts]
    voices = [0] if len(lines) == 1 else by_range(lines)
    steps = _length([note for line in lines for note in line], name)
    pitches = np.full((steps, NUM_VOICES), SILENCE, dtype=np.int64)
    onset = np.zeros((steps, NUM_VOICES), dtype=bool)
    for line, voice in zip(lines, voices, strict=True):
        for start, end, pitch in line:
            pitches[start:end, voice] = pitch
            onset[start, voice] = True
    return pitches, onset
