"""The network's predictions of notes in batches of windows, sized for the device (and the
statistics the figures are made of): what both the exact scoring and the paper's protocol
run on."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from counterpoint.errors import ConfigError
from counterpoint.model.network import Coconet, device_of, make_input
from counterpoint.model.products import fuse_batch_norm
from counterpoint.music.representation import NUM_VOICES

# Steps of windows per forward pass when scoring notes on a CPU: a hidden layer's input and
# output then fit in a 32 MB L3 cache together (1024 steps x 46 pitches x 64 channels x 4 bytes
# x 2), which makes a window 1.4x cheaper for the ±65-step network than in batches of 64
# (docs/notes/2026-11-28-sessions-12-19-passes-int8-scoring.md)
CPU_BATCH_STEPS = 1024


GPU_BATCH = 1024  # and on a GPU, where small batches leave it idle


@torch.no_grad()
def _predict(
    model: Coconet,
    roll: torch.Tensor,
    order: np.ndarray,
    chosen_notes: np.ndarray,
    window: bool,
    batch_size: int | None,
    progress=None,
    temperature: float = 1.0,
    own_step: torch.Tensor | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """For the positions ``chosen_notes`` of ``order`` in the pianoroll ``roll`` ``(4, T, P)``:
    the log-probability of the true note given the notes before it in ``order``, and the
    model's argmax. With ``own_step`` (a pianoroll like ``roll``), the note's own step is read
    from it instead of from ``roll``."""
    model.eval()
    device = device_of(model)  # the windows go where the model is
    steps = roll.shape[1]
    # with a window, each note is scored on the 2R + 1 steps centred on it, computed the cheap
    # way (model.forward_center); steps beyond the piece's edges are zeros, as padding is
    reach = model.receptive_field() if window else 0
    # a piece no longer than a window is cheaper to pass whole: the cone would compute its
    # 2R + 1 steps, most of them beyond the piece's edges (2 measures: 32 steps, windows of 131)
    window = window and 2 * reach + 1 < steps
    width = 2 * reach + 1 if window else steps
    batch_size = batch_size or scoring_batch(model, width)
    rank = torch.full((NUM_VOICES, steps), -1, dtype=torch.long)  # -1: silent, always known
    voices = torch.from_numpy(order[:, 0]).long()
    times = torch.from_numpy(order[:, 1]).long()
    rank[voices, times] = torch.arange(len(order))
    targets = roll[voices, times].argmax(-1)
    chosen_notes = torch.from_numpy(np.asarray(chosen_notes)).long()
    result = torch.empty(len(chosen_notes))
    best = torch.empty(len(chosen_notes), dtype=torch.long)
    for first in range(0, len(chosen_notes), batch_size):
        slots = torch.arange(first, min(first + batch_size, len(chosen_notes)))
        index = chosen_notes[slots]
        rows = torch.arange(len(index))
        starts = times[index] - reach if window else torch.zeros_like(index)
        window_steps = starts[:, None] + torch.arange(width)  # (B, W)
        inside = (window_steps >= 0) & (window_steps < steps)
        window_steps = window_steps.clamp(0, steps - 1)
        rolls = roll[:, window_steps].permute(1, 0, 2, 3) * inside[:, None, :, None]  # (B, 4, W, P)
        if own_step is not None:
            rolls[rows, :, times[index] - starts] = own_step[:, times[index]].permute(1, 0, 2)
        known = (rank[:, window_steps].permute(1, 0, 2) < index[:, None, None]) & inside[:, None]
        x = make_input(rolls, known).to(device)
        if window:
            picked = model.forward_center(x, inside.to(device))[rows, voices[index], 0]
        else:
            picked = model(x)[rows, voices[index], times[index]]
        log_probs = F.log_softmax(picked.float() / temperature, dim=-1).cpu()
        result[slots] = log_probs[rows, targets[index]]
        best[slots] = log_probs.argmax(-1)
        if progress is not None:
            progress.update(len(slots))
    return result.numpy(), best.numpy()


def on_device(model: Coconet, device: str) -> Coconet:
    """``model`` ready to be scored on ``device`` (``cpu`` or ``cuda``): batch norm folded in,
    float32. On a GPU, TF32 is turned off so that the figures are float32's, as on a CPU."""
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError("--device cuda was asked for but no GPU is available")
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
    elif device != "cpu":
        raise ConfigError(f"unknown device {device!r}: expected cpu or cuda")
    return fuse_batch_norm(model.eval()).to(device)


def scoring_batch(model: Coconet, width: int) -> int:
    """Windows of ``width`` steps per forward pass for ``model`` where it is (CPU or GPU)."""
    return max(1, CPU_BATCH_STEPS // width) if device_of(model).type == "cpu" else GPU_BATCH


def _log_mean_exp(values: np.ndarray, axis: int = 0) -> np.ndarray:
    top = values.max(axis=axis, keepdims=True)
    return (top + np.log(np.exp(values - top).mean(axis=axis, keepdims=True))).squeeze(axis)


def _sem(values: Sequence[float]) -> float:
    values = np.asarray(values, dtype=np.float64)
    return float(values.std(ddof=1) / math.sqrt(len(values))) if len(values) > 1 else 0.0
