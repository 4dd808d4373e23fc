"""The API's endpoints and the page, on one router: health, harmonize, infill, compose, export,
import, the page and the API docs. Each endpoint reads the app's model, settings and batcher
(:class:`~counterpoint.server.requests.Served`) from the app's state."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from fastapi import APIRouter, Depends, File, Request, UploadFile
from fastapi.responses import FileResponse, Response

from counterpoint.data import masks
from counterpoint.limits import MAX_REQUEST_STEPS
from counterpoint.music import transposition
from counterpoint.music.representation import NUM_VOICES, SILENCE, STEPS_PER_MEASURE, VOICES, parse_voices
from counterpoint.music.rules import VOICE_RANGES
from counterpoint.server.errors import json_error
from counterpoint.server.requests import Served, run
from counterpoint.server.schemas import ComposeRequest, ExportRequest, HarmonizeRequest, InfillRequest

STATIC = Path(__file__).parents[1] / "static"

router = APIRouter()


def _served(request: Request) -> Served:
    return request.app.state.served


ServedState = Annotated[Served, Depends(_served)]


def _chorale_array(rows: list[list[int]]) -> np.ndarray:
    return np.asarray(rows, dtype=np.int64).reshape(-1, NUM_VOICES)


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
    }


@router.post("/api/harmonize")
async def harmonize(request: HarmonizeRequest, served: ServedState):
    """Keep the given voices and write the others."""
    chorale = _chorale_array(request.chorale)
    if request.voices is None:
        given = [v for v in range(NUM_VOICES) if (chorale[:, v] != SILENCE).any()]
    else:
        given = parse_voices(request.voices)
    if not given:
        return json_error(422, "no voice has a note: give at least one, or use /api/compose")
    return await run(served, request, chorale, masks.harmonize_mask(len(chorale), given))


@router.post("/api/infill")
async def infill(request: InfillRequest, served: ServedState):
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
    return await run(served, request, chorale, known)


@router.post("/api/compose")
async def compose(request: ComposeRequest, served: ServedState):
    """A new piece of some measures from scratch."""
    steps = request.measures * STEPS_PER_MEASURE
    empty = np.full((steps, NUM_VOICES), SILENCE, dtype=np.int64)
    return await run(served, request, empty, masks.compose_mask(steps))


@router.post("/api/export/{kind}")
async def export(kind: Literal["midi", "musicxml"], request: ExportRequest) -> Response:
    """The piece as a MIDI or MusicXML file."""
    from counterpoint.io.midi import midi_file
    from counterpoint.io.musicxml import to_score

    chorale = _chorale_array(request.chorale)
    starts = None
    if request.onsets is not None:
        starts = np.asarray(request.onsets, dtype=bool)
        if starts.shape != chorale.shape:
            return json_error(422, f"onsets must have shape {list(chorale.shape)}, got {list(starts.shape)}")
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


@router.post("/api/import")
async def import_file(file: Annotated[UploadFile, File(description="a .mid or .musicxml file")]) -> dict:
    """A MIDI/MusicXML file as a (steps, 4) piece."""
    from counterpoint.io import ALL_SUFFIXES, read_chorale

    suffix = Path(file.filename or "").suffix.lower()
    if suffix not in ALL_SUFFIXES or suffix in (".npy",):
        return json_error(415, f"unsupported file type {suffix or '(none)'!r}: upload .mid or .musicxml")
    data = await file.read()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"upload{suffix}"
        path.write_bytes(data)
        chorale = read_chorale(path)
    if len(chorale) > MAX_REQUEST_STEPS:
        return json_error(422, f"the piece has {len(chorale)} steps; at most {MAX_REQUEST_STEPS} are allowed")
    return {"chorale": chorale.tolist()}


@router.get("/", include_in_schema=False)
async def index() -> FileResponse:
    return FileResponse(STATIC / "index.html")


@router.get("/docs", include_in_schema=False)
async def docs():
    from fastapi.openapi.docs import get_swagger_ui_html

    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="counterpoint API",
        swagger_js_url="/docs-assets/swagger-ui-bundle.js",
        swagger_css_url="/docs-assets/swagger-ui.css",
        swagger_favicon_url="/docs-assets/favicon-32x32.png",
    )
