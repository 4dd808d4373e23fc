"""Architecture search: validation loss reached in a fixed CPU budget, and sampling latency.

Each candidate trains on the JSB train split for the same wall-clock budget (one process, all
cores, nothing else running), at a constant learning rate after warmup, then reports the
masked-prediction loss on fixed validation windows (nats per note; lower is better), the
receptive field in time (which sets the cost of exact likelihood evaluation) and the latency
of a 2-measure harmonization (Gibbs, 32 steps). Every candidate sees 1,280 steps of music per
training step: batch 20 of 64-step crops, or batch 10 of 128-step crops, and so on. Rerun:

    python experiments/arch_search.py --minutes 4 --out experiments/out/arch_search.json
    python experiments/arch_search.py --minutes 4 --bf16 --only "16x64 pitch" time 12x128 \
        --out experiments/out/arch_search_bf16.json

(the first is session 1's search, in float32; the second, written in session 8 and not yet
run, trains under bf16 autocast, as every run since session 2 has, and adds kernel shape, crop
length and reach in time against a fresh 16x64 baseline.)
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from common import JSB

from counterpoint.data.datasets import load_jsb
from counterpoint.model.network import Coconet, ModelConfig, count_parameters, preset
from counterpoint.music.representation import DEFAULT_RANGE
from counterpoint.sampling.config import SamplerConfig
from counterpoint.tasks import harmonize
from counterpoint.training.batches import validation_set
from counterpoint.training.config import TrainConfig
from counterpoint.training.loop import train
from counterpoint.training.objective import evaluate_loss

PITCH_DILATIONS = [(1, 1), (1, 2), (1, 4), (1, 8)]

NOTES_PER_BATCH = 1280  # steps of music per training step, whatever the crop length
# name: (architecture, crop length in steps)
CANDIDATES = {
    "paper 64x128": (preset("paper"), 64),
    "doodle 33x128 sep dilated": (preset("doodle"), 64),
    "24x64 dilated (t,p) 1-8": (ModelConfig(24, 64, dilations=[(1, 1), (2, 2), (4, 4), (8, 8)]), 64),
    "16x64 plain": (ModelConfig(16, 64), 64),
    "16x64 pitch-dilated": (ModelConfig(16, 64, dilations=PITCH_DILATIONS), 64),
    "24x64 pitch-dilated": (ModelConfig(24, 64, dilations=PITCH_DILATIONS), 64),
    "16x96 pitch-dilated": (ModelConfig(16, 96, dilations=PITCH_DILATIONS), 64),
    "12x128 pitch-dilated": (ModelConfig(12, 128, dilations=PITCH_DILATIONS), 64),
    # kernel shape: 5 steps in time doubles the reach at 1.7x the multiply-adds
    "16x64 pitch-dilated, kernel 5x3": (ModelConfig(16, 64, (5, 3), dilations=PITCH_DILATIONS), 64),
    # reach in time: every other pair of layers also dilated 2 in time
    "16x64 time 1,2 + pitch-dilated": (ModelConfig(16, 64, dilations=[(1, 1), (1, 2), (2, 4), (2, 8)]), 64),
    # crop length: fewer windows see a crop's edge (zero padding) within their reach
    "16x64 pitch-dilated, crop 128": (ModelConfig(16, 64, dilations=PITCH_DILATIONS), 128),
}


def latency(model: Coconet, melody: np.ndarray, repeats: int = 5) -> float:
    times = []
    for seed in range(repeats):
        start = time.perf_counter()
        harmonize(model, melody, sampler=SamplerConfig(steps=32), seed=seed)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=4.0)
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--out", default=None)
    parser.add_argument("--bf16", action="store_true", help="train under bf16 autocast")
    args = parser.parse_args()
    dataset = load_jsb(JSB)
    melody = dataset.valid[0][:32, 0]
    valid = validation_set(dataset.valid, 64, 256, 0, DEFAULT_RANGE)
    rows = []
    for name, (config, crop) in CANDIDATES.items():
        if args.only and not any(o in name for o in args.only):
            continue
        torch.manual_seed(0)
        run = TrainConfig(
            run_dir=f"runs/search/{name.replace(' ', '_')}",
            data=str(JSB),
            model=config,
            crop_steps=crop,
            batch_size=NOTES_PER_BATCH // crop,
            bf16=args.bf16,
            max_steps=10**9,
            max_minutes=args.minutes,
            eval_every=10**9,
            patience=0,
            progress=False,
        )
        summary = train(run, dataset=dataset)
        model = summary["model"].eval().to(memory_format=torch.contiguous_format)
        loss = evaluate_loss(model, *valid)  # the same windows and masks for every candidate
        row = {
            "candidate": name,
            "crop": crop,
            "bf16": args.bf16,
            "parameters": count_parameters(model),
            "time_reach": model.receptive_field(),
            "steps": summary["steps"],
            "examples_per_s": round(summary["steps"] * run.batch_size / summary["elapsed_s"], 1),
            "valid_loss": round(loss, 4),
            "harmonize_2_measures_s": round(latency(model, melody), 3),
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    print(
        f"\n| candidate | params | time reach | ex/s | steps in {args.minutes:g} min | valid loss | 2-bar s |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['candidate']} | {r['parameters']:,} | {r['time_reach']} | {r['examples_per_s']} | "
            f"{r['steps']} | {r['valid_loss']} | {r['harmonize_2_measures_s']} |"
        )
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
