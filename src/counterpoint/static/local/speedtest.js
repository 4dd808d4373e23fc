// The speed test that chooses where the page samples, as the Doodle's did: time a few passes
// of the sampler on this device and estimate a 2-measure harmonization (the soprano given,
// three voices written: 1 + round(96 * 2/3) = 65 passes). The page samples locally when the
// estimate is at most LOCAL_LIMIT_S, on the fastest of its backends (WASM, and WebGPU where
// the browser has it).
import { NUM_VOICES, SILENCE, plannedPasses } from "./rules.js";

export const LOCAL_LIMIT_S = 2.0;  // the Doodle's bound for sampling on the visitor's device
const STEPS = 32;                  // 2 measures of 16th notes

/** Seconds a pass takes on `sampler` (median of `repeats` timed runs of `passes` Gibbs passes,
 * after one warm-up), the estimated seconds for a 2-measure harmonization, and the network's
 * backend. Given `slowerThan` (seconds a pass), a sampler whose bare network pass already takes
 * longer, after one to warm up, is timed no further: a software GPU takes seconds a pass. */
export async function speedTest(sampler, { passes = 3, repeats = 3, slowerThan = Infinity } = {}) {
  const result = (pass) => {
    const estimate = pass * plannedPasses(3 * STEPS);
    return { backend: sampler.network.backend, pass, estimate, local: estimate <= LOCAL_LIMIT_S };
  };
  if (slowerThan < Infinity) {
    const bare = async () => {
      const start = performance.now();
      await sampler.network.run(new Float32Array(2 * NUM_VOICES * STEPS * sampler.pitches), 1, STEPS);
      return (performance.now() - start) / 1000;
    };
    await bare();  // compiles the GPU's shaders
    const pass = await bare();  // a little less than a pass of the sampler: it is slower still
    if (pass > slowerThan) return result(pass);
  }
  const melody = Array.from({ length: STEPS }, (_, t) => [72 + (Math.floor(t / 4) % 5), SILENCE, SILENCE, SILENCE]);
  const known = Array.from({ length: NUM_VOICES }, (_, v) => new Array(STEPS).fill(v === 0));
  const run = () => sampler.fill([melody], [known], { passes: passes - 1 }, [0]);
  await run();  // compiles the WASM paths (or the GPU's shaders) and allocates
  const times = [];
  for (let r = 0; r < repeats; r++) {
    const start = performance.now();
    await run();
    times.push((performance.now() - start) / 1000 / passes);
  }
  times.sort((a, b) => a - b);
  return result(times[Math.floor(times.length / 2)]);
}

/**
 * The fastest sampler by the speed test: `candidates` are functions making one (or null where
 * its backend is missing), loaded and timed in turn; the slower ones are released. A candidate
 * that fails is passed over (its error logged) unless none works. Returns {sampler, speed,
 * speeds}, speeds holding each timed backend's speed test by its name.
 */
export async function fastest(candidates) {
  const release = (sampler) => sampler.network.release().catch(() => {});  // nothing to do if it fails
  let best = null, failure = null;
  const speeds = {};
  for (const make of candidates) {
    let sampler = null;
    try {
      sampler = await make();
      if (!sampler) continue;
      const speed = await speedTest(sampler, { slowerThan: best?.speed.pass ?? Infinity });
      speeds[speed.backend] = speed;
      if (best && best.speed.pass <= speed.pass) {
        release(sampler);
        continue;
      }
      if (best) release(best.sampler);
      best = { sampler, speed };
    } catch (error) {
      failure ??= error;
      console.warn("the page cannot sample with this backend:", error);
      if (sampler && sampler !== best?.sampler) release(sampler);
    }
  }
  if (!best) throw failure ?? new Error("no backend to sample with");
  return { ...best, speeds };
}
