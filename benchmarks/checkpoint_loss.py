"""The validation loss of a run's checkpoints, for the last weights and for their moving average.

A run with ``--ema`` validates (and logs) only the moving average of its weights. Early in a
run the average lags far behind: with a decay of 0.999 it still remembers the first thousand
steps, so the log understates how far the run has come. This scores both, each checkpoint on
its own run's validation set (the run's crops, masks and seed), so checkpoints of runs with
the same settings can be compared row by row:

    python benchmarks/checkpoint_loss.py runs/reach/last.pt runs/warm/last.pt [--threads 1]

Runs with other crops have other validation windows; ``--windows-of`` scores every checkpoint on
one run's windows instead (its ``config.json``), so that such runs compare at equal steps:

    python benchmarks/checkpoint_loss.py runs/t16c192/last.pt WD7014.pt \
        --windows-of runs/wd/config.json

Any checkpoint scores on a run's windows that way, a shipped model's file included (it has no
step or run of its own), e.g. the shipped product against its distilled student:

    python benchmarks/checkpoint_loss.py src/counterpoint/weights/jsb.pt runs/distill/last.pt \
        --windows-of runs/wd/config.json
"""

from __future__ import annotations

import argparse
import functools
import json
from pathlib import Path

import torch

from counterpoint.data.datasets import load_dataset
from counterpoint.model.checkpoint import from_checkpoint, read_checkpoint
from counterpoint.training.batches import run_validation_set
from counterpoint.training.config import TrainConfig
from counterpoint.training.objective import evaluate_loss


@functools.cache
def validation_windows(train_config: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The validation set of a run, given its config as JSON: its crops, masks and seed.

    Cached, so the checkpoints of one run (or every checkpoint, with ``--windows-of``) load
    the data and draw the windows once."""
    run = TrainConfig.from_dict(json.loads(train_config))
    return run_validation_set(run, load_dataset(run.data, progress=False))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("checkpoints", nargs="+", help="last.pt or best.pt files of training runs")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument(
        "--windows-of", help="a run's config.json: score every checkpoint on that run's validation set"
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    shared = Path(args.windows_of).read_text() if args.windows_of else None
    print("| checkpoint | step | last weights | moving average |")
    print("|---|---|---|---|")
    for path in args.checkpoints:
        payload = read_checkpoint(path)
        if not shared and "train_config" not in payload:
            parser.error(f"{path}: not a training run's checkpoint; give --windows-of a run's config.json")
        valid = validation_windows(shared or payload["train_config"])
        model = from_checkpoint(payload, str(path))
        last = evaluate_loss(model, *valid)
        average = "-"
        if "ema" in payload:  # AveragedModel's state: the averaged network under "module."
            state = {
                k.removeprefix("module."): v for k, v in payload["ema"].items() if k.startswith("module.")
            }
            model.load_state_dict(state)
            average = f"{evaluate_loss(model, *valid):.5f}"
        print(f"| {path} | {payload.get('step', '-')} | {last:.5f} | {average} |", flush=True)


if __name__ == "__main__":
    main()
