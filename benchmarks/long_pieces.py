"""Does a harmonization's cost grow linearly with its length, at the same quality (issue 40)?

Gibbs passes used to grow with the notes to write (two thirds of a pass per note) while each
pass runs the network over the whole piece, so cost grew with the square of length. The
default now caps the passes (``schedule.MAX_GIBBS_PASSES``) and, where the cap bites, lowers
the temperature over the schedule (``schedule.gibbs_temperatures``). This benchmark prints, in
one run:

1. seconds per harmonization of 2, 4, 8 and 16 measures (Bach's sopranos from the JSB valid
   split, soprano given), under the uncapped rule (two thirds of a pass per note, the default
   before issue 40) and the default, interleaved round by round so that both see the same load;
   the median of each, its ratio to 2 measures, and the ratio of the network's work (passes x
   steps), which does not depend on the load;
2. their quality at 8 and 16 measures, paired by window (the same sopranos, the same seeds):
   accuracy (alto, tenor and bass notes equal to Bach's), NLL of the result under the model,
   parallel fifths and octaves per 100 steps, each with its paired difference to the uncapped
   rule ± the standard error of the differences, and a row with the cap alone (at the
   uncapped temperature).

The NLL is that of the result under the model (float32) and a random note ordering, estimated
from ``--positions`` network passes per window (:func:`nll_estimate`: exact scoring, one
conditional per note, took 10 minutes a 16-measure window on 2 loaded cores). A window's
estimate uses the same ordering and prefix sizes for every row, so that differences are paired;
its own noise (a standard deviation of 0.08 nats/step for one 16-measure result at 64
positions) is part of their standard errors.

    python benchmarks/long_pieces.py [--checkpoint jsb] [--windows8 24] [--windows16 26] [--rounds 3]
        [--positions 32] [--cache DIR]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F
from common import add_checkpoint, add_data, cpu_description, markdown_table
from gibbs_passes import accuracy, mean_sem, parallels

from counterpoint.data.datasets import load_jsb
from counterpoint.evaluation import harmonize_sopranos
from counterpoint.model.network import Coconet, make_input
from counterpoint.model.registry import load_model
from counterpoint.music.representation import SILENCE, STEPS_PER_MEASURE, to_pianoroll
from counterpoint.sampling.config import SamplerConfig
from counterpoint.sampling.schedule import GIBBS_PASSES_PER_NOTE, MAX_GIBBS_PASSES, planned_passes
from counterpoint.tasks import harmonize

LENGTHS = (2, 4, 8, 16)  # measures timed
QUALITY_LENGTHS = (8, 16)  # measures scored


def uncapped(measures: int) -> SamplerConfig:
    """The default before issue 40: two thirds of a pass per note to write, at the config's
    temperature throughout (passes given explicitly are never capped)."""
    notes = 3 * measures * STEPS_PER_MEASURE
    return SamplerConfig(passes=max(1, round(notes * GIBBS_PASSES_PER_NOTE)))


def settings(measures: int) -> dict[str, SamplerConfig]:
    """The rows at ``measures``: the uncapped rule first (the reference), then the default."""
    return {"uncapped (before)": uncapped(measures), "default (capped)": SamplerConfig()}


def windows_of(pieces: list[np.ndarray], measures: int, count: int) -> list[np.ndarray]:
    """The first ``measures`` of the first ``count`` pieces at least that long."""
    steps = measures * STEPS_PER_MEASURE
    return [piece[:steps] for piece in pieces if len(piece) >= steps][:count]


@torch.inference_mode()
def nll_estimate(model: Coconet, chorale: np.ndarray, seed: int, positions: int = 32) -> float:
    """NLL per step of ``chorale`` under a random ordering of its notes, estimated without bias
    from ``positions`` network passes. The NLL sums, over i, the conditional of the ordering's
    note i + 1 given its first i notes; for a uniformly random ordering that note is equally
    likely to be any note not among the first i, so one pass with the first i notes known gives
    that term's expectation as the mean over all the others. The i are stratified: one drawn in
    each of ``positions`` equal slices of 0..n-1."""
    roll = torch.from_numpy(to_pianoroll(chorale, model.pitch_range))
    voices, steps = np.nonzero(np.asarray(chorale).T != SILENCE)
    notes = len(voices)
    rng = np.random.default_rng(seed)
    rank = np.full((4, len(chorale)), -1)  # silent: always known, as in scoring
    rank[voices, steps] = rng.permutation(notes)
    sizes = np.floor((np.arange(positions) + rng.random(positions)) * notes / positions).astype(int)
    rank, target = torch.from_numpy(rank), roll.argmax(-1)
    total = 0.0
    for first in range(0, positions, 8):
        size = torch.from_numpy(sizes[first : first + 8])
        known = rank[None] < size[:, None, None]
        logits = model(make_input(roll.expand(len(size), -1, -1, -1), known)).float()
        chosen = target[None, ..., None].expand(len(size), -1, -1, 1)
        log_probs = F.log_softmax(logits, -1).gather(-1, chosen)[..., 0]
        unknown = (~known).flatten(1)
        total += ((log_probs.flatten(1) * unknown).sum(1) / unknown.sum(1)).sum().item()
    return -total * notes / positions / len(chorale)


def timing_table(model: Coconet, valid: list[np.ndarray], rounds: int) -> None:
    """Seconds per harmonization at each length under each rule, interleaved round by round
    (round r harmonizes the first measures of the r-th valid piece of 16 measures)."""
    pieces = windows_of(valid, max(LENGTHS), rounds)
    seconds: dict[tuple[int, str], list[float]] = {}
    for index, piece in enumerate(pieces):
        for measures in LENGTHS:
            for label, sampler in settings(measures).items():
                window = piece[: measures * STEPS_PER_MEASURE]
                start = time.perf_counter()
                harmonize(model, window, [0], sampler=sampler, seed=index, transposition="octave")
                seconds.setdefault((measures, label), []).append(time.perf_counter() - start)
        print(f"timing round {index + 1} of {len(pieces)} done", flush=True)
    labels = list(settings(2))
    header = ["measures"]
    for label in labels:
        header += [f"{label}: passes", "s (median)", "x 2 measures", "network work x 2 measures"]
    rows = []
    for measures in LENGTHS:
        row = [str(measures)]
        for label in labels:
            sampler = settings(measures)[label]
            passes = planned_passes(sampler, 3 * measures * STEPS_PER_MEASURE)
            base = planned_passes(settings(2)[label], 3 * 2 * STEPS_PER_MEASURE) * 2
            median = float(np.median(seconds[measures, label]))
            ratio = median / float(np.median(seconds[2, label]))
            row += [str(passes), f"{median:.2f}", f"{ratio:.1f}x", f"{passes * measures / base:.1f}x"]
        rows.append(row)
    print(f"\n{rounds} rounds; each cell the median of its rounds")
    print(markdown_table(header, rows))


def quality_table(
    model: Coconet, valid: list[np.ndarray], measures: int, count: int, positions: int, cache: str | None
) -> None:
    """Accuracy, NLL and parallels of each row at ``measures``, paired against the first."""
    windows = windows_of(valid, measures, count)
    rows = settings(measures) | {
        f"cap alone (N={MAX_GIBBS_PASSES}, temperature 0.99)": SamplerConfig(passes=MAX_GIBBS_PASSES)
    }
    scores: dict[str, np.ndarray] = {}
    rates: dict[str, float] = {}
    for label, sampler in rows.items():
        start = time.perf_counter()
        results = harmonize_sopranos(model, windows, sampler, progress=False, cache=cache).pieces
        sampled = time.perf_counter() - start
        scores[label] = np.array(
            [
                (accuracy(window, result), nll_estimate(model, result, index, positions))
                for index, (window, result) in enumerate(zip(windows, results, strict=True))
            ]
        )
        rates[label] = parallels(results)
        print(f"{measures} measures, {label}: sampled in {sampled:.0f} s", flush=True)
    reference = next(iter(scores.values()))
    table = []
    for label, values in scores.items():
        delta = values - reference
        table.append(
            [
                label,
                mean_sem(values[:, 1]),
                mean_sem(delta[:, 1]),
                mean_sem(values[:, 0]),
                mean_sem(delta[:, 0]),
                f"{rates[label]:.2f}",
            ]
        )
    header = ["Gibbs", "NLL (nats/step)", "Δ NLL", "accuracy", "Δ accuracy", "parallels /100 steps"]
    print(f"\n{len(windows)} windows of {measures} measures (the first of each valid piece that long)")
    print(markdown_table(header, table), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_checkpoint(parser)
    add_data(parser)
    parser.add_argument("--rounds", type=int, default=3, help="timing rounds (0: no timing table)")
    parser.add_argument("--windows8", type=int, default=24, help="8-measure windows scored")
    parser.add_argument("--windows16", type=int, default=26, help="16-measure windows scored (valid has 26)")
    parser.add_argument("--positions", type=int, default=32, help="network passes per NLL estimate")
    parser.add_argument("--cache", default=None, help="keep harmonizations here: a stopped run resumes")
    args = parser.parse_args()
    model = load_model(args.checkpoint)
    valid = load_jsb(args.data).valid
    print(f"# {cpu_description()}")
    print(
        f"# {args.checkpoint or 'jsb'}, the default's precision here: "
        f"{SamplerConfig().resolve_precision(model)}; Bach's sopranos from the JSB valid split"
    )
    if args.rounds:
        timing_table(model, valid, args.rounds)
    for measures, count in zip(QUALITY_LENGTHS, (args.windows8, args.windows16), strict=True):
        if count:
            quality_table(model, valid, measures, count, args.positions, args.cache)


if __name__ == "__main__":
    main()
