"""How many Gibbs passes does a 2-bar harmonization need?

The paper's annealed Gibbs sampler makes one pass per note to write (96 for the three lower
voices of 2 bars), which misses the 1 s latency bar on CPUs without native bf16 in float32
(`docs/benchmarks.md`) and meets it only narrowly in int8. This benchmark asks what fewer
passes cost in quality (since session 19 the default makes two thirds: N=64). Each
setting harmonizes the same Bach sopranos (2-measure windows of the JSB valid split, soprano
given) with the same seeds, and per window it scores:

- accuracy: alto, tenor and bass notes equal to Bach's;
- NLL of the result under the model (one random ordering per window, the same for every
  setting; lower = more typical to the model);
- parallel fifths and octaves per 100 steps.

Each row gives the mean ± its standard error, and the paired difference to the first row
(the paper's N = 96) ± the standard error of the differences. Passes, not seconds, are the cost: the
latency of N passes is in `docs/benchmarks.md` (about N times one pass).

`--diversity` instead harmonizes every window twice more (seeds 1000+i and 2000+i) and
reports, per setting, the accuracy of those results, how often the two agree (the share of
notes two seeds write alike: how much "Again" changes), and the total variation distance of
their histograms to Bach's (pitch class, melodic and vertical intervals, note durations; the
evaluation module's), without the NLL scoring.

    python benchmarks/gibbs_passes.py [--checkpoint jsb] [--windows 64] [--settings "N=32,N=48"] [--diversity]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from common import add_checkpoint, add_data, cpu_description

from counterpoint.data.datasets import load_jsb
from counterpoint.evaluation import (
    conditional_log_probs,
    draw_ordering,
    fault_rates,
    harmonize_sopranos,
    histogram_distances,
)
from counterpoint.model.registry import load_model
from counterpoint.sampling.config import SamplerConfig

# the first is the reference every row is compared with; the paper's schedule has p_min 0.05
SETTINGS = {
    "N=96 (the paper's: one pass per note)": SamplerConfig(steps=96),
    # the sampler runs int8 on CPUs without native bf16 when the model has an int8 file (the
    # header says which precision it is): this row is the first in float32
    "N=96 float32": SamplerConfig(steps=96, precision="float32"),
    "N=64 (default: two thirds of a pass per note)": SamplerConfig(),
    "N=48": SamplerConfig(steps=48),
    "N=32": SamplerConfig(steps=32),
    "N=32 p_min=0.05": SamplerConfig(steps=32, p_min=0.05),
    "N=32 p_min=0.05 alpha=0.5": SamplerConfig(steps=32, p_min=0.05, alpha=0.5),
    "N=32 alpha=1": SamplerConfig(steps=32, alpha=1.0),
    # a better start instead of more passes: 8 confidence passes draft every note, then a short
    # schedule from a lower p_max refines the draft (the second row is the same without the draft)
    "conf 8 + N=24 p_max=0.5": SamplerConfig(init_passes=8, steps=24, p_max=0.5),
    "N=32 p_max=0.5": SamplerConfig(steps=32, p_max=0.5),
    "conf 8 + N=24 p_max=0.7": SamplerConfig(init_passes=8, steps=24, p_max=0.7),
    "conf 8 + N=40 p_max=0.5": SamplerConfig(init_passes=8, steps=40, p_max=0.5),
    "conf 16 + N=16 p_max=0.3": SamplerConfig(init_passes=16, steps=16, p_max=0.3),
}


def accuracy(window: np.ndarray, result: np.ndarray) -> float:
    """Share of alto, tenor and bass notes equal to Bach's."""
    return float((result[:, 1:] == window[:, 1:]).mean())


def window_scores(model, window: np.ndarray, result: np.ndarray, seed: int) -> tuple[float, float]:
    """(accuracy, NLL per step) of one harmonized window."""
    ordering = draw_ordering(result, "random", np.random.default_rng(seed))
    nll = float(-conditional_log_probs(model, result, ordering).sum() / len(result))
    return accuracy(window, result), nll


def parallels(chorales: list[np.ndarray]) -> float:
    """Parallel fifths and octaves per 100 steps, as `counterpoint evaluate` counts them."""
    rates = fault_rates(chorales)
    return rates["parallel_fifths"] + rates["parallel_octaves"]


def mean_sem(values: np.ndarray) -> str:
    return f"{values.mean():.3f} ± {values.std(ddof=1) / np.sqrt(len(values)):.3f}"


def paired_table(model, windows: list[np.ndarray], settings: dict[str, SamplerConfig]) -> None:
    """Harmonize ``windows`` with each sampler setting (the same seeds) and print accuracy and
    the result's NLL per setting, with their paired differences to the first setting."""
    scores: dict[str, np.ndarray] = {}
    rates: dict[str, float] = {}
    for label, sampler in settings.items():
        start = time.perf_counter()
        results = harmonize_sopranos(model, windows, sampler, progress=False).pieces
        seconds = time.perf_counter() - start
        pairs = enumerate(zip(windows, results, strict=True))
        scores[label] = np.array([window_scores(model, w, r, i) for i, (w, r) in pairs])
        rates[label] = parallels(results)
        print(f"{label}: sampled in {seconds:.0f} s", flush=True)
    baseline = next(iter(scores.values()))
    print("\n| Gibbs | accuracy | Δ accuracy | NLL of result (nats/step) | Δ NLL | parallels /100 steps |")
    print("|---|---|---|---|---|---|")
    for label, table in scores.items():
        delta = table - baseline
        print(
            f"| {label} | {mean_sem(table[:, 0])} | {mean_sem(delta[:, 0])} | {mean_sem(table[:, 1])} "
            f"| {mean_sem(delta[:, 1])} | {rates[label]:.2f} |"
        )


def diversity_table(model, windows: list[np.ndarray], labels: list[str]) -> None:
    columns = "distance to Bach: pitch class | melodic | vertical | duration | mean"
    print(f"\n| Gibbs | accuracy | two seeds agree | {columns} |")
    print("|---|---|---|---|---|---|---|---|")
    for label in labels:
        sampler = SETTINGS[label]
        runs = [harmonize_sopranos(model, windows, sampler, s, progress=False).pieces for s in (1000, 2000)]
        correct = np.mean([accuracy(w, r) for run in runs for w, r in zip(windows, run, strict=True)])
        agree = np.mean([(a[:, 1:] == b[:, 1:]).mean() for a, b in zip(*runs, strict=True)])
        distances = histogram_distances(runs[0] + runs[1], windows)
        cells = " | ".join(
            f"{distances[name]:.3f}"
            for name in ("pitch_class", "melodic_interval", "vertical_interval", "duration")
        )
        mean = np.mean(list(distances.values()))
        print(f"| {label} | {correct:.3f} | {agree:.3f} | {cells} | {mean:.3f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    add_checkpoint(parser)
    add_data(parser)
    parser.add_argument("--windows", type=int, default=64, help="2-bar windows of the valid split")
    parser.add_argument(
        "--settings",
        default=None,
        help="comma-separated row labels (default: all); the first row always runs",
    )
    parser.add_argument("--skip-bach", action="store_true", help="no row for Bach's own harmony")
    parser.add_argument(
        "--diversity",
        action="store_true",
        help="two more seeds: agreement and distances to Bach's statistics",
    )
    args = parser.parse_args()
    model = load_model(args.checkpoint)
    valid = load_jsb(args.data).valid
    windows = [p[s : s + 32] for p in valid for s in (0, 64) if len(p) >= s + 32][: args.windows]
    name = args.checkpoint or "jsb"
    precision = SamplerConfig().resolve_precision(model)
    print(f"# {cpu_description()}")
    print(
        f"# {len(windows)} windows of 2 bars from the JSB valid split, soprano given; {name}; "
        f"the default's precision here: {precision}"
    )
    reference = next(iter(SETTINGS))
    labels = [reference] + [
        label for label in (args.settings.split(",") if args.settings else SETTINGS) if label != reference
    ]
    if unknown := [label for label in labels if label not in SETTINGS]:
        parser.error(f"unknown setting {unknown[0]!r}: expected one of {', '.join(SETTINGS)}")
    if args.diversity:
        diversity_table(model, windows, labels)
        return
    paired_table(model, windows, {label: SETTINGS[label] for label in labels})
    if not args.skip_bach:
        bach = np.array([window_scores(model, w, w, i) for i, w in enumerate(windows)])
        print(f"| Bach himself | 1 | - | {mean_sem(bach[:, 1])} | - | {parallels(windows):.2f} |")


if __name__ == "__main__":
    main()
