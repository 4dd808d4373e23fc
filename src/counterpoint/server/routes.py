"""The API's endpoints and the page, on one router: health, harmonize, infill, compose, export,
import, the page, its browser model and the API docs. Each endpoint reads the app's model,
settings and batcher (:class:`~counterpoint.server.requests.Served`) from the app's state, and
documents every status and content type it answers with (``tests/test_openapi.py`` holds it to
that)."""

from __future__ import annotations

import functools
import io
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from fastapi import APIRouter, Depends, File, Request, UploadFile
from fastapi.responses import FileResponse, Response
from starlette.concurrency import run_in_threadpool

from counterpoint.data import masks
from counterpoint.errors import ShapeError
from counterpoint.limits import MAX_BODY_BYTES, MAX_QUEUED_WORK, MAX_REQUEST_STEPS
from counterpoint.model import registry
from counterpoint.music import transposition
from counterpoint.music.representation import NUM_VOICES, SILENCE, STEPS_PER_MEASURE, VOICES, parse_voices
from counterpoint.music.rules import VOICE_RANGES
from counterpoint.runtime import int8, onnx_export
from counterpoint.server.errors import json_error
from counterpoint.server.requests import Describe, Served, run
from counterpoint.server.schemas import (
    ComposeRequest,
    ErrorResponse,
    ExportRequest,
    HarmonizeRequest,
    ImportResponse,
    InfillRequest,
    ProgressLine,
    SampleResponse,
)

STATIC = Path(__file__).parents[1] / "static"
# Swagger UI 5, vendored from npm (scripts/vendor-swagger-ui.sh): it reads OpenAPI 3.1
SWAGGER_UI = "/static/vendor/swagger-ui"

router = APIRouter()


def _error(description: str, retry: bool = False, retry_always: bool = False) -> dict:
    response: dict = {"model": ErrorResponse, "description": description}
    if retry:
        header = {"description": "seconds to wait before trying again", "schema": {"type": "integer"}}
        response["headers"] = {"Retry-After": header | {"required": retry_always}}
    return response


# what any POST may answer, before its endpoint runs
POSTED = {
    400: _error("the body could not be read (a broken upload)"),
    413: _error(f"the body is larger than {MAX_BODY_BYTES} bytes"),
    422: _error("the body is not JSON, or not a valid or possible request"),
}
SAMPLED = POSTED | {
    200: {
        "model": SampleResponse,
        "description": "the pieces; with `stream`, one JSON line per pass, then the result",
        "content": {"application/x-ndjson": {"schema": ProgressLine.model_json_schema()}},
    },
    429: _error("this client has too much work queued", retry=True, retry_always=True),
    503: _error("the queue is full (with Retry-After), or the request ran past the time limit", retry=True),
}


def _served(request: Request) -> Served:
    return request.app.state.served


ServedState = Annotated[Served, Depends(_served)]


def _chorale_array(rows: list[list[int]]) -> np.ndarray:
    return np.asarray(rows, dtype=np.int64).reshape(-1, NUM_VOICES)


def _onset(rows: list[list[bool]] | None, chorale: np.ndarray) -> np.ndarray | None:
    """A request's onsets as a bool array the chorale's shape (None when it sent none)."""
    if rows is None:
        return None
    onset = np.asarray(rows, dtype=bool).reshape(-1, NUM_VOICES)
    if onset.shape != chorale.shape:
        raise ShapeError(f"onsets must have shape {list(chorale.shape)}, got {list(onset.shape)}")
    return onset


def _notes(onset: np.ndarray | None, known: np.ndarray) -> Describe:
    """What a result says besides its pitches: the ``onsets`` of each alternative (the given
    notes keep the request's, written notes are one per run of equal pitches) and the
    ``spellings`` of its notes (``[voice][step]`` names such as "F#4", "" in a rest)."""
    from counterpoint.music.piece import merge_onset
    from counterpoint.music.spelling import spell_chorale

    def describe(results: list) -> dict:
        onsets = [merge_onset(result.chorale, onset, known.T) for result in results]
        return {
            "onsets": [struck.tolist() for struck in onsets],
            "spellings": [
                spell_chorale(result.chorale, struck).T.tolist()
                for result, struck in zip(results, onsets, strict=True)
            ],
        }

    return describe


@router.get("/api/health")
async def health(served: ServedState) -> dict:
    model, batcher = served.model, served.batcher
    return {
        "status": "ok",
        "model": model.config.to_dict(),
        "pitch_range": [model.pitch_range.low, model.pitch_range.high],
        "voices": list(VOICES),
        "voice_ranges": [list(r) for r in VOICE_RANGES],
        # what the given notes may span (per voice), so the page refuses a note when it is placed
        "transposition": transposition.limits(),
        "max_steps": MAX_REQUEST_STEPS,
        "batches": batcher.batches,
        "jobs": batcher.jobs,
        "abandoned": batcher.abandoned,
        "refused": batcher.refused,
        "queued_work": batcher.queued_work,
        "max_queued_work": MAX_QUEUED_WORK,
    }


@router.post("/api/harmonize", responses=SAMPLED)
async def harmonize(request: HarmonizeRequest, served: ServedState, http: Request):
    """Keep the given voices and write the others."""
    chorale = _chorale_array(request.chorale)
    if request.voices is None:
        given = [v for v in range(NUM_VOICES) if (chorale[:, v] != SILENCE).any()]
    else:
        given = parse_voices(request.voices)
    if not given:
        return json_error(422, "no voice has a note: give at least one, or use /api/compose")
    known = masks.harmonize_mask(len(chorale), given)
    return await run(served, http, request, chorale, known, _notes(_onset(request.onsets, chorale), known))


@router.post("/api/infill", responses=SAMPLED)
async def infill(request: InfillRequest, served: ServedState, http: Request):
    """Rewrite the notes the mask marks unknown (or a region: start, end, voices)."""
    chorale = _chorale_array(request.chorale)
    steps = len(chorale)
    if request.mask is not None:
        known = np.asarray(request.mask, dtype=bool)
        if known.shape != (NUM_VOICES, steps):
            return json_error(422, f"mask must have shape (4, {steps}), got {list(known.shape)}")
    else:
        voices = parse_voices(request.voices) if request.voices else None
        known = masks.infill_mask(steps, request.start or 0, request.end, voices)
    # a note to keep must be a note (or a deliberate rest)
    return await run(served, http, request, chorale, known, _notes(_onset(request.onsets, chorale), known))


@router.post("/api/compose", responses=SAMPLED)
async def compose(request: ComposeRequest, served: ServedState, http: Request):
    """A new piece of some measures from scratch."""
    steps = request.measures * STEPS_PER_MEASURE
    empty = np.full((steps, NUM_VOICES), SILENCE, dtype=np.int64)
    return await run(served, http, request, empty, masks.compose_mask(steps))


@router.post(
    "/api/export/{kind}",
    response_class=Response,
    responses=POSTED
    | {
        200: {
            "description": "the file (MIDI for kind midi, MusicXML for kind musicxml)",
            "content": {
                media: {"schema": {"type": "string", "format": "binary"}}
                for media in ("audio/midi", "application/vnd.recordare.musicxml+xml")
            },
        }
    },
)
async def export(kind: Literal["midi", "musicxml"], request: ExportRequest) -> Response:
    """The piece as a MIDI or MusicXML file: its notes as struck (``onsets``), its time
    signature, key signature (given or estimated), title, tempo and ``pickup`` (a MusicXML
    file's short first measure; a MIDI file's notes start after the rest of that bar)."""
    from counterpoint.io.midi import midi_file
    from counterpoint.io.musicxml import to_score
    from counterpoint.music.piece import Piece

    chorale = _chorale_array(request.chorale)
    facts = (request.key_fifths, request.time_signature, request.title, request.tempo, request.pickup)
    piece = Piece.of(chorale, _onset(request.onsets, chorale), *facts)
    if kind == "midi":
        buffer = io.BytesIO()
        midi_file(piece).save(file=buffer)
        return Response(
            buffer.getvalue(),
            media_type="audio/midi",
            headers={"Content-Disposition": 'attachment; filename="counterpoint.mid"'},
        )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "piece.musicxml"
        to_score(piece).write("musicxml", fp=str(path))
        data = path.read_bytes()
    return Response(
        data,
        media_type="application/vnd.recordare.musicxml+xml",
        headers={"Content-Disposition": 'attachment; filename="counterpoint.musicxml"'},
    )


@router.post(
    "/api/import",
    response_model=None,
    responses=POSTED | {200: {"model": ImportResponse}, 415: _error("not a .mid or .musicxml file")},
)
async def import_file(file: Annotated[UploadFile, File(description="a .mid or .musicxml file")]):
    """A MIDI/MusicXML file as a (steps, 4) piece, read as the CLI reads it: one part is a
    melody for the soprano, two or three parts go to the voices their ranges suit, four are the
    four voices. Returns ``chorale``, ``onsets``, ``given`` (the voices that hold notes),
    ``time_signature``, ``key_fifths`` (the file's key signature or null), ``title``, ``tempo``
    (the file's, or null), ``pickup`` (16ths before the first full bar) and ``spellings``."""
    from counterpoint.io import ALL_SUFFIXES, read_piece
    from counterpoint.music.spelling import spell_chorale

    name = Path(file.filename or "").name
    suffix = Path(name).suffix.lower()
    if suffix not in ALL_SUFFIXES or suffix in (".npy",):
        return json_error(415, f"unsupported file type {suffix or '(none)'!r}: upload .mid or .musicxml")
    data = await file.read()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / (name if name and name.isprintable() else f"upload{suffix}")
        path.write_bytes(data)
        piece = read_piece(path)  # its errors name the file as the user named it, not the folder
    if piece.steps > MAX_REQUEST_STEPS:
        return json_error(422, f"the piece has {piece.steps} steps; at most {MAX_REQUEST_STEPS} are allowed")
    return {
        "chorale": piece.pitches.tolist(),
        "onsets": piece.onset.tolist(),
        "given": [VOICES[voice] for voice in piece.voices],
        "time_signature": piece.time_signature,
        "key_fifths": piece.fifths,
        "title": piece.title,
        "tempo": piece.tempo_bpm,
        "pickup": piece.pickup,
        "spellings": spell_chorale(piece.pitches, piece.onset, piece.fifths).T.tolist(),
    }


@router.get("/api/browser-model", include_in_schema=False)
async def browser_model(served: ServedState, format: Literal["float32"] | None = None) -> Response:
    """The ONNX network the page samples with on the visitor's device (404: none): the
    settings' ``browser_model``; else, beside the shipped model, the shipped browser network
    distilled from it (a 20 x 40 network, issue 41); else the int8 file made from this model's
    own weights. ``?format=float32``: the same network in float32, what the page runs on WebGPU
    (:mod:`counterpoint.runtime.onnx_export` says why): the settings' ``browser_model_float32``,
    else exported from the weights the default file was made from; a configured
    ``browser_model`` has none unless one is configured beside it (422: another format)."""
    if format == "float32":
        found = _float32_browser_model(served)
        if found is None:
            return json_error(404, "this server has no float32 browser model")
        if isinstance(found, Path):
            return FileResponse(found, media_type="application/octet-stream")
        return Response(await run_in_threadpool(found), media_type="application/octet-stream")
    model = served.model
    path = (
        served.settings.browser_model
        or registry.shipped_browser_network(model)
        or (int8.int8_network(model) and int8.int8_path(model.source))
    )
    if not path or not Path(path).is_file():
        return json_error(404, "this server has no browser model")
    return FileResponse(path, media_type="application/octet-stream")


def _float32_browser_model(served: Served) -> Path | Callable[[], bytes] | None:
    """The float32 twin of the page's browser model: a configured file, or the export to make
    (a function: it takes a second or two, off the event loop), or None."""
    settings, model = served.settings, served.model
    if settings.browser_model_float32:
        path = Path(settings.browser_model_float32)
        return path if path.is_file() else None
    if settings.browser_model:
        return None
    if registry.shipped_browser_network(model):
        return _shipped_browser_float32
    if int8.int8_network(model) is not None:
        return lambda: onnx_export.float32_bytes(model)
    return None


@functools.cache
def _shipped_browser_float32() -> bytes:
    """The shipped browser network in float32, exported once from the weights it was quantized from."""
    return onnx_export.float32_bytes(registry.load_shipped(registry.BROWSER_WEIGHTS))


@router.get("/", include_in_schema=False)
async def index() -> FileResponse:
    return FileResponse(STATIC / "index.html")


@router.get("/docs", include_in_schema=False)
async def docs():
    from fastapi.openapi.docs import get_swagger_ui_html

    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="counterpoint API",
        swagger_js_url=f"{SWAGGER_UI}/swagger-ui-bundle.js",
        swagger_css_url=f"{SWAGGER_UI}/swagger-ui.css",
        swagger_favicon_url=f"{SWAGGER_UI}/favicon-32x32.png",
        swagger_ui_parameters={"validatorUrl": None},  # no badge fetched from swagger.io
    )
