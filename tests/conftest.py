"""Shared fixtures: the JSB file beside the project (tests that need it skip without it),
tiny models, and a small isolated cache directory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from counterpoint.model.checkpoint import save
from counterpoint.model.network import Coconet, preset

JSB = Path(__file__).resolve().parents[2] / "shared" / "data" / "jsb" / "Jsb16thSeparated.npz"


@pytest.fixture(scope="session")
def jsb_path() -> Path:
    if not JSB.exists():
        pytest.skip(f"{JSB} is not present")
    return JSB


@pytest.fixture(scope="session")
def jsb(jsb_path):
    from counterpoint.data.datasets import load_jsb

    return load_jsb(jsb_path)


@pytest.fixture(scope="session")
def chorale(jsb) -> np.ndarray:
    """A real Bach chorale (JSB test piece 0)."""
    return jsb.test[0]


@pytest.fixture()
def tiny_model() -> Coconet:
    torch.manual_seed(0)
    return Coconet(preset("tiny")).eval()


@pytest.fixture()
def tiny_checkpoint(tmp_path, tiny_model) -> Path:
    path = tmp_path / "tiny.pt"
    save(path, tiny_model)
    return path
