"""The one representation of a chorale that every other module uses.

A *chorale* is an integer numpy array of shape ``(steps, 4)``: one row per 16th note, one
column per voice (soprano, alto, tenor, bass), each entry a MIDI pitch or ``SILENCE`` (-1).
A held note is the same pitch on consecutive steps, as in the JSB Chorales data, so a held
note and a repeated note look alike.

The model sees a *pianoroll*: a float array ``(4, steps, pitches)``, one-hot over a
:class:`PitchRange` (default MIDI 36..81, the range of the JSB chorales). A silent step is an
all-zero row. This module converts between the two and validates chorales.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from counterpoint.errors import PitchOutOfRangeError, ShapeError

VOICES: tuple[str, ...] = ("soprano", "alto", "tenor", "bass")
NUM_VOICES = len(VOICES)
SILENCE = -1
STEPS_PER_QUARTER = 4
STEPS_PER_MEASURE = 16  # 4/4 at 16th-note resolution


@dataclass(frozen=True)
class PitchRange:
    """An inclusive range of MIDI pitches; the model's pitch axis has ``size`` entries."""

    low: int = 36
    high: int = 81

    def __post_init__(self) -> None:
        if not 0 <= self.low <= self.high <= 127:
            raise ValueError(f"invalid pitch range {self.low}..{self.high}")

    @property
    def size(self) -> int:
        return self.high - self.low + 1


DEFAULT_RANGE = PitchRange()


def voice_index(name: str) -> int:
    """Index of a voice from its name or first letter ('soprano', 'S', 'alto', ...)."""
    key = name.strip().lower()
    for index, voice in enumerate(VOICES):
        if key in (voice, voice[0]):
            return index
    raise ValueError(f"unknown voice {name!r}: expected one of {', '.join(VOICES)}")


def parse_voices(names: str | list[str] | tuple[str, ...]) -> list[int]:
    """Voice indices from ``"alto,tenor"`` or a list of names; sorted, no duplicates."""
    if isinstance(names, str):
        names = [part for part in names.split(",") if part.strip()]
    if not names:
        raise ValueError("no voice named")
    return sorted({voice_index(name) for name in names})


def validate_chorale(chorale: np.ndarray, pitch_range: PitchRange = DEFAULT_RANGE) -> np.ndarray:
    """Return ``chorale`` as an int64 ``(steps, 4)`` array, or raise naming the problem."""
    array = np.asarray(chorale)
    if array.ndim != 2 or array.shape[1] != NUM_VOICES:
        raise ShapeError(f"a chorale must have shape (steps, 4), got {tuple(array.shape)}")
    if array.shape[0] == 0:
        raise ShapeError("a chorale must have at least one step")
    if not np.issubdtype(array.dtype, np.integer) and (
        not np.all(np.isfinite(array)) or not np.all(array == np.round(array))
    ):
        raise ShapeError("chorale pitches must be whole numbers (use -1 for silence)")
    array = array.astype(np.int64)
    sounding = array != SILENCE
    outside = sounding & ((array < pitch_range.low) | (array > pitch_range.high))
    if outside.any():
        step, voice = np.argwhere(outside)[0]
        raise PitchOutOfRangeError(
            f"pitch {array[step, voice]} in the {VOICES[voice]} at step {step} is outside "
            f"the model's range {pitch_range.low}..{pitch_range.high}"
        )
    return array


def to_pianoroll(chorale: np.ndarray, pitch_range: PitchRange = DEFAULT_RANGE) -> np.ndarray:
    """One-hot pianoroll ``(4, steps, pitches)`` float32 of a chorale; silence is all zeros."""
    array = validate_chorale(chorale, pitch_range)
    steps = array.shape[0]
    pianoroll = np.zeros((NUM_VOICES, steps, pitch_range.size), dtype=np.float32)
    voice, step = np.nonzero(array.T != SILENCE)
    pianoroll[voice, step, array.T[voice, step] - pitch_range.low] = 1.0
    return pianoroll


def from_pianoroll(pianoroll: np.ndarray, pitch_range: PitchRange = DEFAULT_RANGE) -> np.ndarray:
    """Chorale ``(steps, 4)`` from a pianoroll ``(4, steps, pitches)``: argmax, zero rows silent."""
    roll = np.asarray(pianoroll)
    if roll.ndim != 3 or roll.shape[0] != NUM_VOICES or roll.shape[2] != pitch_range.size:
        raise ShapeError(f"a pianoroll must have shape (4, steps, {pitch_range.size}), got {roll.shape}")
    pitches = roll.argmax(axis=2) + pitch_range.low
    pitches[roll.max(axis=2) <= 0] = SILENCE
    return pitches.T.astype(np.int64)


def transpose(chorale: np.ndarray, semitones: int) -> np.ndarray:
    """Shift every sounding note by ``semitones``; silence stays silence."""
    array = np.asarray(chorale, dtype=np.int64)
    return np.where(array == SILENCE, SILENCE, array + semitones)


def transposition_range(chorale: np.ndarray, pitch_range: PitchRange = DEFAULT_RANGE) -> tuple[int, int]:
    """The smallest and largest shift that keep every note of ``chorale`` inside the range."""
    array = np.asarray(chorale)
    sounding = array[array != SILENCE]
    if sounding.size == 0:
        return 0, 0
    return pitch_range.low - int(sounding.min()), pitch_range.high - int(sounding.max())
