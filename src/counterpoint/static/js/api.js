// Talking to this server: the streamed sampler (/api/infill), export, import and health,
// with every failure turned into a sentence for a person (never a path or "TypeError").
// Sampling may run on this device instead (issue #42): static/local/page.js decides.

export class Cancelled extends Error {}

/** A message from the server or the browser, fit to show: no file paths, no type names. */
export function sentence(message, fileName = "the file") {
  return String(message)
    .replace(/\b[A-Z]\w*(Error|Exception): /g, "")
    .replace(/(?<![\w.])(?:[A-Za-z]:)?(?:[\\/][\w.@~-]+)+[\\/]?/g, fileName)
    .replace(/\s*\(\)/g, "")
    .trim();
}

const UNREACHABLE = "The server is not answering. Check that `counterpoint serve` is still running, then try again.";
function unreachable() { const error = new Error(UNREACHABLE); error.unreachable = true; return error; }

async function send(url, init, fileName) {
  let response;
  try {
    response = await fetch(url, init);
  } catch (error) {
    if (error.name === "AbortError") throw new Cancelled();
    throw unreachable();
  }
  if (!response.ok) {
    const body = await response.json().catch(() => null);
    const reason = body?.error ?? body?.detail ?? `it answered ${response.status} ${response.statusText}`;
    const error = new Error(sentence(typeof reason === "string" ? reason : JSON.stringify(reason), fileName));
    error.status = response.status;  // 502/503/504: local sampling takes over
    throw error;
  }
  return response;
}

export async function health() {
  return (await send("/api/health", {})).json();
}

// local/page.js loads and times the browser model at once; without it the server samples
const local = import("../local/page.js").then((page) => { page.install(); return page; })
  .catch((error) => { console.warn("no local sampling:", error); return null; });

/**
 * Sample: body as /api/infill takes it. Streams progress ({iteration, passes, chorales}) to
 * onProgress and resolves with the final {chorales, notices}. Rejects with Cancelled when
 * signal aborts (the server then stops sampling for nobody), or an Error with a sentence.
 * On this device or on the server, as local/page.js's route() decides.
 */
export async function infill(body, options) {
  const page = await local;
  return page ? page.route(body, options, serverInfill) : serverInfill(body, options);
}

async function serverInfill(body, { signal, onProgress }) {
  const response = await send("/api/infill", {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ ...body, stream: true }), signal,
  });
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let newline;
      while ((newline = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, newline); buffer = buffer.slice(newline + 1);
        if (!line.trim()) continue;
        const event = JSON.parse(line);
        if (event.error) throw new Error(`The model could not finish: ${sentence(event.error)}.`);
        if (event.done) return event;
        onProgress(event);
      }
    }
  } catch (error) {
    if (error.name === "AbortError") throw new Cancelled();
    if (error instanceof TypeError) throw unreachable();
    throw error;
  }
  throw new Error("The server stopped before the model finished. Try again.");
}

export async function exportFile(kind, body) {
  const response = await send(`/api/export/${kind}`, {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body),
  });
  return response.blob();
}

export async function importFile(file) {
  const form = new FormData();
  form.append("file", file);
  return (await send("/api/import", { method: "POST", body: form }, file.name)).json();
}
