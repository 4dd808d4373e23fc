"""Any key, any octave: does the model harmonize a melody as well in every key as in its own?

The shipped model was trained without transposition, on the keys Bach wrote in. Every melody
of ``examples/melodies.json`` (14 tunes, none by Bach) is written in all 12 keys (moved by
-5..+6 semitones) and harmonized with the default sampler (default passes) and a fixed seed
per melody, under each transposition rule of :mod:`counterpoint.music.transposition`
("octave": the nearest octave that fits; "key": the nearest key the model knows well;
"centre": a well-known key with the melody where Bach's sopranos sit; "register": the octave
rule where that already holds, else "centre"). Two rules or keys that hand the model the same
notes get the same piece (the seed is the melody's), so it is sampled once. Per
harmonization, in the key the user wrote:

- parallel fifths and octaves per 100 steps, and all voice-leading faults per 100 steps
  (:func:`counterpoint.evaluation.fault_rates`);
- the share of its beats (quarter notes) whose notes are the tones of one triad or seventh
  chord (:func:`counterpoint.evaluation.chord_tone_rate`; Bach's chorales: 91% of beats in
  the JSB valid split);
- the distance of its vertical intervals to Bach's (the evaluation's histograms, total
  variation, against the JSB valid split): how much its chords sound like his;
- the model's NLL of the written voices given the melody (nats per written voice-step: the
  training objective's masked NLL with the melody known, one forward pass), every result moved
  back into its melody's own key first, so that the model judges the harmonization and not
  the key.

Each melody is cut to its first ``--steps`` 16ths (default 32: two bars of 4/4, as the Gibbs
passes benchmark harmonizes 2-bar windows), so that the whole run fits a shared 2-core machine.

Each key's row is the mean over melodies and its paired difference to the melodies' own keys
(± the standard error of the differences), and says whether every figure is within two
standard errors of the own key. Results are kept in ``--results`` (JSON lines) as they are
written, so a stopped run resumes.

    python benchmarks/keys.py [--melodies 14] [--steps 32] [--keys -5..6] [--rules octave,key]
    python benchmarks/keys.py --jsb-keys   # the training split's keys (music/transposition.py)
"""

from __future__ import annotations

import argparse
import collections
import json
import time
from pathlib import Path

import numpy as np
import torch
from common import JSB, add_checkpoint, cpu_description, markdown_table

from counterpoint.data import masks
from counterpoint.data.datasets import load_jsb
from counterpoint.data.melodies import read_melodies
from counterpoint.evaluation import chord_tone_rate, fault_rates, histograms
from counterpoint.model.registry import load_model
from counterpoint.music.representation import SILENCE, to_pianoroll, transpose
from counterpoint.music.spelling import chorale_key
from counterpoint.music.transposition import RULES, choose_shift
from counterpoint.sampling.config import SamplerConfig
from counterpoint.tasks import fill, melody_to_chorale
from counterpoint.training.objective import evaluate_loss

MELODIES = Path(__file__).resolve().parents[1] / "examples" / "melodies.json"
KEYS = tuple(range(-5, 7))
FIGURES = ("parallels", "faults", "chords", "vertical", "nll")
LABELS = {
    "parallels": "parallel 5ths/8ves per 100 steps",
    "faults": "all faults per 100 steps",
    "chords": "beats on a chord",
    "vertical": "vertical intervals: distance to Bach",
    "nll": "NLL of written voices given the melody (nats/step)",
}


def parse_keys(text: str) -> list[int]:
    """``"-5..6"`` or ``"0,1,6"``."""
    if ".." in text:
        low, high = text.split("..")
        return list(range(int(low), int(high) + 1))
    return [int(part) for part in text.split(",")]


def written_nll(model, result: np.ndarray, moved: int) -> float:
    """The model's mean NLL (nats) of the alto, tenor and bass steps given only the melody (the
    training objective's masked NLL, one forward pass), with the piece moved back by ``moved``
    semitones into the melody's own key (and by octaves into the model's range)."""
    own = transpose(result, -moved)
    sounding = own[own != SILENCE]
    low, high = model.pitch_range.low, model.pitch_range.high
    octaves = [
        12 * k for k in range(-3, 4) if low <= sounding.min() + 12 * k and sounding.max() + 12 * k <= high
    ]
    if not octaves:
        return float("nan")
    own = transpose(own, min(octaves, key=abs))
    pianoroll = torch.from_numpy(to_pianoroll(own, model.pitch_range))[None]
    known = torch.from_numpy(masks.harmonize_mask(len(own), [0]))[None]
    return evaluate_loss(model, pianoroll, known)


def measure(
    model, melody_index: int, pitches: np.ndarray, key: int, rule: str, bach: dict, written: dict
) -> dict:
    """One harmonization's figures. ``written`` keeps what the model wrote, by melody and the
    shift it wrote at, so that a piece is sampled once."""
    moved = transpose(pitches, key)
    chorale = melody_to_chorale(moved)
    known = masks.harmonize_mask(len(chorale), [0])
    shift = choose_shift(chorale, known, rule)
    start = time.perf_counter()
    if (melody_index, key + shift) not in written:
        result = fill(model, chorale, known, SamplerConfig(), seed=melody_index, transposition=rule)
        assert result.shift == shift and (result.chorale[:, 0] == moved).all(), "the melody came back changed"
        written[(melody_index, key + shift)] = transpose(result.chorale, shift)
    piece = transpose(written[(melody_index, key + shift)], -shift)
    seconds = time.perf_counter() - start
    rates = fault_rates([piece])
    vertical = histograms([piece])["vertical_interval"]
    return {
        "melody": melody_index,
        "key": key,
        "rule": rule,
        "shift": shift,
        "seconds": seconds,
        "parallels": rates["parallel_fifths"] + rates["parallel_octaves"],
        "faults": sum(rates.values()),
        "chords": chord_tone_rate([piece]),
        "vertical": float(0.5 * np.abs(vertical - bach["vertical_interval"]).sum()),
        "nll": written_nll(model, piece, key),
    }


def mean_sem(values: np.ndarray) -> tuple[float, float]:
    values = values[np.isfinite(values)]
    return float(values.mean()), float(values.std(ddof=1) / np.sqrt(len(values)))


def tables(rows: list[dict], melody_titles: list[str]) -> None:
    """Per rule and key: each figure's mean and paired difference to the own key."""
    found = {(r["rule"], r["key"], r["melody"]): r for r in rows}
    for rule in sorted({r["rule"] for r in rows}, key=RULES.index):
        keys = sorted({k for (ru, k, _) in found if ru == rule})
        header = ["key (semitones)", "shifts used"]
        header += [LABELS[f] + " (Δ own key)" for f in FIGURES] + ["all within 2 SE"]
        lines = []
        for key in keys:
            pairs = [
                (found[(rule, key, m)], found[(rule, 0, m)])
                for m in range(len(melody_titles))
                if (rule, key, m) in found and (rule, 0, m) in found
            ]
            if len(pairs) < 2:
                continue
            cells, within = [], True
            for figure in FIGURES:
                here = np.array([a[figure] for a, _ in pairs])
                delta = here - np.array([b[figure] for _, b in pairs])
                mean, _ = mean_sem(here)
                change, error = mean_sem(delta)
                within &= abs(change) <= 2 * error or (change == 0 and error == 0)
                cells.append(f"{mean:.3f} ({change:+.3f} ± {error:.3f})")
            shifts = collections.Counter(a["shift"] for a, _ in pairs)
            used = ", ".join(f"{s:+d}×{n}" for s, n in sorted(shifts.items()))
            lines.append([f"{key:+d}", used, *cells, "yes" if within else "**no**"])
        print(f"\nRule `{rule}` ({len(pairs)} melodies per key)\n")
        print(markdown_table(header, lines))
    # each rule against the octave rule, over every key, paired by melody and key
    for rule in RULES[1:]:
        both = [(a, found.get((rule, k, m))) for (ru, k, m), a in found.items() if ru == "octave"]
        both = [(a, b) for a, b in both if b is not None]
        if not both:
            continue
        print(f"\n`{rule}` rule minus `octave` rule, over {len(both)} (melody, key) pairs\n")
        cells = []
        for figure in FIGURES:
            change, error = mean_sem(np.array([b[figure] - a[figure] for a, b in both]))
            cells.append(f"{change:+.3f} ± {error:.3f}")
        print(markdown_table([LABELS[f] for f in FIGURES], [cells]))
    seconds = [r["seconds"] for r in rows if r["seconds"] > 0.05]  # the others reused a piece
    print(f"\n{len(rows)} harmonizations, {len(seconds)} sampled, median {np.median(seconds):.2f} s each")


def jsb_keys() -> None:
    """How many of the JSB training chorales are in each key, and where the middle of their
    soprano's span lies (the figures in music/transposition.py)."""
    counts, middles = collections.Counter(), []
    for chorale in load_jsb(JSB).train:
        key = chorale_key(chorale)
        counts[(key.tonic_pitch_class, key.mode)] += 1
        soprano = chorale[:, 0][chorale[:, 0] != SILENCE]
        middles.append((soprano.min() + soprano.max()) / 2)
    print(dict(counts.most_common()))
    print("soprano middle: median, 10th and 90th percentiles", np.percentile(middles, [50, 10, 90]))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_checkpoint(parser)
    parser.add_argument("--melodies", type=int, default=None, help="the first N melodies (default all)")
    parser.add_argument(
        "--keys", type=parse_keys, default=list(KEYS), help="semitone moves, e.g. -5..6 or 0,6"
    )
    parser.add_argument("--rules", default=",".join(RULES), help=f"of {', '.join(RULES)}")
    parser.add_argument(
        "--results", type=Path, default=None, help="kept results (default runs/keys-STEPS.jsonl)"
    )
    parser.add_argument("--steps", type=int, default=32, help="16ths of each melody from its start")
    parser.add_argument("--jsb-keys", action="store_true", help="print the training split's keys and stop")
    args = parser.parse_args()
    if args.jsb_keys:
        jsb_keys()
        return
    args.results = args.results or Path(f"runs/keys-{args.steps}.jsonl")
    melodies = read_melodies(MELODIES)[: args.melodies]
    lines = [melody.line()[0][: args.steps] for melody in melodies]
    keys = sorted(set(args.keys) | {0})
    rules = [rule for rule in RULES if rule in args.rules.split(",")]
    model = load_model(args.checkpoint)
    print(f"# {cpu_description()}; model {args.checkpoint or 'jsb'}; sampler {SamplerConfig()}", flush=True)
    bach = histograms(list(load_jsb(JSB).valid))
    rows, written = [], {}
    if args.results.exists():
        rows = [json.loads(line) for line in args.results.read_text().splitlines() if line.strip()]
    done = {(r["rule"], r["key"], r["melody"]) for r in rows}
    args.results.parent.mkdir(parents=True, exist_ok=True)
    with args.results.open("a") as kept:
        for index, melody in enumerate(melodies):
            for key in keys:
                for rule in rules:
                    if (rule, key, index) in done:
                        continue
                    row = measure(model, index, lines[index], key, rule, bach, written)
                    rows.append(row)
                    kept.write(json.dumps(row) + "\n")
                    kept.flush()
                    print(
                        f"{melody.title[:24]:24} {key:+d} {rule:6} shift {row['shift']:+3d} "
                        f"{row['seconds']:.1f} s  nll {row['nll']:.3f}",
                        flush=True,
                    )
    wanted = {(rule, key, i) for rule in rules for key in keys for i in range(len(melodies))}
    tables([r for r in rows if (r["rule"], r["key"], r["melody"]) in wanted], [m.title for m in melodies])


if __name__ == "__main__":
    main()
