"""Load on the web server: N concurrent clients on loopback, each sending 2-measure
harmonization requests back to back for a bounded time; prints requests/s and p50/p99
latency, with dynamic batching on and off, in one run. Run with nothing else busy:

    python benchmarks/serve_load.py [--checkpoint jsb] [--clients 1 8 32] [--workers 1 2] [--seconds 20]
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import numpy as np
from common import add_checkpoint, cpu_description

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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(
    checkpoint: str | None, batch_window_ms: float, workers: int
) -> tuple[subprocess.Popen, str]:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "counterpoint",
        "serve",
        "--port",
        str(port),
        "--batch-window-ms",
        str(batch_window_ms),
        "--workers",
        str(workers),
    ]
    if checkpoint:
        command += ["--checkpoint", checkpoint]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url + "/api/health", timeout=1)
            return process, url
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("server did not start")


def client(url: str, stop_at: float, seed: int, latencies: list[float], errors: list[str]) -> None:
    body = {"chorale": [[p, -1, -1, -1] for p in MELODY], "seed": seed}
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
                response.read()
            latencies.append(time.perf_counter() - start)
        except OSError as error:
            errors.append(str(error))


def measure(url: str, clients: int, seconds: float) -> dict:
    latencies: list[float] = []
    errors: list[str] = []
    stop_at = time.time() + seconds
    threads = [
        threading.Thread(target=client, args=(url, stop_at, i, latencies, errors)) for i in range(clients)
    ]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    return {
        "requests_per_s": len(latencies) / elapsed,
        "p50_s": float(np.percentile(latencies, 50)) if latencies else float("nan"),
        "p99_s": float(np.percentile(latencies, 99)) if latencies else float("nan"),
        "errors": len(errors),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    add_checkpoint(parser)
    parser.add_argument("--clients", type=int, nargs="*", default=[1, 8, 32])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 2])
    args = parser.parse_args()
    print(cpu_description())
    print("| workers | batching | clients | requests/s | p50 s | p99 s | errors |")
    print("|---|---|---|---|---|---|---|")
    for workers in args.workers:
        for window in (10.0, 0.0):
            process, url = start_server(args.checkpoint, window, workers)
            try:
                for clients in args.clients:
                    r = measure(url, clients, args.seconds)
                    label = f"on ({window:g} ms window)" if window else "off"
                    print(
                        f"| {workers} | {label} | {clients} | {r['requests_per_s']:.2f} | {r['p50_s']:.3f} | "
                        f"{r['p99_s']:.3f} | {r['errors']} |",
                        flush=True,
                    )
            finally:
                process.terminate()
                process.wait(timeout=10)


if __name__ == "__main__":
    main()
