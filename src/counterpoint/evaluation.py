"""Evaluation: how well a model predicts real Bach (likelihood), and how good what it writes is
(voice-leading faults, distance to Bach's statistics, harmonization accuracy).

Likelihood is the exact orderless-NADE log-likelihood along an ordering of the sounding notes:
``log p(x) = sum_i log p(x_{o_i} | x_{o_1}, ..., x_{o_{i-1}})``, each conditional from the
true notes (teacher forcing; only the paper's protocol, below, uses the model's guesses).
Silent notes (rests) are given as known from the start and not scored. All conditionals of
an ordering are known in advance, so they are batched; and since a step's output depends
only on the input within the network's receptive field ``R`` steps to either side, each
conditional is computed on a window of ``2R + 1`` steps, which gives exactly the full-piece
value (tested).

Reported (all in nats):

- framewise NLL: ``-log p(x)`` per 16th step (all four voices); notewise: per sounding note;
- for the chronological ordering, and for ``K`` random orderings (mean +- standard error
  over orderings), frame-major as in the paper (steps in random order, a step's voices in
  random order);
- the ensemble of the ``K`` random orderings averaged in probability space, per piece:
  ``log mean_k p(x | o_k)``. This is an exact likelihood (of the mixture of the K orderings'
  models);
- the paper's figure (``paper_protocol``), computed as Magenta's ``FrameEvaluator`` does: each
  frame's probability averaged over the ``K`` orderings (per frame, not per piece), and a
  frame's later voices conditioned on the model's own argmax guesses for its earlier voices
  rather than on the true notes. It is not an exact likelihood; it is what the Coconet
  paper's 0.57 measures, so it is the figure to compare with that;
- ``ensemble_per_frame``: the same per-frame averaging of the exact conditionals (true notes
  within the frame too), for comparison: it is lower than the paper's protocol by about
  0.02 nats (measured on valid), because guesses are worse context than the truth.
"""

from __future__ import annotations

import hashlib
import json
import math
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from counterpoint.errors import ConfigError
from counterpoint.io.files import write_atomically
from counterpoint.model.checkpoint import hash_weights
from counterpoint.model.network import Coconet, device_of, make_input
from counterpoint.model.products import fuse_batch_norm
from counterpoint.music.notes import notes
from counterpoint.music.representation import NUM_VOICES, SILENCE, VOICES, to_pianoroll
from counterpoint.music.rules import FAULT_RULES, FAULTS, voice_leading_faults
from counterpoint.runtime.int8 import int8_path

# --------------------------------------------------------------------------- likelihood

# Steps of windows per forward pass when scoring notes on a CPU: a hidden layer's input and
# output then fit in a 32 MB L3 cache together (1024 steps x 46 pitches x 64 channels x 4 bytes
# x 2), which makes a window 1.4x cheaper for the ±65-step network than in batches of 64
# (docs/scoring_speed.txt)
CPU_BATCH_STEPS = 1024
GPU_BATCH = 1024  # and on a GPU, where small batches leave it idle


def draw_ordering(chorale: np.ndarray, kind: str, rng: np.random.Generator | None = None) -> np.ndarray:
    """The sounding notes of a chorale as ``(n, 2)`` rows ``(voice, step)``, in the order they
    are predicted: ``chronological`` (step by step, soprano to bass) or ``random`` (the
    paper's and Magenta's protocol: the steps in random order, and within each step its
    voices in random order, so a frame's notes are predicted one after another)."""
    steps, voices = np.nonzero(np.asarray(chorale) != SILENCE)  # row-major: step, then voice
    order = np.stack([voices, steps], axis=1)
    if kind == "random":
        rng = rng or np.random.default_rng()
        step_rank = rng.permutation(len(chorale))[steps]
        order = order[np.lexsort((rng.random(len(order)), step_rank))]
    elif kind != "chronological":
        raise ValueError(f"unknown ordering {kind!r}")
    return order


def conditional_log_probs(
    model: Coconet,
    chorale: np.ndarray,
    order: np.ndarray,
    window: bool = True,
    batch_size: int | None = None,
    progress=None,
    temperature: float = 1.0,
) -> np.ndarray:
    """``log p(x_{o_i} | x_{o_<i})`` for every position of ``order``, as an array ``(n,)``.

    With ``window`` each conditional is computed on the ``2R + 1`` steps centred on its note
    (all it depends on; exactly the whole piece's figure), otherwise on the whole piece.
    ``temperature`` divides the logits (1: the model as trained). ``batch_size``: windows per
    forward pass (default: :func:`scoring_batch`, by where the model is)."""
    roll = torch.from_numpy(to_pianoroll(chorale, model.pitch_range))
    everything = np.arange(len(order))
    return _predict(model, roll, order, everything, window, batch_size, progress, temperature)[0]


def magenta_frame_log_probs(
    model: Coconet,
    chorale: np.ndarray,
    order: np.ndarray,
    window: bool = True,
    batch_size: int | None = None,
    progress=None,
    temperature: float = 1.0,
) -> np.ndarray:
    """Magenta's ``FrameEvaluator``, the protocol of the Coconet paper's framewise figures:
    like :func:`conditional_log_probs` for a frame-major ``order``, except that a note's
    earlier voices *in its own step* hold the model's argmax guesses for them, not the true
    notes (earlier steps hold the true notes). A step's first voice is therefore scored
    exactly as in :func:`conditional_log_probs`; the others are not exact conditionals."""
    roll = torch.from_numpy(to_pianoroll(chorale, model.pitch_range))
    return _paper_protocol(model, roll, order, window, batch_size, progress, temperature)


def _paper_protocol(
    model: Coconet,
    roll: torch.Tensor,
    order: np.ndarray,
    window: bool,
    batch_size: int | None,
    progress=None,
    temperature: float = 1.0,
    exact: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """:func:`magenta_frame_log_probs` on the pianoroll ``roll``. ``exact``: the
    ``(log_probs, argmax)`` of :func:`_predict` over the whole ``order``, if already computed.
    Then a note is read from it rather than computed again wherever its input is the same:
    a step's first voice, and any later voice whose step's earlier voices were all guessed
    right (so its own step holds the true notes, as in the exact conditional)."""
    steps = order[:, 1]
    first = np.flatnonzero(np.r_[True, steps[1:] != steps[:-1]])  # where each step's notes begin
    position = np.arange(len(order)) - np.repeat(first, np.diff(np.r_[first, len(order)]))
    targets = roll[order[:, 0], order[:, 1]].argmax(-1).numpy()
    guessed_right = np.ones(roll.shape[1], dtype=bool)  # per step: every guess so far was right
    guesses = roll.clone()
    log_probs = np.empty(len(order), dtype=np.float32)
    for rank in range(NUM_VOICES):  # every step's rank-th voice at once, as Magenta batches
        chosen = np.flatnonzero(position == rank)
        if len(chosen) == 0:
            break
        best = np.empty(len(chosen), dtype=np.int64)
        same = guessed_right[steps[chosen]] if exact is not None else np.zeros(len(chosen), dtype=bool)
        if same.any():
            log_probs[chosen[same]], best[same] = exact[0][chosen[same]], exact[1][chosen[same]]
        if not same.all():
            log_probs[chosen[~same]], best[~same] = _predict(
                model, roll, order, chosen[~same], window, batch_size, progress, temperature, own_step=guesses
            )
        guessed_right[steps[chosen]] &= best == targets[chosen]
        guesses[order[chosen, 0], order[chosen, 1]] = F.one_hot(torch.from_numpy(best), roll.shape[2]).float()
    return log_probs


@torch.no_grad()
def _predict(
    model: Coconet,
    roll: torch.Tensor,
    order: np.ndarray,
    chosen_notes: np.ndarray,
    window: bool,
    batch_size: int | None,
    progress=None,
    temperature: float = 1.0,
    own_step: torch.Tensor | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """For the positions ``chosen_notes`` of ``order`` in the pianoroll ``roll`` ``(4, T, P)``:
    the log-probability of the true note given the notes before it in ``order``, and the
    model's argmax. With ``own_step`` (a pianoroll like ``roll``), the note's own step is read
    from it instead of from ``roll``."""
    model.eval()
    device = device_of(model)  # the windows go where the model is
    steps = roll.shape[1]
    # with a window, each note is scored on the 2R + 1 steps centred on it, computed the cheap
    # way (model.forward_center); steps beyond the piece's edges are zeros, as padding is
    reach = model.receptive_field() if window else 0
    # a piece no longer than a window is cheaper to pass whole: the cone would compute its
    # 2R + 1 steps, most of them beyond the piece's edges (2 measures: 32 steps, windows of 131)
    window = window and 2 * reach + 1 < steps
    width = 2 * reach + 1 if window else steps
    batch_size = batch_size or scoring_batch(model, width)
    rank = torch.full((NUM_VOICES, steps), -1, dtype=torch.long)  # -1: silent, always known
    voices = torch.from_numpy(order[:, 0]).long()
    times = torch.from_numpy(order[:, 1]).long()
    rank[voices, times] = torch.arange(len(order))
    targets = roll[voices, times].argmax(-1)
    chosen_notes = torch.from_numpy(np.asarray(chosen_notes)).long()
    result = torch.empty(len(chosen_notes))
    best = torch.empty(len(chosen_notes), dtype=torch.long)
    for first in range(0, len(chosen_notes), batch_size):
        slots = torch.arange(first, min(first + batch_size, len(chosen_notes)))
        index = chosen_notes[slots]
        rows = torch.arange(len(index))
        starts = times[index] - reach if window else torch.zeros_like(index)
        window_steps = starts[:, None] + torch.arange(width)  # (B, W)
        inside = (window_steps >= 0) & (window_steps < steps)
        window_steps = window_steps.clamp(0, steps - 1)
        rolls = roll[:, window_steps].permute(1, 0, 2, 3) * inside[:, None, :, None]  # (B, 4, W, P)
        if own_step is not None:
            rolls[rows, :, times[index] - starts] = own_step[:, times[index]].permute(1, 0, 2)
        known = (rank[:, window_steps].permute(1, 0, 2) < index[:, None, None]) & inside[:, None]
        x = make_input(rolls, known).to(device)
        if window:
            picked = model.forward_center(x, inside.to(device))[rows, voices[index], 0]
        else:
            picked = model(x)[rows, voices[index], times[index]]
        log_probs = F.log_softmax(picked.float() / temperature, dim=-1).cpu()
        result[slots] = log_probs[rows, targets[index]]
        best[slots] = log_probs.argmax(-1)
        if progress is not None:
            progress.update(len(slots))
    return result.numpy(), best.numpy()


def on_device(model: Coconet, device: str) -> Coconet:
    """``model`` ready to be scored on ``device`` (``cpu`` or ``cuda``): batch norm folded in,
    float32. On a GPU, TF32 is turned off so that the figures are float32's, as on a CPU."""
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError("--device cuda was asked for but no GPU is available")
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
    elif device != "cpu":
        raise ConfigError(f"unknown device {device!r}: expected cpu or cuda")
    return fuse_batch_norm(model.eval()).to(device)


def scoring_batch(model: Coconet, width: int) -> int:
    """Windows of ``width`` steps per forward pass for ``model`` where it is (CPU or GPU)."""
    return max(1, CPU_BATCH_STEPS // width) if device_of(model).type == "cpu" else GPU_BATCH


def _log_mean_exp(values: np.ndarray, axis: int = 0) -> np.ndarray:
    top = values.max(axis=axis, keepdims=True)
    return (top + np.log(np.exp(values - top).mean(axis=axis, keepdims=True))).squeeze(axis)


def _sem(values: Sequence[float]) -> float:
    values = np.asarray(values, dtype=np.float64)
    return float(values.std(ddof=1) / math.sqrt(len(values))) if len(values) > 1 else 0.0


def random_orderings(chorales: list[np.ndarray], orderings: int, seed: int = 0) -> list[list[np.ndarray]]:
    """``orderings`` random orderings of each piece, all drawn up front, piece after piece, from
    one generator: the same seed gives the same orderings however the pieces are later scored
    (in one process or shared between several)."""
    rng = np.random.default_rng(seed)
    return [[draw_ordering(chorale, "random", rng) for _ in range(orderings)] for chorale in chorales]


def _scoring_cost(chorale: np.ndarray, orderings: int, chronological: bool) -> int:
    """Notes scored for one piece: every note once per ordering, and again for Magenta's
    protocol every note but a step's first (see :func:`magenta_frame_log_probs`)."""
    sounding = chorale != SILENCE
    rescored = int(sounding.sum() - sounding.any(axis=1).sum())
    return int(sounding.sum()) * (orderings + int(chronological)) + rescored * orderings


def _score_piece(
    model: Coconet,
    chorale: np.ndarray,
    orders: list[np.ndarray],
    window: bool,
    temperature: float,
    chronological: bool,
) -> dict:
    """One piece's log-probabilities: the chronological ordering's total, each random
    ordering's total (``(K,)``), and per ordering and step the frame's log-probability, exact
    (``frames``) and under Magenta's protocol (``paper_frames``), both ``(K, T)``."""
    chrono = 0.0
    if chronological:
        order = draw_ordering(chorale, "chronological")
        chrono = float(conditional_log_probs(model, chorale, order, window, temperature=temperature).sum())
    roll = torch.from_numpy(to_pianoroll(chorale, model.pitch_range))
    totals = np.zeros(len(orders))
    frames = np.zeros((len(orders), len(chorale)))
    paper_frames = np.zeros((len(orders), len(chorale)))
    for k, order in enumerate(orders):
        exact = _predict(model, roll, order, np.arange(len(order)), window, None, None, temperature)
        totals[k] = exact[0].sum()
        np.add.at(frames[k], order[:, 1], exact[0])
        paper = _paper_protocol(model, roll, order, window, None, None, temperature, exact=exact)
        np.add.at(paper_frames[k], order[:, 1], paper)
    return {"chronological": chrono, "orderings": totals, "frames": frames, "paper_frames": paper_frames}


def map_pieces(
    score: Callable[[Coconet, np.ndarray, list[np.ndarray]], Any],
    model: Coconet,
    chorales: list[np.ndarray],
    orders: list[list[np.ndarray]],
    workers: int = 1,
) -> Iterator[tuple[int, Any]]:
    """``(i, score(model, chorales[i], orders[i]))`` for every piece, as each is done (not
    in order: a caller that keeps results as they come loses none that finished). With
    ``workers`` > 1 the pieces are shared between that many processes of one thread each (on
    2 cores no faster than one process on two threads: README, "Evaluation"); ``score`` must
    be a module-level function (or a ``partial`` of one) so that it can be sent to them."""
    on_cpu = device_of(model).type == "cpu"  # a GPU model is scored in this process
    if workers > 1 and len(chorales) > 1 and on_cpu:
        context = multiprocessing.get_context("spawn")  # fork after torch's threads can hang
        workers = min(workers, len(chorales))
        with ProcessPoolExecutor(
            workers, context, initializer=_start_worker, initargs=(model, os.getpid())
        ) as pool:
            work = partial(_score_in_worker, score)
            pieces = enumerate(zip(chorales, orders, strict=True))
            futures = {pool.submit(work, chorale, piece_orders): i for i, (chorale, piece_orders) in pieces}
            for future in as_completed(futures):
                yield futures[future], future.result()
    else:
        for i, (chorale, piece_orders) in enumerate(zip(chorales, orders, strict=True)):
            yield i, score(model, chorale, piece_orders)


_WORKER_MODEL: Coconet | None = None


def _start_worker(model: Coconet, parent: int) -> None:
    global _WORKER_MODEL
    torch.set_num_threads(1)
    _WORKER_MODEL = model
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()


def _exit_with_parent(parent: int) -> None:
    """End this worker once its parent is gone: a parent killed outright (``kill``, a session
    that ends) cannot stop its pool, whose workers would otherwise compute on, orphaned, until
    their piece ends, and then wait for work forever. An orphan's parent becomes another
    process, so its parent id changes (``parent`` comes from the parent itself, in case it
    died while this worker was starting)."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def _score_in_worker(score, chorale: np.ndarray, orders: list[np.ndarray]):
    return score(_WORKER_MODEL, chorale, orders)


# Scores kept by ``likelihood(cache=...)``: one .npz file per piece, named by a hash of all that
# determines them, so a file is reused exactly when recomputing it would give the same numbers.
CACHE_FORMAT = 1
_CACHED_FIELDS = ("chronological", "orderings", "frames", "paper_frames")


def _settings_key(model: Coconet, window: bool, temperature: float, chronological: bool) -> str:
    digest = hashlib.sha256(
        json.dumps([CACHE_FORMAT, model.config.to_dict(), window, temperature, chronological]).encode()
    )
    return hash_weights(digest, model, torch.float64, in_order=False).hexdigest()


def _cached_path(cache: str | os.PathLike, key: str, chorale: np.ndarray, orders: list[np.ndarray]) -> Path:
    digest = hashlib.sha256(key.encode())
    digest.update(np.ascontiguousarray(chorale, dtype=np.int64).tobytes())
    for order in orders:
        digest.update(np.ascontiguousarray(order, dtype=np.int64).tobytes())
    return Path(cache) / f"piece-{digest.hexdigest()[:32]}.npz"


def _read_cached(path: Path) -> dict | None:
    """A piece's scores, or None where there are none (or the file is unreadable: rescored)."""
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as archive:
            piece = {name: archive[name] for name in _CACHED_FIELDS}
    except (OSError, ValueError, KeyError):
        return None
    piece["chronological"] = float(piece["chronological"])
    return piece


def _write_cached(path: Path, piece: dict) -> None:
    def write(temporary: Path) -> None:
        with open(temporary, "wb") as file:
            np.savez(file, **{name: np.asarray(piece[name]) for name in _CACHED_FIELDS})

    write_atomically(path, write)


def likelihood(
    model: Coconet,
    chorales: list[np.ndarray],
    orderings: int = 5,
    seed: int = 0,
    window: bool = True,
    progress: bool = True,
    temperature: float = 1.0,
    chronological: bool = True,
    workers: int = 1,
    cache: str | os.PathLike | None = None,
) -> dict:
    """Framewise and notewise NLL of ``chorales`` (see the module docstring for each figure),
    of the model with its logits divided by ``temperature``; ``chronological=False`` skips
    that ordering (its figures are then absent). ``workers`` > 1 scores the pieces in that
    many processes of one thread each; the figures are the same.

    ``cache``: a directory that keeps each piece's scores as soon as they are computed, and
    gives them back to any later call with the same weights, piece, orderings and settings: an
    evaluation that is stopped (or too long for one session) resumes where it was, and one over
    more pieces reuses those already scored."""
    from tqdm import tqdm

    model = fuse_batch_norm(model.eval())  # a no-op for a model already fused (on_device)
    key = _settings_key(model, window, temperature, chronological) if cache is not None else ""
    orders = random_orderings(chorales, orderings, seed)
    costs = [_scoring_cost(c, orderings, chronological) for c in chorales]
    bar = tqdm(total=sum(costs), desc="likelihood", unit="note", disable=not progress)
    paths: list[Path | None] = [None] * len(chorales)
    if cache is not None:
        paths = [_cached_path(cache, key, c, o) for c, o in zip(chorales, orders, strict=True)]
    scored: list[dict | None] = [_read_cached(path) if path else None for path in paths]
    todo = [i for i, piece in enumerate(scored) if piece is None]
    bar.update(sum(costs) - sum(costs[i] for i in todo))
    score = partial(_score_piece, window=window, temperature=temperature, chronological=chronological)
    computed = map_pieces(score, model, [chorales[i] for i in todo], [orders[i] for i in todo], workers)
    for j, piece in computed:
        i = todo[j]
        scored[i] = piece
        if paths[i] is not None:
            _write_cached(paths[i], piece)
        bar.update(costs[i])
    bar.close()
    frames = sum(len(c) for c in chorales)
    total_notes = sum(int((c != SILENCE).sum()) for c in chorales)
    chrono_total = sum(piece["chronological"] for piece in scored)
    random_totals = np.sum([piece["orderings"] for piece in scored], axis=0)
    ensembles = [float(_log_mean_exp(piece["orderings"])) for piece in scored]
    ensemble_total = sum(ensembles)
    piece_framewise = [-e / len(c) for e, c in zip(ensembles, chorales, strict=True)]
    per_frame_ensemble = [_log_mean_exp(piece["frames"], axis=0) for piece in scored]
    per_ordering = -random_totals / frames
    frame_losses = -np.concatenate(per_frame_ensemble)
    magenta_losses = np.concatenate([paper_protocol_losses(piece) for piece in scored])
    results = {
        "pieces": len(chorales),
        "frames": frames,
        "notes": total_notes,
        "orderings": orderings,
        "temperature": temperature,
        "chronological": {"framewise": -chrono_total / frames, "notewise": -chrono_total / total_notes},
        "random": {
            "framewise": float(per_ordering.mean()),
            "framewise_sem": _sem(per_ordering),
            "notewise": float(-random_totals.mean() / total_notes),
            "notewise_sem": _sem(-random_totals / total_notes),
        },
        "ensemble": {
            "framewise": -ensemble_total / frames,
            "framewise_sem": _sem(piece_framewise),
            "notewise": -ensemble_total / total_notes,
        },
        "ensemble_per_frame": {
            "framewise": float(frame_losses.mean()),
            "framewise_sem": float(frame_losses.std() / math.sqrt(len(frame_losses))),
        },
        "paper_protocol": {
            "framewise": float(magenta_losses.mean()),
            "framewise_sem": float(magenta_losses.std() / math.sqrt(len(magenta_losses))),
        },
    }
    if not chronological:
        del results["chronological"]
    return results


def paper_protocol_losses(scored_piece: dict) -> np.ndarray:
    """A scored piece's loss per frame under the paper's protocol ``(T,)``: the frame's
    probabilities averaged over the orderings, as negative log."""
    return -_log_mean_exp(scored_piece["paper_frames"], axis=0)


def cached_scores(
    model: Coconet,
    chorales: list[np.ndarray],
    cache: str | os.PathLike,
    orderings: int = 5,
    seed: int = 0,
    window: bool = True,
    temperature: float = 1.0,
    chronological: bool = True,
) -> list[dict | None]:
    """Each piece's scores that :func:`likelihood` with these settings kept in ``cache``, or
    None for a piece not (yet) scored there: the figures of a scoring that was stopped."""
    key = _settings_key(fuse_batch_norm(model.eval()), window, temperature, chronological)
    orders = random_orderings(chorales, orderings, seed)
    return [_read_cached(_cached_path(cache, key, c, o)) for c, o in zip(chorales, orders, strict=True)]


def masked_loss(
    model: Coconet, chorales: list[np.ndarray], crop_steps: int = 64, seed: int = 0, mask: str = "orderless"
) -> float:
    """The training objective on fixed windows of ``chorales`` with masks of the family ``mask``
    (fixed by ``seed``; ``orderless``: every mask size; ``frames``: whole steps erased, as in
    infill and continuation): mean NLL per erased note. Cheap; good for comparing checkpoints."""
    from counterpoint.training import evaluate_loss, validation_set

    usable = [c for c in chorales if len(c) >= crop_steps]
    count = sum(len(c) // crop_steps for c in usable)
    pianoroll, known = validation_set(usable, crop_steps, count, seed, model.pitch_range, mask)
    return evaluate_loss(model, pianoroll.to(device_of(model)), known.to(device_of(model)))


# --------------------------------------------------------------------------- voice leading


def fault_rates(chorales: list[np.ndarray]) -> dict[str, float]:
    """Faults per 100 steps over a set of pieces."""
    totals = dict.fromkeys(FAULTS, 0)
    for chorale in chorales:
        for name, count in voice_leading_faults(chorale).items():
            totals[name] += count
    steps = sum(len(c) for c in chorales)
    return {name: 100.0 * count / max(1, steps) for name, count in totals.items()}


# --------------------------------------------------------------------------- statistics


def _key_tonic(chorale: np.ndarray) -> int:
    """Pitch class of the tonic music21 estimates (Krumhansl-Schmuckler) for a chorale."""
    from music21 import note, stream

    probe = stream.Stream()
    for _, length, pitch in (n for v in range(NUM_VOICES) for n in notes(chorale[:, v])):
        probe.append(note.Note(midi=pitch, quarterLength=length / 4))
    return probe.analyze("key").tonic.pitchClass if len(probe.notes) else 0


def histograms(chorales: list[np.ndarray]) -> dict[str, np.ndarray]:
    """Normalized histograms: pitch class relative to the key's tonic (12), melodic interval
    per voice (-12..12, wider clipped: 25), vertical interval class between every voice pair
    (12), and note length in 16ths (1..16, longer clipped: 16)."""
    pitch_class = np.zeros(12)
    melodic = np.zeros(25)
    vertical = np.zeros(12)
    duration = np.zeros(16)
    for chorale in chorales:
        tonic = _key_tonic(chorale)
        for voice in range(NUM_VOICES):
            line = notes(chorale[:, voice])
            for _, length, pitch in line:
                pitch_class[(pitch - tonic) % 12] += 1
                duration[min(length, 16) - 1] += 1
            for (_, _, a), (_, _, b) in zip(line, line[1:], strict=False):
                melodic[int(np.clip(b - a, -12, 12)) + 12] += 1
        for upper in range(NUM_VOICES):
            for lower in range(upper + 1, NUM_VOICES):
                both = (chorale[:, upper] != SILENCE) & (chorale[:, lower] != SILENCE)
                intervals = np.abs(chorale[both, upper] - chorale[both, lower]) % 12
                vertical += np.bincount(intervals, minlength=12)
    result = {
        "pitch_class": pitch_class,
        "melodic_interval": melodic,
        "vertical_interval": vertical,
        "duration": duration,
    }
    return {name: h / max(1.0, h.sum()) for name, h in result.items()}


def histogram_distances(generated: list[np.ndarray], reference: list[np.ndarray]) -> dict[str, float]:
    """Total variation distance (0 = same, 1 = disjoint) between each histogram of the
    generated pieces and of the reference (Bach)."""
    ours, theirs = histograms(generated), histograms(reference)
    return {name: float(0.5 * np.abs(ours[name] - theirs[name]).sum()) for name in ours}


# --------------------------------------------------------------------------- harmonization


@dataclass
class HarmonizationResult:
    accuracy: float  # share of alto/tenor/bass notes (voice-steps) equal to Bach's
    pieces: list[np.ndarray] = field(default_factory=list)


def harmonize_sopranos(
    model: Coconet,
    chorales: list[np.ndarray],
    sampler=None,
    seed: int = 0,
    progress: bool = True,
    cache: str | os.PathLike | None = None,
) -> HarmonizationResult:
    """Give the model Bach's soprano of each chorale; it writes alto, tenor and bass. With
    ``cache`` (a folder) each harmonization is kept there as it is written and reused by a
    later run with the same model, sampler settings, seed and soprano, so a stopped run
    resumes where it stopped."""
    from tqdm import tqdm

    from counterpoint.sampling import SamplerConfig
    from counterpoint.tasks import harmonize

    sampler = sampler or SamplerConfig()
    # the settings as resolved on this machine ("auto" arithmetic differs between CPUs), and
    # the int8 file itself where it runs (quantizing again may calibrate differently)
    precision = sampler.resolve_precision(model)
    int8_file = b"" if precision != "int8" else int8_path(model.source).read_bytes()
    key = _settings_key(model, window=False, temperature=sampler.temperature, chronological=False)
    key += json.dumps([CACHE_FORMAT, {**asdict(sampler), "precision": precision}])
    key += hashlib.sha256(int8_file).hexdigest()
    outputs = []
    for index, chorale in enumerate(tqdm(chorales, desc="harmonizing", disable=not progress)):
        path = None if cache is None else _harmonization_path(cache, key, chorale, seed + index)
        output = _read_harmonization(path, chorale.shape)
        if output is None:
            output = harmonize(model, chorale, [0], sampler=sampler, seed=seed + index).chorale
            if path is not None:
                write_atomically(path, lambda temporary, o=output: np.save(temporary, o, allow_pickle=False))
        outputs.append(output)
    written = [output[:, 1:] for output in outputs]  # alto, tenor, bass
    return HarmonizationResult(agreement(written, [chorale[:, 1:] for chorale in chorales]), outputs)


def _harmonization_path(cache: str | os.PathLike, key: str, chorale: np.ndarray, seed: int) -> Path:
    digest = hashlib.sha256(key.encode())
    digest.update(np.ascontiguousarray(chorale, dtype=np.int64).tobytes())
    digest.update(str(seed).encode())
    return Path(cache) / f"harmonized-{digest.hexdigest()[:32]}.npy"


def _read_harmonization(path: Path | None, shape: tuple[int, ...]) -> np.ndarray | None:
    """A cached harmonization, or None where there is none (or it is unreadable: rewritten)."""
    if path is None or not path.exists():
        return None
    try:
        output = np.load(path, allow_pickle=False)
    except (OSError, ValueError):
        return None
    return output if output.shape == shape else None


def agreement(written: list[np.ndarray], truth: list[np.ndarray]) -> float:
    """The share of ``truth``'s sounding notes that ``written`` matches, over paired pieces."""
    equal = total = 0
    for mine, theirs in zip(written, truth, strict=True):
        sounding = theirs != SILENCE
        equal += int((mine == theirs)[sounding].sum())
        total += int(sounding.sum())
    return equal / max(1, total)


# --------------------------------------------------------------------------- report


def quality_table(named_sets: dict[str, list[np.ndarray]], reference: list[np.ndarray]) -> dict:
    """Faults per 100 steps and distances to the reference, per named set of pieces."""
    table = {}
    for name, pieces in named_sets.items():
        table[name] = {"faults_per_100_steps": fault_rates(pieces)}
        table[name]["distance_to_bach"] = histogram_distances(pieces, reference)
    return table


def markdown_report(results: dict) -> str:
    """The report: likelihood figures, then model and Bach side by side."""
    lines = [f"# Evaluation of `{results['checkpoint']}`", ""]
    if "likelihood" in results:
        lk = results["likelihood"]
        k = lk["orderings"]

        def row(label: str, figures: dict, notewise: bool = True) -> str:
            frame = f"{figures['framewise']:.4f}"
            if "framewise_sem" in figures:
                frame += f" ± {figures['framewise_sem']:.4f}"
            note = f"{figures['notewise']:.4f}" if notewise else ""
            if notewise and "notewise_sem" in figures:
                note += f" ± {figures['notewise_sem']:.4f}"
            return f"| {label} | {frame} | {note} |"

        lines += [
            f"## Likelihood on {results['data']} `{results['split']}` "
            f"({lk['pieces']} pieces, {lk['frames']} frames, {lk['notes']} notes)",
            "",
            "Exact orderless-NADE NLL in nats (teacher forcing, windowed to the receptive field).",
            "",
            "| ordering | framewise NLL | notewise NLL |",
            "|---|---|---|",
            row("chronological", lk["chronological"]),
            row(f"random, mean of {k}", lk["random"]),
            row(f"ensemble of {k} random (per piece, exact)", lk["ensemble"]),
            row(f"ensemble of {k} random (per frame, exact)", lk["ensemble_per_frame"], notewise=False),
            row(f"**the paper's protocol** ({k} random, per frame)", lk["paper_protocol"], notewise=False),
            "",
            "The Coconet paper reports 0.57 ± 0.01 framewise at 16th-note resolution, computed with "
            "Magenta's `FrameEvaluator`, as the last row is: each frame's probability is averaged over "
            "the orderings, and a frame's later voices see the model's argmax guesses for its earlier "
            "voices. The row above it gives them the true notes instead.",
            "",
        ]
    if "masked_loss" in results:
        lines += [
            f"Masked-prediction loss (training objective, all mask sizes): "
            f"{results['masked_loss']:.4f} nats per erased note.",
            "",
        ]
    if "masked_loss_frames" in results:
        lines += [
            f"Masked-prediction loss with whole steps erased (frame masks, as in infill and "
            f"continuation): {results['masked_loss_frames']:.4f} nats per erased note.",
            "",
        ]
    if "quality" in results:
        quality = results["quality"]
        names = list(quality)
        lines += ["## Musical quality", ""]
        if "sampler_precision" in results:
            lines += [f"The sampler's network ran in {results['sampler_precision']}.", ""]
        for name, accuracy in results.get("harmonization_accuracy", {}).items():
            lines += [
                f"Harmonization accuracy, {name}: {accuracy * 100:.1f}% "
                "of alto/tenor/bass notes equal Bach's.",
                "",
            ]
        lines += ["| faults per 100 steps | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
        for fault in FAULTS:
            lines.append(
                f"| {fault.replace('_', ' ')} | "
                + " | ".join(f"{quality[n]['faults_per_100_steps'][fault]:.2f}" for n in names)
                + " |"
            )
        lines += [
            "",
            "| distance to Bach (total variation) | " + " | ".join(names) + " |",
            "|---|" + "---|" * len(names),
        ]
        for stat in next(iter(quality.values()))["distance_to_bach"]:
            lines.append(
                f"| {stat.replace('_', ' ')} | "
                + " | ".join(f"{quality[n]['distance_to_bach'][stat]:.3f}" for n in names)
                + " |"
            )
        lines += ["", "Rules:", ""] + [f"- **{k.replace('_', ' ')}**: {v}" for k, v in FAULT_RULES.items()]
    if "timing" in results:
        lines += ["", "Timing (s): " + ", ".join(f"{k} {v:.1f}" for k, v in results["timing"].items())]
    return "\n".join(lines) + "\n"


def to_json(results: dict) -> str:
    return json.dumps(results, indent=2, default=float)


__all__ = [
    "FAULTS",
    "VOICES",
    "conditional_log_probs",
    "draw_ordering",
    "fault_rates",
    "harmonize_sopranos",
    "histogram_distances",
    "likelihood",
    "magenta_frame_log_probs",
    "map_pieces",
    "markdown_report",
    "masked_loss",
    "quality_table",
    "random_orderings",
    "voice_leading_faults",
]
