"""The web server: a JSON API over the tasks, and the Bach-Doodle-like page.

``counterpoint serve`` runs it with uvicorn on 127.0.0.1:8000. Every worker process loads the
model once. Every sampling request, streamed or not, goes through one bounded queue: requests
of the same length and sampler settings that arrive within a short window are sampled together
in one batch (each keeps its own seed, so its result does not depend on what it was batched
with), so throughput grows with load; a full queue answers 503 and a client holding too much
of it 429 (both with Retry-After); a client that disconnects stops its sampling. The server holds no
state between requests: to scale out, run more workers or more machines behind any HTTP
load balancer.

Endpoints (OpenAPI at ``/docs``): ``GET /api/health``; ``POST /api/harmonize``,
``/api/infill``, ``/api/compose`` (add ``"stream": true`` for newline-delimited JSON
progress: one line per sampler pass with the piece so far and how many passes there
will be, then the result);
``POST /api/export/{midi|musicxml}``; ``POST /api/import`` (a MIDI/MusicXML upload).
Bad requests get a 4xx JSON ``{"error": "..."}``; the server keeps serving.
"""

from counterpoint.server.app import app_factory, create_app
from counterpoint.server.settings import ServerSettings

__all__ = ["ServerSettings", "app_factory", "create_app"]
