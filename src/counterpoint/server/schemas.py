"""The JSON bodies of the API (pydantic): requests (sampler options, chorales, each endpoint's
fields, with the bounds that make a bad request a 422, not a crash) and, for the OpenAPI spec,
the responses: a result, a streamed line, an error."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, field_validator

from counterpoint.limits import MAX_ALTERNATIVES, MAX_PASSES, MAX_REQUEST_STEPS
from counterpoint.music.piece import DEFAULT_TEMPO_BPM
from counterpoint.music.representation import NUM_VOICES, SILENCE, STEPS_PER_MEASURE, VOICES
from counterpoint.sampling.config import SamplerConfig


class SamplerOptions(BaseModel):
    sampler: Literal["gibbs", "independent", "ancestral", "confidence"] = "gibbs"
    passes: int | None = Field(
        None, ge=0, le=MAX_PASSES, description="sampler passes (default: the sampler's own)"
    )
    steps: int | None = Field(
        None, ge=0, le=MAX_PASSES, description="the old name of passes", deprecated=True
    )
    temperature: float = Field(0.99, ge=0.0, le=5.0)
    avoid_parallels: bool = Field(True, description="steer away from parallel fifths and octaves")
    seed: int = Field(0, ge=0, le=2**31 - 1)
    count: int = Field(1, ge=1, le=MAX_ALTERNATIVES, description="alternatives from one batched call")
    stream: bool = Field(False, description="stream progress as newline-delimited JSON")

    def sampler_config(self) -> SamplerConfig:
        return SamplerConfig(
            method=self.sampler,
            # the old name, read without the warning that reading a deprecated field gives
            passes=self.passes if self.passes is not None else self.__dict__["steps"],
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


Onsets = Annotated[
    list[Annotated[list[bool], Field(min_length=NUM_VOICES, max_length=NUM_VOICES)]] | None,
    Field(
        max_length=MAX_REQUEST_STEPS,
        description="(steps, 4): true where a note is struck, so a repeated note stays two notes; "
        "default: one note per run of equal pitches",
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
    onsets: Onsets = None
    voices: list[str] | None = Field(None, description="given voices; default: every voice that has a note")

    _pitches = field_validator("chorale")(_check_pitches)


class InfillRequest(SamplerOptions):
    chorale: Chorale
    onsets: Onsets = None
    mask: list[list[bool]] | None = Field(None, description="(4, steps): true where a note is kept")
    start: int | None = Field(None, ge=0, description="first step to rewrite (with end and voices)")
    end: int | None = Field(None, ge=1)
    voices: list[str] | None = None

    _pitches = field_validator("chorale")(_check_pitches)


class ComposeRequest(SamplerOptions):
    measures: int = Field(2, ge=1, le=MAX_REQUEST_STEPS // STEPS_PER_MEASURE)


class ExportRequest(BaseModel):
    chorale: Chorale
    tempo: float = Field(DEFAULT_TEMPO_BPM, ge=20, le=300, description="quarter notes a minute")
    onsets: Onsets = None
    time_signature: Literal["2/4", "3/4", "4/4"] = Field("4/4", description="the written time signature")
    pickup: int = Field(
        0, ge=0, description="16ths before the first full bar (an upbeat), less than a bar; 0: none"
    )
    key_fifths: int | None = Field(
        None, ge=-7, le=7, description="key signature (sharps positive, flats negative); default: estimated"
    )
    title: str | None = Field(None, max_length=200, description="default: 'Chorale' with the date")

    _pitches = field_validator("chorale")(_check_pitches)


class ErrorResponse(BaseModel):
    """Every refusal: one sentence."""

    error: str


class SampleResponse(BaseModel):
    """A sampling request's result (more fields may follow)."""

    chorales: list[list[list[int]]] = Field(description="one (steps, 4) piece per alternative")
    mask: list[list[bool]] = Field(description="(4, steps): true where a note was kept")
    notices: list[str]
    onsets: list[list[list[bool]]] | None = Field(
        None, description="per alternative, (steps, 4): true where a note is struck"
    )
    spellings: list[list[list[str]]] | None = Field(
        None, description='per alternative, [voice][step] note names such as "F#4" ("" = silent)'
    )


class ProgressLine(BaseModel):
    """One line of a stream: a pass's pieces so far (``iteration`` counts up to ``passes``); the
    last line is the result with ``done`` (as :class:`SampleResponse`) or an ``error``."""

    iteration: int | None = None
    passes: int | None = None
    chorales: list[list[list[int]]] | None = None
    done: bool | None = None
    mask: list[list[bool]] | None = None
    notices: list[str] | None = None
    onsets: list[list[list[bool]]] | None = None
    spellings: list[list[list[str]]] | None = None
    error: str | None = None


class ImportResponse(BaseModel):
    chorale: list[list[int]] = Field(description="(steps, 4) MIDI pitches, -1 = silence")
    onsets: list[list[bool]] = Field(description="(steps, 4): true where a note is struck")
    given: list[str] = Field(description="the voices that hold notes")
    time_signature: str
    key_fifths: int | None = Field(description="the file's key signature (sharps positive), or null")
    title: str | None
    tempo: float | None = Field(description="the file's tempo in quarter notes a minute, or null")
    pickup: int = Field(description="16ths before the first full bar (an upbeat); 0: none")
    spellings: list[list[str]] = Field(description='[voice][step] note names such as "F#4"')
