"""What ``continue`` writes, model against model: each JSB test chorale's first 64 steps (4
measures) are given and the model continues it by 2 measures; the 32 written steps are compared
with what Bach wrote next.

The time-dilated network (shipped in session 20) scores Bach's notes worse than the model before
it in the chronological ordering (1.670 against 1.584 nats per frame), the ordering a
continuation is written in; this says whether what it *writes* is worse too. Per model and
sampler setting: parallel fifths and octaves per 100 written steps (the junction's motion
included), the distance of the written notes' statistics to Bach's continuations (as
``counterpoint evaluate``), and the share of written notes equal to Bach's. Every model writes
the same pieces with the same seeds, in float32 so that no model has an int8 file the other lacks.

    python experiments/continuation_quality.py --checkpoints jsb phase8=path/to/phase8.pt
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from common import JSB

from counterpoint.data.datasets import load_dataset
from counterpoint.evaluation import agreement, fault_rates, histogram_distances
from counterpoint.model.registry import load_model
from counterpoint.sampling.config import SamplerConfig
from counterpoint.tasks import continue_piece

GIVEN, WRITTEN = 64, 32  # steps: 4 measures given, 2 written
SETTINGS = {
    "default": SamplerConfig(precision="float32"),
    "network alone": SamplerConfig(precision="float32", avoid_parallels=False),
}


def continue_all(model, pieces: list[np.ndarray], sampler: SamplerConfig, seed: int) -> list[np.ndarray]:
    """Each piece's first GIVEN steps continued by WRITTEN steps (seed + index per piece)."""
    return [
        continue_piece(model, piece[:GIVEN], measures=WRITTEN // 16, sampler=sampler, seed=seed + i).chorale
        for i, piece in enumerate(pieces)
    ]


def figures(written: list[np.ndarray], bach: list[np.ndarray]) -> dict[str, float]:
    """Faults per 100 written steps (from the last given step on, so the junction counts),
    distances to Bach's continuations, and agreement with Bach's notes."""
    faults = fault_rates([piece[GIVEN - 1 :] for piece in written])
    new = [piece[GIVEN:] for piece in written]
    truth = [piece[GIVEN : GIVEN + WRITTEN] for piece in bach]
    distances, accuracy = histogram_distances(new, truth), agreement(new, truth)
    # faults are counted on WRITTEN + 1 steps per piece; rescale to 100 written steps
    scale = (WRITTEN + 1) / WRITTEN
    return {
        "parallels": (faults["parallel_fifths"] + faults["parallel_octaves"]) * scale,
        "accuracy": 100.0 * accuracy,
        **distances,
    }


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--checkpoints", nargs="+", default=["jsb"], help="NAME=PATH or a checkpoint")
    parser.add_argument("--data", default=JSB)
    parser.add_argument("--pieces", type=int, default=0, help="the first N test pieces long enough (0: all)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    test = [p for p in load_dataset(args.data).test if len(p) >= GIVEN + WRITTEN]
    test = test[: args.pieces or None]
    print(f"{len(test)} test chorales: {GIVEN} steps given, {WRITTEN} written; float32, seed {args.seed}")
    reference = {"Bach": figures([p[: GIVEN + WRITTEN] for p in test], test)}
    rows = {}
    for item in args.checkpoints:
        name, _, path = item.rpartition("=")
        model = load_model(path)
        for setting, sampler in SETTINGS.items():
            start = time.perf_counter()
            written = continue_all(model, test, sampler, args.seed)
            rows[f"{name or path}, {setting}"] = figures(written, test)
            print(f"{name or path}, {setting}: {time.perf_counter() - start:.0f} s", flush=True)
    rows = reference | rows
    columns = list(next(iter(rows.values())))
    print()
    print("| written by | " + " | ".join(columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for name, values in rows.items():
        print(f"| {name} | " + " | ".join(f"{values[c]:.3f}" for c in columns) + " |")


if __name__ == "__main__":
    main()
