"""The models that ship inside the package (``weights/``), and :func:`load_model`, which
takes a checkpoint path, a shipped model's name, or nothing (the default shipped model)."""

from __future__ import annotations

import os
from pathlib import Path

from counterpoint.errors import ConfigError, MissingFileError
from counterpoint.model.checkpoint import load
from counterpoint.model.network import Coconet

WEIGHTS_DIR = Path(__file__).parents[1] / "weights"


SHIPPED = {
    "jsb": "Trained on the JSB Chorales train split (the default; benchmark figures in docs/model-card.md)",
    "music21": "Trained on every four-part chorale in music21's corpus (no held-out benchmark)",
}


def load_shipped(name: str = "jsb") -> Coconet:
    """A model that ships inside the package (see :data:`SHIPPED`)."""
    if name not in SHIPPED:
        raise ConfigError(f"unknown shipped model {name!r}: expected one of {', '.join(SHIPPED)}")
    path = WEIGHTS_DIR / f"{name}.pt"
    if not path.exists():
        raise MissingFileError(f"{path}: the shipped model {name!r} is not installed; pass --checkpoint")
    return load(path)


def load_model(checkpoint: str | os.PathLike | None = None) -> Coconet:
    """A checkpoint path, a shipped model's name, or (None) the default shipped model."""
    if checkpoint is None:
        return load_shipped()
    if str(checkpoint) in SHIPPED:
        return load_shipped(str(checkpoint))
    return load(checkpoint)
