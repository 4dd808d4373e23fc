"""How many Gibbs passes does a long piece need?

The default makes two thirds of a pass per note to write (`gibbs_passes.py` chose that on 2-bar
windows: 64 passes for the three lower voices). Each pass rewrites a share of *every* note, so
a piece 4 times as long gets 4 times the passes at 4 times the cost each: 16 times the time.
The server's longest piece (32 measures) then takes about a minute on two cores, at its
default time limit. But the network sees ±65 steps, so far-apart parts of a long piece are
sampled side by side much as short pieces are, and each note is rewritten in proportion to the
passes, not to the piece's length. This benchmark asks whether a fixed number of passes does
as well on long pieces as the default's.

Each setting harmonizes the same Bach sopranos (windows of ``--measures`` measures from the
JSB valid split, soprano given) with the same seeds; per window it scores accuracy (alto, tenor
and bass notes equal to Bach's) and the NLL of the result under the model (one random
ordering, the same for every setting), as `gibbs_passes.py` does, with the paired difference
to the first row (the default), and parallel fifths and octaves per 100 steps
(`gibbs_passes.paired_table`).

    python experiments/long_pieces.py [--checkpoint jsb] [--measures 8] [--windows 24] [--passes 64,128]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from common import JSB
from gibbs_passes import paired_table

from counterpoint.data.datasets import load_jsb
from counterpoint.model.registry import load_model
from counterpoint.music.representation import STEPS_PER_MEASURE
from counterpoint.sampling.config import SamplerConfig
from counterpoint.sampling.schedule import gibbs_passes


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checkpoint", default=None, help="path or shipped name (default: shipped jsb)")
    parser.add_argument("--measures", type=int, default=8, help="window length in measures")
    parser.add_argument("--windows", type=int, default=24, help="windows of the valid split, one per piece")
    parser.add_argument("--passes", default="64,128", help="fixed pass counts to compare with the default")
    parser.add_argument("--data", type=Path, default=JSB, help="Jsb16thSeparated.npz")
    args = parser.parse_args()
    model = load_model(args.checkpoint)
    steps = args.measures * STEPS_PER_MEASURE
    windows = [piece[:steps] for piece in load_jsb(args.data).valid if len(piece) >= steps][: args.windows]
    default = SamplerConfig()
    settings = {f"default (N={gibbs_passes(default, 3 * steps)})": default}
    settings |= {f"N={n}": SamplerConfig(steps=n) for n in map(int, args.passes.split(","))}
    print(
        f"# {len(windows)} windows of {args.measures} measures from the JSB valid split, soprano "
        f"given; {args.checkpoint or 'jsb'}; precision {default.resolve_precision(model)}"
    )
    paired_table(model, windows, settings)


if __name__ == "__main__":
    main()
