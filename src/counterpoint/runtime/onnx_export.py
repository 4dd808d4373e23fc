"""A model's network as a float32 ONNX file: batch norm folded in, a product's members run one
after the other and their logits averaged. It is what :mod:`counterpoint.runtime.int8`
quantizes, and what the page runs on WebGPU (``GET /api/browser-model?format=float32``): ONNX
Runtime's WebGPU backend has no kernels for the int8 file's QLinearConv and QLinearAdd, which
would all run on the CPU there, while every node of this file runs on the GPU."""

from __future__ import annotations

import tempfile
import threading
import warnings
import weakref
from pathlib import Path

import torch

from counterpoint.model.network import Coconet, average_logits, weights_version
from counterpoint.model.products import fuse_batch_norm, split

# the exporter's example input's steps: any length works, the steps and batch axes are dynamic
_EXAMPLE_STEPS = 32


class _Members(torch.nn.Module):
    """A product's member networks run one after the other, their logits averaged: what is
    exported to ONNX for a product, since ONNX Runtime's int8 convolutions are slower grouped
    than as two plain ones (session 27)."""

    def __init__(self, members: list[Coconet]) -> None:
        super().__init__()
        self.members = torch.nn.ModuleList(members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return average_logits([member(x) for member in self.members])


def export_float32(model: Coconet, path: str | Path, example: torch.Tensor | None = None) -> Path:
    """Write ``model``'s network to ``path`` as float32 ONNX: input ``x`` ``(batch, 8, steps,
    pitches)``, output ``logits`` ``(batch, 4, steps, pitches)``, batch and steps dynamic."""
    members = [
        fuse_batch_norm(member.eval(), torch.float32).to(memory_format=torch.contiguous_format)
        for member in split(model)
    ]
    network = members[0] if len(members) == 1 else _Members(members)
    if example is None:
        example = torch.zeros(1, 8, _EXAMPLE_STEPS, model.pitch_range.size)
    with warnings.catch_warnings():  # the TorchScript exporter is deprecated, and enough here
        warnings.simplefilter("ignore")
        torch.onnx.export(
            network,
            (example,),
            str(path),
            input_names=["x"],
            output_names=["logits"],
            dynamic_axes={"x": {0: "batch", 2: "steps"}, "logits": {0: "batch", 2: "steps"}},
            opset_version=17,
            dynamo=False,
        )
    return Path(path)


_FILES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def float32_bytes(model: Coconet) -> bytes:
    """The float32 ONNX file of ``model`` (:func:`export_float32`), made once per version of its
    weights and kept while the model lives (a second or two of export, a few MB)."""
    versions = weights_version(model)
    with _LOCK:  # two first requests at once export once
        cached = _FILES.get(model)
        if cached is None or cached[0] != versions:
            with tempfile.TemporaryDirectory() as folder:
                data = export_float32(model, Path(folder) / "f.onnx").read_bytes()
            cached = _FILES[model] = (versions, data)
    return cached[1]
