"""Scoring pieces in a pool of processes (one thread each), each with a watchdog that exits
when its parent has gone; the figures are the same as in one process."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from functools import partial
from typing import Any

import numpy as np
import torch

from counterpoint.model.network import Coconet, device_of


def map_pieces(
    score: Callable[[Coconet, np.ndarray, list[np.ndarray]], Any],
    model: Coconet,
    chorales: list[np.ndarray],
    orders: list[list[np.ndarray]],
    workers: int = 1,
) -> Iterator[tuple[int, Any]]:
    """``(i, score(model, chorales[i], orders[i]))`` for every piece, as each is done (not
    in order: a caller that keeps results as they come loses none that finished). With
    ``workers`` > 1 the pieces are shared between that many processes of one thread each (on
    2 cores no faster than one process on two threads: README, "Evaluation"); ``score`` must
    be a module-level function (or a ``partial`` of one) so that it can be sent to them."""
    on_cpu = device_of(model).type == "cpu"  # a GPU model is scored in this process
    if workers > 1 and len(chorales) > 1 and on_cpu:
        context = multiprocessing.get_context("spawn")  # fork after torch's threads can hang
        workers = min(workers, len(chorales))
        with ProcessPoolExecutor(
            workers, context, initializer=_start_worker, initargs=(model, os.getpid())
        ) as pool:
            work = partial(_score_in_worker, score)
            pieces = enumerate(zip(chorales, orders, strict=True))
            futures = {pool.submit(work, chorale, piece_orders): i for i, (chorale, piece_orders) in pieces}
            for future in as_completed(futures):
                yield futures[future], future.result()
    else:
        for i, (chorale, piece_orders) in enumerate(zip(chorales, orders, strict=True)):
            yield i, score(model, chorale, piece_orders)


_WORKER_MODEL: Coconet | None = None


def _start_worker(model: Coconet, parent: int) -> None:
    global _WORKER_MODEL
    torch.set_num_threads(1)
    _WORKER_MODEL = model
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()


def _exit_with_parent(parent: int) -> None:
    """End this worker once its parent is gone: a parent killed outright (``kill``, a session
    that ends) cannot stop its pool, whose workers would otherwise compute on, orphaned, until
    their piece ends, and then wait for work forever. An orphan's parent becomes another
    process, so its parent id changes (``parent`` comes from the parent itself, in case it
    died while this worker was starting)."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def _score_in_worker(score, chorale: np.ndarray, orders: list[np.ndarray]):
    return score(_WORKER_MODEL, chorale, orders)
