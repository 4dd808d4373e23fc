"""Calibration: the likelihood figures of a model whose logits are divided by a temperature.

A temperature above 1 softens every conditional, below 1 sharpens it. The exact likelihood (a
proper score) is best at the temperature where the model is calibrated. The paper's figure
(5 orderings averaged per frame, Magenta's protocol) takes, for each frame, the mean of its
probability over the orderings; that mean is dominated by the ordering that saw the frame
with the most context, so it rewards confidence. The same per-frame average of the exact
conditionals (a frame's later voices given the true notes, not the model's guesses) is
printed beside it. This measures both on the same pieces and
orderings, so the two can be set side by side:

    python experiments/calibration.py --checkpoint jsb --split valid --pieces 10
"""

from __future__ import annotations

import argparse
import time

import torch
from common import JSB

from counterpoint.data.datasets import load_jsb
from counterpoint.evaluation import likelihood
from counterpoint.model.registry import load_model


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--checkpoint", default="jsb")
    parser.add_argument("--data", default=str(JSB))
    parser.add_argument("--split", default="valid")
    parser.add_argument("--pieces", type=int, default=10, help="the first N pieces of the split")
    parser.add_argument("--temperatures", type=float, nargs="+", default=[0.8, 0.9, 1.0, 1.1, 1.2])
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model = load_model(args.checkpoint)
    pieces = load_jsb(args.data).split(args.split)[: args.pieces]
    print(f"{args.checkpoint} on the first {len(pieces)} pieces of {args.split}, 5 random orderings (seed 0)")
    print(
        "| temperature | the paper's protocol (per frame, Magenta) | per frame, exact conditionals "
        "| exact ensemble | random orderings, mean |"
    )
    print("|---|---|---|---|---|")
    for temperature in args.temperatures:
        start = time.perf_counter()
        figures = likelihood(model, pieces, progress=False, temperature=temperature, chronological=False)
        paper, per_frame = figures["paper_protocol"], figures["ensemble_per_frame"]
        exact, mean = figures["ensemble"], figures["random"]
        print(
            f"| {temperature:g} | {paper['framewise']:.4f} ± {paper['framewise_sem']:.4f} "
            f"| {per_frame['framewise']:.4f} ± {per_frame['framewise_sem']:.4f} "
            f"| {exact['framewise']:.4f} | {mean['framewise']:.4f} ± {mean['framewise_sem']:.4f} |"
            f"  ({time.perf_counter() - start:.0f} s)",
            flush=True,
        )


if __name__ == "__main__":
    main()
