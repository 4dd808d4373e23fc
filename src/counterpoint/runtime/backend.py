"""The inference backend: which arithmetic a model samples in (fused float32, bfloat16, or the
int8 ONNX network of :mod:`counterpoint.runtime.int8`) and the network the sampler calls."""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Protocol

import torch

from counterpoint.errors import ConfigError
from counterpoint.model.network import Coconet, weights_version
from counterpoint.model.products import fuse_batch_norm
from counterpoint.runtime import int8


def bf16_is_fast() -> bool:
    """Whether this CPU has native bf16 arithmetic (AVX512-BF16 or AMX), where bf16 roughly
    doubles the speed of training (benchmarks/train_speed.py) and of sampling
    (benchmarks/sample_speed.py)."""
    check = getattr(torch.cpu, "_is_avx512_bf16_supported", None)
    return bool(check and check())


# "auto": int8 where the model has an int8 file made from its weights, else bfloat16 where
# the CPU has native bf16, else float32
PRECISIONS = ("auto", "float32", "bfloat16", "int8")


def resolve_precision(model: Coconet, precision: str) -> str:
    """The arithmetic ``model`` runs in when ``precision`` (one of :data:`PRECISIONS`) is asked
    for on this machine: "bfloat16", "int8" or "float32"."""
    if precision in ("float32", "bfloat16"):
        return precision
    if int8.int8_network(model) is not None:
        return "int8"
    if precision == "int8":
        raise ConfigError(
            "this model has no int8 file made from its weights: run `counterpoint quantize` on its checkpoint"
        )
    return "bfloat16" if bf16_is_fast() else "float32"


_INFERENCE_MODELS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def inference_model(model: Coconet, dtype: torch.dtype) -> Coconet:
    """The network the sampler runs for ``model``: batch norm folded in, in ``dtype``. Made
    once per model and dtype, and made again whenever the weights change (training updates
    them in place, which bumps their version counters)."""
    if model.fused:
        return fuse_batch_norm(model, dtype)
    versions = weights_version(model)
    cached = _INFERENCE_MODELS.get(model, {}).get(dtype)
    if cached is not None and cached[0] == versions:
        return cached[1]
    fused = fuse_batch_norm(model.eval(), dtype)
    _INFERENCE_MODELS.setdefault(model, {})[dtype] = (versions, fused)
    return fused


class HasPrecision(Protocol):
    precision: str


Network = Callable[[torch.Tensor], torch.Tensor]


def sampler_network(model: Coconet, precision: str | HasPrecision) -> tuple[str, Network]:
    """The precision the sampler runs ``model`` in when ``precision`` is asked for (a name, or
    a sampler config that holds one) on this machine, and the network it calls: input
    ``(B, 8, T, P)`` (channels-last, in bfloat16 for "bfloat16", else float32), logits out."""
    precision = resolve_precision(model, getattr(precision, "precision", precision))
    if precision == "int8":
        return precision, int8.int8_network(model)
    return precision, inference_model(model, torch.bfloat16 if precision == "bfloat16" else torch.float32)
