"""The page's WebGPU backend (issue #42): the server hands pages the browser model's float32
twin (``/api/browser-model?format=float32``, every node of which ONNX Runtime's WebGPU backend
runs on the GPU); in a real Chromium with a WebGPU adapter (SwiftShader's, a software GPU, with
``--enable-unsafe-webgpu``) the page times both backends and samples on the faster, and the
WebGPU network writes the piece the WASM one writes; without WebGPU (no ``navigator.gpu``, or no
adapter granted) the page samples on WASM and downloads nothing more."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import chromium
import numpy as np
import onnx
import onnxruntime
import pytest
import torch
from fastapi.testclient import TestClient
from servers import running_server

from counterpoint.data import masks
from counterpoint.model import registry
from counterpoint.model.checkpoint import load, save
from counterpoint.model.network import Coconet, preset
from counterpoint.runtime import int8, onnx_export
from counterpoint.server import ServerSettings, create_app

# the shared flags less --disable-gpu: each test says whether Chromium may grant an adapter
FLAGS = [flag for flag in chromium.FLAGS if flag != "--disable-gpu"]
WEBGPU = ["--enable-unsafe-webgpu"]  # Chromium's WebGPU on SwiftShader, where no GPU is
NO_GPU = ["--disable-gpu"]  # navigator.gpu is there, no adapter is granted
WEBGPU_FILES = ("ort.jspi.min.mjs", "ort-wasm-simd-threaded.jspi.mjs", "ort-wasm-simd-threaded.jspi.wasm")


def _float32_logits(data: bytes, x: np.ndarray) -> np.ndarray:
    return onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]


def _input(pitches: int, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).random((2, 8, 16, pitches)) < 0.05).astype(np.float32)


# --------------------------------------------------------------------------- the server's part


def test_the_float32_twin_is_the_browser_models_network(tiny_model, tiny_checkpoint, tmp_path):
    with TestClient(create_app(ServerSettings(), model=tiny_model)) as client:  # no int8 file: no twin
        missing = client.get("/api/browser-model?format=float32")
        assert missing.status_code == 404
        assert missing.json() == {"error": "this server has no float32 browser model"}
        assert client.get("/api/browser-model?format=int8").status_code == 422

    rng = np.random.default_rng(0)  # the int8 file beside the checkpoint: its twin, from the same weights
    calibration = (rng.random((8, 8, 16, tiny_model.pitch_range.size)) < 0.05).astype(np.float32)
    int8.quantize(tiny_model, calibration, int8.int8_path(tiny_checkpoint))
    served = load(tiny_checkpoint)
    with TestClient(create_app(ServerSettings(), model=served)) as client:
        twin = client.get("/api/browser-model?format=float32")
        assert twin.status_code == 200
        assert client.get("/api/browser-model").content == int8.int8_path(tiny_checkpoint).read_bytes()
    ops = {node.op_type for node in onnx.load_from_string(twin.content).graph.node}
    assert "Conv" in ops and not any("Quant" in op or op.startswith("QLinear") for op in ops), ops
    x = _input(tiny_model.pitch_range.size)
    with torch.no_grad():
        exact = tiny_model(torch.from_numpy(x)).numpy()
    assert np.abs(_float32_logits(twin.content, x) - exact).max() < 1e-4

    configured = tmp_path / "page.onnx"  # a configured browser model has a twin only if configured too
    configured.write_bytes(b"an ONNX file")
    with TestClient(create_app(ServerSettings(browser_model=str(configured)), model=served)) as client:
        assert client.get("/api/browser-model?format=float32").status_code == 404
    twin_file = tmp_path / "twin.onnx"
    twin_file.write_bytes(b"its float32 twin")
    settings = ServerSettings(browser_model=str(configured), browser_model_float32=str(twin_file))
    with TestClient(create_app(settings, model=served)) as client:
        assert client.get("/api/browser-model?format=float32").content == b"its float32 twin"


def test_the_shipped_browser_network_has_a_float32_twin(chorale):
    from counterpoint.data import masks
    from counterpoint.model.network import make_input
    from counterpoint.music.representation import to_pianoroll

    model = registry.load_shipped(registry.BROWSER_TEACHER)
    browser = registry.load_shipped(registry.BROWSER_WEIGHTS)
    with TestClient(create_app(ServerSettings(), model=model)) as client:
        twin = client.get("/api/browser-model?format=float32").content
    # a Bach chorale's soprano, the other voices to write: what the page hands the network (on
    # random notes, many pitches are near-ties, and int8 rounding flips their argmax)
    window = chorale[:64]
    roll = torch.from_numpy(to_pianoroll(window, browser.pitch_range))[None]
    known = torch.from_numpy(masks.harmonize_mask(len(window), [0]))[None]
    x = make_input(roll, known).numpy()
    with torch.no_grad():
        exact = browser(torch.from_numpy(x)).numpy()
    logits = _float32_logits(twin, x)
    assert np.abs(logits - exact).max() < 1e-4
    quantized = _float32_logits(registry.BROWSER_NETWORK.read_bytes(), x)  # the int8 file it twins
    assert (quantized.argmax(-1) == logits.argmax(-1)).mean() > 0.95


# --------------------------------------------------------------------------- in Chromium


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("webgpu")
    torch.manual_seed(0)
    model = Coconet(preset("tiny")).eval()
    save(folder / "tiny.pt", model)
    twin = str(onnx_export.export_float32(model, folder / "tiny.onnx"))  # for both backends
    env = {"COUNTERPOINT_BROWSER_MODEL": twin, "COUNTERPOINT_BROWSER_MODEL_FLOAT32": twin}
    with running_server(folder / "tiny.pt", env=env) as server:
        yield server.url


@contextlib.contextmanager
def _page(flags: list[str], init_script: str | None = None):
    if not chromium.INSTALLED:
        pytest.fail("Debian's chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium.CHROMIUM, args=FLAGS + flags)
        page = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
        page.errors, page.requested = [], []
        page.on("pageerror", lambda error: page.errors.append(str(error)))
        page.on("request", lambda request: page.requested.append(request.url))
        page.add_init_script("localStorage.setItem('counterpoint.sampling', 'local')")
        if init_script:
            page.add_init_script(init_script)
        try:
            yield page
        finally:
            browser.close()


def _open(page, url: str) -> dict:
    """Open the page; once its backends are loaded and timed, each one's speed test."""
    page.goto(url)
    page.wait_for_function(
        "window.counterpointLocal && (counterpointLocal.sampler || counterpointLocal.error)", timeout=120_000
    )
    assert page.evaluate("counterpointLocal.error") is None
    return page.evaluate("counterpointLocal.speeds")


# both networks in one page, the page's own modules: one pass's logits and an argmax piece each
BOTH = """async ([melody, known, passes]) => {
  const { loadNetwork } = await import("/static/local/onnx.js");
  const { LocalSampler } = await import("/static/local/sampler.js");
  const [low, high] = (await (await fetch("/api/health")).json()).pitch_range, P = high - low + 1;
  const x = Float32Array.from({ length: 2 * 8 * 16 * P }, (_, i) => (i * 7919 % 23 === 0 ? 1 : 0));
  const out = {};
  const urls = { wasm: "/api/browser-model", webgpu: "/api/browser-model?format=float32" };
  for (const [backend, url] of Object.entries(urls)) {
    const network = await loadNetwork(url, { backend, pitches: P });
    const logits = Array.from(await network.run(x.slice(), 2, 16));
    const sampler = new LocalSampler(network, low, P);
    const chorale = melody.map((p) => [p, -1, -1, -1]);
    const [piece] = await sampler.fill([chorale], [known], { temperature: 0, passes }, [3]);
    out[network.backend] = { logits, chorale: piece.chorale };
    await network.release();
  }
  return out;
}"""


def test_the_page_samples_on_webgpu_as_on_wasm(served):
    with _page(WEBGPU) as page:
        speeds = _open(page, served)
        assert set(speeds) == {"WASM", "WebGPU"}, "both backends timed"
        chosen = min(speeds.values(), key=lambda speed: speed["pass"])["backend"]
        assert page.evaluate("counterpointLocal.speed.backend") == chosen  # on SwiftShader: WASM
        assert f"Sampling on this device ({chosen}, " in page.locator("#sampling-status").inner_text()
        assert all(any(url.endswith(name) for url in page.requested) for name in WEBGPU_FILES)

        melody = [60, 60, 62, 62, 64, 64, 65, 65, 67, 67, 69, 69, 67, 67, 65, 65]
        known = masks.harmonize_mask(16, [0]).tolist()
        result = page.evaluate(BOTH, [melody, known, 3])
        wasm, webgpu = result["WASM"], result["WebGPU"]
        assert np.abs(np.array(webgpu["logits"]) - np.array(wasm["logits"])).max() < 1e-4
        assert webgpu["chorale"] == wasm["chorale"], "argmax decoding writes the same piece"
        assert [row[0] for row in wasm["chorale"]] == melody
        assert page.errors == []


@pytest.mark.parametrize(
    ("flags", "init_script"),
    [
        (NO_GPU, None),  # navigator.gpu, but no adapter
        (WEBGPU, "Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined })"),
    ],
    ids=["no-adapter", "no-navigator-gpu"],
)
def test_without_webgpu_the_page_samples_on_wasm(served, flags, init_script):
    with _page(flags, init_script) as page:
        assert set(_open(page, served)) == {"WASM"}
        assert "Sampling on this device (WASM, " in page.locator("#sampling-status").inner_text()
        fetched = [url for url in page.requested if "format=float32" in url or ".jspi." in url]
        assert fetched == [], "nothing more is downloaded"
        melody = [72, 71, 69, 67, 65, 64, 62, 60]  # the page's sampler, on WASM, writes three voices
        script = "(m) => counterpointLocal.sampler.fill([m.map((p) => [p, -1, -1, -1])], [[0, 1, 2, 3].map("
        script += "(v) => m.map(() => v === 0))], {}, [0]).then((r) => r[0].chorale)"
        chorale = np.array(page.evaluate(script, melody))
        assert chorale[:, 0].tolist() == melody and (chorale[:, 1:] >= 0).all()
        assert page.errors == []
