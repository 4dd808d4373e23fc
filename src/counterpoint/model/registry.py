"""The models that ship inside the package (``weights/``), which one is the default (the one
place it is named: the Python API, the CLI and the server all load it through here), and
:func:`load_model`, which takes a checkpoint path, a shipped model's name, or nothing (the
default)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from counterpoint.errors import ConfigError, MissingFileError

if TYPE_CHECKING:  # torch loads only with a model: the CLI's help reads the names without it
    from counterpoint.model.network import Coconet

WEIGHTS_DIR = Path(__file__).parents[1] / "weights"


SHIPPED = {
    "jsb": "Trained on the JSB Chorales train split (the paper's figures: docs/model-card.md)",
    "bach": "jsb fine-tuned on every four-part chorale in music21's corpus; installed by "
    "scripts/retrain-bach.sh, judged on melodies that are not Bach's (docs/model-card.md)",
    "browser": "A small network (20 layers x 40 filters) distilled from jsb, for sampling in the "
    "page on the visitor's device (docs/model-card.md)",
}
# The model loaded when none is named.
DEFAULT = "jsb"
# The shipped model whose weights the page's browser network was distilled from, that
# network's file (int8 ONNX, what ONNX Runtime Web runs) and the shipped model it was quantized
# from: pages served by the teacher sample locally with it.
BROWSER_TEACHER = "jsb"
BROWSER_NETWORK = WEIGHTS_DIR / "browser.int8.onnx"
BROWSER_WEIGHTS = "browser"


def load_shipped(name: str = DEFAULT) -> Coconet:
    """A model that ships inside the package (see :data:`SHIPPED`)."""
    if name not in SHIPPED:
        raise ConfigError(f"unknown shipped model {name!r}: expected one of {', '.join(SHIPPED)}")
    path = WEIGHTS_DIR / f"{name}.pt"
    if not path.exists():
        raise MissingFileError(f"{path}: the shipped model {name!r} is not installed; pass --checkpoint")
    from counterpoint.model.checkpoint import load

    return load(path)


def is_shipped(model: Coconet, name: str) -> bool:
    """Whether ``model`` was loaded from the shipped model ``name``'s file."""
    source = getattr(model, "source", None)
    return source is not None and Path(source).resolve() == (WEIGHTS_DIR / f"{name}.pt").resolve()


def shipped_browser_network(model: Coconet) -> Path | None:
    """The shipped browser network for pages that ``model`` serves: where ``model`` is the
    one it was distilled from and the file is installed; else None."""
    return BROWSER_NETWORK if is_shipped(model, BROWSER_TEACHER) and BROWSER_NETWORK.is_file() else None


def load_model(checkpoint: str | os.PathLike | None = None) -> Coconet:
    """A checkpoint path, a shipped model's name, or (None) the default shipped model."""
    if checkpoint is None:
        return load_shipped()
    if str(checkpoint) in SHIPPED:
        return load_shipped(str(checkpoint))
    from counterpoint.model.checkpoint import load

    return load(checkpoint)
