"""What the maintained benchmarks share: the JSB path, the --data and --checkpoint options, a
one-line description of the machine for every figure's header, a `counterpoint serve` to time
(browser_speed.py, serve_load.py), medians and percentiles of timings, and the paper's protocol
paired by piece (split_pairs.py).

The benchmarks run as scripts from the repository root (``python benchmarks/NAME.py``), so this
module is imported as ``common``. The one-off studies in ``experiments/`` import it the same way
with ``PYTHONPATH=src:benchmarks``.
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np

# the one place the JSB file's default path is written: the data set beside the project
# (../shared/data/jsb), or $COUNTERPOINT_JSB (as the tests read it)
JSB = Path(
    os.environ.get("COUNTERPOINT_JSB")
    or Path(__file__).resolve().parents[2] / "shared" / "data" / "jsb" / "Jsb16thSeparated.npz"
)

# how long a `counterpoint serve` may take to answer: torch and the model load slowly on a busy machine
SERVER_START_SECONDS = 120

# CPU features that decide which arithmetic the sampler runs fastest (README, "Speed")
FLAGS = {"avx512f": "AVX-512", "avx512_bf16": "AVX-512 BF16", "amx_tile": "AMX", "avx2": "AVX2"}


def add_data(parser: argparse.ArgumentParser, help: str = "Jsb16thSeparated.npz or .json") -> None:
    parser.add_argument("--data", type=Path, default=JSB, help=f"{help} (default: {JSB})")


def add_checkpoint(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", default=None, help="path or shipped name (default: shipped jsb)")


def cpu_description() -> str:
    """The CPU's model name, its cores, the vector features that matter, and torch's threads."""
    import torch

    name, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                name = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
    except OSError:  # not Linux: the name alone
        pass
    features = ", ".join(label for flag, label in FLAGS.items() if flag in flags) or "no AVX2"
    return (
        f"{name}, {os.cpu_count()} cores ({features}); torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads"
    )


def start_server(
    checkpoint: str | None, *options: str, env: dict[str, str] | None = None
) -> tuple[str, subprocess.Popen]:
    """`counterpoint serve` (the shipped model unless ``checkpoint``) with ``options`` on a free
    loopback port, ``env`` added to this environment, its output discarded: its URL and process,
    once its /api/health answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [sys.executable, "-m", "counterpoint", "serve", "--port", str(port), *options]
    command += ["--checkpoint", checkpoint] if checkpoint else []
    environment = {**os.environ, **(env or {})}
    process = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(url + "/api/health", timeout=1):
                return url, process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("the server did not start")


def stop_server(process: subprocess.Popen) -> None:
    process.terminate()
    process.wait(timeout=30)


def percentile(values: list[float], q: float) -> float:
    """The ``q``th percentile of ``values``; NaN where there are none (every request failed)."""
    return float(np.percentile(values, q)) if len(values) else float("nan")


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def paired_ratio(differences: np.ndarray, denominators: np.ndarray) -> tuple[float, float]:
    """A difference between two models pooled over pieces (the sum of the per-piece
    ``differences`` over the sum of their ``denominators``: frames, steps, notes) and its
    standard error as a ratio estimator's: the spread of the per-piece residuals."""
    mean = differences.sum() / denominators.sum()
    if len(differences) < 2:
        return float(mean), 0.0
    spread = np.std(differences - mean * denominators, ddof=1)
    return float(mean), float(spread * np.sqrt(len(differences)) / denominators.sum())


def paired_table(scores: dict[str, list[dict | None]], pieces: list[np.ndarray], split: str) -> str:
    """The paper's protocol from each model's cached scores of ``pieces`` (None where not
    scored), on the pieces every model finished, paired by piece against the first model."""
    from counterpoint.evaluation import paper_protocol_losses

    common = [i for i in range(len(pieces)) if all(s[i] is not None for s in scores.values())]
    if not common:
        return f"no {split} piece was scored by every model"
    losses = {name: [paper_protocol_losses(s[i]) for i in common] for name, s in scores.items()}
    frames = np.array([len(pieces[i]) for i in common])
    reference = next(iter(losses.values()))
    lines = [
        f"paper's protocol on the {len(common)} of {len(pieces)} {split} pieces every model "
        f"finished ({frames.sum()} frames); difference paired by piece, against {next(iter(losses))}",
        "",
        "| model | pieces it finished | nats per frame | ± | difference | ± | exact: orderings' mean "
        "| exact: per-piece ensemble |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, piece_losses in losses.items():
        every = np.concatenate(piece_losses)
        totals = np.array([(a - b).sum() for a, b in zip(piece_losses, reference, strict=True)])
        difference, error = paired_ratio(totals, frames)
        lines.append(
            f"| {name} | {sum(s is not None for s in scores[name])} "
            f"| {every.mean():.4f} | {every.std() / np.sqrt(len(every)):.4f} "
            f"| {difference:+.4f} | {error:.4f} "
            f"| {exact_likelihoods(scores[name], common, frames)} |"
        )
    return "\n".join(lines)


def paired_harmonizations(written: dict[str, list[np.ndarray]], pieces: list[np.ndarray], split: str) -> str:
    """Each model's harmonizations of the ``pieces``' sopranos (``written``, in the pieces'
    order), paired by piece against the first model: the share of Bach's alto, tenor and bass
    notes written, and the voice-leading faults per 100 steps. Each figure is pooled over the
    pieces (a ratio); its difference's standard error that of :func:`paired_ratio`."""
    from counterpoint.evaluation import FAULTS, voice_leading_faults
    from counterpoint.music.representation import SILENCE

    sounding = np.array([(piece[:, 1:] != SILENCE).sum() for piece in pieces])
    steps = np.array([len(piece) for piece in pieces])

    def counts(outputs: list[np.ndarray]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per figure: its numerator per piece, and the denominator it is a share of."""
        faults = [voice_leading_faults(output) for output in outputs]
        bach = [
            ((output[:, 1:] == piece[:, 1:]) & (piece[:, 1:] != SILENCE)).sum()
            for output, piece in zip(outputs, pieces, strict=True)
        ]
        figures = {"Bach's notes (%)": (100.0 * np.array(bach), sounding)}
        for fault in FAULTS:
            per_piece = 100.0 * np.array([f[fault] for f in faults])
            figures[f"{fault.replace('_', ' ')} per 100 steps"] = (per_piece, steps)
        return figures

    tables = {name: counts(outputs) for name, outputs in written.items()}
    names = list(tables)
    header = ["figure", *names] + [f"{name} - {names[0]} (± SE)" for name in names[1:]]
    rows = []
    for figure, (_, denominator) in tables[names[0]].items():
        total = denominator.sum()
        row = [figure] + [f"{tables[name][figure][0].sum() / total:.3f}" for name in names]
        for name in names[1:]:
            mean, error = paired_ratio(tables[name][figure][0] - tables[names[0]][figure][0], denominator)
            row.append(f"{mean:+.3f} ± {error:.3f}")
        rows.append(row)
    title = f"harmonizing the {len(pieces)} {split} sopranos ({steps.sum()} steps), paired by piece"
    return title + "\n\n" + markdown_table(header, rows)


def exact_likelihoods(scores: list[dict | None], common: list[int], frames: np.ndarray) -> str:
    """Two exact likelihoods beside the protocol, nats per frame over the pieces ``common``:
    the random orderings' mean, and their per-piece ensemble (``log mean_k p(x | o_k)``). A
    model that only sharpens, chasing the protocol, worsens these (docs/notes, session 5)."""
    totals = [scores[i]["orderings"] for i in common]  # (K,) log-likelihoods of each piece
    mean = -sum(t.mean() for t in totals) / frames.sum()
    ensemble = -sum(np.logaddexp.reduce(t) - np.log(len(t)) for t in totals) / frames.sum()
    return f"{mean:.4f} | {ensemble:.4f}"
