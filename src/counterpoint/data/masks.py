"""Masks: which notes are known and which are to be written.

A mask is a boolean ``(4, steps)`` array (or ``(batch, 4, steps)`` tensor), True where the
voice's note at that step is *known*. Training erases notes with the random families below;
every composition task is one of the task masks at the end, filled by a sampler.
"""

from __future__ import annotations

import numpy as np
import torch

from counterpoint.errors import ConfigError, MaskError
from counterpoint.music.representation import NUM_VOICES

# --------------------------------------------------------------------------- training masks


def _random_ranks(batch: int, size: int, generator: torch.Generator) -> torch.Tensor:
    """Per example, a random permutation's rank of each of ``size`` positions ``(batch, size)``:
    ``ranks < k`` picks k positions uniformly at random."""
    return torch.rand(batch, size, generator=generator).argsort(dim=1).argsort(dim=1)


def orderless(batch: int, steps: int, generator: torch.Generator) -> torch.Tensor:
    """Orderless-NADE masks: per example, erase k notes chosen uniformly at random, with k
    uniform in 1..4*steps. Returns known ``(batch, 4, steps)`` bool."""
    notes = NUM_VOICES * steps
    erase = torch.randint(1, notes + 1, (batch, 1), generator=generator)
    return (_random_ranks(batch, notes, generator) >= erase).view(batch, NUM_VOICES, steps)


def bernoulli(batch: int, steps: int, generator: torch.Generator, p: float = 0.5) -> torch.Tensor:
    """Each note erased independently with probability ``p`` (at least one per example)."""
    known = torch.rand(batch, NUM_VOICES, steps, generator=generator) >= p
    _ensure_one_erased(known, generator)
    return known


def voices(batch: int, steps: int, generator: torch.Generator) -> torch.Tensor:
    """Whole voices erased: a random non-empty proper-or-full subset of the four."""
    subsets = torch.randint(1, 2**NUM_VOICES, (batch,), generator=generator)
    bits = (subsets.unsqueeze(1) >> torch.arange(NUM_VOICES)) & 1
    return (bits == 0).unsqueeze(-1).expand(batch, NUM_VOICES, steps).clone()


def time_block(batch: int, steps: int, generator: torch.Generator) -> torch.Tensor:
    """A contiguous block of steps erased in all voices (random start and length)."""
    known = torch.ones(batch, NUM_VOICES, steps, dtype=torch.bool)
    lengths = torch.randint(1, steps + 1, (batch,), generator=generator)
    for b in range(batch):
        start = int(torch.randint(0, steps - int(lengths[b]) + 1, (1,), generator=generator))
        known[b, :, start : start + int(lengths[b])] = False
    return known


def frames(batch: int, steps: int, generator: torch.Generator) -> torch.Tensor:
    """Whole steps erased, as the paper's frame-major orderings see a piece: per example k
    steps (k uniform in 1..steps) lose all four voices, then one of them gets back a random
    subset of its voices (0 to 3, the voices already predicted in the current frame).

    With note-wise masks a step whose four voices are all unknown among known neighbours is
    rare (at 10% erased, one erased note in a thousand), yet it is the first conditional of
    every frame in a frame-major ordering, and the shape of every infill/continue task."""
    erase = torch.randint(1, steps + 1, (batch, 1), generator=generator)
    return _random_frame_masks(erase, steps, generator)


def late_frames(batch: int, steps: int, generator: torch.Generator) -> torch.Tensor:
    """Frame masks with few steps erased: the erased fraction is u² (u uniform), so two
    thirds of the piece is known on average, against half for ``frames``.

    The paper's figure averages each frame's probability over 5 orderings, and the ordering
    that reaches the frame with most of the piece known carries that average; these masks
    put more of training where it does
    (docs/notes/2026-11-29-sessions-22-26-mixtures-sharpening-longer-crops.md)."""
    fraction = torch.rand(batch, 1, generator=generator) ** 2
    erase = (fraction * steps).ceil().clamp(1, steps)
    return _random_frame_masks(erase, steps, generator)


def continuation(batch: int, steps: int, generator: torch.Generator) -> torch.Tensor:
    """The chronological ordering's masks: per example the last k steps (k uniform in
    1..steps) are erased in all four voices, then the first of them gets back a random subset
    of its voices. Random frame orders almost never leave a long unknown future, yet it is
    what ``continue`` and a left-to-right ordering ask for."""
    erase = torch.randint(1, steps + 1, (batch,), generator=generator)
    cut = steps - erase  # the first erased step
    erased_steps = torch.arange(steps).unsqueeze(0) >= cut.unsqueeze(1)
    return _frame_masks(erased_steps, cut, generator)


def _random_frame_masks(erase: torch.Tensor, steps: int, generator: torch.Generator) -> torch.Tensor:
    """Frame masks erasing ``erase`` ``(B, 1)`` steps each, chosen at random; one of them is the
    partial step."""
    ranks = _random_ranks(erase.shape[0], steps, generator)
    return _frame_masks(ranks < erase, ranks.argmin(dim=1), generator)


def _frame_masks(
    erased_steps: torch.Tensor, partial: torch.Tensor, generator: torch.Generator
) -> torch.Tensor:
    """Known ``(B, 4, T)`` from erased steps ``(B, T)``, with the step ``partial`` ``(B,)``
    (one of the erased) given back a random proper subset of its voices."""
    batch = erased_steps.shape[0]
    known = (~erased_steps).unsqueeze(1).repeat(1, NUM_VOICES, 1)
    revealed = torch.randint(0, NUM_VOICES, (batch,), generator=generator)
    back = _random_ranks(batch, NUM_VOICES, generator) < revealed.unsqueeze(1)
    known[torch.arange(batch), :, partial] = back
    return known


def _ensure_one_erased(known: torch.Tensor, generator: torch.Generator) -> None:
    for b in torch.nonzero(known.flatten(1).all(dim=1)).flatten().tolist():
        index = int(torch.randint(0, known[b].numel(), (1,), generator=generator))
        known[b].view(-1)[index] = False


MASK_FAMILIES = {
    "orderless": orderless,
    "bernoulli": bernoulli,
    "voices": voices,
    "time_block": time_block,
    "frames": frames,
    "late_frames": late_frames,
    "continuation": continuation,
}


def family(name: str):
    """The mask function called ``name``; ``a+b`` draws each batch half from ``a``, half from
    ``b`` (in that order; more names split it further)."""
    names = name.split("+")
    unknown = [part for part in names if part not in MASK_FAMILIES]
    if unknown or not name:
        raise ConfigError(
            f"unknown mask family {name!r}: expected one of {', '.join(MASK_FAMILIES)}, "
            "or several joined by +"
        )
    if len(names) == 1:
        return MASK_FAMILIES[name]

    def mixture(batch: int, steps: int, generator: torch.Generator) -> torch.Tensor:
        sizes = [batch // len(names) + (i < batch % len(names)) for i in range(len(names))]
        parts = zip(names, sizes, strict=True)
        return torch.cat([MASK_FAMILIES[part](size, steps, generator) for part, size in parts if size])

    return mixture


# --------------------------------------------------------------------------- task masks


def all_known(steps: int) -> np.ndarray:
    return np.ones((NUM_VOICES, steps), dtype=bool)


def compose_mask(steps: int) -> np.ndarray:
    """Nothing known: write every voice at every step."""
    return np.zeros((NUM_VOICES, steps), dtype=bool)


def harmonize_mask(steps: int, given_voices: list[int]) -> np.ndarray:
    """The given voices known throughout; the others written."""
    known = np.zeros((NUM_VOICES, steps), dtype=bool)
    known[given_voices] = True
    return known


def infill_mask(
    steps: int, start: int = 0, end: int | None = None, voices_to_write: list[int] | None = None
) -> np.ndarray:
    """Everything known except the chosen voices (default all) in steps ``start:end``."""
    end = steps if end is None else end
    if not 0 <= start < end <= steps:
        raise MaskError(f"window {start}..{end} is not inside the piece's {steps} steps")
    known = all_known(steps)
    chosen = list(range(NUM_VOICES)) if voices_to_write is None else voices_to_write
    for voice in chosen:
        known[voice, start:end] = False
    return known


def check_writable(known: np.ndarray) -> np.ndarray:
    known = np.asarray(known, dtype=bool)
    if known.ndim != 2 or known.shape[0] != NUM_VOICES:
        raise MaskError(f"a mask must have shape (4, steps), got {known.shape}")
    if known.all():
        raise MaskError("the mask leaves nothing to write")
    return known
