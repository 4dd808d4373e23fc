"""Training speed: examples/s and achieved GFLOP/s per preset, next to this machine's plain
matmul rate (the practical ceiling), and the same network as a bare stack of convolutions
(no masking, no data, no logging) to show what the training loop adds.

Variants measured side by side in one run: default settings (channels-last), plain NCHW,
bf16 autocast. Batch 20, crops of 64 steps, as in the paper. Run with nothing else busy:

    python benchmarks/train_speed.py [--presets default doodle paper] [--seconds 20]
"""

from __future__ import annotations

import argparse
import time

import torch
from common import add_data, cpu_description

from counterpoint.data.datasets import load_jsb
from counterpoint.model.network import Coconet, preset
from counterpoint.training.batches import make_batch
from counterpoint.training.config import TrainConfig
from counterpoint.training.objective import forward, masked_nll


def conv_flops(model: Coconet, steps: int, pitches: int) -> float:
    """Multiply-adds x 2 of every convolution for one example's forward pass."""
    total = 0.0
    for module in model.modules():
        if isinstance(module, torch.nn.Conv2d):
            kh, kw = module.kernel_size
            total += 2 * module.in_channels / module.groups * module.out_channels * kh * kw * steps * pitches
    return total


def matmul_gflops(seconds: float = 3.0, dtype: torch.dtype = torch.float32) -> float:
    a, b = torch.randn(2048, 2048, dtype=dtype), torch.randn(2048, 2048, dtype=dtype)
    a @ b
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ b
        count += 1
    return 2 * 2048**3 * count / (time.perf_counter() - start) / 1e9


def rate(step, seconds: float) -> float:
    step()  # warm up
    step()
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds or count < 2:
        step()
        count += 1
    return count / (time.perf_counter() - start)


VARIANTS = (
    "training step (channels-last)",
    "training step (NCHW)",
    "training step (bf16 autocast)",
    "training step (bf16 autocast + torch.compile)",
    "bare conv stack",
)


def measure(name: str, variant: str, train_set: list, batch: int, steps: int, seconds: float) -> tuple:
    """Examples/s and GFLOP/s of one preset in one variant."""
    torch.manual_seed(0)
    model = Coconet(preset(name)).train()
    channels_last = "NCHW" not in variant
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    network = torch.compile(model) if "compile" in variant else model  # compiles on the warm-up step
    config = TrainConfig(model=preset(name), batch_size=batch, crop_steps=steps)
    counter = iter(range(10**9))
    fixed = torch.randn(batch, 8, steps, 46)
    if channels_last:
        fixed = fixed.contiguous(memory_format=torch.channels_last)

    def step() -> None:
        if variant == "bare conv stack":
            loss = model(fixed).square().mean()
        else:
            pianoroll, known = make_batch(train_set, config, 0, next(counter))
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled="bf16" in variant):
                logits = forward(network, pianoroll, known, channels_last)
            loss = masked_nll(logits, pianoroll, known).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    examples = rate(step, seconds) * batch
    return examples, 3 * conv_flops(model, steps, 46) * examples / 1e9  # forward + 2x backward


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--presets", nargs="*", default=["default", "doodle", "paper"])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--steps", type=int, default=64)
    add_data(parser)
    args = parser.parse_args()
    print(cpu_description())
    ceiling = matmul_gflops()
    bf16_ceiling = matmul_gflops(dtype=torch.bfloat16)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; matmul: "
        f"{ceiling:.0f} GFLOP/s fp32, {bf16_ceiling:.0f} GFLOP/s bf16"
    )
    train_set = load_jsb(args.data).train
    print("| preset | variant | examples/s | GFLOP/s | % of matmul in the same precision |")
    print("|---|---|---|---|---|")
    for name in args.presets:
        for variant in VARIANTS:
            examples, gflops = measure(name, variant, train_set, args.batch, args.steps, args.seconds)
            print(
                f"| {name} | {variant} | {examples:.1f} | {gflops:.0f} "
                f"| {100 * gflops / (bf16_ceiling if 'bf16' in variant else ceiling):.0f}% |",
                flush=True,
            )


if __name__ == "__main__":
    main()
