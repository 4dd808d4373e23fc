"""A piece: a chorale's pitches plus where each note is struck, and what a file says about it.

The network sees only pitches (:mod:`counterpoint.music.representation`); a person writes
notes. A :class:`Piece` keeps both: ``pitches`` ``(steps, 4)`` as in a chorale, and ``onset``
``(steps, 4)`` bool, True where a note is struck, so that a repeated note (struck again) and a
held note (tied on) differ. Every file reader returns a Piece, every writer takes one, and the
tasks return the onsets of what they wrote. The one rule for onsets is :func:`normal_onset`: a
note is struck wherever the pitch changes, never in a rest, and otherwise where ``onset`` says.
Without onsets (an old file, a bare array), each run of equal pitches is one note.

A piece also knows where its bars fall and how fast it goes. ``pickup`` is the number of 16ths
before the first full bar (an upbeat, or anacrusis; 0: none): step 0 is then ``lead`` 16ths
into a bar (:attr:`Piece.lead`), and every barline is where :meth:`Piece.bar_of` says. A MIDI
file has no pickup of its own, so a piece that starts after a rest shorter than a bar begins
with a pickup (:func:`lift_pickup`). ``tempo_bpm`` is the tempo a file gave, in quarter notes
a minute (None: :data:`DEFAULT_TEMPO_BPM`); a tempo the user asks for wins (:meth:`Piece.with_tempo`).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, replace

import numpy as np

from counterpoint.errors import PitchOutOfRangeError, ShapeError
from counterpoint.limits import TEMPO_LIMITS_BPM
from counterpoint.music.notes import onsets
from counterpoint.music.representation import NUM_VOICES, SILENCE, STEPS_PER_QUARTER, VOICES

DEFAULT_TIME_SIGNATURE = "4/4"
DEFAULT_TEMPO_BPM = 80  # quarter notes a minute, where neither a file nor the user gives one
MIDI_LIMITS = (0, 127)  # the first and last MIDI pitch


def steps_per_bar(time_signature: str) -> int:
    """16ths in one bar of ``"3/4"``, ``"6/8"``, ...; raises for a metre the grid cannot hold."""
    try:
        beats, unit = (int(part) for part in time_signature.split("/"))
    except ValueError:
        raise ShapeError(f"{time_signature!r} is not a time signature such as 3/4") from None
    steps = beats * 4 * STEPS_PER_QUARTER / unit if beats > 0 and unit > 0 else 0
    if steps < 1 or steps != int(steps):
        raise ShapeError(f"the time signature {time_signature} does not fit a grid of 16th notes")
    return int(steps)


def written_metre(time_signature: str) -> str:
    """A file's time signature if the 16th-note grid can hold its bars, else 4/4 (a file in
    9/32 is still read, its notes on the grid, and written in 4/4)."""
    try:
        steps_per_bar(time_signature)
    except ShapeError:
        return DEFAULT_TIME_SIGNATURE
    return time_signature


def normal_onset(pitches: np.ndarray, onset: np.ndarray | None = None) -> np.ndarray:
    """The onsets of ``pitches`` ``(steps, 4)``: True where a note starts. A new pitch is always
    a new note and silence never starts one; where the pitch stays, ``onset`` (if given) says
    whether the note is struck again. Without ``onset``, one note per run of equal pitches."""
    pitches = np.asarray(pitches)
    derived = onsets(pitches)
    if onset is None:
        return derived
    onset = np.asarray(onset, dtype=bool)
    if onset.shape != pitches.shape:
        raise ShapeError(f"onsets must have shape {list(pitches.shape)}, got {list(onset.shape)}")
    return (derived | onset) & (pitches != SILENCE)


def merge_onset(pitches: np.ndarray, given: np.ndarray | None, known: np.ndarray) -> np.ndarray:
    """Onsets of a finished piece: the given notes (``known``, ``(steps, 4)`` bool) keep the
    onsets they came with (``given``); written notes are one note per run of equal pitches."""
    derived = onsets(pitches)
    kept = derived if given is None else normal_onset(pitches, given)
    return normal_onset(pitches, np.where(np.asarray(known, dtype=bool), kept, derived))


@dataclass(frozen=True, eq=False)
class Piece:
    """Pitches ``(steps, 4)`` (MIDI or ``SILENCE``), ``onset`` ``(steps, 4)`` bool, and what a
    file may say: the key signature's ``fifths`` (None: estimate it from the notes), the
    ``time_signature``, a ``title``, the ``tempo_bpm`` (None: the default) and the ``pickup``
    (16ths before the first full bar). Make one with :meth:`of`, which checks and completes."""

    pitches: np.ndarray
    onset: np.ndarray
    fifths: int | None = None
    time_signature: str = DEFAULT_TIME_SIGNATURE
    title: str | None = None
    tempo_bpm: float | None = None
    pickup: int = 0

    @classmethod
    def of(
        cls,
        pitches: np.ndarray | Piece,
        onset: np.ndarray | None = None,
        fifths: int | None = None,
        time_signature: str = DEFAULT_TIME_SIGNATURE,
        title: str | None = None,
        tempo_bpm: float | None = None,
        pickup: int = 0,
    ) -> Piece:
        """A piece from a chorale array (a Piece is returned as it is); ``onset`` defaults to
        one note per run of equal pitches."""
        if isinstance(pitches, Piece):
            return pitches
        array = np.asarray(pitches)
        if array.ndim != 2 or array.shape[1] != NUM_VOICES:
            raise ShapeError(f"a piece must have shape (steps, 4), got {tuple(array.shape)}")
        _check_timing(time_signature, tempo_bpm, pickup)
        if array.size and not np.issubdtype(array.dtype, np.integer) and not np.all(array == np.round(array)):
            raise ShapeError("pitches must be whole numbers (MIDI pitches, -1 for silence)")
        array = array.astype(np.int64)
        outside = (array != SILENCE) & ((array < MIDI_LIMITS[0]) | (array > MIDI_LIMITS[1]))
        if outside.any():
            step, voice = np.argwhere(outside)[0]
            raise PitchOutOfRangeError(
                f"{array[step, voice]} in the {VOICES[voice]} at step {step} is not a MIDI pitch "
                f"({MIDI_LIMITS[0]} to {MIDI_LIMITS[1]}, or -1 for silence)"
            )
        tempo = None if tempo_bpm is None else float(tempo_bpm)
        return cls(array, normal_onset(array, onset), fifths, time_signature, title, tempo, int(pickup))

    @property
    def steps(self) -> int:
        return len(self.pitches)

    @property
    def voices(self) -> list[int]:
        """The voices that hold at least one note."""
        return [voice for voice in range(NUM_VOICES) if (self.pitches[:, voice] != SILENCE).any()]

    @property
    def steps_per_bar(self) -> int:
        return steps_per_bar(self.time_signature)

    @property
    def lead(self) -> int:
        """16ths of the first bar before step 0: a bar less the pickup (0 without one). A
        written MIDI file starts with this much silence, so its bars fall where they were."""
        return (self.steps_per_bar - self.pickup) % self.steps_per_bar

    def bar_of(self, step: int) -> int:
        """Which bar a step is in, from 0 (the first bar: the pickup, if there is one); a bar
        starts wherever this changes. The one rule for barlines."""
        return (step + self.lead) // self.steps_per_bar

    def aligned_pitches(self) -> np.ndarray:
        """The pitches, a pickup's bar filled out by ``lead`` steps of rest before it, so that
        step 0 is a downbeat: how an array, which cannot say "pickup", keeps the barlines
        (a MIDI file written from it has its pickup again)."""
        rest = np.full((self.lead, NUM_VOICES), SILENCE, dtype=self.pitches.dtype)
        return np.concatenate([rest, self.pitches])

    @property
    def tempo(self) -> float:
        """The tempo to write: the file's, else :data:`DEFAULT_TEMPO_BPM`."""
        return DEFAULT_TEMPO_BPM if self.tempo_bpm is None else self.tempo_bpm

    def with_tempo(self, tempo_bpm: float | None) -> Piece:
        """The same piece at the tempo the user asked for (None: as it is)."""
        if tempo_bpm is None:
            return self
        _check_timing(self.time_signature, tempo_bpm, self.pickup)
        return replace(self, tempo_bpm=float(tempo_bpm))

    def with_pitches(self, pitches: np.ndarray, onset: np.ndarray | None = None) -> Piece:
        """The same file facts (key, metre, title, tempo, pickup) over other notes."""
        return replace(self, pitches=np.asarray(pitches, dtype=np.int64), onset=normal_onset(pitches, onset))

    def facts(self) -> tuple:
        """What the piece says besides its notes, for comparing two pieces."""
        return (self.fifths, self.time_signature, self.title, self.tempo_bpm, self.pickup)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Piece)
            and np.array_equal(self.pitches, other.pitches)
            and np.array_equal(self.onset, other.onset)
            and self.facts() == other.facts()
        )


def _check_timing(time_signature: str, tempo_bpm: float | None, pickup: int) -> None:
    """Refuses a metre the grid cannot hold, a tempo outside :data:`TEMPO_LIMITS_BPM` and a
    pickup that is not a whole number of 16ths shorter than a bar, each in one sentence."""
    bar = steps_per_bar(time_signature)
    low, high = TEMPO_LIMITS_BPM
    if tempo_bpm is not None and not (_is_number(tempo_bpm) and low <= tempo_bpm <= high):
        raise ShapeError(f"a tempo must be {low:g} to {high:g} quarter notes a minute, got {tempo_bpm}")
    if not (_is_number(pickup) and pickup == int(pickup) and 0 <= pickup < bar):
        raise ShapeError(
            f"a pickup must be a whole number of 16ths shorter than a bar of {time_signature} "
            f"(0 to {bar - 1}), got {pickup}"
        )


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and np.isfinite(value)


def lift_pickup(piece: Piece) -> Piece:
    """A piece whose first note comes after a rest shorter than a bar, in every voice, begins
    with a pickup instead: the rest goes and ``pickup`` is the rest of that bar. (A file that
    cannot say "pickup", such as MIDI, writes one this way.) Other pieces are returned as they are."""
    sounding = np.flatnonzero((piece.pitches != SILENCE).any(axis=1))
    first = int(sounding[0]) if len(sounding) else 0
    if piece.pickup or not 0 < first < piece.steps_per_bar:
        return piece
    return replace(
        piece,
        pitches=piece.pitches[first:],
        onset=piece.onset[first:],
        pickup=piece.steps_per_bar - first,
    )
