"""How much faster is exact likelihood scoring since session 15?

`counterpoint evaluate` scores every note on the ``2R + 1`` steps centred on it. Inside the piece
the network computes only the cone the middle step depends on (``Coconet.forward_center``),
about half of a full forward pass. Until session 15 a window that overhung the piece's start or
end was shifted inward and run through the full forward pass instead; on JSB's pieces (median
228 steps) and a network that reaches ±65 steps, that was most notes. Now those windows take the
cone too, with the steps beyond the edge zeroed after every layer, as zero padding would show
them (exact: ``tests/test_evaluation.py``). And windows went 64 to a pass; now as many as make
1024 steps, so that a layer's input and output stay in the CPU's L3 cache. This times, side by
side in one run, a batch of scoring windows each way, weighing the routes by the share of the
test split's notes whose window overhangs an edge, then the cone alone by batch size, then
``likelihood`` end to end on one test piece (with how many of the paper protocol's later voices
were computed rather than reused from the exact conditionals):

    python experiments/scoring_speed.py [--checkpoints runs/reach/best.pt ...] [--threads 2]

Without ``--checkpoints`` it times the shipped model. Ratios hold on a busy machine; absolute
times do not."""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from functools import partial

import numpy as np
import torch
from common import JSB as DEFAULT_DATA

from counterpoint import evaluation
from counterpoint.data.datasets import load_jsb
from counterpoint.evaluation import predict
from counterpoint.evaluation.predict import CPU_BATCH_STEPS, on_device, scoring_batch
from counterpoint.model.registry import load_model
from counterpoint.music.representation import SILENCE

OLD_BATCH = 64  # windows per pass until session 15


def median_seconds(run: Callable[[], object], repeats: int) -> float:
    run()  # warm up: oneDNN picks its kernels on the first call
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def edge_share(chorales: list[np.ndarray], reach: int) -> float:
    """Share of the sounding notes whose ``2R + 1`` window overhangs the piece's start or end."""
    edge = total = 0
    for chorale in chorales:
        steps = np.arange(len(chorale))
        notes = (chorale != SILENCE).sum(axis=1)
        overhangs = (steps - reach < 0) | (steps + reach >= len(chorale))
        edge += int(notes[overhangs].sum())
        total += int(notes.sum())
    return edge / total


def windows(batch: int, width: int, pitches: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Scoring windows like real ones (sparse notes), half of them overhanging the start."""
    generator = torch.Generator().manual_seed(0)
    x = (torch.rand(batch, 8, width, pitches, generator=generator) < 0.05).float()
    inside = torch.ones(batch, width, dtype=torch.bool)
    inside[: batch // 2, : width // 4] = False
    x[: batch // 2, :, : width // 4] = 0
    return x, inside


def end_to_end(model, test: list[np.ndarray], steps: int) -> None:
    """Time ``likelihood`` on the first test piece of ``steps`` steps (1 random ordering, no
    chronological one), and count the paper protocol's rescored notes against its candidates
    (every note but each step's first)."""
    piece = next((chorale for chorale in test if len(chorale) == steps), None)
    if piece is None:
        raise SystemExit(f"no test piece has {steps} steps: choose another --piece-steps")
    computed = []
    compute = predict._predict

    def counting(model, roll, order, chosen, *args, **kwargs):
        computed.append(len(chosen))
        return compute(model, roll, order, chosen, *args, **kwargs)

    predict._predict = counting
    try:
        start = time.perf_counter()
        result = evaluation.likelihood(model, [piece], orderings=1, progress=False, chronological=False)
        seconds = time.perf_counter() - start
    finally:
        predict._predict = compute
    later = computed[0] - int(((piece != SILENCE).sum(axis=1) > 0).sum())
    print(
        f"likelihood() on a {steps}-step test piece, 1 random ordering: {seconds:.1f} s; "
        f"framewise {result['random']['framewise']!r}, paper protocol "
        f"{result['paper_protocol']['framewise']!r}; rescored {sum(computed[1:])} of {later} later voices"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--checkpoints", nargs="*", default=[None], help="default: the shipped model")
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--batches", type=int, nargs="*", default=[4, 8, 16, 32, 64], help="second table")
    parser.add_argument("--piece-steps", type=int, default=128, help="end to end: a test piece this long")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    test = load_jsb(args.data).test
    models = {
        checkpoint or "shipped": on_device(load_model(checkpoint), "cpu") for checkpoint in args.checkpoints
    }
    print(f"{args.threads} threads, median of {args.repeats}")
    print(f"\nBefore: batches of {OLD_BATCH} windows, edge windows by the full pass; now: the cone for")
    print(f"every window, in batches of {CPU_BATCH_STEPS} // (2R + 1) windows")
    print(
        f"| model | reach | edge notes (test) | full pass, {OLD_BATCH} (s) | cone, {OLD_BATCH} (s) "
        "| before: s per 1000 notes | now: batch | cone, edge-masked (s) | s per 1000 notes | speedup |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, model in models.items():
        reach = model.receptive_field()
        width = 2 * reach + 1
        x, inside = windows(OLD_BATCH, width, model.pitch_range.size)
        batch = scoring_batch(model, width)
        x_now, inside_now = windows(batch, width, model.pitch_range.size)
        with torch.no_grad():
            full = median_seconds(partial(model, x), args.repeats)
            cone = median_seconds(partial(model.forward_center, x), args.repeats)
            masked = median_seconds(partial(model.forward_center, x_now, inside_now), args.repeats)
        share = edge_share(test, reach)
        before = (share * full + (1 - share) * cone) / OLD_BATCH * 1000
        now = masked / batch * 1000
        print(
            f"| {name} | ±{reach} | {share:.0%} | {full:.3f} | {cone:.3f} | {before:.2f} "
            f"| {batch} | {masked:.3f} | {now:.2f} | {before / now:.2f}x |"
        )
    print("\nThe cone (edge-masked) by batch size, ms per window:")
    print("| model | " + " | ".join(f"batch {batch}" for batch in args.batches) + " |")
    print("|---|" + "---|" * len(args.batches))
    for name, model in models.items():
        width = 2 * model.receptive_field() + 1
        cells = []
        for batch in args.batches:
            x, inside = windows(batch, width, model.pitch_range.size)
            with torch.no_grad():
                seconds = median_seconds(partial(model.forward_center, x, inside), args.repeats)
            cells.append(f"{seconds / batch * 1000:.1f}")
        print(f"| {name} | " + " | ".join(cells) + " |")
    print()
    for name, model in models.items():
        print(name, end=": ")
        end_to_end(model, test, args.piece_steps)


if __name__ == "__main__":
    main()
