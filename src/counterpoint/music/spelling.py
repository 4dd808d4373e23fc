"""Pitch spelling: the letter name of every note, as a musician writes it, and the accidentals
a bar of notation prints.

A MIDI pitch says nothing of its name (A-sharp or B-flat). This module owns the one rule that
names notes, for MusicXML and for the page alike:

1. the key is the one given (from a file's key signature) or estimated from the notes
   (Krumhansl-Schmuckler, :func:`estimate_key`);
2. every note is spelled by context with Meredith's PS13 algorithm (partitura's
   ``estimate_spelling``), which looks at the notes sounding around it;
3. PS13 anchors its names on the piece's first note and can drift by a diminished second in
   modulating passages (a whole passage in A major written with F-flats and D-flats), so its
   names are then moved onto the key: a whole piece by twelve fifths if that puts more notes
   inside the key's window (:data:`KEY_WINDOWS`), then any note still outside the window;
4. voices in unison share one name, and within a voice a chromatic passing or neighbour note
   is named so that it moves to the next note by a letter (D, D-sharp, E), as musicians write it.

The page spells what it samples itself with a mirror of this rule (``static/local/spelling.js``,
tested against this module in ``tests/test_page_spelling.py``): change both together.

On music21's four-part Bach chorales this spells 99.87% of notes as their editors did, with or
without the key signature (``benchmarks/spelling.py``). :func:`accidentals` then says which
notes print an accidental within a bar (an F-sharp then an F in one bar prints a natural).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from counterpoint.music.notes import notes
from counterpoint.music.representation import NUM_VOICES

# Position of each natural on the line of fifths (C = 0, G = 1, F = -1, ...); a sharp adds 7.
LETTER_FIFTHS = {"F": -1, "C": 0, "G": 1, "D": 2, "A": 3, "E": 4, "B": 5}
LETTER_SEMITONES = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
ALTER_TEXT = {-2: "bb", -1: "b", 0: "", 1: "#", 2: "##"}
# MusicXML's names of the printed signs, by alteration.
ACCIDENTAL_NAMES = {-2: "flat-flat", -1: "flat", 0: "natural", 1: "sharp", 2: "double-sharp"}
MODES = ("major", "minor")
# Where a key's notes lie on the line of fifths, relative to its signature's fifths: in the
# editors' spellings of music21's Bach chorales (benchmarks/spelling.py), these windows hold all
# but 5 of their 96,728 notes (in D minor: A-flat to D-sharp). A name outside is moved by 12
# fifths, to the other name of its pitch.
KEY_WINDOWS = {"major": (-5, 10), "minor": (-3, 10)}
# Keys whose correlations with the notes differ by less than this fit alike: rounding, not the
# notes, would decide between them (estimate_key).
KEY_TIE = 1e-9
# The first and last MIDI pitch that have a name.
MIDI_LIMITS = (0, 127)

_NAME = re.compile(r"^([A-Ga-g])(bb|b|##|#|)(-?\d+)$")


def letter_at(fifths: int) -> str:
    """The letter of the name at ``fifths`` on the line of fifths (6: F-sharp -> "F")."""
    return "FCGDAEB"[(fifths + 1) % 7]


@dataclass(frozen=True)
class Spelling:
    """The written name of one note: ``letter`` C..B, ``alter`` -2..2 (flats negative) and
    ``octave`` (scientific pitch notation: middle C is C4, and B-sharp 3 sounds as C4)."""

    letter: str
    alter: int
    octave: int

    @property
    def name(self) -> str:
        """``"F#4"``, ``"Bb3"``, ``"C4"``: letter, accidental, octave."""
        return f"{self.letter}{ALTER_TEXT[self.alter]}{self.octave}"

    @property
    def midi(self) -> int:
        return 12 * (self.octave + 1) + LETTER_SEMITONES[self.letter] + self.alter

    @property
    def fifths(self) -> int:
        """Position on the line of fifths (C 0, G 1, F -1, F-sharp 6, B-flat -2)."""
        return LETTER_FIFTHS[self.letter] + 7 * self.alter

    @classmethod
    def parse(cls, name: str) -> Spelling:
        """The spelling written as ``"F#4"``, ``"Bb3"``, ``"Cbb5"`` or ``"E##2"``."""
        match = _NAME.match(name.strip())
        if match is None:
            raise ValueError(f"{name!r} is not a note name such as F#4 or Bb3")
        letter, accidental, octave = match.groups()
        alter = {text: value for value, text in ALTER_TEXT.items()}[accidental]
        return cls(letter.upper(), alter, int(octave))

    @classmethod
    def at(cls, midi: int, fifths: int) -> Spelling:
        """The spelling of MIDI pitch ``midi`` whose name sits at ``fifths`` on the line of
        fifths (its pitch class must agree: ``fifths * 7 % 12 == midi % 12``)."""
        if (fifths * 7 - midi) % 12:
            raise ValueError(f"position {fifths} on the line of fifths does not name MIDI pitch {midi}")
        letter = letter_at(fifths)
        alter = (fifths + 1) // 7
        octave = (midi - alter - LETTER_SEMITONES[letter]) // 12 - 1
        return cls(letter, alter, octave)

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Key:
    """A key: its signature (``fifths``: sharps positive, flats negative) and ``mode``."""

    fifths: int = 0
    mode: str = "major"

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown mode {self.mode!r}: expected major or minor")
        if not -7 <= self.fifths <= 7:
            raise ValueError(f"a key signature has at most 7 sharps or flats, not {abs(self.fifths)}")

    @property
    def tonic(self) -> str:
        """The tonic's name without octave: ``"G"``, ``"Bb"``, ``"F#"``."""
        position = self.fifths + (3 if self.mode == "minor" else 0)
        return Spelling.at(self.tonic_pitch_class + 60, position).name[:-1]

    @property
    def tonic_pitch_class(self) -> int:
        """The tonic's pitch class, C = 0 (F-sharp major and G-flat major share 6)."""
        return (self.fifths + (3 if self.mode == "minor" else 0)) * 7 % 12

    @property
    def name(self) -> str:
        """``"G minor"``, ``"Bb major"``."""
        return f"{self.tonic} {self.mode}"

    def signature_alter(self, letter: str) -> int:
        """How the key signature alters ``letter``: +1 sharp, -1 flat, 0 none."""
        position = LETTER_FIFTHS[letter]
        if self.fifths > 0 and position <= self.fifths - 2:  # sharps in the order F C G D A E B
            return 1
        if self.fifths < 0 and position >= self.fifths + 6:  # flats in the order B E A D G C F
            return -1
        return 0

    @classmethod
    def parse(cls, text: str) -> Key:
        """A key from ``"G minor"``, ``"Bb major"``, ``"F#"`` (major) or ``"Gm"`` (minor)."""
        match = re.match(r"^\s*([A-Ga-g])(bb|b|##|#|-)?\s*(major|minor|maj|min|m)?\s*$", text)
        if match is None:
            raise ValueError(f"{text!r} is not a key such as 'G minor' or 'Bb major'")
        letter, accidental, mode = match.groups()
        alter = {None: 0, "": 0, "#": 1, "##": 2, "b": -1, "-": -1, "bb": -2}[accidental]
        minor = mode in ("minor", "min", "m")
        fifths = LETTER_FIFTHS[letter.upper()] + 7 * alter - (3 if minor else 0)
        return cls(fifths, "minor" if minor else "major")


def _note_array(pitches: Sequence[int], onsets: Sequence[float], durations: Sequence[float]) -> np.ndarray:
    """The structured array partitura reads: onsets and durations in quarters."""
    array = np.empty(
        len(pitches), dtype=[("onset_quarter", float), ("duration_quarter", float), ("pitch", int)]
    )
    array["onset_quarter"] = onsets
    array["duration_quarter"] = durations
    array["pitch"] = pitches
    return array


def _check_pitches(pitches: Sequence[int]) -> None:
    low, high = MIDI_LIMITS
    for pitch in pitches:
        if not low <= pitch <= high:
            raise ValueError(f"pitch {pitch} is not a MIDI pitch ({low}..{high})")


def _pitch_class_durations(pitches: Sequence[int], durations: Sequence[float]) -> np.ndarray:
    """How long each pitch class sounds (C = 0), the notes added in order."""
    distribution = np.zeros(12)
    for pitch, duration in zip(pitches, durations, strict=True):
        distribution[int(pitch) % 12] += duration
    return distribution


def _key_correlations(distribution: np.ndarray) -> np.ndarray:
    """How well a pitch-class distribution fits each key: its Pearson correlation with each
    key's Krumhansl-Kessler profile, in partitura's order of keys (``partitura.utils.globals.
    KEYS``), as partitura's ``estimate_key`` computes it."""
    from partitura.musicanalysis.key_identification import KRUMHANSL_KESSLER

    return np.array([np.corrcoef(distribution, profile)[0, 1] for profile in KRUMHANSL_KESSLER])


def estimate_key(pitches: Sequence[int], durations: Sequence[float], fifths: int | None = None) -> Key:
    """The key that best fits these notes (Krumhansl-Schmuckler: :func:`_key_correlations` of
    the pitch classes' durations). With ``fifths`` (a key signature, from a file), the major or
    minor key of that signature that fits best. No notes, or no key to hear (every pitch class
    sounds as long): C major (or the signature's major).

    Keys that fit alike (closer than :data:`KEY_TIE`: a whole-tone scale fits six keys as well)
    go to the first in partitura's order (C, D-flat, D ... major, then minor), not to rounding,
    so that the page's mirror (``static/local/spelling.js``) picks the same key."""
    from partitura.utils.globals import KEYS

    keys = [Key(key_fifths, mode) for _, mode, key_fifths in KEYS]
    distribution = _pitch_class_durations(pitches, durations)
    if len(pitches) == 0 or distribution.min() == distribution.max():
        return Key(fifths or 0)
    correlations = _key_correlations(distribution)
    # partitura names each key one way (F-sharp major, never G-flat major): match by tonic
    candidates = [
        index
        for index, key in enumerate(keys)
        if fifths is None or key.tonic_pitch_class == Key(fifths, key.mode).tonic_pitch_class
    ]
    best = max(correlations[index] for index in candidates)
    chosen = keys[next(index for index in candidates if correlations[index] >= best - KEY_TIE)]
    return chosen if fifths is None else Key(fifths, chosen.mode)


def _one_name_per_unison(
    positions: np.ndarray, pitches: Sequence[int], onsets: Sequence[float], key: Key
) -> np.ndarray:
    """Notes of one pitch struck together (voices in unison) take one name. PS13 names them one
    after another, in an order numpy's sort leaves to chance (its quicksort is not stable), and
    may name them apart (E-sharp in one voice, F in the other); they take the name most of them
    have, then the one nearer the middle of the key's window (a half-integer: never a tie)."""
    positions = positions.copy()
    low, high = (key.fifths + edge for edge in KEY_WINDOWS[key.mode])
    unisons: dict[tuple[float, int], list[int]] = {}
    for index, (onset, pitch) in enumerate(zip(onsets, pitches, strict=True)):
        unisons.setdefault((float(onset), int(pitch)), []).append(index)
    for members in unisons.values():
        names = Counter(int(positions[index]) for index in members)
        if len(names) > 1:
            positions[members] = min(names, key=lambda name: (-names[name], abs(name - (low + high) / 2)))
    return positions


def _resolve_by_step(
    positions: np.ndarray, pitches: Sequence[int], onsets: Sequence[float], voices: Sequence[int], key: Key
) -> np.ndarray:
    """A chromatic passing or neighbour note takes the name that moves to the next note by a
    letter (D, D-sharp, E; G, G-flat, F; E, D-sharp, E), the way a musician writes it."""
    positions = positions.copy()
    low, high = (key.fifths + edge for edge in KEY_WINDOWS[key.mode])
    for voice in set(voices):
        line = sorted((i for i, v in enumerate(voices) if v == voice), key=lambda i: onsets[i])
        for before, note, after in zip(line, line[1:], line[2:], strict=False):
            if key.fifths - 1 <= positions[note] <= key.fifths + 5:
                continue  # in the key signature: not chromatic
            step_in, step_out = pitches[note] - pitches[before], pitches[after] - pitches[note]
            if abs(step_out) != 1 or step_in not in (step_out, -step_out):
                continue  # neither a chromatic passing note nor a chromatic neighbour
            if letter_at(positions[note]) != letter_at(positions[after]):
                continue
            for other in (positions[note] - 12, positions[note] + 12):
                if low <= other <= high and letter_at(other) != letter_at(positions[after]):
                    positions[note] = other
                    break
    return positions


def spell(
    pitches: Sequence[int],
    onsets: Sequence[float],
    durations: Sequence[float],
    key: Key | int | None = None,
    voices: Sequence[int] | None = None,
) -> list[Spelling]:
    """The spelling of each note (MIDI ``pitches``, ``onsets`` and ``durations`` in any one
    time unit, notes in any order, several voices together) in ``key``: a :class:`Key`, a key
    signature's fifths (from a file; the mode is estimated) or None (estimated from the notes).
    ``voices`` (the voice of each note), if given, lets a chromatic passing or neighbour note
    be named by where its voice goes next."""
    from partitura.musicanalysis import estimate_spelling

    if len(pitches) == 0:
        return []
    _check_pitches(pitches)
    if not isinstance(key, Key):
        key = estimate_key(pitches, durations, key)
    names = estimate_spelling(_note_array(pitches, onsets, durations))
    positions = np.array([Spelling(str(n["step"]), int(n["alter"]), 0).fifths for n in names])
    low, high = (key.fifths + edge for edge in KEY_WINDOWS[key.mode])
    # PS13 names the whole piece relative to its first note: move it as a whole first...
    shift = min((0, -12, 12), key=lambda s: int(((positions + s < low) | (positions + s > high)).sum()))
    positions = positions + shift
    # ...then any passage that drifted, note by note.
    positions = np.where(
        positions < low, positions + 12, np.where(positions > high, positions - 12, positions)
    )
    positions = _one_name_per_unison(positions, pitches, onsets, key)
    if voices is not None:
        positions = _resolve_by_step(positions, pitches, onsets, voices, key)
    return [
        Spelling.at(int(pitch), int(position)) for pitch, position in zip(pitches, positions, strict=True)
    ]


def _chorale_notes(chorale: np.ndarray, onset: np.ndarray | None) -> list[tuple[int, int, int, int]]:
    """Every note of a chorale as ``(voice, start, length, pitch)``."""
    chorale = np.asarray(chorale)
    starts = None if onset is None else np.asarray(onset)
    return [
        (voice, start, length, pitch)
        for voice in range(NUM_VOICES)
        for start, length, pitch in notes(chorale[:, voice], None if starts is None else starts[:, voice])
    ]


def chorale_key(chorale: np.ndarray, onset: np.ndarray | None = None, fifths: int | None = None) -> Key:
    """The key of a chorale ``(steps, 4)``, estimated from its notes; with ``fifths`` (a key
    signature from a file), that signature's major or minor key. :func:`spell_chorale` spells
    in this key when it is given none, so a writer prints the signature the names agree with."""
    found = _chorale_notes(chorale, onset)
    return estimate_key([pitch for *_, pitch in found], [length / 4 for _, _, length, _ in found], fifths)


def spell_chorale(
    chorale: np.ndarray, onset: np.ndarray | None = None, key: Key | int | None = None
) -> np.ndarray:
    """The name of every sounding step of a chorale: a ``(steps, 4)`` array of strings such
    as ``"F#4"`` (``""`` where a voice is silent); every step of a note has its note's name.

    ``onset`` (bool ``(steps, 4)``) marks where a note is struck, so that a repeated note is
    two notes; without it a run of one pitch is one note. ``key`` as in :func:`spell`. All
    voices are spelled together."""
    chorale = np.asarray(chorale)
    names = np.full(chorale.shape, "", dtype="<U6")
    found = _chorale_notes(chorale, onset)
    if not found:
        return names
    voices, starts, lengths, pitches = (list(column) for column in zip(*found, strict=True))
    spellings = spell(pitches, [s / 4 for s in starts], [n / 4 for n in lengths], key, voices)
    for voice, start, length, spelling in zip(voices, starts, lengths, spellings, strict=True):
        names[start : start + length, voice] = spelling.name
    return names


def accidentals(
    spellings: Sequence[Spelling],
    bars: Sequence[int],
    fifths: int,
    tied: Sequence[bool] | None = None,
    courtesy: bool = False,
) -> list[str | None]:
    """The accidental each note of one staff prints, as MusicXML names it (``"sharp"``,
    ``"flat"``, ``"natural"``, ``"double-sharp"``, ``"flat-flat"``), or None.

    ``spellings`` in the order written, ``bars`` the bar of each, ``fifths`` the key signature;
    ``tied[i]`` is True for a note tied over from the one before (it prints nothing). An
    accidental holds for its letter and octave until the end of the bar, so F-sharp then F in
    one bar prints a natural on the F; a tied note's accidental does not carry to later notes.
    With ``courtesy``, the first note of a letter in a bar also shows its accidental when the
    bar before altered that letter otherwise (F-sharp, barline, F prints a natural). It is off
    by default: the editors of the Bach chorales print such a reminder only two times in five,
    and without it the printed accidentals agree with theirs more often (benchmarks/spelling.py)."""
    if len(bars) != len(spellings) or (tied is not None and len(tied) != len(spellings)):
        raise ValueError("spellings, bars and tied must have one entry per note")
    signature = Key(fifths)
    result: list[str | None] = []
    current: dict[tuple[str, int], int] = {}  # (letter, octave) -> alteration in force
    altered: dict[str, int] = {}  # letter -> the last alteration this bar printed
    before: dict[str, int] = {}  # the same, for the bar before
    bar = None
    for index, spelling in enumerate(spellings):
        if bars[index] != bar:
            before = altered if bar is not None and bars[index] == bar + 1 else {}
            bar, current, altered = bars[index], {}, {}
        if tied is not None and tied[index]:
            result.append(None)
            continue
        place = (spelling.letter, spelling.octave)
        in_force = current.get(place, signature.signature_alter(spelling.letter))
        cautionary = (
            courtesy
            and place not in current
            and spelling.letter in before
            and before[spelling.letter] != spelling.alter
        )
        if spelling.alter != in_force or cautionary:
            result.append(ACCIDENTAL_NAMES[spelling.alter])
            altered[spelling.letter] = spelling.alter
        else:
            result.append(None)
        current[place] = spelling.alter
    return result
