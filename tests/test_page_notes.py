"""The page's splitter of a voice into notes (`static/js/music.js`, `notesOf`) against the
Python one (`counterpoint.music.notes.notes`): the same lines and onsets give the same notes.
The JavaScript runs in Node.js, on the committed melodies and on random lines."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from counterpoint.data.melodies import read_melodies
from counterpoint.music.notes import notes

ROOT = Path(__file__).resolve().parents[1]
MUSIC_JS = ROOT / "src" / "counterpoint" / "static" / "js" / "music.js"
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(NODE is None, reason="Node.js is not installed (.ci/run installs it)")

SPLIT = """
const { notesOf, emptyPiece } = await import(process.argv[1]);
const lines = JSON.parse(require("fs").readFileSync(0, "utf8"));
const out = lines.map(({ pitch, onset }) => {
  const piece = emptyPiece(pitch.length);
  piece.pitch[0] = pitch; piece.onset[0] = onset; piece.origin[0] = pitch.map(() => "user");
  return notesOf(piece, 0).map((n) => [n.start, n.end - n.start, n.pitch]);
});
console.log(JSON.stringify(out));
"""


def _page_notes(lines: list[tuple[np.ndarray, np.ndarray]]) -> list[list[list[int]]]:
    payload = [{"pitch": p.tolist(), "onset": o.tolist()} for p, o in lines]
    result = subprocess.run(
        [NODE, "--input-type=commonjs", "-e", f"(async () => {{ {SPLIT} }})()", MUSIC_JS.as_uri()],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(result.stdout)


def _lines() -> list[tuple[np.ndarray, np.ndarray]]:
    lines = [melody.line() for melody in read_melodies(ROOT / "examples" / "melodies.json")]
    random = np.random.default_rng(0)
    for _ in range(40):  # held and repeated notes, rests, notes struck on any step
        pitch = random.choice([-1, 60, 62, 64], size=int(random.integers(1, 40)))
        onset = (random.random(len(pitch)) < 0.3) & (pitch != -1)
        lines.append((pitch, onset))
    return lines


def test_the_page_splits_a_voice_into_the_same_notes_as_python():
    lines = _lines()
    page = _page_notes(lines)
    for (pitch, onset), mine in zip(lines, page, strict=True):
        assert [list(n) for n in notes(pitch, onset)] == mine
