"""Which JSB Chorales does music21's corpus lack? (issue 41: the `bach` model trains on every
chorale music21 ships "and the JSB pieces it lacks, if any").

The two sets are transcribed differently (ties, ornaments, pickups), so pieces are matched by
their sopranos: the intervals between successive soprano notes (repeats merged), in windows of
``--window`` intervals. A JSB piece is "in music21" when more than half its windows occur in
some music21 chorale, and "missing" when none does.

    PYTHONPATH=src:benchmarks python experiments/jsb_in_music21.py

Result (session 35): 225 of the 229 train pieces, 75 of the 76 valid and all 77 test pieces are in
music21; 2 train pieces share no window (so none were added to `bach`'s data).
"""

from __future__ import annotations

import argparse

import common
import numpy as np

from counterpoint.data.datasets import load_jsb, load_music21


def soprano_windows(chorale: np.ndarray, window: int) -> set[tuple[int, ...]]:
    """The soprano's interval sequences of length ``window`` (semitones, repeated notes merged)."""
    soprano = chorale[:, 0][chorale[:, 0] >= 0]
    notes = [int(p) for i, p in enumerate(soprano) if i == 0 or p != soprano[i - 1]]
    intervals = tuple(np.diff(notes).tolist())
    return {intervals[i : i + window] for i in range(max(1, len(intervals) - window))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    common.add_data(parser)
    parser.add_argument("--window", type=int, default=10, help="intervals per window")
    args = parser.parse_args()
    jsb, corpus = load_jsb(args.data), load_music21(progress=False)
    known: set[tuple[int, ...]] = set()
    for chorale in corpus.train + corpus.valid + corpus.test:
        known |= soprano_windows(chorale, args.window)
    print(f"music21: {len(corpus.train) + len(corpus.valid) + len(corpus.test)} chorales")
    for split in ("train", "valid", "test"):
        pieces = jsb.split(split)
        shares = [len(w & known) / len(w) for w in (soprano_windows(c, args.window) for c in pieces)]
        found, missing = sum(s > 0.5 for s in shares), [i for i, s in enumerate(shares) if s == 0]
        print(f"JSB {split}: {len(pieces)} pieces, {found} in music21, {len(missing)} missing {missing}")


if __name__ == "__main__":
    main()
