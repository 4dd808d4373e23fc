// Pitch spelling for results sampled in the page (issue #39): a mirror of the one Python rule,
// counterpoint/music/spelling.py, so that a chorale sampled here is written with the names the
// server would send ("spellings", [voice][step] names such as "F#4"). The steps, as there:
// 1. the key: Krumhansl-Schmuckler (partitura's estimate_key: Krumhansl-Kessler profiles,
//    Pearson correlation with the pitch classes' total durations), or the major or minor key of
//    a given signature;
// 2. every note named by Meredith's PS13 (partitura's estimate_spelling, ps13s1);
// 3. the names moved into the key's window on the line of fifths (KEY_WINDOWS): the whole piece
//    by twelve fifths if that puts more notes inside, then each note still outside;
// 4. voices in unison given one name, and a chromatic passing or neighbour note named to move to
//    the next note of its voice by a letter.
// Pure functions, no DOM. tests/test_page_spelling.py runs them in node on the same notes as
// the Python module and asserts the same name for every note.

export const MODES = ["major", "minor"];
// Where a key's notes lie on the line of fifths, relative to its signature (spelling.KEY_WINDOWS).
export const KEY_WINDOWS = { major: [-5, 10], minor: [-3, 10] };
const LETTER_FIFTHS = { F: -1, C: 0, G: 1, D: 2, A: 3, E: 4, B: 5 };
const LETTER_SEMITONES = { C: 0, D: 2, E: 4, F: 5, G: 7, A: 9, B: 11 };
const ALTER_TEXT = { "-2": "bb", "-1": "b", 0: "", 1: "#", 2: "##" };
const SILENCE = -1;
const STEPS_PER_QUARTER = 4;

const mod = (a, n) => ((a % n) + n) % n;

/** The letter of the name at `fifths` on the line of fifths (6: F-sharp -> "F"). */
export function letterAt(fifths) { return "FCGDAEB"[mod(fifths + 1, 7)]; }

/** "F#4": the name of MIDI pitch `midi` whose name sits at `fifths` on the line of fifths
 * (Spelling.at(midi, fifths).name). */
export function nameAt(midi, fifths) {
  const letter = letterAt(fifths), alter = Math.floor((fifths + 1) / 7);
  const octave = Math.floor((midi - alter - LETTER_SEMITONES[letter]) / 12) - 1;
  return `${letter}${ALTER_TEXT[alter]}${octave}`;
}

// ------------------------------------------------------------------ 1. the key

// Krumhansl and Kessler's profiles, C major and C minor (partitura.utils.globals key_prof_*_kk).
const PROFILE_MAJOR = [6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88];
const PROFILE_MINOR = [6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17];

/** numpy's sum of a short float array (its pairwise sum: eight running sums, then the rest in
 * order), so that a normalized profile is the very float partitura holds. */
function numpySum(values) {
  if (values.length < 8) return values.reduce((total, x) => total + x, 0);
  const r = values.slice(0, 8);
  let i = 8;
  for (; i < values.length - (values.length % 8); i += 8) for (let j = 0; j < 8; j++) r[j] += values[i + j];
  let total = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
  for (; i < values.length; i++) total += values[i];
  return total;
}

// partitura's KEYS, in its order: the 12 major keys by tonic pitch class, then the 12 minor keys,
// each as its signature's fifths (the spelling with fewest accidentals: F-sharp major, E-flat minor).
const KEY_FIFTHS = [0, -5, 2, -3, 4, -1, 6, 1, -4, 3, -2, 5, -3, 4, -1, 6, 1, -4, 3, -2, 5, 0, -5, 2];
// its profile matrix: row k is the profile of the key KEYS[k] (the C profile rotated to its tonic)
const PROFILES = [PROFILE_MAJOR, PROFILE_MINOR].flatMap((profile) => {
  const total = numpySum(profile), normal = profile.map((x) => x / total);
  return normal.map((_, tonic) => normal.map((__, pc) => normal[mod(pc - tonic, 12)]));
});
// correlations closer than this fit alike (spelling.KEY_TIE)
const KEY_TIE = 1e-9;
export const KEYS = KEY_FIFTHS.map((fifths, k) => ({ fifths, mode: MODES[Math.floor(k / 12)] }));

/** Pearson's correlation, in numpy's corrcoef's steps (its sums may round otherwise in the last
 * bit: KEY_TIE absorbs that). */
function correlation(x, y) {
  const n = x.length, meanX = numpySum(x) / n, meanY = numpySum(y) / n;
  let xy = 0, xx = 0, yy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i] - meanX, dy = y[i] - meanY;
    xy += dx * dy; xx += dx * dx; yy += dy * dy;
  }
  const scale = 1 / (n - 1);
  const r = xy * scale / Math.sqrt(xx * scale) / Math.sqrt(yy * scale);
  return Math.max(-1, Math.min(1, r));
}

/** How long each pitch class sounds (C = 0), the notes added in order. */
function pitchClassDurations(pitches, durations) {
  const distribution = new Array(12).fill(0);
  pitches.forEach((pitch, i) => { distribution[mod(pitch, 12)] += durations[i]; });
  return distribution;
}

/** The key {fifths, mode} that best fits the notes (durations in quarters): spelling.estimate_key.
 * With `fifths` (a key signature), the major or minor key of that signature that fits best; no
 * notes, or every pitch class as long: C major (or the signature's major). Keys that fit alike
 * (within KEY_TIE) go to the first in partitura's order, as in Python, not to rounding. */
export function estimateKey(pitches, durations, fifths = null) {
  const distribution = pitchClassDurations(pitches, durations);
  if (!pitches.length || Math.min(...distribution) === Math.max(...distribution)) return { fifths: fifths ?? 0, mode: "major" };
  const correlations = PROFILES.map((profile) => correlation(distribution, profile));
  const tonic = (key) => mod((key.fifths + (key.mode === "minor" ? 3 : 0)) * 7, 12);
  const candidates = KEYS.map((_, k) => k).filter((k) => fifths === null ||
    tonic(KEYS[k]) === tonic({ fifths, mode: KEYS[k].mode }));
  const best = Math.max(...candidates.map((k) => correlations[k]));
  const chosen = KEYS[candidates.find((k) => correlations[k] >= best - KEY_TIE)];
  return fifths === null ? { ...chosen } : { fifths, mode: chosen.mode };
}

// ------------------------------------------------------------------ 2. PS13 (partitura's ps13s1)

const PS13_BEFORE = 10, PS13_AFTER = 40;  // K_pre and K_post: the notes each note's context holds
const INITIAL_MORPH = [0, 1, 1, 2, 2, 3, 4, 4, 5, 5, 6, 6];
const MORPH_INTERVAL = [0, 1, 1, 2, 2, 3, 3, 4, 5, 5, 6, 6];
const MORPH_STEPS = "ABCDEFG";
const UNDISPLACED_CHROMA = [0, 2, 3, 5, 7, 8, 10];

/** Each note's name by PS13, as its position on the line of fifths (onsets in quarters). */
export function ps13(pitches, onsets) {
  const n = pitches.length;
  // by onset, then pitch (then the order given)
  const order = pitches.map((_, i) => i).sort((a, b) => onsets[a] - onsets[b] || pitches[a] - pitches[b] || a - b);
  const chromatic = order.map((i) => pitches[i] - 21);  // A0 = 0
  const chroma = chromatic.map((c) => mod(c, 12));
  // how often each chroma sounds around each note: the note, 40 notes after it (itself
  // included) and, once past the first ten, the ten before (partitura's window, as it is)
  const vector = new Array(12).fill(0);
  for (let i = 0; i < Math.min(n, PS13_AFTER); i++) vector[chroma[i]] += 1;
  const around = [vector.slice()];
  for (let i = 1; i < n; i++) {
    if (i + PS13_AFTER <= n) vector[chroma[i + PS13_AFTER - 1]] += 1;
    if (i - PS13_BEFORE > 0) vector[chroma[i - PS13_BEFORE - 1]] -= 1;
    around.push(vector.slice());
  }
  // the morph (letter, A = 0) of each note: the one its context's likely tonics support most
  const firstMorph = INITIAL_MORPH[chroma[0]];
  const tonicMorph = Array.from({ length: 12 }, (_, ct) => mod(firstMorph - MORPH_INTERVAL[mod(chroma[0] - ct, 12)], 7));
  const morph = chroma.map((c, j) => {
    const strength = new Array(7).fill(0);
    for (let ct = 0; ct < 12; ct++) strength[mod(MORPH_INTERVAL[mod(c - ct, 12)] + tonicMorph[ct], 7)] += around[j][ct];
    return strength.indexOf(Math.max(...strength));
  });
  const positions = new Array(n);
  order.forEach((index, j) => {
    // the morphetic octave nearest the chromatic pitch (floats as partitura computes them)
    const octave = Math.floor(chromatic[j] / 12), here = octave + chroma[j] / 12;
    const octaves = [octave, octave + 1, octave - 1];
    const distances = octaves.map((o) => Math.abs(here - (o + morph[j] / 7)));
    const morphetic = morph[j] + 7 * octaves[distances.indexOf(Math.min(...distances))];
    const step = mod(morphetic, 7);
    const alter = chromatic[j] - 12 * Math.floor(morphetic / 7) - UNDISPLACED_CHROMA[step];
    positions[index] = LETTER_FIFTHS[MORPH_STEPS[step]] + 7 * alter;
  });
  return positions;
}

// ------------------------------------------------------------------ 3 and 4. the key's window, by step

/** spelling._one_name_per_unison: notes of one pitch struck together take one name, the one
 * most of them have, then the one nearer the middle of the key's window. */
function oneNamePerUnison(positions, pitches, onsets, key) {
  const result = positions.slice();
  const [low, high] = KEY_WINDOWS[key.mode].map((edge) => key.fifths + edge);
  const unisons = new Map();
  pitches.forEach((pitch, i) => {
    const at = `${onsets[i]} ${pitch}`;
    if (!unisons.has(at)) unisons.set(at, []);
    unisons.get(at).push(i);
  });
  for (const members of unisons.values()) {
    const counts = new Map();
    for (const i of members) counts.set(result[i], (counts.get(result[i]) ?? 0) + 1);
    if (counts.size < 2) continue;
    const rank = (name) => [-counts.get(name), Math.abs(name - (low + high) / 2)];
    const name = [...counts.keys()].reduce((a, b) => {
      const [ra, rb] = [rank(a), rank(b)];
      return rb[0] < ra[0] || (rb[0] === ra[0] && rb[1] < ra[1]) ? b : a;
    });
    for (const i of members) result[i] = name;
  }
  return result;
}

/** spelling._resolve_by_step: a chromatic passing or neighbour note takes the name that moves
 * to the next note of its voice by a letter. */
function resolveByStep(positions, pitches, onsets, voices, key) {
  const result = positions.slice();
  const [low, high] = KEY_WINDOWS[key.mode].map((edge) => key.fifths + edge);
  for (const voice of new Set(voices)) {
    const line = voices.map((_, i) => i).filter((i) => voices[i] === voice).sort((a, b) => onsets[a] - onsets[b]);
    for (let k = 1; k + 1 < line.length; k++) {
      const [before, note, after] = [line[k - 1], line[k], line[k + 1]];
      if (key.fifths - 1 <= result[note] && result[note] <= key.fifths + 5) continue;  // in the signature
      const stepIn = pitches[note] - pitches[before], stepOut = pitches[after] - pitches[note];
      if (Math.abs(stepOut) !== 1 || (stepIn !== stepOut && stepIn !== -stepOut)) continue;
      if (letterAt(result[note]) !== letterAt(result[after])) continue;
      for (const other of [result[note] - 12, result[note] + 12]) {
        if (low <= other && other <= high && letterAt(other) !== letterAt(result[after])) { result[note] = other; break; }
      }
    }
  }
  return result;
}

/** The name of each note (MIDI pitches, onsets and durations in quarters, any order) in `key`
 * ({fifths, mode}), a key signature's fifths, or null (estimated): spelling.spell. `voices`
 * (each note's voice), if given, lets a chromatic passing or neighbour note be named by where
 * its voice goes next. */
export function spell(pitches, onsets, durations, key = null, voices = null) {
  if (!pitches.length) return [];
  for (const pitch of pitches) {
    if (!(Number.isInteger(pitch) && pitch >= 0 && pitch <= 127)) throw new Error(`pitch ${pitch} is not a MIDI pitch (0..127)`);
  }
  if (key === null || typeof key === "number") key = estimateKey(pitches, durations, key);
  const [low, high] = KEY_WINDOWS[key.mode].map((edge) => key.fifths + edge);
  let positions = ps13(pitches, onsets);
  // PS13 names the whole piece relative to its first note: move it as a whole first...
  const outside = (shift) => positions.filter((p) => p + shift < low || p + shift > high).length;
  const shift = [0, -12, 12].reduce((best, s) => (outside(s) < outside(best) ? s : best));
  // ...then any passage that drifted, note by note
  positions = positions.map((p) => p + shift).map((p) => (p < low ? p + 12 : p > high ? p - 12 : p));
  positions = oneNamePerUnison(positions, pitches, onsets, key);
  if (voices !== null) positions = resolveByStep(positions, pitches, onsets, voices, key);
  return pitches.map((pitch, i) => nameAt(pitch, positions[i]));
}

// ------------------------------------------------------------------ a chorale

/** The notes of one voice as [start, length, pitch] steps: counterpoint.music.notes.notes (a
 * note ends where the pitch changes or, with `onset`, where a note is struck again). */
function notesOfLine(line, onset = null) {
  const result = [];
  let start = 0;
  for (let step = 1; step <= line.length; step++) {
    const struck = onset !== null && step < line.length && Boolean(onset[step]);
    if (step === line.length || line[step] !== line[start] || struck) {
      if (line[start] !== SILENCE) result.push([start, step - start, line[start]]);
      start = step;
    }
  }
  return result;
}

/** Every note of a chorale (pitch[voice][step]) as {voice, start, length, pitch}. */
function choraleNotes(pitch, onset) {
  return pitch.flatMap((line, voice) => notesOfLine(line, onset ? onset[voice] : null)
    .map(([start, length, p]) => ({ voice, start, length, pitch: p })));
}

/** The onsets of a finished piece ([voice][step] booleans), as piece.merge_onset gives them: the
 * given notes (`known`) keep the onsets they came with (`given`, or null: one note per run of
 * one pitch), the written notes are one note per run of one pitch; never struck in a rest. */
export function mergeOnset(pitch, given, known) {
  return pitch.map((line, v) => line.map((p, t) => p !== SILENCE &&
    (t === 0 || line[t - 1] !== p || Boolean(known[v][t] && given?.[v][t]))));
}

/** The key of a chorale (pitch[voice][step], onset[voice][step] or null), estimated from its
 * notes; with `fifths`, that signature's major or minor key: spelling.chorale_key. */
export function choraleKey(pitch, onset = null, fifths = null) {
  const found = choraleNotes(pitch, onset);
  return estimateKey(found.map((n) => n.pitch), found.map((n) => n.length / STEPS_PER_QUARTER), fifths);
}

/**
 * The name of every sounding step of a chorale, [voice][step] as the page holds it and the
 * server sends it ("F#4"; "" where a voice is silent): spelling.spell_chorale. `onset`
 * ([voice][step] booleans, or null: one note per run of one pitch) marks where a note is
 * struck; `key` a key signature's fifths, {fifths, mode}, or null (estimated).
 */
export function spellChorale(pitch, onset = null, key = null) {
  const names = pitch.map((line) => line.map(() => ""));
  const found = choraleNotes(pitch, onset);
  if (!found.length) return names;
  const spelled = spell(
    found.map((n) => n.pitch), found.map((n) => n.start / STEPS_PER_QUARTER),
    found.map((n) => n.length / STEPS_PER_QUARTER), key, found.map((n) => n.voice),
  );
  found.forEach((n, i) => { for (let t = n.start; t < n.start + n.length; t++) names[n.voice][t] = spelled[i]; });
  return names;
}
