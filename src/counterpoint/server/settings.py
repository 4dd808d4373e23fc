"""A server's settings: the model, batching, time limit, threads, whether a proxy is in front and
the page's browser models, from arguments or from ``COUNTERPOINT_*`` environment variables (what a
process manager's workers read)."""

from __future__ import annotations

import os
from dataclasses import dataclass


def default_workers() -> int:
    """Worker processes ``counterpoint serve`` starts unless told: one per core this process may
    run on. A worker samples on one thread (``ServerSettings.threads``) and batching gains little
    on CPUs without AMX, so a second core is used only by a second worker (two workers on two
    cores answer 1.8-2.0x the requests of one under load, ``docs/benchmarks.md``)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))  # the cores a container or taskset allows
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


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
    # behind a reverse proxy (deploy/nginx.conf) every request comes from the proxy: tell
    # clients apart by the address it appends to X-Forwarded-For. Off by default, because a
    # client talking to the server directly can write any X-Forwarded-For it likes.
    behind_proxy: bool = False
    # the ONNX network the page samples with (default: beside the shipped model, the shipped
    # browser network; else the int8 file beside the checkpoint)
    browser_model: str | None = None
    # its float32 twin, the page's network on WebGPU (default: exported from the weights the
    # default browser model was made from; none beside a configured browser_model)
    browser_model_float32: str | None = None

    @classmethod
    def from_env(cls) -> ServerSettings:
        return cls(
            checkpoint=os.environ.get("COUNTERPOINT_CHECKPOINT") or None,
            batch_window_s=float(os.environ.get("COUNTERPOINT_BATCH_WINDOW_MS", "10")) / 1000,
            time_limit_s=float(os.environ.get("COUNTERPOINT_TIME_LIMIT_S", cls.time_limit_s)),
            batching=os.environ.get("COUNTERPOINT_BATCHING", "1") != "0",
            threads=int(os.environ.get("COUNTERPOINT_THREADS", "1")),
            behind_proxy=os.environ.get("COUNTERPOINT_BEHIND_PROXY", "0") == "1",
            browser_model=os.environ.get("COUNTERPOINT_BROWSER_MODEL") or None,
            browser_model_float32=os.environ.get("COUNTERPOINT_BROWSER_MODEL_FLOAT32") or None,
        )
