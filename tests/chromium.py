"""Debian's Chromium for the tests that drive a real page (Playwright): where it is and the
flags it is launched with. conftest.py's ``browser`` fixture launches it; a module that needs it
says what happens where it is missing (test_browser.py skips, test_local_sampling.py fails)."""

from __future__ import annotations

import shutil
from pathlib import Path

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
INSTALLED = Path(CHROMIUM).exists()
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]
