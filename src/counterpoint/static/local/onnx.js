// The network in the page: ONNX Runtime Web (vendored under static/vendor/onnxruntime-web) on
// one of two backends. WASM with SIMD, on several threads where the page is cross-origin
// isolated (the server sends COOP/COEP headers; without them SharedArrayBuffer is missing and
// ORT runs on one thread): every browser, the int8 browser model. WebGPU: ORT's JSPI build,
// imported only when asked for (18 MB more), where the browser grants a WebGPU adapter and has
// WebAssembly JSPI (webgpuAvailable); it runs the browser model's float32 twin
// (?format=float32), since ORT's WebGPU backend has no int8 convolutions and would run them
// all on the CPU.
import * as ort from "../vendor/onnxruntime-web/ort.wasm.min.mjs";

const VENDOR = new URL("../vendor/onnxruntime-web/", import.meta.url).href;
ort.env.wasm.wasmPaths = VENDOR;
// sessions run in ORT's worker: the page stays responsive during a pass (inputs are handed over)
ort.env.wasm.proxy = true;

/** The backends, by the name loadNetwork takes, with the name the page shows. */
export const BACKENDS = { wasm: "WASM", webgpu: "WebGPU" };

/** Threads the page can use: 1 unless cross-origin isolated, else up to 4 of the cores. */
export function availableThreads() {
  if (!globalThis.crossOriginIsolated) return 1;
  return Math.max(1, Math.min(4, navigator.hardwareConcurrency || 1));
}

/** Whether this browser can run the WebGPU backend: it grants an adapter, and has JSPI, which
 * ORT's JSPI build needs (Chromium 137+; elsewhere the page stays on WASM). */
export async function webgpuAvailable() {
  if (!globalThis.navigator?.gpu || !("Suspending" in WebAssembly)) return false;
  try {
    return (await navigator.gpu.requestAdapter()) !== null;
  } catch {
    return false;
  }
}

let webgpuRuntime = null;

/** ORT's WebGPU build, imported on first use: a module of its own, with its own settings. */
function loadWebGpuRuntime() {
  webgpuRuntime ??= import("../vendor/onnxruntime-web/ort.jspi.min.mjs").then((gpu) => {
    gpu.env.wasm.wasmPaths = VENDOR;
    // every node of the float32 network runs on the GPU: no CPU threads, and no worker (the
    // page's thread only hands the GPU its work and waits)
    gpu.env.wasm.numThreads = 1;
    gpu.env.wasm.proxy = false;
    return gpu;
  });
  return webgpuRuntime;
}

/**
 * The network at `url` on `backend` ("wasm" or "webgpu"), as the sampler calls it:
 * `run(x, batch, steps)` with x the float32 input (batch, 8, steps, pitches) returns float32
 * logits (batch, 4, steps, pitches). x may be transferred to ORT's worker: it cannot be used
 * again.
 */
export async function loadNetwork(url, { backend = "wasm", threads = availableThreads(), pitches } = {}) {
  if (!(backend in BACKENDS)) throw new Error(`no backend ${backend}`);
  const response = await fetch(url);  // first: without a model the runtime is not downloaded
  if (!response.ok) throw new Error(`no browser model (${response.status})`);
  const bytes = new Uint8Array(await response.arrayBuffer()), size = bytes.length;
  const runtime = backend === "webgpu" ? await loadWebGpuRuntime() : ort;
  if (backend === "wasm") ort.env.wasm.numThreads = threads;
  const session = await runtime.InferenceSession.create(bytes, {
    executionProviders: [backend],
    graphOptimizationLevel: "all",
  });
  const [input] = session.inputNames, [output] = session.outputNames;
  return {
    backend: BACKENDS[backend],
    threads: backend === "wasm" ? threads : 1,
    pitches,
    bytes: size,
    async run(x, batch, steps) {
      const feeds = { [input]: new runtime.Tensor("float32", x, [batch, 8, steps, pitches]) };
      const result = await session.run(feeds);
      return result[output].data;
    },
    release: () => session.release(),
  };
}
