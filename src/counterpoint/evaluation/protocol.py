"""The Coconet paper's evaluation protocol (Magenta's ``FrameEvaluator``): each frame's
probability averaged over the orderings, a frame's later voices seeing the model's argmax
guesses for its earlier voices. Not an exact likelihood; what the paper's 0.57 measures."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from counterpoint.evaluation import predict
from counterpoint.evaluation.predict import _log_mean_exp
from counterpoint.model.network import Coconet
from counterpoint.music.representation import NUM_VOICES, to_pianoroll


def magenta_frame_log_probs(
    model: Coconet,
    chorale: np.ndarray,
    order: np.ndarray,
    window: bool = True,
    batch_size: int | None = None,
    progress=None,
    temperature: float = 1.0,
) -> np.ndarray:
    """Magenta's ``FrameEvaluator``, the protocol of the Coconet paper's framewise figures:
    like :func:`conditional_log_probs` for a frame-major ``order``, except that a note's
    earlier voices *in its own step* hold the model's argmax guesses for them, not the true
    notes (earlier steps hold the true notes). A step's first voice is therefore scored
    exactly as in :func:`conditional_log_probs`; the others are not exact conditionals."""
    roll = torch.from_numpy(to_pianoroll(chorale, model.pitch_range))
    return _paper_protocol(model, roll, order, window, batch_size, progress, temperature)


def _paper_protocol(
    model: Coconet,
    roll: torch.Tensor,
    order: np.ndarray,
    window: bool,
    batch_size: int | None,
    progress=None,
    temperature: float = 1.0,
    exact: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """:func:`magenta_frame_log_probs` on the pianoroll ``roll``. ``exact``: the
    ``(log_probs, argmax)`` of :func:`_predict` over the whole ``order``, if already computed.
    Then a note is read from it rather than computed again wherever its input is the same:
    a step's first voice, and any later voice whose step's earlier voices were all guessed
    right (so its own step holds the true notes, as in the exact conditional)."""
    steps = order[:, 1]
    first = np.flatnonzero(np.r_[True, steps[1:] != steps[:-1]])  # where each step's notes begin
    position = np.arange(len(order)) - np.repeat(first, np.diff(np.r_[first, len(order)]))
    targets = roll[order[:, 0], order[:, 1]].argmax(-1).numpy()
    guessed_right = np.ones(roll.shape[1], dtype=bool)  # per step: every guess so far was right
    guesses = roll.clone()
    log_probs = np.empty(len(order), dtype=np.float32)
    for rank in range(NUM_VOICES):  # every step's rank-th voice at once, as Magenta batches
        chosen = np.flatnonzero(position == rank)
        if len(chosen) == 0:
            break
        best = np.empty(len(chosen), dtype=np.int64)
        same = guessed_right[steps[chosen]] if exact is not None else np.zeros(len(chosen), dtype=bool)
        if same.any():
            log_probs[chosen[same]], best[same] = exact[0][chosen[same]], exact[1][chosen[same]]
        if not same.all():
            log_probs[chosen[~same]], best[~same] = predict._predict(
                model, roll, order, chosen[~same], window, batch_size, progress, temperature, own_step=guesses
            )
        guessed_right[steps[chosen]] &= best == targets[chosen]
        guesses[order[chosen, 0], order[chosen, 1]] = F.one_hot(torch.from_numpy(best), roll.shape[2]).float()
    return log_probs


def paper_protocol_losses(scored_piece: dict) -> np.ndarray:
    """A scored piece's loss per frame under the paper's protocol ``(T,)``: the frame's
    probabilities averaged over the orderings, as negative log."""
    return -_log_mean_exp(scored_piece["paper_frames"], axis=0)
