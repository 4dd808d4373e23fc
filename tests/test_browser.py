"""The web page in a real headless Chromium (Debian's, driven by Playwright) against a live
server with a tiny model, at a desktop's 1280x900 and a phone's 390x844 with touch: the
engraved staff (VexFlow's SVG), editing by pointer, touch and keyboard, the model's runs,
files and errors. Screenshots go to test-artifacts/ for people to look at."""

from __future__ import annotations

import json
import time
from pathlib import Path

import mido
import pytest
from chromium import INSTALLED

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "has_touch": True,
    "is_mobile": True,
    "device_scale_factor": 2,
}
# staff positions (diatonic steps from C-1): treble G4 .. C5, and A3 (below the treble staff)
G4, A4, B4, C5, A3 = 32, 33, 34, 35, 26
IDLE = "!app.state.busy && !!app.state.last"

pytestmark = pytest.mark.skipif(not INSTALLED, reason="Debian's chromium is not installed")


def _open(browser, url: str, device: dict):
    page = browser.new_context(accept_downloads=True, **device).new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.goto(url)
    page.wait_for_selector("#staff svg")
    ARTIFACTS.mkdir(exist_ok=True)
    return page


@pytest.fixture()
def desktop(browser, server):
    page = _open(browser, server.url, DESKTOP)
    yield page
    assert page.errors == []


@pytest.fixture()
def phone(browser, server):
    page = _open(browser, server.url, PHONE)
    yield page
    assert page.errors == []


# ------------------------------------------------------------------ helpers


def _point(page, step: float, staff: int, position: int) -> tuple[float, float]:
    """Where on the screen a step and staff position are (scrolling the staff there first)."""
    return tuple(
        page.evaluate(
            """([t, staff, d]) => {
              const g = app.state.geometry, scroller = document.getElementById("staff-scroll");
              const at = () => { const p = g.svg.createSVGPoint();
                                 p.x = g.stepX(t) + 5; p.y = g.yOf(staff, d);
                                 return p.matrixTransform(g.svg.getScreenCTM()); };
              const box = scroller.getBoundingClientRect();
              let s = at();
              if (s.x < box.left + 20 || s.x > box.right - 20) {
                scroller.scrollLeft += s.x - box.left - box.width / 2; s = at();
              }
              return [s.x, s.y];
            }""",
            [step, staff, position],
        )
    )


def _click(page, step, staff, position):
    x, y = _point(page, step, staff, position)
    page.mouse.click(x, y)


def _notes(page, voice: int) -> list[int]:
    """The pitches of a voice's notes as drawn (the first piece of each; tied pieces excluded)."""
    return page.evaluate(
        f"[...document.querySelectorAll('#staff g.note:not(.tied)[data-voice=\"{voice}\"]')]"
        ".map(e => Number(e.dataset.pitch))"
    )


def _hint(page) -> str:
    return page.locator("#hint").inner_text()


def _set_piece(page, notes: list, steps: int = 32, key: int = 0, metre: str = "4/4") -> None:
    """Set a piece from [voice, start, end, pitch, origin] (pitch -1 with "user": a rest)."""
    page.evaluate(
        """async ([notes, steps, key, metre]) => {
          const m = await import("/static/js/music.js");
          const piece = m.emptyPiece(steps);
          for (const [v, start, end, pitch, origin] of notes) m.setNote(piece, v, start, end, pitch, origin);
          Object.assign(app.state, { piece, key, metre, measures: steps / m.stepsPerBar(metre) });
          document.getElementById("key").value = String(key); document.getElementById("metre").value = metre;
          app.render();
        }""",
        [notes, steps, key, metre],
    )


def _boxes(page, selector: str) -> list[dict]:
    return page.evaluate(
        f"[...document.querySelectorAll('{selector}')].map(e => {{ const b = e.getBoundingClientRect();"
        " return {x: b.left, y: b.top, r: b.right, b: b.bottom, text: e.textContent}; })"
    )


def _overlap(a: dict, b: dict, slack: float = 0.5) -> bool:
    return (
        a["x"] < b["r"] - slack
        and b["x"] < a["r"] - slack
        and a["y"] < b["b"] - slack
        and b["y"] < a["b"] - slack
    )


# every glyph VexFlow writes as text in a note, with its ink box (svg units) from canvas metrics
GLYPH_BOXES = """(() => {
  const canvas = document.createElement("canvas").getContext("2d");
  return [...document.querySelectorAll("#staff g.vf-stavenote")].flatMap((n, note) =>
    [...n.querySelectorAll("text")].map(t => {
    const style = getComputedStyle(t);
    canvas.font = `${style.fontSize} ${style.fontFamily}`;
    const m = canvas.measureText(t.textContent);
    const x = Number(t.getAttribute("x")), y = Number(t.getAttribute("y"));
    return {note, x: x - m.actualBoundingBoxLeft, r: x + m.actualBoundingBoxRight,
            y: y - m.actualBoundingBoxAscent,
            b: y + m.actualBoundingBoxDescent};
  }));
})()"""
NATURAL, SHARP, DOT = (
    "\ue261",
    "\ue262",
    "\ue1e7",
)  # SMuFL: accidentalNatural, accidentalSharp, augmentationDot


# ------------------------------------------------------------------ notation


def test_notation_is_engraved(desktop):
    page = desktop
    _set_piece(
        page,
        [
            [0, 0, 4, 78, "user"],  # F#5, then F5 in the same bar: a natural cancels the sharp
            [0, 4, 8, 77, "user"],
            [0, 8, 20, 72, "user"],  # C5 held over the barline: a tie
            # 20..24 silent in a voice that sings: a rest
            [0, 24, 30, 74, "user"],  # a dotted quarter
            [0, 30, 32, 72, "user"],
            [1, 0, 2, 64, "model"],  # four 8ths: beamed by the beat
            [1, 2, 4, 62, "model"],
            [1, 4, 6, 60, "model"],
            [1, 6, 8, 62, "model"],
            [1, 8, 32, 64, "model"],
            [2, 0, 16, 55, "model"],
            [2, 16, 32, 55, "model"],  # a repeated note: two notes, no tie
            [3, 0, 32, 48, "model"],  # held two bars: tied
        ],
    )
    svg = "#staff svg"
    assert page.locator(f"{svg} .vf-clef").count() == 2
    assert page.locator(f"{svg} .vf-timesignature").count() == 2
    assert page.locator(f"{svg} .vf-stem").count() >= 10
    assert page.locator(f"{svg} .vf-beam").count() >= 1
    assert (
        page.locator(f"{svg} .vf-stavetie").count() == 1 + 1 + 1
    )  # C5, the alto's E4 (a half and tied), the bass
    assert _notes(page, 0) == [78, 77, 72, 74, 72]
    assert _notes(page, 2) == [55, 55]
    assert page.locator(f"{svg} g.rest[data-voice='0']").count() == 1
    soprano_text = page.evaluate(
        "[...document.querySelectorAll('#staff g.note[data-voice=\"0\"]')].map(e => e.textContent)"
    )
    assert SHARP in soprano_text[0] and NATURAL in soprano_text[1]
    assert DOT in "".join(soprano_text)
    # stems: the soprano's up (the stem above the head), the alto's down (its half note)
    stems = page.evaluate(
        """[[0, 4], [1, 8]].map(([v, t]) => {
           const n = document.querySelector(`#staff g.note[data-voice="${v}"][data-start="${t}"]`);
           const stem = n.querySelector('.vf-stem path').getBBox();
           const head = Number(n.querySelector('.vf-notehead text').getAttribute('y'));
           return [stem.y < head - 5, stem.y + stem.height > head + 5]; })"""
    )
    assert stems == [[True, False], [False, True]]
    # no two glyphs (heads, accidentals, dots, rests) of different notes overlap: ink boxes
    # from the music font's own metrics
    glyphs = page.evaluate(GLYPH_BOXES)
    clashes = [
        (a, b)
        for i, a in enumerate(glyphs)
        for b in glyphs[i + 1 :]
        if a["note"] != b["note"] and _overlap(a, b)
    ]
    assert len(glyphs) > 20 and clashes == []
    page.screenshot(path=str(ARTIFACTS / "notation-desktop.png"), full_page=True)


@pytest.mark.parametrize(("key", "metre"), [(-4, "3/4"), (6, "2/4"), (-7, "4/4")])
def test_key_and_time_signatures_on_both_staves(desktop, key, metre):
    page = desktop
    page.select_option("#metre", metre)
    page.select_option("#key", str(key))
    keys = _boxes(page, "#staff .vf-keysignature")
    times = _boxes(page, "#staff .vf-timesignature")
    assert len(keys) == 2 and len(times) == 2
    for k, t in zip(keys, times, strict=True):
        assert k["r"] <= t["x"], "the key signature runs into the time signature"
    assert page.locator("#staff .vf-keysignature text").count() == 2 * abs(key)
    assert page.evaluate("app.state.metre") == metre
    bar = {"2/4": 8, "3/4": 12, "4/4": 16}[metre]
    assert page.evaluate("app.state.piece.steps") == 2 * bar
    page.screenshot(path=str(ARTIFACTS / f"signatures-{key}-{metre.replace('/', '-')}.png"))


def test_spelling_follows_the_key(desktop):
    spelled = desktop.evaluate(
        """async () => { const m = await import("/static/js/music.js");
          return [[66, 0], [70, 0], [70, 2], [63, -3], [65, 6], [61, 4]]
            .map(([p, k]) => m.noteName(p, k)); }"""
    )
    assert spelled == ["F♯4", "B♭4", "A♯4", "E♭4", "E♯4", "C♯4"]
    # an opened file without a key signature is shown in the key its notes were spelled in
    # (the server's estimate, mirrored by local/spelling.js; tests/test_page_spelling.py)
    keys = desktop.evaluate(
        """async () => { const s = await import("/static/local/spelling.js");
          const scale = (tonic) => [0, 2, 4, 5, 7, 9, 11].map(i => tonic + i);
          const lines = [scale(69), scale(63), scale(60).concat([66])];
          return lines.map((line) => s.choraleKey([line]).fifths); }"""
    )
    assert keys == [3, -3, 0]
    # a spelling the server sends wins while the pitch is the one it spelled
    _set_piece(desktop, [[0, 0, 4, 70, "user"], [0, 4, 8, 70, "user"]])
    desktop.evaluate(
        "app.state.spellings = [[...'AAAA', ...'DDDD'].map(c => c === 'A' ? 'A#4' : 'C5')]; app.render()"
    )
    heads = desktop.evaluate(
        "[...document.querySelectorAll('#staff g.note[data-voice=\"0\"]')].map(e => e.textContent)"
    )
    assert SHARP in heads[0] and SHARP not in heads[1]  # the second: "C5" is not pitch 70, so B-flat


def test_written_durations(desktop):
    """A held note is written as a musician writes it: ties at barlines and where the beat
    (or the middle of a 4/4 bar) would be hidden; dots where they read well."""
    pieces = desktop.evaluate(
        """async () => { const m = await import("/static/js/music.js");
          const cases = [[0, 12, "4/4"], [4, 12, "4/4"], [8, 20, "4/4"], [2, 6, "4/4"], [1, 4, "4/4"],
                         [0, 12, "3/4"], [4, 12, "3/4"], [0, 6, "2/4"], [6, 10, "2/4"]];
          return cases.map(([a, b, metre]) => m.writtenPieces(a, b, metre)
            .map(p => [p.start, p.length])); }"""
    )
    assert pieces == [
        [[0, 12]],  # a dotted half from the downbeat
        [[4, 4], [8, 4]],  # beat 2 to 4: tied over the middle of the bar
        [[8, 8], [16, 4]],  # over the barline
        [[2, 2], [4, 2]],  # an 8th off the beat, tied into the next beat
        [[1, 1], [2, 2]],
        [[0, 12]],
        [[4, 8]],
        [[0, 6]],  # 2/4: a dotted quarter
        [[6, 2], [8, 2]],
    ]
    # with an upbeat, beats are counted from where its bar would have begun
    upbeat = desktop.evaluate(
        """async () => { const m = await import("/static/js/music.js");
          return [m.writtenPieces(0, 2, "4/4", 2), m.writtenPieces(2, 10, "4/4", 2),
                  m.writtenPieces(0, 8, "3/4", 4), m.where(0, "3/4", 4), m.where(4, "3/4", 4),
                  m.where(20, "3/4", 4), m.barStart(2, "3/4", 4)]; }"""
    )
    assert upbeat == [
        [{"start": 0, "length": 2}],  # an 8th upbeat
        [{"start": 2, "length": 8}],  # a half note on the first downbeat
        [{"start": 0, "length": 4}, {"start": 4, "length": 4}],  # tied over the first barline
        "the upbeat, beat 3",
        "bar 1, beat 1",
        "bar 2, beat 2",
        16,
    ]


def test_unison_and_playback_follow_the_notes(desktop):
    page = desktop
    # soprano and alto on the same C5: two notes, stems both ways
    _set_piece(page, [[0, 0, 4, 72, "user"], [1, 0, 8, 72, "user"], [0, 4, 8, 74, "user"]])
    assert _notes(page, 0)[0] == 72 and _notes(page, 1) == [72]
    assert (
        page.locator(
            "#staff g.note[data-start='0'] .vf-stem, #staff g.note[data-start='0'] .vf-notehead"
        ).count()
        >= 4
    )
    page.click("#play")
    assert page.locator("#play").inner_text() == "■ Stop"
    _click(page, 8, 0, C5)  # an edit stops what plays: it no longer is what is written
    assert page.locator("#play").inner_text() == "▶ Play"
    page.click("#play")
    page.click("#harmonize")
    assert page.evaluate("app.state.playing") is None
    page.wait_for_function("!app.state.busy", timeout=60_000)
    page.screenshot(path=str(ARTIFACTS / "unison.png"))


# ------------------------------------------------------------------ editing


def test_write_harmonize_refill_download(desktop, tmp_path):
    page = desktop
    for index, position in enumerate([G4, A4, B4, A4]):
        _click(page, index * 4, 0, position)
    assert _notes(page, 0) == [67, 69, 71, 69]
    assert "bar 1, beat 4" in _hint(page)
    # any octave is fine (the server moves the melody into the soprano's range and back), but a
    # soprano spanning more than it can sing in any key is refused when the note is placed
    _click(page, 20, 0, A3)
    assert _notes(page, 0) == [67, 69, 71, 69, 57]
    page.keyboard.press("Control+ArrowDown")  # the selected A3 down an octave: A2 to B4 is 26
    assert "would span 26 semitones" in _hint(page)
    assert _notes(page, 0) == [67, 69, 71, 69, 57]
    page.keyboard.press("Delete")
    assert _notes(page, 0) == [67, 69, 71, 69]
    page.screenshot(path=str(ARTIFACTS / "1-melody.png"), full_page=True)

    page.click("#harmonize")
    page.wait_for_function(IDLE, timeout=60_000)
    for voice in (1, 2, 3):
        assert _notes(page, voice), f"voice {voice} not drawn"
    assert _notes(page, 0)[:4] == [67, 69, 71, 69]  # the melody stays
    page.screenshot(path=str(ARTIFACTS / "2-harmonized.png"), full_page=True)

    # drag over the second bar in the pianoroll, refill alto/tenor/bass there
    page.locator("#roll").scroll_into_view_if_needed()
    roll = page.locator("#roll").bounding_box()
    page.mouse.move(roll["x"] + 40 + 16 * 14 + 3, roll["y"] + 100)
    page.mouse.down()
    page.mouse.move(roll["x"] + 40 + 31 * 14 + 3, roll["y"] + 120, steps=5)
    page.mouse.up()
    assert page.locator("#selection").count() == 1
    assert "bar 2, beat 1 to bar 2, beat 4¾" in _hint(page)
    before = page.evaluate("JSON.stringify(app.state.piece.pitch)")
    page.uncheck("#avoid-parallels")  # the network alone, as the toggle asks
    with page.expect_request(lambda request: request.method == "POST") as sent:
        page.click("#refill")
    assert sent.value.post_data_json["avoid_parallels"] is False
    page.wait_for_function("!app.state.busy", timeout=60_000)
    after = page.evaluate("app.state.piece.pitch")
    first = json.loads(before)
    for voice in range(4):
        assert after[voice][:16] == first[voice][:16], "outside the selection nothing changes"

    with page.expect_download() as download_info:
        page.click("#download-midi")
    path = tmp_path / "download.mid"
    download_info.value.save_as(path)
    midi = mido.MidiFile(path)
    names = [m.name for t in midi.tracks for m in t if m.type == "track_name"]
    assert names[1:] == ["Soprano", "Alto", "Tenor", "Bass"]
    soprano = [m.note for m in midi.tracks[1] if m.type == "note_on" and m.velocity]
    assert soprano[:4] == [67, 69, 71, 69]

    page.keyboard.press("Control+z")
    assert page.evaluate("JSON.stringify(app.state.piece.pitch)") == before


def test_select_move_delete_undo(desktop):
    page = desktop
    _click(page, 0, 0, G4)
    _click(page, 4, 0, G4)
    assert _notes(page, 0) == [67, 67]  # a repeated note: two notes
    # a click one position above a note places a new note there, it does not delete
    _click(page, 8, 0, G4)
    _click(page, 8, 0, A4)
    assert _notes(page, 0) == [67, 67, 69]
    # a click on a note selects it; arrows move it; Delete removes it
    _click(page, 4, 0, G4)
    assert "selected" in _hint(page)
    assert page.locator("#staff .selected").count() == 1
    page.keyboard.press("ArrowUp")
    assert _notes(page, 0) == [67, 68, 69]
    page.keyboard.press("Delete")
    assert _notes(page, 0) == [67, 69]
    page.keyboard.press("Control+z")
    assert _notes(page, 0) == [67, 68, 69]
    page.keyboard.press("Control+z")
    assert _notes(page, 0) == [67, 67, 69]
    page.keyboard.press("Control+Shift+z")
    assert _notes(page, 0) == [67, 68, 69]
    page.keyboard.press("Control+y")
    assert _notes(page, 0) == [67, 69]
    # the touch buttons do the same; a length chosen with a note selected is its length
    _click(page, 0, 0, G4)
    page.click("#pitch-up")
    assert _notes(page, 0) == [68, 69]
    page.click("#lengths button:has-text('8th')")
    assert page.evaluate("app.state.piece.pitch[0].slice(0, 4)") == [68, 68, -1, -1]
    page.click("#lengths button:has-text('quarter')")
    page.click("#delete")
    assert _notes(page, 0) == [69]
    # a mouse drags a note up or down the staff; one Undo takes the whole drag back
    x, y = _point(page, 8, 0, A4)
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x, _point(page, 8, 0, C5)[1], steps=6)
    page.mouse.up()
    assert _notes(page, 0) == [72]
    page.keyboard.press("Control+z")
    assert _notes(page, 0) == [69]
    # a rest is placed like a note
    page.click("#rest")
    _click(page, 12, 0, B4)
    assert page.locator("#staff g.rest[data-voice='0'][data-origin='user']").count() == 1
    page.click("#rest")
    # another voice, then clear only that voice
    page.click("#edit-voice button:has-text('bass')")
    _click(page, 0, 1, 23)  # E3 on the bass staff (D3, position 22, is its middle line)
    assert len(_notes(page, 3)) == 1
    page.click("#clear-voice")
    assert _notes(page, 3) == [] and _notes(page, 0) == [69]
    page.screenshot(path=str(ARTIFACTS / "editing-desktop.png"), full_page=True)


def test_keyboard_alone(desktop):
    page = desktop
    # Tab reaches the staff and "Open file"
    reached = set()
    for _ in range(40):
        page.keyboard.press("Tab")
        reached.add(page.evaluate("document.activeElement.id"))
    assert {"staff", "open-button", "roll", "harmonize"} <= reached
    page.focus("#staff")
    page.keyboard.press("5")  # quarter notes
    for key in ["c", "d", "e", "c"]:
        page.keyboard.press(key)
    assert _notes(page, 0) == [72, 74, 76, 72]
    page.keyboard.press("Escape")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowUp")
    page.keyboard.press("Enter")
    assert len(_notes(page, 0)) == 5
    # the pianoroll: arrows select a region, Shift+arrows extend it
    page.focus("#roll")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Shift+ArrowRight")
    assert page.locator("#selection").count() == 1
    assert "Selected bar 1, beat 2 to bar 1, beat 3¾" in _hint(page)
    # distinct names for the two groups of voice checkboxes
    labels = page.evaluate(
        "[...document.querySelectorAll('input[type=checkbox]')]"
        ".map(e => e.getAttribute('aria-label') || e.parentElement.textContent.trim())"
    )
    names = page.evaluate("[...document.querySelectorAll('input[type=checkbox]')].map(e => e.name || e.id)")
    assert len(set(labels)) == len(labels) and len(set(names)) == len(names)


# ------------------------------------------------------------------ the model


def test_repeated_notes_and_again_keep_the_melody(desktop):
    page = desktop
    page.select_option("#preset", "twinkle")
    twinkle = [72, 72, 79, 79, 81, 81, 79, 77, 77, 76, 76, 74, 74, 72]
    assert _notes(page, 0) == twinkle
    page.click("#harmonize")
    page.wait_for_function(IDLE, timeout=60_000)
    assert _notes(page, 0) == twinkle, "a repeated note stays two notes"
    # a melody edit after harmonizing is kept by Again
    _click(page, 0, 0, C5)
    page.keyboard.press("ArrowDown")
    page.click("#again")
    page.wait_for_function("!app.state.busy", timeout=60_000)
    assert _notes(page, 0) == [71] + twinkle[1:]


def test_busy_page_is_locked_and_cancel_restores(desktop):
    page = desktop
    page.select_option("#preset", "mary")
    before = page.evaluate("JSON.stringify(app.state.piece)")
    x, y = _point(page, 0, 0, G4)
    # all in one turn of the page's event loop, so no answer from the model can come between
    locked = page.evaluate(
        """([x, y]) => { document.getElementById("harmonize").click();
          const ids = ["preset", "measures", "metre", "key", "clear", "clear-voice", "open-button",
                       "harmonize", "alternatives", "undo"];
          const seen = {disabled: ids.filter(id => document.getElementById(id).disabled),
                        hint: document.getElementById("hint").textContent,
                        cancel: !document.getElementById("cancel").hidden};
          // a tap on the staff while the model works
          const staff = document.getElementById("staff");
          for (const type of ["pointerdown", "pointerup"]) {
            const init = {clientX: x, clientY: y, pointerId: 7, button: 0, bubbles: true};
            staff.dispatchEvent(new PointerEvent(type, init));
          }
          seen.tapped = document.getElementById("hint").textContent;
          seen.notes = JSON.stringify(app.state.piece.pitch);
          document.getElementById("cancel").click();
          return seen; }""",
        [x, y],
    )
    assert len(locked["disabled"]) == 10, locked
    assert "the model is writing" in locked["hint"] and locked["cancel"]
    assert "Wait, or press Cancel" in locked["tapped"]
    assert locked["notes"] == json.dumps(json.loads(before)["pitch"], separators=(",", ":"))
    page.wait_for_function("!app.state.busy", timeout=30_000)
    assert "cancelled: nothing changed" in _hint(page)
    assert page.evaluate("JSON.stringify(app.state.piece)") == before
    assert not page.locator("#harmonize").is_disabled()


def test_alternatives_progress_and_choice(desktop):
    page = desktop
    page.select_option("#preset", "ein-feste-burg")
    assert "Ein feste Burg" in page.locator("#preset").inner_text()
    assert "Passion" not in page.locator("#preset").inner_text()
    page.evaluate(
        """() => { window.progressSeen = [];
          const span = document.querySelector("#progress span");
          new MutationObserver(() => window.progressSeen.push(span.textContent))
            .observe(span, {childList: true, characterData: true, subtree: true}); }"""
    )
    page.click("#alternatives")
    page.wait_for_function(
        "!app.state.busy && !document.querySelector('.choice .use').disabled", timeout=60_000
    )
    seen = page.evaluate("window.progressSeen")
    assert any("pass" in text and "each of the 3" in text for text in seen), seen
    assert page.locator(".choice").count() == 3
    assert page.locator(".choice .vf-stavenote").count() > 3 * 10, "each version is a small score"
    page.locator("#choices").screenshot(path=str(ARTIFACTS / "alternatives-desktop.png"))
    page.locator(".choice .listen").nth(0).click()
    assert page.locator(".choice .listen").nth(0).inner_text() == "■ Stop"
    page.locator(".choice .use").nth(1).click()
    assert page.evaluate("app.state.playing") is None
    assert "Version 2 chosen" in _hint(page)
    assert _notes(page, 1)


def test_share_link_opens_the_same_piece(desktop, browser, server):
    page = desktop
    page.select_option("#preset", "twinkle")
    page.select_option("#key", "-1")
    page.click("#harmonize")
    page.wait_for_function(IDLE, timeout=60_000)
    page.click("#share")
    link = page.input_value("#share-link")
    assert link.startswith(server.url) and "#piece=" in link
    fields = "({pitch: app.state.piece.pitch, onset: app.state.piece.onset, origin: app.state.piece.origin,"
    fields += " key: app.state.key, metre: app.state.metre})"
    piece = page.evaluate(fields)
    other = _open(browser, link, PHONE)
    assert other.evaluate(fields) == piece
    assert "A shared piece" in _hint(other)
    assert _notes(other, 0) == [72, 72, 79, 79, 81, 81, 79, 77, 77, 76, 76, 74, 74, 72]
    broken = _open(browser, link[:-40], DESKTOP)
    assert "could not be read" in _hint(broken)
    assert other.errors == [] and broken.errors == []


def test_an_upbeat_and_a_tempo_from_a_file_stay(desktop, tmp_path):
    """A MusicXML tune in 3/4 with a quarter-note upbeat at 72: the page draws a short first
    bar and puts every barline after it where the file has it, plays at the file's tempo, and
    writes both back in its MIDI and MusicXML files and in a link."""
    import numpy as np

    from counterpoint.io import read_piece, write_piece
    from counterpoint.music.piece import Piece

    page = desktop
    pitches = np.full((28, 4), -1)
    pitches[:, 0] = [67] * 4 + [72] * 12 + [74] * 8 + [72] * 4  # G | C . . | D . C
    write_piece(Piece.of(pitches, time_signature="3/4", tempo_bpm=72, pickup=4), tmp_path / "upbeat.musicxml")
    page.set_input_files("#open", str(tmp_path / "upbeat.musicxml"))
    page.wait_for_function("document.querySelector('#hint').textContent.includes('Opened upbeat')")
    assert page.evaluate("[app.state.metre, app.state.pickup, app.state.piece.steps]") == ["3/4", 4, 36]
    assert page.input_value("#tempo") == "72" and page.input_value("#pickup") == "4"
    assert "3 bars with an upbeat of 1 beat, 3/4" in page.locator("#piece-summary").inner_text()
    # an upbeat, two full bars and the short bar that completes the upbeat
    assert page.locator("#staff .vf-stave").count() == 2 * 4
    upbeat, full = page.evaluate(
        "(() => { const g = app.state.geometry;"
        " return [g.barEnd(0) - g.stepX(0), g.barEnd(1) - g.stepX(4)]; })()"
    )
    assert upbeat < full / 2
    _click(page, 16, 0, C5)  # a C5 on the second bar's first beat, over the D5
    assert "bar 2, beat 1" in _hint(page)
    written = page.evaluate("app.state.piece.pitch[0].slice(0, 28)")
    page.screenshot(path=str(ARTIFACTS / "upbeat.png"), full_page=True)
    for kind, name in (("midi", "upbeat.mid"), ("xml", "upbeat.musicxml")):
        with page.expect_download() as download_info:
            page.click(f"#download-{kind}")
        download_info.value.save_as(tmp_path / "back" / name)
        back = read_piece(tmp_path / "back" / name)
        assert (back.pickup, back.tempo_bpm, back.time_signature) == (4, 72.0, "3/4"), kind
        assert back.pitches[:28, 0].tolist() == written, kind
    page.click("#share")
    assert page.evaluate(
        """async () => { const s = await import("/static/js/share.js");
          const shared = s.fragmentToPiece(document.getElementById("share-link").value.split("#")[1]);
          return [shared.pickup, shared.tempo, shared.metre]; }"""
    ) == [4, 72, "3/4"]
    page.select_option("#metre", "2/4")  # the upbeat still fits a bar of 2/4
    assert page.evaluate("app.state.pickup") == 4
    page.select_option("#pickup", "0")
    assert page.locator("#staff .vf-stave").count() == 2 * page.evaluate("app.state.measures")
    page.click("#undo")
    assert page.evaluate("app.state.pickup") == 4 and page.input_value("#pickup") == "4"


# ------------------------------------------------------------------ errors and small things


def test_errors_in_words(desktop, server, tmp_path):
    page = desktop
    bad = tmp_path / "melody.mid"
    bad.write_bytes(b"this is not a MIDI file")
    page.set_input_files("#open", str(bad))
    page.wait_for_function("document.querySelector('#hint').textContent.includes('Could not open')")
    text = _hint(page)
    assert "melody.mid" in text and "/tmp" not in text and "Error" not in text, text
    # a real chorale opens in its key, every voice drawn
    page.set_input_files("#open", str(Path(__file__).resolve().parents[1] / "examples" / "bach.mid"))
    page.wait_for_function("document.querySelector('#hint').textContent.includes('Opened bach.mid')")
    assert page.evaluate("app.state.key") == 3
    assert all(len(_notes(page, voice)) > 10 for voice in range(4))
    page.click("#clear")
    # tempo is kept between 30 and 240
    page.fill("#tempo", "0")
    page.keyboard.press("Tab")
    assert page.input_value("#tempo") == "30"
    page.fill("#tempo", "999")
    page.keyboard.press("Tab")
    assert page.input_value("#tempo") == "240"
    # the temperature shows its value
    page.locator("#temperature").fill("0.5")
    assert page.locator("#temperature-value").inner_text() == "0.50"
    # the server goes away: every action says so in words
    server.process.terminate()
    server.process.wait(timeout=10)
    page.click("#download-midi")
    page.wait_for_function("document.querySelector('#hint').textContent.includes('not answering')")
    _click(page, 0, 0, G4)
    page.click("#harmonize")
    page.wait_for_function("document.querySelector('#hint').textContent.includes('not answering')")
    assert "Failed to fetch" not in _hint(page) and "TypeError" not in _hint(page)


# ------------------------------------------------------------------ a phone


def _swipe(page, x: float, y: float, dx: float) -> None:
    """A finger swipe through Chromium's input pipeline (so the browser itself scrolls)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x, "y": y}]})
    for i in range(1, 11):
        cdp.send(
            "Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x + dx * i / 10, "y": y}]}
        )
        time.sleep(0.016)
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


def test_phone(phone):
    page = phone
    assert page.locator("#piece-settings").get_attribute("open") is None  # folded: the staff comes first
    page.click("#piece-settings summary")
    page.select_option("#preset", "mary")
    assert "Mary Had a Little Lamb, 4 bars, 4/4, C major" in page.locator("#piece-summary").inner_text()
    page.click("#piece-settings summary")
    notes = _notes(page, 0)
    assert len(notes) == 13
    # staff positions far enough apart for a finger (8 px or more)
    spacing = page.evaluate(
        """(() => { const g = app.state.geometry, m = g.svg.getScreenCTM();
          return Math.abs((g.yOf(0, 33) - g.yOf(0, 34)) * m.d); })()"""
    )
    assert spacing >= 8
    # a swipe scrolls the staff and places nothing
    box = page.locator("#staff-scroll").bounding_box()
    _swipe(page, box["x"] + 300, box["y"] + box["height"] / 2, -250)
    page.wait_for_timeout(300)
    assert page.evaluate("document.getElementById('staff-scroll').scrollLeft") > 100
    assert _notes(page, 0) == notes
    # a tap on a note selects it; nothing moves under the finger
    top = page.locator("#staff-scroll").bounding_box()["y"]
    x, y = _point(page, 16, 0, 37)  # bar 2's first note, E5 (Mary: E D C D | E E E- | ...)
    page.touchscreen.tap(x, y)
    assert "selected" in _hint(page)
    assert page.locator("#staff-scroll").bounding_box()["y"] == top
    x, y = _point(page, 20, 0, 36)  # D5 on the next E5: placed there instead
    page.touchscreen.tap(x, y)
    assert page.locator("#staff-scroll").bounding_box()["y"] == top
    assert _notes(page, 0)[4:6] == [76, 74]
    page.screenshot(path=str(ARTIFACTS / "phone-1-melody.png"), full_page=False)
    page.click("#alternatives")
    page.wait_for_function(
        "!app.state.busy && !document.querySelector('.choice .use').disabled", timeout=60_000
    )
    page.wait_for_timeout(600)  # the smooth scroll
    choice = page.locator(".choice").first.bounding_box()
    assert choice["y"] < 844 and choice["y"] + choice["height"] > 0, "the alternatives are in view"
    page.screenshot(path=str(ARTIFACTS / "phone-2-alternatives.png"), full_page=False)
    page.locator(".choice .use").first.click()
    assert page.evaluate("document.documentElement.scrollWidth") <= 392, (
        "the page itself must not scroll sideways"
    )
    small = page.evaluate(
        "[...document.querySelectorAll('button:not([hidden]), select')]"
        ".filter(e => e.offsetParent)"
        ".map(e => e.getBoundingClientRect()).filter(b => b.height < 44).length"
    )
    assert small == 0, "every control is at least 44 px high on a phone"
    page.screenshot(path=str(ARTIFACTS / "phone-3-harmonized.png"), full_page=True)
