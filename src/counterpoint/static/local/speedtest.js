// The speed test that chooses where the page samples, as the Doodle's did: time a few passes
// of the sampler on this device and estimate a 2-measure harmonization (the soprano given,
// three voices written: 1 + round(96 * 2/3) = 65 passes). The page samples locally when the
// estimate is at most LOCAL_LIMIT_S.
import { NUM_VOICES, SILENCE, plannedPasses } from "./rules.js";

export const LOCAL_LIMIT_S = 2.0;  // the Doodle's bound for sampling on the visitor's device
const STEPS = 32;                  // 2 measures of 16th notes

/** Seconds a pass takes on `sampler` (median of `repeats` timed runs of `passes` Gibbs passes,
 * after one warm-up), and the estimated seconds for a 2-measure harmonization. */
export async function speedTest(sampler, { passes = 3, repeats = 3 } = {}) {
  const melody = Array.from({ length: STEPS }, (_, t) => [72 + (Math.floor(t / 4) % 5), SILENCE, SILENCE, SILENCE]);
  const known = Array.from({ length: NUM_VOICES }, (_, v) => new Array(STEPS).fill(v === 0));
  const run = () => sampler.fill([melody], [known], { passes: passes - 1 }, [0]);
  await run();  // compiles the WASM paths and allocates
  const times = [];
  for (let r = 0; r < repeats; r++) {
    const start = performance.now();
    await run();
    times.push((performance.now() - start) / 1000 / passes);
  }
  times.sort((a, b) => a - b);
  const pass = times[Math.floor(times.length / 2)];
  const estimate = pass * plannedPasses(3 * STEPS);
  return { pass, estimate, local: estimate <= LOCAL_LIMIT_S };
}
