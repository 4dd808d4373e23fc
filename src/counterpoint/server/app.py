"""The app factory: :func:`create_app` builds the FastAPI app (its routes, error handlers and
the page) around one model and one :class:`~counterpoint.server.batcher.Batcher`;
:func:`app_factory` builds it from the environment, for ``counterpoint serve`` and gunicorn."""

from __future__ import annotations

import asyncio
import io
import json
import queue
import tempfile
import threading
import time
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import torch
from fastapi import FastAPI, File, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles

from counterpoint.data import masks
from counterpoint.errors import CounterpointError
from counterpoint.limits import MAX_BODY_BYTES, MAX_REQUEST_STEPS
from counterpoint.model.network import Coconet
from counterpoint.model.registry import load_model
from counterpoint.music.representation import NUM_VOICES, SILENCE, STEPS_PER_MEASURE, VOICES, parse_voices
from counterpoint.music.rules import VOICE_RANGES
from counterpoint.sampling.schedule import planned_passes
from counterpoint.server.batcher import Batcher, _Abandoned, _Job
from counterpoint.server.schemas import (
    ComposeRequest,
    ExportRequest,
    HarmonizeRequest,
    InfillRequest,
    SamplerOptions,
)
from counterpoint.server.settings import ServerSettings
from counterpoint.tasks import fill_many

STATIC = Path(__file__).parents[1] / "static"


# --------------------------------------------------------------------------- request bodies


# --------------------------------------------------------------------------- dynamic batching


# --------------------------------------------------------------------------- the app


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _chorale_array(rows: list[list[int]]) -> np.ndarray:
    return np.asarray(rows, dtype=np.int64).reshape(-1, NUM_VOICES)


def create_app(settings: ServerSettings | None = None, model: Coconet | None = None) -> FastAPI:
    """The FastAPI app; the model is loaded now, once for this worker."""
    settings = settings or ServerSettings.from_env()
    model = model or load_model(settings.checkpoint)
    batcher = Batcher(model, settings)
    app = FastAPI(
        title="counterpoint",
        description="Coconet for four-voice Bach chorales: harmonize, infill, compose.",
        version="0.1.0",
        docs_url=None,  # served below from the swagger-ui-bundle package: no CDN
        redoc_url=None,
    )
    app.state.batcher = batcher

    @app.middleware("http")
    async def limit_body(request: Request, call_next):
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            return _error(413, f"request body larger than {MAX_BODY_BYTES} bytes")
        if request.method == "POST" and length is None:
            body = await request.body()
            if len(body) > MAX_BODY_BYTES:
                return _error(413, f"request body larger than {MAX_BODY_BYTES} bytes")
        return await call_next(request)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        problems = []
        for item in error.errors()[:5]:
            where = ".".join(str(part) for part in item.get("loc", ()) if part != "body")
            problems.append(f"{where}: {item.get('msg', 'invalid')}" if where else item.get("msg", "invalid"))
        return _error(422, "; ".join(problems) or "invalid request")

    @app.exception_handler(CounterpointError)
    async def user_error(request: Request, error: CounterpointError) -> JSONResponse:
        return _error(422, str(error))

    @app.exception_handler(ValueError)
    async def value_error(request: Request, error: ValueError) -> JSONResponse:
        return _error(422, str(error))

    @app.get("/api/health")
    async def health() -> dict:
        return {
            "status": "ok",
            "model": model.config.to_dict(),
            "pitch_range": [model.pitch_range.low, model.pitch_range.high],
            "voices": list(VOICES),
            "voice_ranges": [list(r) for r in VOICE_RANGES],
            "max_steps": MAX_REQUEST_STEPS,
            "batches": batcher.batches,
            "jobs": batcher.jobs,
            "abandoned": batcher.abandoned,
        }

    async def run(options: SamplerOptions, chorale: np.ndarray, known: np.ndarray):
        known = masks.check_writable(known)
        seeds = [options.seed + k for k in range(options.count)]
        job = _Job([chorale] * options.count, [known] * options.count, seeds, options.sampler_config())
        if options.stream:
            return _stream(job)
        try:
            results = await asyncio.wait_for(batcher.submit(job), settings.time_limit_s)
        except TimeoutError:
            return _error(503, f"the request took longer than the {settings.time_limit_s:g} s limit")
        return {
            "chorales": [r.chorale.tolist() for r in results],
            "mask": known.tolist(),
            "notices": sorted({n for r in results for n in r.notices}),
        }

    def _stream(job: _Job) -> StreamingResponse:
        """Sample on a thread and stream a line per sampler pass (throttled), then the result."""
        lines: queue.Queue = queue.Queue()
        pitch_low = model.pitch_range.low
        last = [0.0]
        # what the passes count up to, for a progress bar
        passes = planned_passes(job.sampler, max(int((~known).sum()) for known in job.knowns))

        def callback(iteration, pianoroll, rewritten) -> None:
            batcher.stop_if_abandoned([job])
            now = time.perf_counter()
            if now - last[0] < 0.05:
                return
            last[0] = now
            rolls = pianoroll.numpy()
            pitches = rolls.argmax(-1) + pitch_low
            pitches[rolls.max(-1) <= 0] = SILENCE
            lines.put(
                {"iteration": iteration, "passes": passes, "chorales": pitches.transpose(0, 2, 1).tolist()}
            )

        def work() -> None:
            torch.set_num_threads(settings.threads)  # per thread, as in Batcher
            try:
                results = fill_many(model, job.chorales, job.knowns, job.sampler, job.seeds, callback)
                known = job.knowns[0]
                lines.put(
                    {
                        "done": True,
                        "chorales": [r.chorale.tolist() for r in results],
                        "mask": known.tolist(),
                        "notices": sorted({n for r in results for n in r.notices}),
                    }
                )
            except CounterpointError as error:
                lines.put({"error": str(error)})
            except _Abandoned:
                pass
            finally:
                lines.put(None)

        threading.Thread(target=work, daemon=True).start()

        def body():
            deadline = time.perf_counter() + settings.time_limit_s
            try:
                while True:
                    try:
                        item = lines.get(timeout=max(0.01, deadline - time.perf_counter()))
                    except queue.Empty:
                        yield json.dumps({"error": "time limit reached"}) + "\n"
                        return
                    if item is None:
                        return
                    yield json.dumps(item) + "\n"
            finally:  # done, out of time, or the client left: stop sampling for nobody
                job.abandoned.set()

        return StreamingResponse(body(), media_type="application/x-ndjson")

    @app.post("/api/harmonize")
    async def harmonize(request: HarmonizeRequest):
        """Keep the given voices and write the others."""
        chorale = _chorale_array(request.chorale)
        if request.voices is None:
            given = [v for v in range(NUM_VOICES) if (chorale[:, v] != SILENCE).any()]
        else:
            given = parse_voices(request.voices)
        if not given:
            return _error(422, "no voice has a note: give at least one, or use /api/compose")
        return await run(request, chorale, masks.harmonize_mask(len(chorale), given))

    @app.post("/api/infill")
    async def infill(request: InfillRequest):
        """Rewrite the notes the mask marks unknown (or a region: start, end, voices)."""
        chorale = _chorale_array(request.chorale)
        steps = len(chorale)
        if request.mask is not None:
            known = np.asarray(request.mask, dtype=bool)
            if known.shape != (NUM_VOICES, steps):
                return _error(422, f"mask must have shape (4, {steps}), got {list(known.shape)}")
        else:
            voices = parse_voices(request.voices) if request.voices else None
            known = masks.infill_mask(steps, request.start or 0, request.end, voices)
        # a note to keep must be a note (or a deliberate rest)
        return await run(request, chorale, known)

    @app.post("/api/compose")
    async def compose(request: ComposeRequest):
        """A new piece of some measures from scratch."""
        steps = request.measures * STEPS_PER_MEASURE
        empty = np.full((steps, NUM_VOICES), SILENCE, dtype=np.int64)
        return await run(request, empty, masks.compose_mask(steps))

    @app.post("/api/export/{kind}")
    async def export(kind: Literal["midi", "musicxml"], request: ExportRequest) -> Response:
        """The piece as a MIDI or MusicXML file."""
        from counterpoint.io.midi import midi_file
        from counterpoint.io.musicxml import to_score

        chorale = _chorale_array(request.chorale)
        starts = None
        if request.onsets is not None:
            starts = np.asarray(request.onsets, dtype=bool)
            if starts.shape != chorale.shape:
                return _error(422, f"onsets must have shape {list(chorale.shape)}, got {list(starts.shape)}")
        if kind == "midi":
            buffer = io.BytesIO()
            midi_file(chorale, request.tempo, starts).save(file=buffer)
            return Response(
                buffer.getvalue(),
                media_type="audio/midi",
                headers={"Content-Disposition": 'attachment; filename="counterpoint.mid"'},
            )
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "piece.musicxml"
            to_score(chorale, request.tempo, starts).write("musicxml", fp=str(path))
            data = path.read_bytes()
        return Response(
            data,
            media_type="application/vnd.recordare.musicxml+xml",
            headers={"Content-Disposition": 'attachment; filename="counterpoint.musicxml"'},
        )

    @app.post("/api/import")
    async def import_file(file: Annotated[UploadFile, File(description="a .mid or .musicxml file")]) -> dict:
        """A MIDI/MusicXML file as a (steps, 4) piece."""
        from counterpoint.io import ALL_SUFFIXES, read_chorale

        suffix = Path(file.filename or "").suffix.lower()
        if suffix not in ALL_SUFFIXES or suffix in (".npy",):
            return _error(415, f"unsupported file type {suffix or '(none)'!r}: upload .mid or .musicxml")
        data = await file.read()
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / f"upload{suffix}"
            path.write_bytes(data)
            chorale = read_chorale(path)
        if len(chorale) > MAX_REQUEST_STEPS:
            return _error(422, f"the piece has {len(chorale)} steps; at most {MAX_REQUEST_STEPS} are allowed")
        return {"chorale": chorale.tolist()}

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @app.get("/docs", include_in_schema=False)
    async def docs():
        from fastapi.openapi.docs import get_swagger_ui_html

        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="counterpoint API",
            swagger_js_url="/docs-assets/swagger-ui-bundle.js",
            swagger_css_url="/docs-assets/swagger-ui.css",
            swagger_favicon_url="/docs-assets/favicon-32x32.png",
        )

    from swagger_ui_bundle import swagger_ui_path

    app.mount("/docs-assets", StaticFiles(directory=swagger_ui_path), name="docs-assets")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def app_factory() -> FastAPI:
    """For uvicorn's ``--factory`` (one app, one model per worker; settings from the env)."""
    return create_app()
