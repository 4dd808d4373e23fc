"""Datasets of Bach chorales: the music21 corpus and the JSB Chorales, cached, in one shape.

Two sources, one shape (:class:`Dataset`: train/valid/test lists of ``(steps, 4)`` arrays):

- ``music21`` (default, offline): every four-part Bach chorale in the corpus that music21
  ships, quantized to 16ths. Parsed once (a progress bar shows), then cached in a versioned
  ``.npz`` in the user's cache directory. The split is fixed: a piece goes to test, valid or
  train by the MD5 of its corpus file name (digest mod 10: 0 test, 1 valid, else train), so it
  never depends on the music21 version's file order.
- ``jsb``: the JSB Chorales 16th-note split that the Coconet paper used
  (``Jsb16thSeparated.npz`` or its JSON twin), from a path the user gives.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from counterpoint.errors import (
    ConfigError,
    CounterpointError,
    FileFormatError,
    MissingFileError,
)
from counterpoint.music.notes import segments
from counterpoint.music.representation import (
    DEFAULT_RANGE,
    NUM_VOICES,
    SILENCE,
    PitchRange,
)

CACHE_VERSION = 2  # 2: stretches where all four voices rest for a bar or more are cut
# a stretch of at least this many steps (a 4/4 bar) where every voice rests is not a chorale's
# breath but the instruments playing alone (music21's settings keep their ritornellos as rests)
INTERLUDE_STEPS = 16
SPLITS = ("train", "valid", "test")


@dataclass
class Dataset:
    """Chorales by split; ``names`` says where each came from; ``skipped`` why some didn't."""

    name: str
    train: list[np.ndarray]
    valid: list[np.ndarray]
    test: list[np.ndarray]
    names: dict[str, list[str]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    def split(self, split: str) -> list[np.ndarray]:
        if split not in SPLITS:
            raise ConfigError(f"unknown split {split!r}: expected one of {', '.join(SPLITS)}")
        return getattr(self, split)

    def statistics(self) -> dict:
        """Counts, lengths and ranges per split, for ``counterpoint data``."""
        stats: dict = {"dataset": self.name, "skipped": len(self.skipped)}
        for split in SPLITS:
            pieces = self.split(split)
            lengths = np.array([len(piece) for piece in pieces]) if pieces else np.zeros(1)
            stacked = np.concatenate(pieces) if pieces else np.full((1, 4), SILENCE)
            sounding = [stacked[:, v][stacked[:, v] != SILENCE] for v in range(NUM_VOICES)]
            stats[split] = {
                "pieces": len(pieces),
                "steps": int(lengths.sum()) if pieces else 0,
                "min_steps": int(lengths.min()),
                "median_steps": int(np.median(lengths)),
                "max_steps": int(lengths.max()),
                "voice_ranges": [[int(s.min()), int(s.max())] if s.size else None for s in sounding],
            }
        return stats


# --------------------------------------------------------------------------- JSB file


def _nan_to_silence(piece) -> np.ndarray:
    array = np.asarray(piece, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != NUM_VOICES:
        raise FileFormatError(f"expected pieces of shape (steps, 4), got {array.shape}")
    array = np.where(np.isnan(array) | (array < 0), SILENCE, array)
    return array.astype(np.int64)


def load_jsb(path: str | os.PathLike) -> Dataset:
    """The JSB Chorales split from ``Jsb16thSeparated.npz`` or ``Jsb16thSeparated.json``."""
    path = Path(path)
    if path.is_dir():
        path = path / "Jsb16thSeparated.npz"
    if not path.exists():
        raise MissingFileError(f"{path}: no such file (give Jsb16thSeparated.npz or .json)")
    try:
        if path.suffix.lower() == ".npz":
            with np.load(path, allow_pickle=True, encoding="latin1") as archive:
                raw = {split: list(archive[split]) for split in SPLITS}
        elif path.suffix.lower() == ".json":
            data = json.loads(path.read_text())
            raw = {split: data[split] for split in SPLITS}
        else:
            raise FileFormatError(f"{path}: expected a .npz or .json JSB file")
        splits = {split: [_nan_to_silence(piece) for piece in raw[split]] for split in SPLITS}
    except CounterpointError:
        raise
    except Exception as error:  # numpy/json raise many types for bad files
        raise FileFormatError(f"{path}: not a JSB chorales file ({error})") from None
    names = {split: [f"jsb-{split}-{i}" for i in range(len(splits[split]))] for split in SPLITS}
    return Dataset("jsb", **splits, names=names)


# --------------------------------------------------------------------------- music21 corpus


def cache_dir() -> Path:
    """``$COUNTERPOINT_CACHE_DIR``, else ``$XDG_CACHE_HOME/counterpoint``, else ~/.cache/..."""
    if "COUNTERPOINT_CACHE_DIR" in os.environ:
        return Path(os.environ["COUNTERPOINT_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "counterpoint"


def split_of(name: str) -> str:
    """The fixed split of a corpus file name: MD5 digest mod 10 -> 0 test, 1 valid, else train."""
    digit = int(hashlib.md5(name.encode()).hexdigest(), 16) % 10
    return "test" if digit == 0 else "valid" if digit == 1 else "train"


def _corpus_paths() -> list[Path]:
    from music21 import corpus

    suffixes = {".mxl", ".xml", ".musicxml", ".krn"}
    return sorted(
        (Path(p) for p in corpus.getComposer("bach") if Path(p).suffix in suffixes),
        key=lambda p: p.name,
    )


def _select_voices(score):
    """The four sung parts of a score: all parts if four, else those named S/A/T/B."""
    parts = list(score.parts)
    if len(parts) == NUM_VOICES:
        return parts, None
    named = {}
    for part in parts:
        label = (part.partName or part.id or "").strip().lower()
        for voice in ("soprano", "alto", "tenor", "bass"):
            if label.startswith(voice) and voice not in named:
                named[voice] = part
    if len(named) == NUM_VOICES:
        return [named[v] for v in ("soprano", "alto", "tenor", "bass")], None
    return None, f"{len(parts)} parts, not four named soprano/alto/tenor/bass"


def without_interludes(chorale: np.ndarray, shortest: int = INTERLUDE_STEPS) -> np.ndarray:
    """``chorale`` without its steps where every voice rests at the start, at the end, and in
    stretches of at least ``shortest`` steps between; shorter rests of all four voices (a
    breath between phrases) stay. Some of music21's settings come from cantatas and the
    Christmas Oratorio with their instrumental interludes left as rests: up to 12 silent bars
    in a row, nothing a chorale's four voices sing and nothing the JSB chorales hold."""
    silent = (chorale == SILENCE).all(axis=1)
    keep = np.ones(len(chorale), dtype=bool)
    for start, length, quiet in segments(silent.astype(np.int64)):
        if quiet and (start == 0 or start + length == len(chorale) or length >= shortest):
            keep[start : start + length] = False
    return chorale[keep]


def parse_corpus_chorale(path: Path, pitch_range: PitchRange = DEFAULT_RANGE):
    """``(chorale, None)`` for a usable corpus file, else ``(None, reason it was skipped)``."""
    from music21 import corpus, stream

    from counterpoint.io.musicxml import score_to_chorale

    try:
        score = corpus.parse(str(path))
    except Exception as error:  # a corpus file music21 itself cannot parse
        return None, f"unparsable ({type(error).__name__})"
    if not isinstance(score, stream.Score) or not score.parts:
        return None, "no parts"
    parts, reason = _select_voices(score)
    if parts is None:
        return None, reason
    four = stream.Score()
    for part in parts:
        four.insert(0, part)
    try:
        chorale = score_to_chorale(four, path.name)
    except CounterpointError as error:
        return None, str(error).split(": ", 1)[-1]
    if (chorale == SILENCE).all(axis=0).any():
        return None, "a voice has no notes"
    chorale = without_interludes(chorale)
    sounding = chorale[chorale != SILENCE]
    if sounding.min() < pitch_range.low or sounding.max() > pitch_range.high:
        return None, f"pitches {sounding.min()}..{sounding.max()} outside the range"
    if len(chorale) < 32:
        return None, "shorter than two measures"
    return chorale, None


def load_music21(refresh: bool = False, progress: bool = True) -> Dataset:
    """Every usable four-part Bach chorale in music21's corpus, split and cached."""
    import music21

    cache = cache_dir() / f"music21-chorales-v{CACHE_VERSION}-m21-{music21.__version__}.npz"
    if cache.exists() and not refresh:
        try:
            return _read_cache(cache)
        except Exception:  # a damaged cache is rebuilt, never fatal
            pass
    from tqdm import tqdm

    pieces: dict[str, list[np.ndarray]] = {split: [] for split in SPLITS}
    names: dict[str, list[str]] = {split: [] for split in SPLITS}
    skipped: dict[str, str] = {}
    seen: set[bytes] = set()
    paths = _corpus_paths()
    for path in tqdm(paths, desc="parsing music21 chorales", disable=not progress, unit="file"):
        chorale, reason = parse_corpus_chorale(path)
        if chorale is None:
            skipped[path.name] = reason
            continue
        digest = hashlib.md5(chorale.tobytes()).digest()
        if digest in seen:  # the corpus holds a few identical settings under two numbers
            skipped[path.name] = "duplicate of another corpus file"
            continue
        seen.add(digest)
        split = split_of(path.name)
        pieces[split].append(chorale)
        names[split].append(path.name)
    dataset = Dataset("music21", **pieces, names=names, skipped=skipped)
    _write_cache(cache, dataset)
    return dataset


def _write_cache(path: Path, dataset: Dataset) -> None:
    from counterpoint.io.files import write_atomically

    arrays = {}
    for split in SPLITS:
        for index, piece in enumerate(dataset.split(split)):
            arrays[f"{split}/{index}"] = piece.astype(np.int16)
    meta = json.dumps({"names": dataset.names, "skipped": dataset.skipped})
    arrays["meta"] = np.frombuffer(meta.encode(), dtype=np.uint8)
    write_atomically(path, lambda temporary: np.savez_compressed(temporary, **arrays))


def _read_cache(path: Path) -> Dataset:
    with np.load(path, allow_pickle=False) as archive:
        meta = json.loads(archive["meta"].tobytes().decode())
        splits = {
            split: [archive[f"{split}/{i}"].astype(np.int64) for i in range(len(meta["names"][split]))]
            for split in SPLITS
        }
    return Dataset("music21", **splits, names=meta["names"], skipped=meta["skipped"])


def load_dataset(source: str = "music21", progress: bool = True) -> Dataset:
    """``"music21"`` for the shipped corpus, ``"music21-all"`` for the same with every piece in
    train (valid then only monitors training, it holds nothing out), or a path to a JSB
    ``.npz``/``.json`` file."""
    if source == "music21":
        return load_music21(progress=progress)
    if source == "music21-all":
        corpus = load_music21(progress=progress)
        return Dataset(
            "music21-all", train=corpus.train + corpus.valid + corpus.test, valid=corpus.valid, test=[]
        )
    return load_jsb(source)


# --------------------------------------------------------------------------- batches


def timed_load(source: str = "music21", refresh: bool = False) -> tuple[Dataset, float]:
    """Load a dataset and return it with the seconds it took (for the CLI's report)."""
    start = time.perf_counter()
    dataset = load_music21(refresh=refresh) if source == "music21" else load_jsb(source)
    return dataset, time.perf_counter() - start
