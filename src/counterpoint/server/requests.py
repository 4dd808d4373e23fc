"""Running a sampling request: in the shared batcher within the time limit, or on a thread of its
own that streams a line of JSON per sampler pass (throttled) and then the result."""

from __future__ import annotations

import asyncio
import json
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from fastapi.responses import StreamingResponse

from counterpoint.data import masks
from counterpoint.errors import CounterpointError
from counterpoint.model.network import Coconet
from counterpoint.music.representation import SILENCE
from counterpoint.sampling.schedule import planned_passes
from counterpoint.server.batcher import Batcher, _Abandoned, _Job
from counterpoint.server.errors import json_error
from counterpoint.server.schemas import SamplerOptions
from counterpoint.server.settings import ServerSettings
from counterpoint.tasks import fill_many


@dataclass
class Served:
    """What every request of one app shares: its model, settings and batcher."""

    model: Coconet
    settings: ServerSettings
    batcher: Batcher


# What a route adds to a finished result's JSON, from its results (onsets and spellings).
Describe = Callable[[list], dict]


def _nothing(results: list) -> dict:
    return {}


async def run(
    served: Served,
    options: SamplerOptions,
    chorale: np.ndarray,
    known: np.ndarray,
    describe: Describe = _nothing,
):
    """Sample a request's alternatives in the shared batcher (or streamed), within the time
    limit; ``describe`` adds fields to the finished result."""
    known = masks.check_writable(known)
    seeds = [options.seed + k for k in range(options.count)]
    job = _Job([chorale] * options.count, [known] * options.count, seeds, options.sampler_config())
    if options.stream:
        return stream(served, job, describe)
    try:
        results = await asyncio.wait_for(served.batcher.submit(job), served.settings.time_limit_s)
    except TimeoutError:
        return json_error(503, f"the request took longer than the {served.settings.time_limit_s:g} s limit")
    return {
        "chorales": [r.chorale.tolist() for r in results],
        "mask": known.tolist(),
        "notices": sorted({n for r in results for n in r.notices}),
        **describe(results),
    }


def stream(served: Served, job: _Job, describe: Describe = _nothing) -> StreamingResponse:
    """Sample on a thread and stream a line per sampler pass (throttled), then the result."""
    lines: queue.Queue = queue.Queue()
    pitch_low = served.model.pitch_range.low
    last = [0.0]
    # what the passes count up to, for a progress bar
    passes = planned_passes(job.sampler, max(int((~known).sum()) for known in job.knowns))

    def callback(iteration, pianoroll, rewritten) -> None:
        served.batcher.stop_if_abandoned([job])
        now = time.perf_counter()
        if now - last[0] < 0.05:
            return
        last[0] = now
        rolls = pianoroll.numpy()
        pitches = rolls.argmax(-1) + pitch_low
        pitches[rolls.max(-1) <= 0] = SILENCE
        lines.put({"iteration": iteration, "passes": passes, "chorales": pitches.transpose(0, 2, 1).tolist()})

    def work() -> None:
        torch.set_num_threads(served.settings.threads)  # per thread, as in Batcher
        try:
            results = fill_many(served.model, job.chorales, job.knowns, job.sampler, job.seeds, callback)
            known = job.knowns[0]
            lines.put(
                {
                    "done": True,
                    "chorales": [r.chorale.tolist() for r in results],
                    "mask": known.tolist(),
                    "notices": sorted({n for r in results for n in r.notices}),
                    **describe(results),
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
        deadline = time.perf_counter() + served.settings.time_limit_s
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
