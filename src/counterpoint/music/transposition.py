"""Any key, any octave: the one rule that says how far the given notes are moved before the
model writes the other voices (and the result moved back), or why they cannot be.

The voices' ranges (:data:`~counterpoint.music.rules.VOICE_RANGES`) are where the model was
trained to write, so the given notes are moved into them by a common shift, the model writes
the other voices there, and everything it wrote is moved back by the same shift: what the user
wrote comes back exactly, in its own key and octave. A voice whose span is wider than its range
cannot be moved into it, and the error says so in one sentence.

Which shift, of those that fit, is the rule's choice (:data:`RULES`):

- ``"octave"``: the fitting shift nearest a whole number of octaves (the key is kept where an
  octave fits, else moved as little as possible), smallest first;
- ``"key"``: the same, but only among shifts that bring the notes' key (Krumhansl-Schmuckler,
  :func:`~counterpoint.music.spelling.estimate_key`) to one the shipped model knows well
  (:data:`WELL_KNOWN_KEYS`: it was trained without transposition, on Bach's keys); where no
  fitting shift does, the octave rule;
- ``"centre"``: of the shifts to a key the model knows well (any fitting shift where none
  is), the one that puts the middle of the given notes' span nearest where Bach's sopranos
  sit (:data:`SOPRANO_MIDDLE`), so that the other voices have the room they have in his;
- ``"register"``: the octave rule's shift where it leaves the notes in a key the model knows
  well with the middle of their span where most of Bach's sopranos have theirs
  (:data:`SOPRANO_MIDDLES`: a melody that already looks like his is left alone), else the
  centre rule's.

``benchmarks/keys.py`` measured the four on 14 melodies written in all 12 keys; :data:`DEFAULT_RULE`
is the one it chose (``docs/notes/2026-12-07-keys.md``).
"""

from __future__ import annotations

import numpy as np

from counterpoint.errors import PitchOutOfRangeError
from counterpoint.music.notes import notes
from counterpoint.music.representation import NUM_VOICES, SILENCE, VOICES
from counterpoint.music.rules import VOICE_RANGES
from counterpoint.music.spelling import MIDI_LIMITS

RULES = ("octave", "key", "centre", "register")
DEFAULT_RULE = "register"

# How many of the JSB training split's 229 chorales are in each key (tonic pitch class, C = 0;
# mode), by the key estimate of counterpoint.music.spelling.chorale_key; printed by
# `python benchmarks/keys.py --jsb-keys`. The shipped model saw no other keys.
JSB_KEY_COUNTS: dict[tuple[int, str], int] = {
    (7, "major"): 32, (9, "minor"): 30, (7, "minor"): 22, (2, "major"): 21, (9, "major"): 18,
    (2, "minor"): 18, (5, "major"): 18, (11, "minor"): 14, (4, "minor"): 12, (0, "major"): 11,
    (10, "major"): 10, (4, "major"): 7, (3, "major"): 5, (0, "minor"): 4, (6, "minor"): 3,
    (1, "minor"): 2, (8, "major"): 1, (11, "major"): 1,
}  # fmt: skip
# A key the model knows well: at least 10 training chorales (4%) are in it: G, D, A, F, C and
# B-flat major; A, G, D, B and E minor.
WELL_KNOWN_KEYS = frozenset(key for key, count in JSB_KEY_COUNTS.items() if count >= 10)

# The middle of the soprano's span (lowest and highest note) in the median JSB training
# chorale: B-flat 4 (10% of chorales are below 68, 10% above 73; `benchmarks/keys.py
# --jsb-keys`). Another voice given alone is aimed as far from it as its range's middle is from
# the soprano's.
SOPRANO_MIDDLE = 70.0
SOPRANO_MIDDLES = (68.0, 73.0)

# Names for the ends of a range and of a span (a sentence names no key, so one spelling each).
_PITCH_CLASS_NAMES = ("C", "C♯", "D", "E♭", "E", "F", "F♯", "G", "A♭", "A", "B♭", "B")
# The harmony is moved back by the shift, so every voice's range moved back must stay in MIDI:
# the shifts (in semitones) that keep it there.
SHIFT_LIMITS = (
    max(high for _, high in VOICE_RANGES) - MIDI_LIMITS[1],
    min(low for low, _ in VOICE_RANGES) - MIDI_LIMITS[0],
)


def pitch_name(pitch: int) -> str:
    """``"B♭3"``, ``"C4"``: a MIDI pitch in scientific notation (middle C is C4)."""
    return f"{_PITCH_CLASS_NAMES[pitch % 12]}{pitch // 12 - 1}"


def _article(voice: int) -> str:
    return "an" if VOICES[voice][0] in "aeiou" else "a"


def max_spans() -> list[int]:
    """The widest span, in semitones, each voice can be given (soprano to bass): its range's."""
    return [high - low for low, high in VOICE_RANGES]


def _given_lines(chorale: np.ndarray, given: np.ndarray) -> dict[int, np.ndarray]:
    """The sounding given pitches of each voice that has any; ``given`` is ``(4, steps)``."""
    chorale = np.asarray(chorale, dtype=np.int64)
    lines = {}
    for voice in range(NUM_VOICES):
        line = chorale[:, voice][np.asarray(given[voice], dtype=bool) & (chorale[:, voice] != SILENCE)]
        if line.size:
            lines[voice] = line
    return lines


def _span_sentence(voice: int, line: np.ndarray, melody: bool) -> str:
    low, high = VOICE_RANGES[voice]
    what = "the melody" if melody else f"the {VOICES[voice]}"
    return (
        f"{what} spans {int(line.max() - line.min())} semitones ({pitch_name(int(line.min()))} to "
        f"{pitch_name(int(line.max()))}); {_article(voice)} {VOICES[voice]} sings at most "
        f"{high - low} ({pitch_name(low)} to {pitch_name(high)})"
    )


def _must_move(bound: int, at_least: bool) -> str:
    """How a voice may move: ``bound`` is its smallest (``at_least``) or largest fitting shift."""
    if at_least:
        return f"must move up {bound} semitones or more" if bound > 0 else f"may move down {-bound} at most"
    return f"must move down {-bound} semitones or more" if bound < 0 else f"may move up {bound} at most"


def fitting_shifts(chorale: np.ndarray, given: np.ndarray) -> list[int]:
    """Every shift (semitones) that moves each given voice's notes into its range, smallest
    first; raises :class:`PitchOutOfRangeError` with one sentence if none does."""
    lines = _given_lines(chorale, given)
    if not lines:
        return [0]
    bounds = {}
    for voice, line in lines.items():
        low, high = VOICE_RANGES[voice]
        if line.max() - line.min() > high - low:
            raise PitchOutOfRangeError(_span_sentence(voice, line, melody=len(lines) == 1))
        bounds[voice] = (low - int(line.min()), high - int(line.max()))
    lowest = max(low for low, _ in bounds.values())
    highest = min(high for _, high in bounds.values())
    if lowest > highest:
        up = max(bounds, key=lambda voice: bounds[voice][0])
        down = min(bounds, key=lambda voice: bounds[voice][1])
        raise PitchOutOfRangeError(
            f"the given {VOICES[up]} and {VOICES[down]} are too far apart to move into their ranges "
            f"together: the {VOICES[up]} {_must_move(bounds[up][0], at_least=True)} and the "
            f"{VOICES[down]} {_must_move(bounds[down][1], at_least=False)}"
        )
    lowest, highest = max(lowest, SHIFT_LIMITS[0]), min(highest, SHIFT_LIMITS[1])
    if lowest > highest:
        where = "low" if lowest > SHIFT_LIMITS[1] else "high"
        raise PitchOutOfRangeError(
            f"the given notes lie too {where} for the other voices to be written "
            f"{'above' if where == 'high' else 'below'} them within MIDI's pitches "
            f"({MIDI_LIMITS[0]} to {MIDI_LIMITS[1]})"
        )
    return sorted(range(lowest, highest + 1), key=abs)


def _octave_distance(shift: int) -> int:
    """Semitones from ``shift`` to the nearest whole number of octaves (0..6)."""
    return min(shift % 12, -shift % 12)


def _key_of(chorale: np.ndarray, given: np.ndarray) -> tuple[int, str]:
    """Tonic pitch class and mode of the given notes (each note weighted by its length)."""
    from counterpoint.music.spelling import estimate_key

    chorale = np.asarray(chorale, dtype=np.int64)
    given = np.asarray(given, dtype=bool)
    found = [
        (pitch, length)
        for voice in range(NUM_VOICES)
        for _, length, pitch in notes(np.where(given[voice], chorale[:, voice], SILENCE))
    ]
    key = estimate_key([pitch for pitch, _ in found], [length / 4 for _, length in found])
    return key.tonic_pitch_class, key.mode


def choose_shift(chorale: np.ndarray, given: np.ndarray, rule: str = DEFAULT_RULE) -> int:
    """The shift (semitones) at which the model writes the voices not given: ``chorale`` is
    ``(steps, 4)``, ``given`` ``(4, steps)`` bool. See the module docstring for ``rule``.
    Raises :class:`PitchOutOfRangeError` (one sentence) where no shift fits."""
    if rule not in RULES:
        raise ValueError(f"unknown transposition rule {rule!r}: expected one of {', '.join(RULES)}")
    shifts = fitting_shifts(chorale, given)
    nearest_octave = min(shifts, key=lambda shift: (_octave_distance(shift), abs(shift)))
    if rule == "octave" or not _given_lines(chorale, given):
        return nearest_octave
    tonic, mode = _key_of(chorale, given)
    known = [shift for shift in shifts if ((tonic + shift) % 12, mode) in WELL_KNOWN_KEYS]
    if rule in ("centre", "register"):
        voice, line = min(_given_lines(chorale, given).items())  # the highest given voice
        # where the voice's middle is aimed: as far from the soprano's as its range's middle
        offset = (sum(VOICE_RANGES[voice]) - sum(VOICE_RANGES[0])) / 2 - (
            int(line.min()) + int(line.max())
        ) / 2
        low, high = (middle + offset for middle in SOPRANO_MIDDLES)
        if rule == "register" and nearest_octave in known and low <= nearest_octave <= high:
            return nearest_octave
        return min(known or shifts, key=lambda shift: (abs(shift - SOPRANO_MIDDLE - offset), abs(shift)))
    if not known:
        return nearest_octave

    def preference(shift: int) -> tuple[int, int, int]:
        # the nearest well-known key; of two as near, the better known; then the smaller move
        return _octave_distance(shift), -JSB_KEY_COUNTS[((tonic + shift) % 12, mode)], abs(shift)

    return min(known, key=preference)


def limits() -> dict:
    """The rule's limits for a client (the page refuses a note that breaks them when it is
    placed): each voice's range and widest span, soprano to bass."""
    return {
        "rule": DEFAULT_RULE,
        "voice_ranges": [list(r) for r in VOICE_RANGES],
        "max_span": max_spans(),
    }
