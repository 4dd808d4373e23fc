"""Where a run's weights come from: a checkpoint to start from (grown deeper when asked), and a
teacher to learn from (knowledge distillation), whose fingerprint a resumed run checks."""

from __future__ import annotations

from dataclasses import replace

import torch

from counterpoint.errors import ConfigError
from counterpoint.model.checkpoint import from_checkpoint, read_checkpoint
from counterpoint.model.network import Coconet
from counterpoint.model.products import deepen
from counterpoint.training.config import TrainConfig


def initial_weights(config: TrainConfig) -> Coconet:
    """The network a new run starts from when ``config.init_from`` names a checkpoint: its
    weights, deepened to ``config.model`` if that has more layers, with the run's dropout and
    dilations (neither changes the weights' shapes: other dilations make the same kernels look
    further apart in time or pitch); any other difference in architecture is an error."""
    source = from_checkpoint(read_checkpoint(config.init_from), config.init_from)
    free = {
        "dropout": config.model.dropout,
        "dropout_channels": config.model.dropout_channels,
        "dilations": config.model.dilations,
    }
    if replace(source.config, layers=config.model.layers, **free) != config.model:
        raise ConfigError(
            f"{config.init_from}: its network ({source.config}) differs from this run's "
            f"({config.model}) in more than depth, dilations and dropout"
        )
    model = Coconet(replace(source.config, **free))
    model.load_state_dict(source.state_dict())
    if source.config.layers == config.model.layers:
        return model.train()
    return deepen(model, config.model.layers).train()


def load_teacher(config: TrainConfig, device: torch.device) -> Coconet:
    """The run's teacher (``config.teacher``), ready to give distributions: batch norm folded
    in, no gradients. Records its fingerprint in ``config`` (checked when the run resumes)."""
    from counterpoint.model.checkpoint import fingerprint
    from counterpoint.model.products import fuse_batch_norm
    from counterpoint.model.registry import load_model

    if not 0.0 <= config.teacher_weight <= 1.0:
        raise ConfigError(f"--teacher-weight {config.teacher_weight}: expected a weight from 0 to 1")
    teacher = load_model(config.teacher)
    weights = fingerprint(teacher)
    if config.teacher_fingerprint and config.teacher_fingerprint != weights:
        raise ConfigError(f"{config.teacher}: not the teacher this run started with (its weights changed)")
    config.teacher_fingerprint = weights
    if teacher.pitch_range != config.model.pitch_range:
        raise ConfigError(
            f"{config.teacher}: the teacher's pitches {teacher.pitch_range} differ from this "
            f"run's {config.model.pitch_range}"
        )
    teacher = fuse_batch_norm(teacher.eval()).to(device).requires_grad_(False)
    return teacher.to(memory_format=torch.channels_last) if config.channels_last else teacher
