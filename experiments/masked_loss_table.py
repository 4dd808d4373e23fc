"""The masked-prediction loss of models side by side, per split, window length and mask family.

`counterpoint evaluate` reports the loss on 64-step windows; training validates on 128-step
windows with its own masks. A network that sees ±65 steps can rank differently from one that
sees ±20 on short windows, and on orderless masks (notes erased anywhere) against frame masks
(whole steps erased). This prints every combination, the same windows and masks for every
model (fixed by the seed), so the rows compare directly:

    git show 2d5d558:src/counterpoint/weights/jsb.pt > /tmp/phase8.pt
    python experiments/masked_loss_table.py --data ../shared/data/jsb/Jsb16thSeparated.npz \
        --checkpoints jsb /tmp/phase8.pt

A checkpoint written ``a+b`` is the equal mixture of two networks (`mixture.py`).
"""

from __future__ import annotations

import argparse
import itertools

import torch
from mixture import load

from counterpoint import evaluation
from counterpoint.data.datasets import load_dataset


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", required=True, help="JSB .npz/.json path, or 'music21'")
    parser.add_argument(
        "--checkpoints", nargs="+", default=["jsb"], help="paths or shipped names; a+b: their mixture"
    )
    parser.add_argument("--splits", nargs="+", default=["valid", "test"])
    parser.add_argument("--crops", nargs="+", type=int, default=[64, 128], help="window lengths in steps")
    parser.add_argument("--masks", nargs="+", default=["orderless", "frames"])
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    dataset = load_dataset(args.data, progress=False)
    models = {spec: load(spec) for spec in args.checkpoints}
    print(f"| split | window | masks | {' | '.join(args.checkpoints)} |")
    print(f"|---|---|---|{'---|' * len(args.checkpoints)}")
    pieces = {split: dataset.split(split) for split in args.splits}
    for split, crop, mask in itertools.product(args.splits, args.crops, args.masks):
        losses = [
            evaluation.masked_loss(model, pieces[split], crop_steps=crop, mask=mask)
            for model in models.values()
        ]
        print(f"| {split} | {crop} | {mask} | {' | '.join(f'{loss:.4f}' for loss in losses)} |", flush=True)


if __name__ == "__main__":
    main()
