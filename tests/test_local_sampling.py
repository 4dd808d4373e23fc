"""Sampling in the page (issue #42): the JavaScript rules of ``static/local/rules.js`` give the
Python rules' answers on the same inputs (run in node); the page's sampler, in a real Chromium
with ONNX Runtime Web, writes exactly the piece Python's sampler writes from the same ONNX file
and the same uniform numbers (argmax and sampled); and with the server's sampling endpoints
blocked the page still harmonizes, refills, gives alternatives and downloads four voices."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import mido
import numpy as np
import pytest
import torch
from chromium import INSTALLED

from counterpoint import tasks
from counterpoint.data import masks
from counterpoint.model.network import make_input
from counterpoint.music import transposition
from counterpoint.music.representation import PitchRange
from counterpoint.music.rules import VOICE_RANGES, parallel_pitches
from counterpoint.music.spelling import spell_chorale
from counterpoint.runtime import int8, onnx_export
from counterpoint.sampling import samplers, schedule
from counterpoint.sampling.config import SamplerConfig

STATIC = Path(__file__).resolve().parents[1] / "src" / "counterpoint" / "static"
RULES = (STATIC / "local" / "rules.js").as_uri()
NODE = shutil.which("node")
SAMPLING_ENDPOINTS = ("**/api/harmonize", "**/api/infill", "**/api/compose")


# --------------------------------------------------------------------------- the page's random source


class Uniform:
    """rules.js's ``Uniform`` in numpy (mulberry32, 24-bit floats): what the page draws."""

    def __init__(self, seed: int) -> None:
        self.seed, self.drawn = seed & 0xFFFFFFFF, 0

    def take(self, count: int) -> np.ndarray:
        index = np.arange(self.drawn + 1, self.drawn + count + 1, dtype=np.uint64)
        self.drawn += count
        a = ((self.seed + index * 0x6D2B79F5) & 0xFFFFFFFF).astype(np.uint32)
        t = (a ^ (a >> 15)) * (a | 1)
        t = (t + (t ^ (t >> 7)) * (t | 61)) ^ t
        return ((t ^ (t >> 14)) >> 8).astype(np.float32) / np.float32(16777216)


def onnx_sampler(path: Path) -> type:
    """Python's sampler (its Gibbs loop, ranges, parallels and draws) with the network read from
    the ONNX file ``path`` by onnxruntime and the page's uniform numbers: the procedure the
    page runs, in Python."""
    import onnxruntime

    class OnnxSampler(samplers._Sampler):
        def __init__(self, model, config, seeds, callback) -> None:
            super().__init__(model, config, seeds, callback)  # ranges, rows, callback
            session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
            self.precision, self.dtype = "float32", torch.float32
            self.model = lambda x: torch.from_numpy(
                session.run(None, {"x": x.float().contiguous().numpy()})[0]
            )
            self.sources = [Uniform(seed) for seed in seeds]

        def uniform(self, shape):
            return torch.stack(
                [torch.from_numpy(s.take(int(np.prod(shape))).reshape(shape)) for s in self.sources]
            )

    return OnnxSampler


# --------------------------------------------------------------------------- the rules, in node


def node(script: str, data) -> object:
    """Run an ES module body in node with ``rules`` imported and ``data`` parsed from stdin;
    it prints its answer as JSON."""
    if NODE is None:
        pytest.fail("node is not installed")
    body = f"import * as rules from {json.dumps(RULES)};\nconst data = JSON.parse(require_stdin());\n{script}"
    prelude = (
        "import { readFileSync } from 'node:fs';\nconst require_stdin = () => readFileSync(0, 'utf8');\n"
    )
    done = subprocess.run(
        [NODE, "--input-type=module", "-e", prelude + body],
        input=json.dumps(data),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_schedule_and_pass_counts_match_python():
    grid = [
        (n, total, p_min, p_max, alpha)
        for total in (0, 1, 7, 64, 65, 200)
        for n in range(0, total + 1, 3)
        for p_min, p_max, alpha in ((0.1, 0.9, 0.7), (0.05, 0.5, 0.9))
    ]
    notes = list(range(0, 400))
    # below and above the cap, passes given or not, another temperature and alpha
    temperatures = [
        [n, t, p, a]
        for n in (96, 144, 145, 192, 768)
        for t, p, a in ((0.99, None, 0.7), (0.5, None, 1.0), (0.99, 10, 0.7))
    ]
    counts = [[1, 5, 96], [3, 47, 128], [2, 2, 2], [17, 93, 250]]
    answer = node(
        """console.log(JSON.stringify({
          schedule: data.grid.map(([n, t, a, b, c]) => rules.gibbsSchedule(n, t, a, b, c)),
          passes: data.notes.map((n) => rules.gibbsPasses(n)),
          passesGiven: rules.gibbsPasses(96, 10),
          temperatures: data.temperatures.map(([n, t, p, a]) => rules.gibbsTemperatures(n, t, p, a)),
          planned: data.notes.map((n) => rules.plannedPasses(n)),
          ranks: data.counts.map((c) => rules.erasureRanks(c, rules.gibbsPasses(Math.max(...c)))),
          rounded: [0.5, 1.5, 2.5, -0.5, 2.4999, 3.5000001].map(rules.roundHalfEven),
        }))""",
        {"grid": grid, "notes": notes, "counts": counts, "temperatures": temperatures},
    )
    assert answer["schedule"] == [schedule.gibbs_schedule(*row) for row in grid]
    config = SamplerConfig()
    assert answer["passes"] == [schedule.gibbs_passes(config, n) for n in notes]
    assert answer["passesGiven"] == schedule.gibbs_passes(SamplerConfig(passes=10), 96) == 10
    assert answer["temperatures"] == [
        schedule.gibbs_temperatures(SamplerConfig(temperature=t, passes=p, alpha=a), n)
        for n, t, p, a in temperatures
    ]
    assert answer["planned"] == [schedule.planned_passes(config, n) for n in notes]
    assert answer["rounded"] == [round(x) for x in [0.5, 1.5, 2.5, -0.5, 2.4999, 3.5000001]]
    for count, ranks in zip(counts, answer["ranks"], strict=True):
        # samplers._gibbs's erasure counts (its two lines, on torch's float32)
        total = schedule.gibbs_passes(config, max(count))
        fractions = torch.tensor([schedule.gibbs_schedule(n, total) for n in range(total)])
        expected = (torch.tensor(count)[None, :] * fractions[:, None]).round().long().clamp(min=1) - 1
        assert ranks == expected.tolist()


def test_ranges_and_parallels_match_python():
    pitch_ranges = [PitchRange(), PitchRange(40, 79), PitchRange(30, 90)]
    rng = np.random.default_rng(0)
    cases = []
    for case in range(40):
        batch, steps = int(rng.integers(1, 4)), int(rng.integers(1, 20))
        # near pitches in some cases (many fifths and octaves), anywhere in others
        if case % 2:
            pitch = rng.integers(0, 46, (batch, 4, steps))
        else:
            pitch = np.clip(
                20 + np.cumsum(rng.integers(-5, 6, (batch, 4, steps)), -1) + [[[14], [7], [0], [-12]]], 0, 45
            )
        sounding = rng.random((batch, 4, steps)) < (0.7 if case % 3 else 1.0)
        cases.append({"pitch": pitch.tolist(), "sounding": sounding.tolist(), "batch": batch, "steps": steps})
    answer = node(
        """const flat = (a) => a.flat(Infinity);
        console.log(JSON.stringify({
          ranges: data.ranges.map(([low, size]) => Array.from(rules.voiceRangeMask(low, size))),
          parallels: data.cases.map((c) => Array.from(rules.parallelPitches(
            Int32Array.from(flat(c.pitch)), Uint8Array.from(flat(c.sounding).map(Number)),
            c.batch, c.steps, 46))),
        }))""",
        {"ranges": [[r.low, r.size] for r in pitch_ranges], "cases": cases},
    )
    for pitch_range, mask in zip(pitch_ranges, answer["ranges"], strict=True):
        assert mask == samplers.voice_range_mask(pitch_range).int().flatten().tolist()
    flagged = 0
    for case, bad in zip(cases, answer["parallels"], strict=True):
        expected = parallel_pitches(np.array(case["pitch"]), np.array(case["sounding"]), 46)
        assert bad == expected.astype(int).flatten().tolist()
        flagged += sum(bad)
    assert flagged > 100  # the cases exercise the rule


def test_transposition_rules_and_uniform_match_python():
    from counterpoint.data.melodies import read_melodies

    rng = np.random.default_rng(1)
    cases = []
    for _ in range(60):
        steps = int(rng.integers(1, 12))
        chorale = rng.integers(20, 100, (steps, 4))
        chorale[rng.random((steps, 4)) < 0.2] = -1
        given = rng.random((4, steps)) < 0.4
        given[int(rng.integers(0, 4))] = True
        cases.append({"chorale": chorale.tolist(), "given": given.tolist()})
    melodies = read_melodies(Path(__file__).resolve().parents[1] / "examples" / "melodies.json")
    for index, melody in enumerate(melodies):  # real tunes, moved into every key and a few octaves
        line = melody.line()[0][:64]
        for move in (-17, -5, 0, 3, 6, 14)[index % 3 :: 3]:
            chorale = tasks.melody_to_chorale(np.where(line < 0, line, line + move))
            given = masks.harmonize_mask(len(chorale), [0])
            cases.append({"chorale": chorale.tolist(), "given": given.tolist()})
    answer = node(
        """const shift = (c, rule) => {
          try { return rules.chooseShift(c.chorale, c.given, rule); } catch (e) { return e.message; }
        };
        console.log(JSON.stringify({
          shifts: data.cases.map((c) => rules.RULES.map((rule) => shift(c, rule))),
          default: rules.DEFAULT_RULE,
          uniform: [0, 7, 2 ** 31 + 5].map((seed) => {
            const u = new rules.Uniform(seed);
            return Array.from({ length: 500 }, () => u.next());
          }),
        }))""",
        {"cases": cases},
    )
    assert answer["default"] == transposition.DEFAULT_RULE
    outcomes, differ = set(), 0
    for case, got in zip(cases, answer["shifts"], strict=True):
        chorale, given = np.array(case["chorale"]), np.array(case["given"])
        for rule, shift in zip(transposition.RULES, got, strict=True):
            try:
                expected = transposition.choose_shift(chorale, given, rule)
            except Exception as error:  # the same sentence when no shift fits
                expected = str(error)
            assert shift == expected, rule
            outcomes.add(type(expected).__name__)
        differ += len(set(got)) > 1
    assert outcomes == {"int", "str"}
    assert differ > 10  # the cases tell the rules apart
    for seed, numbers in zip([0, 7, 2**31 + 5], answer["uniform"], strict=True):
        assert numbers == Uniform(seed).take(500).tolist()
    assert VOICE_RANGES == ((60, 81), (52, 74), (46, 69), (36, 66))  # rules.js holds the same table


# --------------------------------------------------------------------------- the server's part


def test_server_hands_pages_their_model_cross_origin_isolated(tiny_model, tmp_path):
    from fastapi.testclient import TestClient

    from counterpoint.server import ServerSettings, create_app

    with TestClient(create_app(ServerSettings(), model=tiny_model)) as client:
        missing = client.get("/api/browser-model")  # a model without an int8 file: none
        assert missing.status_code == 404 and missing.json() == {"error": "this server has no browser model"}
        wasm = client.get("/static/vendor/onnxruntime-web/ort-wasm-simd-threaded.wasm")
        assert wasm.headers["content-type"] == "application/wasm"  # streaming compilation needs it
        for response in (missing, wasm, client.get("/")):
            assert response.headers["cross-origin-opener-policy"] == "same-origin"
            assert response.headers["cross-origin-embedder-policy"] == "require-corp"
    path = tmp_path / "page.onnx"
    path.write_bytes(b"an ONNX file")
    with TestClient(create_app(ServerSettings(browser_model=str(path)), model=tiny_model)) as client:
        assert client.get("/api/browser-model").content == b"an ONNX file"


def test_the_shipped_model_hands_pages_the_shipped_browser_network():
    from fastapi.testclient import TestClient

    from counterpoint.model import registry
    from counterpoint.server import ServerSettings, create_app

    model = registry.load_shipped(registry.BROWSER_TEACHER)
    assert registry.shipped_browser_network(model) == registry.BROWSER_NETWORK
    with TestClient(create_app(ServerSettings(), model=model)) as client:
        assert client.get("/api/browser-model").content == registry.BROWSER_NETWORK.read_bytes()
    browser = registry.load_shipped("browser")  # its float weights: what the int8 file was made from
    assert int8.int8_network(browser) is not None  # the file beside it was made from exactly these


# --------------------------------------------------------------------------- in Chromium


def export_float32(model, path: Path) -> Path:
    """The network as a float32 ONNX file with batch norm folded in (the sampler's network)."""
    return onnx_export.export_float32(model, path)


def export_int8(model, path: Path) -> Path:
    """The network as the project's int8 file, calibrated on random pieces under orderless masks."""
    rng = np.random.default_rng(0)
    pitches = rng.integers(0, model.pitch_range.size, (64, 4, 32))
    rolls = torch.nn.functional.one_hot(torch.from_numpy(pitches), model.pitch_range.size).float()
    known = masks.orderless(64, 32, torch.Generator().manual_seed(0))
    return int8.quantize(model, make_input(rolls, known).numpy(), path)


@pytest.fixture()
def browser_model(tmp_path, tiny_model) -> Path:
    return export_float32(tiny_model, tmp_path / "tiny.onnx")


@pytest.fixture()
def page(request):
    if not INSTALLED:  # checked before ``browser`` launches it: here a missing Chromium fails
        pytest.fail("Debian's chromium is not installed")
    browser = request.getfixturevalue("browser")
    context = browser.new_context(viewport={"width": 1200, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    return page


def open_page(page, url: str, mode: str = "auto") -> None:
    """Open the page with the sampling switch at ``mode``, once its browser model is loaded and timed."""
    page.add_init_script(f"localStorage.setItem('counterpoint.sampling', {json.dumps(mode)})")
    page.goto(url)
    page.wait_for_function(
        "window.counterpointLocal && (counterpointLocal.sampler || counterpointLocal.error)", timeout=90_000
    )
    assert page.evaluate("counterpointLocal.error") is None
    assert page.evaluate("crossOriginIsolated") is True  # COOP/COEP: ORT Web may use threads
    # a page script's global `function name` would replace window.name, which ORT's threaded
    # WASM reads to tell its workers from the page
    assert page.evaluate("typeof window.name") == "string"


def page_fill(page, chorale, known, options, seed) -> list[list[int]]:
    script = "([c, k, o, s]) => counterpointLocal.sampler.fill([c], [k], o, [s]).then((r) => r[0].chorale)"
    return page.evaluate(script, [chorale.tolist(), known.tolist(), options, seed])


@pytest.mark.parametrize("kind", ["float32", "int8"])
def test_page_writes_the_piece_python_writes(kind, tiny_model, serve, tmp_path, page, monkeypatch):
    path = (export_float32 if kind == "float32" else export_int8)(tiny_model, tmp_path / f"tiny.{kind}.onnx")
    url = serve(env={"COUNTERPOINT_BROWSER_MODEL": str(path)}).url
    open_page(page, url, "local")
    monkeypatch.setattr(samplers, "_Sampler", onnx_sampler(path))  # where sample() looks it up
    melody = np.array([48, 48, 50, 50, 52, 52, 53, -1, 55, 55, 57, 57, 55, 55, 53, 53] * 2)  # an octave low
    piece = tasks.melody_to_chorale(melody)
    refill = tasks.melody_to_chorale(np.where(melody < 0, melody, melody + 12))
    refill[:, 1:] = np.array([[64, 55, 43]] * 32)
    cases = [
        (piece, masks.harmonize_mask(32, [0]), 0.0, 3),  # argmax, with an octave shift
        (piece, masks.harmonize_mask(32, [0]), 0.99, 11),  # sampled
        (refill, masks.infill_mask(32, 8, 24, [1, 2]), 0.0, 5),  # a region refilled, the rest locked
    ]
    for chorale, known, temperature, seed in cases:
        config = SamplerConfig(temperature=temperature)
        expected = tasks.fill(tiny_model, chorale, known, config, seed=seed).chorale  # the default rule
        got = page_fill(page, chorale, known, {"temperature": temperature}, seed)
        assert got == expected.tolist(), f"{kind}, temperature {temperature}, seed {seed}"
    assert page.errors == []


def _voices_written(page) -> list[int]:
    return [page.locator(f"#staff g.note[data-voice='{v}']").count() for v in range(4)]


def _spelled(page) -> list[list[str]]:
    """The names the server would send with the piece on the page (it spells a result as one
    note per run of one pitch: the page sends no onsets)."""
    return spell_chorale(np.array(page.evaluate("app.state.piece.pitch")).T).T.tolist()


def _harmonize(page, button: str = "#harmonize") -> None:
    page.click(button)
    page.wait_for_function("!app.state.busy && !!app.state.last", timeout=90_000)


def test_page_samples_locally_with_the_server_endpoints_blocked(serve, browser_model, page, tmp_path):
    url = serve(env={"COUNTERPOINT_BROWSER_MODEL": str(browser_model)}).url
    for pattern in SAMPLING_ENDPOINTS:
        page.route(pattern, lambda route: route.abort())
    open_page(page, url, "server")  # the server is asked first, and is unreachable
    page.select_option("#preset", "mary")
    assert _voices_written(page)[1:] == [0, 0, 0]
    _harmonize(page)
    assert all(count > 0 for count in _voices_written(page)), "four voices written"
    assert "this device: the server is unreachable" in page.locator("#sampling-status").inner_text()
    assert page.evaluate("app.state.spellings") == _spelled(page), "notes named as the server names them"

    page.select_option("#sampling-mode", "local")  # the switch: sample here
    assert "Sampling on this device" in page.locator("#sampling-status").inner_text()
    before = page.evaluate("JSON.stringify(app.state.piece)")
    page.evaluate("['harmonize', 'cancel'].forEach((id) => document.getElementById(id).click())")
    page.wait_for_function("!app.state.busy", timeout=30_000)
    assert "cancelled: nothing changed" in page.locator("#hint").inner_text()
    assert page.evaluate("JSON.stringify(app.state.piece)") == before
    before = page.evaluate("app.state.piece.pitch")
    _harmonize(page, "#again")
    assert page.evaluate("app.state.piece.pitch")[0] == before[0], "the melody stays"

    page.locator("#roll").scroll_into_view_if_needed()  # select the second measure, refill it
    roll = page.locator("#roll").bounding_box()
    page.mouse.move(roll["x"] + 40 + 16 * 14 + 3, roll["y"] + 100)
    page.mouse.down()
    page.mouse.move(roll["x"] + 40 + 31 * 14 + 3, roll["y"] + 120, steps=5)
    page.mouse.up()
    before = page.evaluate("app.state.piece.pitch")
    page.click("#refill")
    page.wait_for_function("!app.state.busy", timeout=90_000)
    after = page.evaluate("app.state.piece.pitch")
    assert [voice[:16] for voice in after] == [voice[:16] for voice in before], (
        "outside the selection nothing changes"
    )
    assert after[0] == before[0], "the unticked soprano stays"

    page.click("#alternatives")
    page.wait_for_function(
        "!app.state.busy && !document.querySelector('.choice .use').disabled", timeout=90_000
    )
    assert page.locator(".choice").count() == 3
    page.locator(".choice .use").nth(1).click()
    assert "Version 2 chosen" in page.locator("#hint").inner_text()
    assert page.evaluate("app.state.spellings") == _spelled(page), "the chosen version's names"

    with page.expect_download() as download:
        page.click("#download-midi")
    path = tmp_path / "local.mid"
    download.value.save_as(path)
    tracks = mido.MidiFile(path).tracks
    assert sum(any(m.type == "note_on" and m.velocity for m in track) for track in tracks) == 4
    assert page.errors == []


def test_page_samples_locally_when_the_server_answers_503(serve, browser_model, page):
    url = serve(env={"COUNTERPOINT_BROWSER_MODEL": str(browser_model)}).url
    busy = json.dumps({"error": "the request took longer than the 180 s limit"})
    page.route(
        "**/api/infill",
        lambda route: route.fulfill(status=503, body=busy, content_type="application/json"),
    )
    open_page(page, url, "server")
    assert "Sampling on the server" in page.locator("#sampling-status").inner_text()
    page.select_option("#preset", "twinkle")
    _harmonize(page)
    assert all(count > 0 for count in _voices_written(page))
    assert "the server answered 503" in page.locator("#sampling-status").inner_text()
    assert page.errors == []
