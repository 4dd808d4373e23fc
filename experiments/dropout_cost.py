"""What dropout costs a training step on CPU: none, single activations (``nn.Dropout``), whole
feature maps (``--dropout-channels``, ``nn.Dropout2d``). The shipped network's shape (the
default preset at 20 layers), batch 10 of 128-step crops under bf16 autocast, as the phase-6
and phase-7 fine-tunes ran. Each variant is timed twice, interleaved, so that a drift of the
machine shows. Run with nothing else busy:

    python experiments/dropout_cost.py [--seconds 25]
"""

from __future__ import annotations

import argparse
import dataclasses

import torch
from common import JSB
from train_speed import rate  # the same timing loop (warm-up, then as many steps as fit)

from counterpoint.data.datasets import load_jsb
from counterpoint.model.network import Coconet, preset
from counterpoint.training.batches import make_batch
from counterpoint.training.config import TrainConfig
from counterpoint.training.objective import forward, masked_nll

VARIANTS = {
    "no dropout": {"dropout": 0.0},
    "dropout 0.25, single activations": {"dropout": 0.25},
    "dropout 0.25, whole feature maps": {"dropout": 0.25, "dropout_channels": True},
}


def seconds_per_step(settings: dict, train_set: list, batch: int, steps: int, seconds: float) -> float:
    torch.manual_seed(0)
    config = dataclasses.replace(preset("default"), layers=20, **settings)
    model = Coconet(config).train().to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    train = TrainConfig(model=config, batch_size=batch, crop_steps=steps)
    counter = iter(range(10**9))

    def step() -> None:
        pianoroll, known = make_batch(train_set, train, 0, next(counter))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = masked_nll(forward(model, pianoroll, known, True), pianoroll, known).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return 1 / rate(step, seconds)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=25.0, help="timing per variant and round")
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--steps", type=int, default=128)
    args = parser.parse_args()
    train_set = [c for c in load_jsb(JSB).train if len(c) >= args.steps]
    threads = torch.get_num_threads()
    print(f"torch {torch.__version__}, {threads} threads; batch {args.batch} x {args.steps} steps")
    times: dict[str, list[float]] = {name: [] for name in VARIANTS}
    for _ in range(2):
        for name, settings in VARIANTS.items():
            times[name].append(seconds_per_step(settings, train_set, args.batch, args.steps, args.seconds))
    base = min(times["no dropout"])
    print("| variant | s per step (round 1, round 2) | vs no dropout (best of each) |")
    print("|---|---|---|")
    for name, measured in times.items():
        print(f"| {name} | {measured[0]:.3f}, {measured[1]:.3f} | {min(measured) / base:.2f}x |")


if __name__ == "__main__":
    main()
