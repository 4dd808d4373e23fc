// counterpoint web app: a grand staff to write on, a pianoroll to select regions in, and the
// JSON API (/api/infill) to fill whatever is left empty. No libraries, no network beyond
// this server. A piece is pitch[voice][step] (-1 = empty) plus, per note position, who wrote
// it ("user" or "model"), whether it is locked, and where notes are struck (onsets).
"use strict";

const VOICES = ["soprano", "alto", "tenor", "bass"];
const COLORS = ["var(--soprano)", "var(--alto)", "var(--tenor)", "var(--bass)"];
const LOW = 36, HIGH = 81;                 // what the model knows (MIDI)
const CELL = 14, LEFT = 74, HS = 5;        // px per 16th step, left margin, half a staff space
const TREBLE_TOP = 50, BASS_TOP = 150, STAFF_HEIGHT = 235;
const ROW = 6;                             // pianoroll px per semitone
const LENGTHS = [[1, "16th"], [2, "8th"], [4, "quarter"], [8, "half"], [16, "whole"]];
const KEYS = [[0, "C major / A minor"], [1, "G major / E minor"], [2, "D major / B minor"],
  [3, "A major / F♯ minor"], [4, "E major / C♯ minor"], [-1, "F major / D minor"],
  [-2, "B♭ major / G minor"], [-3, "E♭ major / C minor"], [-4, "A♭ major / F minor"]];
const SHARP_ORDER = [3, 0, 4, 1, 5, 2, 6], FLAT_ORDER = [6, 2, 5, 1, 4, 0, 3];
const LETTER_PC = [0, 2, 4, 5, 7, 9, 11];
const NAMES = ["C", "C♯", "D", "E♭", "E", "F", "F♯", "G", "A♭", "A", "B♭", "B"];
const PRESETS = {
  twinkle: { measures: 4, notes: [[72, 4], [72, 4], [79, 4], [79, 4], [81, 4], [81, 4], [79, 8],
    [77, 4], [77, 4], [76, 4], [76, 4], [74, 4], [74, 4], [72, 8]] },
  mary: { measures: 4, notes: [[76, 4], [74, 4], [72, 4], [74, 4], [76, 4], [76, 4], [76, 8],
    [74, 4], [74, 4], [74, 8], [76, 4], [79, 4], [79, 8]] },
  passion: { measures: 3, notes: [[72, 4], [72, 4], [72, 4], [67, 4], [69, 4], [71, 4], [72, 4],
    [71, 4], [69, 8], [67, 8]] },
};

const $ = (id) => document.getElementById(id);
const state = {
  measures: 2, key: 0, length: 4, voice: 0, tempo: 80,
  piece: null, selection: null, selected: null, busy: false,
  undo: [], redo: [], last: null, playing: null,
};

// ------------------------------------------------------------------ the piece

function emptyPiece(steps) {
  const grid = (value) => VOICES.map(() => new Array(steps).fill(value));
  return { steps, pitch: grid(-1), onset: grid(false), origin: grid(null), locked: grid(false) };
}

function copyPiece(piece) { return JSON.parse(JSON.stringify(piece)); }

function resize(piece, steps) {
  const fresh = emptyPiece(steps);
  for (let v = 0; v < 4; v++) {
    for (let t = 0; t < Math.min(steps, piece.steps); t++) {
      for (const field of ["pitch", "onset", "origin", "locked"]) fresh[field][v][t] = piece[field][v][t];
    }
  }
  return fresh;
}

function notesOf(piece, v) {
  const result = [];
  let start = null;
  for (let t = 0; t <= piece.steps; t++) {
    const p = t < piece.steps ? piece.pitch[v][t] : -1;
    const begins = t < piece.steps && p !== -1 && (start === null || p !== piece.pitch[v][start] || piece.onset[v][t]);
    if (start !== null && (t === piece.steps || p === -1 || begins)) {
      result.push({ v, start, end: t, pitch: piece.pitch[v][start], origin: piece.origin[v][start], locked: piece.locked[v][start] });
      start = null;
    }
    if (begins || (start === null && p !== -1)) start = t;
  }
  return result;
}

function noteAt(piece, v, t) { return notesOf(piece, v).find((n) => n.start <= t && t < n.end) || null; }

function setNote(piece, v, start, end, pitch, origin) {
  for (let t = start; t < end && t < piece.steps; t++) {
    piece.pitch[v][t] = pitch; piece.onset[v][t] = t === start; piece.origin[v][t] = pitch === -1 ? null : origin;
    piece.locked[v][t] = false;
  }
  if (end < piece.steps && piece.pitch[v][end] !== -1) piece.onset[v][end] = true;
}

function commit(mutate) {
  state.undo.push(copyPiece(state.piece));
  if (state.undo.length > 200) state.undo.shift();
  state.redo = [];
  mutate(state.piece);
  render();
}

// ------------------------------------------------------------------ keys and spelling

function keyAlter(letter) {
  const k = state.key;
  if (k > 0 && SHARP_ORDER.slice(0, k).includes(letter)) return 1;
  if (k < 0 && FLAT_ORDER.slice(0, -k).includes(letter)) return -1;
  return 0;
}

function pitchOfDegree(d) {   // the pitch a staff position means in the current key
  const octave = Math.floor(d / 7), letter = ((d % 7) + 7) % 7;
  return 12 * (octave + 1) + LETTER_PC[letter] + keyAlter(letter);
}

function spell(pitch) {       // staff position and accidental for a pitch in the current key
  const pc = ((pitch % 12) + 12) % 12;
  let best = null;
  for (let letter = 0; letter < 7; letter++) {
    for (const alter of [0, 1, -1]) {
      if ((LETTER_PC[letter] + alter + 12) % 12 !== pc) continue;
      const octave = Math.floor((pitch - alter - LETTER_PC[letter]) / 12) - 1;
      const score = (alter === keyAlter(letter) ? 0 : 2) + (alter !== 0 && Math.sign(alter) !== Math.sign(state.key || 1) ? 1 : 0);
      if (!best || score < best.score) best = { d: octave * 7 + letter, alter, letter, score };
    }
  }
  const shown = best.alter === keyAlter(best.letter) ? "" : { 1: "♯", "-1": "♭", 0: "♮" }[best.alter];
  return { d: best.d, accidental: shown };
}

function staffY(d, treble) { return treble ? TREBLE_TOP + (38 - d) * HS : BASS_TOP + (26 - d) * HS; }
function degreeAt(y, treble) { return treble ? Math.round(38 - (y - TREBLE_TOP) / HS) : Math.round(26 - (y - BASS_TOP) / HS); }
function name(pitch) { return NAMES[pitch % 12] + (Math.floor(pitch / 12) - 1); }

// ------------------------------------------------------------------ drawing

const SVG = "http://www.w3.org/2000/svg";
function el(tag, attrs, parent, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  if (parent) parent.appendChild(node);
  return node;
}

function drawStaff() {
  const svg = $("staff");
  const width = LEFT + state.piece.steps * CELL + 20;
  svg.setAttribute("width", width); svg.setAttribute("height", STAFF_HEIGHT);
  svg.replaceChildren();
  for (const treble of [true, false]) {
    const top = treble ? TREBLE_TOP : BASS_TOP;
    for (let i = 0; i < 5; i++) el("line", { x1: 8, x2: width - 12, y1: top + i * 2 * HS, y2: top + i * 2 * HS, stroke: "#8a8476" }, svg);
    drawClef(svg, treble);
    const order = state.key >= 0 ? SHARP_ORDER : FLAT_ORDER;
    const symbol = state.key >= 0 ? "♯" : "♭";
    for (let i = 0; i < Math.abs(state.key); i++) {
      const letter = order[i];
      // place accidentals on their conventional lines/spaces
      const sharpsTreble = [38, 35, 39, 36, 33, 37, 34], flatsTreble = [34, 37, 33, 36, 32, 35, 31];
      const d = (state.key >= 0 ? sharpsTreble : flatsTreble)[i] - (treble ? 0 : 14);
      el("text", { x: 40 + i * 7, y: staffY(d, treble) + 4, "font-size": 15, fill: "#444", "data-letter": letter }, svg, symbol);
    }
  }
  el("text", { x: LEFT - 8, y: TREBLE_TOP + 18, "font-size": 18, "font-weight": 700, fill: "#444", "text-anchor": "end" }, svg, "4");
  el("text", { x: LEFT - 8, y: TREBLE_TOP + 38, "font-size": 18, "font-weight": 700, fill: "#444", "text-anchor": "end" }, svg, "4");
  for (let t = 0; t <= state.piece.steps; t += 16) {
    const x = LEFT + t * CELL - 3;
    el("line", { x1: x, x2: x, y1: TREBLE_TOP, y2: BASS_TOP + 8 * HS, stroke: "#8a8476", "stroke-width": t % 16 ? 0.5 : 1.2 }, svg);
  }
  for (let t = 0; t < state.piece.steps; t += 4) {
    el("rect", { x: LEFT + t * CELL - 3, y: 0, width: 4 * CELL, height: STAFF_HEIGHT, fill: (t / 4) % 2 ? "rgba(0,0,0,0.018)" : "none" }, svg);
  }
  if (state.selection) {
    const { start, end } = state.selection;
    el("rect", { x: LEFT + start * CELL - 3, y: 2, width: (end - start) * CELL, height: STAFF_HEIGHT - 4, fill: "rgba(107,63,160,0.12)", stroke: "var(--accent)", "stroke-dasharray": "4 3" }, svg);
  }
  for (let v = 0; v < 4; v++) for (const note of notesOf(state.piece, v)) drawNote(svg, note);
  el("line", { id: "staff-cursor", x1: 0, x2: 0, y1: 0, y2: STAFF_HEIGHT, stroke: "var(--accent)", "stroke-width": 2, visibility: "hidden" }, svg);
}

function drawClef(svg, treble) {
  // simple outlines: fonts with the clef glyphs are not on every machine
  const g = el("g", { class: "clef", fill: "none", stroke: "#444", "stroke-width": 2, "stroke-linecap": "round" }, svg);
  if (treble) {
    const y = staffY(32, true);  // the G line
    el("path", { d: `M24 ${y + 24} C18 ${y + 28} 12 ${y + 21} 18 ${y + 18} M24 ${y + 24} L22 ${y - 38} C30 ${y - 48} 36 ${y - 32} 22 ${y - 20} C6 ${y - 8} 10 ${y + 10} 24 ${y + 10} C38 ${y + 10} 36 ${y - 8} 24 ${y - 8} C16 ${y - 8} 16 ${y + 2} 22 ${y + 2}` }, g);
  } else {
    const y = staffY(24, false);  // the F line
    el("path", { d: `M16 ${y} C16 ${y - 10} 32 ${y - 12} 34 ${y} C36 ${y + 14} 24 ${y + 26} 12 ${y + 31}` }, g);
    el("circle", { cx: 16, cy: y, r: 3, fill: "#444", stroke: "none" }, g);
    for (const dy of [-5, 5]) el("circle", { cx: 41, cy: y + dy, r: 1.8, fill: "#444", stroke: "none" }, g);
  }
}

function drawNote(svg, note) {
  const treble = note.v < 2;
  const { d, accidental } = spell(note.pitch);
  const y = staffY(d, treble);
  const x = LEFT + note.start * CELL + 3;
  const g = el("g", { class: "note", "data-voice": note.v, "data-start": note.start, "data-pitch": note.pitch, "data-origin": note.origin || "" }, svg);
  // ledger lines
  const [bottom, top] = treble ? [30, 38] : [18, 26];
  for (let ld = bottom - 2; ld >= d - (d % 2 === 0 ? 0 : 1) && ld < bottom; ld -= 2) el("line", { x1: x - 7, x2: x + 7, y1: staffY(ld, treble), y2: staffY(ld, treble), stroke: "#8a8476" }, g);
  for (let ld = top + 2; ld <= d && ld > top; ld += 2) el("line", { x1: x - 7, x2: x + 7, y1: staffY(ld, treble), y2: staffY(ld, treble), stroke: "#8a8476" }, g);
  const length = note.end - note.start;
  el("rect", { x: x, y: y - 1.5, width: Math.max(2, length * CELL - 8), height: 3, rx: 1.5, fill: COLORS[note.v], opacity: 0.35 }, g);
  const hollow = length >= 8;
  el("ellipse", { cx: x, cy: y, rx: 5.6, ry: 4.2, transform: `rotate(-20 ${x} ${y})`, fill: hollow ? "#fff" : COLORS[note.v], stroke: COLORS[note.v], "stroke-width": hollow ? 2 : 1, opacity: note.origin === "model" ? 0.9 : 1 }, g);
  if (accidental) el("text", { x: x - 15, y: y + 4, "font-size": 13, fill: COLORS[note.v] }, g, accidental);
  if (note.locked) el("circle", { cx: x, cy: y, r: 8, fill: "none", stroke: "#222", "stroke-width": 1.2 }, g);
  const sel = state.selected;
  if (sel && sel.v === note.v && sel.start === note.start) el("circle", { cx: x, cy: y, r: 9, fill: "none", stroke: "var(--accent)", "stroke-width": 2, "stroke-dasharray": "3 2" }, g);
}

function drawRoll(svg, piece, cell, row, interactive) {
  const width = (interactive ? LEFT : 4) + piece.steps * cell + 8;
  const left = interactive ? LEFT : 4;
  svg.setAttribute("width", width); svg.setAttribute("height", (HIGH - LOW + 1) * row + 4);
  svg.replaceChildren();
  for (let p = LOW; p <= HIGH; p++) {
    const y = (HIGH - p) * row + 2;
    if ([1, 3, 6, 8, 10].includes(p % 12)) el("rect", { x: left, y, width: piece.steps * cell, height: row, fill: "#f3f0e8" }, svg);
    if (interactive && p % 12 === 0) el("text", { x: left - 6, y: y + row, "font-size": 10, fill: "#777", "text-anchor": "end" }, svg, name(p));
  }
  for (let t = 0; t <= piece.steps; t += interactive ? 4 : 16) {
    el("line", { x1: left + t * cell, x2: left + t * cell, y1: 0, y2: (HIGH - LOW + 1) * row + 4, stroke: t % 16 ? "#e6e0d2" : "#b9b2a3" }, svg);
  }
  for (let v = 3; v >= 0; v--) {
    for (const note of notesOf(piece, v)) {
      if (note.pitch < LOW || note.pitch > HIGH) continue;
      el("rect", { x: left + note.start * cell + 0.5, y: (HIGH - note.pitch) * row + 2, width: (note.end - note.start) * cell - 1, height: row,
        rx: 1.5, fill: COLORS[v], opacity: note.origin === "model" ? 0.8 : 1, stroke: note.locked ? "#111" : "none", class: "roll-note", "data-voice": v }, svg);
    }
  }
  if (interactive && state.selection) {
    const { start, end } = state.selection;
    el("rect", { x: left + start * cell, y: 0, width: (end - start) * cell, height: (HIGH - LOW + 1) * row + 4, fill: "rgba(107,63,160,0.15)", stroke: "var(--accent)", id: "selection" }, svg);
  }
  if (interactive) el("line", { id: "roll-cursor", x1: 0, x2: 0, y1: 0, y2: (HIGH - LOW + 1) * row + 4, stroke: "var(--accent)", "stroke-width": 2, visibility: "hidden" }, svg);
}

function render() {
  drawStaff();
  drawRoll($("roll"), state.piece, CELL, ROW, true);
  $("undo").disabled = !state.undo.length || state.busy;
  $("redo").disabled = !state.redo.length || state.busy;
  $("again").disabled = !state.last || state.busy;
  $("refill").disabled = !state.selection || state.busy;
  for (const id of ["harmonize", "alternatives"]) $(id).disabled = state.busy;
}

function hint(text, warn = false) { const h = $("hint"); h.textContent = text; h.classList.toggle("warn", warn); }

// ------------------------------------------------------------------ editing on the staff

function stepAt(event, svg) {
  const box = svg.getBoundingClientRect();
  return { x: event.clientX - box.left, y: event.clientY - box.top };
}

function placeOrPick(event) {
  if (state.busy) return;
  const { x, y } = stepAt(event, $("staff"));
  const t = Math.floor((x - LEFT + 3) / CELL);
  if (t < 0 || t >= state.piece.steps) return;
  const treble = y < (TREBLE_TOP + 8 * HS + BASS_TOP) / 2;
  const d = degreeAt(y, treble);
  // a note already there (of any voice, nearest staff position) is picked
  const candidates = [state.voice, 0, 1, 2, 3].map((v) => noteAt(state.piece, v, t)).filter((n) => n && (n.v < 2) === treble);
  const hit = candidates.find((n) => Math.abs(spell(n.pitch).d - d) <= 1);
  if ($("lock-mode").checked) {
    if (hit) commit((p) => { for (let s = hit.start; s < hit.end; s++) p.locked[hit.v][s] = !hit.locked; });
    return;
  }
  if (hit) { state.drag = { note: hit, d, moved: false }; state.selected = { v: hit.v, start: hit.start }; return; }
  const pitch = pitchOfDegree(d);
  if (pitch < LOW || pitch > HIGH) {
    hint(`${name(pitch)} is outside what the model knows (${name(LOW)} to ${name(HIGH)}): the note was not placed.`, true);
    return;
  }
  const grid = Math.min(state.length, 4);
  const start = Math.floor(t / grid) * grid;
  const end = Math.min(state.piece.steps, start + state.length);
  commit((p) => setNote(p, state.voice, start, end, pitch, "user"));
  state.selected = { v: state.voice, start };
  hint(`${VOICES[state.voice]}: ${name(pitch)} at step ${start + 1}. Press Harmonize when ready.`);
  render();
}

function dragMove(event) {
  if (!state.drag) return;
  const { note } = state.drag;
  const { y } = stepAt(event, $("staff"));
  const d = degreeAt(y, note.v < 2);
  if (d === state.drag.d) return;
  const pitch = pitchOfDegree(d);
  if (pitch < LOW || pitch > HIGH) { hint(`${name(pitch)} is outside the model's range.`, true); return; }
  if (!state.drag.moved) { state.undo.push(copyPiece(state.piece)); state.redo = []; }
  state.drag.moved = true; state.drag.d = d;
  for (let s = note.start; s < note.end; s++) { state.piece.pitch[note.v][s] = pitch; state.piece.origin[note.v][s] = "user"; }
  render();
}

function dragEnd() {
  if (!state.drag) return;
  const { note, moved } = state.drag;
  state.drag = null;
  if (!moved) { commit((p) => setNote(p, note.v, note.start, note.end, -1, null)); state.selected = null; render(); }
}

function keydown(event) {
  if (["INPUT", "SELECT", "TEXTAREA"].includes(document.activeElement.tagName)) return;
  const sel = state.selected;
  const note = sel && noteAt(state.piece, sel.v, sel.start);
  if (!note) return;
  if (event.key === "Delete" || event.key === "Backspace") {
    commit((p) => setNote(p, note.v, note.start, note.end, -1, null)); state.selected = null; render();
  } else if (event.key === "ArrowUp" || event.key === "ArrowDown") {
    const pitch = note.pitch + (event.key === "ArrowUp" ? 1 : -1);
    if (pitch < LOW || pitch > HIGH) { hint(`${name(pitch)} is outside the model's range.`, true); return; }
    commit((p) => { for (let s = note.start; s < note.end; s++) { p.pitch[note.v][s] = pitch; p.origin[note.v][s] = "user"; } });
  } else if (event.key === "ArrowLeft" || event.key === "ArrowRight") {
    const list = notesOf(state.piece, note.v);
    const i = list.findIndex((n) => n.start === note.start) + (event.key === "ArrowRight" ? 1 : -1);
    if (list[i]) { state.selected = { v: note.v, start: list[i].start }; render(); }
  } else return;
  event.preventDefault();
}

// ------------------------------------------------------------------ selecting in the pianoroll

function rollDown(event) {
  const { x, y } = stepAt(event, $("roll"));
  const t = Math.max(0, Math.min(state.piece.steps - 1, Math.floor((x - LEFT) / CELL)));
  if ($("lock-mode").checked) {
    const pitch = HIGH - Math.floor((y - 2) / ROW);
    const v = [0, 1, 2, 3].find((voice) => state.piece.pitch[voice][t] === pitch);
    const note = v !== undefined && noteAt(state.piece, v, t);
    if (note) commit((p) => { for (let s = note.start; s < note.end; s++) p.locked[v][s] = !note.locked; });
    return;
  }
  state.rollDrag = { from: t };
  state.selection = { start: t, end: t + 1 };
  $("roll").setPointerCapture(event.pointerId);
  render();
}

function rollMove(event) {
  if (!state.rollDrag) return;
  const { x } = stepAt(event, $("roll"));
  const t = Math.max(0, Math.min(state.piece.steps - 1, Math.floor((x - LEFT) / CELL)));
  const a = Math.min(state.rollDrag.from, t), b = Math.max(state.rollDrag.from, t) + 1;
  state.selection = { start: a, end: b };
  render();
}

function rollUp() {
  if (!state.rollDrag) return;
  state.rollDrag = null;
  const { start, end } = state.selection;
  hint(`Selected steps ${start + 1}–${end}. Press "Refill selection" to rewrite the ticked voices there.`);
  render();
}

// ------------------------------------------------------------------ talking to the model

function request(piece, known) {
  const chorale = [];
  for (let t = 0; t < piece.steps; t++) chorale.push([0, 1, 2, 3].map((v) => piece.pitch[v][t]));
  return { chorale, mask: known };
}

function knownForHarmonize(piece) {
  return VOICES.map((_, v) => piece.pitch[v].map((p, t) => piece.origin[v][t] === "user" || piece.locked[v][t]));
}

function knownForRefill(piece) {
  const voices = [0, 1, 2, 3].filter((v) => $(`refill-${v}`).checked);
  const { start, end } = state.selection;
  return VOICES.map((_, v) => piece.pitch[v].map((p, t) => !(voices.includes(v) && t >= start && t < end) || piece.locked[v][t]));
}

function applyResult(base, known, chorale) {
  const piece = copyPiece(base);
  for (let v = 0; v < 4; v++) {
    for (let t = 0; t < piece.steps; t++) {
      if (known[v][t]) continue;
      piece.pitch[v][t] = chorale[t][v];
      piece.origin[v][t] = chorale[t][v] === -1 ? null : "model";
      piece.onset[v][t] = false;
    }
    for (let t = 0; t < piece.steps; t++) {
      if (known[v][t]) continue;
      const previous = t ? piece.pitch[v][t - 1] : -1;
      piece.onset[v][t] = piece.pitch[v][t] !== -1 && (previous !== piece.pitch[v][t] || (t > 0 && known[v][t - 1] && piece.onset[v][t]));
    }
  }
  return piece;
}

function setProgress(fraction, text) {
  const bar = $("progress");
  bar.hidden = fraction === null;
  if (fraction !== null) { bar.firstElementChild.style.width = `${Math.round(fraction * 100)}%`; bar.lastElementChild.textContent = text; }
}

async function sample(base, known, seed, count = 1) {
  const body = { ...request(base, known), seed, count, temperature: Number($("temperature").value), avoid_parallels: $("avoid-parallels").checked, stream: count === 1 };
  if (known.every((row) => row.every(Boolean))) { hint("Everything is given: nothing to write. Select a region to refill, or clear some notes.", true); return null; }
  state.busy = true; render();
  setProgress(0, "thinking…");
  try {
    const response = await fetch("/api/infill", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    if (!response.ok) {
      const error = await response.json().catch(() => ({ error: response.statusText }));
      hint(`The server refused: ${error.error}`, true);
      return null;
    }
    if (count > 1) return await response.json();
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "", result = null;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let newline;
      while ((newline = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, newline); buffer = buffer.slice(newline + 1);
        if (!line.trim()) continue;
        const event = JSON.parse(line);
        if (event.error) { hint(`The model could not finish: ${event.error}`, true); return null; }
        if (event.done) { result = event; continue; }
        // show the rewriting as it happens
        state.piece = applyResult(base, known, event.chorales[0]);
        drawStaff(); drawRoll($("roll"), state.piece, CELL, ROW, true);
        setProgress(Math.min(1, (event.iteration + 1) / event.passes), `pass ${event.iteration + 1} of ${event.passes}`);
      }
    }
    return result;
  } catch (error) {
    hint(`Could not reach the server: ${error}`, true);
    return null;
  } finally {
    state.busy = false; setProgress(null); render();
  }
}

async function run(known, label) {
  const base = copyPiece(state.piece);
  const seed = Math.floor(Math.random() * 1e9);
  const result = await sample(base, known, seed);
  if (!result) { state.piece = base; render(); return; }
  state.undo.push(base); state.redo = [];
  state.piece = applyResult(base, known, result.chorales[0]);
  state.last = { base, known, seed, label };
  hint(`${label} done.${result.notices.length ? " " + result.notices.join(" ") : ""} Press Play to listen, Again for another version.`);
  render();
}

async function again() {
  if (!state.last) return;
  const { base, known, label } = state.last;
  const seed = state.last.seed + 1;
  const before = copyPiece(state.piece);
  const result = await sample(base, known, seed);
  if (!result) { state.piece = before; render(); return; }
  state.undo.push(before); state.redo = [];
  state.piece = applyResult(base, known, result.chorales[0]);
  state.last = { base, known, seed, label };
  hint(`${label}: another version.`);
  render();
}

async function alternatives() {
  const base = copyPiece(state.piece);
  const known = knownForHarmonize(base);
  const seed = Math.floor(Math.random() * 1e9);
  const result = await sample(base, known, seed, 3);
  if (!result) return;
  const list = $("choice-list");
  list.replaceChildren();
  result.chorales.forEach((chorale, i) => {
    const option = applyResult(base, known, chorale);
    const button = document.createElement("button");
    button.className = "choice"; button.title = `use harmonization ${i + 1}`;
    const svg = document.createElementNS(SVG, "svg");
    drawRoll(svg, option, 5, 3, false);
    button.append(svg, document.createTextNode(` ${i + 1}`));
    button.addEventListener("click", () => {
      state.undo.push(copyPiece(state.piece)); state.redo = [];
      state.piece = option; state.last = { base, known, seed: seed + i, label: "Harmonize" };
      $("choices").hidden = true; hint(`Harmonization ${i + 1} chosen.`); render();
    });
    list.appendChild(button);
  });
  $("choices").hidden = false;
  hint("Three harmonizations below: click the one you like.");
}

// ------------------------------------------------------------------ sound

let audio = null;
function organWave(context) {
  const real = new Float32Array([0, 1, 0.55, 0.3, 0.22, 0.08, 0.06, 0, 0.04]);
  return context.createPeriodicWave(real, new Float32Array(real.length));
}

function play() {
  if (state.playing) { stop(); return; }
  audio = audio || new (window.AudioContext || window.webkitAudioContext)();
  const wave = organWave(audio);
  const seconds = 60 / Number($("tempo").value) / 4;
  const start = audio.currentTime + 0.08;
  const master = audio.createGain(); master.gain.value = 0.18; master.connect(audio.destination);
  const nodes = [];
  for (let v = 0; v < 4; v++) {
    if (!$(`mute-${v}`).checked) continue;
    for (const note of notesOf(state.piece, v)) {
      const osc = audio.createOscillator(), gain = audio.createGain();
      osc.setPeriodicWave(wave);
      osc.frequency.value = 440 * Math.pow(2, (note.pitch - 69) / 12);
      const on = start + note.start * seconds, off = start + note.end * seconds;
      gain.gain.setValueAtTime(0, on);
      gain.gain.linearRampToValueAtTime(0.8, on + 0.03);
      gain.gain.setValueAtTime(0.8, Math.max(on + 0.03, off - 0.06));
      gain.gain.linearRampToValueAtTime(0, off);
      osc.connect(gain).connect(master);
      osc.start(on); osc.stop(off + 0.05);
      nodes.push(osc);
    }
  }
  state.playing = { nodes, start, seconds, master };
  $("play").textContent = "■ Stop";
  const tick = () => {
    if (!state.playing) return;
    const step = (audio.currentTime - start) / seconds;
    if (step > state.piece.steps) { stop(); return; }
    for (const [id, left] of [["staff-cursor", LEFT - 3], ["roll-cursor", LEFT]]) {
      const cursor = $(id);
      if (!cursor) continue;
      const x = left + Math.max(0, step) * CELL;
      cursor.setAttribute("x1", x); cursor.setAttribute("x2", x); cursor.setAttribute("visibility", "visible");
    }
    state.playing.frame = requestAnimationFrame(tick);
  };
  tick();
}

function stop() {
  if (!state.playing) return;
  for (const node of state.playing.nodes) { try { node.stop(); } catch (e) { /* already stopped */ } }
  state.playing.master.disconnect();
  cancelAnimationFrame(state.playing.frame);
  state.playing = null;
  $("play").textContent = "▶ Play";
  for (const id of ["staff-cursor", "roll-cursor"]) $(id) && $(id).setAttribute("visibility", "hidden");
}

// ------------------------------------------------------------------ files

async function download(kind) {
  const body = request(state.piece, null);
  const onsets = [];
  for (let t = 0; t < state.piece.steps; t++) onsets.push([0, 1, 2, 3].map((v) => state.piece.pitch[v][t] !== -1 && (state.piece.onset[v][t] || t === 0 || state.piece.pitch[v][t - 1] !== state.piece.pitch[v][t])));
  const response = await fetch(`/api/export/${kind}`, { method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ chorale: body.chorale, tempo: Number($("tempo").value), onsets }) });
  if (!response.ok) { hint(`Could not export: ${(await response.json()).error}`, true); return; }
  const blob = await response.blob();
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = kind === "midi" ? "counterpoint.mid" : "counterpoint.musicxml";
  document.body.appendChild(link); link.click(); link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
}

async function open(file) {
  const form = new FormData(); form.append("file", file);
  const response = await fetch("/api/import", { method: "POST", body: form });
  const data = await response.json();
  if (!response.ok) { hint(`Could not open ${file.name}: ${data.error}`, true); return; }
  const steps = data.chorale.length;
  const measures = Math.min(32, Math.max(1, Math.ceil(steps / 16)));
  commit(() => {});
  state.measures = measures; $("measures").value = String(Math.min(measures, 16));
  const piece = emptyPiece(measures * 16);
  data.chorale.forEach((row, t) => row.forEach((p, v) => {
    if (p === -1) return;
    piece.pitch[v][t] = p; piece.origin[v][t] = "user";
    piece.onset[v][t] = t === 0 || data.chorale[t - 1][v] !== p;
  }));
  state.piece = piece; state.selection = null; render();
  hint(`Opened ${file.name} (${steps} steps). Its notes are yours: select a region to refill, or clear voices and harmonize.`);
}

// ------------------------------------------------------------------ set-up

function loadPreset(nameKey) {
  const preset = PRESETS[nameKey];
  if (!preset) return;
  commit(() => {});
  state.measures = preset.measures; $("measures").value = String(preset.measures);
  state.key = 0; $("key").value = "0";
  const piece = emptyPiece(preset.measures * 16);
  let t = 0;
  for (const [pitch, length] of preset.notes) { setNote(piece, 0, t, t + length, pitch, "user"); t += length; }
  state.piece = piece; state.selection = null; state.last = null;
  hint("Melody loaded in the soprano. Press Harmonize.");
  render();
}

function radioGroup(container, items, current, onChoose) {
  container.replaceChildren();
  for (const [value, label, symbol] of items) {
    const button = document.createElement("button");
    button.type = "button"; button.textContent = symbol ? `${symbol} ${label}` : label;
    button.setAttribute("aria-pressed", String(value === current)); button.dataset.value = value;
    button.addEventListener("click", () => {
      for (const other of container.children) other.setAttribute("aria-pressed", "false");
      button.setAttribute("aria-pressed", "true"); onChoose(value);
    });
    container.appendChild(button);
  }
}

function voiceChecks(container, prefix, checked) {
  VOICES.forEach((voice, v) => {
    const label = document.createElement("label");
    label.className = `voice-chip ${voice[0]}`;
    const box = document.createElement("input");
    box.type = "checkbox"; box.id = `${prefix}-${v}`; box.checked = checked(v);
    label.append(box, document.createTextNode(voice));
    container.appendChild(label);
  });
}

function setup() {
  for (let m = 1; m <= 16; m++) $("measures").append(new Option(String(m), String(m), m === 2, m === 2));
  for (const [k, label] of KEYS) $("key").append(new Option(label, String(k)));
  radioGroup($("lengths"), LENGTHS, state.length, (v) => { state.length = v; });
  radioGroup($("edit-voice"), VOICES.map((v, i) => [i, v]), state.voice, (v) => { state.voice = v; });
  voiceChecks($("mutes"), "mute", () => true);
  voiceChecks($("refill-voices"), "refill", (v) => v > 0);
  state.piece = emptyPiece(state.measures * 16);

  $("measures").addEventListener("change", (e) => { commit(() => {}); state.measures = Number(e.target.value); state.piece = resize(state.piece, state.measures * 16); state.selection = null; render(); });
  $("key").addEventListener("change", (e) => { state.key = Number(e.target.value); render(); });
  $("preset").addEventListener("change", (e) => loadPreset(e.target.value));
  $("harmonize").addEventListener("click", () => run(knownForHarmonize(state.piece), "Harmonize"));
  $("refill").addEventListener("click", () => run(knownForRefill(state.piece), "Refill"));
  $("again").addEventListener("click", again);
  $("alternatives").addEventListener("click", alternatives);
  $("undo").addEventListener("click", () => { if (state.undo.length) { state.redo.push(copyPiece(state.piece)); state.piece = state.undo.pop(); render(); } });
  $("redo").addEventListener("click", () => { if (state.redo.length) { state.undo.push(copyPiece(state.piece)); state.piece = state.redo.pop(); render(); } });
  $("clear").addEventListener("click", () => { commit(() => {}); state.piece = emptyPiece(state.measures * 16); state.selection = null; state.last = null; render(); });
  $("play").addEventListener("click", play);
  $("download-midi").addEventListener("click", () => download("midi"));
  $("download-xml").addEventListener("click", () => download("musicxml"));
  $("open").addEventListener("change", (e) => { if (e.target.files[0]) open(e.target.files[0]); e.target.value = ""; });
  const staff = $("staff");
  staff.addEventListener("pointerdown", (e) => { staff.setPointerCapture(e.pointerId); placeOrPick(e); });
  staff.addEventListener("pointermove", dragMove);
  staff.addEventListener("pointerup", dragEnd);
  const roll = $("roll");
  roll.addEventListener("pointerdown", rollDown);
  roll.addEventListener("pointermove", rollMove);
  roll.addEventListener("pointerup", rollUp);
  document.addEventListener("keydown", keydown);
  render();
}

setup();
