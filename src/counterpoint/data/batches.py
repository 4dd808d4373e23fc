"""What feeds a network from a set of chorales: random crops and transpositions, pianoroll
batches, and the calibration inputs of the int8 network."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from counterpoint.data import masks
from counterpoint.errors import (
    ConfigError,
)
from counterpoint.model.network import make_input
from counterpoint.music.representation import (
    DEFAULT_RANGE,
    SILENCE,
    PitchRange,
    transpose,
    transposition_range,
)


def random_crop(chorale: np.ndarray, steps: int, rng: np.random.Generator) -> np.ndarray:
    """A window of ``steps`` consecutive rows starting at a random step (the whole piece if
    it is exactly that long)."""
    start = int(rng.integers(0, len(chorale) - steps + 1))
    return chorale[start : start + steps]


def random_transposition(
    chorale: np.ndarray,
    rng: np.random.Generator,
    pitch_range: PitchRange = DEFAULT_RANGE,
    max_shift: int = 0,
) -> np.ndarray:
    """Shift by a shift drawn uniformly from all those that keep every voice in range, and
    with ``max_shift`` no more than that many semitones either way (0: no such limit)."""
    low, high = transposition_range(chorale, pitch_range)
    if max_shift:  # shift 0 is always allowed: the piece is in range as it is
        low, high = max(low, -max_shift), min(high, max_shift)
    return transpose(chorale, int(rng.integers(low, high + 1)))


def pieces_at_least(chorales: list[np.ndarray], crop_steps: int) -> list[np.ndarray]:
    """The pieces a crop of ``crop_steps`` fits in; raises if there are none."""
    usable = [piece for piece in chorales if len(piece) >= crop_steps]
    if not usable:
        longest = max((len(piece) for piece in chorales), default=0)
        raise ConfigError(f"crop of {crop_steps} steps is longer than every piece (longest: {longest})")
    return usable


def pianoroll_batch(chorales: np.ndarray | torch.Tensor, pitch_range: PitchRange) -> torch.Tensor:
    """One-hot ``(B, 4, T, P)`` float32 from int chorales ``(B, T, 4)``; silence is zeros."""
    pitches = torch.as_tensor(np.asarray(chorales), dtype=torch.long).transpose(1, 2)
    silent = pitches == SILENCE
    index = (pitches - pitch_range.low).clamp(0, pitch_range.size - 1)
    roll = F.one_hot(index, pitch_range.size).float()
    return roll.masked_fill(silent.unsqueeze(-1), 0.0)


def calibration_set(
    chorales: list[np.ndarray], pitch_range: PitchRange, crops: int = 256, steps: int = 32, seed: int = 0
) -> np.ndarray:
    """Network inputs ``(crops, 8, steps, P)`` to calibrate activation ranges on: random
    windows of ``chorales`` (a training split) with notes erased by orderless masks, the
    inputs the network was trained on. 2 measures by default, the sampler's usual length."""

    rng = np.random.default_rng(seed)
    usable = pieces_at_least(chorales, steps)
    windows = np.stack([random_crop(usable[rng.integers(len(usable))], steps, rng) for _ in range(crops)])
    known = masks.orderless(crops, steps, torch.Generator().manual_seed(seed))
    return make_input(pianoroll_batch(windows, pitch_range), known).numpy()
