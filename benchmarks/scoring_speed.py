"""How much faster is exact likelihood scoring now that windows at a piece's edges take the cone?

`counterpoint evaluate` scores every note on the ``2R + 1`` steps centred on it. Inside the piece
the network computes only the cone the middle step depends on (``Coconet.forward_center``),
about half of a full forward pass. Until session 15 a window that overhung the piece's start or
end was shifted inward and run through the full forward pass instead; on JSB's pieces (median
228 steps) and a network that reaches ±65 steps, that was most notes. Now those windows take the
cone too, with the steps beyond the edge zeroed after every layer, as zero padding would show
them (exact: ``tests/test_evaluation.py``). This times, side by side in one run, one batch of
scoring windows by each route, and weighs them by the share of the test split's notes whose
window overhangs an edge:

    python benchmarks/scoring_speed.py [--checkpoints runs/reach/best.pt ...] [--threads 2]

Without ``--checkpoints`` it times the shipped model. Ratios hold on a busy machine; absolute
times do not.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import torch

from counterpoint.data import load_jsb
from counterpoint.evaluation import BATCH, on_device
from counterpoint.model import load_model
from counterpoint.representation import SILENCE

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "jsb" / "Jsb16thSeparated.npz"


def median_seconds(run: Callable[[], object], repeats: int) -> float:
    run()  # warm up: oneDNN picks its kernels on the first call
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def edge_share(chorales: list[np.ndarray], reach: int) -> float:
    """Share of the sounding notes whose ``2R + 1`` window overhangs the piece's start or end."""
    edge = total = 0
    for chorale in chorales:
        steps = np.arange(len(chorale))
        notes = (chorale != SILENCE).sum(axis=1)
        overhangs = (steps - reach < 0) | (steps + reach >= len(chorale))
        edge += int(notes[overhangs].sum())
        total += int(notes.sum())
    return edge / total


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--checkpoints", nargs="*", default=[None], help="default: the shipped model")
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    test = load_jsb(args.data).test
    print(f"{args.threads} threads, batches of {BATCH} windows, median of {args.repeats}")
    print(
        "| model | reach | edge notes (test) | full pass (s) | cone (s) | cone, edge-masked (s) "
        "| before: s per 1000 notes | now | speedup |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for checkpoint in args.checkpoints:
        model = on_device(load_model(checkpoint), "cpu")
        reach = model.receptive_field()
        width = 2 * reach + 1
        generator = torch.Generator().manual_seed(0)
        x = (torch.rand(BATCH, 8, width, model.pitch_range.size, generator=generator) < 0.05).float()
        inside = torch.ones(BATCH, width, dtype=torch.bool)
        inside[: BATCH // 2, : reach // 2] = False  # half the batch overhangs the start
        x[: BATCH // 2, :, : reach // 2] = 0
        with torch.no_grad():
            full = median_seconds(partial(model, x), args.repeats)
            cone = median_seconds(partial(model.forward_center, x), args.repeats)
            masked = median_seconds(partial(model.forward_center, x, inside), args.repeats)
        share = edge_share(test, reach)
        before = (share * full + (1 - share) * cone) / BATCH * 1000
        now = masked / BATCH * 1000
        name = checkpoint or "shipped"
        print(
            f"| {name} | ±{reach} | {share:.0%} | {full:.3f} | {cone:.3f} | {masked:.3f} "
            f"| {before:.2f} | {now:.2f} | {before / now:.2f}x |"
        )


if __name__ == "__main__":
    main()
