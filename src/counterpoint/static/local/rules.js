// The sampler's rules, as the Python package has them, for sampling in the page (issue #42):
// the annealed Gibbs schedule, pass counts and temperatures (sampling/schedule.py:
// gibbs_schedule, gibbs_passes, gibbs_temperatures, planned_passes; the erasure counts of sampling/samplers.py's _gibbs), the
// voices' ranges (music/rules.py VOICE_RANGES, samplers.voice_range_mask), the parallels rule
// (music/rules.py parallel_pitches, PARALLEL_PENALTY), the shift of given notes into the
// voices' ranges (music/transposition.py, every rule) and a seeded random source. No model:
// tests/test_local_sampling.py runs them in node on the same inputs as the Python functions
// and compares the answers.
import { estimateKey } from "./spelling.js";

export const VOICES = ["soprano", "alto", "tenor", "bass"];
export const NUM_VOICES = 4;
export const SILENCE = -1;
// each voice's range in the JSB chorales: the sampler never writes outside it
export const VOICE_RANGES = [[60, 81], [52, 74], [46, 69], [36, 66]];
export const GIBBS_PASSES_PER_NOTE = 2 / 3;
// ... at most this many, so that cost grows linearly with length; where the cap cuts the passes
// the temperature falls to this share of itself (schedule.py MAX_GIBBS_PASSES,
// CAPPED_FINAL_TEMPERATURE)
export const MAX_GIBBS_PASSES = 96;
export const CAPPED_FINAL_TEMPERATURE = 0.5;
// nats taken from a pitch that would make parallel fifths or octaves
export const PARALLEL_PENALTY = 50;

/** Round half to even, as Python's round() and torch's round() do. */
export function roundHalfEven(x) {
  const floor = Math.floor(x), rest = x - floor;
  if (rest < 0.5) return floor;
  if (rest > 0.5) return floor + 1;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** Gibbs iterations after the first draw: `passes`, else two thirds of the notes to write (at
 * least one), at most MAX_GIBBS_PASSES. */
export function gibbsPasses(notesToWrite, passes = null) {
  if (passes !== null && passes !== undefined) return passes;
  return Math.min(MAX_GIBBS_PASSES, Math.max(1, roundHalfEven(notesToWrite * GIBBS_PASSES_PER_NOTE)));
}

/** The temperature of each Gibbs iteration: `temperature` throughout, unless the cap cut the
 * passes; then falling linearly to CAPPED_FINAL_TEMPERATURE of it over the first alpha N. */
export function gibbsTemperatures(notesToWrite, temperature, passes = null, alpha = 0.7) {
  const total = gibbsPasses(notesToWrite, passes);
  const given = passes !== null && passes !== undefined;
  if (given || Math.max(1, roundHalfEven(notesToWrite * GIBBS_PASSES_PER_NOTE)) <= MAX_GIBBS_PASSES) {
    return Array(total).fill(temperature);
  }
  const end = temperature * CAPPED_FINAL_TEMPERATURE, span = alpha * total;
  return Array.from({ length: total }, (_, n) => temperature + (end - temperature) * (span > 0 ? Math.min(1, n / span) : 1));
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

// The transposition rule, as counterpoint.music.transposition words and chooses it: every rule,
// the server's default ("register") too, its key estimate from spelling.js (partitura's, mirrored).
const PITCH_CLASS_NAMES = ["C", "C♯", "D", "E♭", "E", "F", "F♯", "G", "A♭", "A", "B♭", "B"];
const MIDI_LIMITS = [0, 127];
const SHIFT_LIMITS = [
  Math.max(...VOICE_RANGES.map(([, high]) => high)) - MIDI_LIMITS[1],
  Math.min(...VOICE_RANGES.map(([low]) => low)) - MIDI_LIMITS[0],
];
const mod = (a, n) => ((a % n) + n) % n;

/** "B♭3", "C4": transposition.pitch_name. */
export function pitchName(pitch) { return `${PITCH_CLASS_NAMES[mod(pitch, 12)]}${Math.floor(pitch / 12) - 1}`; }

function spanSentence(voice, line, melody) {
  const [low, high] = VOICE_RANGES[voice], min = Math.min(...line), max = Math.max(...line);
  const what = melody ? "the melody" : `the ${VOICES[voice]}`;
  const article = "aeiou".includes(VOICES[voice][0]) ? "an" : "a";
  return `${what} spans ${max - min} semitones (${pitchName(min)} to ${pitchName(max)}); ` +
    `${article} ${VOICES[voice]} sings at most ${high - low} (${pitchName(low)} to ${pitchName(high)})`;
}

function mustMove(bound, atLeast) {
  if (atLeast) return bound > 0 ? `must move up ${bound} semitones or more` : `may move down ${-bound} at most`;
  return bound < 0 ? `must move down ${-bound} semitones or more` : `may move up ${bound} at most`;
}

/** Every shift that moves each given voice into its range, smallest first
 * (transposition.fitting_shifts); throws an Error with the Python sentence if none does. */
export function fittingShifts(chorale, given) {
  const voices = VOICES.map((_, voice) => voice).filter((voice) => givenLine(chorale, given, voice).length);
  if (!voices.length) return [0];
  const bounds = new Map();
  for (const voice of voices) {
    const line = givenLine(chorale, given, voice), [low, high] = VOICE_RANGES[voice];
    if (Math.max(...line) - Math.min(...line) > high - low) throw new Error(spanSentence(voice, line, voices.length === 1));
    bounds.set(voice, [low - Math.min(...line), high - Math.max(...line)]);
  }
  let lowest = Math.max(...[...bounds.values()].map(([low]) => low));
  let highest = Math.min(...[...bounds.values()].map(([, high]) => high));
  if (lowest > highest) {
    const first = (better) => voices.reduce((best, v) => (better(v, best) ? v : best));
    const up = first((v, best) => bounds.get(v)[0] > bounds.get(best)[0]);
    const down = first((v, best) => bounds.get(v)[1] < bounds.get(best)[1]);
    throw new Error(`the given ${VOICES[up]} and ${VOICES[down]} are too far apart to move into their ranges ` +
      `together: the ${VOICES[up]} ${mustMove(bounds.get(up)[0], true)} and the ` +
      `${VOICES[down]} ${mustMove(bounds.get(down)[1], false)}`);
  }
  lowest = Math.max(lowest, SHIFT_LIMITS[0]); highest = Math.min(highest, SHIFT_LIMITS[1]);
  if (lowest > highest) {
    const where = lowest > SHIFT_LIMITS[1] ? "low" : "high";
    throw new Error(`the given notes lie too ${where} for the other voices to be written ` +
      `${where === "high" ? "above" : "below"} them within MIDI's pitches (${MIDI_LIMITS[0]} to ${MIDI_LIMITS[1]})`);
  }
  const shifts = [];
  for (let shift = lowest; shift <= highest; shift++) shifts.push(shift);
  return shifts.sort((a, b) => Math.abs(a) - Math.abs(b));  // stable, as Python's sorted
}

// The rule's tables, as transposition.py holds them (the test compares the answers).
export const RULES = ["octave", "key", "centre", "register"];
export const DEFAULT_RULE = "register";
// JSB training chorales per key ("tonic pitch class/mode"): JSB_KEY_COUNTS
const JSB_KEY_COUNTS = {
  "7/major": 32, "9/minor": 30, "7/minor": 22, "2/major": 21, "9/major": 18, "2/minor": 18,
  "5/major": 18, "11/minor": 14, "4/minor": 12, "0/major": 11, "10/major": 10, "4/major": 7,
  "3/major": 5, "0/minor": 4, "6/minor": 3, "1/minor": 2, "8/major": 1, "11/major": 1,
};
const WELL_KNOWN = (tonic, mode) => (JSB_KEY_COUNTS[`${mod(tonic, 12)}/${mode}`] ?? 0) >= 10;
const SOPRANO_MIDDLE = 70.0, SOPRANO_MIDDLES = [68.0, 73.0];

/** Tonic pitch class and mode of the given notes (each note, a run of one pitch, weighted by
 * its length): transposition._key_of. */
function keyOf(chorale, given) {
  const pitches = [], durations = [];
  for (let voice = 0; voice < NUM_VOICES; voice++) {
    let start = 0;
    for (let t = 1; t <= chorale.length; t++) {
      const at = (u) => (given[voice][u] ? chorale[u][voice] : SILENCE);
      if (t < chorale.length && at(t) === at(start)) continue;
      if (at(start) !== SILENCE) { pitches.push(at(start)); durations.push((t - start) / 4); }
      start = t;
    }
  }
  const key = estimateKey(pitches, durations);
  return [mod((key.fifths + (key.mode === "minor" ? 3 : 0)) * 7, 12), key.mode];
}

/** The shift (semitones) at which the model writes the voices not given:
 * transposition.choose_shift, every rule. chorale[step][voice], given[voice][step]. Throws
 * an Error with the Python sentence where no shift fits. */
export function chooseShift(chorale, given, rule = DEFAULT_RULE) {
  if (!RULES.includes(rule)) throw new Error(`unknown transposition rule ${rule}`);
  const shifts = fittingShifts(chorale, given);
  const octaves = (shift) => Math.min(mod(shift, 12), mod(-shift, 12));
  const best = (list, ...keys) => list.reduce((a, b) => {
    for (const key of keys) { if (key(b) !== key(a)) return key(b) < key(a) ? b : a; }
    return a;
  });
  const nearestOctave = best(shifts, octaves, Math.abs);
  const lines = VOICES.map((_, v) => givenLine(chorale, given, v));
  if (rule === "octave" || lines.every((line) => !line.length)) return nearestOctave;
  const [tonic, mode] = keyOf(chorale, given);
  const known = shifts.filter((shift) => WELL_KNOWN(tonic + shift, mode));
  if (rule === "centre" || rule === "register") {
    const voice = lines.findIndex((line) => line.length);  // the highest given voice
    const line = lines[voice];
    const offset = (VOICE_RANGES[voice][0] + VOICE_RANGES[voice][1] - VOICE_RANGES[0][0] - VOICE_RANGES[0][1]) / 2 -
      (Math.min(...line) + Math.max(...line)) / 2;
    const [low, high] = SOPRANO_MIDDLES.map((middle) => middle + offset);
    if (rule === "register" && known.includes(nearestOctave) && low <= nearestOctave && nearestOctave <= high) {
      return nearestOctave;
    }
    return best(known.length ? known : shifts, (shift) => Math.abs(shift - SOPRANO_MIDDLE - offset), Math.abs);
  }
  if (!known.length) return nearestOctave;
  // the nearest well-known key; of two as near, the better known; then the smaller move
  return best(known, octaves, (shift) => -JSB_KEY_COUNTS[`${mod(tonic + shift, 12)}/${mode}`], Math.abs);
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
