"""Exact likelihood: the orderless-NADE log-probability of each sounding note along orderings
(chronological and random), batched since every context along an ordering is known in
advance; the figures of :mod:`counterpoint.evaluation` (see its docstring), the cheap
masked-prediction loss, and the scores kept in a cache."""

from __future__ import annotations

import math
import os
from functools import partial
from pathlib import Path

import numpy as np
import torch

from counterpoint.evaluation import predict
from counterpoint.evaluation.cache import _cached_path, _read_cached, _settings_key, _write_cached
from counterpoint.evaluation.predict import _log_mean_exp, _sem
from counterpoint.evaluation.protocol import _paper_protocol, paper_protocol_losses
from counterpoint.evaluation.workers import map_pieces
from counterpoint.model.network import Coconet, device_of
from counterpoint.model.products import fuse_batch_norm
from counterpoint.music.representation import SILENCE, to_pianoroll

# --------------------------------------------------------------------------- likelihood


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
    return predict._predict(model, roll, order, everything, window, batch_size, progress, temperature)[0]


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
        exact = predict._predict(model, roll, order, np.arange(len(order)), window, None, None, temperature)
        totals[k] = exact[0].sum()
        np.add.at(frames[k], order[:, 1], exact[0])
        paper = _paper_protocol(model, roll, order, window, None, None, temperature, exact=exact)
        np.add.at(paper_frames[k], order[:, 1], paper)
    return {"chronological": chrono, "orderings": totals, "frames": frames, "paper_frames": paper_frames}


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
    from counterpoint.training.batches import validation_set
    from counterpoint.training.objective import evaluate_loss

    usable = [c for c in chorales if len(c) >= crop_steps]
    count = sum(len(c) // crop_steps for c in usable)
    pianoroll, known = validation_set(usable, crop_steps, count, seed, model.pitch_range, mask)
    return evaluate_loss(model, pianoroll.to(device_of(model)), known.to(device_of(model)))
