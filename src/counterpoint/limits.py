"""Every size limit in one place. Each guards something different, so each has its own name:

- a file may hold up to :data:`MAX_FILE_STEPS` steps (anything longer is not a chorale but a
  broken or hostile file);
- one sampling call writes up to :data:`MAX_SAMPLE_STEPS` steps (64 measures: well beyond a
  chorale, still quick on a CPU);
- one request to the server carries up to :data:`MAX_REQUEST_STEPS` steps (32 measures: what
  the web page edits, and what one shared worker writes without holding others up), in a body
  of at most :data:`MAX_BODY_BYTES`, and asks for at most :data:`MAX_ALTERNATIVES` pieces of
  at most :data:`MAX_PASSES` sampler passes;
- one server worker holds at most :data:`MAX_QUEUED_WORK` step-passes of admitted sampling
  (one step-pass: one sampler pass over one 16th-note step of one piece, so a request costs
  steps x alternatives x passes), of which one client holds at most
  :data:`MAX_CLIENT_SHARE`. A request is always admitted when nothing is queued (for the
  server) or when its client holds nothing (for the share), so every valid request can run;
  and it keeps at most :data:`MAX_CONNECTIONS` connections open (more get a 503 from uvicorn).

A piece's tempo is within :data:`TEMPO_LIMITS_BPM` (what a MIDI file can hold, and more than
any player plays).
"""

from __future__ import annotations

# quarter notes a minute: MIDI's slowest tempo is 3.6 (16,777,215 microseconds a quarter)
TEMPO_LIMITS_BPM = (4.0, 1000.0)
MAX_FILE_STEPS = 16 * 1024  # far beyond any chorale; guards against absurd files
MAX_SAMPLE_STEPS = 1024  # 64 measures: well beyond a chorale, still quick on a CPU
MAX_REQUEST_STEPS = 8 * 16 * 4  # 32 measures

# a request body (JSON or an uploaded file): far beyond any chorale
MAX_BODY_BYTES = 512 * 1024
MAX_ALTERNATIVES = 4  # alternatives one request may ask for (one batched call)
MAX_PASSES = 2000  # sampler passes one request may ask for

# queued work a worker admits, in step-passes: about 32 two-measure harmonizations per client
# of a 32-client load before the share bites (one costs 32 steps x 65 passes = 2080), and a
# few minutes of sampling on two cores with the shipped model
MAX_QUEUED_WORK = 1_000_000
MAX_CLIENT_SHARE = 0.25  # of MAX_QUEUED_WORK that one client (address) may hold
MAX_CONNECTIONS = 256  # open connections per worker process
