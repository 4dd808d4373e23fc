"""Where the paper's figure comes from: the paper's protocol (Magenta's ``FrameEvaluator``, 5
random orderings, each frame's probability averaged over them) broken down by how much of the
piece was known when an ordering reached the frame.

For a frame ``t`` the figure is ``-log m_t`` with ``m_t = mean_k p_k(t)``, ``p_k(t)`` the
probability ordering ``k`` gave the frame. Improving ``log p_k(t)`` by ``d`` improves the figure
by about ``d * p_k(t) / (5 m_t)``: that fraction is the ordering's *share* of the frame. Summed
over the orderings that reached their frame with a given fraction of the piece known, the
share says what a better model in that kind of context is worth to the figure. Frames are also
split into those where some voice starts a note and those where every voice holds.

    python experiments/protocol_breakdown.py --checkpoints jsb --split valid --pieces 10

With several checkpoints, each is measured on the same pieces and orderings (seed 0, as
``counterpoint evaluate`` and ``experiments/calibration.py`` draw them), so the figures can be
compared row by row.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from common import JSB

from counterpoint.data.datasets import load_jsb
from counterpoint.evaluation import magenta_frame_log_probs, map_pieces, on_device, random_orderings
from counterpoint.model.registry import load_model
from counterpoint.music.notes import onsets
from counterpoint.music.representation import SILENCE

BINS = np.linspace(0.0, 1.0, 6)  # fraction of the piece's steps known when the frame is reached


def frame_figures(model, chorale: np.ndarray, orders: list[np.ndarray]):
    """Per ordering and step: the log-probability of the frame (``(K, T)``) under the paper's
    protocol, and the fraction of the piece's steps known when the ordering reached it."""
    steps = len(chorale)
    log_p = np.zeros((len(orders), steps))
    known = np.zeros((len(orders), steps))
    for k, order in enumerate(orders):
        np.add.at(log_p[k], order[:, 1], magenta_frame_log_probs(model, chorale, order))
        sequence = order[np.r_[True, order[1:, 1] != order[:-1, 1]], 1]  # sounding steps in order
        known[k, sequence] = np.arange(len(sequence)) / steps
        # a silent step is known from the start (never scored: its log_p stays 0)
    return log_p, known


def breakdown(model, pieces: list[np.ndarray], orderings: int = 5, workers: int = 1) -> dict:
    orders = random_orderings(pieces, orderings, seed=0)  # as `counterpoint evaluate` draws them
    figures = [figure for _, figure in sorted(map_pieces(frame_figures, model, pieces, orders, workers))]
    log_ps, knowns, helds, sounding = [], [], [], []
    for chorale, (log_p, known) in zip(pieces, figures, strict=True):
        log_ps.append(log_p)
        knowns.append(known)
        helds.append(~onsets(chorale).any(axis=1))
        sounding.append((chorale != SILENCE).any(axis=1))
    log_p, known = np.concatenate(log_ps, axis=1), np.concatenate(knowns, axis=1)
    held, sounding = np.concatenate(helds), np.concatenate(sounding)
    top = log_p.max(axis=0)
    mean = np.exp(log_p - top).mean(axis=0)
    loss = -(top + np.log(mean))  # per frame, as counterpoint evaluate reports it
    share = np.exp(log_p - top) / (orderings * mean)  # (K, frames), each frame's shares sum to 1
    bin_of = np.clip(np.digitize(known, BINS) - 1, 0, len(BINS) - 2)
    rows = []
    for b in range(len(BINS) - 1):
        for label, kind in (("with an onset", ~held), ("held", held)):
            cell = (bin_of == b) & (kind & sounding)[None, :]
            rows.append(
                {
                    "known": f"{BINS[b]:.0%}-{BINS[b + 1]:.0%}",
                    "frames": label,
                    "nll": float(-log_p[cell].mean()),
                    "share": float(share[cell].sum() / loss.size),
                }
            )
    return {
        "figure": float(loss.mean()),
        "sem": float(loss.std() / np.sqrt(loss.size)),
        "frames": int(loss.size),
        "onset_part": float(loss[~held].sum() / loss.size),
        "held_part": float(loss[held].sum() / loss.size),
        "rows": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--checkpoints", nargs="+", default=["jsb"])
    parser.add_argument("--data", default=str(JSB))
    parser.add_argument("--split", default="valid")
    parser.add_argument("--pieces", type=int, default=10, help="the first N pieces of the split")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument(
        "--workers", type=int, default=1, help="processes of one thread each, sharing the pieces"
    )
    parser.add_argument("--device", default="cpu", help="cpu, or cuda to score on a GPU")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    pieces = load_jsb(args.data).split(args.split)[: args.pieces]
    print(
        f"the paper's protocol on the first {len(pieces)} pieces of {args.split}, 5 random orderings (seed 0)"
    )
    for checkpoint in args.checkpoints:
        start = time.perf_counter()
        model = on_device(load_model(checkpoint), args.device)
        result = breakdown(model, pieces, workers=args.workers)
        print(
            f"\n{checkpoint}: {result['figure']:.4f} ± {result['sem']:.4f} nats per frame over "
            f"{result['frames']} frames (frames with an onset: {result['onset_part']:.4f}, held frames: "
            f"{result['held_part']:.4f}; {time.perf_counter() - start:.0f} s)"
        )
        print(
            "| piece known when reached | frames | NLL of the frame in that ordering | share of the figure |"
        )
        print("|---|---|---|---|")
        for row in result["rows"]:
            print(f"| {row['known']} | {row['frames']} | {row['nll']:.3f} | {row['share']:.3f} |")


if __name__ == "__main__":
    main()
