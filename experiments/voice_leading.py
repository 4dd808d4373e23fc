"""Voice leading of sampler settings: harmonize Bach's JSB test sopranos with each and count
faults (per 100 steps, as `counterpoint evaluate`), harmonization accuracy and time.

    python experiments/voice_leading.py --pieces 20 \
        --variant default: --variant cold:temperature=0.5 \
        --variant annealed:temperature=1.0,final_temperature=0.0

A variant is ``name:field=value,...`` over SamplerConfig's fields. All variants harmonize the
same pieces with the same seeds, one after another, in one process.
"""

from __future__ import annotations

import argparse
import ast
import time
from dataclasses import fields

import torch
from common import JSB

from counterpoint.data.datasets import load_dataset
from counterpoint.evaluation import fault_rates, harmonize_sopranos
from counterpoint.model.registry import load_model
from counterpoint.sampling.config import SamplerConfig


def parse_variant(text: str) -> tuple[str, SamplerConfig]:
    name, _, settings = text.partition(":")
    known = {f.name for f in fields(SamplerConfig)}
    values = {}
    for item in filter(None, settings.split(",")):
        key, _, value = item.partition("=")
        if key not in known:
            raise SystemExit(f"unknown sampler field {key!r}")
        try:  # numbers, True/False, None; anything else is a string (method="gibbs")
            values[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            values[key] = value
    return name, SamplerConfig(**values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=JSB)
    parser.add_argument("--checkpoint", default=None, help="default: the shipped model")
    parser.add_argument("--pieces", type=int, default=20, help="first N test pieces")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--variant", action="append", default=[])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = load_model(args.checkpoint)
    pieces = load_dataset(args.data, progress=False).test[: args.pieces]
    print(f"{len(pieces)} test sopranos, {sum(len(p) for p in pieces)} steps, {args.threads} thread(s)")
    bach = fault_rates(pieces)
    print(
        f"{'variant':<16} {'par5':>6} {'par8':>6} {'hidden':>6} {'cross':>6} {'accuracy':>8} {'seconds':>8}"
    )
    print(
        f"{'bach':<16} {bach['parallel_fifths']:6.2f} {bach['parallel_octaves']:6.2f} "
        f"{bach['hidden_fifths_octaves']:6.2f} {bach['voice_crossing']:6.2f}"
    )
    for text in args.variant or ["default:"]:
        name, sampler = parse_variant(text)
        start = time.perf_counter()
        result = harmonize_sopranos(model, pieces, sampler, progress=False)
        seconds = time.perf_counter() - start
        rates = fault_rates(result.pieces)
        print(
            f"{name:<16} {rates['parallel_fifths']:6.2f} {rates['parallel_octaves']:6.2f} "
            f"{rates['hidden_fifths_octaves']:6.2f} {rates['voice_crossing']:6.2f} "
            f"{100 * result.accuracy:7.1f}% {seconds:8.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
