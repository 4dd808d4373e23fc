// The page's sampler: what counterpoint.tasks.fill_many and sampling.samplers.sample do with the
// "gibbs" method (and "independent"), run on an ONNX network in the browser. Given notes
// are never changed, written notes stay inside their voice's range, given notes are moved as
// the server's transposition rule moves them and the result moved back, the parallels
// rule steers every draw, and temperature 0 is argmax decoding. Each element of a batch draws
// from its own seeded source (rules.Uniform) in the order Python's sampler draws from its
// generator, so with the same uniform numbers both write the same piece.
import {
  NUM_VOICES, PARALLEL_PENALTY, SILENCE, VOICES, Uniform, erasureRanks, gibbsPasses, gibbsTemperatures,
  chooseShift, parallelPitches, voiceRangeMask,
} from "./rules.js";

export const METHODS = ["gibbs", "independent"];
export const DEFAULTS = { method: "gibbs", passes: null, temperature: 0.99, avoidParallels: true, pMin: 0.1, pMax: 0.9, alpha: 0.7 };

export class LocalSampler {
  /** `network` from onnx.loadNetwork; the model's pitches are MIDI low .. low + pitches - 1. */
  constructor(network, low, pitches) {
    this.network = network;
    this.low = low;
    this.pitches = pitches;
    this.allowed = voiceRangeMask(low, pitches);
  }

  /**
   * Fill the unknown notes of pieces of one length, as tasks.fill_many: chorales are arrays of
   * T rows [s, a, t, b] (MIDI, -1 silent), knowns 4 x T booleans (true where given). Returns
   * [{chorale, notices}]. `onPass(iteration, passes, chorales)` sees the pieces after each pass.
   */
  async fill(chorales, knowns, options = {}, seeds = null, onPass = null) {
    const config = { ...DEFAULTS, ...options };
    if (!METHODS.includes(config.method)) throw new Error(`the page samples with ${METHODS.join(" or ")}, not ${config.method}`);
    const { state, pitch, known, shifts, notices } = this.encode(chorales, knowns);
    const uniforms = (seeds ?? chorales.map((_, b) => b)).map((seed) => new Uniform(seed));
    const toChorales = (current) => chorales.map((chorale, b) => chorale.map((row, t) => row.map((given, v) => {
      if (knowns[b][v][t]) return given;
      const index = current[(b * NUM_VOICES + v) * state.steps + t];
      return index < 0 ? SILENCE : index + this.low - shifts[b];
    })));
    const report = onPass ? (iteration, passes, current) => onPass(iteration, passes, toChorales(current)) : null;
    const result = config.method === "independent"
      ? await this.independent(state, pitch, known, config, uniforms, report)
      : await this.gibbs(state, pitch, known, config, uniforms, report);
    return toChorales(result).map((chorale, b) => ({ chorale, notices: notices[b] }));
  }

  /** The sampler's working state for pieces and masks, checked as fill_many checks them: pitch
   * indices (-1: silent or unknown) and known notes, each (B, 4, T) flattened, given notes moved
   * by the octave shift that fits them into the voices' ranges. */
  encode(chorales, knowns) {
    const steps = chorales[0].length, batch = chorales.length, P = this.pitches;
    if (chorales.some((c) => c.length !== steps)) throw new Error("pieces sampled together must have the same length");
    const state = { batch, steps, pitches: P, size: batch * NUM_VOICES * steps };
    const pitch = new Int32Array(state.size).fill(-1), known = new Uint8Array(state.size);
    const shifts = [], notices = [];
    chorales.forEach((chorale, b) => {
      const given = knowns[b];
      if (given.length !== NUM_VOICES || given.some((row) => row.length !== steps)) {
        throw new Error(`mask has ${given[0]?.length ?? 0} steps, the piece ${steps}`);
      }
      if (given.every((row) => row.every(Boolean))) throw new Error("the mask leaves nothing to write");
      const shift = chooseShift(chorale, given);  // the server's default rule
      shifts.push(shift);
      notices.push([]);  // the server words no notice for a shift either (the notes come back as written)
      for (let v = 0; v < NUM_VOICES; v++) {
        for (let t = 0; t < steps; t++) {
          const i = (b * NUM_VOICES + v) * steps + t;
          known[i] = given[v][t] ? 1 : 0;
          if (!given[v][t] || chorale[t][v] === SILENCE) continue;
          const index = chorale[t][v] + shift - this.low;
          if (index < 0 || index >= P) {
            throw new Error(`pitch ${chorale[t][v] + shift} in the ${VOICES[v]} at step ${t} is outside ` +
              `the model's range ${this.low}..${this.low + P - 1}`);
          }
          pitch[i] = index;
        }
      }
    });
    return { state, pitch, known, shifts, notices };
  }

  /** Logits (B, 4, T, P): -Infinity where a voice may not sing, PARALLEL_PENALTY lower where a
   * pitch would make parallel fifths or octaves with the notes `known` marks (as _Sampler.logits). */
  async logits(state, pitch, known, config) {
    const { batch, steps, pitches: P, size } = state;
    const x = new Float32Array(batch * 2 * NUM_VOICES * steps * P);
    for (let b = 0; b < batch; b++) {
      for (let v = 0; v < NUM_VOICES; v++) {
        for (let t = 0; t < steps; t++) {
          const i = (b * NUM_VOICES + v) * steps + t;
          if (!known[i]) continue;
          const maskRow = (((b * 2 * NUM_VOICES) + NUM_VOICES + v) * steps + t) * P;
          x.fill(1, maskRow, maskRow + P);
          if (pitch[i] >= 0) x[((b * 2 * NUM_VOICES + v) * steps + t) * P + pitch[i]] = 1;
        }
      }
    }
    const logits = await this.network.run(x, batch, steps);  // ours to change
    for (let i = 0; i < size; i++) {
      const rangeRow = Math.floor(i / steps) % NUM_VOICES * P;
      for (let p = 0; p < P; p++) if (!this.allowed[rangeRow + p]) logits[i * P + p] = -Infinity;
    }
    if (config.avoidParallels) {
      const sounding = new Uint8Array(size), index = new Int32Array(size);
      for (let i = 0; i < size; i++) {
        sounding[i] = known[i] && pitch[i] >= 0 ? 1 : 0;
        index[i] = Math.max(pitch[i], 0);  // a silent row's argmax, as in Python
      }
      const bad = parallelPitches(index, sounding, batch, steps, P);
      for (let j = 0; j < bad.length; j++) if (bad[j]) logits[j] -= PARALLEL_PENALTY;
    }
    return logits;
  }

  /** A pitch index per (B, 4, T): argmax at temperature 0, else Gumbel-max of logits / temperature
   * (default: the config's), each element's noise (4 * T * P numbers) from its own source. */
  draw(state, logits, config, uniforms, temperature = config.temperature) {
    const { batch, steps, pitches: P } = state;
    const rows = NUM_VOICES * steps, drawn = new Int32Array(batch * rows);
    const noise = new Float64Array(rows * P);
    for (let b = 0; b < batch; b++) {
      if (temperature !== 0) uniforms[b].fill(noise);
      for (let r = 0; r < rows; r++) {
        const row = (b * rows + r) * P;
        let best = -Infinity, choice = 0;
        for (let p = 0; p < P; p++) {
          let score = logits[row + p];
          if (temperature !== 0) {
            score = score / temperature - Math.log(-Math.log(Math.max(noise[r * P + p], 1e-20)));
          }
          if (score > best) { best = score; choice = p; }
        }
        drawn[b * rows + r] = choice;
      }
    }
    return drawn;
  }

  async independent(state, pitch, known, config, uniforms, report) {
    const written = this.write(pitch, known.map((k) => 1 - k), this.draw(state, await this.logits(state, pitch, known, config), config, uniforms));
    report?.(0, 1, written);
    return written;
  }

  /** Gibbs as samplers._gibbs: one draw of every unknown note, then N passes that erase
   * round(p_n * notes to write) of them (the lowest random scores) and redraw them together. */
  async gibbs(state, pitch, known, config, uniforms, report) {
    const { batch, steps } = state, rows = NUM_VOICES * steps;
    const toWrite = known.map((k) => 1 - k);
    const counts = Array.from({ length: batch }, (_, b) => toWrite.subarray(b * rows, (b + 1) * rows).reduce((a, c) => a + c, 0));
    const total = gibbsPasses(Math.max(...counts), config.passes);
    const temperatures = gibbsTemperatures(Math.max(...counts), config.temperature, config.passes, config.alpha);
    const passes = 1 + total;
    let current = this.write(pitch, toWrite, this.draw(state, await this.logits(state, pitch, known, config), config, uniforms));
    report?.(0, passes, current);
    const ranks = erasureRanks(counts, total, config.pMin, config.pMax, config.alpha);
    const scores = new Float64Array(rows);
    for (let n = 0; n < total; n++) {
      const erased = new Uint8Array(state.size);
      for (let b = 0; b < batch; b++) {
        uniforms[b].fill(scores);
        for (let r = 0; r < rows; r++) if (known[b * rows + r]) scores[r] = 2.0;
        const threshold = Float64Array.from(scores).sort()[ranks[n][b]];
        for (let r = 0; r < rows; r++) erased[b * rows + r] = scores[r] <= threshold ? 1 : 0;
      }
      const netKnown = erased.map((e) => 1 - e);
      current = this.write(current, erased, this.draw(state, await this.logits(state, current, netKnown, config), config, uniforms, temperatures[n]));
      report?.(1 + n, passes, current);
    }
    return current;
  }

  write(pitch, where, drawn) {
    return pitch.map((p, i) => (where[i] ? drawn[i] : p));
  }
}
