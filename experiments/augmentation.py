"""Does random transposition help? Two training runs of the same budget, with and without it,
side by side (one CPU thread each, started together, so both see the same machine), scored
on the JSB validation split in its original keys (masked-prediction loss, nats per erased
note; lower is better).

    python experiments/augmentation.py [--minutes 12] [--resume-from runs/jsb]

With ``--resume-from`` both runs continue that run's ``last.pt`` instead of starting from
scratch (the question then is whether to fine-tune with or without transposition); its
time budget is extended by ``--minutes``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from common import JSB


def command(run_dir: Path, augment: bool, minutes: float, resume: bool) -> list[str]:
    flag = "--augment" if augment else "--no-augment"
    base = [
        sys.executable,
        "-m",
        "counterpoint",
        "train",
        "--run-dir",
        str(run_dir),
        "--minutes",
        str(minutes),
    ]
    if resume:
        return [*base, "--resume", flag, "--eval-every", "250"]
    return [*base, "--data", str(JSB), "--eval-every", "250", "--patience", "0", flag]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=12.0)
    parser.add_argument("--resume-from", type=Path, default=None, help="a run dir to continue both runs from")
    parser.add_argument("--out", type=Path, default=Path("runs/augmentation"))
    args = parser.parse_args()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    args.out.mkdir(parents=True, exist_ok=True)
    runs = {}
    for augment in (True, False):
        run_dir = args.out / ("augment" if augment else "no-augment")
        shutil.rmtree(run_dir, ignore_errors=True)
        minutes = args.minutes
        if args.resume_from:
            shutil.copytree(args.resume_from, run_dir)
            minutes += json.loads((run_dir / "config.json").read_text())["max_minutes"]
        log = (args.out / f"{run_dir.name}.out").open("w")
        runs[augment] = (
            run_dir,
            subprocess.Popen(
                command(run_dir, augment, minutes, bool(args.resume_from)), env=env, stdout=log, stderr=log
            ),
        )
    print("| transposition | steps | best validation loss (nats/note) |")
    print("|---|---|---|")
    for augment, (run_dir, process) in runs.items():
        process.wait()
        rows = list(csv.DictReader((run_dir / "log.csv").open()))
        best = min(float(row["valid_loss"]) for row in rows)
        print(f"| {'on' if augment else 'off'} | {rows[-1]['step']} | {best:.4f} |")


if __name__ == "__main__":
    main()
