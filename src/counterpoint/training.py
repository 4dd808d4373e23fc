"""Training: orderless NADE on random crops of chorales, resumable and observable.

Each step draws a batch of random crops (randomly transposed), erases a random subset of
notes per example (:mod:`counterpoint.masks`), and minimizes the cross-entropy of the erased
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
learn what a product of several (``model.combine``) knows, at one network's sampling cost.
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
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from counterpoint.data import masks
from counterpoint.data.batches import pianoroll_batch, pieces_at_least, random_crop, random_transposition
from counterpoint.data.datasets import Dataset, load_dataset
from counterpoint.errors import CheckpointError, ConfigError
from counterpoint.model.checkpoint import from_checkpoint, read_checkpoint, save
from counterpoint.model.network import Coconet, ModelConfig, make_input, preset
from counterpoint.model.products import deepen
from counterpoint.music.representation import PitchRange


@dataclass
class TrainConfig:
    """Everything a run needs; saved in its checkpoints and ``config.json``."""

    run_dir: str = "runs/default"
    data: str = "music21"
    model: ModelConfig = field(default_factory=lambda: preset("default"))
    crop_steps: int = 64
    batch_size: int = 20
    learning_rate: float = 2e-3
    min_learning_rate: float = 5e-5
    warmup_steps: int = 200
    max_steps: int = 20000
    max_minutes: float = 0.0  # stop after this much wall time (0: no limit)
    mask: str = "orderless"
    augment: bool = True
    # with augment: transpose by at most this many semitones (0: any shift that keeps every
    # voice in the model's range). Small shifts keep each voice near its own tessitura.
    max_shift: int = 0
    # AdamW's decoupled decay of the convolution kernels, per unit of learning rate (0: Adam)
    weight_decay: float = 0.0
    seed: int = 0
    eval_every: int = 500
    eval_crops: int = 256  # validation windows, fixed by the seed
    patience: int = 8  # evaluations without improvement before stopping (0: never)
    checkpoint_minutes: float = 5.0
    # keep an exponential moving average of the weights (and batch-norm statistics) with this
    # decay per step; it is what gets validated and saved as best.pt (0: off)
    ema_decay: float = 0.0
    # start from this checkpoint's weights (a new run only); a deeper ``model`` grows it with
    # new residual pairs that start as the identity (model.deepen)
    init_from: str = ""
    # learn from this model's distributions too (a checkpoint path or a shipped model's name):
    # the loss is teacher_weight x the cross-entropy from its distributions on the erased
    # notes, plus (1 - teacher_weight) x the NLL of Bach's notes
    teacher: str = ""
    teacher_weight: float = 0.5
    # the teacher's weights' hash, set when a run starts: a resumed run refuses another teacher
    # (a shipped name such as jsb names other weights after an update)
    teacher_fingerprint: str = ""
    device: str = "cpu"
    channels_last: bool = True
    bf16: bool = False  # bf16 autocast for the forward pass (2x faster on CPUs with AVX512-BF16)
    progress: bool = True

    def to_dict(self) -> dict:
        data = asdict(self)
        data["model"] = self.model.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        data = dict(data)
        data["model"] = ModelConfig.from_dict(data["model"])
        return cls(**data)


# --------------------------------------------------------------------------- tensors


def masked_nll(logits: torch.Tensor, pianoroll: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """Per example, the mean NLL (nats) of the erased, sounding notes: ``(B,)``.

    Equal to the paper's rescaled loss (sum over erased notes x notes / erased) divided by
    the number of notes in the crop. Silent targets (all-zero rows) carry no loss."""
    return masked_cross_entropy(logits, pianoroll, pianoroll, known)


def masked_cross_entropy(
    logits: torch.Tensor, targets: torch.Tensor, pianoroll: torch.Tensor, known: torch.Tensor
) -> torch.Tensor:
    """Per example, the mean cross-entropy (nats) from ``targets`` (distributions over pitch,
    ``(B, 4, T, P)``: Bach's one-hot notes, or a teacher's probabilities) to the model's, over
    the notes :func:`masked_nll` scores: erased, and sounding in ``pianoroll``."""
    log_probs = F.log_softmax(logits.float(), dim=-1)
    cross_entropy = -(log_probs * targets).sum(-1)  # (B, 4, T)
    scored = (~known) & (pianoroll.sum(-1) > 0)
    count = scored.flatten(1).sum(1).clamp(min=1)
    return (cross_entropy * scored).flatten(1).sum(1) / count


def forward(
    model: torch.nn.Module, pianoroll: torch.Tensor, known: torch.Tensor, channels_last: bool = False
) -> torch.Tensor:
    x = make_input(pianoroll, known)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    return model(x)


# --------------------------------------------------------------------------- data per step


def _step_generators(seed: int, rank: int, step: int) -> tuple[np.random.Generator, torch.Generator]:
    rng = np.random.default_rng([seed, rank, step])
    generator = torch.Generator().manual_seed(int(rng.integers(0, 2**62)))
    return rng, generator


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


def make_batch(
    chorales: list[np.ndarray], config: TrainConfig, rank: int, step: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Step ``step``'s pianorolls and known-masks, a pure function of (seed, rank, step)."""
    rng, generator = _step_generators(config.seed, rank, step)
    pitch_range = config.model.pitch_range
    crops = []
    for index in rng.integers(0, len(chorales), size=config.batch_size):
        crop = random_crop(chorales[index], config.crop_steps, rng)
        crops.append(
            random_transposition(crop, rng, pitch_range, config.max_shift) if config.augment else crop
        )
    pianoroll = pianoroll_batch(np.stack(crops), pitch_range)
    known = masks.family(config.mask)(config.batch_size, config.crop_steps, generator)
    return pianoroll, known


def validation_set(
    chorales: list[np.ndarray],
    crop_steps: int,
    count: int,
    seed: int,
    pitch_range: PitchRange,
    mask: str = "orderless",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Fixed validation windows (non-overlapping crops, evenly chosen) and masks of the
    family ``mask`` (the run's own, so the run is judged on what it is trained for)."""
    windows = [
        piece[start : start + crop_steps]
        for piece in chorales
        for start in range(0, len(piece) - crop_steps + 1, crop_steps)
    ]
    if not windows:
        raise ConfigError(f"no validation piece is {crop_steps} steps long")
    chosen = np.linspace(0, len(windows) - 1, min(count, len(windows))).round().astype(int)
    pianoroll = pianoroll_batch(np.stack([windows[i] for i in chosen]), pitch_range)
    known = masks.family(mask)(len(chosen), crop_steps, torch.Generator().manual_seed(seed))
    return pianoroll, known


def run_validation_set(config: TrainConfig, dataset: Dataset) -> tuple[torch.Tensor, torch.Tensor]:
    """The fixed validation windows and masks a run with ``config`` is judged on."""
    return validation_set(
        dataset.valid or dataset.train,
        config.crop_steps,
        config.eval_crops,
        config.seed,
        config.model.pitch_range,
        config.mask,
    )


@torch.no_grad()
def evaluate_loss(model: Coconet, pianoroll: torch.Tensor, known: torch.Tensor, batch: int = 64) -> float:
    """Mean masked NLL per note over a fixed set (the training objective), in eval mode."""
    was_training = model.training
    model.eval()
    losses = [
        masked_nll(
            model(make_input(pianoroll[i : i + batch], known[i : i + batch])),
            pianoroll[i : i + batch],
            known[i : i + batch],
        )
        for i in range(0, len(pianoroll), batch)
    ]
    model.train(was_training)
    return float(torch.cat(losses).mean())


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


def initial_weights(config: TrainConfig) -> Coconet:
    """The network a new run starts from when ``config.init_from`` names a checkpoint: its
    weights, deepened to ``config.model`` if that has more layers, with the run's dropout and
    dilations (neither changes the weights' shapes: other dilations make the same kernels look
    further apart in time or pitch); any other difference in architecture is an error."""
    source = from_checkpoint(read_checkpoint(config.init_from), config.init_from)
    free = {
        "dropout": config.model.dropout,
        "dropout_channels": config.model.dropout_channels,
        "dilations": config.model.dilations,
    }
    if replace(source.config, layers=config.model.layers, **free) != config.model:
        raise ConfigError(
            f"{config.init_from}: its network ({source.config}) differs from this run's "
            f"({config.model}) in more than depth, dilations and dropout"
        )
    model = Coconet(replace(source.config, **free))
    model.load_state_dict(source.state_dict())
    if source.config.layers == config.model.layers:
        return model.train()
    return deepen(model, config.model.layers).train()


def load_teacher(config: TrainConfig, device: torch.device) -> Coconet:
    """The run's teacher (``config.teacher``), ready to give distributions: batch norm folded
    in, no gradients. Records its fingerprint in ``config`` (checked when the run resumes)."""
    from counterpoint.model.checkpoint import fingerprint
    from counterpoint.model.products import fuse_batch_norm
    from counterpoint.model.registry import load_model

    if not 0.0 <= config.teacher_weight <= 1.0:
        raise ConfigError(f"--teacher-weight {config.teacher_weight}: expected a weight from 0 to 1")
    teacher = load_model(config.teacher)
    weights = fingerprint(teacher)
    if config.teacher_fingerprint and config.teacher_fingerprint != weights:
        raise ConfigError(f"{config.teacher}: not the teacher this run started with (its weights changed)")
    config.teacher_fingerprint = weights
    if teacher.pitch_range != config.model.pitch_range:
        raise ConfigError(
            f"{config.teacher}: the teacher's pitches {teacher.pitch_range} differ from this "
            f"run's {config.model.pitch_range}"
        )
    teacher = fuse_batch_norm(teacher.eval()).to(device).requires_grad_(False)
    return teacher.to(memory_format=torch.channels_last) if config.channels_last else teacher


def step_loss(
    logits: torch.Tensor,
    pianoroll: torch.Tensor,
    known: torch.Tensor,
    teacher_logits: torch.Tensor | None = None,
    teacher_weight: float = 0.0,
) -> torch.Tensor:
    """The batch's training loss: the mean of :func:`masked_nll`, or with a teacher's logits
    its weighted sum with the cross-entropy from the teacher's distributions."""
    loss = masked_nll(logits, pianoroll, known)
    if teacher_logits is not None:
        taught = F.softmax(teacher_logits.float(), dim=-1)
        soft = masked_cross_entropy(logits, taught, pianoroll, known)
        loss = (1 - teacher_weight) * loss + teacher_weight * soft
    return loss.mean()


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
