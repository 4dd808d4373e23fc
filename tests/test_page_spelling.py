"""The page's speller (`static/local/spelling.js`, used for the pieces the page samples itself)
against the one Python rule (`counterpoint.music.spelling`): the same notes get the same names,
every one, with the key estimated and with a key signature given. The JavaScript runs in
Node.js on the committed melodies, the fixture's chorales, a few of music21's Bach chorales
read through `counterpoint.io`, random chromatic lines, and notes whose keys tie.

Identity holds by construction, not by luck: where the Python rule used to leave a choice to
numpy (keys that fit alike, whose order came from rounding; voices in unison, which PS13 names
in the order of an unstable sort), it now decides by a rule both sides follow (KEY_TIE and
partitura's order of keys; one name per unison)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from counterpoint.data.melodies import read_melodies
from counterpoint.io import read_piece
from counterpoint.music.piece import merge_onset
from counterpoint.music.spelling import Key, chorale_key, spell_chorale

ROOT = Path(__file__).resolve().parents[1]
SPELLING_JS = ROOT / "src" / "counterpoint" / "static" / "local" / "spelling.js"
FIXTURE = ROOT / "tests" / "fixtures" / "chorales.json"
NODE = shutil.which("node")
# music21's chorales in minor and major, with flats and sharps and chromatic lines
BACH = ("bwv10.7.mxl", "bwv248.46-5.mxl", "bwv26.6.mxl", "bwv40.8.mxl", "bwv60.5.mxl")
SIGNATURES = (None, -3, 2)  # estimated, and two signatures that need the window's shifts

pytestmark = pytest.mark.skipif(NODE is None, reason="Node.js is not installed (.ci/run installs it)")

SPELL = """
const { spellChorale, choraleKey } = await import(process.argv[1]);
const cases = JSON.parse(require("fs").readFileSync(0, "utf8"));
const out = cases.map(({ pitch, onset, fifths }) => ({
  names: spellChorale(pitch, onset, fifths), key: choraleKey(pitch, onset, fifths),
}));
console.log(JSON.stringify(out));
"""


def _node(script: str, payload: list) -> list:
    """Run `script` in Node.js with spelling.js's URL as its argument and `payload` on stdin."""
    result = subprocess.run(
        [NODE, "--input-type=commonjs", "-e", f"(async () => {{ {script} }})()", SPELLING_JS.as_uri()],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(result.stdout)


def _page(cases: list[tuple[str, np.ndarray, np.ndarray | None, int | None]]) -> list[dict]:
    payload = [
        {"pitch": pitch.T.tolist(), "onset": None if onset is None else onset.T.tolist(), "fifths": fifths}
        for _, pitch, onset, fifths in cases
    ]
    return _node(SPELL, payload)


def _melodies() -> list[tuple[str, np.ndarray, np.ndarray | None, int | None]]:
    """Each melody as a one-voice piece, in its own key signature too."""
    cases = []
    for melody in read_melodies(ROOT / "examples" / "melodies.json"):
        line, struck = melody.line()
        pitch = np.full((len(line), 4), -1)
        onset = np.zeros((len(line), 4), dtype=bool)
        pitch[:, 0], onset[:, 0] = line, struck
        own = None if melody.key.endswith("dorian") else Key.parse(melody.key).fifths
        cases += [(melody.title, pitch, onset, fifths) for fifths in {*SIGNATURES, own}]
    return cases


def _chorales() -> list[tuple[str, np.ndarray, np.ndarray | None, int | None]]:
    """The fixture's chorales (no onsets: a run of one pitch is one note) and a few of music21's
    read from their files (with the files' onsets and key signatures)."""
    from music21 import corpus

    fixture = json.loads(FIXTURE.read_text())
    cases = [
        (f"fixture {split} {i}", np.asarray(chorale), None, fifths)
        for split in ("train", "valid", "test")
        for i, chorale in enumerate(fixture[split])
        for fifths in SIGNATURES
    ]
    for name in BACH:
        piece = read_piece(corpus.getWork(name.removesuffix(".mxl")))
        cases += [(name, piece.pitches, piece.onset, fifths) for fifths in {*SIGNATURES, piece.fifths}]
    return cases


def _random_lines() -> list[tuple[str, np.ndarray, np.ndarray | None, int | None]]:
    """Seeded chromatic lines in one to four voices: steps, leaps, rests, repeated notes,
    voices crossing and in unison."""
    random = np.random.default_rng(39)
    cases = []
    for index in range(150):
        steps = int(random.integers(1, 100))
        pitch = np.full((steps, 4), -1)
        for voice in range(int(random.integers(1, 5))):
            line, note = [], int(random.integers(55, 70))
            while len(line) < steps:
                note = int(np.clip(note + random.choice([-5, -3, -2, -1, -1, 0, 1, 1, 2, 3, 5]), 40, 84))
                line += [note if random.random() > 0.1 else -1] * int(random.choice([1, 2, 4, 8]))
            pitch[:, voice] = line[:steps]
        if random.random() < 0.5:  # the alto doubles the soprano for a while: unisons
            start = int(random.integers(0, steps))
            pitch[start:, 1] = pitch[start:, 0]
        onset = (random.random(pitch.shape) < 0.3) & (pitch != -1)
        cases += [(f"random {index}", pitch, onset, fifths) for fifths in SIGNATURES]
    return cases


def _ties() -> list[tuple[str, np.ndarray, np.ndarray | None, int | None]]:
    """Notes that fit several keys alike (a whole-tone scale, a diminished seventh, a tritone)
    or none (all twelve pitch classes as long)."""
    cases = []
    for tones in ([0, 2, 4, 6, 8, 10], list(range(12)), [0, 3, 6, 9], [0, 4, 8], [0, 6], [0]):
        for tonic in (60, 61, 66):
            line = [tonic + tone for tone in tones for _ in range(4)]
            pitch = np.full((len(line), 4), -1)
            pitch[:, 0], pitch[:, 3] = line, [p - 12 for p in reversed(line)]
            cases += [(f"{tones} on {tonic}", pitch, None, fifths) for fifths in SIGNATURES]
    return cases


@pytest.mark.parametrize("make", [_melodies, _chorales, _random_lines, _ties])
def test_the_page_spells_every_note_as_python(make):
    cases = make()
    page = _page(cases)
    assert len(page) == len(cases) > 0
    for (name, pitch, onset, fifths), mine in zip(cases, page, strict=True):
        where = f"{name}, key signature {fifths}"
        assert spell_chorale(pitch, onset, fifths).T.tolist() == mine["names"], where
        key = chorale_key(pitch, onset, fifths)
        assert mine["key"] == {"fifths": key.fifths, "mode": key.mode}, where


MERGE = """
const { mergeOnset } = await import(process.argv[1]);
const cases = JSON.parse(require("fs").readFileSync(0, "utf8"));
console.log(JSON.stringify(cases.map(({ pitch, given, known }) => mergeOnset(pitch, given, known))));
"""


def test_a_local_result_has_the_onsets_the_server_gives_it():
    """The onsets a result's names are computed with (`piece.merge_onset`): given notes keep
    theirs, written notes are one per run of one pitch."""
    random = np.random.default_rng(42)
    cases = []
    for _ in range(30):
        pitch = random.choice([-1, 60, 62], size=(int(random.integers(1, 30)), 4))
        given = random.random(pitch.shape) < 0.4 if random.random() < 0.7 else None
        cases.append((pitch, given, random.random(pitch.shape) < 0.5))
    payload = [
        {"pitch": p.T.tolist(), "given": None if g is None else g.T.tolist(), "known": k.T.tolist()}
        for p, g, k in cases
    ]
    page = _node(MERGE, payload)
    for (pitch, given, known), mine in zip(cases, page, strict=True):
        assert merge_onset(pitch, given, known).T.tolist() == mine
