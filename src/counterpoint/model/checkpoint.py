"""Checkpoints: a model's config and weights in one file (save, read, load), and the one
fingerprint of a model's weights that the int8 file, a distillation run's teacher and the
evaluation's caches are keyed on."""

from __future__ import annotations

import hashlib
import io as _io
import os
from pathlib import Path

import torch
from torch import nn

from counterpoint.errors import CheckpointError, ConfigError, MissingFileError
from counterpoint.model.network import Coconet, ModelConfig

CHECKPOINT_FORMAT = 1


def save(path: str | os.PathLike, model: Coconet, extra: dict | None = None, half: bool = False) -> None:
    """Write a checkpoint atomically: ``{"format", "config", "state", **extra}``."""
    if model.fused:
        raise ConfigError("a model with fused batch norm is for inference only and cannot be saved")
    from counterpoint.io.files import write_atomically

    state = {k: (v.half() if half and v.is_floating_point() else v) for k, v in model.state_dict().items()}
    payload = {"format": CHECKPOINT_FORMAT, "config": model.config.to_dict(), "state": state}
    payload.update(extra or {})
    buffer = _io.BytesIO()
    torch.save(payload, buffer)
    write_atomically(path, lambda temporary: temporary.write_bytes(buffer.getvalue()))


def read_checkpoint(path: str | os.PathLike) -> dict:
    """The checkpoint's dictionary, loaded safely (``weights_only=True``) and checked."""
    path = Path(path)
    if not path.exists():
        raise MissingFileError(f"{path}: no such checkpoint")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for non-checkpoints
        raise CheckpointError(f"{path}: not a counterpoint checkpoint ({type(error).__name__})") from None
    if not isinstance(payload, dict) or "config" not in payload or "state" not in payload:
        raise CheckpointError(f"{path}: not a counterpoint checkpoint")
    if payload.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{path}: checkpoint format {payload.get('format')} is not supported "
            f"(this version reads format {CHECKPOINT_FORMAT})"
        )
    return payload


def averaged_state(payload: dict) -> dict | None:
    """The moving average of the weights that a training run's ``last.pt`` keeps beside its
    raw weights (``TrainConfig.ema_decay``), as a model state dict; None if it keeps none.
    ``best.pt`` needs none of this: its weights already are the average that was validated."""
    if "ema" not in payload:
        return None
    # torch's AveragedModel stores the averaged network as "module.*" plus a step count
    return {k.removeprefix("module."): v for k, v in payload["ema"].items() if k.startswith("module.")}


def from_checkpoint(payload: dict, name: str = "checkpoint", average: bool = False) -> Coconet:
    """The network a checkpoint's payload describes; ``average``: its moving average of the
    weights instead of the raw ones, where it keeps one."""
    config = ModelConfig.from_dict(payload["config"])
    model = Coconet(config)
    weights = (averaged_state(payload) if average else None) or payload["state"]
    state = {k: v.float() if v.is_floating_point() else v for k, v in weights.items()}
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        raise CheckpointError(f"{name}: weights do not fit the config ({str(error)[:120]})") from None
    return model.eval()


def load(path: str | os.PathLike) -> Coconet:
    """Rebuild the network a checkpoint describes, in eval mode, on the CPU."""
    model = from_checkpoint(read_checkpoint(path), str(path))
    model.source = Path(path)
    return model


def hash_weights(digest, model: nn.Module, dtype: torch.dtype = torch.float32, in_order: bool = True):
    """Add each parameter and buffer of ``model`` (its name, then its values in ``dtype``) to
    ``digest``, by name (``in_order``) or in the model's own order; returns ``digest``. The one
    way weights are hashed: :func:`fingerprint`, and the evaluation's cache keys, which hash
    float64 values in the model's order (kept so that scores cached before stay valid)."""
    items = model.state_dict().items()
    for name, tensor in sorted(items) if in_order else items:
        digest.update(name.encode())
        digest.update(tensor.detach().to("cpu", dtype).contiguous().numpy().tobytes())
    return digest


def fingerprint(model: Coconet) -> str:
    """A hash of the model's config and weights (as float32): what pairs a model with its int8
    file, and what a distillation run records of its teacher (a resumed run refuses another)."""
    digest = hashlib.sha256(repr(sorted(model.config.to_dict().items())).encode())
    return hash_weights(digest, model).hexdigest()
