// The grand staff, engraved by VexFlow (vendor/vexflow, loaded as the global VexFlow): a
// brace, clefs, key and time signatures, two voices a staff (soprano and tenor stems up, alto
// and bass down), notes written as a musician writes them (ties over barlines and beats,
// beams within a beat, dots, rests), accidentals by the key and the bar, an upbeat as a short
// first bar (view.pickup: 16ths before the first full bar). Notes stand on a
// grid of 16th steps (wider where accidentals need room), so a tap maps to a step and a
// staff position. engrave() draws and returns that geometry for editing and the cursor.

import {
  VOICES, accidentalsInBar, barStart, durationOf, keyName, leadOf, runsOf, spell, stepsPerBar, writtenPieces, METRES,
} from "./music.js";

// the voices' colours, set as CSS variables too (setColours) so the page's chips match
export const COLOURS = ["#c0392b", "#a86a00", "#1e8754", "#2a5db0"];
export function setColours(root) { VOICES.forEach((v, i) => root.style.setProperty(`--${v}`, COLOURS[i])); }

export const ZOOM = 1.6;          // 10 px staff spaces drawn 16 px apart: 8 px between positions
const CELL = 15;                  // px (unzoomed) per 16th step
const ACCIDENTAL = 10;            // extra px before a step per accidental column there
const FLAG = 8;                   // extra px after a flagged note
const BAR_LEFT = 12, BAR_RIGHT = 10;
const X0 = 22;                    // where the staves begin (the brace is left of it)
const TREBLE_Y = 20, BASS_Y = 130, HEIGHT = 280;  // room for C2 with its stem down
const TOP_DEGREE = [38, 26];      // the top line of each staff: F5 (treble), A3 (bass)
const STEM = [1, -1, 1, -1];      // up, down, up, down
const STAFF_OF_VOICE = [0, 0, 1, 1];
// where each voice's rests sit when it shares its staff (upper voice high, lower voice low)
const REST_KEY = [["d/5", "g/4"], ["f/3", "b/2"]];
const MIDDLE_KEY = ["b/4", "d/3"];
// a whole rest hangs from the line above the one a half rest sits on
const WHOLE_REST_KEY = [["f/5", "b/4"], ["a/3", "d/3"]];
const MIDDLE_WHOLE_KEY = ["d/5", "f/3"];
function restKey(staff, v, shared, whole) {
  if (whole) return shared ? WHOLE_REST_KEY[staff][v % 2] : MIDDLE_WHOLE_KEY[staff];
  return shared ? REST_KEY[staff][v % 2] : MIDDLE_KEY[staff];
}
const LETTERS = "cdefgab";
const STAVE_PADDING = 12;         // VexFlow's Metrics "Stave.padding" (not exported by the bundle)

function vexKey(spelled) { return `${LETTERS[spelled.letter]}/${spelled.octave}`; }

/** Which voices are drawn: those with any note or rest the user or model wrote. */
function shownVoices(piece) {
  return VOICES.map((_, v) => piece.pitch[v].some((p, t) => p !== -1 || piece.origin[v][t] !== null));
}

/** Every written piece of every voice: [{v, run, start, length, first, last, spelled}]. */
function writtenNotes(piece, view) {
  const result = VOICES.map(() => []);
  for (let v = 0; v < 4; v++) {
    for (const run of runsOf(piece, v)) {
      const spelled = run.pitch === -1 ? null : (view.spelling?.(v, run.start) ?? spell(run.pitch, view.key));
      const pieces = writtenPieces(run.start, run.end, view.metre, view.pickup ?? 0);
      pieces.forEach((p, i) => result[v].push({ v, run, start: p.start, length: p.length, first: i === 0, last: i === pieces.length - 1, spelled }));
    }
  }
  return result;
}

/** The bars of a piece, as [{start, end}] steps: the first is short when there is an upbeat,
 * and so is the last when the piece ends before its bar does. */
function barsOf(steps, metre, pickup) {
  const bars = [];
  for (let b = 0; barStart(b, metre, pickup) < steps; b++) {
    bars.push({ start: barStart(b, metre, pickup), end: Math.min(steps, barStart(b + 1, metre, pickup)) });
  }
  return bars;
}

const within = (w, bar) => w.start >= bar.start && w.start < bar.end;

/** Accidentals shown, per written note, by staff and bar. */
function markAccidentals(written, bars, key) {
  for (const staff of [0, 1]) {
    for (const bar of bars) {
      const events = [0, 1].flatMap((i) => written[2 * staff + i])
        .filter((w) => w.spelled && within(w, bar))
        .sort((a, b) => a.start - b.start);
      const shown = accidentalsInBar(events.map((w) => ({ ...w.spelled, tied: !w.first })), key);
      events.forEach((w, i) => { w.accidental = shown[i]; });
    }
  }
}

/** Column offsets of each step inside its bar (more room where accidentals stand); bars
 * start every barSteps steps, lead steps before step 0. */
function columns(written, steps, barSteps, lead) {
  const extra = new Array(steps).fill(0);
  for (const staff of [0, 1]) {
    const count = new Array(steps).fill(0);
    for (const w of [0, 1].flatMap((i) => written[2 * staff + i])) if (w.accidental) count[w.start] += 1;
    count.forEach((c, t) => { extra[t] = Math.max(extra[t], c * ACCIDENTAL); });
  }
  // a flag (an 8th or 16th with no neighbour in its beat to beam to) needs room on its right
  for (const voice of written) {
    voice.forEach((w, i) => {
      if (!w.spelled || w.length >= 4) return;
      const beat = (p) => Math.floor((p.start + lead) / 4);
      const beamable = (p) => p && p.spelled && p.length < 4 && beat(p) === beat(w);
      const after = w.start + w.length;
      if (!beamable(voice[i - 1]) && !beamable(voice[i + 1]) && after < steps && (after + lead) % barSteps !== 0) {
        extra[after] = Math.max(extra[after], FLAG);
      }
    });
  }
  const x = new Array(steps);
  for (let t = 0; t < steps; t++) x[t] = (t === 0 || (t + lead) % barSteps === 0 ? 0 : x[t - 1] + CELL) + extra[t];
  return { x, extra };
}

function makeNote(VF, w, shared, clef) {
  const { duration, dots } = durationOf(w.length);
  const v = w.v, staff = STAFF_OF_VOICE[v];
  let note;
  if (!w.spelled) {
    note = new VF.StaveNote({ keys: [restKey(staff, v, shared, duration === "w")], duration: duration + "r", dots, clef });
  } else {
    note = new VF.StaveNote({ keys: [vexKey(w.spelled)], duration, dots, clef, stemDirection: STEM[v], autoStem: !shared });
    if (w.accidental) note.addModifier(new VF.Accidental(w.accidental), 0);
  }
  if (dots) VF.Dot.buildAndAttach([note], { all: true });
  const colour = COLOURS[v];
  note.setStyle({ fillStyle: colour, strokeStyle: colour });
  note.setLedgerLineStyle({ strokeStyle: "#555", fillStyle: "#555" });
  w.note = note;
  return note;
}

/**
 * Draw the piece into container (a <div>); view: {key, metre, pickup? (16ths before the first
 * full bar), spelling?(v, start), selected: {v, start}|null, cursor: {t, staff, d}|null, zoom?,
 * preview? (a small copy: no marks for editing, no ids)}. Returns the geometry for editing.
 */
export function engrave(container, piece, view) {
  const VF = window.VexFlow;
  const barSteps = stepsPerBar(view.metre), lead = leadOf(view.metre, view.pickup ?? 0);
  const spans = barsOf(piece.steps, view.metre, view.pickup ?? 0), bars = spans.length;
  const shown = shownVoices(piece);
  const written = writtenNotes(piece, view);
  markAccidentals(written, spans, view.key);
  const cols = columns(written, piece.steps, barSteps, lead);

  container.replaceChildren();
  const renderer = new VF.Renderer(container, VF.Renderer.Backends.SVG);
  // the first bar's clefs, key and time: measured on a scratch stave
  const probe = (clef) => new VF.Stave(X0, 0, 400).addClef(clef).addKeySignature(keyName(view.key)).addTimeSignature(view.metre);
  const prefix = Math.max(probe("treble").getNoteStartX(), probe("bass").getNoteStartX()) - X0;

  const barX = [], barWidth = [];
  let x = X0;
  for (let bar = 0; bar < bars; bar++) {
    const width = (bar === 0 ? prefix : 0) + BAR_LEFT + cols.x[spans[bar].end - 1] + CELL + BAR_RIGHT;
    barX.push(x); barWidth.push(width); x += width;
  }
  const totalWidth = x + 12;
  const zoom = view.zoom ?? ZOOM;
  renderer.resize(Math.ceil(totalWidth * zoom), Math.ceil(HEIGHT * zoom));
  const ctx = renderer.getContext();
  ctx.scale(zoom, zoom);
  const svg = container.querySelector("svg");

  // the staves, bar by bar; notes start at the same x on both staves
  const staves = [];
  for (let bar = 0; bar < bars; bar++) {
    const pair = [[TREBLE_Y, "treble"], [BASS_Y, "bass"]].map(([y, clef]) => {
      const stave = new VF.Stave(barX[bar], y, barWidth[bar]);
      if (bar === 0) stave.addClef(clef).addKeySignature(keyName(view.key)).addTimeSignature(view.metre);
      if (bar === bars - 1) stave.setEndBarType(VF.Barline.type.END);
      stave.setContext(ctx);
      return stave;
    });
    const start = barX[bar] + (bar === 0 ? prefix : 0) + BAR_LEFT - STAVE_PADDING;
    for (const stave of pair) { stave.format(); stave.setNoteStartX(start); }
    staves.push(pair);
  }

  // notes, beams and voices, bar by bar
  const beams = [];
  for (let bar = 0; bar < bars; bar++) {
    const voices = [], byStaff = [[], []];
    for (let v = 0; v < 4; v++) {
      if (!shown[v]) continue;
      const staff = STAFF_OF_VOICE[v], shared = shown[v ^ 1];
      const inBar = written[v].filter((w) => within(w, spans[bar]));
      // a rest both voices of a staff share is written once, in the middle (VexFlow hides the lower one)
      const partnerRests = new Set(written[v ^ 1].filter((w) => !w.spelled).map((w) => `${w.start}:${w.length}`));
      const notes = inBar.map((w) => makeNote(VF, w, shared && !(!w.spelled && partnerRests.has(`${w.start}:${w.length}`)), staff ? "bass" : "treble"));
      // a rest through the whole bar: one whole rest in its middle, whatever the metre
      if (inBar.length === 1 && !inBar[0].spelled && inBar[0].length === barSteps && barSteps !== 16) {
        const rest = new VF.StaveNote({ keys: [restKey(staff, v, shared, true)], duration: "wr",
          clef: staff ? "bass" : "treble", alignCenter: true, durationOverride: new VF.Fraction(METRES[view.metre], 4) });
        rest.setStyle({ fillStyle: COLOURS[v], strokeStyle: COLOURS[v] });
        inBar[0].note = rest; notes[0] = rest;
      }
      const voice = new VF.Voice({ numBeats: METRES[view.metre], beatValue: 4 }).setMode(VF.Voice.Mode.SOFT);
      voice.addTickables(notes);
      const config = { groups: [new VF.Fraction(1, 4)] };
      if (shared) config.stemDirection = STEM[v];
      for (const beam of VF.Beam.generateBeams(notes.filter((n) => !n.isRest()), config)) {
        beam.setStyle({ fillStyle: COLOURS[v], strokeStyle: COLOURS[v] });
        beams.push(beam);
      }
      voices.push([voice, staff]); byStaff[staff].push(voice);
    }
    if (!voices.length) continue;
    const formatter = new VF.Formatter();
    for (const group of byStaff) if (group.length) formatter.joinVoices(group);
    formatter.format(voices.map(([voice]) => voice), 100);
    // put each tick context on the grid (ticks of a 16th: RESOLUTION / 16)
    const contexts = formatter.getTickContexts();
    const sixteenth = VF.RESOLUTION / 16;
    for (const tick of contexts.list) {
      const step = spans[bar].start + Math.round(tick / sixteenth);
      contexts.map[tick].setX(cols.x[step]);
    }
    for (const [voice, staff] of voices) voice.draw(ctx, staves[bar][staff]);
  }
  for (const pair of staves) for (const stave of pair) stave.draw();
  // staves are drawn after the notes' groups: move the stave groups to the back
  for (const group of [...svg.querySelectorAll(".vf-stave")]) svg.insertBefore(group, svg.firstChild);
  for (const beam of beams) beam.setContext(ctx).drawWithStyle();
  new VF.StaveConnector(staves[0][0], staves[0][1]).setType("brace").setContext(ctx).draw();
  new VF.StaveConnector(staves[0][0], staves[0][1]).setType("singleLeft").setContext(ctx).draw();
  staves.forEach((pair, bar) => {
    const type = bar === bars - 1 ? "boldDoubleRight" : "singleRight";
    new VF.StaveConnector(pair[0], pair[1]).setType(type).setContext(ctx).draw();
  });
  // ties: a note written as several pieces
  for (let v = 0; v < 4; v++) {
    const list = written[v];
    for (let i = 0; i + 1 < list.length; i++) {
      const [a, b] = [list[i], list[i + 1]];
      if (!a.spelled || a.last || !a.note || !b.note) continue;
      const tie = new VF.StaveTie({ firstNote: a.note, lastNote: b.note, firstIndexes: [0], lastIndexes: [0] });
      tie.setStyle({ fillStyle: COLOURS[v], strokeStyle: COLOURS[v] });
      if (shown[v ^ 1]) tie.setDirection(v % 2 === 0 ? -1 : 1);  // away from the other voice of the staff
      tie.setContext(ctx).drawWithStyle();
    }
  }

  const geometry = makeGeometry(staves, cols, barSteps, lead, piece.steps, svg);
  geometry.heads = [];
  for (let v = 0; v < 4; v++) {
    for (const w of written[v]) {
      if (!w.note) continue;
      const element = view.preview ? null : w.note.getSVGElement();
      const head = headBox(w.note);
      if (element) {
        element.classList.add(w.spelled ? "note" : "rest");
        if (w.spelled && !w.first) element.classList.add("tied");
        element.setAttribute("data-voice", v);
        element.setAttribute("data-start", w.run.start);
        element.setAttribute("data-piece", w.start);
        if (w.spelled) element.setAttribute("data-pitch", w.run.pitch);
        element.setAttribute("data-origin", w.run.origin || "");
      }
      geometry.heads.push({ v, run: w.run, start: w.start, rest: !w.spelled, first: w.first, ...head });
    }
  }
  decorate(svg, geometry, view, piece);
  return geometry;
}

function headBox(note) {
  const x1 = note.getNoteHeadBeginX(), x2 = note.getNoteHeadEndX();
  const ys = note.getYs();
  return { x1, x2, y: ys[0] };
}

function makeGeometry(staves, cols, barSteps, lead, steps, svg) {
  const line0 = [staves[0][0].getYForLine(0), staves[0][1].getYForLine(0)];
  const half = staves[0][0].getSpacingBetweenLines() / 2;
  const padding = STAVE_PADDING;
  const stepX = (t) => {  // the x of a notehead's left edge at step t (t may be fractional)
    const whole = Math.min(steps - 1, Math.max(0, Math.floor(t)));
    const bar = Math.floor((whole + lead) / barSteps);
    const base = staves[bar][0].getNoteStartX() + padding;
    const next = (whole + 1 + lead) % barSteps !== 0 && whole + 1 < steps ? cols.x[whole + 1] : cols.x[whole] + CELL;
    return base + cols.x[whole] + (t - whole) * (next - cols.x[whole]);
  };
  return {
    svg, steps, line0, half,
    stepX,
    barEnd: (bar) => staves[bar][0].getX() + staves[bar][0].getWidth(),
    /** the step under x (svg units), or null outside the notes' area */
    stepAt(x) {
      let best = null;
      for (let t = 0; t < steps; t++) {
        const left = stepX(t) - (cols.extra[t] + CELL) / 2 + 4;
        if (x >= left) best = t; else break;
      }
      return best;
    },
    /** the staff (0 treble, 1 bass) and staff position under y */
    positionAt(y) {
      const staff = y < (line0[0] + 8 * half + line0[1]) / 2 ? 0 : 1;
      return { staff, d: Math.round(TOP_DEGREE[staff] - (y - line0[staff]) / half) };
    },
    yOf(staff, d) { return line0[staff] + (TOP_DEGREE[staff] - d) * half; },
    /** screen point (clientX/Y) to svg units */
    toSvg(clientX, clientY) {
      const point = svg.createSVGPoint(); point.x = clientX; point.y = clientY;
      const local = point.matrixTransform(svg.getScreenCTM().inverse());
      return { x: local.x, y: local.y };
    },
  };
}

const SVG_NS = "http://www.w3.org/2000/svg";
function shape(tag, attrs, parent, before = null) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  parent.insertBefore(node, before);
  return node;
}

/** Marks VexFlow does not draw: the user's notes (a highlighter behind the head), locked
 * notes, the selected note, the keyboard cursor and the playback line. */
function decorate(svg, geometry, view, piece) {
  const back = shape("g", { class: "marks-back" }, svg, svg.firstChild);
  const front = shape("g", { class: "marks-front" }, svg);
  for (const head of geometry.heads) {
    if (head.rest && head.run.origin !== "user") continue;
    const { x1, x2, y } = head;
    if (head.run.origin === "user") {
      shape("rect", { class: "mine", x: x1 - 3, y: y - 7, width: x2 - x1 + 6, height: 14, rx: 6 }, back);
    }
    if (!head.rest && piece.locked[head.v][head.run.start]) {
      shape("rect", { class: "locked", x: x1 - 4, y: y - 8, width: x2 - x1 + 8, height: 16, rx: 3 }, front);
    }
    const selected = view.selected;
    if (selected && selected.v === head.v && selected.start === head.run.start && head.first) {
      shape("ellipse", { class: "selected", cx: (x1 + x2) / 2, cy: y, rx: (x2 - x1) / 2 + 6, ry: 10 }, front);
    }
  }
  if (view.cursor) {
    const { t, staff, d } = view.cursor;
    const x = geometry.stepX(t), y = geometry.yOf(staff, d);
    shape("rect", { class: "cursor-column", x: x - 4, y: geometry.line0[staff] - 30, width: 19, height: 100 }, back);
    shape("ellipse", { class: "cursor", cx: x + 5.5, cy: y, rx: 6.5, ry: 5 }, front);
  }
  if (view.preview) return;
  shape("line", { id: "staff-cursor", x1: 0, x2: 0, y1: 10, y2: HEIGHT - 10, visibility: "hidden" }, front);
}
