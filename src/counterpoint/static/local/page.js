// Sampling in the page (issue #42): loads the browser model (GET /api/browser-model; on WebGPU
// its float32 twin, ?format=float32), runs the speed test on each backend and keeps the
// fastest, wires the switch ("Sample on: auto / this device / the server") and the line
// saying which path is used, and routes each run of the model: api.js's infill() hands it here
// with the server's sampler, and it samples on this device when the speed test or the switch
// says so, or when the server is unreachable or answers 502/503/504, with the server's request
// and progress formats ({iteration, passes, chorales}, then {chorales, mask, notices, onsets,
// spellings}: the notes of each result named by spelling.js, the server's rule mirrored).
import { Cancelled } from "../js/api.js";
import { loadNetwork, webgpuAvailable } from "./onnx.js";
import { LocalSampler } from "./sampler.js";
import { mergeOnset, spellChorale } from "./spelling.js";
import { LOCAL_LIMIT_S, fastest } from "./speedtest.js";

const UNAVAILABLE = [502, 503, 504];
const STORE = "counterpoint.sampling";
const PROGRESS_EVERY_MS = 50;  // as the server: a progress line at most every 50 ms

const local = {
  mode: localStorage.getItem(STORE) || "auto",
  sampler: null,   // LocalSampler once the model is loaded
  speed: null,     // {backend, pass, estimate, local} once the speed test ran
  speeds: null,    // each timed backend's speed test, by name ("WASM", "WebGPU")
  error: null,     // why the page cannot sample locally
  ready: null,     // a promise: the model loaded and timed (or failed)
};

function status(text) {
  const line = document.getElementById("sampling-status");
  if (line) line.textContent = text;
}

function describe() {
  if (local.error) return `Sampling on the server (this device cannot: ${local.error}).`;
  if (!local.speed) return "Sampling on the server while this device is tested…";
  const estimate = `${local.speed.estimate.toFixed(1)} s for 2 bars`, backend = local.speed.backend;
  if (usesLocal()) return `Sampling on this device (${backend}, ${estimate}).`;
  if (local.mode === "server") return `Sampling on the server, as chosen (this device: ${backend}, ${estimate}).`;
  return `Sampling on the server: this device would take ${estimate} with ${backend} (over ${LOCAL_LIMIT_S} s).`;
}

function usesLocal() {
  if (!local.sampler) return false;
  return local.mode === "local" || (local.mode === "auto" && local.speed?.local);
}

function wireSwitch() {
  const select = document.getElementById("sampling-mode");
  if (!select) return;
  select.value = local.mode;
  select.addEventListener("change", () => {
    local.mode = select.value;
    localStorage.setItem(STORE, local.mode);
    status(describe());
  });
}

async function prepare(modelUrl) {
  const health = await fetch("/api/health").then((r) => (r.ok ? r.json() : null)).catch(() => null);
  const [low, high] = health?.pitch_range ?? [36, 81];
  const pitches = high - low + 1;
  const make = (backend, url) => async () => new LocalSampler(await loadNetwork(url, { backend, pitches }), low, pitches);
  const float32 = new URL(modelUrl, location.href);
  float32.searchParams.set("format", "float32");
  const { sampler, speed, speeds } = await fastest([
    make("wasm", modelUrl),
    async () => ((await webgpuAvailable()) ? make("webgpu", float32.href)() : null),  // else nothing more to download
  ]);
  local.speed = speed;
  local.speeds = speeds;
  local.sampler = sampler;  // only now: a run never shares the network with the speed test
}

/** Start loading and timing the browser model; wire the switch. Returns the module's state. */
export function install({ modelUrl = "/api/browser-model" } = {}) {
  wireSwitch();
  status(describe());
  local.ready = prepare(modelUrl)
    .catch((error) => { local.error = String(error.message || error); })
    .finally(() => status(describe()));
  window.counterpointLocal = local;  // for the console and the browser tests
  return local;
}

/** A run of the model (body as /api/infill takes it, with a mask) sampled on this device. */
async function sampleHere(body, { signal, onProgress }) {
  const known = body.mask.map((row) => row.map(Boolean));
  const count = body.count ?? 1, seed = body.seed ?? 0;
  const options = {
    method: body.sampler ?? "gibbs", passes: body.passes ?? body.steps ?? null,
    temperature: body.temperature ?? 0.99, avoidParallels: body.avoid_parallels ?? true,
  };
  const seeds = Array.from({ length: count }, (_, k) => seed + k);
  let shown = 0;
  const onPass = (iteration, passes, chorales) => {
    if (signal?.aborted) throw new Cancelled();
    const now = performance.now();
    if (now - shown < PROGRESS_EVERY_MS) return;
    shown = now;
    onProgress({ iteration, passes, chorales });
  };
  if (signal?.aborted) throw new Cancelled();
  const results = await local.sampler.fill(seeds.map(() => body.chorale), seeds.map(() => known), options, seeds, onPass);
  const chorales = results.map((r) => r.chorale);
  return { chorales, mask: known, notices: [...new Set(results.flatMap((r) => r.notices))].sort(), ...resultNotes(chorales, known, body.onsets) };
}

// [step][voice] <-> [voice][step]
const transpose = (rows) => (rows[0] ?? []).map((_, i) => rows.map((row) => row[i]));

/** What the server adds to a result (server/routes.py _notes): each chorale's onsets
 * ([step][voice]; given notes keep the request's, written notes one per run of one pitch) and
 * the names of its notes ([voice][step], "" in a rest), by the server's rule. */
function resultNotes(chorales, known, givenOnsets) {
  const given = givenOnsets ? transpose(givenOnsets) : null;
  const onsets = chorales.map((chorale) => mergeOnset(transpose(chorale), given, known));
  return {
    onsets: onsets.map(transpose),
    spellings: chorales.map((chorale, i) => spellChorale(transpose(chorale), onsets[i])),
  };
}

/** Sample here when the page samples locally, else with `server` (api.js's streamed
 * /api/infill), and here after all when the server is unreachable or unavailable. */
export async function route(body, options, server) {
  if (usesLocal()) {
    status(describe());
    return sampleHere(body, options);
  }
  try {
    const result = await server(body, options);
    status(describe());
    return result;
  } catch (error) {
    if (!error.unreachable && !UNAVAILABLE.includes(error.status)) throw error;
    await local.ready;
    if (!local.sampler) throw error;
    status(`Sampling on this device: ${error.unreachable ? "the server is unreachable" : `the server answered ${error.status}`}.`);
    return sampleHere(body, options);
  }
}
