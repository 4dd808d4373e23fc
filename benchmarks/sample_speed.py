"""Sampling speed and quality together.

Part 1, latency: harmonizing 2 measures (32 steps, the Doodle's length) and 8 measures (128
steps), p50 and p90 over repeats, and pieces/s when 8 pieces are sampled in one batch, for
each sampler setting, for the given checkpoint and for the `paper` preset (untrained: speed
does not depend on the weights). Also the sampler's overhead: its time over the time of the
same number of bare forward passes.

Part 2, quality (needs a trained checkpoint): harmonize Bach's sopranos (2-measure windows of
the JSB test split) with each setting, and report the NLL of the result under the model
(one random ordering; lower = more typical), parallel fifths and octaves per 100 steps, and
the distance of the result's statistics to Bach's (mean total variation over the
histograms of the evaluation module). Run with nothing else busy:

    python benchmarks/sample_speed.py --checkpoint jsb [--repeats 10] [--pieces 64]

`--part bar` measures only what issue #6's bar names, in about a minute: harmonizing 2 measures
(the first 2 of each of the first test sopranos in turn) with the default sampler, p50 and p90,
and beside it the paper's pass count (one per note to write) and the default in every other
arithmetic this machine and model can run (float32; bfloat16 on CPUs with native bf16; int8
where the model has an int8 file).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from common import add_checkpoint, add_data, cpu_description, percentile

from counterpoint.data import masks
from counterpoint.data.datasets import load_jsb
from counterpoint.evaluation import (
    conditional_log_probs,
    draw_ordering,
    fault_rates,
    harmonize_sopranos,
    histogram_distances,
)
from counterpoint.model.network import Coconet, make_input, preset
from counterpoint.model.registry import load_model
from counterpoint.music.representation import to_pianoroll
from counterpoint.runtime.backend import bf16_is_fast, sampler_network
from counterpoint.runtime.int8 import int8_network
from counterpoint.sampling.config import SamplerConfig
from counterpoint.sampling.samplers import sample
from counterpoint.sampling.schedule import planned_passes
from counterpoint.tasks import fill_many, harmonize

# "auto" precision is bfloat16 on CPUs with native bf16, else int8 where the model has an int8
# file (counterpoint quantize), else float32; the header line says which it is here
SETTINGS = {
    "gibbs N=96 (paper: 3 x 32), float32": SamplerConfig(steps=96, precision="float32"),
    "gibbs N=96 (paper: 3 x 32), int8": SamplerConfig(steps=96, precision="int8"),
    "gibbs N=96 (paper: 3 x 32)": SamplerConfig(steps=96),
    "gibbs N=96, network alone (--allow-parallels)": SamplerConfig(steps=96, avoid_parallels=False),
    "gibbs N=96, temperature 0.5": SamplerConfig(steps=96, temperature=0.5),
    "gibbs N=64": SamplerConfig(steps=64),
    "gibbs N=32": SamplerConfig(steps=32),
    "gibbs N=16": SamplerConfig(steps=16),
    "gibbs N=8": SamplerConfig(steps=8),
    "confidence 8 passes": SamplerConfig(method="confidence", steps=8),
    "confidence 4 passes": SamplerConfig(method="confidence", steps=4),
    "independent (1 pass)": SamplerConfig(method="independent"),
}


def latency(model: Coconet, melodies: list[np.ndarray], sampler: SamplerConfig | None = None) -> list[float]:
    """Seconds to harmonize each melody (seed = its index); the first call only warms up."""
    times = []
    for seed, melody in enumerate(melodies):
        start = time.perf_counter()
        harmonize(model, melody, sampler=sampler, seed=seed)
        times.append(time.perf_counter() - start)
    return times[1:]


def throughput(model: Coconet, melodies: list[np.ndarray], sampler: SamplerConfig) -> float:
    steps = len(melodies[0])
    chorales = [np.stack([m] + [np.full(steps, -1)] * 3, axis=1) for m in melodies]
    knowns = [masks.harmonize_mask(steps, [0])] * len(melodies)
    fill_many(model, chorales, knowns, sampler)
    start = time.perf_counter()
    fill_many(model, chorales, knowns, sampler, seeds=list(range(10, 10 + len(melodies))))
    return len(melodies) / (time.perf_counter() - start)


def sampler_seconds(model: Coconet, chorale: np.ndarray, repeats: int) -> float:
    """Median time of ``sampling.sample`` alone (Gibbs, N=96) on a prepared 2-bar soprano."""
    roll = torch.from_numpy(to_pianoroll(chorale, model.pitch_range))[None]
    known = torch.from_numpy(masks.harmonize_mask(len(chorale), [0]))[None]
    times = []
    for seed in range(repeats + 1):
        start = time.perf_counter()
        sample(model, roll, known, SamplerConfig(steps=96), seeds=seed)
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


@torch.inference_mode()
def bare_forward_seconds(model: Coconet, steps: int, passes: int, repeats: int) -> float:
    """Median time of ``passes`` forward passes of the network the sampler runs (fused, in
    the sampler's default precision), over ``repeats`` runs, as the sampler's time is."""
    precision, model = sampler_network(model, SamplerConfig())
    x = make_input(torch.zeros(1, 4, steps, 46), torch.ones(1, 4, steps, dtype=torch.bool))
    dtype = torch.bfloat16 if precision == "bfloat16" else torch.float32
    x = x.to(dtype).contiguous(memory_format=torch.channels_last)
    model(x)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(passes):
            model(x)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bar_latency(model: Coconet, test: list[np.ndarray], repeats: int) -> None:
    """The bar's figure: the task as the CLI and the app run it, default sampler, 2 measures;
    then, for the ratios in one run, the paper's one Gibbs pass per note (96) and the default
    in float32 where it runs otherwise."""
    melodies = [test[i % len(test)][:32, 0] for i in range(repeats + 1)]
    default = SamplerConfig().resolve_precision(model)
    rows = {"default sampler": SamplerConfig(), "the paper's N=96": SamplerConfig(steps=96)}
    # every other arithmetic this machine and model can run, side by side in one run
    others = ["float32"] + ["bfloat16"] * bf16_is_fast() + ["int8"] * (int8_network(model) is not None)
    for precision in others:
        if precision != default:
            rows[f"default in {precision}"] = SamplerConfig(precision=precision)
    medians = {}
    for label, sampler in rows.items():
        times = latency(model, melodies, sampler)
        medians[label] = percentile(times, 50)
        print(
            f"\nharmonizing 2 measures, {label} (gibbs, {planned_passes(sampler, 96)} passes; "
            f"{sampler.resolve_precision(model)}), {len(times)} sopranos: "
            f"p50 {medians[label]:.3f} s, p90 {percentile(times, 90):.3f} s "
            f"(min {min(times):.3f}, max {max(times):.3f})"
        )
    for label in list(rows)[1:]:
        print(f"default / {label} p50: {medians['default sampler'] / medians[label]:.2f}")


def speed_table(
    name: str, model: Coconet, test: list[np.ndarray], repeats: int, settings: dict, batched: bool = True
) -> None:
    print(f"\n## {name}: latency in seconds (p50 / p90 over {repeats}), pieces/s for 8 together")
    print("| sampler | 2 bars p50 | 2 bars p90 | 8 bars p50 | 8 bars p90 | 8 x 2 bars pieces/s |")
    print("|---|---|---|---|---|---|")
    for label, sampler in settings.items():
        two = latency(model, [test[0][:32, 0]] * (repeats + 1), sampler)
        eight = latency(model, [test[1][:128, 0]] * (max(1, repeats // 3) + 1), sampler)
        rate = f"{throughput(model, [p[:32, 0] for p in test[:8]], sampler):.1f}" if batched else "-"
        print(
            f"| {label} | {percentile(two, 50):.3f} | {percentile(two, 90):.3f} | "
            f"{percentile(eight, 50):.3f} | {percentile(eight, 90):.3f} | {rate} |",
            flush=True,
        )
    passes = 97
    bare = bare_forward_seconds(model, 32, passes, repeats)
    sampled = sampler_seconds(model, test[0][:32], repeats)
    task = statistics.median(latency(model, [test[0][:32, 0]] * (repeats + 1), SamplerConfig(steps=96)))
    print(
        f"\nsampler overhead ({name}, gibbs N=96 at 32 steps, medians): {passes} bare forward passes "
        f"{bare:.3f} s; the sampler (sampling.sample) {sampled:.3f} s: +{100 * (sampled / bare - 1):.0f}%; "
        f"the whole harmonize task {task:.3f} s: +{100 * (task / bare - 1):.0f}%"
    )


def quality_table(model: Coconet, test: list[np.ndarray], pieces: int) -> None:
    windows = [piece[start : start + 32] for piece in test for start in (0, 64)][:pieces]
    print(f"\n## Quality: harmonizing {len(windows)} Bach sopranos of 2 measures")
    print(
        "| sampler | NLL of result (nats/frame) | parallel 5ths+8ves /100 steps "
        "| distance to Bach | notes equal to Bach's |"
    )
    print("|---|---|---|---|---|")
    rng = np.random.default_rng(0)
    for label, sampler in {**SETTINGS, "Bach himself": None}.items():
        if sampler is None:
            results = windows
        else:
            results = harmonize_sopranos(model, windows, sampler, progress=False).pieces
        nll = [
            -conditional_log_probs(model, r, draw_ordering(r, "random", rng)).sum() / len(r) for r in results
        ]
        sem = np.std(nll, ddof=1) / np.sqrt(len(nll))
        faults = fault_rates(results)
        parallels = faults["parallel_fifths"] + faults["parallel_octaves"]
        distance = np.mean(list(histogram_distances(results, windows).values()))
        equal = np.mean([(r[:, 1:] == w[:, 1:]).mean() for r, w in zip(results, windows, strict=True)])
        print(
            f"| {label} | {np.mean(nll):.3f} ± {sem:.3f} | {parallels:.2f} | {distance:.3f} "
            f"| {100 * equal:.1f}% |",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    add_checkpoint(parser)
    add_data(parser)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--pieces", type=int, default=64)
    parser.add_argument("--part", choices=["bar", "speed", "quality", "all"], default="all")
    args = parser.parse_args()
    test = load_jsb(args.data).test
    model = load_model(args.checkpoint)
    print(cpu_description())
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; "
        f"sampler precision 'auto' = {SamplerConfig().resolve_precision(model)} for this model on this CPU"
    )
    if args.part == "bar":
        bar_latency(model, test, args.repeats)
    if args.part in ("speed", "all"):
        speed_table(
            f"project model ({args.checkpoint or 'shipped jsb'})", model, test, args.repeats, SETTINGS
        )
        torch.manual_seed(0)
        # the paper's network is slow: its own schedule and the fastest Gibbs setting only
        paper_settings = {
            k: v for k, v in SETTINGS.items() if k in ("gibbs N=96 (paper: 3 x 32)", "gibbs N=16")
        }
        paper = Coconet(preset("paper")).eval()
        speed_table("paper preset (64 x 128, untrained: speed only)", paper, test, 3, paper_settings, False)
    if args.part in ("quality", "all"):
        quality_table(model, test, args.pieces)


if __name__ == "__main__":
    main()
