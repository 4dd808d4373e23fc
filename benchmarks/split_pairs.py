"""Two or more models' scores so far on one split, paired by piece: the paper's protocol (and
two exact likelihoods) on the pieces every model's `counterpoint evaluate --cache` folder
holds, against the first model; with ``--harmonized PASSES``, also their harmonizations of the
split's sopranos (the share of Bach's notes and the voice-leading faults), read from the same
folders as `counterpoint evaluate --passes PASSES` cached them (any missing are written). For
choosing between models on the valid split (`counterpoint evaluate --split valid --max-pieces
12 --cache DIR` for each), and for watching a test evaluation that spans sessions, whose
verdict is the full report `counterpoint evaluate` writes once every piece is scored.

    python benchmarks/split_pairs.py --split valid --data path/to/Jsb16thSeparated.npz \\
        product=jsb:runs/valid/cache one=runs/distill-b/best.pt:runs/valid/cache
    python benchmarks/split_pairs.py --data path/to/Jsb16thSeparated.npz \\
        before=/tmp/jsb-session20.pt:/tmp/candidates/reach/eval-test \\
        shipped=jsb:runs/product/eval-test

Each model is NAME=CHECKPOINT:CACHE_FOLDER. The shipped model (session 30) is scored in
runs/product/eval-test (docs/runs.md restores it). The network shipped before it, and its test
scores, are in git history: `git show 5f47ca5:src/counterpoint/weights/jsb.pt > /tmp/jsb-session20.pt` and
`git archive 2d5d558 candidates/reach/eval-test | tar -x -C /tmp`.

The page's browser network before and after session 37's run, harmonizing the valid sopranos
(`counterpoint evaluate --split valid --skip-likelihood --passes 128 --cache runs/browser-valid/cache`
for each first, so that this only reads them):

    git show 061a4af:src/counterpoint/weights/browser.pt > /tmp/old/browser.pt
    git show 061a4af:src/counterpoint/weights/browser.int8.onnx > /tmp/old/browser.int8.onnx
    python benchmarks/split_pairs.py --split valid --data path/to/Jsb16thSeparated.npz --harmonized 128 \\
        before=/tmp/old/browser.pt:runs/browser-valid/cache after=browser:runs/browser-valid/cache
"""

from __future__ import annotations

import argparse

from common import add_data, paired_harmonizations, paired_table

from counterpoint.data.datasets import load_jsb
from counterpoint.evaluation import cached_scores, harmonize_sopranos
from counterpoint.model.registry import load_model
from counterpoint.sampling.config import SamplerConfig


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("models", nargs="+", help="NAME=CHECKPOINT:CACHE_FOLDER, the reference first")
    add_data(parser)
    parser.add_argument("--split", default="test", choices=["valid", "test"])
    parser.add_argument(
        "--harmonized", type=int, metavar="PASSES", help="also pair the harmonizations at these passes"
    )
    args = parser.parse_args()
    pieces = load_jsb(args.data).split(args.split)
    scores, written = {}, {}
    for spec in args.models:
        name, _, rest = spec.partition("=")
        checkpoint, _, cache = rest.rpartition(":")
        if not (name and checkpoint and cache):
            raise SystemExit(f"{spec}: expected NAME=CHECKPOINT:CACHE_FOLDER")
        model = load_model(checkpoint)
        # the settings counterpoint evaluate scores with (the chronological ordering included)
        scores[name] = cached_scores(model, pieces, cache)
        if args.harmonized:
            # as counterpoint evaluate --passes N harmonizes (its default seed, 0)
            sampler = SamplerConfig(passes=args.harmonized)
            written[name] = harmonize_sopranos(model, pieces, sampler, progress=False, cache=cache).pieces
    print(paired_table(scores, pieces, args.split))
    if written:
        print()
        print(paired_harmonizations(written, pieces, args.split))


if __name__ == "__main__":
    main()
