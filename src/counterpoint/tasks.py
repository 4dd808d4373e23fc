"""The composition tasks, each a mask plus the sampler: compose, harmonize, infill (rewrite),
transition and continue. They take ``(steps, 4)`` chorale arrays (with an optional ``onset``,
where each note is struck) or :class:`~counterpoint.music.piece.Piece` objects, and return the
finished pitches with their onsets: given notes keep theirs, written notes are one note per run
of equal pitches. Given a Piece, the result keeps what it says besides its notes (key, metre,
title, tempo, pickup): :meth:`TaskResult.piece`.

The given notes are moved into the voices' ranges, the model writes there, and what it wrote
is moved back (:mod:`counterpoint.music.transposition` owns the rule): a melody comes back in its
own key and octave, note for note; a span no voice can sing is an error. Several requests of
the same length can be sampled in one batch (:func:`fill_many`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from counterpoint.data import masks
from counterpoint.errors import MaskError, NotMonophonicError, ShapeError
from counterpoint.model.network import Coconet
from counterpoint.music.notes import onsets
from counterpoint.music.piece import Piece, merge_onset, normal_onset
from counterpoint.music.representation import (
    NUM_VOICES,
    SILENCE,
    STEPS_PER_MEASURE,
    from_pianoroll,
    to_pianoroll,
    transpose,
)
from counterpoint.music.transposition import DEFAULT_RULE, choose_shift
from counterpoint.sampling.config import Callback, SamplerConfig
from counterpoint.sampling.samplers import sample


@dataclass
class TaskResult:
    """A finished piece (pitches and, in ``onset``, where each note is struck) and what the
    user should know about how it was made."""

    chorale: np.ndarray
    notices: list[str] = field(default_factory=list)
    onset: np.ndarray | None = None
    # semitones the model wrote at, above the piece as given (the result is moved back)
    shift: int = 0
    # the Piece the task was given (None: an array), whose facts the result keeps
    given: Piece | None = None

    def __post_init__(self) -> None:
        if self.onset is None:
            self.onset = onsets(self.chorale)

    def piece(self, like: Piece | None = None) -> Piece:
        """The result as a :class:`Piece`, with the key, metre, title, tempo and pickup of
        ``like`` (default: the Piece the task was given, if it was given one)."""
        like = self.given if like is None else like
        if like is None:
            return Piece.of(self.chorale, self.onset)
        return like.with_pitches(self.chorale, self.onset)


def _split(piece: np.ndarray | Piece, onset: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    """Pitches and onsets of a piece given as a Piece or as an array (plus optional onsets)."""
    if isinstance(piece, Piece):
        return piece.pitches, piece.onset
    return np.asarray(piece), onset


def _keeping(result: TaskResult, piece: np.ndarray | Piece) -> TaskResult:
    """The result, remembering the Piece it was made from (if it was one)."""
    result.given = piece if isinstance(piece, Piece) else None
    return result


def fill_many(
    model: Coconet,
    chorales: list[np.ndarray],
    knowns: list[np.ndarray],
    sampler: SamplerConfig | None = None,
    seeds: list[int] | None = None,
    callback: Callback | None = None,
    transposition: str = DEFAULT_RULE,
) -> list[TaskResult]:
    """Fill the unknown notes of several pieces of the same length in one batch.

    ``knowns[i]`` is a ``(4, steps)`` bool mask, True where ``chorales[i]`` is given;
    ``transposition`` the rule that moves the given notes into the voices' ranges."""
    if not chorales:
        return []
    steps = len(chorales[0])
    if any(len(c) != steps for c in chorales):
        raise ShapeError("pieces sampled together must have the same length")
    seeds = list(range(len(chorales))) if seeds is None else seeds
    rolls, known_list, shifts = [], [], []
    for chorale, known in zip(chorales, knowns, strict=True):
        chorale = np.asarray(chorale, dtype=np.int64)
        known = masks.check_writable(known)
        if known.shape[1] != steps:
            raise MaskError(f"mask has {known.shape[1]} steps, the piece {steps}")
        shift = choose_shift(chorale, known, transposition)
        # silence in a given voice stays silent; unknown entries are placeholders
        work = np.where(known.T, transpose(chorale, shift), SILENCE)
        rolls.append(to_pianoroll(work, model.pitch_range))
        known_list.append(known)
        shifts.append(shift)
    pianoroll = torch.from_numpy(np.stack(rolls))
    known_tensor = torch.from_numpy(np.stack(known_list))
    result = sample(model, pianoroll, known_tensor, sampler, seeds=seeds, callback=callback)
    outputs = []
    for index, roll in enumerate(result.numpy()):
        written = from_pianoroll(roll, model.pitch_range)
        original = np.asarray(chorales[index], dtype=np.int64)
        merged = np.where(knowns[index].T, original, transpose(written, -shifts[index]))
        outputs.append(TaskResult(merged, shift=shifts[index]))
    return outputs


def fill(
    model: Coconet,
    chorale: np.ndarray,
    known: np.ndarray,
    sampler: SamplerConfig | None = None,
    seed: int = 0,
    callback: Callback | None = None,
    onset: np.ndarray | None = None,
    transposition: str = DEFAULT_RULE,
) -> TaskResult:
    """Fill one piece's unknown notes; the known ones keep their ``onset`` (if given)."""
    result = fill_many(model, [chorale], [known], sampler, [seed], callback, transposition)[0]
    result.onset = merge_onset(result.chorale, onset, np.asarray(known).T)
    return result


def _measures_to_steps(measures: int, like: np.ndarray | Piece | None = None) -> int:
    """16ths in ``measures`` bars of ``like``'s metre (a Piece's; 4/4 for an array or None)."""
    if measures < 1:
        raise ShapeError("the number of measures must be at least 1")
    return measures * (like.steps_per_bar if isinstance(like, Piece) else STEPS_PER_MEASURE)


def compose(
    model: Coconet,
    measures: int = 4,
    sampler: SamplerConfig | None = None,
    seed: int = 0,
    callback: Callback | None = None,
) -> TaskResult:
    """A new piece from scratch, ``measures`` bars of 4/4."""
    steps = _measures_to_steps(measures)
    empty = np.full((steps, NUM_VOICES), SILENCE, dtype=np.int64)
    return fill(model, empty, masks.compose_mask(steps), sampler, seed, callback)


def melody_to_chorale(melody: np.ndarray, voice: int = 0) -> np.ndarray:
    """A chorale with ``melody`` in ``voice`` and the other voices silent."""
    melody = np.asarray(melody)
    if melody.ndim != 1:
        raise NotMonophonicError(f"a melody must be one line, got shape {melody.shape}")
    chorale = np.full((len(melody), NUM_VOICES), SILENCE, dtype=np.int64)
    chorale[:, voice] = melody
    return chorale


def harmonize(
    model: Coconet,
    piece: np.ndarray | Piece,
    voices: list[int] | None = None,
    sampler: SamplerConfig | None = None,
    seed: int = 0,
    callback: Callback | None = None,
    onset: np.ndarray | None = None,
    transposition: str = DEFAULT_RULE,
) -> TaskResult:
    """Keep the given ``voices`` of ``piece`` (default: soprano) and write the others.

    ``piece`` is a :class:`Piece`, a chorale ``(steps, 4)`` or a melody ``(steps,)`` for the
    soprano; ``onset`` (same shape, bool) says where a given note is struck, so that a repeated
    note comes back as two. Rests in a given voice stay rests. ``transposition``: the rule that
    moves the given notes into the voices' ranges (:mod:`counterpoint.music.transposition`)."""
    voices = [0] if voices is None else voices
    given, (piece, onset) = piece, _split(piece, onset)
    if piece.ndim == 1:
        if len(voices) != 1:
            raise ShapeError("a single melody can only be given as one voice")
        piece = melody_to_chorale(piece, voices[0])
        if onset is not None:
            onset = melody_to_chorale(np.asarray(onset, dtype=np.int64), voices[0]) == 1
    if len(voices) == NUM_VOICES:
        raise MaskError("all four voices are given: nothing to write")
    if all((piece[:, v] == SILENCE).all() for v in voices):
        raise MaskError("the given voices hold no notes")
    known = masks.harmonize_mask(len(piece), voices)
    return _keeping(fill(model, piece, known, sampler, seed, callback, onset, transposition), given)


def infill(
    model: Coconet,
    piece: np.ndarray | Piece,
    start: int = 0,
    end: int | None = None,
    voices: list[int] | None = None,
    sampler: SamplerConfig | None = None,
    seed: int = 0,
    callback: Callback | None = None,
    onset: np.ndarray | None = None,
    transposition: str = DEFAULT_RULE,
) -> TaskResult:
    """Erase steps ``start:end`` of the chosen voices (default all) and rewrite them; the
    notes kept keep their ``onset``."""
    given, (piece, onset) = piece, _split(piece, onset)
    piece = np.asarray(piece, dtype=np.int64)
    known = masks.infill_mask(len(piece), start, end, voices)
    return _keeping(fill(model, piece, known, sampler, seed, callback, onset, transposition), given)


def transition(
    model: Coconet,
    opening: np.ndarray | Piece,
    closing: np.ndarray | Piece,
    measures: int = 2,
    sampler: SamplerConfig | None = None,
    seed: int = 0,
    callback: Callback | None = None,
    transposition: str = DEFAULT_RULE,
) -> TaskResult:
    """Write ``measures`` bars (of the opening's metre) that lead from ``opening`` into ``closing``."""
    bridge = _measures_to_steps(measures, opening)
    given = opening
    (opening, opening_onset), (closing, closing_onset) = _split(opening, None), _split(closing, None)
    opening, closing = np.asarray(opening, dtype=np.int64), np.asarray(closing, dtype=np.int64)
    gap = np.full((bridge, NUM_VOICES), SILENCE, dtype=np.int64)
    piece = np.concatenate([opening, gap, closing])
    onset = np.concatenate(
        [normal_onset(opening, opening_onset), gap != SILENCE, normal_onset(closing, closing_onset)]
    )
    known = masks.infill_mask(len(piece), len(opening), len(opening) + bridge)
    return _keeping(fill(model, piece, known, sampler, seed, callback, onset, transposition), given)


def continue_piece(
    model: Coconet,
    piece: np.ndarray | Piece,
    measures: int = 2,
    sampler: SamplerConfig | None = None,
    seed: int = 0,
    callback: Callback | None = None,
    transposition: str = DEFAULT_RULE,
) -> TaskResult:
    """Extend ``piece`` by ``measures`` bars of its metre."""
    extra = _measures_to_steps(measures, piece)
    given, (piece, onset) = piece, _split(piece, None)
    piece = np.asarray(piece, dtype=np.int64)
    longer = np.concatenate([piece, np.full((extra, NUM_VOICES), SILENCE, dtype=np.int64)])
    onset = np.concatenate([normal_onset(piece, onset), np.zeros((extra, NUM_VOICES), dtype=bool)])
    known = masks.infill_mask(len(longer), len(piece), len(longer))
    return _keeping(fill(model, longer, known, sampler, seed, callback, onset, transposition), given)
