"""The package's own array files: ``.npy`` (the chorale array itself) and ``.json``
(``{"chorale": [[s, a, t, b], ...]}``)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from counterpoint.errors import (
    FileFormatError,
)
from counterpoint.io.files import existing_file, write_atomically
from counterpoint.music.representation import NUM_VOICES, SILENCE, VOICES


def read_array(path: str | os.PathLike) -> np.ndarray:
    """A chorale from ``.npy`` (the array) or ``.json`` (``{"chorale": rows}`` or rows)."""
    path = existing_file(path)
    try:
        if path.suffix.lower() == ".npy":
            array = np.load(path, allow_pickle=False)
        else:
            data = json.loads(path.read_text())
            array = np.asarray(data["chorale"] if isinstance(data, dict) else data)
    except (ValueError, KeyError, OSError, TypeError) as error:
        raise FileFormatError(f"{path}: not a readable chorale array ({error})") from None
    if array.ndim == 1:
        array = np.stack([array] + [np.full_like(array, SILENCE)] * 3, axis=1)
    if array.ndim != 2 or array.shape[1] != NUM_VOICES or array.size == 0:
        raise FileFormatError(f"{path}: expected a (steps, 4) array, got shape {array.shape}")
    if not np.issubdtype(array.dtype, np.number):
        raise FileFormatError(f"{path}: chorale entries must be MIDI pitch numbers")
    return array.astype(np.int64)


def write_array(chorale: np.ndarray, path: str | os.PathLike) -> None:
    chorale = np.asarray(chorale, dtype=np.int64)
    if Path(path).suffix.lower() == ".npy":
        write_atomically(path, lambda temporary: np.save(temporary, chorale))
    else:
        text = json.dumps({"voices": list(VOICES), "chorale": chorale.tolist()})
        write_atomically(path, lambda temporary: temporary.write_text(text))
