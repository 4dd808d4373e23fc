"""The web server: a JSON API over the tasks, and the Bach-Doodle-like page.

``counterpoint serve`` runs it with uvicorn on 127.0.0.1:8000. Every worker process loads the
model once. Requests of the same length and sampler settings that arrive within a short
window are sampled together in one batch (each keeps its own seed, so its result does not
depend on what it was batched with), so throughput grows with load. The server holds no
state between requests: to scale out, run more workers or more machines behind any HTTP
load balancer.

Endpoints (OpenAPI at ``/docs``): ``GET /api/health``; ``POST /api/harmonize``,
``/api/infill``, ``/api/compose`` (add ``"stream": true`` for newline-delimited JSON
progress: one line per sampler pass with the piece so far and how many passes there
will be, then the result);
``POST /api/export/{midi|musicxml}``; ``POST /api/import`` (a MIDI/MusicXML upload).
Bad requests get a 4xx JSON ``{"error": "..."}``; the server keeps serving.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import queue
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import astuple, dataclass, field
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import torch
from fastapi import FastAPI, File, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field, field_validator

from counterpoint.data import masks
from counterpoint.errors import CounterpointError
from counterpoint.limits import MAX_REQUEST_STEPS
from counterpoint.model.network import Coconet
from counterpoint.model.registry import load_model
from counterpoint.music.representation import NUM_VOICES, SILENCE, STEPS_PER_MEASURE, VOICES, parse_voices
from counterpoint.music.rules import VOICE_RANGES
from counterpoint.sampling.config import SamplerConfig
from counterpoint.sampling.schedule import planned_passes
from counterpoint.tasks import fill_many

STATIC = Path(__file__).parent / "static"
MAX_BODY_BYTES = 512 * 1024
MAX_ALTERNATIVES = 4


@dataclass
class ServerSettings:
    checkpoint: str | None = None
    batch_window_s: float = 0.01
    max_batch: int = 16
    # the longest request the app allows (32 measures from scratch) takes about two minutes on
    # two cores with the shipped two-network model
    time_limit_s: float = 180.0
    batching: bool = True
    # torch threads of the sampler thread. The model's small convolutions gain little from
    # a second OpenMP thread outside the main thread (measured: 8.3 ms a pass with 1, 10 ms
    # with 2 on this 2-core machine), so a worker uses 1 and cores are filled with --workers.
    threads: int = 1

    @classmethod
    def from_env(cls) -> ServerSettings:
        return cls(
            checkpoint=os.environ.get("COUNTERPOINT_CHECKPOINT") or None,
            batch_window_s=float(os.environ.get("COUNTERPOINT_BATCH_WINDOW_MS", "10")) / 1000,
            time_limit_s=float(os.environ.get("COUNTERPOINT_TIME_LIMIT_S", cls.time_limit_s)),
            batching=os.environ.get("COUNTERPOINT_BATCHING", "1") != "0",
            threads=int(os.environ.get("COUNTERPOINT_THREADS", "1")),
        )


# --------------------------------------------------------------------------- request bodies


class SamplerOptions(BaseModel):
    sampler: Literal["gibbs", "independent", "ancestral", "confidence"] = "gibbs"
    steps: int | None = Field(None, ge=0, le=2000, description="sampler passes (default: the sampler's own)")
    temperature: float = Field(0.99, ge=0.0, le=5.0)
    avoid_parallels: bool = Field(True, description="steer away from parallel fifths and octaves")
    seed: int = Field(0, ge=0, le=2**31 - 1)
    count: int = Field(1, ge=1, le=MAX_ALTERNATIVES, description="alternatives from one batched call")
    stream: bool = Field(False, description="stream progress as newline-delimited JSON")

    def sampler_config(self) -> SamplerConfig:
        return SamplerConfig(
            method=self.sampler,
            steps=self.steps,
            temperature=self.temperature,
            avoid_parallels=self.avoid_parallels,
        )


Chorale = Annotated[
    list[Annotated[list[int], Field(min_length=NUM_VOICES, max_length=NUM_VOICES)]],
    Field(
        min_length=1,
        max_length=MAX_REQUEST_STEPS,
        description="(steps, 4) MIDI pitches, -1 = silence/unknown",
    ),
]


def _check_pitches(rows: list[list[int]]) -> list[list[int]]:
    for step, row in enumerate(rows):
        for voice, pitch in enumerate(row):
            if pitch != SILENCE and not 0 <= pitch <= 127:
                raise ValueError(f"pitch {pitch} in the {VOICES[voice]} at step {step} is not a MIDI pitch")
    return rows


class HarmonizeRequest(SamplerOptions):
    chorale: Chorale
    voices: list[str] | None = Field(None, description="given voices; default: every voice that has a note")

    _pitches = field_validator("chorale")(_check_pitches)


class InfillRequest(SamplerOptions):
    chorale: Chorale
    mask: list[list[bool]] | None = Field(None, description="(4, steps): true where a note is kept")
    start: int | None = Field(None, ge=0, description="first step to rewrite (with end and voices)")
    end: int | None = Field(None, ge=1)
    voices: list[str] | None = None

    _pitches = field_validator("chorale")(_check_pitches)


class ComposeRequest(SamplerOptions):
    measures: int = Field(2, ge=1, le=MAX_REQUEST_STEPS // STEPS_PER_MEASURE)


class ExportRequest(BaseModel):
    chorale: Chorale
    tempo: float = Field(80, ge=20, le=300)
    onsets: list[list[bool]] | None = Field(
        None, description="(steps, 4): true where a note is struck (keeps repeated notes apart)"
    )

    _pitches = field_validator("chorale")(_check_pitches)


# --------------------------------------------------------------------------- dynamic batching


class _Abandoned(Exception):
    """Raised from the sampler's callback when nobody waits for its result any more."""


@dataclass
class _Job:
    chorales: list[np.ndarray]
    knowns: list[np.ndarray]
    seeds: list[int]
    sampler: SamplerConfig
    future: asyncio.Future = field(default=None)  # type: ignore[assignment]
    # set when the request gives up (its time limit): the sampler thread stops at its next pass
    abandoned: threading.Event = field(default_factory=threading.Event)

    @property
    def key(self) -> tuple:
        return (len(self.chorales[0]), *astuple(self.sampler))


class Batcher:
    """Collects jobs for a short window and samples compatible ones (same length and sampler
    settings) in one batch, on one thread so requests never fight for the cores."""

    def __init__(self, model: Coconet, settings: ServerSettings) -> None:
        self.model = model
        self.settings = settings
        # OpenMP's thread count is per calling thread: give the sampler thread all the cores
        threads = torch.get_num_threads()
        self.executor = ThreadPoolExecutor(
            max_workers=1,
            thread_name_prefix="sampler",
            initializer=torch.set_num_threads,
            initargs=(threads,),
        )
        self.pending: asyncio.Queue[_Job] | None = None
        self.task: asyncio.Task | None = None
        self.batches = 0
        self.jobs = 0
        self.abandoned = 0  # sampling runs stopped because nobody waited for them any more

    async def submit(self, job: _Job) -> list:
        loop = asyncio.get_running_loop()
        job.future = loop.create_future()
        try:
            if not self.settings.batching:
                return await loop.run_in_executor(self.executor, self._run, [job])
            if self.pending is None:
                self.pending = asyncio.Queue()
                self.task = asyncio.create_task(self._loop())
            await self.pending.put(job)
            return await job.future
        except asyncio.CancelledError:
            # the request's time limit: without this the sampler thread would finish the job
            # anyway, and every request queued behind it would wait for a result nobody reads
            job.abandoned.set()
            raise

    def _run(self, jobs: list[_Job]) -> list:
        chorales = [c for job in jobs for c in job.chorales]
        knowns = [k for job in jobs for k in job.knowns]
        seeds = [s for job in jobs for s in job.seeds]

        def stop_if_abandoned(*_) -> None:
            self.stop_if_abandoned(jobs)

        stop_if_abandoned()  # given up while queued
        results = fill_many(self.model, chorales, knowns, jobs[0].sampler, seeds, stop_if_abandoned)
        self.batches += 1
        self.jobs += len(jobs)
        if len(jobs) == 1:
            return results
        split, start = [], 0
        for job in jobs:
            split.append(results[start : start + len(job.chorales)])
            start += len(job.chorales)
        return split

    def stop_if_abandoned(self, jobs: list[_Job]) -> None:
        """Raise :class:`_Abandoned` (from a sampler callback) once no request waits for ``jobs``."""
        if all(job.abandoned.is_set() for job in jobs):
            self.abandoned += 1
            raise _Abandoned

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        assert self.pending is not None
        while True:
            first = await self.pending.get()
            group, others = [first], []
            deadline = loop.time() + self.settings.batch_window_s
            while sum(len(j.chorales) for j in group) < self.settings.max_batch:
                timeout = deadline - loop.time()
                if timeout <= 0:
                    break
                try:
                    job = await asyncio.wait_for(self.pending.get(), timeout)
                except TimeoutError:
                    break
                (group if job.key == first.key else others).append(job)
            for job in others:  # incompatible: next round
                self.pending.put_nowait(job)
            try:
                if len(group) == 1:
                    outcome = [await loop.run_in_executor(self.executor, self._run, group)]
                else:
                    outcome = await loop.run_in_executor(self.executor, self._run, group)
                for job, result in zip(group, outcome, strict=True):
                    if not job.future.done():
                        job.future.set_result(result)
            except Exception as error:  # delivered to each waiting request
                for job in group:
                    if not job.future.done():
                        job.future.set_exception(error)


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
