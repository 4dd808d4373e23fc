"""Batching requests: requests of the same length and sampler settings that arrive within a
short window are sampled together in one batch on one sampler thread (each keeps its own
seed, so its result does not depend on what it was batched with); one abandoned by its
client or past the time limit is stopped between passes."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import astuple, dataclass, field

import numpy as np
import torch

from counterpoint.model.network import Coconet
from counterpoint.sampling.config import SamplerConfig
from counterpoint.server.settings import ServerSettings
from counterpoint.tasks import fill_many


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
