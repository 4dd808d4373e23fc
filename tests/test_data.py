import numpy as np
import pytest

from counterpoint.data import load_dataset, load_jsb, load_music21, split_of, training_batches
from counterpoint.errors import ConfigError, FileFormatError, MissingFileError
from counterpoint.representation import DEFAULT_RANGE, SILENCE

# What music21 10.5.1's corpus yields (documented in the README): 413 candidate files, of
# which 409 load; 3 are duplicates of other files and 1 has two parts.
MUSIC21_CHORALES = 409


def test_jsb_split_sizes(jsb):
    assert (len(jsb.train), len(jsb.valid), len(jsb.test)) == (229, 76, 77)
    assert sum(len(p) for p in jsb.train) == 55228
    assert all(p.dtype == np.int64 and p.shape[1] == 4 for p in jsb.test)
    assert any((p == SILENCE).any() for p in jsb.train)  # NaN became silence


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
    assert len(dataset.skipped) == 4
    assert list(tmp_path.glob("music21-chorales-v1-*.npz"))
    cached = load_music21(progress=False)
    for a, b in zip(cached.test, dataset.test, strict=True):
        np.testing.assert_array_equal(a, b)
    assert cached.names == dataset.names
    for split in ("train", "valid", "test"):
        assert all(split_of(name) == split for name in dataset.names[split])
    everything = load_dataset("music21-all", progress=False)  # from the cache
    assert len(everything.train) == MUSIC21_CHORALES and len(everything.valid) == len(dataset.valid)


def test_training_batches_crop_and_transpose(jsb):
    rng = np.random.default_rng(0)
    batches = training_batches(jsb.train, batch_size=8, crop_steps=64, rng=rng)
    shifted = 0
    for _ in range(5):
        batch = next(batches)
        assert batch.shape == (8, 64, 4)
        sounding = batch[batch != SILENCE]
        assert sounding.min() >= DEFAULT_RANGE.low and sounding.max() <= DEFAULT_RANGE.high
        shifted += 1
    assert shifted == 5
    with pytest.raises(ConfigError, match="longer than every piece"):
        next(training_batches(jsb.train, 2, 10_000, rng))
