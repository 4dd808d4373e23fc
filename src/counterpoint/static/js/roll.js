// The pianoroll: every voice as bars of colour on a pitch grid, for selecting a region to
// refill (full size) and for the alternatives' small previews.

import { RANGES, notesOf } from "./music.js";

export const ROLL = { cell: 14, row: 6, left: 40 };  // px per 16th step, px per semitone, label margin
const SVG_NS = "http://www.w3.org/2000/svg";
const NAMES = ["C", "C♯", "D", "E♭", "E", "F", "F♯", "G", "A♭", "A", "B♭", "B"];

function el(tag, attrs, parent, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  parent.appendChild(node);
  return node;
}

/** Draw piece into svg; labelled (the big one) shows C names, beats and the selection. Bars
 * are barSteps long, the first lead steps before step 0 (music.js leadOf: an upbeat). */
export function drawRoll(svg, piece, { cell, row, labelled, selection = null, barSteps = 16, lead = 0 }) {
  const [low, high] = RANGES.model;
  const left = labelled ? ROLL.left : 2;
  const height = (high - low + 1) * row + 4;
  svg.setAttribute("width", left + piece.steps * cell + 6);
  svg.setAttribute("height", height);
  svg.replaceChildren();
  for (let p = low; p <= high; p++) {
    const y = (high - p) * row + 2;
    if ([1, 3, 6, 8, 10].includes(p % 12)) el("rect", { x: left, y, width: piece.steps * cell, height: row, fill: "#f3f0e8" }, svg);
    if (labelled && p % 12 === 0) el("text", { x: left - 6, y: y + row, "font-size": 10, fill: "#666", "text-anchor": "end" }, svg, NAMES[0] + (p / 12 - 1));
  }
  for (let t = 0; t <= piece.steps; t++) {
    const barline = (t + lead) % barSteps === 0 || t === 0 || t === piece.steps;
    if (barline || (labelled && (t + lead) % 4 === 0)) {
      el("line", { x1: left + t * cell, x2: left + t * cell, y1: 0, y2: height, stroke: barline ? "#b9b2a3" : "#e6e0d2" }, svg);
    }
  }
  for (let v = 3; v >= 0; v--) {
    for (const note of notesOf(piece, v)) {
      if (note.pitch < low || note.pitch > high) continue;
      el("rect", {
        x: left + note.start * cell + 0.5, y: (high - note.pitch) * row + 2, width: (note.end - note.start) * cell - 1, height: row,
        rx: 1.5, fill: `var(--${["soprano", "alto", "tenor", "bass"][v]})`, opacity: note.origin === "model" ? 0.75 : 1,
        stroke: note.locked ? "#111" : "none", class: "roll-note", "data-voice": v,
      }, svg);
    }
  }
  if (selection) {
    el("rect", { id: "selection", x: left + selection.start * cell, y: 0, width: (selection.end - selection.start) * cell, height,
      fill: "rgba(107,63,160,0.15)", stroke: "var(--accent)" }, svg);
  }
  if (labelled) el("line", { id: "roll-cursor", x1: 0, x2: 0, y1: 0, y2: height, stroke: "var(--accent)", "stroke-width": 2, visibility: "hidden" }, svg);
}

/** The step under a pointer's x in the big roll. */
export function rollStepAt(svg, clientX, steps) {
  const box = svg.getBoundingClientRect();
  return Math.max(0, Math.min(steps - 1, Math.floor((clientX - box.left - ROLL.left) / ROLL.cell)));
}

export function rollPitchAt(svg, clientY) {
  const box = svg.getBoundingClientRect();
  return RANGES.model[1] - Math.floor((clientY - box.top - 2) / ROLL.row);
}
