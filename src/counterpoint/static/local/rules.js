// The sampler's rules, as the Python package has them, for sampling in the page (issue #42):
// the annealed Gibbs schedule and pass counts (sampling/schedule.py: gibbs_schedule,
// gibbs_passes, planned_passes; the erasure counts of sampling/samplers.py's _gibbs), the
// voices' ranges (music/rules.py VOICE_RANGES, samplers.voice_range_mask), the parallels rule
// (music/rules.py parallel_pitches, PARALLEL_PENALTY), the octave shift of given notes
// (tasks.octave_shift) and a seeded random source. Pure functions, no model:
// tests/test_local_sampling.py runs them in node on the same inputs as the Python functions
// and compares the answers.

export const VOICES = ["soprano", "alto", "tenor", "bass"];
export const NUM_VOICES = 4;
export const SILENCE = -1;
// each voice's range in the JSB chorales: the sampler never writes outside it
export const VOICE_RANGES = [[60, 81], [52, 74], [46, 69], [36, 66]];
export const GIBBS_PASSES_PER_NOTE = 2 / 3;
// nats taken from a pitch that would make parallel fifths or octaves
export const PARALLEL_PENALTY = 50;

/** Round half to even, as Python's round() and torch's round() do. */
export function roundHalfEven(x) {
  const floor = Math.floor(x), rest = x - floor;
  if (rest < 0.5) return floor;
  if (rest > 0.5) return floor + 1;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** Gibbs iterations after the first draw: `passes`, else two thirds of the notes to write (at least one). */
export function gibbsPasses(notesToWrite, passes = null) {
  if (passes !== null && passes !== undefined) return passes;
  return Math.max(1, roundHalfEven(notesToWrite * GIBBS_PASSES_PER_NOTE));
}

/** The forward passes Gibbs makes to write `notesToWrite` notes (what a progress bar counts to). */
export function plannedPasses(notesToWrite, passes = null) {
  return 1 + gibbsPasses(notesToWrite, passes);
}

/** Yao et al.'s truncated linear schedule: the fraction of notes erased at iteration n. */
export function gibbsSchedule(n, total, pMin = 0.1, pMax = 0.9, alpha = 0.7) {
  if (total <= 0) return pMin;
  return Math.max(pMin, pMax - n / (alpha * total) * (pMax - pMin));
}

/** Per pass n and element b, the rank of the last note erased: round(count_b * p_n) notes, at
 * least one, minus one. In float32, as samplers._gibbs computes it with torch. */
export function erasureRanks(counts, total, pMin = 0.1, pMax = 0.9, alpha = 0.7) {
  const ranks = [];
  for (let n = 0; n < total; n++) {
    const fraction = Math.fround(gibbsSchedule(n, total, pMin, pMax, alpha));
    ranks.push(counts.map((count) => Math.max(1, roundHalfEven(Math.fround(Math.fround(count) * fraction))) - 1));
  }
  return ranks;
}

/** (4 * P) 0/1: 1 where voice v may sing pitch index p of a model whose pitches start at `low`. */
export function voiceRangeMask(low, size) {
  const allowed = new Uint8Array(NUM_VOICES * size);
  VOICE_RANGES.forEach(([vLow, vHigh], voice) => {
    for (let pitch = Math.max(vLow, low); pitch <= Math.min(vHigh, low + size - 1); pitch++) {
      allowed[voice * size + pitch - low] = 1;
    }
  });
  return allowed;
}

/**
 * (B * 4 * T * P) 0/1: 1 where writing pitch index p for voice v at step t would make parallel
 * fifths or octaves (both voices move the same way, from a fifth to a fifth or an
 * octave/unison to an octave/unison, modulo octaves) with another voice, into step t or out of
 * it. `pitch` (B * 4 * T) holds pitch indices, `sounding` (B * 4 * T, 0/1) says which of them
 * are there to be moved against. The evaluation's rule, as music/rules.py parallel_pitches has it.
 */
export function parallelPitches(pitch, sounding, batch, steps, pitches) {
  const bad = new Uint8Array(batch * NUM_VOICES * steps * pitches);
  const at = (b, v, t) => (b * NUM_VOICES + v) * steps + t;
  // flag the candidates c at step `step` of voice v on `side` of `anchor` that make
  // `interval` (0 or 7, modulo octaves) with `against`
  const flag = (b, v, step, anchor, against, interval, side) => {
    const row = at(b, v, step) * pitches;
    for (let c = 0; c < pitches; c++) {
      if (Math.sign(c - anchor) === side && Math.abs(c - against) % 12 === interval) bad[row + c] = 1;
    }
  };
  for (let b = 0; b < batch; b++) {
    for (let u = 0; u < NUM_VOICES; u++) {
      for (let t = 0; t + 1 < steps; t++) {
        const from = pitch[at(b, u, t)], to = pitch[at(b, u, t + 1)];
        if (!sounding[at(b, u, t)] || !sounding[at(b, u, t + 1)] || from === to) continue;
        const uMove = Math.sign(to - from);
        for (let v = 0; v < NUM_VOICES; v++) {
          if (v === u) continue;
          if (sounding[at(b, v, t)]) {  // into t+1: v's note at t is known
            const interval = Math.abs(pitch[at(b, v, t)] - from) % 12;
            if (interval === 0 || interval === 7) flag(b, v, t + 1, pitch[at(b, v, t)], to, interval, uMove);
          }
          if (sounding[at(b, v, t + 1)]) {  // out of t: v's note at t+1 is known
            const interval = Math.abs(pitch[at(b, v, t + 1)] - to) % 12;
            if (interval === 0 || interval === 7) flag(b, v, t, pitch[at(b, v, t + 1)], from, interval, -uMove);
          }
        }
      }
    }
  }
  return bad;
}

/** The given sounding notes of a voice: chorale (T rows of 4 MIDI pitches), given (4 x T). */
function givenLine(chorale, given, voice) {
  return chorale.map((row) => row[voice]).filter((p, t) => given[voice][t] && p !== SILENCE);
}

/** The octave shift (in semitones, smallest first) that brings every given note into its
 * voice's range; throws an Error with the Python message if none does. */
export function octaveShift(chorale, given) {
  const lines = VOICES.map((_, voice) => givenLine(chorale, given, voice));
  for (const shift of [0, -12, 12, -24, 24, -36, 36]) {
    const fits = lines.every((line, voice) => {
      const [low, high] = VOICE_RANGES[voice];
      return !line.length || (Math.min(...line) + shift >= low && Math.max(...line) + shift <= high);
    });
    if (fits) return shift;
  }
  lines.forEach((line, voice) => {
    if (!line.length) return;
    const [low, high] = VOICE_RANGES[voice], min = Math.min(...line), max = Math.max(...line);
    if (max - min > high - low) {
      throw new Error(`the ${VOICES[voice]} spans ${max - min} semitones (${min}..${max}); ` +
        `the model's ${VOICES[voice]} range is ${low}..${high}, so no octave shift fits`);
    }
  });
  throw new Error("the given voices do not fit their ranges under any common octave shift");
}

/** The notice a shifted request gets, as tasks.fill_many words it. */
export function shiftNotice(shift) {
  return `the given notes were moved ${Math.floor(Math.abs(shift) / 12)} octave(s) ${shift > 0 ? "up" : "down"} ` +
    "into the voices' ranges, and the result moved back";
}

/**
 * A seeded uniform source (mulberry32, 24-bit floats in [0, 1), exact in float32). Counter
 * based: value i of seed s is a function of s + (i + 1) * 0x6D2B79F5 alone, so the test's
 * numpy version draws the same numbers. The page's samples repeat for a seed, but differ from
 * the server's (torch's generator).
 */
export class Uniform {
  constructor(seed) { this.state = seed >>> 0; }

  next() {
    this.state = (this.state + 0x6D2B79F5) >>> 0;
    let t = Math.imul(this.state ^ (this.state >>> 15), 1 | this.state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 8) / 16777216;
  }

  fill(array) {
    for (let i = 0; i < array.length; i++) array[i] = this.next();
    return array;
  }
}
