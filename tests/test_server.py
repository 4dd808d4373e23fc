"""The JSON API through FastAPI's TestClient: every endpoint and every class of bad input."""

import io

import mido
import numpy as np
import pytest
from fastapi.testclient import TestClient

from counterpoint.io.midi import write_midi
from counterpoint.limits import MAX_BODY_BYTES
from counterpoint.server import ServerSettings, create_app


@pytest.fixture()
def client(tiny_model):
    app = create_app(ServerSettings(batch_window_s=0.005), model=tiny_model)
    with TestClient(app) as test_client:
        yield test_client


def _melody_rows(chorale, steps=32):
    return [[int(p), -1, -1, -1] for p in chorale[:steps, 0]]


def test_health(client):
    data = client.get("/api/health").json()
    assert data["status"] == "ok" and data["pitch_range"] == [36, 81]


def test_harmonize_keeps_the_melody_and_fills_the_rest(client, chorale):
    rows = _melody_rows(chorale)
    response = client.post("/api/harmonize", json={"chorale": rows, "passes": 4, "seed": 3, "count": 3})
    assert response.status_code == 200, response.text
    data = response.json()
    assert len(data["chorales"]) == 3
    for piece in data["chorales"]:
        piece = np.array(piece)
        assert piece.shape == (32, 4)
        np.testing.assert_array_equal(piece[:, 0], chorale[:32, 0])
        assert (piece[:, 1:] >= 36).all()
    # the old name of passes, "steps", still works, and the seed decides, not the batch
    again = client.post("/api/harmonize", json={"chorale": rows, "steps": 4, "seed": 3}).json()
    assert again["chorales"][0] == data["chorales"][0]  # the seed decides, not the batch


def test_melody_in_any_octave(client, chorale):
    rows = [[int(p) + 24, -1, -1, -1] for p in chorale[:16, 0]]
    data = client.post("/api/harmonize", json={"chorale": rows, "passes": 2}).json()
    assert np.array(data["chorales"][0])[:, 0].tolist() == [r[0] for r in rows]


def test_infill_by_region_and_by_mask(client, chorale):
    rows = chorale[:32].tolist()
    data = client.post(
        "/api/infill", json={"chorale": rows, "start": 8, "end": 24, "voices": ["alto"], "passes": 3}
    ).json()
    piece = np.array(data["chorales"][0])
    np.testing.assert_array_equal(piece[:, [0, 2, 3]], chorale[:32, [0, 2, 3]])
    np.testing.assert_array_equal(piece[:8], chorale[:8])
    mask = np.ones((4, 32), dtype=bool)
    mask[3, 20:] = False
    data = client.post("/api/infill", json={"chorale": rows, "mask": mask.tolist(), "passes": 3}).json()
    np.testing.assert_array_equal(np.array(data["chorales"][0])[:20], chorale[:20])


def test_compose_and_stream(client):
    data = client.post("/api/compose", json={"measures": 1, "passes": 3}).json()
    assert np.array(data["chorales"][0]).shape == (16, 4)
    streamed = {"measures": 1, "passes": 30, "stream": True}
    with client.stream("POST", "/api/compose", json=streamed) as response:
        lines = [line for line in response.iter_lines() if line]
    import json

    events = [json.loads(line) for line in lines]
    assert events[-1]["done"] and np.array(events[-1]["chorales"][0]).shape == (16, 4)
    # each progress line says how many passes there will be: the first draw and 30 Gibbs steps
    assert {event["passes"] for event in events[:-1]} == {31}
    assert all(event["iteration"] < 31 for event in events[:-1])


def test_export_and_import(client, chorale, tmp_path):
    rows = chorale[:32].tolist()
    midi = client.post("/api/export/midi", json={"chorale": rows, "tempo": 90})
    assert midi.status_code == 200
    parsed = mido.MidiFile(file=io.BytesIO(midi.content))
    assert len(parsed.tracks) == 5
    xml = client.post("/api/export/musicxml", json={"chorale": rows})
    assert xml.status_code == 200 and b"<score-partwise" in xml.content
    path = tmp_path / "up.mid"
    write_midi(chorale[:32], path)
    back = client.post("/api/import", files={"file": ("up.mid", path.read_bytes(), "audio/midi")}).json()
    assert back["chorale"] == rows
    assert (back["tempo"], back["pickup"]) == (80.0, 0)  # write_midi's default tempo, no upbeat


def test_a_pickup_and_a_tempo_go_out_and_come_back_in(client):
    """Export with an upbeat of a quarter in 3/4 at 66: the MusicXML has a short implicit
    measure 0 and the tempo, the MIDI file starts after the rest of the bar, and importing
    either gives the same notes, pickup and tempo."""
    rows = [[67, -1, -1, -1]] * 4 + [[72, -1, -1, -1]] * 12
    body = {"chorale": rows, "time_signature": "3/4", "pickup": 4, "tempo": 66}
    xml = client.post("/api/export/musicxml", json=body)
    assert xml.status_code == 200 and b'<measure implicit="yes" number="0">' in xml.content
    assert b'<sound tempo="66"' in xml.content
    midi = client.post("/api/export/midi", json=body)
    first = next(m for m in mido.MidiFile(file=io.BytesIO(midi.content)).tracks[1] if m.type == "note_on")
    assert first.time == 8 * 120  # the rest of the 3/4 bar before the pickup, in ticks
    for name, content in (("up.musicxml", xml.content), ("up.mid", midi.content)):
        back = client.post("/api/import", files={"file": (name, content)}).json()
        assert back["chorale"] == rows and (back["pickup"], back["tempo"]) == (4, 66.0), name
    too_long = client.post("/api/export/midi", json=body | {"pickup": 12})
    assert too_long.status_code == 422 and "a pickup must be" in too_long.json()["error"]


@pytest.mark.parametrize(
    "endpoint, body, status, message",
    [
        ("/api/harmonize", {"chorale": [[60, -1, -1]]}, 422, "chorale"),
        ("/api/harmonize", {"chorale": [[200, -1, -1, -1]]}, 422, "not a MIDI pitch"),
        ("/api/harmonize", {"chorale": [[-1, -1, -1, -1]]}, 422, "no voice has a note"),
        ("/api/harmonize", {"chorale": [[60, 55, 50, 40]]}, 422, "nothing to write"),
        ("/api/harmonize", {"chorale": [[60, -1, -1, -1]], "voices": ["viola"]}, 422, "unknown voice"),
        ("/api/harmonize", {"chorale": [[60, -1, -1, -1]] * 5000}, 422, "chorale"),
        ("/api/harmonize", {"chorale": [[30, -1, -1, -1], [90, -1, -1, -1]]}, 422, "melody spans 60"),
        ("/api/harmonize", {"chorale": [[60, -1, -1, -1]], "temperature": -1}, 422, "temperature"),
        ("/api/infill", {"chorale": [[60, 55, 50, 40]], "mask": [[True]]}, 422, "mask must have shape"),
        ("/api/infill", {"chorale": [[60, 55, 50, 40]], "start": 3, "end": 9}, 422, "window"),
        ("/api/compose", {"measures": 0}, 422, "measures"),
        ("/api/compose", {"sampler": "magic"}, 422, "sampler"),
        ("/api/export/pdf", {"chorale": [[60, 55, 50, 40]]}, 422, "kind"),
    ],
)
def test_bad_requests_get_a_json_error(client, endpoint, body, status, message):
    response = client.post(endpoint, json=body)
    assert response.status_code == status, response.text
    assert message in response.json()["error"]
    assert client.get("/api/health").status_code == 200  # still serving


def test_malformed_json_and_oversized_bodies(client):
    response = client.post(
        "/api/harmonize", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422 and "error" in response.json()
    big = b"[" + b"1," * MAX_BODY_BYTES + b"1]"
    response = client.post("/api/harmonize", content=big, headers={"content-type": "application/json"})
    assert response.status_code == 413


def test_bad_uploads(client):
    response = client.post("/api/import", files={"file": ("x.txt", b"hello", "text/plain")})
    assert response.status_code == 415
    response = client.post("/api/import", files={"file": ("x.mid", b"MThd nonsense", "audio/midi")})
    assert response.status_code == 422 and "not a readable MIDI file" in response.json()["error"]


def test_static_files_stay_inside_their_folder(client):
    assert client.get("/").status_code == 200
    for path in ["/static/../server.py", "/static/%2e%2e/server.py", "/static/../../pyproject.toml"]:
        response = client.get(path)
        assert response.status_code == 404 or b"def create_app" not in response.content


def test_concurrent_requests_are_batched(tiny_model, chorale):
    import concurrent.futures

    app = create_app(ServerSettings(batch_window_s=0.2), model=tiny_model)
    with TestClient(app) as client:
        rows = _melody_rows(chorale, 16)
        bodies = [{"chorale": rows, "passes": 2, "seed": s} for s in range(4)]
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            results = list(pool.map(lambda b: client.post("/api/harmonize", json=b).json(), bodies))
        health = client.get("/api/health").json()
        assert health["jobs"] == 4 and health["batches"] < 4
        alone = client.post("/api/harmonize", json=bodies[2]).json()
        assert alone["chorales"] == results[2]["chorales"]


def test_a_job_abandoned_in_a_running_batch_leaves_it_and_its_mates_are_unchanged(tiny_model, chorale):
    import asyncio

    from counterpoint.data import masks
    from counterpoint.sampling.config import SamplerConfig
    from counterpoint.server.batcher import Batcher, Job

    abandoned_counts: list[int] = []

    def job(seed: int, progress=None) -> Job:
        return Job(
            [chorale[:32]],
            [masks.harmonize_mask(32, [0])],
            [seed],
            SamplerConfig(passes=8),
            progress=progress,
        )

    def leave_at_pass_2(n: int, rows) -> None:
        if n == 2:
            leaving.abandoned.set()

    async def run(jobs: list[Job]) -> list:
        batcher = Batcher(tiny_model, ServerSettings(batch_window_s=0.5))
        for each in jobs:
            batcher.admit(each)
        done = await asyncio.gather(*(batcher.submit(each) for each in jobs), return_exceptions=True)
        assert batcher.batches == 1 and batcher.queued_work == 0
        abandoned_counts.append(batcher.abandoned)
        return done

    leaving = job(7, leave_at_pass_2)
    staying = job(8, lambda n, rows: None)
    together = asyncio.run(run([leaving, staying]))
    alone = asyncio.run(run([job(8)]))
    assert isinstance(together[0], Exception) and not isinstance(together[1], Exception)
    np.testing.assert_array_equal(together[1][0].chorale, alone[0][0].chorale)
    assert abandoned_counts == [1, 0]  # the leaving job counted once as abandoned


@pytest.mark.parametrize("batching", [True, False])
def test_requests_past_their_time_limit_stop_sampling(tiny_model, batching):
    import json
    import time

    app = create_app(ServerSettings(time_limit_s=0.3, batching=batching), model=tiny_model)
    long = {"measures": 32, "passes": 2000}  # seconds of passes, even for the tiny model
    with TestClient(app) as client:

        def drained(abandoned: int) -> bool:
            """Whether ``abandoned`` runs stopped at their next pass and left the queue empty."""
            for _ in range(100):
                health = client.get("/api/health").json()
                if health["abandoned"] == abandoned and health["queued_work"] == 0:
                    return True
                time.sleep(0.1)
            return False

        response = client.post("/api/compose", json=long)
        assert response.status_code == 503 and "0.3 s limit" in response.json()["error"]
        # the sampling run stops at its next pass instead of running to the end
        assert drained(1)
        with client.stream("POST", "/api/compose", json=long | {"stream": True}) as response:
            events = [json.loads(line) for line in response.iter_lines() if line]
        assert events[-1] == {"error": "time limit reached"}
        assert drained(2)
        assert client.post("/api/compose", json={"measures": 1, "passes": 2}).status_code == 200


def test_api_docs_are_served_without_a_cdn(client):
    page = client.get("/docs").text
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in page and "cdn" not in page.lower()
    assert client.get("/static/vendor/swagger-ui/swagger-ui-bundle.js").status_code == 200
    assert "/api/harmonize" in client.get("/openapi.json").json()["paths"]


def test_one_client_gets_429_and_a_full_queue_503(tiny_model):
    import time

    from counterpoint.limits import MAX_CLIENT_SHARE, MAX_QUEUED_WORK

    # one piece of 32 measures and 1000 passes: 512 x 1001 step-passes, over a client's share
    # and, with a second, over the whole queue's bound; each is admitted while its client holds
    # nothing and the queue is empty
    long = {"measures": 32, "passes": 1000}
    work = 512 * 1001
    assert MAX_CLIENT_SHARE * MAX_QUEUED_WORK < work < MAX_QUEUED_WORK < 2 * work
    app = create_app(ServerSettings(behind_proxy=True), model=tiny_model)
    with TestClient(app) as client:
        me = {"x-forwarded-for": "203.0.113.9, 198.51.100.1"}  # the proxy appended the last
        with client.stream("POST", "/api/compose", json=long | {"stream": True}, headers=me) as first:
            assert first.status_code == 200
            health = client.get("/api/health").json()
            assert health["queued_work"] == work and health["max_queued_work"] == MAX_QUEUED_WORK
            again = client.post("/api/compose", json=long, headers={"x-forwarded-for": "198.51.100.1"})
            assert again.status_code == 429 and "too many requests" in again.json()["error"]
            assert int(again.headers["retry-after"]) >= 1
            other = client.post("/api/compose", json=long, headers={"x-forwarded-for": "198.51.100.2"})
            assert other.status_code == 503 and "busy" in other.json()["error"]
            assert int(other.headers["retry-after"]) >= 1
            streamed = client.post("/api/compose", json=long | {"stream": True}, headers=me)
            assert streamed.status_code == 429  # refused before the stream starts
            assert client.get("/api/health").json()["refused"] == 3
        # the stream closed: its sampling stops, the queue drains and a small request runs
        for _ in range(100):
            if client.get("/api/health").json()["queued_work"] == 0:
                break
            time.sleep(0.1)
        assert client.get("/api/health").json()["queued_work"] == 0
        assert client.post("/api/compose", json={"measures": 1, "passes": 2}, headers=me).status_code == 200


def test_streamed_and_plain_requests_share_one_batch(tiny_model, chorale):
    import concurrent.futures
    import json

    app = create_app(ServerSettings(batch_window_s=0.3), model=tiny_model)
    rows = _melody_rows(chorale, 16)
    bodies = [{"chorale": rows, "passes": 3, "seed": s, "stream": s % 2 == 0} for s in range(4)]

    def send(body: dict) -> list:
        with client.stream("POST", "/api/harmonize", json=body) as response:
            text = "".join(response.iter_text())
        if body["stream"]:
            events = [json.loads(line) for line in text.splitlines() if line]
            assert all(len(event["chorales"]) == 1 for event in events)  # its own rows only
            return events[-1]["chorales"]
        return json.loads(text)["chorales"]

    with TestClient(app) as client:
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            together = list(pool.map(send, bodies))
        health = client.get("/api/health").json()
        assert health["jobs"] == 4 and health["batches"] < 4
        # each keeps its own seed: alone, plain, it gets the same piece
        for body, piece in zip(bodies, together, strict=True):
            assert send(body | {"stream": False}) == piece
