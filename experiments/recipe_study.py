"""Training recipes and architectures compared at equal training *steps*, all at once, on a
GPU: what a CPU run of the same steps would reach, found in minutes rather than CPU-days.

An arm is a training configuration (``counterpoint.training.TrainConfig``). Steps, data,
masks, crops and seeds are those of a CPU run of the same configuration; only the hardware
differs, so an arm's validation loss says what that many steps buy on 2 cores. What they cost
on this machine's CPUs is measured separately (``--cpu-speed``: training examples/s of each
arm's network, one thread, float32), so that the two together give validation loss per
CPU-hour. Every arm validates on the same 256 fixed windows (128 steps, orderless and frame
masks, seed 0) as phases 7-9 of the shipped model (docs/notes/), so its validation loss
compares with theirs (phase 8, the shipped model: 0.41218).

Sets of arms:

- ``finetune``: the shipped model fine-tuned with phase 8's recipe at lower peak learning
  rates, other dropout rates and more steps (docs/notes/2026-11-27-sessions-10-11-reach-in-time.md);
- ``fresh``: new networks trained from scratch with phase 8's recipe (channel dropout 0.15
  from the start, 128-step crops, frame masks for half of each batch, moving average),
  varying reach in time, kernel, depth and width;
- ``regularize``: the shipped time-dilated network trained from scratch with its recipe for
  7,000 steps, and with weight decay, transposition, continuation masks, or a 5x3 kernel.
- ``reach``: the shipped network with time dilations up to 16 or 32 (reach ±102 or ±191
  steps, the same cost per pass), trained from scratch for as many steps as a time cap allows;
- ``reach-crops``: the shipped network and the ±102-step one, each on 128- and 192-step
  crops, 7,000 steps with weight decay 0.1, to be judged on the paper's protocol (validation
  windows follow the crops, so their losses do not compare);
- ``sharpen``: the shipped model fine-tuned for 2,000 steps with less dropout, or with frame
  masks that erase fewer steps (``late_frames``): the paper's figure rewards sharpness where
  most of the piece is known (session 23).

With ``--protocol-seconds S`` the study also scores the shipped model (from the start) and
each arm's ``best.pt`` (once trained) on the whole validation split under the paper's
protocol, the figure the issue's bar is set on, until S seconds after the start; each piece's
scores are kept in ``--out/cache`` as they come, and the table compares every model on the
pieces all of them finished, paired against the shipped model. (Validation loss of the runs'
own masks cannot rank arms trained on other masks, and session 14's 4 pieces were 0.015 too
optimistic.)

    python experiments/recipe_study.py --set fresh --device cuda --data path/to/Jsb16thSeparated.npz \\
        --out runs/fresh-study --minutes 4.5
    python experiments/recipe_study.py --set fresh --cpu-speed   # on the CPU machine, nothing else busy
    python experiments/recipe_study.py --set regularize --device cuda --data path/to/Jsb16thSeparated.npz \\
        --out runs/regularize --minutes 4.7 --protocol-seconds 470
    python experiments/recipe_study.py --set regularize --out runs/regularize --table  # again, from the cache
    python experiments/recipe_study.py --out runs/regularize --score other.pt  # one more model, to the cache
    python experiments/recipe_study.py --out runs/regularize --table --also other=other.pt

Since session 29 the shipped model is a product of two networks (docs/model-card.md). The
``finetune`` and ``sharpen`` sets were run on the single network shipped then (phase 8, and
session 20's: ``git show 5f47ca5:src/counterpoint/weights/jsb.pt``); run now, they fine-tune
both networks of the product together. ``--table`` pairs every model with the shipped one,
whose validation scores are in ``runs/valid/cache`` for the first 12 pieces only
(session 27; ``--out runs/valid --score jsb`` extends them).

A checkpoint written ``a+b`` is the equal mixture of two networks (``mixture.py``), for
``--score`` and ``--also`` alike.

Each arm writes ``log.csv`` and ``best.pt`` under ``--out/<arm>``, and ``weights.pt``, its best
weights in half precision (1.4 MB, small enough to fetch from a lent GPU; the one scored);
``study.md`` has the table.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import mixture
import torch
from common import JSB, paired_table

from counterpoint.data.batches import pieces_at_least
from counterpoint.data.datasets import load_jsb
from counterpoint.evaluation import cached_scores, likelihood
from counterpoint.model.checkpoint import save
from counterpoint.model.network import Coconet, ModelConfig
from counterpoint.model.registry import load_model
from counterpoint.training.batches import make_batch
from counterpoint.training.config import TrainConfig
from counterpoint.training.loop import train
from counterpoint.training.objective import forward, masked_nll

HERE = Path(__file__).resolve().parent
SHIPPED = HERE.parent / "src" / "counterpoint" / "weights" / "jsb.pt"
PITCH = [(1, 1), (1, 2), (1, 4), (1, 8)]  # phase 8's network's (time, pitch) dilations
TIME = [(1, 1), (2, 2), (4, 4), (8, 8)]  # the shipped network's (session 20)
TIME16 = [*TIME, (16, 8)]  # reach ±102 at the same cost per pass (session 24)
# phase 8's recipe (docs/notes/); an arm changes some of it
RECIPE = dict(
    crop_steps=128, batch_size=10, mask="orderless+frames", augment=False, ema_decay=0.999,
    eval_every=250, patience=0, seed=0, bf16=True, progress=False,
)  # fmt: skip


def _network(
    layers: int = 20, filters: int = 64, kernel=(3, 3), dilations=PITCH, dropout=0.15
) -> ModelConfig:
    return ModelConfig(layers, filters, kernel, dilations, dropout=dropout, dropout_channels=True)


def finetune(learning_rate: float, steps: int, dropout: float = 0.15, **recipe) -> dict:
    shipped = load_model(SHIPPED).config
    model = replace(shipped, dropout=dropout, dropout_channels=True)
    return dict(model=model, init_from=str(SHIPPED), learning_rate=learning_rate, max_steps=steps, **recipe)


def sharpen(learning_rate: float, steps: int, **options) -> dict:
    """A fine-tune of the shipped model whose learning rate decays to almost nothing."""
    return finetune(learning_rate, steps, min_learning_rate=1e-6, **options)


def fresh(model: ModelConfig, steps: int = 9000, learning_rate: float = 1e-3, **recipe) -> dict:
    return dict(model=model, learning_rate=learning_rate, max_steps=steps, **recipe)


SETS = {
    "finetune": {
        "lr1e-4-1000": lambda: finetune(1e-4, 1000),
        "lr5e-5-1000": lambda: finetune(5e-5, 1000),
        "lr1e-4-3000": lambda: finetune(1e-4, 3000),
        "lr2e-4-3000": lambda: finetune(2e-4, 3000),
        "lr1e-4-3000-drop25": lambda: finetune(1e-4, 3000, dropout=0.25),
        "lr1e-4-6000": lambda: finetune(1e-4, 6000),
        "lr3e-4-6000": lambda: finetune(3e-4, 6000),
        "lr2e-4-6000-drop25": lambda: finetune(2e-4, 6000, dropout=0.25),
    },
    "fresh": {
        "20x64-pitch": lambda: fresh(_network()),  # the shipped architecture
        "20x64-time12-pitch": lambda: fresh(_network(dilations=[(1, 1), (1, 2), (2, 4), (2, 8)])),
        "20x64-time1248-pitch": lambda: fresh(_network(dilations=[(1, 1), (2, 2), (4, 4), (8, 8)])),
        "20x64-kernel5x3-pitch": lambda: fresh(_network(kernel=(5, 3))),
        "28x64-pitch": lambda: fresh(_network(layers=28)),
        "20x96-pitch": lambda: fresh(_network(filters=96)),
    },
    "regularize": {
        "base": lambda: fresh(_network(dilations=TIME), 7000),  # the shipped recipe
        "wd0.1": lambda: fresh(_network(dilations=TIME), 7000, weight_decay=0.1),
        "augment": lambda: fresh(_network(dilations=TIME), 7000, augment=True),
        "wd0.1-augment": lambda: fresh(_network(dilations=TIME), 7000, weight_decay=0.1, augment=True),
        "continuation": lambda: fresh(_network(dilations=TIME), 7000, mask="orderless+frames+continuation"),
        "kernel5x3": lambda: fresh(_network(kernel=(5, 3), dilations=TIME), 7000),
    },
    "reach": {  # more reach in time at the same cost per pass: a 2-minute probe, last weights
        "t8": lambda: fresh(_network(dilations=TIME), 5000, ema_decay=0.0),  # ±65 steps, shipped
        "t16": lambda: fresh(_network(dilations=TIME16), 5000, ema_decay=0.0),  # ±102
        "t32": lambda: fresh(_network(dilations=[*TIME16, (32, 8)]), 5000, ema_decay=0.0),  # ±191
    },
    "reach-crops": {  # more reach where the crops give it context (untried: for a lent GPU)
        # all with weight decay 0.1, the best full-run recipe (runs/wd, session 25);
        # t8-c128 is then session 21's wd0.1 arm, the control
        "t8-c128": lambda: fresh(_network(dilations=TIME), 7000, weight_decay=0.1),
        "t16-c128": lambda: fresh(_network(dilations=TIME16), 7000, weight_decay=0.1),
        # 192-step crops (181 of the 229 training pieces are that long), 7 a batch: the same
        # steps per batch as 10 of 128, so the same cost per training step
        "t8-c192": lambda: fresh(
            _network(dilations=TIME), 7000, crop_steps=192, batch_size=7, weight_decay=0.1
        ),
        "t16-c192": lambda: fresh(
            _network(dilations=TIME16), 7000, crop_steps=192, batch_size=7, weight_decay=0.1
        ),
    },
    "sharpen": {  # the shipped model fine-tuned for 2,000 steps (45 minutes on 2 cores)
        "d15": lambda: sharpen(1e-4, 2000),  # its own recipe, continued
        "d0": lambda: sharpen(1e-4, 2000, dropout=0.0),
        "d05": lambda: sharpen(1e-4, 2000, dropout=0.05),
        "d0-lr3e-4": lambda: sharpen(3e-4, 2000, dropout=0.0),
        "d0-frames": lambda: sharpen(1e-4, 2000, dropout=0.0, mask="frames"),
        "d0-late": lambda: sharpen(1e-4, 2000, dropout=0.0, mask="frames+late_frames"),
        "d15-late": lambda: sharpen(1e-4, 2000, mask="frames+late_frames"),
    },
}


def arm_config(study: str, name: str, args: argparse.Namespace) -> TrainConfig:
    settings = RECIPE | SETS[study][name]()
    run_dir = str(args.out / name)
    return TrainConfig(
        run_dir=run_dir, data=args.data, device=args.device, max_minutes=args.minutes, **settings
    )


def last_row(log_csv: Path) -> dict:
    rows = list(csv.DictReader(log_csv.open())) if log_csv.exists() else []
    valid = [float(r["valid_loss"]) for r in rows if r["valid_loss"]]
    return {
        "steps": int(rows[-1]["step"]) if rows else 0,
        "minutes": float(rows[-1]["elapsed_s"]) / 60 if rows else 0.0,
        "best_valid_loss": min(valid) if valid else None,
    }


def score_valid(checkpoint: str, args: argparse.Namespace) -> None:
    """The paper's protocol for ``checkpoint`` on the whole validation split, each piece kept
    in ``--out/cache`` as it is done (a scoring stopped at the deadline keeps its pieces)."""
    if args.device.startswith("cuda"):
        # several scorers and trainers share one GPU, and a scorer's caching allocator keeps its
        # peak: capped, it reuses its cache instead of taking memory another process needs
        # (session 24 lost a scorer to that)
        torch.cuda.set_per_process_memory_fraction(0.1)
    model = mixture.load(checkpoint, args.device)
    pieces = load_jsb(args.data).valid[: args.pieces]
    likelihood(model, pieces, chronological=False, cache=args.out / "cache", progress=False)


def protocol_table(checkpoints: dict[str, Path], args: argparse.Namespace) -> str:
    """Paper's protocol of each model on the validation pieces every one of them finished,
    and its difference from the first model's, paired by piece (standard error over pieces)."""
    pieces = load_jsb(args.data).valid[: args.pieces]
    scores = {
        name: cached_scores(mixture.load(str(path)), pieces, args.out / "cache", chronological=False)
        for name, path in checkpoints.items()
        if mixture.available(str(path))
    }
    return paired_table(scores, pieces, "validation")


def cpu_speed(config: TrainConfig, seconds: float) -> float:
    """Training examples/s of ``config``'s network on this CPU (one thread, float32)."""
    torch.set_num_threads(1)
    model = Coconet(config.model).to(memory_format=torch.channels_last).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    pieces = pieces_at_least(load_jsb(config.data).train, config.crop_steps)
    count, start, step = 0, 0.0, 0
    while not start or time.perf_counter() - start < seconds:
        pianoroll, known = make_batch(pieces, replace(config, augment=False), 0, step)
        loss = masked_nll(forward(model, pianoroll, known, True), pianoroll, known).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        step += 1
        if step == 2:  # the first steps warm up the allocator and kernels
            start, count = time.perf_counter(), 0
        else:
            count += config.batch_size
    return count / (time.perf_counter() - start)


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--set", dest="study", choices=SETS, default="fresh")
    parser.add_argument("--data", default=str(JSB))
    parser.add_argument("--out", type=Path, default=Path("runs/recipe-study"))
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--minutes", type=float, default=4.5, help="wall-time cap per arm")
    parser.add_argument("--threads", type=int, default=2, help="torch threads per arm's process")
    parser.add_argument("--arm", help="train this one arm here (what the study runs in each process)")
    parser.add_argument("--cpu-speed", type=float, nargs="?", const=20.0, help="seconds of timing per arm")
    parser.add_argument(
        "--protocol-seconds", type=float, help="score on the validation split until this long after the start"
    )
    parser.add_argument("--score", help="score this checkpoint (what each scoring process runs)")
    parser.add_argument("--table", action="store_true", help="print the protocol table from --out/cache")
    parser.add_argument("--arms", help="these arms of the set only (comma-separated)")
    parser.add_argument("--pieces", type=int, help="score the first N validation pieces only")
    parser.add_argument("--also", nargs="*", default=[], help="NAME=CHECKPOINT: more models in the table")
    args = parser.parse_args()
    arms = args.arms.split(",") if args.arms else list(SETS[args.study])
    checkpoints = {"shipped": SHIPPED} | {name: args.out / name / "weights.pt" for name in arms}
    checkpoints |= {name: Path(path) for name, _, path in (item.partition("=") for item in args.also)}

    if args.arm:
        train(arm_config(args.study, args.arm, args))
        return
    if args.score:
        score_valid(args.score, args)
        return
    if args.table:
        print(protocol_table(checkpoints, args))
        return
    if args.cpu_speed:
        print(f"training examples/s on this CPU, one thread, float32, {args.cpu_speed:g} s per arm")
        for name in arms:
            config = arm_config(args.study, name, args)
            print(f"{name}: {cpu_speed(config, args.cpu_speed):.2f}", flush=True)
        return

    start = time.perf_counter()
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), PYTHONUNBUFFERED="1")
    (args.out / "logs").mkdir(parents=True, exist_ok=True)

    def launch(name: str, *options: str) -> subprocess.Popen:
        command = [sys.executable, __file__, "--set", args.study, "--data", args.data, "--out", str(args.out)]
        command += ["--device", args.device, "--minutes", str(args.minutes), *options]
        command += ["--pieces", str(args.pieces)] if args.pieces else []
        with (args.out / "logs" / f"{name}.log").open("w") as log:
            return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)

    scorers = [launch("score-shipped", "--score", str(SHIPPED))] if args.protocol_seconds else []
    training = [launch(name, "--arm", name) for name in arms]
    for process in training:
        process.wait()
    for name in arms:
        if (args.out / name / "best.pt").exists():
            save(checkpoints[name], load_model(args.out / name / "best.pt"), half=True)
    print(f"trained {len(arms)} arms at once on {args.device} in {time.perf_counter() - start:.0f} s")
    lines = [
        "| arm | peak LR | steps (asked) | steps run | minutes | best valid loss |",
        "|---|---|---|---|---|---|",
    ]
    for name in arms:
        config, row = arm_config(args.study, name, args), last_row(args.out / name / "log.csv")
        loss = f"{row['best_valid_loss']:.5f}" if row["best_valid_loss"] else "-"
        lines.append(
            f"| {name} | {config.learning_rate:g} | {config.max_steps} | {row['steps']} "
            f"| {row['minutes']:.1f} | {loss} |"
        )
    table = "\n".join(lines)
    if args.protocol_seconds:
        print(f"scoring the arms on the validation split until {args.protocol_seconds:.0f} s", flush=True)
        scorers += [launch(f"score-{name}", "--score", str(checkpoints[name])) for name in arms]
        for process in scorers:
            try:
                process.wait(timeout=max(1.0, start + args.protocol_seconds - time.perf_counter()))
            except subprocess.TimeoutExpired:
                process.kill()  # its finished pieces are in the cache already
        table += "\n\n" + protocol_table(checkpoints, args)
    (args.out / "study.md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
