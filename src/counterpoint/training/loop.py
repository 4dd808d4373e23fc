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

import csv
import json
import math
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch
import torch.distributed as dist
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from counterpoint.data.batches import pieces_at_least
from counterpoint.data.datasets import Dataset, load_dataset
from counterpoint.errors import CheckpointError, ConfigError
from counterpoint.model.checkpoint import from_checkpoint, read_checkpoint, save
from counterpoint.model.network import Coconet
from counterpoint.training.batches import make_batch, run_validation_set
from counterpoint.training.config import TrainConfig
from counterpoint.training.objective import evaluate_loss, forward, step_loss
from counterpoint.training.teacher import initial_weights, load_teacher

# --------------------------------------------------------------------------- tensors


# --------------------------------------------------------------------------- data per step


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


def train(config: TrainConfig, resume: bool = False, dataset: Dataset | None = None) -> dict:
    """Train until ``max_steps``, ``max_minutes``, early stopping or Ctrl-C. Returns a summary
    (steps, best validation loss, paths, the trained model: the moving average with
    ``ema_decay``). Checkpoints: ``last.pt`` and ``best.pt`` in ``run_dir``."""
    rank, world = _distributed()
    device = torch.device(config.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda was asked for but no GPU is available")
    dataset = dataset or load_dataset(config.data, progress=config.progress and rank == 0)
    train_set = pieces_at_least(dataset.train, config.crop_steps)
    run_dir = Path(config.run_dir)
    last_path, best_path = run_dir / "last.pt", run_dir / "best.pt"

    torch.manual_seed(config.seed)
    model = (initial_weights(config) if config.init_from and not resume else Coconet(config.model)).to(device)
    optimizer = make_optimizer(model, config)
    step, best, elapsed, stale = 0, math.inf, 0.0, 0
    if resume:
        if not last_path.exists():
            raise CheckpointError(f"{last_path}: nothing to resume")
        payload = read_checkpoint(last_path)
        model.load_state_dict(from_checkpoint(payload, str(last_path)).state_dict())
        optimizer.load_state_dict(payload["optimizer"])
        step, best, elapsed, stale = payload["step"], payload["best"], payload["elapsed"], payload["stale"]
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    average = None
    if config.ema_decay:
        average = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(config.ema_decay), use_buffers=True)
        if resume and "ema" in payload:
            average.load_state_dict(payload["ema"])
    judged = average.module if average is not None else model  # validated and kept as best.pt
    teacher = load_teacher(config, device) if config.teacher else None
    network = model
    if world > 1:
        network = torch.nn.parallel.DistributedDataParallel(model)
    model.train()

    valid = run_validation_set(config, dataset)
    if rank == 0:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.json").write_text(json.dumps(config.to_dict(), indent=2))
        log_path = run_dir / "log.csv"
        new_log = not log_path.exists() or not resume
        log_file = log_path.open("w" if new_log else "a", newline="")
        log = csv.writer(log_file)
        if new_log:
            log.writerow(["step", "elapsed_s", "train_loss", "valid_loss", "learning_rate", "examples_per_s"])

    def checkpoint(path: Path, weights: Coconet) -> None:
        extra = {
            "optimizer": optimizer.state_dict(),
            "step": step,
            "best": best,
            "elapsed": elapsed,
            "stale": stale,
            "train_config": json.dumps(config.to_dict()),
        }
        if average is not None and weights is model:  # best.pt's weights already are the average
            extra["ema"] = average.state_dict()
        save(path, weights, extra)

    from tqdm import tqdm

    bar = tqdm(
        total=config.max_steps,
        initial=step,
        disable=not (config.progress and rank == 0),
        unit="step",
        dynamic_ncols=True,
    )
    pool = ThreadPoolExecutor(max_workers=1)
    upcoming = pool.submit(make_batch, train_set, config, rank, step)
    started = time.perf_counter() - elapsed
    last_saved = time.perf_counter()
    running, window_start, window_examples = None, time.perf_counter(), 0
    stop_reason = "max_steps"
    # SIGTERM (kill, a scheduler's stop) ends training like Ctrl-C: cleanly, checkpoint kept
    previous_handler = None
    if threading.current_thread() is threading.main_thread():
        previous_handler = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        while step < config.max_steps:
            pianoroll, known = upcoming.result()
            upcoming = pool.submit(make_batch, train_set, config, rank, step + 1)
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(config, step, elapsed)
            pianoroll, known = pianoroll.to(device), known.to(device)
            teacher_logits = None
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=config.bf16):
                logits = forward(network, pianoroll, known, config.channels_last)
                if teacher is not None:
                    with torch.no_grad():
                        teacher_logits = forward(teacher, pianoroll, known, config.channels_last)
            loss = step_loss(logits, pianoroll, known, teacher_logits, config.teacher_weight)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if average is not None:
                average.update_parameters(model)
            step += 1
            value = float(loss.detach())
            running = value if running is None else 0.98 * running + 0.02 * value
            window_examples += config.batch_size * world
            elapsed = time.perf_counter() - started
            rate = window_examples / max(1e-9, time.perf_counter() - window_start)
            bar.update(1)
            bar.set_postfix(loss=f"{running:.3f}", best=f"{best:.3f}", ex_s=f"{rate:.1f}")

            stop = False
            # the run's last weights are always validated, so best.pt can be the final ones
            time_up = bool(config.max_minutes) and elapsed > 60 * config.max_minutes
            if step % config.eval_every == 0 or step == config.max_steps or time_up:
                if rank == 0:
                    valid_loss = evaluate_loss(judged, valid[0].to(device), valid[1].to(device))
                    if valid_loss < best:
                        best, stale = valid_loss, 0
                        checkpoint(best_path, judged)
                    else:
                        stale += 1
                    log.writerow(
                        [
                            step,
                            round(elapsed, 1),
                            round(running, 5),
                            round(valid_loss, 5),
                            learning_rate(config, step, elapsed),
                            round(rate, 2),
                        ]
                    )
                    log_file.flush()
                    checkpoint(last_path, model)
                    last_saved = time.perf_counter()
                    stop = config.patience > 0 and stale >= config.patience
                    window_start, window_examples = time.perf_counter(), 0
                if stop:
                    stop_reason = "early_stopping"
            if time_up:
                stop, stop_reason = True, "time_limit"
            if world > 1:
                flag = torch.tensor([1.0 if stop else 0.0], device=device)
                dist.broadcast(flag, 0)
                stop = bool(flag.item())
            if stop:
                break
            if rank == 0 and time.perf_counter() - last_saved > 60 * config.checkpoint_minutes:
                checkpoint(last_path, model)
                last_saved = time.perf_counter()
    except KeyboardInterrupt:
        stop_reason = "interrupted"
    finally:
        if previous_handler is not None:
            signal.signal(signal.SIGTERM, previous_handler)
        pool.shutdown(wait=False, cancel_futures=True)
        bar.close()
        if world > 1:
            # DDP copies rank 0's batch-norm statistics at each forward; do it once more so
            # every rank ends with the same model
            for buffer in model.buffers():
                dist.broadcast(buffer, 0)
        if rank == 0:
            checkpoint(last_path, model)
            if not best_path.exists():
                checkpoint(best_path, judged)
            log_file.close()
    return {
        "steps": step,
        "best_valid_loss": best,
        "elapsed_s": elapsed,
        "stopped": stop_reason,
        "last": str(last_path),
        "best": str(best_path),
        "rank": rank,
        "model": judged,
    }
