// The music the page knows, as pure functions (no DOM): metres and where bars fall (a pickup),
// keys and spelling, a piece as pitch + onset per voice, how a held note is written (tied
// durations a musician would write), which accidentals a bar shows, voice ranges, and
// "bar 3, beat 2" for hints.

export const VOICES = ["soprano", "alto", "tenor", "bass"];
export const STEPS_PER_BEAT = 4;  // the model's grid: a 16th-note step, quarter-note beats

// What the model knows (MIDI): counterpoint.representation.PitchRange (36..81). The voice
// ranges mirror counterpoint.representation.VOICE_RANGES; the page takes both from
// /api/health when the server answers (setRanges), so the Python module stays the one source.
// A voice may be written in any key and octave (the server moves it into the voice's range and
// back: counterpoint.music.transposition), so what the page refuses is a voice whose notes span
// more than that voice can sing: maxSpan, from /api/health's transposition.max_span.
export const RANGES = {
  model: [36, 81], voices: [[60, 81], [52, 74], [46, 69], [36, 66]], maxSpan: [21, 22, 23, 30],
};
export function setRanges(health) {
  if (Array.isArray(health?.pitch_range)) RANGES.model = health.pitch_range;
  if (Array.isArray(health?.voice_ranges) && health.voice_ranges.length === 4) RANGES.voices = health.voice_ranges;
  const span = health?.transposition?.max_span;
  if (Array.isArray(span) && span.length === 4) RANGES.maxSpan = span;
}

/** The lowest and highest pitch the user wrote in voice v, leaving out steps [skipStart, skipEnd). */
export function userSpan(piece, v, skipStart = 0, skipEnd = 0) {
  let low = Infinity, high = -Infinity;
  for (let t = 0; t < piece.steps; t++) {
    if ((t >= skipStart && t < skipEnd) || piece.origin[v][t] !== "user" || piece.pitch[v][t] === -1) continue;
    low = Math.min(low, piece.pitch[v][t]); high = Math.max(high, piece.pitch[v][t]);
  }
  return [low, high];
}

export const METRES = { "2/4": 2, "3/4": 3, "4/4": 4 };  // beats per bar
export function stepsPerBar(metre) { return METRES[metre] * STEPS_PER_BEAT; }

// Where bars fall, as counterpoint.music.piece.Piece says: a pickup (an upbeat) is the 16ths
// before the first full bar (0: none), so step 0 is `lead` 16ths into a bar.
/** 16ths of the first bar before step 0 (Piece.lead). */
export function leadOf(metre, pickup = 0) { const bar = stepsPerBar(metre); return (bar - pickup) % bar; }
/** Which bar step t is in, from 0 (the upbeat, if there is one): Piece.bar_of, the one rule. */
export function barOf(t, metre, pickup = 0) { return Math.floor((t + leadOf(metre, pickup)) / stepsPerBar(metre)); }
/** The first step of bar b. */
export function barStart(b, metre, pickup = 0) { return Math.max(0, b * stepsPerBar(metre) - leadOf(metre, pickup)); }
/** A file's pickup if it fits the metre (a whole number of 16ths shorter than a bar), else 0. */
export function validPickup(pickup, metre) {
  return Number.isInteger(pickup) && pickup >= 0 && pickup < stepsPerBar(metre) ? pickup : 0;
}

// key signatures: the number of sharps (> 0) or flats (< 0), named by their major and minor keys
export const KEYS = [
  [0, "C", "C major / A minor"], [1, "G", "G major / E minor"], [2, "D", "D major / B minor"],
  [3, "A", "A major / F♯ minor"], [4, "E", "E major / C♯ minor"], [5, "B", "B major / G♯ minor"],
  [6, "F#", "F♯ major / D♯ minor"], [7, "C#", "C♯ major / A♯ minor"],
  [-1, "F", "F major / D minor"], [-2, "Bb", "B♭ major / G minor"], [-3, "Eb", "E♭ major / C minor"],
  [-4, "Ab", "A♭ major / F minor"], [-5, "Db", "D♭ major / B♭ minor"], [-6, "Gb", "G♭ major / E♭ minor"],
  [-7, "Cb", "C♭ major / A♭ minor"],
];
export function keyName(key) { return KEYS.find(([k]) => k === key)[1]; }

const LETTERS = "CDEFGAB";
const LETTER_PC = [0, 2, 4, 5, 7, 9, 11];
const SHARP_ORDER = [3, 0, 4, 1, 5, 2, 6];  // F C G D A E B, as letter indices
const FLAT_ORDER = [6, 2, 5, 1, 4, 0, 3];   // B E A D G C F

/** The alteration the key signature gives a letter (index 0..6 for C..B). */
export function keyAlter(letter, key) {
  if (key > 0 && SHARP_ORDER.slice(0, key).includes(letter)) return 1;
  if (key < 0 && FLAT_ORDER.slice(0, -key).includes(letter)) return -1;
  return 0;
}

// A chromatic note is named from the key's tonic (its major): raised 1st, 4th and 5th
// (leading tones of V/ii, V/V, V/vi; the minor mode's raised 6th and 7th), lowered 3rd
// and 7th (mixture, V/IV). Diatonic notes take the key's own letters.
const DEGREE_OF_SEMITONE = [0, 0, 1, 2, 2, 3, 3, 4, 4, 5, 6, 6];

/**
 * How a pitch is written in a key: {letter (0..6 for C..B), alter (-2..2), octave}.
 * A second rule beside the context speller (music/spelling.py, mirrored in local/spelling.js),
 * on purpose: it names one note from the key signature alone, so a note the user places or
 * moves reads as written while the piece around it is unfinished, and hints and the cursor
 * name pitches. Every note of a result or an opened file carries its name from the context
 * speller, which wins per note (app.js resultSpelling).
 */
export function spell(pitch, key) {
  const tonicLetter = (((key * 4) % 7) + 7) % 7;  // a fifth is four letters up
  const tonicPc = (LETTER_PC[tonicLetter] + keyAlter(tonicLetter, key) + 12) % 12;
  const semitones = (((pitch - tonicPc) % 12) + 12) % 12;
  const letter = (tonicLetter + DEGREE_OF_SEMITONE[semitones]) % 7;
  let alter = ((((pitch % 12) - LETTER_PC[letter]) % 12) + 12) % 12;
  if (alter > 6) alter -= 12;
  const octave = Math.floor((pitch - alter - LETTER_PC[letter]) / 12) - 1;
  return { letter, alter, octave };
}

/** A spelling written as the server writes one ("F#4", "Bb3", "E4"), or null if it is not one. */
export function parseSpelling(text) {
  const match = /^([A-G])(##|#|bb|b|)(-?\d+)$/.exec(String(text));
  if (!match) return null;
  const alter = { "##": 2, "#": 1, "": 0, b: -1, bb: -2 }[match[2]];
  return { letter: LETTERS.indexOf(match[1]), alter, octave: Number(match[3]) };
}

/** The pitch a spelling names. */
export function pitchOfSpelling(s) { return 12 * (s.octave + 1) + LETTER_PC[s.letter] + s.alter; }

/** Staff position (diatonic steps from C-1) of a spelling. */
export function degree(spelling) { return spelling.octave * 7 + spelling.letter; }

/** The pitch a staff position means in a key (no accidental written). */
export function pitchAtDegree(d, key) {
  const octave = Math.floor(d / 7), letter = ((d % 7) + 7) % 7;
  return 12 * (octave + 1) + LETTER_PC[letter] + keyAlter(letter, key);
}

const ALTER_SIGN = { "-2": "𝄫", "-1": "♭", 0: "", 1: "♯", 2: "𝄪" };
export function noteName(pitch, key) {
  const s = spell(pitch, key);
  return `${LETTERS[s.letter]}${ALTER_SIGN[s.alter]}${s.octave}`;
}

/** "bar 3, beat 2" (beat 2½ for the 8th after it, 2¼ and 2¾ for 16ths); with a pickup,
 * "the upbeat, beat 4" and the first full bar is bar 1, as musicians count. */
export function where(step, metre, pickup = 0) {
  const bar = barOf(step, metre, pickup) + (pickup ? 0 : 1);
  const inBar = (step + leadOf(metre, pickup)) % stepsPerBar(metre);
  const beat = Math.floor(inBar / STEPS_PER_BEAT) + 1;
  return `${bar === 0 ? "the upbeat" : `bar ${bar}`}, beat ${beat}${["", "¼", "½", "¾"][inBar % STEPS_PER_BEAT]}`;
}

// ------------------------------------------------------------------ a piece

/** pitch[v][t] (-1 = silent), onset[v][t] (a note struck there), origin[v][t] ("user",
 * "model" or null = empty, for the model to write; a "user" silence is a rest to keep), locked. */
export function emptyPiece(steps) {
  const grid = (value) => VOICES.map(() => new Array(steps).fill(value));
  return { steps, pitch: grid(-1), onset: grid(false), origin: grid(null), locked: grid(false) };
}

export function copyPiece(piece) { return JSON.parse(JSON.stringify(piece)); }

export function resize(piece, steps) {
  const fresh = emptyPiece(steps);
  for (let v = 0; v < 4; v++) {
    for (let t = 0; t < Math.min(steps, piece.steps); t++) {
      for (const field of ["pitch", "onset", "origin", "locked"]) fresh[field][v][t] = piece[field][v][t];
    }
  }
  return fresh;
}

/** A voice as runs: notes (struck at an onset, held while the pitch stays) and silences
 * (split where their origin changes: a user's rest and an empty stretch differ). */
export function runsOf(piece, v) {
  const runs = [];
  for (let t = 0; t < piece.steps; t++) {
    const p = piece.pitch[v][t], origin = piece.origin[v][t];
    const last = runs[runs.length - 1];
    const continues = last && last.end === t && last.pitch === p &&
      (p === -1 ? last.origin === origin : !piece.onset[v][t]);
    if (continues) last.end = t + 1;
    else runs.push({ v, start: t, end: t + 1, pitch: p, origin, locked: piece.locked[v][t] });
  }
  return runs;
}

export function notesOf(piece, v) { return runsOf(piece, v).filter((run) => run.pitch !== -1); }
export function noteAt(piece, v, t) { return notesOf(piece, v).find((n) => n.start <= t && t < n.end) || null; }

/** Write a note (or pitch -1: a rest when origin is "user", empty when null) over [start, end). */
export function setNote(piece, v, start, end, pitch, origin) {
  for (let t = start; t < end && t < piece.steps; t++) {
    piece.pitch[v][t] = pitch; piece.onset[v][t] = pitch !== -1 && t === start;
    piece.origin[v][t] = origin; piece.locked[v][t] = false;
  }
  if (end < piece.steps && piece.pitch[v][end] !== -1) piece.onset[v][end] = true;
}

export function clearVoice(piece, v) { setNote(piece, v, 0, piece.steps, -1, null); }

// ------------------------------------------------------------------ written durations

// lengths in 16th steps a single notehead can show (with one dot)
const WRITABLE = { 16: ["w", 0], 12: ["h", 1], 8: ["h", 0], 6: ["q", 1], 4: ["q", 0], 3: ["8", 1], 2: ["8", 0], 1: ["16", 0] };
export function durationOf(length) { const [duration, dots] = WRITABLE[length]; return { duration, dots }; }

function writable(offset, length, barSteps) {
  if (!(length in WRITABLE) || offset + length > barSteps) return false;
  if (offset === 0 && length === barSteps) return true;              // a whole bar
  const beat = STEPS_PER_BEAT, half = barSteps === 16 ? 8 : null;
  if (half && offset > 0 && offset < half && offset + length > half) return false;  // 4/4: show the middle of the bar
  if (length >= beat) return offset % beat === 0;                      // beats start on a beat
  if (length === 3) return offset % beat === 0;                        // a dotted 8th starts a beat
  return Math.floor(offset / beat) === Math.floor((offset + length - 1) / beat) && offset % length === 0;
}

function splitInBar(offset, length, barSteps) {
  if (writable(offset, length, barSteps)) return [[offset, length]];
  // split at the strongest boundary inside: the middle of a 4/4 bar, then beats, 8ths, 16ths
  const levels = (barSteps === 16 ? [8] : []).concat([4, 2, 1]);
  for (const level of levels) {
    const cut = Math.floor(offset / level) * level + level;
    if (cut > offset && cut < offset + length) {
      return splitInBar(offset, cut - offset, barSteps).concat(splitInBar(cut, offset + length - cut, barSteps));
    }
  }
  return [[offset, length]];
}

/** How a run [start, end) is written: [{start, length}] pieces, tied when it is a note; in
 * an upbeat, beats are counted from where its bar would have begun. */
export function writtenPieces(start, end, metre, pickup = 0) {
  const barSteps = stepsPerBar(metre), lead = leadOf(metre, pickup), pieces = [];
  for (let t = start + lead; t < end + lead;) {  // in steps from the first bar's (unwritten) start
    const barStart = Math.floor(t / barSteps) * barSteps;
    const stop = Math.min(end + lead, barStart + barSteps);
    for (const [offset, length] of splitInBar(t - barStart, stop - t, barSteps)) pieces.push({ start: barStart + offset - lead, length });
    t = stop;
  }
  return pieces;
}

// ------------------------------------------------------------------ accidentals

/**
 * Which accidental each note of one staff in one bar shows: events in time order
 * ({letter, octave, alter, tied}: tied = continues a note, shows none). An alteration holds
 * for its letter and octave to the end of the bar; a note that differs from what holds shows
 * its own (a natural cancels). Returns "#", "b", "n", "##", "bb" or null per event.
 */
export function accidentalsInBar(events, key) {
  const holding = new Map();
  return events.map((e) => {
    const place = `${e.letter}/${e.octave}`;
    const current = holding.has(place) ? holding.get(place) : keyAlter(e.letter, key);
    if (e.tied) return null;
    if (e.alter === current) return null;
    holding.set(place, e.alter);
    return { "-2": "bb", "-1": "b", 0: "n", 1: "#", 2: "##" }[e.alter];
  });
}
