"""Running a sampling request in the shared batcher, within the time limit: plain (the answer at
the end; a client that disconnects stops its sampling) or streamed (a line of JSON per sampler
pass, throttled, then the result; closing the stream stops its sampling)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from fastapi import Request
from fastapi.responses import StreamingResponse

from counterpoint.data import masks
from counterpoint.errors import CounterpointError
from counterpoint.model.network import Coconet
from counterpoint.music.representation import SILENCE
from counterpoint.server.batcher import Batcher, Job
from counterpoint.server.errors import json_error
from counterpoint.server.schemas import SamplerOptions
from counterpoint.server.settings import ServerSettings


@dataclass
class Served:
    """What every request of one app shares: its model, settings and batcher."""

    model: Coconet
    settings: ServerSettings
    batcher: Batcher


def client_address(http: Request, settings: ServerSettings) -> str:
    """Who sent a request, for the queue's per-client share: the peer's address, or behind a
    proxy (``settings.behind_proxy``) the address the proxy appended to X-Forwarded-For (the
    entries before it are whatever the client wrote)."""
    forwarded = http.headers.get("x-forwarded-for", "")
    if settings.behind_proxy and forwarded.strip():
        return forwarded.split(",")[-1].strip()
    return http.client.host if http.client else ""


# What a route adds to a finished result's JSON, from its results (onsets and spellings).
Describe = Callable[[list], dict]


def _nothing(results: list) -> dict:
    return {}


def _answer(results: list, known: np.ndarray, describe: Describe = _nothing) -> dict:
    return {
        "chorales": [r.chorale.tolist() for r in results],
        "mask": known.tolist(),
        "notices": sorted({n for r in results for n in r.notices}),
        **describe(results),
    }


TIME_LIMIT_REACHED = "time limit reached"
POLL_S = 0.1  # how often a waiting plain request checks that its client is still there
PROGRESS_S = 0.05  # the least time between two progress lines of a stream


async def run(
    served: Served,
    http: Request,
    options: SamplerOptions,
    chorale: np.ndarray,
    known: np.ndarray,
    describe: Describe = _nothing,
):
    """Sample a request's alternatives in the shared batcher within the time limit, plain or
    streamed; refused (429/503) when the queue has no room for it. ``describe`` adds fields to
    the finished result."""
    known = masks.check_writable(known)
    seeds = [options.seed + k for k in range(options.count)]
    job = Job(
        [chorale] * options.count,
        [known] * options.count,
        seeds,
        options.sampler_config(),
        client=client_address(http, served.settings),
    )
    if options.stream:
        return stream(served, job, describe)
    served.batcher.admit(job)
    task = asyncio.create_task(served.batcher.submit(job))
    deadline = time.monotonic() + served.settings.time_limit_s
    while not task.done():
        await asyncio.wait({task}, timeout=max(0.0, min(POLL_S, deadline - time.monotonic())))
        if task.done():
            break
        if time.monotonic() >= deadline:
            task.cancel()
            limit = served.settings.time_limit_s
            return json_error(503, f"the request took longer than the {limit:g} s limit")
        if await http.is_disconnected():  # nobody will read the answer: stop sampling for it
            task.cancel()
            return json_error(499, "the client went away")
    return _answer(task.result(), known, describe)


def stream(served: Served, job: Job, describe: Describe = _nothing) -> StreamingResponse:
    """Sample in the shared batcher and stream a line per sampler pass (throttled) with this
    job's rows, then the result. Closing the stream (the client left) stops its sampling."""
    served.batcher.admit(job)  # refused before the stream starts, with a status
    lines: asyncio.Queue[dict | None] = asyncio.Queue()
    loop = asyncio.get_running_loop()
    pitch_low = served.model.pitch_range.low
    passes = job.passes  # what the progress bar counts to
    last = [0.0]

    def progress(iteration: int, pianoroll: torch.Tensor) -> None:  # on the sampler thread
        now = time.perf_counter()
        if now - last[0] < PROGRESS_S:
            return
        last[0] = now
        rolls = pianoroll.numpy()
        pitches = rolls.argmax(-1) + pitch_low
        pitches[rolls.max(-1) <= 0] = SILENCE
        line = {"iteration": iteration, "passes": passes, "chorales": pitches.transpose(0, 2, 1).tolist()}
        loop.call_soon_threadsafe(lines.put_nowait, line)

    job.progress = progress

    async def sample() -> None:
        try:
            results = await asyncio.wait_for(served.batcher.submit(job), served.settings.time_limit_s)
            lines.put_nowait({"done": True, **_answer(results, job.knowns[0], describe)})
        except TimeoutError:
            lines.put_nowait({"error": TIME_LIMIT_REACHED})
        except CounterpointError as error:
            lines.put_nowait({"error": str(error)})
        finally:
            lines.put_nowait(None)

    task = asyncio.create_task(sample())

    async def body():
        try:
            while (item := await lines.get()) is not None:
                yield json.dumps(item) + "\n"
        finally:  # done, or the client left: stop sampling for nobody
            job.abandoned.set()
            task.cancel()

    return StreamingResponse(body(), media_type="application/x-ndjson")
