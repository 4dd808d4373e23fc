"""The evaluation's disk caches: a piece's likelihood scores and a harmonization, each in a
file named by a hash of everything that determines it (the weights, the settings, the piece),
so a file is reused exactly when recomputing it would give the same result."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from counterpoint.io.files import write_atomically
from counterpoint.model.checkpoint import hash_weights
from counterpoint.model.network import Coconet
from counterpoint.runtime.int8 import int8_path
from counterpoint.sampling import schedule
from counterpoint.sampling.config import SamplerConfig

# Scores kept by ``likelihood(cache=...)``: one .npz file per piece, named by a hash of all that
# determines them, so a file is reused exactly when recomputing it would give the same numbers.
CACHE_FORMAT = 1


_CACHED_FIELDS = ("chronological", "orderings", "frames", "paper_frames")


def _settings_key(model: Coconet, window: bool, temperature: float, chronological: bool) -> str:
    digest = hashlib.sha256(
        json.dumps([CACHE_FORMAT, model.config.to_dict(), window, temperature, chronological]).encode()
    )
    return hash_weights(digest, model, torch.float64, in_order=False).hexdigest()


def _cached_path(cache: str | os.PathLike, key: str, chorale: np.ndarray, orders: list[np.ndarray]) -> Path:
    digest = hashlib.sha256(key.encode())
    digest.update(np.ascontiguousarray(chorale, dtype=np.int64).tobytes())
    for order in orders:
        digest.update(np.ascontiguousarray(order, dtype=np.int64).tobytes())
    return Path(cache) / f"piece-{digest.hexdigest()[:32]}.npz"


def _read_cached(path: Path) -> dict | None:
    """A piece's scores, or None where there are none (or the file is unreadable: rescored)."""
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as archive:
            piece = {name: archive[name] for name in _CACHED_FIELDS}
    except (OSError, ValueError, KeyError):
        return None
    piece["chronological"] = float(piece["chronological"])
    return piece


def _write_cached(path: Path, piece: dict) -> None:
    def write(temporary: Path) -> None:
        with open(temporary, "wb") as file:
            np.savez(file, **{name: np.asarray(piece[name]) for name in _CACHED_FIELDS})

    write_atomically(path, write)


def sampler_settings(model: Coconet, sampler: SamplerConfig) -> tuple[dict, str]:
    """What in the sampler decides a harmonization by ``model`` on this machine, for the caches
    of harmonizations to key on: the sampler's settings, with the precision "auto" resolves to
    here (arithmetic differs between CPUs) and, where the passes are left to the sampler, the
    default pass rule for long pieces; and the SHA-256 of the int8 file where int8 runs
    (quantizing again may calibrate differently; the digest of nothing where it does not)."""
    precision = sampler.resolve_precision(model)
    settings = {**asdict(sampler), "precision": precision}
    if sampler.passes is None:
        settings["long_pieces"] = [schedule.MAX_GIBBS_PASSES, schedule.CAPPED_FINAL_TEMPERATURE]
    int8_file = int8_path(model.source).read_bytes() if precision == "int8" else b""
    return settings, hashlib.sha256(int8_file).hexdigest()


def _harmonization_path(cache: str | os.PathLike, key: str, chorale: np.ndarray, seed: int) -> Path:
    digest = hashlib.sha256(key.encode())
    digest.update(np.ascontiguousarray(chorale, dtype=np.int64).tobytes())
    digest.update(str(seed).encode())
    return Path(cache) / f"harmonized-{digest.hexdigest()[:32]}.npy"


def _read_harmonization(path: Path | None, shape: tuple[int, ...]) -> np.ndarray | None:
    """A cached harmonization, or None where there is none (or it is unreadable: rewritten)."""
    if path is None or not path.exists():
        return None
    try:
        output = np.load(path, allow_pickle=False)
    except (OSError, ValueError):
        return None
    return output if output.shape == shape else None
