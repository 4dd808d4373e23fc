// counterpoint's page: the state of the piece, editing on the engraved staff (pointer, touch
// and keyboard), the model's runs (harmonize, refill, again, alternatives) with progress and
// cancel, playback and files. Drawing lives in notation.js and roll.js, the music's rules in
// music.js, the server in api.js, sound in playback.js.

import {
  KEYS, METRES, RANGES, VOICES, clearVoice, copyPiece, degree, emptyPiece, leadOf, noteAt, noteName,
  notesOf, parseSpelling, pitchAtDegree, pitchOfSpelling, resize, runsOf, setNote, setRanges, spell, stepsPerBar, userSpan,
  validPickup, where,
} from "./music.js";
import { choraleKey } from "../local/spelling.js";
import { engrave, setColours, ZOOM } from "./notation.js";
import { ROLL, drawRoll, rollPitchAt, rollStepAt } from "./roll.js";
import { Cancelled, exportFile, health, importFile, infill } from "./api.js";
import { play } from "./playback.js";
import { fragmentToPiece, pieceToFragment } from "./share.js";

const LENGTHS = [[1, "16th", "3"], [2, "8th", "4"], [4, "quarter", "5"], [8, "half", "6"], [16, "whole", "7"]];
const DIGIT_LENGTH = { 3: 1, 4: 2, 5: 4, 6: 8, 7: 16 };  // MuseScore's duration keys
const TEMPO = [30, 240];
const PRESETS = {
  twinkle: { label: "Twinkle Twinkle", measures: 4, notes: [[72, 4], [72, 4], [79, 4], [79, 4], [81, 4], [81, 4], [79, 8],
    [77, 4], [77, 4], [76, 4], [76, 4], [74, 4], [74, 4], [72, 8]] },
  mary: { label: "Mary Had a Little Lamb", measures: 4, notes: [[76, 4], [74, 4], [72, 4], [74, 4], [76, 4], [76, 4], [76, 8],
    [74, 4], [74, 4], [74, 8], [76, 4], [79, 4], [79, 8]] },
  // the opening of Luther's chorale, as Bach harmonized it (BWV 302)
  "ein-feste-burg": { label: "Ein feste Burg ist unser Gott", measures: 3, notes: [[72, 4], [72, 4], [72, 4], [67, 4], [69, 4],
    [71, 4], [72, 4], [71, 4], [69, 8], [67, 8]] },
};
const STAFF_OF_VOICE = [0, 0, 1, 1];

const $ = (id) => document.getElementById(id);
const state = {
  measures: 2, metre: "4/4", pickup: 0, key: 0, length: 4, rest: false, voice: 0,
  piece: null, region: null, selected: null, cursor: null, busy: null, spellings: null,
  undo: [], redo: [], last: null, playing: null, geometry: null,
};

// ------------------------------------------------------------------ state changes

function commit(mutate) {
  state.undo.push(snapshot());
  if (state.undo.length > 200) state.undo.shift();
  state.redo = [];
  mutate(state.piece);
  afterChange();
}

function snapshot() {
  return { piece: copyPiece(state.piece), measures: state.measures, metre: state.metre, pickup: state.pickup, key: state.key };
}

function restore(saved) {
  state.piece = copyPiece(saved.piece);
  state.measures = saved.measures; state.metre = saved.metre; state.pickup = saved.pickup; state.key = saved.key;
  syncMenus();
}

function undo() {
  if (state.busy || !state.undo.length) return;
  state.redo.push(snapshot()); restore(state.undo.pop());
  state.selected = null; hint("Undone."); afterChange();
}

function redo() {
  if (state.busy || !state.redo.length) return;
  state.undo.push(snapshot()); restore(state.redo.pop());
  state.selected = null; hint("Redone."); afterChange();
}

function afterChange() {
  if (state.playing) state.playing.stop();  // what plays is what is written
  render();
}

function syncMenus() {
  $("measures").value = String(state.measures);
  $("metre").value = state.metre;
  pickupMenu();
  $("key").value = String(state.key);
}

/** An upbeat's length in words: "1 beat", "2 beats", "½ beat" (in the page's quarter beats). */
function upbeatName(pickup) {
  const beats = pickup / 4, whole = Math.floor(beats), part = ["", "¼", "½", "¾"][pickup % 4];
  return `${whole || ""}${part || (whole ? "" : "0")} beat${beats > 1 ? "s" : ""}`;
}

/** The upbeat menu for the metre: none, each whole number of beats shorter than a bar, and the
 * piece's own upbeat (an opened file's may be an 8th). */
function pickupMenu() {
  const beats = METRES[state.metre], choices = new Set([0, state.pickup]);
  for (let b = 1; b < beats; b++) choices.add(4 * b);
  $("pickup").replaceChildren(...[...choices].sort((a, b) => a - b)
    .map((p) => new Option(p ? upbeatName(p) : "none", String(p))));
  $("pickup").value = String(state.pickup);
}

// ------------------------------------------------------------------ drawing

function hint(text, warn = false) {
  const h = $("hint");
  h.textContent = text;
  h.classList.toggle("warn", warn);
}

function render() {
  const scroller = $("staff-scroll"), left = scroller.scrollLeft;
  state.geometry = engrave($("staff"), state.piece, {
    key: state.key, metre: state.metre, pickup: state.pickup, selected: state.selected, cursor: state.cursor, spelling: resultSpelling(state.piece, state.spellings),
  });
  scroller.scrollLeft = left;
  drawRoll($("roll"), state.piece, { cell: ROLL.cell, row: ROLL.row, labelled: true, selection: state.region, ...rollBars() });
  const busy = Boolean(state.busy);
  for (const id of ["preset", "measures", "metre", "pickup", "key", "clear", "clear-voice", "open-button", "harmonize", "alternatives",
    "download-midi", "download-xml", "lock-mode", "share"]) $(id).disabled = busy;
  $("undo").disabled = busy || !state.undo.length;
  $("redo").disabled = busy || !state.redo.length;
  $("again").disabled = busy || !state.last;
  $("refill").disabled = busy || !state.region;
  const note = selectedNote();
  for (const id of ["pitch-up", "pitch-down", "delete"]) $(id).disabled = busy || !state.selected;
  $("pitch-up").disabled = $("pitch-down").disabled = busy || !note;
  $("cancel").hidden = !busy;
  $("staff").setAttribute("aria-busy", String(busy));
  for (const control of document.querySelectorAll(".choice button")) control.disabled = busy;
  $("clear-voice").textContent = `Clear ${VOICES[state.voice]}`;
  const preset = PRESETS[$("preset").value];
  const key = KEYS.find(([k]) => k === state.key)[2].split(" / ")[0];
  const upbeat = state.pickup ? ` with an upbeat of ${upbeatName(state.pickup)}` : "";
  $("piece-summary").textContent = `${preset ? preset.label + ", " : ""}${state.measures} bars${upbeat}, ${state.metre}, ${key}, ♩ = ${$("tempo").value}`;
}

/** Where the pianorolls draw barlines. */
function rollBars() { return { barSteps: stepsPerBar(state.metre), lead: leadOf(state.metre, state.pickup) }; }

// Draw at most once a frame (a dragged note, progress). Progress can arrive faster than a piece
// is engraved, and while the page draws, a sampler running here waits for the main thread
// between passes (engraving took ten times a pass on a loaded 2-core machine): while the model
// works, each drawing is followed by four times as long for the model, so drawing takes at most
// a fifth of the time.
const DRAW_SHARE = 0.2;
let frame = null, nextDraw = 0;
function renderSoon() {
  if (frame !== null) return;
  frame = setTimeout(() => requestAnimationFrame(() => {
    const start = performance.now();
    render();
    const took = performance.now() - start;
    nextDraw = state.busy ? performance.now() + took * (1 / DRAW_SHARE - 1) : 0;
    frame = null;
  }), Math.max(0, nextDraw - performance.now()));
}

/** For notation.js: the spelling of the note at (v, t) that came with the piece (issue 39: a
 * result's or an opened file's "spellings", [voice][step] names like "F#4", from the server or,
 * when the page sampled, from local/spelling.js, the same rule), while the pitch there is still
 * the one spelled; otherwise notation.js spells the note by the key signature. */
function resultSpelling(piece, spellings) {
  return (v, t) => {
    const spelled = parseSpelling(spellings?.[v]?.[t]);
    return spelled && pitchOfSpelling(spelled) === piece.pitch[v][t] ? spelled : null;
  };
}

function selectedNote() {
  const s = state.selected;
  return s && !s.rest ? noteAt(state.piece, s.v, s.start) : null;
}

// ------------------------------------------------------------------ editing

/** Why pitch cannot be the user's note in voice v over steps [start, end) (the note it
 * replaces there left out), or null: outside what the page draws, or a voice spanning more than
 * it can sing in any key (the rule counterpoint.music.transposition owns). */
function inRange(pitch, v, start = 0, end = 0) {
  const [modelLow, modelHigh] = RANGES.model;
  if (pitch < modelLow || pitch > modelHigh) {
    return `${noteName(pitch, state.key)} is outside what the model knows (${noteName(modelLow, state.key)} to ${noteName(modelHigh, state.key)})`;
  }
  const [others, othersHigh] = userSpan(state.piece, v, start, end);
  const low = Math.min(pitch, others), high = Math.max(pitch, othersHigh);
  if (high - low > RANGES.maxSpan[v]) {
    return `with ${noteName(pitch, state.key)} the ${VOICES[v]} would span ${high - low} semitones (${noteName(low, state.key)} to ${noteName(high, state.key)}); a ${VOICES[v]} sings at most ${RANGES.maxSpan[v]}`;
  }
  return null;
}

function busyHint() { hint(`${state.busy.label}: the model is writing. Wait, or press Cancel to edit.`, true); }

/** Place a note (pitch) or, with pitch -1, a rest for voice v from step t, of the chosen length. */
function place(v, t, pitch) {
  const grid = Math.min(state.length, 4);
  const start = Math.floor(t / grid) * grid;
  const end = Math.min(state.piece.steps, start + state.length);
  if (pitch !== -1) {
    const why = inRange(pitch, v, start, end);
    if (why) { hint(`${why}: the note was not placed.`, true); return false; }
  }
  commit((p) => setNote(p, v, start, end, pitch, "user"));
  state.selected = { v, start, rest: pitch === -1 };
  state.cursor = { t: Math.min(end, state.piece.steps - 1), staff: STAFF_OF_VOICE[v], d: state.cursor?.d ?? 34 };
  const what = pitch === -1 ? "a rest" : noteName(pitch, state.key);
  hint(`${capital(VOICES[v])}: ${what} at ${where(start, state.metre, state.pickup)}. Tap it to select it; press Harmonize when ready.`);
  render();
  return true;
}

function capital(text) { return text[0].toUpperCase() + text.slice(1); }

function select(v, start, rest = false) {
  state.selected = { v, start, rest };
  chooseVoice(v);
  const run = runsOf(state.piece, v).find((r) => r.start === start);
  const what = rest ? "rest" : noteName(run.pitch, state.key);
  hint(`${capital(VOICES[v])} ${what} at ${where(start, state.metre, state.pickup)} selected: ${rest ? "" : "↑ ↓ change its pitch, "}Delete removes it.`);
  render();
}

function removeSelected() {
  const s = state.selected;
  if (!s || state.busy) return;
  const run = runsOf(state.piece, s.v).find((r) => r.start === s.start);
  if (!run) return;
  commit((p) => setNote(p, s.v, run.start, run.end, -1, null));
  state.selected = null;
  hint(`Removed: the model will write the ${VOICES[s.v]} there.`);
  render();
}

function movePitch(semitones) {
  const note = selectedNote();
  if (!note || state.busy) return;
  const pitch = note.pitch + semitones;
  const why = inRange(pitch, note.v, note.start, note.end);
  if (why) { hint(`${why}.`, true); return; }
  commit((p) => { for (let s = note.start; s < note.end; s++) { p.pitch[note.v][s] = pitch; p.origin[note.v][s] = "user"; } });
  hint(`${capital(VOICES[note.v])} ${noteName(pitch, state.key)} at ${where(note.start, state.metre, state.pickup)}.`);
}

function changeLength(length) {
  const s = state.selected;
  if (!s || state.busy) return;
  const run = runsOf(state.piece, s.v).find((r) => r.start === s.start);
  if (!run) return;
  const end = Math.min(state.piece.steps, run.start + length);
  commit((p) => {
    if (end < run.end) setNote(p, s.v, end, run.end, -1, null);
    setNote(p, s.v, run.start, end, run.pitch, "user");
  });
}

function chooseVoice(v) {
  state.voice = v;
  for (const button of $("edit-voice").children) button.setAttribute("aria-pressed", String(Number(button.dataset.value) === v));
}

function chooseLength(length) {
  state.length = length;
  for (const button of $("lengths").children) button.setAttribute("aria-pressed", String(Number(button.dataset.value) === length));
}

/** The notehead (or the user's rest) at an svg point, preferring the voice being written. */
function headAt(x, y) {
  const g = state.geometry;
  const { staff, d } = g.positionAt(y);
  const hits = g.heads.filter((h) => STAFF_OF_VOICE[h.v] === staff && x >= h.x1 - 5 && x <= h.x2 + 5 &&
    (h.rest ? h.run.origin === "user" && Math.abs(y - h.y) < 16 : g.positionAt(h.y).d === d));
  return hits.find((h) => h.v === state.voice) || hits[0] || null;
}

/** A tap or click on the staff at a screen point: select what is there, or place. */
function tapStaff(clientX, clientY) {
  if (state.busy) { busyHint(); return; }
  const g = state.geometry;
  const { x, y } = g.toSvg(clientX, clientY);
  const { staff, d } = g.positionAt(y);
  const hit = headAt(x, y);
  if (hit) {
    if ($("lock-mode").checked && !hit.rest) {
      commit((p) => { for (let s = hit.run.start; s < hit.run.end; s++) p.locked[hit.v][s] = !hit.run.locked; });
      return;
    }
    select(hit.v, hit.run.start, hit.rest);
    return;
  }
  const t = g.stepAt(x);
  if (t === null) return;
  let v = state.voice;
  if (STAFF_OF_VOICE[v] !== staff) { v = staff === 0 ? v - 2 : v + 2; chooseVoice(v); }
  state.cursor = { t, staff, d };
  place(v, t, state.rest ? -1 : pitchAtDegree(d, state.key));
}

/** A mouse dragging a note up or down: its pitch follows the staff position under it. */
function dragNote(drag, clientY) {
  const g = state.geometry;
  const { d } = g.positionAt(g.toSvg(0, clientY).y);
  if (d === drag.d) return;
  const pitch = pitchAtDegree(d, state.key);
  const why = inRange(pitch, drag.v, drag.start, drag.end);
  if (why) { hint(`${why}.`, true); return; }
  if (!drag.moved) { state.undo.push(snapshot()); state.redo = []; drag.moved = true; }
  drag.d = d;
  for (let s = drag.start; s < drag.end; s++) { state.piece.pitch[drag.v][s] = pitch; state.piece.origin[drag.v][s] = "user"; }
  state.selected = { v: drag.v, start: drag.start };
  hint(`${capital(VOICES[drag.v])} ${noteName(pitch, state.key)} at ${where(drag.start, state.metre, state.pickup)}.`);
  renderSoon();
}

// pointers: a tap places or selects; a swipe scrolls the staff (the browser pans it) and never
// places; a mouse drags a note's pitch
function pointerHandlers(element) {
  let down = null;
  element.addEventListener("pointerdown", (e) => {
    if (e.button !== 0) return;
    down = { id: e.pointerId, x: e.clientX, y: e.clientY, scroll: $("staff-scroll").scrollLeft };
    if (e.pointerType === "mouse" && !state.busy && !$("lock-mode").checked) {
      const { x, y } = state.geometry.toSvg(e.clientX, e.clientY);
      const hit = headAt(x, y);
      if (hit && !hit.rest) {
        down.drag = { v: hit.v, start: hit.run.start, end: hit.run.end, d: state.geometry.positionAt(hit.y).d, moved: false };
        element.setPointerCapture(e.pointerId);
      }
    }
  });
  element.addEventListener("pointermove", (e) => {
    if (!down || e.pointerId !== down.id) return;
    if (down.drag) { if (Math.abs(e.clientY - down.y) > 4) dragNote(down.drag, e.clientY); return; }
    if (Math.hypot(e.clientX - down.x, e.clientY - down.y) > 10) down.moved = true;
  });
  element.addEventListener("pointercancel", () => { down = null; });
  element.addEventListener("pointerup", (e) => {
    if (!down || e.pointerId !== down.id) return;
    const { drag } = down;
    const tap = !down.moved && !drag?.moved && $("staff-scroll").scrollLeft === down.scroll;
    down = null;
    if (drag?.moved) { afterChange(); return; }
    if (tap) { element.focus({ preventScroll: true }); tapStaff(e.clientX, e.clientY); }
  });
}

// ------------------------------------------------------------------ keyboard

function keydown(event) {
  const tag = document.activeElement?.tagName;
  const typing = ["INPUT", "SELECT", "TEXTAREA"].includes(tag) && document.activeElement.type !== "checkbox";
  const ctrl = event.ctrlKey || event.metaKey;
  if (ctrl && !typing && event.key.toLowerCase() === "z") { event.shiftKey ? redo() : undo(); event.preventDefault(); return; }
  if (ctrl && !typing && event.key.toLowerCase() === "y") { redo(); event.preventDefault(); return; }
  if (document.activeElement === $("staff")) { staffKey(event); return; }
  if (document.activeElement === $("roll")) { rollKey(event); return; }
  if (typing || ctrl) return;
  if ((event.key === "Delete" || event.key === "Backspace") && state.selected) { removeSelected(); event.preventDefault(); }
}

function staffKey(event) {
  if (event.ctrlKey && !["ArrowUp", "ArrowDown"].includes(event.key)) return;
  if (state.busy && event.key !== "Tab") { busyHint(); return; }
  const key = event.key;
  const note = selectedNote();
  const cursor = state.cursor || (state.cursor = { t: 0, staff: STAFF_OF_VOICE[state.voice], d: STAFF_OF_VOICE[state.voice] ? 23 : 35 });
  const grid = Math.min(state.length, 4);
  if (key === "Delete" || key === "Backspace") removeSelected();
  else if (key === "Escape") { state.selected = null; hint("Nothing selected: arrows move the cursor, Enter places a note."); render(); }
  else if ((key === "ArrowUp" || key === "ArrowDown") && note) movePitch((key === "ArrowUp" ? 1 : -1) * (event.ctrlKey ? 12 : 1));
  else if ((key === "ArrowLeft" || key === "ArrowRight") && state.selected) {
    const runs = runsOf(state.piece, state.selected.v).filter((r) => r.pitch !== -1 || r.origin === "user");
    const i = runs.findIndex((r) => r.start === state.selected.start) + (key === "ArrowRight" ? 1 : -1);
    if (runs[i]) select(runs[i].v, runs[i].start, runs[i].pitch === -1);
    else { state.selected = null; render(); }
  } else if (key === "ArrowLeft" || key === "ArrowRight") {
    cursor.t = Math.max(0, Math.min(state.piece.steps - 1, onGrid(cursor.t, grid) + (key === "ArrowRight" ? grid : -grid)));
    cursorHint(); render();
  } else if (key === "ArrowUp" || key === "ArrowDown") {
    cursor.d += key === "ArrowUp" ? 1 : -1;
    cursorHint(); render();
  } else if (key === "Enter" || key === " ") {
    const v = STAFF_OF_VOICE[state.voice] === cursor.staff ? state.voice : (cursor.staff ? state.voice + 2 : state.voice - 2);
    chooseVoice(v);
    place(v, cursor.t, state.rest ? -1 : pitchAtDegree(cursor.d, state.key));
  } else if (/^[a-gA-G]$/.test(key)) {
    // a letter: that note at the cursor, in the octave nearest the voice's previous note
    const letter = "CDEFGAB".indexOf(key.toUpperCase());
    const v = state.voice, previous = notesOf(state.piece, v).filter((n) => n.start < cursor.t).pop();
    const [low, high] = RANGES.voices[v];
    const near = previous ? degree(spell(previous.pitch, state.key)) : degree(spell(Math.round((low + high) / 2), state.key));
    let d = Math.floor(near / 7) * 7 + letter;
    if (d - near > 3) d -= 7; else if (near - d > 3) d += 7;
    cursor.staff = STAFF_OF_VOICE[v]; cursor.d = d;
    if (place(v, cursor.t, pitchAtDegree(d, state.key))) {
      cursor.t = Math.min(state.piece.steps - 1, Math.max(0, onGrid(cursor.t, grid) + state.length));
      render();
    }
  } else if (key in DIGIT_LENGTH) {
    chooseLength(DIGIT_LENGTH[key]);
    if (state.selected) changeLength(DIGIT_LENGTH[key]);
    hint(`Length: ${LENGTHS.find(([l]) => l === DIGIT_LENGTH[key])[1]}.`);
  } else if (key === "0") { toggleRest(); } else return;
  event.preventDefault();
}

/** The step at or before t on a grid of `grid` steps counted from the bar lines (an upbeat
 * moves them off step 0). */
function onGrid(t, grid) {
  const lead = leadOf(state.metre, state.pickup);
  return Math.floor((t + lead) / grid) * grid - lead;
}

function cursorHint() {
  const c = state.cursor;
  hint(`Cursor: ${noteName(pitchAtDegree(c.d, state.key), state.key)} at ${where(c.t, state.metre, state.pickup)}. Enter places a ${state.rest ? "rest" : "note"}; A–G write notes.`);
  // keep the cursor in view
  const x = state.geometry.stepX(c.t) * ZOOM, scroller = $("staff-scroll");
  if (x < scroller.scrollLeft + 40 || x > scroller.scrollLeft + scroller.clientWidth - 40) scroller.scrollLeft = x - scroller.clientWidth / 2;
}

function toggleRest() {
  state.rest = !state.rest;
  $("rest").setAttribute("aria-pressed", String(state.rest));
  hint(state.rest ? "Rests: a tap places a rest of the chosen length." : "Notes: a tap places a note.");
}

function rollKey(event) {
  const beat = 4, steps = state.piece.steps;
  const region = state.region || { start: 0, end: beat };
  if (event.key === "ArrowRight" || event.key === "ArrowLeft") {
    const delta = event.key === "ArrowRight" ? beat : -beat;
    if (event.shiftKey) region.end = Math.max(region.start + 1, Math.min(steps, region.end + delta));
    else { const length = region.end - region.start; region.start = Math.max(0, Math.min(steps - length, region.start + delta)); region.end = region.start + length; }
    state.region = region; regionHint(); render();
  } else if (event.key === "Enter" && state.region) refill();
  else if (event.key === "Escape") { state.region = null; render(); } else return;
  event.preventDefault();
}

function regionHint() {
  const { start, end } = state.region;
  hint(`Selected ${where(start, state.metre, state.pickup)} to ${where(end - 1, state.metre, state.pickup)}. Press "Refill selection" (or Enter) to rewrite the ticked voices there.`);
}

// ------------------------------------------------------------------ the model

function request(piece, known) {
  const chorale = [];
  for (let t = 0; t < piece.steps; t++) chorale.push([0, 1, 2, 3].map((v) => piece.pitch[v][t]));
  return { chorale, mask: known };
}

function knownForHarmonize(piece) {
  return VOICES.map((_, v) => piece.pitch[v].map((p, t) => piece.origin[v][t] === "user" || piece.locked[v][t]));
}

function knownForRefill(piece, region, voices) {
  return VOICES.map((_, v) => piece.pitch[v].map((p, t) => !(voices.includes(v) && t >= region.start && t < region.end) || piece.locked[v][t]));
}

/** The piece with the model's pitches where it wrote; a run of one pitch is one note. */
function applyResult(base, known, chorale) {
  const piece = copyPiece(base);
  for (let v = 0; v < 4; v++) {
    for (let t = 0; t < piece.steps; t++) {
      if (known[v][t]) continue;
      const p = chorale[t][v], previous = t ? piece.pitch[v][t - 1] : -1;
      piece.pitch[v][t] = p;
      piece.origin[v][t] = p === -1 ? null : "model";
      piece.locked[v][t] = false;
      piece.onset[v][t] = p !== -1 && (t === 0 || previous !== p || known[v][t - 1]);
    }
    // a given note right after the model's note of the same pitch is still struck again
    for (let t = 1; t < piece.steps; t++) if (known[v][t] && !known[v][t - 1] && piece.pitch[v][t] !== -1) piece.onset[v][t] = true;
  }
  return piece;
}

function setProgress(fraction, text) {
  const bar = $("progress");
  bar.hidden = fraction === null;
  if (fraction !== null) {
    bar.firstElementChild.style.width = `${Math.round(fraction * 100)}%`;
    bar.querySelector("span").textContent = text;
    bar.setAttribute("aria-valuenow", String(Math.round(fraction * 100)));
  }
}

function samplerOptions(seed, count) {
  return { seed, count, temperature: Number($("temperature").value), avoid_parallels: $("avoid-parallels").checked };
}

/** One run of the model: lock the page, stream progress, restore on failure or cancel. */
async function sample(label, base, known, count, onProgress) {
  if (known.every((row) => row.every(Boolean))) {
    hint("Everything is given: nothing to write. Select a region to refill, or clear some notes.", true);
    return null;
  }
  if (state.playing) state.playing.stop();
  const controller = new AbortController();
  state.busy = { label, controller };
  state.selected = null;
  render();
  hint(`${label}: the model is writing${count > 1 ? ` ${count} versions` : ""}, pass by pass. Editing waits until it is done (or press Cancel).`);
  setProgress(0.02, "starting…");
  const seed = Math.floor(Math.random() * 1e9);
  try {
    const result = await infill({ ...request(base, known), ...samplerOptions(seed, count) }, {
      signal: controller.signal,
      onProgress: (event) => {
        onProgress(event);
        const each = count > 1 ? ` (each of the ${count})` : "";
        setProgress(Math.min(1, (event.iteration + 1) / event.passes), `pass ${event.iteration + 1} of ${event.passes}${each}`);
      },
    });
    return { ...result, seed };
  } catch (error) {
    state.piece = base;
    if (error instanceof Cancelled) hint(`${label} cancelled: nothing changed.`);
    else if (error.unreachable) hint(error.message, true);
    else hint(`${label} did not run: ${error.message.replace(/\.$/, "")}. Nothing changed; change the notes it names and try again.`, true);
    return null;
  } finally {
    state.busy = null;
    if (state.playing) state.playing.stop();  // what plays is what is written
    setProgress(null);
    render();
  }
}

async function run(kind) {
  const base = copyPiece(state.piece);
  const region = kind === "refill" ? { ...state.region } : null;
  const voices = kind === "refill" ? [0, 1, 2, 3].filter((v) => $(`refill-${v}`).checked) : null;
  if (kind === "refill" && !voices.length) { hint("Tick at least one voice to rewrite under the pianoroll.", true); return; }
  const known = kind === "refill" ? knownForRefill(base, region, voices) : knownForHarmonize(base);
  const label = kind === "refill" ? "Refill" : "Harmonize";
  const before = snapshot();
  const result = await sample(label, base, known, 1, (event) => {
    // the Doodle's best moment: the voices settle pass by pass
    state.piece = applyResult(base, known, event.chorales[0]);
    renderSoon();
  });
  if (!result) { render(); return; }
  state.undo.push(before); state.redo = [];
  state.piece = applyResult(base, known, result.chorales[0]);
  state.spellings = result.spellings?.[0] ?? state.spellings;
  state.last = { kind, region, voices };
  const notices = result.notices.length ? " " + result.notices.join(" ") : "";
  hint(`${label}: done.${notices} Press Play to listen, Again for another version.`);
  render();
}

/** Again: the same request on the piece as it is now (melody edits since are kept). */
function again() {
  if (!state.last) return;
  if (state.last.kind === "refill") { state.region = state.last.region; for (let v = 0; v < 4; v++) $(`refill-${v}`).checked = state.last.voices.includes(v); }
  run(state.last.kind);
}

function refill() { if (state.region) run("refill"); }

async function alternatives() {
  const base = copyPiece(state.piece);
  const known = knownForHarmonize(base);
  const count = 3;
  const list = $("choice-list");
  const cards = [];
  list.replaceChildren();
  for (let i = 0; i < count; i++) {
    const card = document.createElement("div");
    card.className = "choice";
    const head = document.createElement("div");
    head.className = "choice-head";
    const title = document.createElement("span");
    title.textContent = `Version ${i + 1}`;
    const listen = button(`▶ Play`, `play version ${i + 1}`, "listen");
    const use = button("Use this", `use version ${i + 1}`, "use");
    head.append(title, listen, use);
    const score = document.createElement("div");
    score.className = "mini";
    const roll = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    score.append(roll);
    card.append(head, score);
    list.appendChild(card);
    cards.push({ card, listen, use, score, roll });
  }
  $("choices").hidden = false;
  $("choices").scrollIntoView({ block: "nearest", behavior: "smooth" });
  // while the model works each version's pianoroll shows its progress; then its score
  const drawRolls = (chorales) => chorales.forEach((chorale, i) => cards[i] && drawRoll(cards[i].roll, applyResult(base, known, chorale),
    { cell: 3, row: 2, labelled: false, ...rollBars() }));
  const result = await sample("3 alternatives", base, known, count, (event) => drawRolls(event.chorales));
  if (!result) { $("choices").hidden = true; return; }
  result.chorales.forEach((chorale, i) => {
    const option = applyResult(base, known, chorale);
    const { listen, use, score } = cards[i];
    const spellings = result.spellings?.[i] ?? null;
    engrave(score, option, { key: state.key, metre: state.metre, pickup: state.pickup, zoom: 0.55, preview: true, spelling: resultSpelling(option, spellings) });
    listen.addEventListener("click", () => togglePlay(option, listen));
    use.addEventListener("click", () => {
      if (state.busy) return;
      if (state.playing) state.playing.stop();
      state.undo.push(snapshot()); state.redo = [];
      state.piece = copyPiece(option); state.spellings = spellings;
      state.last = { kind: "harmonize" };
      $("choices").hidden = true;
      hint(`Version ${i + 1} chosen. Press Play to listen.`);
      afterChange();
      $("hint").scrollIntoView({ block: "start", behavior: "smooth" });  // the hint, then the staff
    });
  });
  hint("Three versions below: play them, then use the one you like.");
  $("choices").scrollIntoView({ block: "nearest", behavior: "smooth" });
}

function button(text, label, className) {
  const element = document.createElement("button");
  element.type = "button"; element.textContent = text; element.className = className;
  element.setAttribute("aria-label", label);
  return element;
}

// ------------------------------------------------------------------ sound

/** Play (or stop) a piece: the one on the staff, with a cursor, or a version's preview. */
function togglePlay(piece = null, control = $("play")) {
  const wasPlaying = state.playing?.control;
  if (state.playing) state.playing.stop();
  if (wasPlaying === control) return;
  const shown = piece === null;
  const heard = VOICES.map((_, v) => $(`hear-${v}`).checked);
  const cursor = () => (shown ? document.getElementById("staff-cursor") : null);
  const text = control.textContent;
  const handle = play(piece || state.piece, {
    tempo: Number($("tempo").value), heard,
    onStep: (step) => {
      if (!shown) return;
      const x = state.geometry.stepX(Math.min(step, state.piece.steps - 0.01)) + 5;
      cursor()?.setAttribute("x1", x); cursor()?.setAttribute("x2", x); cursor()?.setAttribute("visibility", "visible");
      const roll = $("roll-cursor");
      if (roll) { const rx = ROLL.left + step * ROLL.cell; roll.setAttribute("x1", rx); roll.setAttribute("x2", rx); roll.setAttribute("visibility", "visible"); }
    },
    onEnd: () => {
      state.playing = null;
      control.textContent = text;
      cursor()?.setAttribute("visibility", "hidden");
      $("roll-cursor")?.setAttribute("visibility", "hidden");
    },
  });
  state.playing = { stop: handle.stop, control };
  control.textContent = "■ Stop";
}

// ------------------------------------------------------------------ files

async function download(kind) {
  const { chorale } = request(state.piece, null);
  const onsets = chorale.map((row, t) => row.map((p, v) => p !== -1 && (state.piece.onset[v][t] || t === 0 || state.piece.pitch[v][t - 1] !== p)));
  try {
    const blob = await exportFile(kind, { chorale, tempo: Number($("tempo").value), onsets, time_signature: state.metre, pickup: state.pickup });
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = kind === "midi" ? "counterpoint.mid" : "counterpoint.musicxml";
    document.body.appendChild(link); link.click(); link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
    hint(`Downloaded ${link.download}.`);
  } catch (error) {
    hint(`Could not download the ${kind === "midi" ? "MIDI" : "MusicXML"} file. ${error.message}`, true);
  }
}

async function open(file) {
  let data;
  try {
    data = await importFile(file);
  } catch (error) {
    hint(error.unreachable ? error.message : `Could not open ${file.name}: ${error.message.replace(/\.$/, "")}. Open a MIDI (.mid) or MusicXML file with a melody or four voices.`, true);
    return;
  }
  state.undo.push(snapshot()); state.redo = [];
  if (["2/4", "3/4", "4/4"].includes(data.time_signature)) state.metre = data.time_signature;  // the file's metre
  state.pickup = validPickup(data.pickup ?? 0, state.metre);  // and its upbeat: the barlines where they were
  const steps = data.chorale.length, barSteps = stepsPerBar(state.metre);
  const measures = Math.min(32, Math.max(1, Math.ceil(steps / barSteps)));
  state.measures = measures;
  const tempo = openedTempo(data.tempo);
  const piece = emptyPiece(measures * barSteps);
  data.chorale.slice(0, piece.steps).forEach((row, t) => row.forEach((p, v) => {
    if (p === -1) return;
    piece.pitch[v][t] = p; piece.origin[v][t] = "user";
    // the file's onsets: a repeated note stays two notes
    piece.onset[v][t] = data.onsets ? data.onsets[t][v] : t === 0 || data.chorale[t - 1][v] !== p;
  }));
  state.piece = piece; state.region = null; state.selected = null; state.last = null;
  // the file's key signature, else the key the server spelled the notes in (the same estimate)
  state.key = Math.abs(data.key_fifths ?? 7) <= 6 ? data.key_fifths : choraleKey(piece.pitch, piece.onset).fifths;
  state.spellings = data.spellings ?? null;
  syncMenus(); afterChange();
  hint(`Opened ${file.name} (${measures} bars). Its notes are yours: select a region to refill, or clear voices and harmonize.${tempo}`);
}

/** Take a file's tempo (quarter notes a minute, null: none) into the tempo field; what to say
 * when the page cannot play it as it is. */
function openedTempo(tempo) {
  if (!Number.isFinite(tempo)) return "";
  const kept = Math.min(TEMPO[1], Math.max(TEMPO[0], tempo));
  $("tempo").value = String(kept);
  return kept === tempo ? "" : ` Its tempo, ${tempo}, is outside ${TEMPO[0]} to ${TEMPO[1]}: set to ${kept}.`;
}

// ------------------------------------------------------------------ a link to the piece

async function share() {
  const fragment = pieceToFragment(state.piece, {
    measures: state.measures, metre: state.metre, pickup: state.pickup, key: state.key, tempo: Number($("tempo").value),
  });
  history.replaceState(null, "", fragment);
  const link = $("share-link");
  link.value = location.href; link.hidden = false; link.select();
  try {
    await navigator.clipboard.writeText(location.href);
    hint("Link copied: whoever opens it sees and hears this piece (it lives in the link, not on a server).");
  } catch {
    hint("Copy the link beside the button: whoever opens it sees and hears this piece.");
  }
}

function openShared() {
  if (!location.hash.startsWith("#piece=")) return;
  try {
    const shared = fragmentToPiece(location.hash);
    Object.assign(state, { piece: shared.piece, measures: shared.measures, metre: shared.metre, pickup: shared.pickup, key: shared.key });
    $("tempo").value = String(shared.tempo);
    state.last = null;
    syncMenus();
    hint("A shared piece: play it, change it, or harmonize it again.");
  } catch {
    hint("This link's piece could not be read (it may be cut short): start from a melody or write your own.", true);
  }
}

// ------------------------------------------------------------------ set-up

function loadPreset(name) {
  const preset = PRESETS[name];
  if (!preset) return;
  state.undo.push(snapshot()); state.redo = [];
  state.measures = preset.measures; state.metre = "4/4"; state.pickup = 0; state.key = 0;
  const piece = emptyPiece(preset.measures * stepsPerBar(state.metre));
  let t = 0;
  for (const [pitch, length] of preset.notes) { setNote(piece, 0, t, t + length, pitch, "user"); t += length; }
  state.piece = piece; state.region = null; state.selected = null; state.last = null;
  syncMenus(); afterChange();
  hint(`${preset.label} is in the soprano. Press Harmonize.`);
}

function radioGroup(container, items, current, onChoose) {
  container.replaceChildren();
  for (const [value, label, shortcut, className] of items) {
    const button = document.createElement("button");
    button.type = "button"; button.textContent = label; button.dataset.value = value;
    if (className) button.className = className;
    if (shortcut) button.title = `key ${shortcut} on the staff`;
    button.setAttribute("aria-pressed", String(value === current));
    button.addEventListener("click", () => onChoose(value));
    container.appendChild(button);
  }
}

function voiceChecks(container, prefix, verb, checked) {
  VOICES.forEach((voice, v) => {
    const label = document.createElement("label");
    label.className = `voice-chip ${voice}`;
    const box = document.createElement("input");
    box.type = "checkbox"; box.id = `${prefix}-${v}`; box.name = `${prefix}-${voice}`; box.checked = checked(v);
    box.setAttribute("aria-label", `${verb} the ${voice}`);
    label.append(box, document.createTextNode(voice));
    container.appendChild(label);
  });
}

function changeShape(mutate) {
  if (state.busy) return;
  state.undo.push(snapshot()); state.redo = [];
  mutate();
  if (state.pickup >= stepsPerBar(state.metre)) state.pickup = 0;  // a shorter bar than the upbeat
  syncMenus();
  state.piece = resize(state.piece, state.measures * stepsPerBar(state.metre));
  state.region = null; state.selected = null; state.cursor = null;
  afterChange();
}

function setup() {
  setColours(document.documentElement);
  if (matchMedia("(max-width: 640px)").matches) $("piece-settings").open = false;  // the staff first on a phone
  for (let m = 1; m <= 32; m++) $("measures").append(new Option(String(m), String(m)));
  for (const metre of Object.keys(METRES)) $("metre").append(new Option(metre, metre));
  for (const [k, , label] of [...KEYS].sort((a, b) => a[0] - b[0])) $("key").append(new Option(label, String(k)));
  for (const [name, preset] of Object.entries(PRESETS)) $("preset").append(new Option(preset.label, name));
  // as in MuseScore, a length chosen while a note is selected is that note's length too
  radioGroup($("lengths"), LENGTHS.map(([l, label, key]) => [l, label, key]), state.length, (length) => {
    chooseLength(length);
    if (selectedNote()) changeLength(length);
  });
  radioGroup($("edit-voice"), VOICES.map((v, i) => [i, v, null, `voice-chip ${v}`]), state.voice, (v) => { chooseVoice(v); state.selected = null; render(); });
  voiceChecks($("hear"), "hear", "hear", () => true);
  voiceChecks($("refill-voices"), "refill", "rewrite", (v) => v > 0);
  state.piece = emptyPiece(state.measures * stepsPerBar(state.metre));
  syncMenus();

  $("measures").addEventListener("change", (e) => changeShape(() => { state.measures = Number(e.target.value); }));
  $("metre").addEventListener("change", (e) => changeShape(() => { state.metre = e.target.value; }));
  // the notes stay where they are; the barlines move (a melody that starts on an upbeat)
  $("pickup").addEventListener("change", (e) => changeShape(() => { state.pickup = Number(e.target.value); }));
  $("key").addEventListener("change", (e) => changeShape(() => { state.key = Number(e.target.value); }));
  $("preset").addEventListener("change", (e) => { loadPreset(e.target.value); });
  $("tempo").addEventListener("change", (e) => {
    const typed = Math.round(Number(e.target.value));
    const tempo = Number.isFinite(typed) && e.target.value !== "" ? Math.min(TEMPO[1], Math.max(TEMPO[0], typed)) : 80;
    if (String(tempo) !== e.target.value) hint(`Tempo is between ${TEMPO[0]} and ${TEMPO[1]} beats a minute: set to ${tempo}.`);
    e.target.value = String(tempo);
  });
  const temperature = $("temperature");
  const showTemperature = () => { $("temperature-value").textContent = Number(temperature.value).toFixed(2); };
  temperature.addEventListener("input", showTemperature); showTemperature();
  $("rest").addEventListener("click", toggleRest);
  $("harmonize").addEventListener("click", () => run("harmonize"));
  $("refill").addEventListener("click", refill);
  $("again").addEventListener("click", again);
  $("alternatives").addEventListener("click", alternatives);
  $("cancel").addEventListener("click", () => state.busy?.controller.abort());
  $("undo").addEventListener("click", undo);
  $("redo").addEventListener("click", redo);
  $("pitch-up").addEventListener("click", () => movePitch(1));
  $("pitch-down").addEventListener("click", () => movePitch(-1));
  $("delete").addEventListener("click", removeSelected);
  $("clear").addEventListener("click", () => {
    commit(() => { state.piece = emptyPiece(state.piece.steps); });
    state.region = null; state.selected = null; state.last = null; hint("Cleared. Undo (Ctrl+Z) brings it back."); render();
  });
  $("clear-voice").addEventListener("click", () => {
    const v = state.voice;
    commit((p) => clearVoice(p, v));
    state.selected = null; hint(`The ${VOICES[v]} is cleared. Undo (Ctrl+Z) brings it back.`); render();
  });
  $("play").addEventListener("click", () => togglePlay());
  $("download-midi").addEventListener("click", () => download("midi"));
  $("download-xml").addEventListener("click", () => download("musicxml"));
  $("open-button").addEventListener("click", () => $("open").click());
  $("open").addEventListener("change", (e) => { if (e.target.files[0]) open(e.target.files[0]); e.target.value = ""; });
  $("share").addEventListener("click", share);
  pointerHandlers($("staff"));
  $("staff").addEventListener("focus", () => { if (!state.cursor) { state.cursor = { t: 0, staff: 0, d: 35 }; render(); } });
  const roll = $("roll");
  roll.addEventListener("pointerdown", (e) => {
    if (state.busy) { busyHint(); return; }
    const t = rollStepAt(roll, e.clientX, state.piece.steps);
    if ($("lock-mode").checked) {
      const pitch = rollPitchAt(roll, e.clientY);
      const v = [0, 1, 2, 3].find((voice) => state.piece.pitch[voice][t] === pitch);
      const note = v !== undefined && noteAt(state.piece, v, t);
      if (note) commit((p) => { for (let s = note.start; s < note.end; s++) p.locked[v][s] = !note.locked; });
      return;
    }
    state.rollDrag = { from: t };
    state.region = { start: t, end: t + 1 };
    roll.setPointerCapture(e.pointerId);
    render();
  });
  roll.addEventListener("pointermove", (e) => {
    if (!state.rollDrag) return;
    const t = rollStepAt(roll, e.clientX, state.piece.steps);
    state.region = { start: Math.min(state.rollDrag.from, t), end: Math.max(state.rollDrag.from, t) + 1 };
    render();
  });
  roll.addEventListener("pointerup", () => { if (state.rollDrag) { state.rollDrag = null; regionHint(); render(); } });
  document.addEventListener("keydown", keydown);
  openShared();
  render();
  health().then(setRanges).catch(() => hint("The server is not answering: you can write, but Harmonize needs `counterpoint serve`.", true));
}

// VexFlow's music font is embedded in its bundle; draw once it is ready
Promise.all([document.fonts.load("30px Bravura"), document.fonts.load("12px Academico")]).finally(setup);
window.app = { state, render };  // for the console and the browser tests
