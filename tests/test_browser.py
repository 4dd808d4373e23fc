"""The web page in a real headless Chromium (Debian's, driven by Playwright) against a live
server: place notes, harmonize, see four voices, select and refill, download the MIDI.
Screenshots go to test-artifacts/ for people to look at."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import mido
import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def server(tiny_checkpoint):
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "counterpoint",
            "serve",
            "--checkpoint",
            str(tiny_checkpoint),
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    # a loaded machine can take tens of seconds to import torch and music21: wait up to a
    # minute, but stop at once if the server died
    deadline = time.monotonic() + 60
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail("server did not start: " + process.stdout.read().decode()[-2000:])
            time.sleep(0.1)
    yield url
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture()
def page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        context = browser.new_context(viewport={"width": 1200, "height": 900}, accept_downloads=True)
        page = context.new_page()
        page.errors = []
        page.on("pageerror", lambda error: page.errors.append(str(error)))
        yield page
        browser.close()


def _notes(page, voice: int) -> int:
    return page.locator(f"#staff g.note[data-voice='{voice}']").count()


def test_write_harmonize_refill_download(server, page, tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    page.goto(server)
    staff = page.locator("#staff")
    box = staff.bounding_box()
    # place four quarter notes on the treble staff: G4 line is at y = 80, steps are 14 px wide
    for index, y in enumerate([80, 75, 70, 75]):
        page.mouse.click(box["x"] + 74 + index * 4 * 14 + 5, box["y"] + y)
    assert _notes(page, 0) == 4
    assert [
        page.locator("#staff g.note[data-voice='0']").nth(i).get_attribute("data-pitch") for i in range(4)
    ] == ["67", "69", "71", "69"]
    # a note the model cannot use is refused with a hint
    page.mouse.click(box["x"] + 74 + 20 * 14 + 5, box["y"] + 5)
    assert "outside what the model knows" in page.locator("#hint").inner_text()
    assert _notes(page, 0) == 4
    page.screenshot(path=str(ARTIFACTS / "1-melody.png"), full_page=True)

    page.click("#harmonize")
    page.wait_for_function(
        "!document.querySelector('#harmonize').disabled && !document.querySelector('#again').disabled",
        timeout=60_000,
    )
    for voice in (1, 2, 3):
        assert _notes(page, voice) > 0, f"voice {voice} not drawn"
    assert [
        page.locator("#staff g.note[data-voice='0']").nth(i).get_attribute("data-pitch") for i in range(4)
    ] == ["67", "69", "71", "69"]  # the melody stays
    page.screenshot(path=str(ARTIFACTS / "2-harmonized.png"), full_page=True)

    # drag over the second measure in the pianoroll, refill alto/tenor/bass there
    roll = page.locator("#roll").bounding_box()
    page.mouse.move(roll["x"] + 74 + 16 * 14 + 3, roll["y"] + 100)
    page.mouse.down()
    page.mouse.move(roll["x"] + 74 + 31 * 14 + 3, roll["y"] + 120, steps=5)
    page.mouse.up()
    assert page.locator("#selection").count() == 1
    assert not page.locator("#refill").is_disabled()
    before = page.evaluate("JSON.stringify(state.piece.pitch)")
    page.uncheck("#avoid-parallels")  # the network alone, as the toggle asks
    with page.expect_request(lambda request: request.method == "POST") as sent:
        page.click("#refill")
    assert sent.value.post_data_json["avoid_parallels"] is False
    page.wait_for_function("!document.querySelector('#harmonize').disabled", timeout=60_000)
    after = page.evaluate("state.piece.pitch")
    import json

    first = json.loads(before)
    for voice in range(4):
        assert after[voice][:16] == first[voice][:16], "outside the selection nothing changes"
    page.screenshot(path=str(ARTIFACTS / "3-refilled.png"), full_page=True)

    with page.expect_download() as download_info:
        page.click("#download-midi")
    path = tmp_path / "download.mid"
    download_info.value.save_as(path)
    midi = mido.MidiFile(path)
    names = [m.name for t in midi.tracks for m in t if m.type == "track_name"]
    assert names[1:] == ["Soprano", "Alto", "Tenor", "Bass"]
    soprano = [m.note for m in midi.tracks[1] if m.type == "note_on"]
    assert soprano[:4] == [67, 69, 71, 69]  # the empty second measure was filled too

    page.click("#undo")
    assert page.evaluate("JSON.stringify(state.piece.pitch)") == before
    assert page.errors == []


def test_phone_sized_screen(server, page):
    ARTIFACTS.mkdir(exist_ok=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(server)
    page.select_option("#preset", "mary")
    assert _notes(page, 0) == 13
    page.click("#harmonize")
    page.wait_for_function(
        "!document.querySelector('#harmonize').disabled && !document.querySelector('#again').disabled",
        timeout=60_000,
    )
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 400, "the page itself must not scroll sideways (the staff scrolls in its box)"
    page.screenshot(path=str(ARTIFACTS / "4-phone.png"), full_page=True)
    assert page.errors == []
