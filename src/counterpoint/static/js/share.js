// A piece in a link: everything the page needs to open the same piece (notes with their
// onsets, who wrote each, metre, upbeat, key, tempo) packed into the URL's fragment, so sharing
// needs no storage on any server, as the Bach Doodle's shared pieces did.

import { KEYS, METRES, VOICES, emptyPiece, runsOf, setNote, stepsPerBar, validPickup } from "./music.js";

const VERSION = 1;

function toBase64Url(text) {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64Url(text) {
  const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  return new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
}

/** The fragment ("#piece=...") for a piece and its settings. */
export function pieceToFragment(piece, { measures, metre, pickup, key, tempo }) {
  const voices = VOICES.map((_, v) => runsOf(piece, v)
    .filter((run) => run.origin !== null)
    .map((run) => [run.start, run.end - run.start, run.pitch, run.origin === "user" ? 1 : 0]));
  return "#piece=" + toBase64Url(JSON.stringify({ v: VERSION, measures, metre, pickup, key, tempo, voices }));
}

/** The piece a fragment holds: {piece, measures, metre, pickup, key, tempo}; throws when it is
 * not one (a link from before upbeats has none: pickup 0). */
export function fragmentToPiece(fragment) {
  const data = JSON.parse(fromBase64Url(fragment.replace(/^#?piece=/, "")));
  const measures = Number(data.measures);
  if (data.v !== VERSION || !(data.metre in METRES) || !KEYS.some(([k]) => k === data.key) ||
      !Number.isInteger(measures) || measures < 1 || measures > 32 || !Array.isArray(data.voices) || data.voices.length !== 4) {
    throw new Error("not a piece");
  }
  const piece = emptyPiece(measures * stepsPerBar(data.metre));
  data.voices.forEach((runs, v) => runs.forEach(([start, length, pitch, mine]) => {
    if (!Number.isInteger(start) || !Number.isInteger(length) || !Number.isInteger(pitch) || pitch < -1 || pitch > 127) throw new Error("not a note");
    setNote(piece, v, start, start + length, pitch, mine ? "user" : "model");
  }));
  const tempo = Math.min(240, Math.max(30, Number(data.tempo) || 80));
  return { piece, measures, metre: data.metre, pickup: validPickup(data.pickup ?? 0, data.metre), key: data.key, tempo };
}
