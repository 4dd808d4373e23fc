"""Shared fixtures: Bach chorales and tiny models.

Most tests need only "some real Bach chorales": they use ``bach``, the committed fixture
``tests/fixtures/chorales.json`` (56 chorales from music21's corpus, made by
``scripts/make-test-fixture.py``), so a fresh clone runs them. The few that need the JSB file
itself (its split sizes, its JSON twin) ask for ``jsb`` or ``jsb_path``, carry
``@pytest.mark.jsb``, and skip only where the file is absent. The file is
``$COUNTERPOINT_JSB`` if set, else ``../shared/data/jsb/Jsb16thSeparated.npz`` beside the project.

Tests that need a real `counterpoint serve` ask for ``server`` (the tiny model, default options)
or ``serve`` (start one with options); tests/servers.py starts and stops them. Tests that drive
the page ask for ``browser``, Debian's Chromium (tests/chromium.py).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import pytest
import torch
from chromium import CHROMIUM, FLAGS
from servers import Server, running_server

from counterpoint.data.datasets import Dataset, load_jsb
from counterpoint.model.checkpoint import save
from counterpoint.model.network import Coconet, preset

JSB = Path(
    os.environ.get("COUNTERPOINT_JSB")
    or Path(__file__).resolve().parents[2] / "shared" / "data" / "jsb" / "Jsb16thSeparated.npz"
)
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "chorales.json"


def pytest_collection_modifyitems(items):
    """A test that reads the JSB file says so with ``@pytest.mark.jsb`` (so ``-m "not jsb"``
    selects what a clone without it can run)."""
    unmarked = [
        item.nodeid
        for item in items
        if {"jsb", "jsb_path"} & set(getattr(item, "fixturenames", ())) and not item.get_closest_marker("jsb")
    ]
    if unmarked:
        raise pytest.UsageError(f"these tests read the JSB file without @pytest.mark.jsb: {unmarked}")


@pytest.fixture(scope="session")
def bach_path() -> Path:
    """The fixture file, in the JSB JSON layout: a ``--data`` path the CLI reads as it is."""
    return FIXTURE


@pytest.fixture(scope="session")
def bach(bach_path) -> Dataset:
    """56 Bach chorales from music21's corpus (32 train, 8 valid, 16 test), named by file."""
    dataset = load_jsb(bach_path)
    dataset.name = "music21-fixture"
    dataset.names = json.loads(bach_path.read_text())["names"]
    return dataset


@pytest.fixture(scope="session")
def jsb_path() -> Path:
    if not JSB.exists():
        pytest.skip(f"{JSB} is not present")
    return JSB


@pytest.fixture(scope="session")
def jsb(jsb_path) -> Dataset:
    return load_jsb(jsb_path)


@pytest.fixture(scope="session")
def chorale(bach) -> np.ndarray:
    """A real Bach chorale (the fixture's first test piece, bwv112.5-sc; 160 steps)."""
    return bach.test[0]


@pytest.fixture()
def tiny_model() -> Coconet:
    torch.manual_seed(0)
    return Coconet(preset("tiny")).eval()


@pytest.fixture()
def tiny_checkpoint(tmp_path, tiny_model) -> Path:
    path = tmp_path / "tiny.pt"
    save(path, tiny_model)
    return path


@pytest.fixture()
def serve(tiny_checkpoint) -> Iterator[Callable[..., Server]]:
    """Start a `counterpoint serve` of the tiny model: ``serve(*options, env=None)``; every server
    a test starts is stopped after it."""
    with ExitStack() as servers:

        def start(*options: str, env: dict[str, str] | None = None) -> Server:
            return servers.enter_context(running_server(tiny_checkpoint, *options, env=env))

        yield start


@pytest.fixture()
def server(serve) -> Server:
    """A `counterpoint serve` of the tiny model with the default options."""
    return serve()


@pytest.fixture()
def browser():
    """Debian's headless Chromium, driven by Playwright; closed after the test."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()
