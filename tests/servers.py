"""Real servers for the tests: a `counterpoint serve` in its own process on a free loopback port,
started, waited for until it answers, and stopped in this one place. conftest.py's ``serve`` and
``server`` fixtures use it; a module-wide server (tests/test_openapi.py) calls ``running_server``
itself, and tests/test_scale_out.py waits for its nginx with ``wait_until``."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

HOST = "127.0.0.1"
START_SECONDS = 90  # torch and music21 import slowly on a loaded machine
STOP_SECONDS = 10


@dataclass(frozen=True)
class Server:
    """A running `counterpoint serve`: its base URL, its port, and its process (a test may kill it)."""

    url: str
    port: int
    process: subprocess.Popen


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def listening(port: int) -> Callable[[], None]:
    """A readiness check for ``wait_until``: something accepts connections on ``port``."""

    def connect() -> None:
        with socket.create_connection((HOST, port), timeout=0.2):
            pass

    return connect


def answering(url: str) -> Callable[[], None]:
    """A readiness check for ``wait_until``: the server at ``url`` answers /api/health."""

    def health() -> None:
        with urllib.request.urlopen(url + "/api/health", timeout=1):
            pass

    return health


def wait_until(ready: Callable[[], object], process: subprocess.Popen, what: str) -> None:
    """Call ``ready`` until it stops raising OSError; fail the test with the process's last output
    if the process dies or START_SECONDS pass first."""
    deadline = time.monotonic() + START_SECONDS
    while True:
        try:
            ready()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                output = process.stdout.read().decode()[-2000:] if process.stdout else ""
                pytest.fail(f"{what} did not start: {output}")
            time.sleep(0.1)


def stop(process: subprocess.Popen) -> None:
    """Terminate ``process`` unless it has already ended (a test may have killed it)."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def running_server(
    checkpoint: Path, *options: str, env: dict[str, str] | None = None, workers: int | None = 1
) -> Iterator[Server]:
    """`counterpoint serve --checkpoint checkpoint *options` on a free port, with ``env`` added to
    this process's environment, once its /api/health answers; stopped on leaving. One worker
    unless ``workers`` says otherwise (None: the command's default, one per core), so that a
    test's requests meet one queue and the suite's servers do not each start a worker per core."""
    port = free_port()
    command = [sys.executable, "-m", "counterpoint", "serve", "--checkpoint", str(checkpoint)]
    if workers is not None:
        command += ["--workers", str(workers)]
    process = subprocess.Popen(
        [*command, "--port", str(port), *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
    )
    server = Server(f"http://{HOST}:{port}", port, process)
    try:
        wait_until(answering(server.url), process, "the server")
        yield server
    finally:
        stop(process)
