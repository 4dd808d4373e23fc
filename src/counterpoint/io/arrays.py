"""The package's own array files, which keep every note as written.

- ``.json``: ``{"voices": [...], "chorale": rows (steps, 4), "onset": rows (steps, 4) of
  booleans, "time_signature": "3/4", "key_fifths": -1, "title": "...", "tempo_bpm": 72,
  "pickup": 4}``; only ``chorale`` is required (``pickup``: 16ths before the first full bar).
- ``.npy``: a structured ``(steps, 4)`` array with fields ``pitch`` (int) and ``onset`` (bool).

Old files, a plain ``(steps, 4)`` (or ``(steps,)``) pitch array without onsets, still load:
each run of equal pitches is then one note.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from counterpoint.errors import CounterpointError, FileFormatError
from counterpoint.io.files import existing_file, write_atomically
from counterpoint.music.piece import DEFAULT_TIME_SIGNATURE, Piece
from counterpoint.music.representation import NUM_VOICES, SILENCE, VOICES

NPY_FIELDS = np.dtype([("pitch", np.int64), ("onset", bool)])


def _load(path: Path) -> tuple[np.ndarray, np.ndarray | None, dict]:
    """Pitches, onsets (None in an old file) and the other fields a file holds."""
    if path.suffix.lower() == ".npy":
        array = np.load(path, allow_pickle=False)
        if array.dtype.names is not None:
            return array["pitch"], array["onset"], {}
        return array, None, {}
    data = json.loads(path.read_text())
    if not isinstance(data, dict):
        return np.asarray(data), None, {}
    onset = data.get("onset")
    return np.asarray(data["chorale"]), None if onset is None else np.asarray(onset, dtype=bool), data


def read_array_piece(path: str | os.PathLike) -> Piece:
    """A piece from ``.npy`` or ``.json`` (see the module's docstring)."""
    path = existing_file(path)
    try:
        array, onset, fields = _load(path)
    except (ValueError, KeyError, OSError, TypeError):
        raise FileFormatError(f"{path.name}: not a readable chorale array") from None
    if array.ndim == 1:
        array = np.stack([array] + [np.full_like(array, SILENCE)] * 3, axis=1)
        onset = None if onset is None or onset.ndim != 1 else np.stack([onset] + [onset & False] * 3, axis=1)
    if array.ndim != 2 or array.shape[1] != NUM_VOICES or array.size == 0:
        raise FileFormatError(f"{path.name}: expected a (steps, 4) array, got shape {array.shape}")
    if not np.issubdtype(array.dtype, np.number):
        raise FileFormatError(f"{path.name}: chorale entries must be MIDI pitch numbers")
    try:
        return Piece.of(
            array.astype(np.int64),
            onset,
            fields.get("key_fifths"),
            str(fields.get("time_signature", DEFAULT_TIME_SIGNATURE)),
            fields.get("title") or path.stem,
            fields.get("tempo_bpm"),
            fields.get("pickup", 0),
        )
    except CounterpointError as error:
        raise FileFormatError(f"{path.name}: {error}") from None


def read_array(path: str | os.PathLike) -> np.ndarray:
    """The pitches ``(steps, 4)`` of :func:`read_array_piece`, from a downbeat."""
    return read_array_piece(path).aligned_pitches()


def write_array(piece: Piece | np.ndarray, path: str | os.PathLike, onset: np.ndarray | None = None) -> None:
    """Write a piece (or a chorale array with optional ``onset``) as ``.npy`` or ``.json``."""
    piece = Piece.of(piece, onset)
    if Path(path).suffix.lower() == ".npy":
        array = np.empty(piece.pitches.shape, dtype=NPY_FIELDS)
        array["pitch"], array["onset"] = piece.pitches, piece.onset
        write_atomically(path, lambda temporary: np.save(temporary, array))
        return
    data = {
        "voices": list(VOICES),
        "chorale": piece.pitches.tolist(),
        "onset": piece.onset.tolist(),
        "time_signature": piece.time_signature,
    }
    if piece.fifths is not None:
        data["key_fifths"] = piece.fifths
    if piece.title:
        data["title"] = piece.title
    if piece.tempo_bpm is not None:
        data["tempo_bpm"] = piece.tempo_bpm
    if piece.pickup:
        data["pickup"] = piece.pickup
    text = json.dumps(data)
    write_atomically(path, lambda temporary: temporary.write_text(text))
