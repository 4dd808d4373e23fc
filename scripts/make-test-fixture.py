"""Rebuild ``tests/fixtures/chorales.json``: 56 four-part Bach chorales from music21's corpus.

The tests need "some real Bach chorales"; the JSB file (``../shared/data/jsb``) is not in the
repository, so a fresh clone uses this small fixture instead. It is taken from the corpus that
music21 ships (never from the JSB file), parsed exactly as ``counterpoint data music21`` parses
it (16th-note grid, four voices, silence -1), and keeps music21's own fixed split (the MD5 of the
corpus file name), so a fixture piece sits in the same split as in the full ``music21`` dataset.
From each split it takes the first usable pieces by file name: 32 train, 8 valid, 16 test.

The file is in the JSB JSON layout (``{"train": [piece, ...], "valid": ..., "test": ...}``, each
piece a list of ``[soprano, alto, tenor, bass]`` rows), so ``counterpoint.data.datasets.load_jsb`` and
``--data tests/fixtures/chorales.json`` read it as they are; ``names`` and ``about`` are extra
keys they ignore.

    PYTHONPATH=src python scripts/make-test-fixture.py [output]

It parses about 70 corpus files (under a minute). The result depends only on music21's corpus;
the committed file says which music21 version made it.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import music21

from counterpoint.data.datasets import SPLITS, _corpus_paths, parse_corpus_chorale, split_of

QUOTA = {"train": 32, "valid": 8, "test": 16}
OUTPUT = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "chorales.json"


def fixture() -> dict:
    """The first usable corpus chorales of each split, up to its quota, without duplicates."""
    pieces: dict[str, list] = {split: [] for split in SPLITS}
    names: dict[str, list[str]] = {split: [] for split in SPLITS}
    seen: set[bytes] = set()
    for path in _corpus_paths():
        split = split_of(path.name)
        if len(pieces[split]) == QUOTA[split]:
            continue
        chorale, _reason = parse_corpus_chorale(path)
        if chorale is None:
            continue
        digest = hashlib.md5(chorale.tobytes()).digest()
        if digest in seen:  # the corpus holds a few identical settings under two numbers
            continue
        seen.add(digest)
        pieces[split].append(chorale.tolist())
        names[split].append(path.name)
        if all(len(pieces[s]) == QUOTA[s] for s in SPLITS):
            break
    about = (
        f"Test fixture: {sum(QUOTA.values())} four-part Bach chorales from music21 "
        f"{music21.__version__}'s corpus (not the JSB file), 16th-note grid, silence -1, "
        "music21's MD5 split; rebuilt by scripts/make-test-fixture.py"
    )
    return {"about": about, **pieces, "names": names}


def write(data: dict, path: Path) -> None:
    """One piece per line: small, and a diff shows which piece changed."""
    lines = ["{", f'  "about": {json.dumps(data["about"])},']
    for split in SPLITS:
        rows = [json.dumps(piece, separators=(",", ":")) for piece in data[split]]
        lines.append(f'  "{split}": [\n    ' + ",\n    ".join(rows) + "\n  ],")
    lines.append(f'  "names": {json.dumps(data["names"])}')
    lines.append("}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    output = Path(sys.argv[1]) if len(sys.argv) > 1 else OUTPUT
    data = fixture()
    write(data, output)
    counts = ", ".join(f"{len(data[split])} {split}" for split in SPLITS)
    print(f"{output}: {counts} ({output.stat().st_size / 1024:.0f} KiB)")
