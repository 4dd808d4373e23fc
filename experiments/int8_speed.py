"""Would int8 weights and activations make sampling fast enough on a CPU without native bf16?

The sampler's cost is its forward passes (2 measures: about 97 passes of the network on 32
steps). On an AVX2-only CPU they run in float32; this measures one such pass in float32 (batch
norm folded, channels-last, as the sampler runs it) against the same network quantized to
int8 two ways, both static (per-channel weights, activations calibrated on the same training
crops): PyTorch's eager quantization (x86 backend), and the package's own path, an ONNX file
run by ONNX Runtime (`counterpoint.quantized`, what `counterpoint quantize` writes). At 1 and
2 threads, and what each costs: the loss on erased notes of validation crops (orderless masks,
the training loss), the same crops for all.

    python experiments/int8_speed.py [--checkpoint jsb] [--repeats 40]

Run with nothing else busy. Eager quantization is deprecated in favour of torchao and is here
only for comparison; the package runs ONNX Runtime.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.ao.nn.intrinsic as nni
import torch.ao.quantization as quantization
from common import JSB
from torch import nn

from counterpoint.data import masks
from counterpoint.data.datasets import load_jsb
from counterpoint.model.network import Coconet, make_input
from counterpoint.model.products import fuse_batch_norm
from counterpoint.model.registry import load_model
from counterpoint.music.representation import to_pianoroll
from counterpoint.runtime.int8 import Int8Network, quantize

STEPS = 32  # 2 measures of 16th notes


class QuantizableCoconet(nn.Module):
    """A fused (batch-norm-folded) plain Coconet rebuilt for eager quantization: ReLUs fused
    into the convolutions before them, residual adds through FloatFunctional."""

    def __init__(self, fused: Coconet) -> None:
        super().__init__()
        if fused.config.separable:
            raise SystemExit("separable networks are not handled here")
        fused = copy.deepcopy(fused).float().to(memory_format=torch.contiguous_format)
        self.quant = quantization.QuantStub()
        self.dequant = quantization.DeQuantStub()
        self.input = nni.ConvReLU2d(fused.input, nn.ReLU())
        # the first of each residual pair is followed by a ReLU; the second by add, then ReLU
        self.hidden = nn.ModuleList(
            nni.ConvReLU2d(conv, nn.ReLU()) if index % 2 == 0 else conv
            for index, conv in enumerate(fused.hidden)
        )
        self.adds = nn.ModuleList(nn.quantized.FloatFunctional() for _ in fused.hidden[1::2])
        self.output = fused.output

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.input(self.quant(x))
        skip = h
        for index, layer in enumerate(self.hidden):
            h = layer(h)
            if index % 2 == 1:
                h = self.adds[index // 2].add_relu(h, skip)
                skip = h
        return self.dequant(self.output(h))


def crops(
    pieces: list[np.ndarray], count: int, rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` random 2-measure crops as pianorolls, with orderless masks (1 = known)."""
    long_enough = [piece for piece in pieces if len(piece) >= STEPS]
    rolls = []
    for _ in range(count):
        piece = long_enough[rng.integers(len(long_enough))]
        start = rng.integers(0, len(piece) - STEPS + 1)
        rolls.append(to_pianoroll(piece[start : start + STEPS]))
    generator = torch.Generator().manual_seed(int(rng.integers(2**31)))
    return torch.tensor(np.stack(rolls)).float(), masks.orderless(count, STEPS, generator).float()


def erased_loss(
    network: nn.Module, pianoroll: torch.Tensor, known: torch.Tensor, channels_last: bool
) -> float:
    """Mean NLL (nats) of the true pitch over erased sounding notes."""
    x = make_input(pianoroll, known)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    log_probs = torch.log_softmax(network(x).float(), dim=-1)
    nll = -(log_probs * pianoroll).sum(-1)
    weight = (1 - known) * (pianoroll.sum(-1) > 0)
    return float((nll * weight).sum() / weight.sum())


def pass_ms(network: nn.Module, x: torch.Tensor, repeats: int) -> float:
    times = []
    for index in range(repeats + 5):
        start = time.perf_counter()
        network(x)
        if index >= 5:  # warm-up
            times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--checkpoint", default="jsb")
    parser.add_argument("--repeats", type=int, default=40)
    parser.add_argument("--crops", type=int, default=500, help="validation crops for the loss")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")  # the deprecation notices of torch.ao.quantization
    torch.backends.quantized.engine = "x86"

    data = load_jsb(JSB)
    rng = np.random.default_rng(0)
    model = load_model(args.checkpoint)
    fused = fuse_batch_norm(model.eval())
    prepared = quantization.prepare(_with_qconfig(QuantizableCoconet(fused).eval()))
    calibration = [make_input(*crops(data.train, 32, rng)) for _ in range(8)]
    with torch.inference_mode():
        for x in calibration:  # calibrate activation ranges on training crops
            prepared(x)
    eager = quantization.convert(prepared)
    folder = tempfile.TemporaryDirectory()
    path = quantize(model, torch.cat(calibration).numpy(), Path(folder.name) / "model.int8.onnx")
    networks = {"float32": (fused, True), "eager int8": (eager, False)}

    with torch.inference_mode():
        pianoroll, known = crops(data.valid, args.crops, rng)
        x = make_input(*crops(data.valid, 1, rng))
        print(f"loss on erased notes, {args.crops} validation crops of {STEPS} steps (nats/note):")
        losses = {name: erased_loss(net, pianoroll, known, cl) for name, (net, cl) in networks.items()}
        ort_int8 = Int8Network(path, 2)
        losses["onnxruntime int8"] = erased_loss(ort_int8, pianoroll, known, channels_last=False)
        base = losses["float32"]
        print("  " + "   ".join(f"{name} {v:.4f} ({v / base - 1:+.2%})" for name, v in losses.items()))
        print(f"one forward pass on {STEPS} steps, median of {args.repeats} (ms):")
        for threads in (1, 2):
            torch.set_num_threads(threads)
            networks["onnxruntime int8"] = (Int8Network(path, threads), False)
            x_last = x.contiguous(memory_format=torch.channels_last)
            ms = {name: pass_ms(n, x_last if cl else x, args.repeats) for name, (n, cl) in networks.items()}
            speedups = "   ".join(f"{name} {t:.1f} ({ms['float32'] / t:.2f}x)" for name, t in ms.items())
            passes = " vs ".join(f"{0.097 * value:.2f} s" for value in ms.values())
            print(f"  {threads} thread(s): {speedups}; 97 passes: {passes}")
    folder.cleanup()


def _with_qconfig(network: nn.Module) -> nn.Module:
    network.qconfig = quantization.get_default_qconfig("x86")
    return network


if __name__ == "__main__":
    main()
