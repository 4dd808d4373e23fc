"""In-browser sampling speed beside the server's, in one run (issue #42).

Harmonizing 2 measures (the soprano of the first 2 measures of JSB test pieces, in turn; three
voices written with the default sampler: 65 Gibbs passes) two ways on this machine:

- the server: ``counterpoint serve`` (the shipped model unless --checkpoint), POST
  /api/harmonize, wall time per request from this process;
- the browser: Debian's headless Chromium, the page's sampler (``static/local``) on ONNX
  Runtime Web (WASM, SIMD, --threads threads, cross-origin isolated), the same network file the
  server hands to pages (/api/browser-model), timed inside the page.

Also each browser network's time for one bare pass at 32 steps, and the page's speed-test
estimate and choice, and the quality of both paths' pieces (with the JSB data): the share of
alto/tenor/bass voice-steps equal to Bach's and voice-leading faults per 100 steps, each with
its standard error over the pieces (the page draws other random numbers than the server, so
its pieces differ; tests/test_local_sampling.py shows it is the same procedure). ``--float32``
also times float32 ONNX exports of the checkpoint (the product, and its first network alone)
in the browser. ``--webgpu`` also times the page's WebGPU backend (ORT's JSPI build on the
float32 twin, /api/browser-model?format=float32) in a Chromium started with
--enable-unsafe-webgpu: where no GPU is (this machine) that is SwiftShader's software adapter,
so only bare passes and the speed test are timed when a pass takes over 0.2 s. Run from the
repository root with nothing else busy:

    python benchmarks/browser_speed.py [--repeats 10] [--threads 2] [--float32] [--webgpu]
        [--data JSB] [--browser-model a.onnx --browser-model b.onnx]   # several networks
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
from common import add_checkpoint, add_data, cpu_description, percentile, start_server, stop_server

from counterpoint.model.products import split
from counterpoint.model.registry import load_model
from counterpoint.runtime.onnx_export import export_float32

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"]
STEPS = 32


def windows(data: Path, count: int) -> list[np.ndarray] | None:
    """The first 2 measures of JSB test pieces, or None without the data."""
    if not data.exists():
        return None
    from counterpoint.data.datasets import load_jsb

    test = load_jsb(data).test
    return [test[i % len(test)][:STEPS] for i in range(count)]


def quality(pieces: list[list[list[int]]], bach: list[np.ndarray]) -> str:
    """Accuracy against Bach's alto/tenor/bass and faults per 100 steps, mean +- standard error."""
    from counterpoint.evaluation import fault_rates

    pieces = [np.asarray(piece) for piece in pieces]
    accuracy = [float((piece[:, 1:] == real[:, 1:]).mean()) for piece, real in zip(pieces, bach, strict=True)]
    parallels = [sum(fault_rates([p])[k] for k in ("parallel_fifths", "parallel_octaves")) for p in pieces]
    faults = [sum(fault_rates([p]).values()) for p in pieces]

    def mean_se(values: list[float]) -> str:
        return f"{np.mean(values):.3f} +- {np.std(values, ddof=1) / np.sqrt(len(values)):.3f}"

    return (
        f"accuracy {mean_se(accuracy)}, parallel 5ths/8ves per 100 steps {mean_se(parallels)}, "
        f"all faults per 100 steps {mean_se(faults)}"
    )


def browser_model_env(path: str | None) -> dict[str, str]:
    """The environment that makes the server hand ``path`` to pages (None: the file beside its checkpoint)."""
    return {"COUNTERPOINT_BROWSER_MODEL": path} if path else {}


def server_latencies(url: str, sopranos: list[list[int]]) -> tuple[list[float], list]:
    times, pieces = [], []
    for seed, soprano in enumerate(sopranos):
        body = {"chorale": [[p, -1, -1, -1] for p in soprano], "voices": ["soprano"], "seed": seed}
        headers = {"content-type": "application/json"}
        request = urllib.request.Request(url + "/api/harmonize", json.dumps(body).encode(), headers)
        start = time.perf_counter()
        with urllib.request.urlopen(request, timeout=600) as response:
            pieces.append(json.load(response)["chorales"][0])
        times.append(time.perf_counter() - start)
    return times, pieces


# runs in the page: load a network with the page's own modules, then time passes and pieces
BROWSER = """async ([modelUrl, threads, sopranos, backend]) => {
  const { loadNetwork } = await import("/static/local/onnx.js");
  const { LocalSampler } = await import("/static/local/sampler.js");
  const { speedTest } = await import("/static/local/speedtest.js");
  const health = await (await fetch("/api/health")).json();
  const [low, high] = health.pitch_range, P = high - low + 1;
  const network = await loadNetwork(modelUrl, { backend, threads, pitches: P });
  const sampler = new LocalSampler(network, low, P);
  const input = () => new Float32Array(8 * 32 * P);  // a run hands its input to ORT's worker
  const warm = performance.now();
  for (let i = 0; i < 3; i++) await network.run(input(), 1, 32);
  const slow = (performance.now() - warm) / 3 > 200;  // a software GPU: seconds a pass
  const passes = [];
  for (let i = 0; i < (slow ? 3 : 20); i++) {
    const x = input(), start = performance.now();
    await network.run(x, 1, 32);
    passes.push(performance.now() - start);
  }
  const speed = await speedTest(sampler, { repeats: slow ? 1 : 3 });
  const known = [0, 1, 2, 3].map((v) => new Array(32).fill(v === 0));
  const pieces = [], chorales = [];
  for (const [seed, soprano] of (slow ? [] : sopranos).entries()) {
    const chorale = soprano.map((p) => [p, -1, -1, -1]);
    const start = performance.now();
    const [result] = await sampler.fill([chorale], [known], {}, [seed]);
    pieces.push(performance.now() - start);
    chorales.push(result.chorale);
  }
  const isolated = crossOriginIsolated;
  const { backend: name, threads: used, bytes } = network;
  return { passes, pieces, chorales, speed, backend: name, threads: used, bytes, isolated };
}"""


def browser_latencies(
    url: str, model_url: str, threads: int, sopranos: list[list[int]], backend: str = "wasm"
) -> dict:
    from playwright.sync_api import sync_playwright

    # WebGPU: Chromium's adapter (SwiftShader's where no GPU is) instead of --disable-gpu
    webgpu = [flag for flag in FLAGS if flag != "--disable-gpu"] + ["--enable-unsafe-webgpu"]
    flags = FLAGS if backend == "wasm" else webgpu
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=flags)
        page = browser.new_page()
        page.goto(url + "/api/health")  # a same-origin document, cross-origin isolated like the page
        if backend == "webgpu":
            adapter = "async () => { const i = (await navigator.gpu?.requestAdapter())?.info; return i && "
            adapter += "`${i.vendor} ${i.architecture}${i.isFallbackAdapter ? ', fallback' : ''}`; }"
            info = page.evaluate(adapter)
            print(f"  WebGPU adapter: {info}")
        result = page.evaluate(BROWSER, [model_url, threads, sopranos, backend])
        browser.close()
    return result


# One click of the page's Harmonize button, until the piece is written (drawing included).
CLICK = """async () => {
  const start = performance.now();
  document.getElementById("harmonize").click();  // sets app.state.busy before its first await
  await new Promise((done) => {
    const check = () => (app.state.busy ? setTimeout(check, 2) : done());
    check();
  });
  return performance.now() - start;
}"""


def page_latencies(url: str, repeats: int) -> list[float]:
    """Seconds from a click on Harmonize to the piece on the staff, sampling on this device, with
    the page's Twinkle preset cut to 2 bars: what a visitor waits for."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.add_init_script("localStorage.setItem('counterpoint.sampling', 'local')")
        page.goto(url)
        page.wait_for_function("window.counterpointLocal && counterpointLocal.sampler", timeout=120_000)
        page.select_option("#preset", "twinkle")
        page.select_option("#measures", "2")
        times = [page.evaluate(CLICK) / 1000 for _ in range(repeats + 1)][1:]  # the first warms up
        browser.close()
    return times


def p50_p90(seconds: list[float]) -> str:
    return f"p50 {percentile(seconds, 50):.3f} s  p90 {percentile(seconds, 90):.3f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description="in-browser sampling speed beside the server's")
    add_checkpoint(parser)
    add_data(parser)
    parser.add_argument(
        "--browser-model",
        action="append",
        default=[],
        help="an ONNX file to time in the page (repeat for several, side by side); default: the one "
        "the server hands to pages (/api/browser-model)",
    )
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--float32", action="store_true", help="also time float32 exports in the browser")
    parser.add_argument("--webgpu", action="store_true", help="also time the page's WebGPU backend")
    args = parser.parse_args()

    bach = windows(args.data, args.repeats)
    scale = [[72 + (t // 4) % 5, -1, -1, -1] for t in range(STEPS)]  # without the data
    sopranos = [w[:, 0].tolist() for w in bach] if bach else [[row[0] for row in scale]] * args.repeats
    print(f"CPU: {cpu_description()}; load average {os.getloadavg()[0]:.2f}")
    version = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True).stdout.strip()
    print(f"Chromium: {version}")
    url, server = start_server(args.checkpoint, env=browser_model_env(None))
    try:
        print(f"2-measure harmonization, soprano given, default sampler (65 passes), {args.repeats} pieces")
        server_latencies(url, sopranos[:2])  # warm-up
        times, served_pieces = server_latencies(url, sopranos)
        print(f"  server  (counterpoint serve, {args.checkpoint or 'shipped jsb'}): {p50_p90(times)}")
        if bach:
            print(f"    its pieces: {quality(served_pieces, bach)}")
        models = [(path, Path(path).name) for path in args.browser_model]
        models = models or [("/api/browser-model", "the server's /api/browser-model")]
        with tempfile.TemporaryDirectory() as folder:
            if args.float32:
                model = load_model(args.checkpoint)
                product = export_float32(model, Path(folder) / "product.onnx")
                member = export_float32(split(model)[0], Path(folder) / "member.onnx")
                models += [(str(product), "float32 product"), (str(member), "float32 first network")]
            runs = [(model_url, name, "wasm") for model_url, name in models]
            if args.webgpu:  # first: the server still hands pages its own browser model
                runs.insert(0, ("/api/browser-model?format=float32", "the server's float32 twin", "webgpu"))
            for model_url, name, backend in runs:
                if not model_url.startswith("/api/browser-model"):  # a server that hands this file to pages
                    stop_server(server)
                    url, server = start_server(args.checkpoint, env=browser_model_env(model_url))
                    model_url = "/api/browser-model"
                result = browser_latencies(url, model_url, args.threads, sopranos, backend)
                pieces = [ms / 1000 for ms in result["pieces"]]
                speed = result["speed"]
                print(
                    f"  browser ({name}, {result['bytes'] / 1e6:.2f} MB, ORT Web {result['backend']}, "
                    f"{result['threads']} threads, isolated {result['isolated']}): "
                    f"{p50_p90(pieces) if pieces else 'pieces not timed (a pass takes over 0.2 s)'}; "
                    f"bare pass at 32 steps p50 {statistics.median(result['passes']):.1f} ms; speed test: "
                    f"{1000 * speed['pass']:.1f} ms a pass, estimate {speed['estimate']:.2f} s "
                    f"-> {'local' if speed['local'] else 'server'}"
                )
                if bach and pieces:
                    print(f"    its pieces: {quality(result['chorales'], bach)}")
                if backend == "wasm" and speed["local"]:
                    clicks = page_latencies(url, args.repeats)
                    print(f"    through the page (Harmonize clicked, the piece drawn): {p50_p90(clicks)}")
    finally:
        stop_server(server)


if __name__ == "__main__":
    main()
