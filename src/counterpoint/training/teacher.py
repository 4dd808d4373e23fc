"""Where a run's weights come from: a checkpoint to start from (grown deeper when asked), and a
teacher to learn from (knowledge distillation), whose fingerprint a resumed run checks."""

from __future__ import annotations

from collections.abc import Callable
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


def load_teacher(config: TrainConfig, device: torch.device) -> Callable[[torch.Tensor], torch.Tensor]:
    """The run's teacher (``config.teacher``) as a function from the network's input to float32
    logits, without gradients. Records its fingerprint in ``config`` (checked when the run
    resumes). On a CPU it runs as the sampler runs it (int8 where the model has its int8 file,
    else bfloat16 where the CPU has it): a distillation step spends most of its time in the
    teacher's forward passes, and the sampler's arithmetic loses nothing measurable."""
    from counterpoint.model.checkpoint import fingerprint
    from counterpoint.model.products import fuse_batch_norm
    from counterpoint.model.registry import load_model
    from counterpoint.runtime.backend import sampler_network

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
    if device.type == "cpu":
        precision, network = sampler_network(teacher, "auto")
        dtype = torch.bfloat16 if precision == "bfloat16" else torch.float32
        return lambda x: network(x.to(dtype).contiguous(memory_format=torch.channels_last)).float()
    teacher = fuse_batch_norm(teacher.eval()).to(device).requires_grad_(False)
    teacher = teacher.to(memory_format=torch.channels_last) if config.channels_last else teacher
    return lambda x: teacher(x).float()
