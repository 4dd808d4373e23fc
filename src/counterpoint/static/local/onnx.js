// The network in the page: ONNX Runtime Web (vendored under static/vendor/onnxruntime-web),
// WASM with SIMD, on several threads where the page is cross-origin isolated (the server sends
// COOP/COEP headers; without them SharedArrayBuffer is missing and ORT runs on one thread).
import * as ort from "../vendor/onnxruntime-web/ort.wasm.min.mjs";

const VENDOR = new URL("../vendor/onnxruntime-web/", import.meta.url).href;
ort.env.wasm.wasmPaths = VENDOR;
// sessions run in ORT's worker: the page stays responsive during a pass (inputs are handed over)
ort.env.wasm.proxy = true;

/** Threads the page can use: 1 unless cross-origin isolated, else up to 4 of the cores. */
export function availableThreads() {
  if (!globalThis.crossOriginIsolated) return 1;
  return Math.max(1, Math.min(4, navigator.hardwareConcurrency || 1));
}

/**
 * The network at `url`, as the sampler calls it: `run(x, batch, steps)` with x the float32
 * input (batch, 8, steps, pitches) returns float32 logits (batch, 4, steps, pitches). x is
 * transferred to ORT's worker: it cannot be used again.
 */
export async function loadNetwork(url, { threads = availableThreads(), pitches } = {}) {
  ort.env.wasm.numThreads = threads;
  const response = await fetch(url);
  if (!response.ok) throw new Error(`no browser model (${response.status})`);
  const bytes = new Uint8Array(await response.arrayBuffer()), size = bytes.length;
  const session = await ort.InferenceSession.create(bytes, {
    executionProviders: ["wasm"],
    graphOptimizationLevel: "all",
  });
  const [input] = session.inputNames, [output] = session.outputNames;
  return {
    threads,
    pitches,
    bytes: size,
    async run(x, batch, steps) {
      const feeds = { [input]: new ort.Tensor("float32", x, [batch, 8, steps, pitches]) };
      const result = await session.run(feeds);
      return result[output].data;
    },
    release: () => session.release(),
  };
}
