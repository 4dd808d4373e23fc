"""Training: orderless NADE on random crops of chorales, resumable and observable.

Each step draws a batch of random crops (randomly transposed), erases a random subset of
notes per example (:mod:`counterpoint.data.masks`), and minimizes the cross-entropy of the erased
notes. Per example the loss is the summed NLL of the erased notes times (notes in the crop) /
(notes erased), as in the Coconet paper, divided by the notes in the crop so that it reads
as nats per note: i.e. the mean NLL over the erased notes. Every mask size weighs the same.

Everything random at step ``s`` is drawn from generators seeded by ``(seed, rank, s)``, so a
resumed run continues exactly as an uninterrupted one, and the data for the next step can be
prepared in a background thread while the current one trains. Under ``torchrun`` the model
is wrapped in DistributedDataParallel (gloo on CPU, nccl on GPU); rank 0 evaluates, logs and
writes checkpoints.

With ``ema_decay`` the run also keeps an exponential moving average of the weights
(``torch.optim.swa_utils.AveragedModel``): the average is smoother than the last step's
weights, so it is the one validated and written to ``best.pt``.

With a ``teacher`` (knowledge distillation) the erased notes' targets are partly the teacher
model's distributions given the same input, not only Bach's notes: a single network can
learn what a product of several (``model.products.combine``) knows, at one network's sampling cost.
Validation still scores Bach's notes alone, so runs with and without a teacher compare.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from counterpoint.data.batches import pieces_at_least
from counterpoint.data.datasets import Dataset, load_dataset
from counterpoint.errors import CheckpointError, ConfigError
from counterpoint.model.checkpoint import from_checkpoint, read_checkpoint, save
from counterpoint.model.network import Coconet, make_input
from counterpoint.training.batches import make_batch, run_validation_set
from counterpoint.training.config import TrainConfig
from counterpoint.training.objective import evaluate_loss, forward, step_loss
from counterpoint.training.teacher import initial_weights, load_teacher


def make_optimizer(model: torch.nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """Adam, or with ``weight_decay`` AdamW decaying the convolution kernels alone: batch
    norm's scales and the biases set levels, and shrinking them only fights the next layer."""
    if not config.weight_decay:
        return torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    kernels = [p for p in model.parameters() if p.ndim > 1]
    others = [p for p in model.parameters() if p.ndim <= 1]
    groups = [
        {"params": kernels, "weight_decay": config.weight_decay},
        {"params": others, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=config.learning_rate)


def learning_rate(config: TrainConfig, step: int, elapsed_s: float = 0.0) -> float:
    """Linear warmup, then cosine decay to ``min_learning_rate`` at ``max_steps``, or at
    ``max_minutes`` of training if that comes first (so a time budget is used well)."""
    if step < config.warmup_steps:
        return config.learning_rate * (step + 1) / config.warmup_steps
    progress = min(1.0, (step - config.warmup_steps) / max(1, config.max_steps - config.warmup_steps))
    if config.max_minutes:
        progress = max(progress, min(1.0, elapsed_s / (60 * config.max_minutes)))
    cosine = 0.5 * (1 + math.cos(math.pi * progress))
    return config.min_learning_rate + (config.learning_rate - config.min_learning_rate) * cosine


# --------------------------------------------------------------------------- the loop


def _raise_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _distributed() -> tuple[int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return (dist.get_rank(), world) if world > 1 else (0, 1)


LOG_COLUMNS = ["step", "elapsed_s", "train_loss", "valid_loss", "learning_rate", "examples_per_s"]


@dataclass
class _Progress:
    """Where a run stands; saved in its checkpoints, so a resumed run goes on from there."""

    step: int = 0
    best: float = math.inf
    elapsed: float = 0.0
    stale: int = 0  # validations since the best one


class _Run:
    """One training run: the model (and the moving average of its weights), the optimizer, the
    teacher, the validation windows, the log and the progress. Rank 0 validates, logs and
    writes the checkpoints."""

    def __init__(self, config: TrainConfig, resume: bool, dataset: Dataset | None) -> None:
        self.config = config
        self.rank, self.world = _distributed()
        self.device = torch.device(config.device)
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise ConfigError("--device cuda was asked for but no GPU is available")
        dataset = dataset or load_dataset(config.data, progress=config.progress and self.rank == 0)
        self.train_set = pieces_at_least(dataset.train, config.crop_steps)
        run_dir = Path(config.run_dir)
        self.last_path, self.best_path = run_dir / "last.pt", run_dir / "best.pt"
        self.progress = _Progress()
        self._build(resume)
        self.valid = run_validation_set(config, dataset)
        self.log_file = self.log = None
        if self.rank == 0:
            self._open_log(run_dir, resume)

    def _build(self, resume: bool) -> None:
        config, device = self.config, self.device
        torch.manual_seed(config.seed)
        fresh = initial_weights(config) if config.init_from and not resume else Coconet(config.model)
        self.model = model = fresh.to(device)
        self.optimizer = make_optimizer(model, config)
        payload = {}
        if resume:
            if not self.last_path.exists():
                raise CheckpointError(f"{self.last_path}: nothing to resume")
            payload = read_checkpoint(self.last_path)
            model.load_state_dict(from_checkpoint(payload, str(self.last_path)).state_dict())
            self.optimizer.load_state_dict(payload["optimizer"])
            self.progress = _Progress(payload["step"], payload["best"], payload["elapsed"], payload["stale"])
        if config.channels_last:
            self.model = model = model.to(memory_format=torch.channels_last)
        self.average = None
        if config.ema_decay:
            multi_avg_fn = get_ema_multi_avg_fn(config.ema_decay)
            self.average = AveragedModel(model, multi_avg_fn=multi_avg_fn, use_buffers=True)
            if resume and "ema" in payload:
                self.average.load_state_dict(payload["ema"])
        # what is validated and kept as best.pt
        self.judged = self.average.module if self.average is not None else model
        self.teacher = load_teacher(config, device) if config.teacher else None
        self.network = torch.nn.parallel.DistributedDataParallel(model) if self.world > 1 else model
        model.train()

    def _open_log(self, run_dir: Path, resume: bool) -> None:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.json").write_text(json.dumps(self.config.to_dict(), indent=2))
        log_path = run_dir / "log.csv"
        new_log = not log_path.exists() or not resume
        self.log_file = log_path.open("w" if new_log else "a", newline="")
        self.log = csv.writer(self.log_file)
        if new_log:
            self.log.writerow(LOG_COLUMNS)

    def checkpoint(self, path: Path, weights: Coconet) -> None:
        progress = self.progress
        extra = {
            "optimizer": self.optimizer.state_dict(),
            "step": progress.step,
            "best": progress.best,
            "elapsed": progress.elapsed,
            "stale": progress.stale,
            "train_config": json.dumps(self.config.to_dict()),
        }
        if self.average is not None and weights is self.model:  # best.pt's weights already are the average
            extra["ema"] = self.average.state_dict()
        save(path, weights, extra)

    def step(self, pianoroll: torch.Tensor, known: torch.Tensor) -> float:
        """One optimizer step on a batch; returns its loss."""
        config, device = self.config, self.device
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate(config, self.progress.step, self.progress.elapsed)
        pianoroll, known = pianoroll.to(device), known.to(device)
        teacher_logits = None
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=config.bf16):
            logits = forward(self.network, pianoroll, known, config.channels_last)
        if self.teacher is not None:
            with torch.no_grad():
                teacher_logits = self.teacher(make_input(pianoroll, known))
        loss = step_loss(logits, pianoroll, known, teacher_logits, config.teacher_weight)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        if self.average is not None:
            self.average.update_parameters(self.model)
        self.progress.step += 1
        return float(loss.detach())

    def validate(self, running: float, rate: float) -> bool:
        """Rank 0: validate, keep best.pt and last.pt, log; whether patience has run out."""
        progress, config = self.progress, self.config
        valid_loss = evaluate_loss(self.judged, self.valid[0].to(self.device), self.valid[1].to(self.device))
        if valid_loss < progress.best:
            progress.best, progress.stale = valid_loss, 0
            self.checkpoint(self.best_path, self.judged)
        else:
            progress.stale += 1
        rounded = [round(progress.elapsed, 1), round(running, 5), round(valid_loss, 5)]
        lr = learning_rate(config, progress.step, progress.elapsed)
        self.log.writerow([progress.step, *rounded, lr, round(rate, 2)])
        self.log_file.flush()
        self.checkpoint(self.last_path, self.model)
        return config.patience > 0 and progress.stale >= config.patience

    def agree(self, stop: bool) -> bool:
        """Every rank stops when rank 0 does."""
        if self.world == 1:
            return stop
        flag = torch.tensor([1.0 if stop else 0.0], device=self.device)
        dist.broadcast(flag, 0)
        return bool(flag.item())

    def finish(self) -> None:
        if self.world > 1:
            # DDP copies rank 0's batch-norm statistics at each forward; do it once more so
            # every rank ends with the same model
            for buffer in self.model.buffers():
                dist.broadcast(buffer, 0)
        if self.rank == 0:
            self.checkpoint(self.last_path, self.model)
            if not self.best_path.exists():
                self.checkpoint(self.best_path, self.judged)
            self.log_file.close()

    def summary(self, stop_reason: str) -> dict:
        return {
            "steps": self.progress.step,
            "best_valid_loss": self.progress.best,
            "elapsed_s": self.progress.elapsed,
            "stopped": stop_reason,
            "last": str(self.last_path),
            "best": str(self.best_path),
            "rank": self.rank,
            "model": self.judged,
        }


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM (kill, a scheduler's stop) ends training like Ctrl-C: cleanly, checkpoint kept."""
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def train(config: TrainConfig, resume: bool = False, dataset: Dataset | None = None) -> dict:
    """Train until ``max_steps``, ``max_minutes``, early stopping or Ctrl-C. Returns a summary
    (steps, best validation loss, paths, the trained model: the moving average with
    ``ema_decay``). Checkpoints: ``last.pt`` and ``best.pt`` in ``run_dir``."""
    from tqdm import tqdm

    run = _Run(config, resume, dataset)
    progress, rank = run.progress, run.rank
    bar = tqdm(
        total=config.max_steps,
        initial=progress.step,
        disable=not (config.progress and rank == 0),
        unit="step",
        dynamic_ncols=True,
    )
    pool = ThreadPoolExecutor(max_workers=1)  # the next batch is made while this one trains
    upcoming = pool.submit(make_batch, run.train_set, config, rank, progress.step)
    started = time.perf_counter() - progress.elapsed
    last_saved = time.perf_counter()
    running, window_start, window_examples = None, time.perf_counter(), 0
    stop_reason = "max_steps"
    try:
        with _sigterm_interrupts():
            while progress.step < config.max_steps:
                pianoroll, known = upcoming.result()
                upcoming = pool.submit(make_batch, run.train_set, config, rank, progress.step + 1)
                value = run.step(pianoroll, known)
                running = value if running is None else 0.98 * running + 0.02 * value
                window_examples += config.batch_size * run.world
                progress.elapsed = time.perf_counter() - started
                rate = window_examples / max(1e-9, time.perf_counter() - window_start)
                bar.update(1)
                bar.set_postfix(loss=f"{running:.3f}", best=f"{progress.best:.3f}", ex_s=f"{rate:.1f}")

                stop = False
                # the run's last weights are always validated, so best.pt can be the final ones
                time_up = bool(config.max_minutes) and progress.elapsed > 60 * config.max_minutes
                if progress.step % config.eval_every == 0 or progress.step == config.max_steps or time_up:
                    if rank == 0:
                        stop = run.validate(running, rate)
                        last_saved = time.perf_counter()
                        window_start, window_examples = time.perf_counter(), 0
                    if stop:
                        stop_reason = "early_stopping"
                if time_up:
                    stop, stop_reason = True, "time_limit"
                if run.agree(stop):
                    break
                if rank == 0 and time.perf_counter() - last_saved > 60 * config.checkpoint_minutes:
                    run.checkpoint(run.last_path, run.model)
                    last_saved = time.perf_counter()
    except KeyboardInterrupt:
        stop_reason = "interrupted"
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        bar.close()
        run.finish()
    return run.summary(stop_reason)
