"""A training step's data and the fixed validation windows: everything random at step ``s``
is drawn from generators seeded by ``(seed, rank, s)``, so a resumed run continues exactly."""

from __future__ import annotations

import numpy as np
import torch

from counterpoint.data import masks
from counterpoint.data.batches import pianoroll_batch, random_crop, random_transposition
from counterpoint.data.datasets import Dataset
from counterpoint.errors import ConfigError
from counterpoint.music.representation import PitchRange
from counterpoint.training.config import TrainConfig


def _step_generators(seed: int, rank: int, step: int) -> tuple[np.random.Generator, torch.Generator]:
    rng = np.random.default_rng([seed, rank, step])
    generator = torch.Generator().manual_seed(int(rng.integers(0, 2**62)))
    return rng, generator


def make_batch(
    chorales: list[np.ndarray], config: TrainConfig, rank: int, step: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Step ``step``'s pianorolls and known-masks, a pure function of (seed, rank, step)."""
    rng, generator = _step_generators(config.seed, rank, step)
    pitch_range = config.model.pitch_range
    crops = []
    for index in rng.integers(0, len(chorales), size=config.batch_size):
        crop = random_crop(chorales[index], config.crop_steps, rng)
        crops.append(
            random_transposition(crop, rng, pitch_range, config.max_shift) if config.augment else crop
        )
    pianoroll = pianoroll_batch(np.stack(crops), pitch_range)
    known = masks.family(config.mask)(config.batch_size, config.crop_steps, generator)
    return pianoroll, known


def validation_set(
    chorales: list[np.ndarray],
    crop_steps: int,
    count: int,
    seed: int,
    pitch_range: PitchRange,
    mask: str = "orderless",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Fixed validation windows (non-overlapping crops, evenly chosen) and masks of the
    family ``mask`` (the run's own, so the run is judged on what it is trained for)."""
    windows = [
        piece[start : start + crop_steps]
        for piece in chorales
        for start in range(0, len(piece) - crop_steps + 1, crop_steps)
    ]
    if not windows:
        raise ConfigError(f"no validation piece is {crop_steps} steps long")
    chosen = np.linspace(0, len(windows) - 1, min(count, len(windows))).round().astype(int)
    pianoroll = pianoroll_batch(np.stack([windows[i] for i in chosen]), pitch_range)
    known = masks.family(mask)(len(chosen), crop_steps, torch.Generator().manual_seed(seed))
    return pianoroll, known


def run_validation_set(config: TrainConfig, dataset: Dataset) -> tuple[torch.Tensor, torch.Tensor]:
    """The fixed validation windows and masks a run with ``config`` is judged on."""
    return validation_set(
        dataset.valid or dataset.train,
        config.crop_steps,
        config.eval_crops,
        config.seed,
        config.model.pitch_range,
        config.mask,
    )
