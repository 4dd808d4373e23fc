"""A client that goes away stops its sampling: a real `counterpoint serve` on a real socket, a
long request (plain and streamed), the socket closed, and /api/health shows the work abandoned
and the queue drained at the next pass, not at the time limit."""

from __future__ import annotations

import json
import socket
import time
import urllib.request

import pytest


def _health(url: str) -> dict:
    with urllib.request.urlopen(url + "/api/health", timeout=5) as response:
        return json.load(response)


def _send(port: int, body: dict) -> socket.socket:
    data = json.dumps(body).encode()
    connection = socket.create_connection(("127.0.0.1", port))
    connection.sendall(
        b"POST /api/compose HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(data)}\r\n\r\n".encode()
        + data
    )
    return connection


@pytest.mark.parametrize("stream", [False, True])
def test_a_client_that_leaves_stops_its_sampling(server, stream):
    port, url = server.port, server.url
    # tens of seconds of passes even for the tiny model, far below the 180 s limit
    long = {"measures": 32, "passes": 2000, "stream": stream}
    connection = _send(port, long)
    deadline = time.monotonic() + 30
    while _health(url)["queued_work"] == 0:
        assert time.monotonic() < deadline, "the request was never queued"
        time.sleep(0.05)
    if stream:  # the stream has begun: its first progress line arrives
        assert b'"iteration"' in connection.recv(65536) or b'"iteration"' in connection.recv(65536)
    time.sleep(0.3)  # a few passes in
    connection.close()
    left = time.monotonic()
    while (health := _health(url))["queued_work"] or not health["abandoned"]:
        assert time.monotonic() - left < 5, f"still sampling for nobody: {health}"
        time.sleep(0.05)
    assert health["abandoned"] == 1 and health["jobs"] == 0
    # and the server goes on serving
    request = urllib.request.Request(
        url + "/api/compose",
        data=json.dumps({"measures": 1, "passes": 2}).encode(),
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200
