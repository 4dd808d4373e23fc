"""Load on the web server: N concurrent clients on loopback, each sending 2-measure
harmonization requests back to back for a bounded time, streamed (``"stream": true``, as the
page sends them: the latency is to the last line) and plain (the API); prints requests/s and
p50/p99 latency for each, in one run, and the sampler's own throughput in one process at batch
sizes 1, 4 and 16 (the ceiling batching can reach). Run with nothing else busy:

    python benchmarks/serve_load.py [--checkpoint jsb] [--clients 1 8 32] [--modes streamed plain]
        [--workers 1] [--batch-window-ms 10] [--seconds 10] [--batches 1 4 16]
"""

from __future__ import annotations

import argparse
import json
import threading
import time
import urllib.request

import numpy as np
from common import add_checkpoint, cpu_description, percentile, start_server, stop_server

MELODY = [
    72,
    72,
    72,
    72,
    79,
    79,
    79,
    79,
    81,
    81,
    81,
    81,
    79,
    79,
    79,
    79,
    77,
    77,
    77,
    77,
    76,
    76,
    76,
    76,
    74,
    74,
    74,
    74,
    72,
    72,
    72,
    72,
]


def client(
    url: str, streamed: bool, stop_at: float, seed: int, latencies: list[float], errors: list[str]
) -> None:
    body = {"chorale": [[p, -1, -1, -1] for p in MELODY], "seed": seed, "stream": streamed}
    count = 0
    while time.time() < stop_at and count < 10_000:
        count += 1
        body["seed"] = seed * 10_000 + count
        request = urllib.request.Request(
            url + "/api/harmonize",
            data=json.dumps(body).encode(),
            headers={"content-type": "application/json"},
        )
        start = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                last = response.read().splitlines()[-1]
            if streamed and "done" not in json.loads(last):
                errors.append(last.decode())
                continue
            latencies.append(time.perf_counter() - start)
        except OSError as error:
            errors.append(str(error))


def measure(url: str, streamed: bool, clients: int, seconds: float) -> dict:
    latencies: list[float] = []
    errors: list[str] = []
    stop_at = time.time() + seconds
    threads = [
        threading.Thread(target=client, args=(url, streamed, stop_at, i, latencies, errors))
        for i in range(clients)
    ]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    return {
        "requests_per_s": len(latencies) / elapsed,
        "p50_s": percentile(latencies, 50),
        "p99_s": percentile(latencies, 99),
        "errors": len(errors),
    }


def in_process(checkpoint: str | None, batches: list[int], seconds: float) -> None:
    """2-measure harmonizations/s from the sampler itself at each batch size, on the server's
    one sampler thread: what batching can gain at most."""
    import torch

    from counterpoint.data import masks
    from counterpoint.model.registry import load_model
    from counterpoint.tasks import fill_many

    torch.set_num_threads(1)  # as the server's sampler thread (ServerSettings.threads)
    model = load_model(checkpoint)
    chorale = np.array([[p, -1, -1, -1] for p in MELODY])
    known = masks.harmonize_mask(len(chorale), [0])
    print("| batch | pieces/s | s per batch |")
    print("|---|---|---|")
    for batch in batches:
        fill_many(model, [chorale] * batch, [known] * batch, seeds=list(range(batch)))  # warm up
        done, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            fill_many(model, [chorale] * batch, [known] * batch, seeds=list(range(done, done + batch)))
            done += batch
        elapsed = time.perf_counter() - start
        print(f"| {batch} | {done / elapsed:.2f} | {elapsed / (done / batch):.3f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    add_checkpoint(parser)
    parser.add_argument("--clients", type=int, nargs="*", default=[1, 8, 32])
    parser.add_argument("--modes", nargs="*", default=["streamed", "plain"], choices=["streamed", "plain"])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--workers", type=int, nargs="*", default=[1])
    parser.add_argument("--batch-window-ms", type=float, nargs="*", default=[10.0], help="0: no batching")
    parser.add_argument("--batches", type=int, nargs="*", default=[1, 4, 16], help="in-process batch sizes")
    args = parser.parse_args()
    print(cpu_description())
    print("| workers | batching | request | clients | requests/s | p50 s | p99 s | errors |")
    print("|---|---|---|---|---|---|---|---|")
    for workers in args.workers:
        for window in args.batch_window_ms:
            options = ["--batch-window-ms", str(window), "--workers", str(workers)]
            url, process = start_server(args.checkpoint, *options)
            label = f"on ({window:g} ms window)" if window else "off"
            try:
                # the first requests of each worker load the int8 network and warm its caches
                # (seconds): not what a client of a running server waits
                measure(url, False, 2 * workers, 3.0)
                for mode in args.modes:
                    for clients in args.clients:
                        r = measure(url, mode == "streamed", clients, args.seconds)
                        print(
                            f"| {workers} | {label} | {mode} | {clients} | {r['requests_per_s']:.2f} | "
                            f"{r['p50_s']:.3f} | {r['p99_s']:.3f} | {r['errors']} |",
                            flush=True,
                        )
            finally:
                stop_server(process)
    if args.batches:
        print()
        in_process(args.checkpoint, args.batches, args.seconds)


if __name__ == "__main__":
    main()
