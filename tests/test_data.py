import numpy as np
import pytest

from counterpoint.data.batches import pieces_at_least, random_transposition
from counterpoint.data.datasets import (
    CACHE_VERSION,
    INTERLUDE_STEPS,
    load_dataset,
    load_jsb,
    load_music21,
    split_of,
    without_interludes,
)
from counterpoint.errors import ConfigError, FileFormatError, MissingFileError
from counterpoint.music.representation import DEFAULT_RANGE, SILENCE

# What music21 10.5.1's corpus yields (documented in docs/guide.md): 413 candidate files, of
# which 407 load; 5 are duplicates of other files (2 once their instrumental interludes are
# cut) and 1 has two parts.
MUSIC21_CHORALES = 407


@pytest.mark.jsb
def test_jsb_split_sizes(jsb):
    assert (len(jsb.train), len(jsb.valid), len(jsb.test)) == (229, 76, 77)
    assert sum(len(p) for p in jsb.train) == 55228
    assert all(p.dtype == np.int64 and p.shape[1] == 4 for p in jsb.test)
    assert any((p == SILENCE).any() for p in jsb.train)  # NaN became silence


@pytest.mark.jsb
def test_jsb_json_twin_equals_npz(jsb, jsb_path):
    twin = load_jsb(jsb_path.with_suffix(".json"))
    for a, b in zip(twin.test, jsb.test, strict=True):
        np.testing.assert_array_equal(a, b)


def test_jsb_bad_paths(tmp_path):
    with pytest.raises(MissingFileError):
        load_jsb(tmp_path / "nope.npz")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(FileFormatError, match="not a JSB chorales file"):
        load_jsb(bad)


@pytest.mark.slow
def test_music21_corpus_loads_and_caches(tmp_path, monkeypatch):
    monkeypatch.setenv("COUNTERPOINT_CACHE_DIR", str(tmp_path))
    dataset = load_music21(progress=False)
    total = len(dataset.train) + len(dataset.valid) + len(dataset.test)
    assert total == MUSIC21_CHORALES
    assert len(dataset.skipped) == 6
    assert list(tmp_path.glob(f"music21-chorales-v{CACHE_VERSION}-*.npz"))
    for piece in dataset.train + dataset.valid + dataset.test:  # no instrumental interludes
        np.testing.assert_array_equal(without_interludes(piece), piece)
    cached = load_music21(progress=False)
    for a, b in zip(cached.test, dataset.test, strict=True):
        np.testing.assert_array_equal(a, b)
    assert cached.names == dataset.names
    for split in ("train", "valid", "test"):
        assert all(split_of(name) == split for name in dataset.names[split])
    everything = load_dataset("music21-all", progress=False)  # from the cache
    assert len(everything.train) == MUSIC21_CHORALES and len(everything.valid) == len(dataset.valid)


def test_interludes_are_cut_and_breaths_kept():
    def chord(steps: int) -> list[list[int]]:
        return [[72, 67, 64, 48]] * steps

    def rest(steps: int) -> list[list[int]]:
        return [[SILENCE] * 4] * steps

    soprano_alone = [[72, SILENCE, SILENCE, SILENCE]] * 20
    piece = np.array(
        rest(4) + chord(8) + rest(4) + chord(8) + rest(INTERLUDE_STEPS) + chord(8)
        + soprano_alone + chord(4) + rest(3)
    )  # fmt: skip
    trimmed = without_interludes(piece)
    # the leading and trailing rests and the interlude go; the breath and the soprano alone stay
    expected = np.array(chord(8) + rest(4) + chord(8) + chord(8) + soprano_alone + chord(4))
    np.testing.assert_array_equal(trimmed, expected)
    np.testing.assert_array_equal(without_interludes(expected), expected)


def test_transposition_stays_in_range_and_within_max_shift(bach):
    rng = np.random.default_rng(0)
    for piece in bach.train[:20]:
        for max_shift, limit in ((0, 99), (2, 2)):
            moved = random_transposition(piece, rng, DEFAULT_RANGE, max_shift)
            sounding = piece != SILENCE
            shifts = np.unique(moved[sounding] - piece[sounding])
            assert len(shifts) == 1 and abs(int(shifts[0])) <= limit
            assert DEFAULT_RANGE.low <= moved[sounding].min() and moved[sounding].max() <= DEFAULT_RANGE.high
    # a piece spanning the whole range can only stay where it is
    low, high = DEFAULT_RANGE.low, DEFAULT_RANGE.high
    wide = np.array([[high, 60, 50, low]] * 4)
    assert (random_transposition(wide, rng, DEFAULT_RANGE, 3) == wide).all()


def test_pieces_too_short_for_the_crop_are_an_error(bach):
    with pytest.raises(ConfigError, match="longer than every piece"):
        pieces_at_least(bach.train, 10_000)
