"""Every sampling request, streamed or not, goes through one :class:`Batcher`: a bounded queue
and one sampler thread. Jobs of the same length, sampler settings and pass count that arrive
within a short window are sampled together in one batch (each keeps its own seed, so its
result does not depend on what it was batched with; a streamed job is sent its own rows of
each pass). Admission counts queued work against :data:`~counterpoint.limits.MAX_QUEUED_WORK`
(a full queue is a 503) and each client's share of it (a 429). A job abandoned by its client
(disconnected, cancelled, past the time limit) is skipped while queued; in a running batch its
rows are dropped at the next pass (the others go on, unchanged and faster), and the batch stops
once no job in it is waited for."""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import astuple, dataclass, field
from functools import cached_property

import numpy as np
import torch

from counterpoint.errors import CounterpointError
from counterpoint.limits import MAX_CLIENT_SHARE, MAX_QUEUED_WORK
from counterpoint.model.network import Coconet
from counterpoint.sampling.config import SamplerConfig
from counterpoint.sampling.schedule import planned_passes
from counterpoint.server.settings import ServerSettings
from counterpoint.tasks import fill_many


class _Abandoned(Exception):
    """Raised from the sampler's callback when nobody waits for its result any more."""


class Refused(CounterpointError):
    """The server is too busy for a job now: ``status`` 503 (full) or 429 (the client's share)."""

    def __init__(self, status: int, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after_s = retry_after_s


# a streamed job's progress: (pass index, its own rows of the pianoroll (n, 4, T, P))
Progress = Callable[[int, torch.Tensor], None]


@dataclass
class Job:
    chorales: list[np.ndarray]
    knowns: list[np.ndarray]
    seeds: list[int]
    sampler: SamplerConfig
    client: str = ""
    progress: Progress | None = None
    future: asyncio.Future = field(default=None)  # type: ignore[assignment]
    # set when the request gives up (client gone, time limit): sampling stops at the next pass
    abandoned: threading.Event = field(default_factory=threading.Event)

    @cached_property
    def passes(self) -> int:
        """What the sampler's passes count up to (a progress bar's end), the most of any piece."""
        return planned_passes(self.sampler, max(int((~known).sum()) for known in self.knowns))

    @property
    def work(self) -> int:
        """Step-passes: what this job costs the queue."""
        return len(self.chorales[0]) * len(self.chorales) * self.passes

    @property
    def key(self) -> tuple:
        """Jobs with equal keys run as one batch with the same result each would get alone."""
        return (len(self.chorales[0]), self.passes, *astuple(self.sampler))


class Batcher:
    """Admits jobs against the queue's bound, collects them for a short window and samples
    compatible ones in one batch, on one thread so requests never fight for the cores."""

    def __init__(self, model: Coconet, settings: ServerSettings) -> None:
        self.model = model
        self.settings = settings
        self.executor = ThreadPoolExecutor(
            max_workers=1,
            thread_name_prefix="sampler",
            # OpenMP's thread count is per calling thread
            initializer=torch.set_num_threads,
            initargs=(settings.threads,),
        )
        self.pending: asyncio.Queue[Job] | None = None
        self.task: asyncio.Task | None = None
        self.queued_work = 0  # step-passes admitted and not yet finished
        self.work_by_client: Counter[str] = Counter()
        self.batches = 0
        self.jobs = 0
        self.abandoned = 0  # jobs stopped or skipped because nobody waited for them any more
        self.refused = 0  # jobs answered 503 or 429
        self.work_done = 0
        self.busy_s = 0.0

    def retry_after_s(self, work: int) -> int:
        """Seconds until ``work`` step-passes are likely done, at the rate measured so far."""
        rate = self.work_done / self.busy_s if self.busy_s > 0 else 0.0
        # between one second and a minute; a guess of a few seconds before anything was measured
        return max(1, min(60, math.ceil(work / rate))) if rate > 0 else 5

    def admit(self, job: Job) -> None:
        """Count ``job`` in the queue, or raise :class:`Refused`."""
        work, held = job.work, self.work_by_client[job.client]
        share = int(MAX_QUEUED_WORK * MAX_CLIENT_SHARE)
        if held and held + work > share:
            self.refused += 1
            wait = self.retry_after_s(held)
            raise Refused(429, f"you have too many requests waiting: try again in {wait} s", wait)
        if self.queued_work and self.queued_work + work > MAX_QUEUED_WORK:
            self.refused += 1
            wait = self.retry_after_s(self.queued_work)
            raise Refused(503, f"the server is busy: try again in {wait} s", wait)
        self.queued_work += work
        self.work_by_client[job.client] += work

    def _release(self, job: Job) -> None:
        self.queued_work -= job.work
        self.work_by_client[job.client] -= job.work
        if self.work_by_client[job.client] <= 0:
            del self.work_by_client[job.client]

    async def submit(self, job: Job) -> list:
        """Sample ``job`` (admitted first: :meth:`admit`); cancelling the caller abandons it."""
        loop = asyncio.get_running_loop()
        job.future = loop.create_future()
        try:
            if self.settings.batching:
                if self.pending is None:
                    self.pending = asyncio.Queue()
                    self.task = asyncio.create_task(self._loop())
                self.pending.put_nowait(job)
            else:
                self._deliver([job], await loop.run_in_executor(self.executor, self._run, [job]))
            return await job.future
        except asyncio.CancelledError:
            # without this the sampler thread would finish the job anyway, and every request
            # queued behind it would wait for a result nobody reads
            job.abandoned.set()
            raise

    def _run(self, jobs: list[Job]) -> list[list | BaseException]:
        """Each job's results or error, sampled as one batch on the sampler thread. A job given
        up while queued is skipped; a job whose piece the task refuses fails alone."""
        started = time.perf_counter()
        try:
            live = [job for job in jobs if not job.abandoned.is_set()]
            outcomes: dict[int, list | BaseException] = {id(job): _Abandoned() for job in jobs}
            try:
                outcomes.update(zip(map(id, live), self._sample(live), strict=True))
                # a job dropped on the way has only its rows' last pass: nobody waits for it
                outcomes.update((id(job), _Abandoned()) for job in live if job.abandoned.is_set())
            except CounterpointError as error:
                if len(live) == 1:
                    outcomes[id(live[0])] = error
                else:
                    for job in live:
                        try:
                            outcomes[id(job)] = self._sample([job])[0]
                        except Exception as alone:
                            outcomes[id(job)] = alone
            except Exception as error:  # delivered to each waiting request
                outcomes.update((id(job), error) for job in live)
            return [outcomes[id(job)] for job in jobs]
        finally:
            # skipped while queued, dropped from the batch, or stopped with it: each counted once
            self.abandoned += sum(job.abandoned.is_set() for job in jobs)
            for job in jobs:
                self._release(job)
            self.busy_s += time.perf_counter() - started

    def _sample(self, jobs: list[Job]) -> list[list]:
        if not jobs:
            return []
        sizes = [len(job.chorales) for job in jobs]
        starts = np.cumsum([0] + sizes).tolist()

        def on_pass(iteration: int, pianoroll: torch.Tensor, rewritten: torch.Tensor) -> torch.Tensor:
            waiting = [not job.abandoned.is_set() for job in jobs]
            if not any(waiting):
                raise _Abandoned  # nobody waits for this batch any more
            for job, start, end in zip(jobs, starts[:-1], starts[1:], strict=True):
                if job.progress is not None and not job.abandoned.is_set():
                    job.progress(iteration, pianoroll[start:end])
            # the sampler stops writing an abandoned job's rows
            return torch.tensor(waiting).repeat_interleave(torch.tensor(sizes))

        results = fill_many(
            self.model,
            [c for job in jobs for c in job.chorales],
            [k for job in jobs for k in job.knowns],
            jobs[0].sampler,
            [s for job in jobs for s in job.seeds],
            on_pass,
        )
        self.batches += 1
        self.jobs += len(jobs)
        self.work_done += sum(job.work for job in jobs)
        return [results[start:end] for start, end in zip(starts[:-1], starts[1:], strict=True)]

    @staticmethod
    def _deliver(jobs: list[Job], outcomes: list[list | BaseException]) -> None:
        for job, outcome in zip(jobs, outcomes, strict=True):
            if job.future.done():  # its request gave up
                continue
            if isinstance(outcome, BaseException):
                job.future.set_exception(outcome)
            else:
                job.future.set_result(outcome)

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
            self._deliver(group, await loop.run_in_executor(self.executor, self._run, group))
