// Sound: the piece on an organ-like Web Audio voice, with a callback for the cursor.

import { notesOf } from "./music.js";

let audio = null;

function organWave(context) {
  const real = new Float32Array([0, 1, 0.55, 0.3, 0.22, 0.08, 0.06, 0, 0.04]);
  return context.createPeriodicWave(real, new Float32Array(real.length));
}

/** Play the voices heard; onStep(step) on every frame, onEnd() at the end. Returns {stop}. */
export function play(piece, { tempo, heard, onStep, onEnd }) {
  audio = audio || new (window.AudioContext || window.webkitAudioContext)();
  const wave = organWave(audio);
  const seconds = 60 / tempo / 4;  // a 16th step
  const start = audio.currentTime + 0.08;
  const master = audio.createGain();
  master.gain.value = 0.18;
  master.connect(audio.destination);
  const nodes = [];
  for (let v = 0; v < 4; v++) {
    if (!heard[v]) continue;
    for (const note of notesOf(piece, v)) {
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
  let frame = null, stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    for (const node of nodes) { try { node.stop(); } catch { /* already stopped */ } }
    master.disconnect();
    cancelAnimationFrame(frame);
    onEnd();
  };
  const tick = () => {
    if (stopped) return;
    const step = (audio.currentTime - start) / seconds;
    if (step > piece.steps) { stop(); return; }
    onStep(Math.max(0, step));
    frame = requestAnimationFrame(tick);
  };
  tick();
  return { stop };
}
